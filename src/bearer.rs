//! The `Authorization: Bearer <token>` header, read the same way for API keys and the root
//! token; and, on the data plane, the one other header a policy may name for keys
//! (`[credentials] header`, for customers whose clients already send `X-API-Key`).
//!
//! ```
//! use keygate::bearer::{bearer_token, presented_key, CredentialHeader};
//! assert_eq!(bearer_token(Some("Bearer kg_live_abc")), Ok("kg_live_abc"));
//! assert!(bearer_token(Some("Basic dXNlcjpwYXNz")).is_err());
//! assert!(bearer_token(None).is_err());
//! let header = |value| Some(CredentialHeader { name: "X-API-Key", value });
//! assert_eq!(presented_key(None, header(Some(" kg_live_abc "))), Ok("kg_live_abc"));
//! // Both at once is refused, whichever keys they hold: keygate never picks one.
//! assert!(presented_key(Some("Bearer kg_live_abc"), header(Some("kg_live_abc"))).is_err());
//! ```

use crate::problem::GatewayError;

/// The token in an `Authorization` header value: the scheme is `Bearer` in any case, and
/// whitespace around the token is ignored. A missing header or an empty token is a
/// missing credential; any other scheme (or none) is the wrong scheme.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, GatewayError> {
    let value = authorization.ok_or(GatewayError::MissingCredentials)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(GatewayError::InvalidScheme)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GatewayError::InvalidScheme);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(GatewayError::MissingCredentials);
    }
    Ok(token)
}

/// The policy's credential header on one request: its name as the policy writes it, and
/// its value as the platform hands it over (repeated fields joined with `, `).
#[derive(Clone, Copy, Debug)]
pub struct CredentialHeader<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

/// The key a data-plane request presents: `Authorization: Bearer <key>`, or the
/// credential header's value (the key alone, whitespace around it ignored). The header
/// and `Authorization` together are refused even when they hold the same key, and so is
/// either holding more than one value: a key has no comma, so a comma means a header sent
/// twice (the platform joins repeats with `, `), and keygate does not pick one.
pub fn presented_key<'a>(
    authorization: Option<&'a str>,
    credential_header: Option<CredentialHeader<'a>>,
) -> Result<&'a str, GatewayError> {
    let twice = |name: &str| {
        GatewayError::CredentialsAmbiguous {
        what: format!("the `{name}` header holds more than one value (a header sent twice arrives as one, comma-separated)"),
    }
    };
    let header = credential_header.and_then(|h| h.value.map(|value| (h.name, value)));
    match (authorization, header) {
        (Some(_), Some((name, _))) => Err(GatewayError::CredentialsAmbiguous {
            what: format!("the request sends a key in both `Authorization` and `{name}`"),
        }),
        (None, Some((name, value))) => {
            let token = value.trim();
            if token.is_empty() {
                Err(GatewayError::MissingCredentials)
            } else if token.contains(',') {
                Err(twice(name))
            } else {
                Ok(token)
            }
        }
        (authorization, None) => {
            let token = bearer_token(authorization)?;
            if token.contains(',') {
                Err(twice("Authorization"))
            } else {
                Ok(token)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_token_after_bearer_in_any_case() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("  BEARER   abc  ")), Ok("abc"));
    }

    #[test]
    fn refuses_a_missing_header_or_token_and_other_schemes() {
        let code = |value| bearer_token(value).map_err(|e| e.code());
        assert_eq!(code(None), Err("missing_credentials"));
        // Trimmed first, so a scheme with nothing after it has no space left to split at.
        assert_eq!(
            code(Some("Bearer  \t")),
            Err("invalid_authorization_scheme")
        );
        assert_eq!(code(Some("Basic abc")), Err("invalid_authorization_scheme"));
        assert_eq!(code(Some("Bearerabc")), Err("invalid_authorization_scheme"));
        assert_eq!(code(Some("abc")), Err("invalid_authorization_scheme"));
        assert_eq!(code(Some("")), Err("invalid_authorization_scheme"));
    }

    fn presented<'a>(
        authorization: Option<&'a str>,
        header: Option<&'a str>,
    ) -> Result<&'a str, &'static str> {
        let credential = CredentialHeader {
            name: "X-API-Key",
            value: header,
        };
        presented_key(authorization, Some(credential)).map_err(|e| e.code())
    }

    const KEY: &str = "kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv";

    #[test]
    fn the_credential_header_holds_the_key_alone() {
        assert_eq!(presented(None, Some(KEY)), Ok(KEY));
        assert_eq!(presented(None, Some(&format!(" {KEY}\t"))), Ok(KEY));
        assert_eq!(presented(None, Some("  ")), Err("missing_credentials"));
        // Not a scheme: the whole value is the key, handed on for the key check to refuse.
        let with_scheme = format!("Bearer {KEY}");
        assert_eq!(
            presented(None, Some(&with_scheme)),
            Ok(with_scheme.as_str())
        );
        assert_eq!(presented(Some(&format!("Bearer {KEY}")), None), Ok(KEY));
        assert_eq!(presented(None, None), Err("missing_credentials"));
    }

    #[test]
    fn both_places_or_a_repeated_header_are_refused_whatever_they_hold() {
        let bearer = format!("Bearer {KEY}");
        let other = "kg_live_0000000000000000000000000000000000000000";
        for header in [KEY, other, ""] {
            assert_eq!(
                presented(Some(&bearer), Some(header)),
                Err("credentials_ambiguous")
            );
            assert_eq!(
                presented(Some("Basic abc"), Some(header)),
                Err("credentials_ambiguous")
            );
        }
        assert_eq!(
            presented(None, Some(&format!("{KEY}, {other}"))),
            Err("credentials_ambiguous")
        );
        assert_eq!(
            presented(None, Some(&format!("{KEY}, {KEY}"))),
            Err("credentials_ambiguous")
        );
        assert_eq!(
            presented(Some(&format!("Bearer {KEY}, Bearer {other}")), None),
            Err("credentials_ambiguous")
        );
        let p = GatewayError::CredentialsAmbiguous { what: "x".into() }.to_problem("r");
        assert_eq!(p.status, 400);
        assert!(!p.body.to_string().contains(KEY));
    }

    #[test]
    fn without_a_configured_header_only_authorization_counts() {
        assert_eq!(presented_key(Some(&format!("Bearer {KEY}")), None), Ok(KEY));
        assert_eq!(
            presented_key(None, None).map_err(|e| e.code()),
            Err("missing_credentials")
        );
    }

    proptest! {
        /// Whatever the two values, a key comes from exactly one place, is trimmed, and
        /// holds no comma.
        #[test]
        fn a_presented_key_comes_from_one_place(
            authorization in prop::option::of("\\PC{0,30}"),
            header in prop::option::of("\\PC{0,30}"),
        ) {
            let got = presented_key(
                authorization.as_deref(),
                Some(CredentialHeader { name: "X-API-Key", value: header.as_deref() }),
            );
            if let Ok(token) = got {
                prop_assert!(authorization.is_none() || header.is_none());
                prop_assert!(!token.is_empty() && !token.contains(','));
                prop_assert_eq!(token, token.trim());
                let source = authorization.as_deref().or(header.as_deref()).unwrap_or_default();
                prop_assert!(source.contains(token));
            }
        }

        #[test]
        fn a_token_read_is_trimmed_and_reads_back_the_same(value in "\\PC{0,40}") {
            if let Ok(token) = bearer_token(Some(&value)) {
                prop_assert!(!token.is_empty());
                prop_assert_eq!(token, token.trim());
                let resent = format!("Bearer {token}");
                prop_assert_eq!(bearer_token(Some(&resent)), Ok(token));
            }
        }
    }
}
