//! The `rejection_webhook` check, in both create and edit: an accepted URL is HTTPS (or
//! plain HTTP while HTTPS-only is off), has no fragment or whitespace,
//! is at most 2048 bytes, and its scheme and host are those an origin URL would parse to.
//!
//! Input: one byte (HTTPS-only when even), then the URL.
#![no_main]

use keygate::admin::{parse_create, parse_edit};
use keygate::config::Origin;
use keygate_fuzz::{demo_policy, NOW_MS};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(url) = std::str::from_utf8(rest) else {
        return;
    };
    let https_only = selector % 2 == 0;
    let create = json!({"name": "hook", "scopes": ["contacts:read"], "rejection_webhook": url});
    let edit = json!({"rejection_webhook": url});
    let created = parse_create(
        create.to_string().as_bytes(),
        demo_policy(),
        NOW_MS,
        https_only,
    )
    .map(|key| key.rejection_webhook);
    let edited = parse_edit(
        edit.to_string().as_bytes(),
        demo_policy(),
        NOW_MS,
        https_only,
    )
    .map(|edit| edit.rejection_webhook.flatten());
    assert_eq!(
        created.is_ok(),
        edited.is_ok(),
        "create and edit disagree on {url:?}"
    );
    let Ok(Some(accepted)) = created else {
        return;
    };
    assert_eq!(edited.ok().flatten().as_deref(), Some(url));
    assert_eq!(accepted, url);
    assert!(url.len() <= 2048);
    assert!(!url.contains('#') && !url.contains(char::is_whitespace));
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    assert!(
        Origin::parse(base).is_ok(),
        "an accepted webhook parses as an origin"
    );
    // Plain HTTP only with HTTPS-only off (and then only to a loopback host, in any of the
    // spellings `admin` recognises: its own tests hold that list).
    if !url.starts_with("https://") {
        assert!(!https_only && url.starts_with("http://"), "{url}");
    }
});
