//! What the identity and webhook schemes check alike: a `<prefix><base64url>` signature
//! compared in constant time against each secret's MAC, and a signed timestamp within a
//! tolerance of now.

use crate::VerifyError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// The header with the signed time, in Unix seconds, for the identity and the webhook alike.
pub const TIMESTAMP: &str = "X-Keygate-Timestamp";
/// The header with the signature (the webhook's may hold one per live secret).
pub const SIGNATURE: &str = "X-Keygate-Signature";

/// The `<prefix><base64url without padding>` value of a MAC.
pub(crate) fn encode(prefix: &str, mac: &[u8; 32]) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The MAC a presented `<prefix><base64url>` signature carries.
pub(crate) fn decode(presented: &str, prefix: &str) -> Result<Vec<u8>, VerifyError> {
    presented
        .strip_prefix(prefix)
        .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
        .ok_or(VerifyError::MalformedHeader(SIGNATURE))
}

/// Which of the `expected` MACs (one per secret, newest first) `presented` is. Each is
/// compared in constant time, and all of them are compared, so the time taken says
/// nothing about how close a forgery came.
pub(crate) fn matching(expected: &[[u8; 32]], presented: &[u8]) -> Option<usize> {
    let mut found = None;
    for (index, mac) in expected.iter().enumerate() {
        if bool::from(mac.as_slice().ct_eq(presented)) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

/// The signed timestamp, if it is decimal digits within `tolerance_secs` of `now_secs`
/// either way. Checked only after the signature matched, so an attacker learns nothing
/// from which check failed.
pub(crate) fn check_timestamp(
    timestamp: &str,
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<u64, VerifyError> {
    // Decimal digits only, as keygate sends it: `str::parse` would also take "+1900000000",
    // which verifiers in other languages refuse, and every verifier must agree.
    let timestamp: u64 = Some(timestamp)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(VerifyError::MalformedHeader(TIMESTAMP))?;
    // Compared as u64: clamping both to i64 first made any two times past i64::MAX equal.
    if now_secs.abs_diff(timestamp) > tolerance_secs {
        let age_secs = match now_secs.checked_sub(timestamp) {
            Some(age) => i64::try_from(age).unwrap_or(i64::MAX),
            None => i64::try_from(timestamp - now_secs).map_or(i64::MIN, |ahead| -ahead),
        };
        return Err(VerifyError::StaleTimestamp { age_secs });
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_secret_is_named() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(matching(&[a, b], &b), Some(1));
        assert_eq!(matching(&[a, b, a], &a), Some(0));
        assert_eq!(matching(&[a, b], &[3u8; 32]), None);
        assert_eq!(matching(&[a], &a[..31]), None);
        assert_eq!(matching(&[], &a), None);
    }

    #[test]
    fn only_decimal_digits_are_a_timestamp() {
        for text in [
            "",
            "+1900000000",
            "-1",
            " 1900000000",
            "1e9",
            "0x10",
            "soon",
        ] {
            assert_eq!(
                check_timestamp(text, 1_900_000_000, 300),
                Err(VerifyError::MalformedHeader(TIMESTAMP)),
                "{text:?}"
            );
        }
        assert_eq!(
            check_timestamp("1900000300", 1_900_000_000, 300),
            Ok(1_900_000_300)
        );
    }
}
