//! Rejection webhooks' signatures: how keygate signs what it POSTs to a key's
//! `rejection_webhook`, and how the receiver checks it.
//!
//! The signature is HMAC-SHA256 under the receiver's secret (its own, `whsec_…`, never the
//! origin's) over `KEYGATE-WEBHOOK-V1`, the `X-Keygate-Timestamp` value and the raw body,
//! one per line, sent in `X-Keygate-Signature` as `v1=` and the MAC in base64url without
//! padding. While a rotated-out secret is still in its grace period the header carries one
//! signature per live secret, comma-separated, the current first; a receiver accepts the
//! notice if any of them verifies under any of its secrets, which is what [`verify_any`]
//! does:
//!
//! ```
//! use keygate_verify::webhook::{signatures, verify, verify_any};
//! use keygate_verify::SigningSecret;
//! let new = SigningSecret::new(b"whsec_the receiver's new secret".to_vec());
//! let old = SigningSecret::new(b"whsec_the receiver's old secret".to_vec());
//! let body = br#"{"type":"approval.rejected"}"#;
//! let header = signatures(&[new.clone(), old.clone()], 1_900_000_000, body);
//! assert!(header.starts_with("v1=") && header.contains(", v1="));
//! for secret in [&new, &old] {
//!     assert_eq!(verify(secret, "1900000000", &header, body, 1_900_000_030, 300), Ok(()));
//! }
//! assert!(verify(&new, "1900000000", &header, b"{}", 1_900_000_030, 300).is_err());
//! // A receiver that has not switched yet: the old secret is its first.
//! let only_old = signatures(&[old.clone()], 1_900_000_000, body);
//! assert_eq!(verify_any(&[new, old], "1900000000", &only_old, body, 1_900_000_030, 300), Ok(1));
//! ```

use crate::signature::{SIGNATURE, TIMESTAMP};
use crate::{signature, SigningSecret, VerifyError};

/// The notice's type, in `X-Keygate-Event` and the body's `type`.
pub const EVENT: &str = "X-Keygate-Event";
pub const REJECTED_EVENT: &str = "approval.rejected";
const SCHEME: &str = "KEYGATE-WEBHOOK-V1";
const SIGNATURE_PREFIX: &str = "v1=";

/// Signatures a receiver looks at, at most: more is not a header keygate sends, and a
/// padded header is then no way to make a receiver compute without end.
pub const MAX_SIGNATURES: usize = 4;

/// One `v1=` signature of `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &SigningSecret, timestamp: u64, body: &[u8]) -> String {
    let mac = signature_over(secret, &timestamp.to_string(), body);
    signature::encode(SIGNATURE_PREFIX, &mac)
}

/// The `X-Keygate-Signature` value: one signature per secret, in the order given (the
/// current secret first), joined by `", "`.
pub fn signatures(secrets: &[SigningSecret], timestamp: u64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, timestamp, body))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a webhook the way a receiver should: that one of the header's signatures is
/// this secret's (each compared in constant time), then that the timestamp is within
/// `tolerance_secs` of `now_secs`.
pub fn verify(
    secret: &SigningSecret,
    timestamp: &str,
    header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    verify_any(
        std::slice::from_ref(secret),
        timestamp,
        header,
        body,
        now_secs,
        tolerance_secs,
    )
    .map(|_| ())
}

/// [`verify`] under any of `secrets`, the newest first (a receiver rotating its secret
/// holds both); returns the index of the one that signed.
pub fn verify_any(
    secrets: &[SigningSecret],
    timestamp: &str,
    header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<usize, VerifyError> {
    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|secret| signature_over(secret, timestamp, body))
        .collect();
    let mut outcome = Err(VerifyError::MalformedHeader(SIGNATURE));
    for presented in header.split(',').map(str::trim).take(MAX_SIGNATURES) {
        // A malformed entry does not hide a good one after it.
        let Ok(presented) = signature::decode(presented, SIGNATURE_PREFIX) else {
            continue;
        };
        match signature::matching(&expected, &presented) {
            Some(index) => {
                signature::check_timestamp(timestamp, now_secs, tolerance_secs)?;
                return Ok(index);
            }
            None => outcome = Err(VerifyError::BadSignature),
        }
    }
    outcome
}

/// [`verify`] for a whole delivery: reads `X-Keygate-Timestamp` and `X-Keygate-Signature`
/// through `header` (a name → value lookup, any case), so a receiver need not.
pub fn verify_delivery<'h>(
    secret: &SigningSecret,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    verify_delivery_any(
        std::slice::from_ref(secret),
        header,
        body,
        now_secs,
        tolerance_secs,
    )
    .map(|_| ())
}

/// [`verify_any`] for a whole delivery, as [`verify_delivery`] reads it.
pub fn verify_delivery_any<'h>(
    secrets: &[SigningSecret],
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<usize, VerifyError> {
    let timestamp = header(TIMESTAMP).ok_or(VerifyError::MissingHeader(TIMESTAMP))?;
    let signature = header(SIGNATURE).ok_or(VerifyError::MissingHeader(SIGNATURE))?;
    verify_any(
        secrets,
        timestamp,
        signature,
        body,
        now_secs,
        tolerance_secs,
    )
}

fn signature_over(secret: &SigningSecret, timestamp: &str, body: &[u8]) -> [u8; 32] {
    secret.mac(&[SCHEME.as_bytes(), b"\n", timestamp.as_bytes(), b"\n", body])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> SigningSecret {
        SigningSecret::new(b"webhook-secret-for-tests-0123456789".to_vec())
    }

    #[test]
    fn signatures_verify_and_any_change_breaks_them() {
        let body = br#"{"type":"approval.rejected"}"#;
        let signature = sign(&secret(), 1_900_000_000, body);
        assert_eq!(
            verify(
                &secret(),
                "1900000000",
                &signature,
                body,
                1_900_000_000,
                300
            ),
            Ok(())
        );
        let other = SigningSecret::new(b"another".to_vec());
        for (secret, timestamp, body) in [
            (&other, "1900000000", &body[..]),
            (&secret(), "1900000001", &body[..]),
            (&secret(), "1900000000", &b"{}"[..]),
        ] {
            assert_eq!(
                verify(secret, timestamp, &signature, body, 1_900_000_000, 300),
                Err(VerifyError::BadSignature)
            );
        }
        assert_eq!(
            verify(
                &secret(),
                "1900000000",
                &signature,
                body,
                1_900_000_301,
                300
            ),
            Err(VerifyError::StaleTimestamp { age_secs: 301 })
        );
        assert!(verify(&secret(), "1900000000", "v2=abc", body, 1_900_000_000, 300).is_err());
        // Not the origin's identity scheme: the same secret signs something else there.
        assert!(signature.starts_with("v1=") && signature.len() == 3 + 43);
    }

    #[test]
    fn a_far_future_timestamp_is_stale_even_for_a_far_future_clock() {
        // Found by fuzzing: times past i64::MAX all compared as "now".
        let body = b"{}";
        let at = u64::MAX - 1_000;
        let signature = sign(&secret(), at, body);
        assert_eq!(
            verify(&secret(), &at.to_string(), &signature, body, u64::MAX, 300),
            Err(VerifyError::StaleTimestamp { age_secs: 1_000 })
        );
    }

    #[test]
    fn a_header_with_two_signatures_verifies_under_either_secret_only() {
        let new = secret();
        let old = SigningSecret::new(b"the-previous-webhook-secret-0123456".to_vec());
        let stranger = SigningSecret::new(b"another-keys-webhook-secret-0123456".to_vec());
        let body = br#"{"type":"approval.rejected"}"#;
        let header = signatures(&[new.clone(), old.clone()], 1_900_000_000, body);
        let (first, second) = header.split_once(", ").expect("two signatures");
        assert_eq!(first, sign(&new, 1_900_000_000, body));
        assert_eq!(second, sign(&old, 1_900_000_000, body));
        let check = |secret: &SigningSecret, header: &str| {
            verify(secret, "1900000000", header, body, 1_900_000_010, 300)
        };
        assert_eq!(check(&new, &header), Ok(()));
        assert_eq!(check(&old, &header), Ok(()));
        assert_eq!(check(&stranger, &header), Err(VerifyError::BadSignature));
        // Spacing does not matter; a malformed entry does not hide a good one.
        assert_eq!(check(&old, &format!("{first},{second}")), Ok(()));
        assert_eq!(check(&old, &format!("v1=!!, {second}")), Ok(()));
        assert_eq!(
            check(&old, &format!("{first}, v1=!!")),
            Err(VerifyError::BadSignature)
        );
        assert!(matches!(
            check(&new, "garbage"),
            Err(VerifyError::MalformedHeader(_))
        ));
        assert!(matches!(
            check(&new, ""),
            Err(VerifyError::MalformedHeader(_))
        ));
        // A match that is stale is stale, whatever follows it.
        assert_eq!(
            verify(&old, "1900000000", &header, body, 1_900_000_301, 300),
            Err(VerifyError::StaleTimestamp { age_secs: 301 })
        );
        // Only the first few entries are read.
        let padded = format!("{}, {second}", [first; MAX_SIGNATURES].join(", "));
        assert_eq!(check(&old, &padded), Err(VerifyError::BadSignature));
    }

    #[test]
    fn a_receiver_with_several_secrets_learns_which_one_signed() {
        let new = secret();
        let old = SigningSecret::new(b"the-previous-webhook-secret-0123456".to_vec());
        let body = b"{}";
        let mine = [new.clone(), old.clone()];
        let by = |signers: &[SigningSecret]| {
            verify_any(
                &mine,
                "1900000000",
                &signatures(signers, 1_900_000_000, body),
                body,
                1_900_000_000,
                300,
            )
        };
        assert_eq!(by(&[new.clone(), old.clone()]), Ok(0));
        assert_eq!(by(&[new]), Ok(0));
        assert_eq!(by(&[old]), Ok(1));
        let stranger = SigningSecret::new(b"stranger".to_vec());
        assert_eq!(by(&[stranger]), Err(VerifyError::BadSignature));
        assert_eq!(
            verify_any(&[], "1900000000", "v1=abc", body, 1_900_000_000, 300),
            Err(VerifyError::BadSignature)
        );
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips_and_any_changed_byte_fails(
            key in proptest::collection::vec(any::<u8>(), 0..64),
            timestamp in 0u64..4_000_000_000,
            body in proptest::collection::vec(any::<u8>(), 0..200),
            flip_at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let secret = SigningSecret::new(key);
            let header = sign(&secret, timestamp, &body);
            let stamp = timestamp.to_string();
            prop_assert_eq!(verify(&secret, &stamp, &header, &body, timestamp, 0), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip_at.index(body.len())] ^= flip;
                prop_assert_eq!(
                    verify(&secret, &stamp, &header, &changed, timestamp, 0),
                    Err(VerifyError::BadSignature)
                );
            }
            let mut stamp_changed = stamp.clone().into_bytes();
            let at = flip_at.index(stamp_changed.len());
            stamp_changed[at] = if stamp_changed[at] == b'9' { b'0' } else { stamp_changed[at] + 1 };
            let stamp_changed = String::from_utf8(stamp_changed).expect("digits");
            prop_assert_eq!(
                verify(&secret, &stamp_changed, &header, &body, timestamp, u64::MAX),
                Err(VerifyError::BadSignature)
            );
        }
    }
}
