//! The request shape checks: whatever passes them means the same to keygate and to an
//! origin that decodes the path once or twice, normalises `\`, `;` or `//`, or reads a
//! method override from a header or the query, and no key travels outside `Authorization`
//! and the credential header (`X-API-Key` here).
//!
//! Input: `METHOD\nPATH\nQUERY\nname: value\nname: value…`; a method starting with `+`
//! means the request has a body.
#![no_main]

use keygate::ambiguity::{check_request, is_dot_segment, normalize_header_name, RequestShape};
use keygate::key::contains_key_shape;
use keygate_fuzz::{percent_decode_form, percent_decode_once};
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
    let headers: Vec<(String, String)> = lines
        .map(|line| line.split_once(':').unwrap_or((line, "")))
        .map(|(name, value)| (name.to_string(), value.trim().to_string()))
        .collect();
    let shape = RequestShape {
        method,
        path,
        query,
        headers: &headers,
        has_body,
        key_prefix: "kg",
        credential_header: Some("X-API-Key"),
    };
    if check_request(&shape).is_err() {
        return;
    }
    assert!(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&method));
    assert!(!(has_body && (method == "GET" || method == "HEAD")));
    for (name, value) in &headers {
        assert!(!OVERRIDE_HEADERS.contains(&normalize_header_name(name).as_str()));
        if !name.eq_ignore_ascii_case("authorization") && !name.eq_ignore_ascii_case("x-api-key") {
            assert!(
                !contains_key_shape(value.as_bytes(), "kg"),
                "a key in {name}"
            );
        }
    }
    if let Some(query) = query {
        assert!(!contains_key_shape(
            &percent_decode_form(query.as_bytes()),
            "kg"
        ));
        for pair in query.split('&') {
            // As Rack, PHP and Werkzeug read a field name: decoded once, `+` as a space.
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let decoded = percent_decode_form(name.as_bytes());
            assert_ne!(
                decoded.to_ascii_lowercase().trim_ascii_start(),
                b"_method",
                "{query:?}"
            );
        }
    }
    assert!(!contains_key_shape(path.as_bytes(), "kg"));

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
