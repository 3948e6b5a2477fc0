//! Deployment settings: `KEYGATE_ORIGIN` parses to an origin that prints back to itself,
//! and any set of variables is a configuration or an error naming one variable.
//!
//! Input: one byte choosing the target, then an origin URL, or `NAME=value` lines (the
//! demo policy stands in for a missing `KEYGATE_POLICY`).
#![no_main]

use keygate::config::{Config, Origin};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

const VARIABLES: &[&str] = &[
    "KEYGATE_ORIGIN",
    "KEYGATE_POLICY",
    "KEYGATE_HASH_SECRET",
    "KEYGATE_SIGNING_SECRET",
    "KEYGATE_ROOT_TOKEN",
    "KEYGATE_WEBHOOK_SECRET",
    "KEYGATE_HTTPS_ONLY",
    "KEYGATE_ORIGIN_TIMEOUT_MS",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if selector % 2 == 0 {
        let Ok(origin) = Origin::parse(text) else {
            return;
        };
        let scheme = if origin.scheme_and_authority.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        assert_eq!(
            origin.scheme_and_authority,
            format!("{scheme}://{}", origin.host)
        );
        assert!(origin.host.starts_with(&origin.hostname));
        assert!(!origin.hostname.is_empty());
        assert!(!origin.base_path.ends_with('/'));
        assert!(origin.base_path.is_empty() || origin.base_path.starts_with('/'));
        assert!(!origin.host.contains(['@', '/', '?', '#', ' ']));
        // What it prints is an origin that parses to itself.
        let printed = origin.url_for("");
        assert_eq!(Origin::parse(&printed).as_ref(), Ok(&origin), "{printed}");
        assert!(origin.url_for("/v1/x?y=1").ends_with("/v1/x?y=1"));
        let _ = origin.is_loopback();
        return;
    }
    let mut vars: HashMap<String, String> = HashMap::new();
    for line in text.split('\n') {
        if let Some((name, value)) = line.split_once('=') {
            vars.insert(name.to_string(), value.replace("\\n", "\n"));
        }
    }
    vars.entry("KEYGATE_POLICY".into())
        .or_insert_with(|| include_str!("../../policies/demo.toml").to_string());
    match Config::from_lookup(|name| vars.get(name).cloned()) {
        Ok(config) => {
            assert!((1..=300_000).contains(&config.origin_timeout_ms));
            assert!(!format!("{config:?}").contains(vars["KEYGATE_ROOT_TOKEN"].as_str()));
        }
        Err(error) => {
            assert!(VARIABLES.contains(&error.variable));
            // Never the value: a secret must not reach the operator's log. The message names
            // variables, and a value may be a piece of a name ("E_HASH_S"), so names are
            // taken out before looking for the value.
            if let Some(value) = vars.get(error.variable) {
                if value.trim().len() >= 8 && error.variable.ends_with("SECRET") {
                    let without_names = VARIABLES
                        .iter()
                        .fold(error.to_string(), |text, name| text.replace(name, ""));
                    assert!(!without_names.contains(value.trim()));
                }
            }
        }
    }
});
