use super::keys::limits;
use super::*;
use proptest::prelude::*;
use serde_json::json;

fn key() -> Value {
    json!({
        "id": "key_5C6oug3qxDqDYRHASGJgAo",
        "name": "Zapier",
        "hint": "kg_live_…IdkV",
        "workspace": "acme",
        "scopes": ["contacts:read", "email:send"],
        "status": "active",
        "environment": "live",
        "created_at": "2030-01-01T00:00:00Z",
        "expires_at": null,
        "revoked_at": null,
        "last_used_at": null,
        "limits": {"per_minute": 120, "per_day": 50000, "source": "policy"},
        "metadata": {"team": "growth"},
        "rejection_webhook": null
    })
}

#[test]
fn tables_align_columns_by_characters_without_trailing_spaces() {
    let text = table(
        &["A", "LONG HEADER", "C"],
        &[
            vec!["…x".into(), "b".into(), "".into()],
            vec!["wide cell".into(), "".into(), "z".into()],
        ],
    );
    assert_eq!(
        text,
        "A          LONG HEADER  C\n…x         b\nwide cell               z\n"
    );
}

#[test]
fn keys_table_has_the_documented_columns() {
    let mut used = key();
    used["id"] = json!("key_000000000000000000000B");
    used["name"] = json!("A name that is far too long for the table's name column");
    used["status"] = json!("revoked");
    used["last_used_at"] = json!("2030-01-02T03:04:05Z");
    used["scopes"] = json!([]);
    let text = keys_table(&[key(), used]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "ID",
            "NAME",
            "WORKSPACE",
            "STATUS",
            "HINT",
            "SCOPES",
            "LAST",
            "USED"
        ]
    );
    assert!(lines[1].starts_with("key_5C6oug3qxDqDYRHASGJgAo  Zapier "));
    assert!(lines[1].contains("  acme  "));
    assert!(lines[1].contains("kg_live_…IdkV  contacts:read,email:send  never"));
    assert!(lines[2].contains("A name that is far too long for…"));
    assert!(lines[2].contains("revoked"));
    assert!(lines[2].contains("kg_live_…IdkV  -    "));
    assert!(lines[2].ends_with("  2030-01-02T03:04:05Z"));
    // Every row starts its columns at the same character offsets.
    let column = |line: &str, needle: &str| {
        line.chars().count() - line[line.find(needle).unwrap()..].chars().count()
    };
    assert_eq!(column(lines[0], "STATUS"), column(lines[1], "active"));
    assert_eq!(column(lines[0], "STATUS"), column(lines[2], "revoked"));
}

#[test]
fn an_empty_list_says_so() {
    assert_eq!(keys_table(&[]), "no keys\n");
}

#[test]
fn details_show_every_field_and_usage() {
    let mut k = key();
    k["usage"] = json!({"last_24h": 3, "last_7d": 40, "last_30d": 100});
    k["future_field"] = json!("x");
    let text = key_details(&k);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id:                key_5C6oug3qxDqDYRHASGJgAo");
    for expected in [
        "name:              Zapier",
        "scopes:            contacts:read, email:send",
        "limits:            120/min, 50000/day (the policy's default)",
        "expires_at:        never",
        "revoked_at:        -",
        "last_used_at:      never",
        "metadata:          {\"team\":\"growth\"}",
        "rejection_webhook: -",
        "future_field:      x",
        "usage.last_24h:    3",
        "usage.last_7d:     40",
        "usage.last_30d:    100",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn details_survive_odd_answers() {
    let text = key_details(&json!({"limits": "?", "metadata": 3}));
    assert!(text.contains("id:"));
    assert!(text.contains("limits:            -"), "{text}");
    assert!(key_details(&json!([1])).contains("name:"));
}

#[test]
fn own_limits_say_so() {
    assert_eq!(
        limits(Some(
            &json!({"per_minute": 5, "per_day": 10, "source": "key"})
        )),
        "5/min, 10/day (the key's own)"
    );
}

#[test]
fn control_characters_cannot_reach_the_terminal() {
    assert_eq!(clean("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
    let mut k = key();
    k["name"] = json!("evil\u{1b}]0;title\u{7}");
    assert!(!keys_table(&[k.clone()]).contains('\u{1b}'));
    assert!(!key_details(&k).contains('\u{1b}'));
}

#[test]
fn a_created_secret_is_prominent_and_marked_once() {
    let mut body = key();
    body["key"] = json!("kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv");
    let text = with_secret(&body, Secret::Created);
    assert!(text.starts_with("Created key key_5C6oug3qxDqDYRHASGJgAo (Zapier).\n\n    kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv\n\n"));
    assert!(text.contains("shown once — store it now"));
    assert!(text.contains("id:                key_5C6oug3qxDqDYRHASGJgAo"));
    assert!(
        !text.contains("key:  "),
        "the secret is not repeated as a field"
    );
}

#[test]
fn a_rotation_says_until_when_the_old_secret_works() {
    let mut body = key();
    body["key"] = json!("kg_live_new");
    body["previous_key_valid_until"] = json!("2030-01-01T01:00:00Z");
    let text = with_secret(&body, Secret::Rotated);
    assert!(text.contains("\n    kg_live_new\n"));
    assert!(text.contains("The previous secret keeps working until 2030-01-01T01:00:00Z."));
    assert!(!text.contains("previous_key_valid_until:"));
}

#[test]
fn field_errors_are_one_per_line() {
    let body = json!({
        "type": "urn:keygate:problem:invalid_request", "title": "Bad Request", "status": 400,
        "code": "invalid_request", "detail": "2 fields are invalid; see `errors`",
        "request_id": "req_1",
        "errors": [{"field": "name", "message": "is required"},
                   {"field": "limits.per_minute", "message": "must be a whole number of at least 1"}]
    });
    assert_eq!(
        problem(&body, 400, None),
        "keygate: the gateway refused (400 invalid_request): 2 fields are invalid; see `errors`\n\
         \x20 name: is required\n\
         \x20 limits.per_minute: must be a whole number of at least 1\n\
         \x20 request_id: req_1\n"
    );
}

#[test]
fn unknown_scopes_list_the_unknown_and_the_valid() {
    let body = json!({
        "status": 400, "code": "unknown_scopes",
        "detail": "unknown scope(s): `contacts:admin`; see `valid_scopes`",
        "unknown_scopes": ["contacts:admin"],
        "valid_scopes": ["contacts:read", "contacts:write", "admin"],
        "request_id": "req_2"
    });
    let text = problem(&body, 400, None);
    assert!(
        text.contains("\n  unknown scopes: contacts:admin\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  valid scopes: contacts:read, contacts:write, admin\n"),
        "{text}"
    );
}

#[test]
fn retry_after_extra_fields_and_token_hints() {
    let limited =
        json!({"status": 429, "code": "rate_limited", "detail": "wait", "retry_after": 17});
    assert!(problem(&limited, 429, Some("17")).contains("  retry after: 17 s\n"));
    assert!(problem(&limited, 429, None).contains("  retry after: 17 s\n"));

    let beyond =
        json!({"status": 403, "code": "scope_exceeds_own", "detail": "no", "scope": "admin"});
    assert!(problem(&beyond, 403, None).contains("\n  scope: admin\n"));

    let token = json!({"status": 401, "code": "invalid_admin_token", "detail": "send it"});
    assert!(problem(&token, 401, None).contains("hint: the token from --token or $KEYGATE_TOKEN"));
}

#[test]
fn a_json_error_that_is_not_a_problem_still_reads() {
    let text = problem(&json!({"error": "boom"}), 500, None);
    assert!(
        text.starts_with("keygate: the gateway refused (500 -): (no detail)\n"),
        "{text}"
    );
    assert!(text.contains("  error: boom\n"));
}

#[test]
fn policy_summary_shows_settings_tables_and_scopes() {
    let policy = json!({
        "key_prefix": "kg",
        "limits": {"per_minute": 120, "per_day": 50000},
        "lifecycle": {"edit": true, "revoke": true, "reactivate": false, "rotate": true},
        "resources": [{"name": "contacts", "kind": "ladder", "levels": ["read", "write"], "group": null, "description": "People"}],
        "routes": [{"method": "GET", "path": "/v1/contacts", "resource": "contacts", "action": "read"}],
        "scopes": ["contacts:read", "contacts:write"],
        "groups": []
    });
    let text = policy_summary(&policy);
    assert!(text.contains("key_prefix: kg\n"), "{text}");
    assert!(text.contains("limits:     120/min, 50000/day\n"), "{text}");
    assert!(text.contains("reactivate: false"), "{text}");
    assert!(
        text.contains("contacts  ladder  read < write  -      People\n"),
        "{text}"
    );
    assert!(
        text.contains("GET     /v1/contacts  contacts  read\n"),
        "{text}"
    );
    assert!(
        text.ends_with("scopes (2):\n  contacts:read\n  contacts:write\n"),
        "{text}"
    );
}

#[test]
fn pretty_json_keeps_field_order_and_number_spelling() {
    let text = r#"{"z":1,"a":[],"m":{},"n":1.50,"s":"a,b:{\"c\"}","l":[1,{"x":null}]}"#;
    assert_eq!(
        pretty_json(text),
        "{\n  \"z\": 1,\n  \"a\": [],\n  \"m\": {},\n  \"n\": 1.50,\n  \"s\": \"a,b:{\\\"c\\\"}\",\n  \"l\": [\n    1,\n    {\n      \"x\": null\n    }\n  ]\n}"
    );
    assert_eq!(pretty_json(" [ ] "), "[]");
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[ -~\\\\\"\u{e9}\u{2014}\n\t]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z,:{}\" ]{0,5}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// For compact input, the re-indenter agrees exactly with serde_json's pretty printer.
    #[test]
    fn pretty_json_matches_serde_json(value in json_value()) {
        let compact = serde_json::to_string(&value).unwrap();
        prop_assert_eq!(pretty_json(&compact), serde_json::to_string_pretty(&value).unwrap());
        let spaced = serde_json::to_string_pretty(&value).unwrap();
        prop_assert_eq!(pretty_json(&spaced), serde_json::to_string_pretty(&value).unwrap());
    }
}

fn workspace() -> Value {
    json!({
        "id": "acme",
        "plan": "pro",
        "plan_source": "set",
        "api_access": true,
        "created_at": "2030-01-01T00:00:00Z",
        "plan_set_at": "2030-01-02T09:30:00Z"
    })
}

#[test]
fn workspaces_table_has_the_documented_columns() {
    let mut unplanned = workspace();
    unplanned["id"] = json!("no-plans");
    unplanned["plan"] = Value::Null;
    unplanned["plan_source"] = json!("default");
    unplanned["plan_set_at"] = Value::Null;
    let text = workspaces_table(&[workspace(), unplanned]);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec![
                "WORKSPACE",
                "PLAN",
                "SOURCE",
                "API",
                "ACCESS",
                "CREATED",
                "PLAN",
                "SET"
            ],
            vec![
                "acme",
                "pro",
                "set",
                "yes",
                "2030-01-01T00:00:00Z",
                "2030-01-02T09:30:00Z"
            ],
            vec![
                "no-plans",
                "-",
                "default",
                "yes",
                "2030-01-01T00:00:00Z",
                "never"
            ],
        ]
    );
    assert_eq!(workspaces_table(&[]), "no workspaces\n");
}

#[test]
fn workspace_details_show_new_fields_and_clean_odd_ones() {
    let mut odd = workspace();
    odd["id"] = json!("a\u{1b}[2J");
    odd["api_access"] = json!("maybe");
    odd["members"] = json!(3);
    let text = workspace_details(&odd);
    assert!(text.starts_with("id:          a\\u{1b}[2J\n"), "{text}");
    assert!(text.contains("\napi_access:  maybe\n"), "{text}");
    assert!(text.ends_with("\nmembers:     3\n"), "{text}");
    assert!(!text.contains("plan_source"), "said with the plan: {text}");
    // Nothing at all still reads as dashes, never a panic.
    let text = workspace_details(&json!([]));
    assert!(text.contains("plan:        -\n"), "{text}");
    assert!(text.contains("plan_set_at: never\n"), "{text}");
}

#[test]
fn plan_set_reads_odd_counts_defensively() {
    let mut body = workspace();
    body["keys_updated"] = json!("three");
    let text = plan_set(&body);
    assert!(
        text.starts_with("Workspace acme is on plan pro.\nkeys updated: three, pending: -\n\n"),
        "{text}"
    );
}

#[test]
fn a_plan_default_limit_says_so() {
    assert_eq!(
        limits(Some(
            &json!({"per_minute": 10, "per_day": 100, "source": "plan"})
        )),
        "10/min, 100/day (the plan's default)"
    );
}

#[test]
fn policy_summary_lists_the_plans_with_the_default_marked() {
    let policy = json!({
        "key_prefix": "kg",
        "scopes": ["contacts:read"],
        "default_plan": "free",
        "plans": [
            {"name": "free", "api_access": false, "resources": ["contacts"], "limits": {"per_minute": 120, "per_day": 50000}, "max_limits": null},
            {"name": "pro\u{1b}", "api_access": true, "resources": ["contacts", "email"], "limits": {"per_minute": 60, "per_day": 1000}, "max_limits": {"per_minute": 600, "per_day": 10000}}
        ]
    });
    let text = policy_summary(&policy);
    assert!(
        text.ends_with(
            "\nplans:\n  free (default): no API access\n  pro\\u{1b}: contacts email; 60/minute, 1000/day (at most 600/minute, 10000/day)\n"
        ),
        "{text}"
    );
    assert!(!text.contains("default_plan:"), "{text}");
    let no_plans = policy_summary(&json!({"scopes": [], "plans": [], "default_plan": null}));
    assert!(!no_plans.contains("plans"), "{no_plans}");
}

#[test]
fn who_did_something_is_shown_for_people() {
    for (by, shown) in [
        (json!(null), "-"),
        (json!({"type": "root"}), "root (the admin token)"),
        (json!({"type": "key", "id": "key_1"}), "key key_1"),
        (
            json!({"type": "key", "id": "key_1", "name": "Ops"}),
            "key Ops (key_1)",
        ),
        (
            json!({"type": "member", "id": "u_42", "name": "Ada\u{1b}[2J"}),
            "member Ada\\u{1b}[2J (u_42)",
        ),
        (json!({"type": "robot"}), "type: robot"),
    ] {
        assert_eq!(super::principal(Some(&by)), shown, "{by}");
    }
    let key = json!({"id": "key_1", "created_by": {"type": "member", "id": "u_42", "name": "Ada"}, "revoked_by": null});
    let details = super::key_details(&key);
    assert!(
        details.contains("created_by:        member Ada (u_42)\n"),
        "{details}"
    );
    assert!(details.contains("revoked_by:        -\n"), "{details}");
}
