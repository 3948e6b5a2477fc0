//! The `Authorization: Bearer <token>` header, read the same way for API keys and the root token.
//!
//! ```
//! use keygate::bearer::bearer_token;
//! assert_eq!(bearer_token(Some("Bearer kg_live_abc")), Ok("kg_live_abc"));
//! assert!(bearer_token(Some("Basic dXNlcjpwYXNz")).is_err());
//! assert!(bearer_token(None).is_err());
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

    proptest! {
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
