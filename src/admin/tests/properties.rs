//! Properties over arbitrary bodies and queries.

use super::routes::METHODS;
use super::*;
use crate::workspace::MAX_WORKSPACE_CHARS;

// --- properties -----------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..100).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,30}".prop_map(Value::String),
        "[\\x00-\\x7f]{0,10}".prop_map(Value::String),
        prop::sample::select(vec![
            "contacts:read",
            "contacts:write-approval",
            "admin",
            "read:all",
            "nope:read",
            "live",
            "test",
            "acme",
            "2031-01-01T00:00:00Z",
            "2000-01-01T00:00:00Z",
            "2030-03-17T17:46:40Z",
            "https://hooks.example.com/r",
            "http://localhost:8787/r",
            "http://127.0.0.1.evil.com/",
            "https://10.0.0.1/r",
            "https://169.254.169.254/",
            "https://[::ffff:192.168.0.1]/",
            "https://0x7f.1/",
            "http://2130706433/",
            "https://localhost/r?t=1",
            "http://user@localhost/",
            "http://[::1]:",
            "http://:80",
            "https://:443",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("per_minute".to_string()),
                    Just("per_day".to_string()),
                    "[a-z_]{0,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn create_body() -> impl Strategy<Value = Map<String, Value>> {
    let field = prop_oneof![
        10 => prop::sample::select(CREATE_FIELDS).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ];
    prop::collection::btree_map(field, json_value(), 0..10)
        .prop_map(|fields| fields.into_iter().collect())
}

/// What every accepted body guarantees, whatever it looked like.
fn check_accepted(new_key: &NewKey, policy: &Policy, https_only: bool) {
    assert!(!new_key.name.is_empty() && new_key.name.chars().count() <= MAX_NAME_CHARS);
    assert_eq!(new_key.name, new_key.name.trim());
    assert!(!new_key.name.chars().any(char::is_control));
    assert!(!new_key.scopes.is_empty());
    assert!(policy.check_scopes(&new_key.scopes).is_ok());
    for (i, scope) in new_key.scopes.iter().enumerate() {
        assert!(!new_key.scopes[..i].contains(scope), "duplicate {scope}");
    }
    assert!(new_key
        .workspace
        .as_ref()
        .is_none_or(|w| (1..=MAX_WORKSPACE_CHARS).contains(&w.len())));
    assert!(new_key.expires_at.is_none_or(|at| at > NOW));
    if let Some(limits) = new_key.limits {
        assert!(limits.per_minute <= limits.per_day);
    }
    assert!(serde_json::to_string(&new_key.metadata).unwrap().len() <= MAX_METADATA_BYTES);
    if let Some(url) = &new_key.rejection_webhook {
        use crate::webhook::address::{receiver_host, ReceiverHost};
        assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
        assert!(!url.contains('@'));
        let host = receiver_host(url).expect("an accepted webhook parses");
        assert!(!matches!(host, ReceiverHost::Forbidden(_)), "{url}");
        assert!(!(https_only && host == ReceiverHost::Loopback), "{url}");
    }
}

proptest! {
    #[test]
    fn parse_create_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256), https_only in any::<bool>()) {
        let _ = parse_create(&body, &policy(), NOW, https_only);
    }

    #[test]
    fn parse_create_never_panics_on_near_json(body in "[{}\\[\\]\":,0-9a-z_ .\\-]{0,80}") {
        let _ = parse_create(body.as_bytes(), &policy(), NOW, true);
    }

    #[test]
    fn parse_create_never_panics_on_objects_of_known_fields(
        fields in create_body(),
        https_only in any::<bool>(),
    ) {
        let policy = policy();
        let body = serde_json::to_vec(&Value::Object(fields)).unwrap();
        match parse_create(&body, &policy, NOW, https_only) {
            Ok(new_key) => check_accepted(&new_key, &policy, https_only),
            Err(GatewayError::InvalidBody { errors }) => prop_assert!(!errors.is_empty()),
            Err(GatewayError::UnknownScopes { unknown, valid }) => {
                prop_assert!(!unknown.is_empty());
                prop_assert_eq!(valid, policy.valid_scopes());
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }

    #[test]
    fn mostly_valid_bodies_are_accepted_or_name_the_bad_field(
        name in "\\PC{0,130}",
        scopes in prop::collection::vec(prop::sample::select(vec!["contacts:read", "tags:write", "admin", "email:send-approval"]), 1..5),
        per_minute in 0u64..200,
        per_day in 0u64..200,
    ) {
        let body = json!({"name": name, "scopes": scopes, "limits": {"per_minute": per_minute, "per_day": per_day}});
        match parse(&body) {
            Ok(new_key) => {
                check_accepted(&new_key, &policy(), true);
                prop_assert_eq!(new_key.name, name.trim());
                prop_assert_eq!(new_key.limits, Some(Limits::new(per_minute, per_day).unwrap()));
            }
            Err(GatewayError::InvalidBody { errors }) => {
                for e in &errors {
                    prop_assert!(e.field == "name" || e.field == "limits", "{:?}", e);
                }
                prop_assert!(!errors.is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

fn edit_body() -> impl Strategy<Value = Map<String, Value>> {
    let field = prop_oneof![
        10 => prop::sample::select(EDIT_FIELDS).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ];
    prop::collection::btree_map(field, json_value(), 0..7)
        .prop_map(|fields| fields.into_iter().collect())
}

/// The method and path template an admin route is served at.
fn template_of(route: &AdminRoute) -> (&'static str, &'static str) {
    match route {
        AdminRoute::CreateKey => ("POST", "/keys"),
        AdminRoute::ListKeys => ("GET", "/keys"),
        AdminRoute::GetKey(_) => ("GET", "/keys/{id}"),
        AdminRoute::EditKey(_) => ("PATCH", "/keys/{id}"),
        AdminRoute::DeleteKey(_) => ("DELETE", "/keys/{id}"),
        AdminRoute::RevokeKey(_) => ("POST", "/keys/{id}/revoke"),
        AdminRoute::ActivateKey(_) => ("POST", "/keys/{id}/activate"),
        AdminRoute::RotateKey(_) => ("POST", "/keys/{id}/rotate"),
        AdminRoute::RotateWebhookSecret(_) => ("POST", "/keys/{id}/webhook-secret/rotate"),
        AdminRoute::ListApprovals => ("GET", "/approvals"),
        AdminRoute::GetApproval(_) => ("GET", "/approvals/{id}"),
        AdminRoute::Approve(_) => ("POST", "/approvals/{id}/approve"),
        AdminRoute::Reject(_) => ("POST", "/approvals/{id}/reject"),
        AdminRoute::Policy => ("GET", "/policy"),
        AdminRoute::ListWorkspaces => ("GET", "/workspaces"),
        AdminRoute::GetWorkspace(_) => ("GET", "/workspaces/{workspace}"),
        AdminRoute::SetPlan(_) => ("PUT", "/workspaces/{workspace}"),
        AdminRoute::MintSession => ("POST", "/portal/sessions"),
        AdminRoute::ListSessions => ("GET", "/portal/sessions"),
        AdminRoute::CurrentSession => ("GET", "/portal/sessions/current"),
        AdminRoute::EndCurrentSession => ("DELETE", "/portal/sessions/current"),
        AdminRoute::RevokeSession(_) => ("DELETE", "/portal/sessions/{id}"),
    }
}

proptest! {
    #[test]
    fn list_cursors_round_trip(
        // Creation times are milliseconds up to year 9999: 15 digits, the bound.
        created_at in 0..=999_999_999_999_999u64,
        random in any::<[u8; KEY_ID_RANDOM_BYTES]>(),
    ) {
        let cursor = Position { created_at, id: KeyId::generate(&random) };
        let text = cursor.encode();
        // Safe in a query string as is.
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'), "{}", text);
        prop_assert_eq!(Position::decode(&text), Some(cursor.clone()));
        let query = parse_list_query(Some(&format!("limit=3&cursor={text}"))).unwrap();
        prop_assert_eq!(query.cursor, Some(cursor));
    }

    #[test]
    fn decoding_any_text_never_panics_and_yields_only_real_cursors(text in "[A-Za-z0-9_\\-=+/. ]{0,64}") {
        if let Some(cursor) = Position::<KeyId>::decode(&text) {
            prop_assert!(KeyId::parse(cursor.id.as_str()).is_some());
            prop_assert_eq!(Position::decode(&cursor.encode()), Some(cursor));
        }
    }

    #[test]
    fn parse_edit_never_panics_and_accepts_only_real_changes(
        fields in edit_body(),
        https_only in any::<bool>(),
    ) {
        let policy = policy();
        let body = serde_json::to_vec(&Value::Object(fields)).unwrap();
        match parse_edit(&body, &policy, NOW, https_only) {
            Ok(edit) => {
                prop_assert!(edit != KeyEdit::default(), "an edit that names nothing");
                if let Some(name) = &edit.name {
                    prop_assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
                    prop_assert_eq!(name, name.trim());
                }
                if let Some(scopes) = &edit.scopes {
                    prop_assert!(!scopes.is_empty());
                    prop_assert!(policy.check_scopes(scopes).is_ok());
                }
                if let Some(Some(at)) = edit.expires_at {
                    prop_assert!(at > NOW);
                }
                if let Some(LimitsEdit::Set { per_minute: Some(m), per_day: Some(d) }) = edit.limits {
                    prop_assert!(m <= d);
                }
                if let Some(Some(url)) = &edit.rejection_webhook {
                    prop_assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
                }
            }
            Err(GatewayError::InvalidBody { errors }) => prop_assert!(!errors.is_empty()),
            Err(GatewayError::UnknownScopes { unknown, .. }) => prop_assert!(!unknown.is_empty()),
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }

    #[test]
    fn parse_rotate_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(grace_ms) = parse_rotate(&body) {
            prop_assert!(grace_ms % 1_000 == 0 && grace_ms <= MAX_GRACE_SECONDS * 1_000);
        }
    }

    #[test]
    fn parse_rotate_accepts_exactly_the_seconds_from_0_to_30_days(seconds in prop_oneof![any::<i64>(), -10i64..3_000_000]) {
        let body = format!(r#"{{"grace_seconds": {seconds}}}"#);
        let in_range = (0..=MAX_GRACE_SECONDS as i64).contains(&seconds);
        match parse_rotate(body.as_bytes()) {
            Ok(grace_ms) => {
                prop_assert!(in_range, "{} accepted", seconds);
                prop_assert_eq!(grace_ms, seconds as u64 * 1_000);
            }
            Err(_) => prop_assert!(!in_range, "{} refused", seconds),
        }
    }

    #[test]
    fn parse_list_query_never_panics(query in "[a-z=&%0-9A-Z_.\\-]{0,60}") {
        if let Ok(list) = parse_list_query(Some(&query)) {
            prop_assert!((1..=MAX_PAGE_SIZE).contains(&list.limit));
        }
    }

    #[test]
    fn admin_route_serves_only_listed_routes(
        method in prop::sample::select(METHODS.to_vec()),
        path in "(/(keys|policy|workspaces|portal|sessions|current|revoke|rotate|activate|webhook-secret|key_[A-Za-z0-9]{22}|ses_[A-Za-z0-9]{22}|[a-z_]{0,5})){0,5}",
    ) {
        match admin_route(method, &path) {
            Ok(route) => {
                let (served_method, template) = template_of(&route);
                prop_assert_eq!(served_method, method);
                prop_assert!(ADMIN_ROUTES.contains(&(method, template)));
                let id = match &route {
                    AdminRoute::GetKey(id) | AdminRoute::EditKey(id) | AdminRoute::DeleteKey(id)
                    | AdminRoute::RevokeKey(id) | AdminRoute::ActivateKey(id)
                    | AdminRoute::RotateKey(id) | AdminRoute::RotateWebhookSecret(id) => id.as_str(),
                    AdminRoute::RevokeSession(id) => id.as_str(),
                    _ => "",
                };
                let workspace = match &route {
                    AdminRoute::GetWorkspace(name) | AdminRoute::SetPlan(name) => name.as_str(),
                    _ => "",
                };
                prop_assert_eq!(template.replace("{id}", id).replace("{workspace}", workspace), path);
            }
            Err(GatewayError::NotFound) => {}
            Err(GatewayError::MethodNotAllowed { allowed }) => {
                prop_assert!(!allowed.split(", ").any(|m| m == method));
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}
