//! Deployment settings: `KEYGATE_ORIGIN` parses to an origin that prints back to itself,
//! and any set of variables is a configuration or an error naming one variable.
//!
//! Input: one byte choosing the target, then an origin URL, or `NAME=value` lines (the
//! demo policy, compiled, is the bundled one a `KEYGATE_POLICY` variable, a compiled policy
//! or anything else, may override).
#![no_main]

use keygate::config::{Config, Origin};
use keygate::policy::compile;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;

const VARIABLES: &[&str] = &[
    "KEYGATE_ORIGIN",
    "KEYGATE_POLICY",
    "KEYGATE_POLICY_FILE",
    "KEYGATE_HASH_SECRET",
    "KEYGATE_SIGNING_SECRET",
    "KEYGATE_ROOT_TOKEN",
    "KEYGATE_WEBHOOK_SECRET",
    "KEYGATE_HTTPS_ONLY",
    "KEYGATE_ORIGIN_TIMEOUT_MS",
];

/// What a build bundles when no `KEYGATE_POLICY` variable overrides it: the demo policy as
/// scripts/build.sh compiles it.
fn bundled_policy() -> &'static str {
    static COMPILED: OnceLock<String> = OnceLock::new();
    COMPILED.get_or_init(|| {
        compile(include_str!("../../policies/demo.toml")).expect("the demo policy compiles")
    })
}

const SECRETS: &[&str] = &[
    "KEYGATE_HASH_SECRET",
    "KEYGATE_SIGNING_SECRET",
    "KEYGATE_ROOT_TOKEN",
    "KEYGATE_WEBHOOK_SECRET",
];

/// Every ASCII letter and digit moved one along its own range (z to a, 9 to 0).
fn shift(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            other => other,
        })
        .collect()
}

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
    match Config::from_lookup(bundled_policy(), |name| vars.get(name).cloned()) {
        Ok(config) => {
            assert!((1..=300_000).contains(&config.origin_timeout_ms));
            assert!(!format!("{config:?}").contains(vars["KEYGATE_ROOT_TOKEN"].as_str()));
        }
        Err(error) => {
            assert!(VARIABLES.contains(&error.variable));
            // Never a secret's value: the error must not depend on what the secrets say.
            // The same settings with every secret's letters and digits shifted by one
            // (lengths, blanks and which secrets are equal all kept) give the same error
            // word for word; a message quoting a secret would change with it. (Looking for
            // the value in the message instead mistook "E_HASH_S" or "least 32 characte"
            // for a leak: those values are pieces of the message's own words.)
            let disguised: HashMap<String, String> = vars
                .iter()
                .map(|(name, value)| {
                    let secret = SECRETS.contains(&name.as_str());
                    let value = if secret { shift(value) } else { value.clone() };
                    (name.clone(), value)
                })
                .collect();
            let again = Config::from_lookup(bundled_policy(), |name| disguised.get(name).cloned());
            assert_eq!(again.err().map(|e| e.to_string()), Some(error.to_string()));
        }
    }
});
