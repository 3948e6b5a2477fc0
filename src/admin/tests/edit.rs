//! `PATCH /keys/{id}` bodies.

use super::*;

// --- edit bodies ----------------------------------------------------------------

fn parse_edit_with(body: &Value, https_only: bool) -> Result<KeyEdit, GatewayError> {
    parse_edit(body.to_string().as_bytes(), &policy(), NOW, https_only)
}

fn edit_of(body: Value) -> Result<KeyEdit, GatewayError> {
    parse_edit_with(&body, true)
}

const EDITABLE: &str = "name, scopes, limits, enforcement, expires_at, metadata, rejection_webhook";

#[test]
fn an_edit_sets_only_the_fields_it_names() {
    assert_eq!(
        edit_of(json!({"name": "  Renamed \n"})).unwrap(),
        KeyEdit {
            name: Some("Renamed".into()),
            ..KeyEdit::default()
        }
    );
    assert_eq!(
        edit_of(json!({"scopes": ["tags:read", "contacts:read", "tags:read"]})).unwrap(),
        KeyEdit {
            scopes: Some(vec!["tags:read".into(), "contacts:read".into()]),
            ..KeyEdit::default()
        }
    );
    let every = json!({
        "name": "Renamed",
        "scopes": ["contacts:write"],
        "limits": {"per_minute": 5},
        "enforcement": "exact",
        "expires_at": "2030-12-31T23:59:59Z",
        "metadata": {"team": "growth"},
        "rejection_webhook": "https://hooks.example.com/r",
    });
    assert_eq!(
        edit_of(every.clone()).unwrap(),
        KeyEdit {
            name: Some("Renamed".into()),
            scopes: Some(vec!["contacts:write".into()]),
            // A missing window keeps the key's current value (resolved by its authority).
            limits: Some(LimitsEdit::Set {
                per_minute: Some(5),
                per_day: None
            }),
            enforcement: Some(Some(Enforcement::Exact)),
            expires_at: Some(Some(1_924_991_999_000)),
            metadata: Some(every["metadata"].as_object().unwrap().clone()),
            rejection_webhook: Some(Some("https://hooks.example.com/r".into())),
        }
    );
}

#[test]
fn null_clears_expiry_limits_webhook_and_metadata() {
    assert_eq!(
        edit_of(
            json!({"expires_at": null, "limits": null, "rejection_webhook": null, "metadata": null})
        )
        .unwrap(),
        KeyEdit {
            limits: Some(LimitsEdit::PolicyDefaults),
            expires_at: Some(None),
            metadata: Some(Map::new()),
            rejection_webhook: Some(None),
            ..KeyEdit::default()
        }
    );
    // Limits that override nothing, like null, go back to the policy's defaults.
    // An object naming no window is a mistake, not a reset: null is the reset.
    for nothing in [json!({}), json!({"per_minute": null, "per_day": null})] {
        assert!(edit_of(json!({ "limits": nothing })).is_err());
    }
    // A name and scopes cannot be cleared.
    assert_eq!(
        refused_on("name", edit_of(json!({"name": null}))),
        "is required"
    );
    assert!(refused_on("scopes", edit_of(json!({"scopes": null}))).starts_with("is required"));
    assert_eq!(
        refused_on("scopes", edit_of(json!({"scopes": []}))),
        "must contain at least one scope"
    );
}

#[test]
fn an_edit_that_names_no_field_is_refused_on_body() {
    let message = refused_on("body", edit_of(json!({})));
    assert_eq!(
        message,
        format!("names no field to change; editable: {EDITABLE}")
    );
    for body in [
        &b""[..],
        b"   ",
        b"[]",
        b"null",
        b"\"name\"",
        b"{",
        b"{\"name\": \"a\"} trailing",
    ] {
        refused_on("body", parse_edit(body, &policy(), NOW, true));
    }
    let over = format!(r#"{{"name": "a"}}{}"#, " ".repeat(MAX_ADMIN_BODY_BYTES));
    let refused = parse_edit(over.as_bytes(), &policy(), NOW, true).err();
    assert_eq!(refused.map(|e| e.code()), Some("payload_too_large"));
}

#[test]
fn unknown_and_create_only_fields_are_each_named_in_an_edit() {
    let errors = field_errors(edit_of(json!({
        "name": "Fine",
        "workspace": "other",
        "environment": "test",
        "id": "key_x",
        "colour": "blue",
    })));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["colour", "environment", "id", "workspace"]);
    for error in &errors {
        assert_eq!(
            error.message,
            format!("unknown field; editable: {EDITABLE}")
        );
    }
}

#[test]
fn every_bad_edit_field_is_reported_in_one_answer() {
    let errors = field_errors(edit_of(json!({
        "name": "",
        "scopes": [],
        "limits": {"per_minute": 0},
        "expires_at": "tomorrow",
        "metadata": [],
        "rejection_webhook": "ftp://example.com",
        "bogus": 1,
    })));
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "bogus",
            "expires_at",
            "limits.per_minute",
            "metadata",
            "name",
            "rejection_webhook",
            "scopes"
        ]
    );
}

#[test]
fn an_edit_cannot_set_an_expiry_in_the_past() {
    for not_future in [NOW - 86_400_000, NOW - 1, NOW] {
        assert_eq!(
            refused_on("expires_at", edit_of(json!({"expires_at": at(not_future)}))),
            "must be in the future"
        );
    }
    assert_eq!(
        edit_of(json!({"expires_at": "2030-03-17T17:46:40.001Z"}))
            .unwrap()
            .expires_at,
        Some(Some(NOW + 1))
    );
    assert_eq!(
        edit_of(json!({"expires_at": at(NOW + 1_000)}))
            .unwrap()
            .expires_at,
        Some(Some(NOW + 1_000))
    );
    for not_string in [json!(NOW + 1_000), json!(true)] {
        refused_on("expires_at", edit_of(json!({ "expires_at": not_string })));
    }
}

#[test]
fn an_edit_with_unknown_scopes_lists_the_valid_ones() {
    match edit_of(json!({"scopes": ["contacts:read", "billing:read", "contacts:admin"]})) {
        Err(GatewayError::UnknownScopes { unknown, valid }) => {
            assert_eq!(unknown, ["billing:read", "contacts:admin"]);
            assert_eq!(valid, policy().valid_scopes());
        }
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    // Field errors come first, as at create.
    assert_eq!(
        refused_on(
            "name",
            edit_of(json!({"scopes": ["billing:read"], "name": ""}))
        ),
        "must not be empty"
    );
}

#[test]
fn an_id_that_cannot_exist_is_404_whatever_the_method() {
    for (method, path) in [
        ("PUT", "/keys/nope"),
        ("POST", "/keys/"),
        ("GET", "/keys//revoke"),
    ] {
        assert_eq!(
            admin_route(method, path),
            Err(GatewayError::NotFound),
            "{method} {path}"
        );
    }
}

#[test]
fn edit_limits_and_webhooks_follow_the_create_rules() {
    // One window alone is kept for the key's authority, which knows the other.
    assert_eq!(
        edit_of(json!({"limits": {"per_day": 100}})).unwrap().limits,
        Some(LimitsEdit::Set {
            per_minute: None,
            per_day: Some(100)
        })
    );
    assert_eq!(
        refused_on(
            "limits",
            edit_of(json!({"limits": {"per_minute": 10, "per_day": 5}}))
        ),
        "per_minute (10) must not exceed per_day (5)"
    );
    assert_eq!(
        refused_on(
            "limits.per_day",
            edit_of(json!({"limits": {"per_day": 1_000_000_001u64}}))
        ),
        "must be a whole number from 1 to 1000000000"
    );
    assert_eq!(
        refused_on(
            "limits.burst",
            edit_of(json!({"limits": {"per_minute": 5, "burst": 10}}))
        ),
        "unknown field; allowed: per_minute, per_day"
    );
    let local = json!({"rejection_webhook": "http://localhost:8787/hook"});
    assert_eq!(
        parse_edit_with(&local, false).unwrap().rejection_webhook,
        Some(Some("http://localhost:8787/hook".into()))
    );
    assert_eq!(
        refused_on("rejection_webhook", parse_edit_with(&local, true)),
        "must be an https:// URL"
    );
    refused_on(
        "rejection_webhook",
        edit_of(json!({"rejection_webhook": "https://user@hooks.example.com/"})),
    );
    let over = json!({"k": "x".repeat(MAX_METADATA_BYTES - 7)});
    assert_eq!(
        refused_on("metadata", edit_of(json!({ "metadata": over }))),
        "must be at most 4096 bytes as JSON"
    );
}
