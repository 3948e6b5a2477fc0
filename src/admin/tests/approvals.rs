//! The reviewer's bodies.

use super::*;

#[test]
fn reject_needs_a_reason_and_approve_takes_nothing() {
    assert_eq!(
        parse_reject(br#"{"reason": "  too risky  "}"#),
        Ok("too risky".into())
    );
    let field_errors = |body: &[u8]| match parse_reject(body) {
        Err(GatewayError::InvalidBody { errors }) => errors
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field_errors(b"{}"),
        ["reason: is required: say why, for the key's owner"]
    );
    assert_eq!(
        field_errors(br#"{"reason": " "}"#),
        ["reason: must not be empty"]
    );
    assert_eq!(
        field_errors(br#"{"reason": 5}"#),
        ["reason: must be a string"]
    );
    let long = format!(r#"{{"reason": "{}"}}"#, "x".repeat(1001));
    assert_eq!(
        field_errors(long.as_bytes()),
        ["reason: must be at most 1000 characters"]
    );
    assert_eq!(
        field_errors(br#"{"reason": "ok", "notify": true}"#),
        ["notify: unknown field; allowed: reason"]
    );
    assert_eq!(field_errors(b"nope").len(), 1);

    assert_eq!(parse_approve(b""), Ok(()));
    assert_eq!(parse_approve(b" \n"), Ok(()));
    assert_eq!(parse_approve(b"{}"), Ok(()));
    assert!(parse_approve(br#"{"force": true}"#).is_err());
    assert!(parse_approve(b"[]").is_err());
}
