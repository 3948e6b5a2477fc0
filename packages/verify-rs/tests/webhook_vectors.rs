//! The rejection webhook's shared test vectors (the repository's
//! `tests/vectors/webhook-v1.json`): the Rust verifier (this crate, which keygate signs
//! with) must reach the file's verdict on every case, with the receiver's one secret and
//! with it behind another during a rotation, and the signer must produce the file's first
//! signature. Every webhook verifier keygate ships is held to the same file.

use keygate_verify::webhook::{sign, verify_delivery, verify_delivery_any};
use keygate_verify::SigningSecret;
use serde_json::Value;

mod common;
use common::{header, text};

const VECTORS: &str = include_str!("../../../tests/vectors/webhook-v1.json");

#[test]
fn the_rust_webhook_verifier_agrees_with_every_vector() {
    let file: Value = serde_json::from_str(VECTORS).expect("the vectors are JSON");
    let tolerance = file["tolerance_secs"].as_u64().expect("a tolerance");
    let cases = file["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    let (mut accepted, mut refused) = (0, 0);
    for case in cases {
        let name = text(case, "name");
        let secret = SigningSecret::new(text(case, "receiver_secret").as_bytes().to_vec());
        let delivery = &case["delivery"];
        let headers = delivery["headers"].as_object().expect("headers");
        let header = |wanted: &str| header(headers, wanted);
        let body = text(delivery, "body").as_bytes();
        let now = case["now_secs"].as_u64().expect("now_secs");
        let outcome = verify_delivery(&secret, header, body, now, tolerance);
        let newer = SigningSecret::new(b"whsec_the receiver's next secret".to_vec());
        let rotating = verify_delivery_any(&[newer, secret.clone()], header, body, now, tolerance);
        assert_eq!(
            rotating,
            outcome.clone().map(|()| 1),
            "{name}: the same verdict under two secrets"
        );
        let expected = &case["expect"];
        if expected["ok"] == Value::Bool(true) {
            assert_eq!(outcome, Ok(()), "{name}");
            accepted += 1;
        } else {
            let error = outcome.expect_err(name);
            assert_eq!(error.code(), text(expected, "error"), "{name}: {error}");
            refused += 1;
        }
    }
    assert!(
        accepted >= 5 && refused >= 10,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn keygate_signs_the_vectors_first_case_as_the_file_says() {
    let file: Value = serde_json::from_str(VECTORS).expect("the vectors are JSON");
    let first = &file["cases"][0];
    let delivery = &first["delivery"];
    let secret = SigningSecret::new(text(first, "receiver_secret").as_bytes().to_vec());
    let timestamp: u64 = text(&delivery["headers"], "x-keygate-timestamp")
        .parse()
        .expect("a timestamp");
    assert_eq!(
        sign(&secret, timestamp, text(delivery, "body").as_bytes()),
        text(&delivery["headers"], "x-keygate-signature")
    );
}
