//! Header sanitising: nothing that authorises, claims to be keygate, a forwarding hop or a
//! client IP survives, and everything else but what `Connection` names survives in order,
//! untouched. A queued request keeps only the allow-listed ones of those.
//!
//! Input: one `name: value` per line.
#![no_main]

use keygate::ambiguity::normalize_header_name;
use keygate::headers::{queued_request_headers, sanitize_request_headers, QUEUED_HEADERS};
use libfuzzer_sys::fuzz_target;

const NEVER_FORWARDED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "connection",
    "forwarded",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "cf-ray",
    "cf-ipcountry",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let headers: Vec<(String, String)> = text
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_string(), value.trim().to_string()))
        .collect();
    let listed: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(','))
        .map(|token| normalize_header_name(token.trim()))
        .filter(|token| !token.is_empty())
        .collect();
    let forbidden = |name: &str| {
        let name = normalize_header_name(name);
        NEVER_FORWARDED.contains(&name.as_str())
            || name.starts_with("x-keygate-")
            || name.starts_with("x-forwarded-")
    };

    let kept = sanitize_request_headers(headers.clone(), None);
    for (name, _) in &kept {
        assert!(!forbidden(name), "{name:?} reached the origin");
    }
    // Kept in order and untouched; only what is forbidden or listed in `Connection` goes
    // (some names, `Content-*` among them, stay even when listed).
    let mut rest = kept.iter();
    for header in &headers {
        let dropped = forbidden(&header.0) || listed.contains(&normalize_header_name(&header.0));
        if !dropped {
            assert_eq!(
                rest.next(),
                Some(header),
                "a harmless header was dropped or changed"
            );
        } else if rest.clone().next() == Some(header) {
            rest.next();
        }
    }
    assert_eq!(rest.next(), None, "a header was added");

    // A queued request keeps only allow-listed headers, and only ones that may be forwarded.
    let queued = queued_request_headers(headers.clone());
    for header in &queued {
        assert!(QUEUED_HEADERS.contains(&header.0.to_ascii_lowercase().as_str()));
        assert!(kept.contains(header));
    }
});
