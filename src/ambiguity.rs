//! Requests whose meaning could differ between keygate and the origin, refused before routing.
//!
//! keygate authorises and signs the request it sees. An origin may act on another one if it
//! normalises or decodes the path differently — Tomcat and Jetty drop `;params` before they
//! resolve `..`, some stacks decode twice, many collapse `//` — or if it lets a header or a
//! query parameter override the method or path (`X-HTTP-Method-Override`, `X-Original-URL`,
//! `?_method=DELETE`). Rather than guess which meaning the origin picks, keygate refuses.
//!
//! ```
//! use keygate::ambiguity::{path_ambiguity, override_in_request};
//! assert_eq!(path_ambiguity("/v1/contacts/42"), None);
//! assert!(path_ambiguity("/v1/analytics/..;/settings").is_some());
//! assert!(override_in_request(["accept", "x-http-method-override"], None).is_some());
//! ```

use crate::problem::GatewayError;

/// Headers some frameworks (Symfony, Express method-override, IIS URL Rewrite) read as
/// the request's real method or path.
const OVERRIDE_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-rewrite-url",
];

/// The query parameter Rails, Laravel and method-override middlewares read as the method.
const OVERRIDE_QUERY_PARAMETER: &str = "_method";

/// The methods keygate forwards. Others (TRACE, CONNECT, WebDAV verbs, ...) the platform
/// cannot forward faithfully, and no policy route should need them.
const FORWARDABLE_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Everything keygate checks about a request's shape before routing it, in one place:
/// the method, the path, method/path overrides, and a body where none can be sent.
pub fn check_request<'a>(
    method: &str,
    path: &str,
    query: Option<&str>,
    header_names: impl IntoIterator<Item = &'a str>,
    has_body: bool,
) -> Result<(), GatewayError> {
    if !FORWARDABLE_METHODS.contains(&method) {
        return Err(GatewayError::MethodNotSupported);
    }
    if let Some(reason) = path_ambiguity(path) {
        return Err(GatewayError::AmbiguousPath { reason });
    }
    if let Some(what) = override_in_request(header_names, query) {
        return Err(GatewayError::OverrideNotAllowed { what });
    }
    if has_body && (method == "GET" || method == "HEAD") {
        return Err(GatewayError::BodyNotAllowed);
    }
    Ok(())
}

/// What makes a path ambiguous, for the refusal's detail; `None` when it is plain.
pub fn path_ambiguity(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let contains = |needle: &str| lower.contains(needle);
    if path.bytes().any(|b| b < 0x20 || b == 0x7f) || contains("%00") {
        Some("a control character")
    } else if contains("\\") || contains("%5c") {
        Some("a backslash")
    } else if contains("%2f") {
        Some("an encoded slash")
    } else if contains(";") || contains("%3b") {
        Some("a `;` path parameter")
    } else if ["%252e", "%252f", "%255c", "%253b", "%2500"]
        .iter()
        .any(|n| contains(n))
    {
        Some("a double-encoded character")
    } else if path.split('/').any(is_dot_segment) {
        Some("a `.` or `..` segment")
    } else if has_empty_segment(path) {
        Some("an empty segment (`//`)")
    } else {
        None
    }
}

/// `.` and `..` in any of the spellings URL parsers treat alike (WHATWG: `%2e` is a dot).
pub fn is_dot_segment(segment: &str) -> bool {
    const DOT_SPELLINGS: [&str; 6] = [".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"];
    DOT_SPELLINGS
        .iter()
        .any(|spelling| segment.eq_ignore_ascii_case(spelling))
}

/// `//` anywhere but a trailing slash: origins that collapse it see another path.
fn has_empty_segment(path: &str) -> bool {
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    !inner.is_empty() && inner.split('/').any(str::is_empty)
}

/// The first method or path override the request carries: a header (by its name as sent)
/// or the `_method` query parameter. Header names compare with `_` as `-`, since CGI-style
/// servers read both spellings as the same variable.
pub fn override_in_request<'a>(
    header_names: impl IntoIterator<Item = &'a str>,
    query: Option<&str>,
) -> Option<String> {
    if let Some(name) = header_names.into_iter().find(|name| {
        let normalized = normalize_header_name(name);
        OVERRIDE_HEADERS.contains(&normalized.as_str())
    }) {
        return Some(format!("the `{name}` header"));
    }
    let query = query?;
    query
        .split('&')
        .map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key))
        .any(|key| key.to_ascii_lowercase().replace("%5f", "_") == OVERRIDE_QUERY_PARAMETER)
        .then(|| format!("the `{OVERRIDE_QUERY_PARAMETER}` query parameter"))
}

/// Lower case, `_` as `-`: the spelling that CGI, WSGI and Rack servers cannot tell apart.
pub fn normalize_header_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn check_request_refuses_each_kind_of_confusion() {
        let ok = check_request("GET", "/v1/contacts", Some("page=2"), ["accept"], false);
        assert_eq!(ok, Ok(()));
        let code = |result: Result<(), GatewayError>| result.map_err(|e| e.code());
        assert_eq!(
            code(check_request("PROPFIND", "/v1", None, [], false)),
            Err("method_not_supported")
        );
        assert_eq!(
            code(check_request("get", "/v1", None, [], false)),
            Err("method_not_supported")
        );
        assert_eq!(
            code(check_request("GET", "/v1/a;b", None, [], false)),
            Err("path_ambiguous")
        );
        assert_eq!(
            code(check_request(
                "POST",
                "/v1",
                None,
                ["X-HTTP-Method-Override"],
                true
            )),
            Err("override_not_allowed")
        );
        assert_eq!(
            code(check_request(
                "POST",
                "/v1",
                Some("_method=DELETE"),
                [],
                true
            )),
            Err("override_not_allowed")
        );
        assert_eq!(
            code(check_request("GET", "/v1", None, [], true)),
            Err("body_not_allowed")
        );
        assert_eq!(
            code(check_request("HEAD", "/v1", None, [], true)),
            Err("body_not_allowed")
        );
        assert_eq!(
            check_request("DELETE", "/v1/contacts/1", None, [], true),
            Ok(())
        );
    }

    #[test]
    fn plain_paths_pass() {
        for path in [
            "/",
            "/v1/contacts",
            "/v1/contacts/42",
            "/v1/contacts/",
            "/v1/files/a%20b",
            "/v1/x%25y",
            "/v1/a.b/c..d/.e",
        ] {
            assert_eq!(path_ambiguity(path), None, "{path}");
        }
    }

    #[test]
    fn each_ambiguity_is_named() {
        let cases = [
            ("/v1/a\\b", "backslash"),
            ("/v1/a%5Cb", "backslash"),
            ("/v1/a%2fb", "encoded slash"),
            ("/v1/a%00", "control"),
            ("/v1/analytics/..;/settings", "`;`"),
            ("/v1/analytics/..%3B/settings", "`;`"),
            ("/v1/contacts;jsessionid=1", "`;`"),
            ("/v1/a%252e%252e/b", "double-encoded"),
            ("/v1/a%252fb", "double-encoded"),
            ("/v1/./contacts", "`.`"),
            ("/v1/%2e%2E/contacts", "`.`"),
            ("/v1//settings", "empty segment"),
            ("//v1/settings", "empty segment"),
        ];
        for (path, expected) in cases {
            let reason = path_ambiguity(path).unwrap_or_else(|| panic!("{path} passed"));
            assert!(reason.contains(expected), "{path}: {reason}");
        }
    }

    #[test]
    fn override_headers_are_found_in_any_spelling() {
        for name in [
            "X-HTTP-Method-Override",
            "x-http-method",
            "X-Method-Override",
            "X-Original-URL",
            "x-rewrite-url",
            "X_HTTP_Method_Override",
        ] {
            let found =
                override_in_request(["accept", name], None).unwrap_or_else(|| panic!("{name}"));
            assert!(found.contains(name));
        }
        assert_eq!(
            override_in_request(["accept", "x-http-methods"], None),
            None
        );
    }

    #[test]
    fn method_override_query_parameter_is_found() {
        for query in [
            "_method=DELETE",
            "a=1&_method=put",
            "_METHOD=x",
            "%5Fmethod=DELETE",
            "_method",
        ] {
            assert!(override_in_request([], Some(query)).is_some(), "{query}");
        }
        for query in ["method=DELETE", "a=_method", "x_method=1", ""] {
            assert_eq!(override_in_request([], Some(query)), None, "{query}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(path in "\\PC{0,60}", query in "\\PC{0,40}") {
            let _ = path_ambiguity(&path);
            let _ = override_in_request([path.as_str()], Some(&query));
        }

        #[test]
        fn a_path_with_a_semicolon_or_double_slash_is_never_plain(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
            let with_param = format!("/{a};x/{b}");
            let with_empty = format!("/{a}//{b}");
            prop_assert!(path_ambiguity(&with_param).is_some());
            prop_assert!(path_ambiguity(&with_empty).is_some());
        }
    }
}
