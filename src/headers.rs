//! What a client's headers become before they reach the origin.
//!
//! Strip first, then add: every header the client may use to impersonate keygate or to
//! smuggle hop-by-hop semantics is removed here, and only afterwards does the caller add
//! keygate's own identity headers. Doing it the other way round lets a client-named
//! `Connection: X-Keygate-Key-Id` strip the real identity header.
//!
//! ```
//! use keygate::headers::sanitize_request_headers;
//! let clean = sanitize_request_headers(vec![
//!     ("Authorization".to_string(), "Bearer kg_live_…".to_string()),
//!     ("X-Keygate-Workspace".to_string(), "someone-else".to_string()),
//!     ("Accept".to_string(), "application/json".to_string()),
//! ]);
//! assert_eq!(clean, vec![("Accept".to_string(), "application/json".to_string())]);
//! ```

use crate::identity::RESERVED_PREFIX;

/// Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy ones proxies still see), and the
/// client's credentials, which must never reach the origin.
const ALWAYS_STRIPPED: &[&str] = &[
    "authorization",
    "connection",
    "forwarded",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Returns the headers that may be forwarded, in their original order and spelling.
pub fn sanitize_request_headers(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    // A client may name any header in `Connection` to have it treated as hop-by-hop.
    let connection_listed: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect();
    headers
        .into_iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !(ALWAYS_STRIPPED.contains(&lower.as_str())
                || lower.starts_with(RESERVED_PREFIX)
                || lower.starts_with("x-forwarded-")
                || connection_listed.contains(&lower))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn strips_credentials_hop_by_hop_forwarding_and_reserved() {
        let input = pairs(&[
            ("authorization", "Bearer x"),
            ("Proxy-Authorization", "Basic y"),
            ("X-KEYGATE-KEY-ID", "key_spoofed"),
            ("x-keygate-signature", "v1=forged"),
            ("Forwarded", "for=1.2.3.4"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("x-forwarded-host", "evil"),
            ("Transfer-Encoding", "chunked"),
            ("TE", "trailers"),
            ("Upgrade", "websocket"),
            ("Keep-Alive", "timeout=5"),
            ("Host", "gateway.example"),
            ("content-type", "application/json"),
            ("X-Request-Tag", "kept"),
        ]);
        assert_eq!(
            sanitize_request_headers(input),
            pairs(&[
                ("content-type", "application/json"),
                ("X-Request-Tag", "kept")
            ])
        );
    }

    #[test]
    fn strips_headers_named_in_connection() {
        let input = pairs(&[
            ("Connection", "keep-alive, X-Secret-Hop ,x-other"),
            ("x-secret-hop", "1"),
            ("X-Other", "2"),
            ("X-Kept", "3"),
        ]);
        assert_eq!(sanitize_request_headers(input), pairs(&[("X-Kept", "3")]));
    }

    proptest! {
        #[test]
        fn nothing_reserved_or_authorizing_survives(
            names in proptest::collection::vec("(?i)(x-keygate-[a-z-]{0,10}|authorization|x-forwarded-[a-z]{1,5}|[a-z-]{1,12})", 0..12),
        ) {
            let input: Vec<(String, String)> = names.iter().map(|n| (n.clone(), "v".to_string())).collect();
            for (name, _) in sanitize_request_headers(input) {
                let lower = name.to_ascii_lowercase();
                prop_assert!(!lower.starts_with("x-keygate-"));
                prop_assert!(!lower.starts_with("x-forwarded-"));
                prop_assert!(lower != "authorization" && lower != "connection");
            }
        }
    }
}
