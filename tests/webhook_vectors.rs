//! The rejection webhook's shared test vectors (`tests/vectors/webhook-v1.json`): keygate's
//! Rust verifier must reach the file's verdict on every case, and keygate's signer must
//! produce the file's first signature for every case that verifies under the signing
//! secret. Every webhook verifier keygate ships is held to the same file.

use keygate::identity::SigningSecret;
use keygate::webhook::{sign, verify_delivery};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/webhook-v1.json");

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is text"))
}

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
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
                .and_then(|(_, v)| v.as_str())
        };
        let body = text(delivery, "body").as_bytes();
        let now = case["now_secs"].as_u64().expect("now_secs");
        let outcome = verify_delivery(&secret, header, body, now, tolerance);
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
