//! The identity signature's shared test vectors (the repository's
//! `tests/vectors/identity-v3.json`): the Rust verifier (this crate, which keygate signs
//! with) must reach the file's verdict on every case, with one secret and with the secret
//! behind another during a rotation, and the signer must produce the file's signature for
//! every case that verifies. Every other verifier keygate ships (`packages/verify-js`,
//! `packages/verify-py`) is held to the same file.

use keygate_verify::identity::{
    sign, verify, verify_any, BodyDigest, Content, Identity, ReceivedBody, RequestLine,
    UNSIGNED_BODY,
};
use keygate_verify::SigningSecret;
use serde_json::Value;

mod common;
use common::{header, text};

const VECTORS: &str = include_str!("../../../tests/vectors/identity-v3.json");

fn optional_text(value: &Value, field: &str) -> Option<String> {
    value[field].as_str().map(String::from)
}

fn identity_of(expected: &Value) -> Identity {
    Identity {
        key_id: text(expected, "key_id").into(),
        key_name: text(expected, "key_name").into(),
        workspace: text(expected, "workspace").into(),
        environment: text(expected, "environment").into(),
        scopes: expected["scopes"]
            .as_array()
            .expect("scopes is a list")
            .iter()
            .map(|s| s.as_str().expect("a scope is text").to_string())
            .collect(),
        request_id: text(expected, "request_id").into(),
        approval_id: optional_text(expected, "approval_id"),
        approved_by: optional_text(expected, "approved_by"),
        timestamp: expected["timestamp"]
            .as_u64()
            .expect("timestamp is a number"),
    }
}

#[test]
fn the_rust_verifier_and_signer_agree_with_every_vector() {
    let file: Value = serde_json::from_str(VECTORS).expect("the vectors are JSON");
    let secret = SigningSecret::new(text(&file, "secret").as_bytes().to_vec());
    let tolerance = file["tolerance_secs"].as_u64().expect("a tolerance");
    let newer = SigningSecret::new(b"the origin's next secret".to_vec());
    let cases = file["cases"].as_array().expect("cases");
    assert!(cases.len() >= 15);
    for case in cases {
        let name = text(case, "name");
        let request = &case["request"];
        let headers = request["headers"].as_object().expect("headers");
        let header = |wanted: &str| header(headers, wanted);
        let line = RequestLine {
            method: text(request, "method"),
            host: text(request, "host"),
            path_and_query: text(request, "path_and_query"),
        };
        let body = text(request, "body").as_bytes();
        let now = case["now_secs"].as_u64().expect("now_secs");
        let outcome = verify(
            &secret,
            &line,
            header,
            ReceivedBody::Bytes(body),
            now,
            tolerance,
        );
        // During a rotation: the origin's newer secret first, the one that signed second.
        let rotating = verify_any(
            &[newer.clone(), secret.clone()],
            &line,
            header,
            ReceivedBody::Bytes(body),
            now,
            tolerance,
        );
        assert_eq!(
            rotating.map(|verified| verified.secret_index),
            outcome.as_ref().map(|_| 1).map_err(Clone::clone),
            "{name}"
        );
        let expected = &case["expect"];
        if expected["ok"] == Value::Bool(true) {
            let verified = outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
            let identity = identity_of(&expected["identity"]);
            assert_eq!(verified.identity, identity, "{name}");
            assert_eq!(
                Value::Bool(verified.body_signed),
                expected["body_signed"],
                "{name}"
            );
            // The signer, given what the case says was sent, writes the same signature.
            let content = Content {
                content_type: header("content-type"),
                content_length: header("content-length").map(|l| l.parse().expect("a length")),
                body: match header("x-keygate-content-sha256") {
                    Some(UNSIGNED_BODY) => BodyDigest::Unsigned,
                    _ => BodyDigest::of(body),
                },
            };
            assert_eq!(
                Some(sign(&secret, &line, &content, &identity).as_str()),
                header("x-keygate-signature"),
                "{name}"
            );
        } else {
            let error = outcome.expect_err(name);
            assert_eq!(error.code(), text(expected, "error"), "{name}: {error}");
        }
    }
}
