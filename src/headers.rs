//! What a client's headers become before they reach the origin, and an origin's before
//! they reach the client.
//!
//! Strip first, then add: every header the client may use to impersonate keygate or to
//! smuggle hop-by-hop semantics is removed here, and only afterwards does the caller add
//! keygate's own identity headers. Doing it the other way round lets a client-named
//! `Connection: X-Keygate-Key-Id` strip the real identity header.
//!
//! A client's `Connection` header may nominate hop-by-hop headers of its own, never one
//! the platform adds or one the body's meaning rests on (`CF-*`, `CDN-Loop`, `Content-*`,
//! `Accept-Encoding`, `Host`): such a nomination is ignored and the header kept, so
//! `Connection: CF-Connecting-IP` cannot take the client's address away from the origin.
//!
//! ```
//! use keygate::headers::sanitize_request_headers;
//! let clean = sanitize_request_headers(vec![
//!     ("Authorization".to_string(), "Bearer kg_live_…".to_string()),
//!     ("X_API_Key".to_string(), "legacy-key".to_string()),
//!     ("X-Keygate-Workspace".to_string(), "someone-else".to_string()),
//!     ("Accept".to_string(), "application/json".to_string()),
//! ], Some("X-API-Key"));
//! assert_eq!(clean, vec![("Accept".to_string(), "application/json".to_string())]);
//! ```

use crate::ambiguity::normalize_header_name;
use crate::identity::RESERVED_PREFIX;
use std::borrow::Cow;

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
    // Client IP claims a client can forge; the platform's own (CF-Connecting-IP) stays.
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
];

/// The only headers a queued request keeps, for the origin when it is approved: what says
/// how to read the body and what answer is wanted, the client's idempotency key, the
/// preconditions that stop a late write from overwriting a newer one, and the user agent.
/// Everything else — cookies, other services' tokens, tracing, the platform's `CF-*` and
/// client-IP headers — is dropped: a queued request is shown to reviewers and kept for
/// weeks, and the origin learns who sent it from keygate's signed identity.
pub const QUEUED_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-encoding",
    "content-language",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "user-agent",
];

/// The headers a request queued for approval keeps: those of [`QUEUED_HEADERS`] that
/// [`sanitize_request_headers`] would forward, in their original order and spelling. (A
/// policy's credential header is never one of them: the policy refuses those names.)
///
/// ```
/// use keygate::headers::queued_request_headers;
/// let kept = queued_request_headers(vec![
///     ("Cookie".to_string(), "session=s3cret".to_string()),
///     ("CF-Connecting-IP".to_string(), "203.0.113.9".to_string()),
///     ("Content-Type".to_string(), "application/json".to_string()),
/// ]);
/// assert_eq!(kept, vec![("Content-Type".to_string(), "application/json".to_string())]);
/// ```
pub fn queued_request_headers(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    sanitize_request_headers(headers, None)
        .into_iter()
        .filter(|(name, _)| QUEUED_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .collect()
}

/// Headers a `Connection` nomination cannot remove (see the module docs), besides every
/// `cf-` and `content-` header.
const NEVER_NOMINATED: &[&str] = &["cdn-loop", "accept-encoding", "host"];

/// Set by Cloudflare's edge on the request keygate receives, overwriting a client's; run
/// anywhere else (workerd locally) a value can only be the client's. keygate forwards
/// neither: the ray names the client's hop, not keygate's request to the origin, and the
/// country is taken from the platform's own `request.cf` (see `edge::proxy`).
const EDGE_SET: &[&str] = &["cf-ray", "cf-ipcountry"];

/// Whether a header is in keygate's reserved prefix, in any spelling [`normalize_header_name`] folds together.
pub fn is_reserved(name: &str) -> bool {
    normalize_header_name(name).starts_with(RESERVED_PREFIX)
}

fn may_be_nominated(normalized: &str) -> bool {
    !(normalized.starts_with("cf-")
        || normalized.starts_with("content-")
        || NEVER_NOMINATED.contains(&normalized))
}

/// Returns the headers that may be forwarded, in their original order and spelling.
/// Names compare with `_` (or any byte but a letter or digit) as `-` (see
/// [`normalize_header_name`]): a CGI-style origin reads `X_Keygate_Key_Id` and
/// `X.Keygate.Key.Id` as `X-Keygate-Key-Id`, so every such spelling is stripped. The
/// policy's `credential_header` (`[credentials] header`, e.g. `X-API-Key`) is a
/// credential like `Authorization` and goes the same way, in every spelling: an origin
/// still reading legacy keys from `HTTP_X_API_KEY` must not be handed one as `X_API_Key`.
pub fn sanitize_request_headers(
    headers: Vec<(String, String)>,
    credential_header: Option<&str>,
) -> Vec<(String, String)> {
    let credential = credential_header.map(normalize_header_name);
    // A client may name headers in `Connection` to have them treated as hop-by-hop.
    let connection_listed: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(','))
        .map(|token| normalize_header_name(token.trim()))
        .filter(|token| !token.is_empty() && may_be_nominated(token))
        .collect();
    headers
        .into_iter()
        .filter(|(name, _)| {
            let lower = normalize_header_name(name);
            !(ALWAYS_STRIPPED.contains(&lower.as_str())
                || credential.as_ref() == Some(&lower)
                || lower.starts_with(RESERVED_PREFIX)
                || lower.starts_with("x-forwarded-")
                || EDGE_SET.contains(&lower.as_str())
                || connection_listed.contains(&lower))
        })
        .collect()
}

/// Which of an origin's response header names are in keygate's reserved prefix, to be
/// deleted: only keygate sets those for the client (its request id, its limit state).
pub fn reserved_response_headers(names: Vec<String>) -> Vec<String> {
    names.into_iter().filter(|name| is_reserved(name)).collect()
}

/// A header's value in the list the platform's iteration gave, as `Headers.get` reads it:
/// the name in any case, and every entry of that name joined with `, `. Iteration joins a
/// repeated header itself, except `Set-Cookie` (one entry each): taking only the first
/// entry would let a second one go unseen.
pub fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<Cow<'a, str>> {
    let mut values = headers
        .iter()
        .filter(|(existing, _)| existing.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str());
    let first = values.next()?;
    Some(match values.next() {
        None => Cow::Borrowed(first),
        Some(second) => {
            let mut joined = format!("{first}, {second}");
            for value in values {
                joined.push_str(", ");
                joined.push_str(value);
            }
            Cow::Owned(joined)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_header_s_value_is_every_entry_of_its_name_as_get_reads_it() {
        let headers = pairs(&[
            ("authorization", "Bearer kg_a"),
            ("set-cookie", "kg_b"),
            ("Set-Cookie", "kg_c"),
            ("set-cookie", "kg_d"),
        ]);
        assert_eq!(
            header_value(&headers, "Authorization").as_deref(),
            Some("Bearer kg_a")
        );
        assert_eq!(
            header_value(&headers, "set-cookie").as_deref(),
            Some("kg_b, kg_c, kg_d")
        );
        assert_eq!(header_value(&headers, "content-length"), None);
    }

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
            sanitize_request_headers(input, None),
            pairs(&[
                ("content-type", "application/json"),
                ("X-Request-Tag", "kept")
            ])
        );
    }

    #[test]
    fn the_credential_header_is_stripped_in_every_spelling() {
        let input = pairs(&[
            ("x-api-key", "kg_live_…"),
            ("X_API_Key", "legacy-1"),
            ("X.Api.Key", "legacy-2"),
            ("X-API-Key-Id", "kept"),
            ("X-Other", "kept"),
        ]);
        assert_eq!(
            sanitize_request_headers(input.clone(), Some("X-API-Key")),
            pairs(&[("X-API-Key-Id", "kept"), ("X-Other", "kept")])
        );
        // Without the setting, nothing of the kind is a credential.
        assert_eq!(sanitize_request_headers(input.clone(), None), input);
    }

    #[test]
    fn any_separator_spelling_of_a_reserved_name_is_stripped() {
        // lighttpd hands CGI `X.Keygate.Key.Id` as `HTTP_X_KEYGATE_KEY_ID`.
        let input = pairs(&[
            ("X.Keygate.Key.Id", "key_spoofed"),
            ("X+Forwarded+For", "6.6.6.6"),
            ("x.custom.header", "kept"),
        ]);
        assert_eq!(
            sanitize_request_headers(input, None),
            pairs(&[("x.custom.header", "kept")])
        );
    }

    #[test]
    fn underscore_spellings_and_ip_claims_are_stripped_too() {
        let input = pairs(&[
            ("X_Keygate_Key_Id", "key_spoofed"),
            ("X-Keygate_Workspace", "other"),
            ("X_Forwarded_For", "6.6.6.6"),
            ("X-Real-IP", "6.6.6.6"),
            ("True-Client-IP", "6.6.6.6"),
            ("Connection", "x_hop"),
            ("X-Hop", "1"),
            ("x_custom_header", "kept"),
        ]);
        assert_eq!(
            sanitize_request_headers(input, None),
            pairs(&[("x_custom_header", "kept")])
        );
    }

    #[test]
    fn strips_every_client_ip_claim_and_edge_header() {
        let input = pairs(&[
            ("X-Client-IP", "6.6.6.6"),
            ("Client-IP", "6.6.6.6"),
            ("X-Cluster-Client-IP", "6.6.6.6"),
            ("Fastly-Client-IP", "6.6.6.6"),
            ("true_client_ip", "6.6.6.6"),
            ("CF-Ray", "forged-LHR"),
            ("cf_ipcountry", "XX"),
            ("CF-Connecting-IP", "203.0.113.7"),
            ("Accept", "*/*"),
        ]);
        assert_eq!(
            sanitize_request_headers(input, None),
            pairs(&[("CF-Connecting-IP", "203.0.113.7"), ("Accept", "*/*")])
        );
    }

    #[test]
    fn connection_cannot_nominate_platform_or_content_headers() {
        let input = pairs(&[
            (
                "Connection",
                "CF-Connecting-IP, cf_visitor, Content-Length, Content-Type, content-encoding, CDN-Loop, Accept-Encoding, Host, x-hop",
            ),
            ("CF-Connecting-IP", "203.0.113.7"),
            ("CF-Visitor", "{\"scheme\":\"https\"}"),
            ("Content-Length", "2"),
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("CDN-Loop", "cloudflare"),
            ("Accept-Encoding", "gzip"),
            ("X-Hop", "1"),
        ]);
        assert_eq!(
            sanitize_request_headers(input, None),
            pairs(&[
                ("CF-Connecting-IP", "203.0.113.7"),
                ("CF-Visitor", "{\"scheme\":\"https\"}"),
                ("Content-Length", "2"),
                ("Content-Type", "application/json"),
                ("Content-Encoding", "gzip"),
                ("CDN-Loop", "cloudflare"),
                ("Accept-Encoding", "gzip"),
            ])
        );
    }

    #[test]
    fn origin_responses_lose_every_reserved_header() {
        let names = [
            "X-Keygate-Request-Id",
            "x_keygate_key_id",
            "X-Keygate_Approved-By",
            "Content-Type",
            "X-Keygatefoo",
        ];
        assert_eq!(
            reserved_response_headers(names.iter().map(|n| n.to_string()).collect()),
            [
                "X-Keygate-Request-Id",
                "x_keygate_key_id",
                "X-Keygate_Approved-By"
            ]
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
        assert_eq!(
            sanitize_request_headers(input, None),
            pairs(&[("X-Kept", "3")])
        );
    }

    #[test]
    fn a_queued_request_keeps_only_the_allow_list() {
        let input = pairs(&[
            ("Cookie", "session=s3cret"),
            ("X-Api-Key", "third-party-token"),
            ("CF-Connecting-IP", "203.0.113.9"),
            ("cf-ipcountry", "NZ"),
            ("Traceparent", "00-abc-def-01"),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "op-42"),
            ("accept", "application/json"),
            ("User-Agent", "agent/1.0"),
            ("If-Match", "\"v7\""),
            ("Authorization", "Bearer kg_live_x"),
            // Named hop-by-hop by the client: not forwarded, so not kept either.
            ("Connection", "accept-language"),
            ("Accept-Language", "en"),
            // `_` spellings are not the allow-listed names.
            ("content_type", "text/plain"),
        ]);
        assert_eq!(
            queued_request_headers(input),
            pairs(&[
                ("Content-Type", "application/json"),
                ("Idempotency-Key", "op-42"),
                ("accept", "application/json"),
                ("User-Agent", "agent/1.0"),
                ("If-Match", "\"v7\""),
            ])
        );
    }

    proptest! {
        #[test]
        fn a_queued_request_keeps_nothing_outside_the_allow_list(
            names in proptest::collection::vec("(?i)(cookie|content-type|accept|user-agent|cf-[a-z]{1,8}|x-[a-z-]{1,10}|[a-z_-]{1,14})", 0..12),
        ) {
            let input: Vec<(String, String)> = names.iter().map(|n| (n.clone(), "v".to_string())).collect();
            for (name, _) in queued_request_headers(input) {
                prop_assert!(QUEUED_HEADERS.contains(&name.to_ascii_lowercase().as_str()), "{}", name);
            }
        }

        #[test]
        fn nothing_reserved_or_authorizing_survives(
            names in proptest::collection::vec("(?i)(x[-_]keygate[-_][a-z_-]{0,10}|authorization|x[-_.]api[-_.]key|x[-_]forwarded[-_][a-z]{1,5}|[a-z_-]{1,12})", 0..12),
        ) {
            let input: Vec<(String, String)> = names.iter().map(|n| (n.clone(), "v".to_string())).collect();
            for (name, _) in sanitize_request_headers(input, Some("X-API-Key")) {
                let lower = normalize_header_name(&name);
                prop_assert!(!lower.starts_with("x-keygate-"));
                prop_assert!(!lower.starts_with("x-forwarded-"));
                prop_assert!(lower != "authorization" && lower != "connection");
                prop_assert!(lower != "x-api-key");
            }
        }

        #[test]
        fn connection_never_removes_a_protected_header(
            protected in "(?i)(cf[-_][a-z-]{1,12}|content[-_][a-z]{1,8}|cdn[-_]loop|accept[-_]encoding)",
            others in proptest::collection::vec("[a-z_-]{1,12}", 0..4),
        ) {
            let nominated = others.iter().chain(std::iter::once(&protected)).cloned().collect::<Vec<_>>().join(", ");
            let input = vec![("Connection".to_string(), nominated), (protected.clone(), "v".to_string())];
            let kept = sanitize_request_headers(input, None);
            let lower = normalize_header_name(&protected);
            // Every protected header stays, except the two edge headers keygate never forwards.
            prop_assert_eq!(
                kept.iter().any(|(n, _)| n == &protected),
                lower != "cf-ray" && lower != "cf-ipcountry"
            );
        }

        #[test]
        fn no_reserved_header_reaches_the_client(
            names in proptest::collection::vec("(?i)(x[-_]keygate[-_][a-z_-]{0,10}|[a-z_-]{1,12})", 0..12),
        ) {
            let reserved = reserved_response_headers(names.clone());
            for name in &names {
                let kept = !reserved.contains(name);
                prop_assert_eq!(kept, !normalize_header_name(name).starts_with("x-keygate-"));
            }
        }
    }
}
