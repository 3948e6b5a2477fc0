//! Rotation bodies and their grace.

use super::*;

// --- rotate bodies --------------------------------------------------------------

#[test]
fn a_rotate_body_gives_the_grace_in_milliseconds() {
    assert_eq!(MAX_GRACE_SECONDS, 30 * 86_400);
    let max = MAX_GRACE_SECONDS.to_string();
    for (body, grace_ms) in [
        ("", 0),
        (" \r\n\t", 0),
        ("{}", 0),
        (r#"{"grace_seconds": null}"#, 0),
        (r#"{"grace_seconds": 0}"#, 0),
        (r#"{"grace_seconds": 1}"#, 1_000),
        (r#" {"grace_seconds": 3600} "#, 3_600_000),
        (
            &format!(r#"{{"grace_seconds": {max}}}"#),
            MAX_GRACE_SECONDS * 1_000,
        ),
    ] {
        assert_eq!(parse_rotate(body.as_bytes()), Ok(grace_ms), "{body:?}");
    }
}

/// JSON Schema's `integer` is any whole number, however it is written (`374`, `374.0`,
/// `3.74e2`), so every integer field of the document takes them all.
#[test]
fn whole_numbers_written_with_a_fraction_or_exponent_are_integers() {
    let floats = r#"{"name": "n", "scopes": ["contacts:read"], "limits": {"per_minute": 6e1, "per_day": 374.0}}"#;
    let created = parse_create(floats.as_bytes(), &policy(), NOW, true).unwrap();
    assert_eq!(created.limits, Some(Limits::new(60, 374).unwrap()));
    let edit = parse_edit(
        br#"{"limits": {"per_minute": 1.0, "per_day": 1000000000.0}}"#,
        &policy(),
        NOW,
        true,
    )
    .unwrap();
    assert_eq!(
        edit.limits,
        Some(LimitsEdit::Set {
            per_minute: Some(1),
            per_day: Some(1_000_000_000)
        })
    );
    for (body, grace_ms) in [
        (r#"{"grace_seconds": 6738.0}"#, 6_738_000),
        (r#"{"grace_seconds": 3.6e3}"#, 3_600_000),
        (r#"{"grace_seconds": 0.0}"#, 0),
        (r#"{"grace_seconds": -0.0}"#, 0),
        (r#"{"grace_seconds": 2592000.0}"#, MAX_GRACE_SECONDS * 1_000),
    ] {
        assert_eq!(parse_rotate(body.as_bytes()), Ok(grace_ms), "{body}");
    }
    assert_eq!(whole_number(&json!(1e16)), Some(10_000_000_000_000_000));
    assert_eq!(whole_number(&json!(1e300)), Some(u64::MAX));
    for not_whole in [
        json!(0.5),
        json!(-1.0),
        json!(-1),
        json!(1e-300),
        json!("1"),
    ] {
        assert_eq!(whole_number(&not_whole), None, "{not_whole}");
    }
}

#[test]
fn rotate_grace_must_be_whole_seconds_within_30_days() {
    for bad in [
        json!(MAX_GRACE_SECONDS + 1),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        json!(-1.0),
        json!(0.001),
        json!(2592001.0),
        json!(1e300),
        json!("60"),
        json!(true),
        json!([60]),
        json!({"seconds": 60}),
    ] {
        let body = json!({ "grace_seconds": bad }).to_string();
        assert_eq!(
            refused_on("grace_seconds", parse_rotate(body.as_bytes())),
            "must be a whole number of seconds from 0 to 2592000 (30 days)",
            "{body}"
        );
    }
}

#[test]
fn rotate_refuses_unknown_fields_and_non_objects() {
    assert_eq!(
        refused_on("grace", parse_rotate(br#"{"grace": 60}"#)),
        "unknown field; allowed: grace_seconds"
    );
    refused_on(
        "secret",
        parse_rotate(br#"{"grace_seconds": 60, "secret": "kg_live_x"}"#),
    );
    // Both problems at once.
    let errors = field_errors(parse_rotate(br#"{"grace_seconds": -1, "hint": "x"}"#));
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["grace_seconds", "hint"]);
    for body in [&b"[]"[..], b"60", b"null", b"\"60\"", b"{", b"\xff"] {
        refused_on("body", parse_rotate(body));
    }
    let over = format!("{{}}{}", " ".repeat(MAX_ADMIN_BODY_BYTES));
    let refused = parse_rotate(over.as_bytes()).err();
    assert_eq!(refused.map(|e| e.code()), Some("payload_too_large"));
}
