//! Rejection webhooks: a receiver verifies what keygate signed, and accepts nothing whose
//! timestamp, signature or body differs from what was signed with that secret.
#![no_main]

use keygate::identity::{SigningSecret, VerifyError};
use keygate::webhook::{sign, verify};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Vec<u8>,
    timestamp: u64,
    body: Vec<u8>,
    clock_skew: i32,
    tolerance: u16,
    presented_timestamp: Option<String>,
    presented_signature: Option<String>,
    presented_body: Option<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let secret = SigningSecret::new(input.secret);
    let signature = sign(&secret, input.timestamp, &input.body);
    let timestamp = input.timestamp.to_string();
    let now = input
        .timestamp
        .saturating_add_signed(i64::from(input.clock_skew));
    let tolerance = u64::from(input.tolerance);
    let in_time = now.abs_diff(input.timestamp) <= tolerance;

    match verify(&secret, &timestamp, &signature, &input.body, now, tolerance) {
        Ok(()) => assert!(in_time),
        Err(VerifyError::StaleTimestamp { .. }) => assert!(!in_time),
        Err(other) => panic!("what keygate signed was refused: {other:?}"),
    }

    let presented_timestamp = input
        .presented_timestamp
        .unwrap_or_else(|| timestamp.clone());
    let presented_signature = input
        .presented_signature
        .unwrap_or_else(|| signature.clone());
    let presented_body = input.presented_body.unwrap_or_else(|| input.body.clone());
    if verify(
        &secret,
        &presented_timestamp,
        &presented_signature,
        &presented_body,
        now,
        tolerance,
    )
    .is_ok()
    {
        assert_eq!(presented_timestamp, timestamp);
        assert_eq!(presented_signature, signature);
        assert_eq!(presented_body, input.body);
    }
});
