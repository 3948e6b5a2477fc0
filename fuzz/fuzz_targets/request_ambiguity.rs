//! The request shape checks: whatever passes them means the same to keygate and to an
//! origin that decodes the path once or twice, normalises `\`, `;` or `//`, or reads a
//! method override from a header or the query.
//!
//! Input: `METHOD\nPATH\nQUERY\nheader-name\nheader-name…`; a method starting with `+`
//! means the request has a body.
#![no_main]

use keygate::ambiguity::{check_request, is_dot_segment, normalize_header_name};
use keygate_fuzz::percent_decode_once;
use libfuzzer_sys::fuzz_target;

const OVERRIDE_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-rewrite-url",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("");
    let (method, has_body) = match method.strip_prefix('+') {
        Some(method) => (method, true),
        None => (method, false),
    };
    let path = lines.next().unwrap_or("/");
    let query = lines.next().filter(|q| !q.is_empty());
    let names: Vec<&str> = lines.collect();

    if check_request(method, path, query, names.iter().copied(), has_body).is_err() {
        return;
    }
    assert!(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&method));
    assert!(!(has_body && (method == "GET" || method == "HEAD")));
    for name in &names {
        assert!(!OVERRIDE_HEADERS.contains(&normalize_header_name(name).as_str()));
    }
    if let Some(query) = query {
        for pair in query.split('&') {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            assert_ne!(name.to_ascii_lowercase(), "_method", "{query:?}");
        }
    }

    // The path as the origin may read it: as sent, decoded once, decoded twice. None of
    // them may hold a separator the others lack, or a segment that moves up or stays.
    let raw = path.as_bytes();
    let once = percent_decode_once(raw);
    let twice = percent_decode_once(&once);
    let slashes = raw.iter().filter(|&&b| b == b'/').count();
    for (reading, bytes) in [
        ("raw", raw),
        ("decoded once", &once[..]),
        ("decoded twice", &twice[..]),
    ] {
        assert!(
            !bytes.iter().any(|&b| b == b'\\'
                || b == b';'
                || b == 0
                || (reading == "raw" && (b < 0x20 || b == 0x7f))),
            "{path:?} {reading} holds a separator or control byte"
        );
        assert_eq!(
            bytes.iter().filter(|&&b| b == b'/').count(),
            slashes,
            "{path:?} {reading} has a slash the raw path has not"
        );
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.split('/').any(is_dot_segment),
            "{path:?} {reading} has a dot segment"
        );
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    assert!(
        inner.is_empty() || !inner.split('/').any(str::is_empty),
        "{path:?} has `//`"
    );
});
