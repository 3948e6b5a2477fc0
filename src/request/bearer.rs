//! The `Authorization: Bearer <token>` header, read the same way for API keys and the root
//! token; and, on the data plane, the one other header a policy may name for keys
//! (`[credentials] header`, for customers whose clients already send `X-API-Key`); then
//! the key's format, checked before any storage is touched.
//!
//! ```
//! use keygate::request::bearer::{bearer_token, presented_key, CredentialHeader};
//! assert_eq!(bearer_token(Some("Bearer kg_live_abc")), Ok("kg_live_abc"));
//! assert!(bearer_token(Some("Basic dXNlcjpwYXNz")).is_err());
//! assert!(bearer_token(None).is_err());
//! let header = |value| Some(CredentialHeader { name: "X-API-Key", value });
//! assert_eq!(presented_key(None, header(Some(" kg_live_abc "))), Ok("kg_live_abc"));
//! // Both at once is refused, whichever keys they hold: keygate never picks one.
//! assert!(presented_key(Some("Bearer kg_live_abc"), header(Some("kg_live_abc"))).is_err());
//! ```

use crate::key::{self, KeyFormatError, ParsedKey};
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

/// The data plane's key: [`presented_key`], then its format under the policy's
/// `key_prefix`. Garbage is refused here, without touching storage.
pub fn presented_api_key(
    authorization: Option<&str>,
    credential_header: Option<CredentialHeader<'_>>,
    key_prefix: &str,
) -> Result<ParsedKey, GatewayError> {
    let presented = presented_key(authorization, credential_header)?;
    key::parse(presented, key_prefix).map_err(key_format_error)
}

/// What a client is told about a key that is not one of this deployment's.
pub fn key_format_error(error: KeyFormatError) -> GatewayError {
    match error {
        KeyFormatError::Malformed => GatewayError::KeyMalformed,
        KeyFormatError::OtherPrefix => GatewayError::KeyPrefixUnknown,
        KeyFormatError::ChecksumMismatch => GatewayError::KeyChecksumMismatch,
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

    fn key_code(authorization: Option<&str>, header: Option<&str>) -> Result<String, &'static str> {
        let credential = CredentialHeader {
            name: "X-API-Key",
            value: header,
        };
        presented_api_key(authorization, Some(credential), "kg")
            .map(|parsed| parsed.key.expose().to_string())
            .map_err(|e| e.code())
    }

    #[test]
    fn a_presented_key_is_checked_before_any_storage() {
        use crate::key::{ApiKey, Environment, KEY_RANDOM_BYTES};
        let key = ApiKey::generate("kg", Environment::Live, &[9; KEY_RANDOM_BYTES]);
        let key = key.expose();
        assert_eq!(
            key_code(Some(&format!("Bearer {key}")), None).as_deref(),
            Ok(key)
        );
        assert_eq!(key_code(None, Some(key)).as_deref(), Ok(key));
        assert_eq!(key_code(None, Some("kg_live_short")), Err("key_malformed"));
        let typo = format!("{}x", &key[..key.len() - 1]);
        let typo = if typo == key {
            format!("{}y", &key[..key.len() - 1])
        } else {
            typo
        };
        assert_eq!(key_code(None, Some(&typo)), Err("key_checksum_mismatch"));
        let other = ApiKey::generate("old", Environment::Live, &[9; KEY_RANDOM_BYTES]);
        assert_eq!(
            key_code(None, Some(other.expose())),
            Err("key_prefix_unknown")
        );
        // The credential's own errors come first.
        assert_eq!(key_code(None, None), Err("missing_credentials"));
        assert_eq!(
            key_code(Some("Basic abc"), None),
            Err("invalid_authorization_scheme")
        );
    }

    #[test]
    fn every_key_format_error_is_a_401_with_its_own_code() {
        let errors = [
            KeyFormatError::Malformed,
            KeyFormatError::OtherPrefix,
            KeyFormatError::ChecksumMismatch,
        ];
        let codes: std::collections::BTreeSet<_> = errors
            .iter()
            .map(|&error| {
                let error = key_format_error(error);
                assert_eq!(error.to_problem("r").status, 401);
                error.code()
            })
            .collect();
        assert_eq!(codes.len(), errors.len());
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

        /// Whatever a client sends, what is refused is refused with a credential or a key
        /// format code, and what is accepted is a whole key of this deployment that it sent.
        #[test]
        fn a_presented_api_key_is_one_of_ours_or_a_401(
            authorization in prop::option::of("(Bearer |bearer )?(kg|old)_(live|test)_[0-9A-Za-z]{0,45}"),
            header in prop::option::of("(kg|old)_(live|test)_[0-9A-Za-z]{0,45}"),
        ) {
            match key_code(authorization.as_deref(), header.as_deref()) {
                Ok(key) => {
                    prop_assert!(key.starts_with("kg_"));
                    prop_assert!(crate::key::parse(&key, "kg").is_ok());
                    let sent = authorization.as_deref().or(header.as_deref()).unwrap_or_default();
                    prop_assert!(sent.ends_with(&key));
                }
                Err(code) => prop_assert!([
                    "missing_credentials",
                    "invalid_authorization_scheme",
                    "credentials_ambiguous",
                    "key_malformed",
                    "key_prefix_unknown",
                    "key_checksum_mismatch",
                ].contains(&code), "{code}"),
            }
        }

        /// A key keygate issued is accepted from either place, exactly as issued.
        #[test]
        fn an_issued_key_is_accepted_from_either_place(
            random in prop::array::uniform24(any::<u8>()),
            live in any::<bool>(),
        ) {
            use crate::key::{ApiKey, Environment, KEY_RANDOM_BYTES};
            let bytes: [u8; KEY_RANDOM_BYTES] = random;
            let environment = if live { Environment::Live } else { Environment::Test };
            let key = ApiKey::generate("kg", environment, &bytes);
            let key = key.expose();
            let bearer = format!("Bearer {key}");
            prop_assert_eq!(key_code(Some(&bearer), None), Ok(key.to_string()));
            prop_assert_eq!(key_code(None, Some(key)), Ok(key.to_string()));
        }
    }
}
