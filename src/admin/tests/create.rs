//! Whole `POST /keys` bodies.

use super::*;

// --- whole bodies ---------------------------------------------------------------

#[test]
fn a_full_body_sets_every_field() {
    let body = json!({
        "name": "  Claude Desktop — prod  ",
        "scopes": ["contacts:write", "email:send-approval", "read:all"],
        "workspace": "acme-prod_1.eu",
        "expires_at": "2030-12-31T23:59:59Z",
        "limits": {"per_minute": 10, "per_day": 1000},
        "enforcement": "lease",
        "metadata": {"team": "growth", "cost_center": 42, "tags": ["a", "b"]},
        "rejection_webhook": "https://hooks.example.com/keygate/rejected",
        "environment": "test",
    });
    let new_key = parse(&body).unwrap();
    assert_eq!(
        new_key,
        NewKey {
            name: "Claude Desktop — prod".into(),
            scopes: vec![
                "contacts:write".into(),
                "email:send-approval".into(),
                "read:all".into()
            ],
            workspace: Some("acme-prod_1.eu".into()),
            expires_at: Some(1_924_991_999_000),
            limits: Some(Limits::new(10, 1000).unwrap()),
            enforcement: Some(Enforcement::Lease),
            metadata: body["metadata"].as_object().unwrap().clone(),
            rejection_webhook: Some("https://hooks.example.com/keygate/rejected".into()),
            environment: Environment::Test,
        }
    );
}

#[test]
fn omitted_and_null_fields_take_their_defaults() {
    let expected = NewKey {
        name: "Zapier".into(),
        scopes: vec!["contacts:read".into()],
        // No workspace named: the record gets the acting key's own, or the default.
        workspace: None,
        expires_at: None,
        limits: None,
        enforcement: None,
        metadata: Map::new(),
        rejection_webhook: None,
        environment: Environment::Live,
    };
    assert_eq!(DEFAULT_WORKSPACE, "default");
    assert_eq!(parse(&with("name", json!("Zapier"))).unwrap(), expected);
    let nulls = json!({
        "name": "Zapier", "scopes": ["contacts:read"], "workspace": null,
        "expires_at": null, "limits": null, "enforcement": null, "metadata": null,
        "rejection_webhook": null, "environment": null,
    });
    assert_eq!(parse(&nulls).unwrap(), expected);
    let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
    let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
    let record = expected.into_record(id, &key, NOW, DEFAULT_WORKSPACE, Principal::Root, None);
    assert_eq!(record.workspace, "default");
}

#[test]
fn into_record_builds_a_fresh_active_record() {
    let new_key = parse(&with("workspace", json!("acme"))).unwrap();
    let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
    let hash = hash_key(&HashingSecret::new(b"secret".to_vec()), &key);
    let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
    // A workspace named in the body wins over the fallback.
    let record =
        new_key
            .clone()
            .into_record(id.clone(), &key, NOW, "fallback", Principal::Root, None);
    assert_eq!(record.id, id);
    assert_eq!(record.name, new_key.name);
    assert_eq!(record.hint, key.hint());
    assert_eq!(record.workspace, "acme");
    assert_eq!(record.scopes, new_key.scopes);
    assert_eq!(record.created_at, NOW);
    assert_eq!(record.revoked_at, None);
    assert_eq!(record.version, 1);
    assert_eq!(record.expires_at, new_key.expires_at);
    assert_eq!(record.limits, new_key.limits);
    assert_eq!(record.environment, new_key.environment);
    // Neither the key nor its hash is in the record: the authority keeps the hash apart.
    let hex = &hash.index_name()[3..];
    for text in [
        format!("{record:?}"),
        serde_json::to_string(&record).unwrap(),
    ] {
        assert!(!text.contains(key.expose()), "{text}");
        assert!(!text.contains(hex), "{text}");
    }

    // No workspace named: the fallback (the acting key's own workspace).
    let unnamed = parse(&with("name", json!("Zapier"))).unwrap();
    assert_eq!(unnamed.workspace, None);
    let record = unnamed.into_record(id, &key, NOW, "acme-team", Principal::Root, None);
    assert_eq!(record.workspace, "acme-team");
}

#[test]
fn unknown_top_level_fields_are_each_named() {
    let mut body = with("scope", json!("contacts:read"));
    body["expiry"] = json!("2031-01-01T00:00:00Z");
    let errors = field_errors(parse(&body));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["expiry", "scope"]);
    assert!(errors[0].message.contains("allowed: name, scopes"));
}

#[test]
fn every_bad_field_is_reported_in_one_answer() {
    let body = json!({
        "name": "",
        "scopes": [],
        "workspace": "no spaces",
        "expires_at": "tomorrow",
        "limits": {"per_minute": 0},
        "metadata": [],
        "rejection_webhook": "ftp://example.com",
        "environment": "prod",
        "colour": "blue",
    });
    let errors = field_errors(parse(&body));
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "colour",
            "environment",
            "expires_at",
            "limits",
            "metadata",
            "name",
            "rejection_webhook",
            "scopes",
            "workspace"
        ]
    );
}

#[test]
fn unknown_scopes_are_listed_with_the_valid_ones() {
    let body = with(
        "scopes",
        json!([
            "contacts:read",
            "contacts:admin",
            "billing:read",
            "contacts:admin"
        ]),
    );
    match parse(&body) {
        Err(GatewayError::UnknownScopes { unknown, valid }) => {
            assert_eq!(unknown, ["contacts:admin", "billing:read"]);
            assert_eq!(valid, policy().valid_scopes());
            assert!(valid.iter().any(|s| s == "contacts:read"));
            assert!(valid.iter().any(|s| s == "admin"));
        }
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    // Field errors come first: an unknown scope is not reported next to a bad field.
    let mut body = with("scopes", json!(["billing:read"]));
    body["name"] = json!("");
    assert_eq!(refused_on("name", parse(&body)), "must not be empty");
}

#[test]
fn bodies_that_are_not_json_objects_are_refused_on_body() {
    for body in [
        &b"[]"[..],
        b"\"a string\"",
        b"42",
        b"null",
        b"",
        b"{",
        b"{\"name\": }",
        b"\xff\xfe",
        b"{\"name\": \"a\"} trailing",
    ] {
        let errors = field_errors(parse_create(body, &policy(), NOW, true));
        assert_eq!(errors.len(), 1, "{body:?}");
        assert_eq!(errors[0].field, "body", "{body:?}");
    }
    let errors = field_errors(parse_create(b"[1]", &policy(), NOW, true));
    assert_eq!(errors[0].message, "must be a JSON object");
}

#[test]
fn bodies_over_64_kib_are_refused_before_parsing() {
    let base = with("name", json!("Zapier")).to_string();
    let padded = |total: usize| format!("{base}{}", " ".repeat(total - base.len()));
    let at_limit = padded(MAX_ADMIN_BODY_BYTES);
    assert!(parse_create(at_limit.as_bytes(), &policy(), NOW, true).is_ok());
    let code = |body: &[u8]| {
        parse_create(body, &policy(), NOW, true)
            .err()
            .map(|e| e.code())
    };
    let over = padded(MAX_ADMIN_BODY_BYTES + 1);
    assert_eq!(code(over.as_bytes()), Some("payload_too_large"));
    // Even an invalid body is refused for its size, not parsed.
    let junk = vec![b'x'; MAX_ADMIN_BODY_BYTES + 1];
    assert_eq!(code(&junk), Some("payload_too_large"));
}

// --- default scopes -------------------------------------------------------------

fn policy_with_default_scopes() -> Policy {
    let text = format!(
        "default_scopes = [\"contacts:read\", \"read:all\"]\n{}",
        include_str!("../../../policies/demo.toml")
    );
    Policy::from_toml(&text).expect("demo policy with default scopes parses")
}

#[test]
fn a_create_without_scopes_gets_the_policys_default_scopes() {
    let policy = policy_with_default_scopes();
    let parse = |body: &Value| parse_create(body.to_string().as_bytes(), &policy, NOW, true);
    for body in [
        json!({"name": "Zapier"}),
        json!({"name": "Zapier", "scopes": null}),
    ] {
        assert_eq!(
            parse(&body).unwrap().scopes,
            ["contacts:read", "read:all"],
            "{body}"
        );
    }
    // Scopes given are taken as given, and checked as ever.
    assert_eq!(
        parse(&json!({"name": "Zapier", "scopes": ["contacts:write"]}))
            .unwrap()
            .scopes,
        ["contacts:write"]
    );
    assert_eq!(
        refused_on("scopes", parse(&json!({"name": "Zapier", "scopes": []}))),
        "must contain at least one scope"
    );
    assert!(matches!(
        parse(&json!({"name": "Zapier", "scopes": ["billing:read"]})),
        Err(GatewayError::UnknownScopes { .. })
    ));
    // The other fields are still all checked.
    let errors = field_errors(parse(&json!({"name": ""})));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "name");
}

#[test]
fn without_default_scopes_a_create_must_name_its_scopes() {
    assert!(policy().default_scopes().is_empty());
    assert!(refused_on("scopes", parse(&json!({"name": "Zapier"}))).starts_with("is required"));
}
