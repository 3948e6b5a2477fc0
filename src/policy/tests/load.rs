//! Loading: defaults, every table's fields and ranges, and the problems a refused file reports.

use super::*;
use crate::lease::{Enforcement, LeaseTime};
use crate::limits::Limits;
use crate::policy::{ApprovalSettings, LifecycleAction};
use crate::queue::QueueCaps;
use serde_json::json;

#[test]
fn empty_file_gets_the_defaults() {
    let policy = load("");
    assert_eq!(policy.key_prefix(), "kg");
    assert_eq!(policy.unmapped_route_status(), 404);
    assert_eq!(policy.default_limits(), Limits::new(120, 50_000).unwrap());
    assert!(policy.valid_scopes().is_empty());
    assert_eq!(policy.route("GET", "/"), None);
}

#[test]
fn top_level_settings_are_read() {
    let policy = load(
        r#"
        key_prefix = "tp9"
        unmapped_route_status = 403
        origin_reads_body_overrides = false
        [limits]
        per_minute = 10
        per_day = 1000
    "#,
    );
    assert_eq!(policy.key_prefix(), "tp9");
    assert_eq!(policy.unmapped_route_status(), 403);
    assert!(!policy.origin_reads_body_overrides());
    assert!(
        load("").origin_reads_body_overrides(),
        "assumed unless said"
    );
    assert_eq!(policy.default_limits(), Limits::new(10, 1000).unwrap());
}

#[test]
fn limits_fields_default_one_at_a_time() {
    let policy = load("[limits]\nper_minute = 5\n");
    assert_eq!(policy.default_limits(), Limits::new(5, 50_000).unwrap());
}

fn offered(policy: &Policy) -> Vec<&'static str> {
    LifecycleAction::ALL
        .into_iter()
        .filter(|action| policy.allows(*action))
        .map(LifecycleAction::as_str)
        .collect()
}

#[test]
fn approval_settings_default_to_a_week_a_mebibyte_and_a_day_of_retries() {
    let defaults = load("").approvals();
    assert_eq!(defaults, ApprovalSettings::default());
    assert_eq!(defaults.max_body_bytes, 1_048_576);
    assert_eq!(defaults.expire_after_ms, 7 * 24 * 3600 * 1000);
    assert_eq!(defaults.webhook_retry_ms, 24 * 3600 * 1000);
    let set = load(
        "[approvals]\nmax_body_bytes = 10\nexpire_after_seconds = 2\nwebhook_retry_seconds = 0\n",
    )
    .approvals();
    assert_eq!(
        set,
        ApprovalSettings {
            max_body_bytes: 10,
            expire_after_ms: 2_000,
            webhook_retry_ms: 0,
            ..ApprovalSettings::default()
        }
    );
    assert_eq!(
        load("[approvals]\nexpire_after_seconds = 60")
            .approvals()
            .max_body_bytes,
        1_048_576
    );
    assert_described(
        &load("[approvals]\nexpire_after_seconds = 60").describe(),
        &[
            ("/approvals/expire_after_seconds", json!(60)),
            ("/approvals/max_body_bytes", json!(1_048_576)),
        ],
    );
}

#[test]
fn queue_caps_and_retention_default_to_a_busy_minute_and_thirty_days() {
    let defaults = load("").approvals();
    assert_eq!(
        defaults.caps,
        QueueCaps {
            max_pending_per_key: 100,
            max_pending_per_workspace: 1_000,
            max_pending_bytes_per_workspace: 64 * 1024 * 1024,
        }
    );
    assert_eq!(defaults.retain_decided_ms, 30 * 24 * 3600 * 1000);
    let set = load(
        "[approvals]\nmax_body_bytes = 100\nmax_pending_per_key = 2\nmax_pending_per_workspace = 3\nmax_pending_bytes_per_workspace = 150\nretain_decided_seconds = 1\n",
    );
    assert_eq!(
        set.approvals().caps,
        QueueCaps {
            max_pending_per_key: 2,
            max_pending_per_workspace: 3,
            max_pending_bytes_per_workspace: 150,
        }
    );
    assert_eq!(set.approvals().retain_decided_ms, 1_000);
    assert_described(
        &set.describe(),
        &[
            ("/approvals/max_pending_per_key", json!(2)),
            ("/approvals/max_pending_per_workspace", json!(3)),
            ("/approvals/max_pending_bytes_per_workspace", json!(150)),
            ("/approvals/retain_decided_seconds", json!(1)),
        ],
    );
}

#[test]
fn queue_caps_and_retention_out_of_range_are_refused() {
    let message = refusal(
        "[approvals]\nmax_pending_per_key = 0\nmax_pending_per_workspace = 100001\nmax_pending_bytes_per_workspace = 1073741825\nretain_decided_seconds = 0\n",
    );
    for expected in [
        "approvals.max_pending_per_key: must be between 1 and 10000, got 0",
        "approvals.max_pending_per_workspace: must be between 1 and 100000, got 100001",
        "approvals.max_pending_bytes_per_workspace: must be between 1 and 1073741824, got 1073741825",
        "approvals.retain_decided_seconds: must be between 1 and 31536000, got 0",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
}

#[test]
fn approval_settings_out_of_range_are_all_reported() {
    let message = refusal(
        "[approvals]\nmax_body_bytes = 1048577\nexpire_after_seconds = 0\nwebhook_retry_seconds = -1\n",
    );
    for expected in [
        "approvals.max_body_bytes: must be between 1 and 1048576, got 1048577",
        "approvals.expire_after_seconds: must be between 1 and 2592000, got 0",
        "approvals.webhook_retry_seconds: must be between 0 and 604800, got -1",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
    let message = refusal("[approvals]\nmax_body = 10\n");
    assert!(message.contains("max_body"), "{message}");
}

#[test]
fn lifecycle_actions_are_named_as_the_fields() {
    let names: Vec<&str> = LifecycleAction::ALL.map(LifecycleAction::as_str).to_vec();
    assert_eq!(names, ["edit", "revoke", "reactivate", "rotate"]);
    assert_eq!(LifecycleAction::Reactivate.to_string(), "reactivate");
}

/// What a `[lifecycle]` text gives: the operations offered, or the refusal's text.
fn lifecycle_outcome(text: &str) -> Result<Vec<&'static str>, String> {
    Policy::from_toml(text)
        .map(|policy| offered(&policy))
        .map_err(|error| error.to_string())
}

#[test]
fn lifecycle_offers_everything_by_default() {
    let all = ["edit", "revoke", "reactivate", "rotate"];
    let cases: [(&str, &[&str]); 4] = [
        ("", &all),
        ("[lifecycle]", &all),
        // Each absent field defaults on its own.
        (
            "[lifecycle]\nrotate = false",
            &["edit", "revoke", "reactivate"],
        ),
        (
            "lifecycle = { edit = false }",
            &["revoke", "reactivate", "rotate"],
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(lifecycle_outcome(text), Ok(expected.to_vec()), "{text}");
    }
}

#[test]
fn lifecycle_fields_are_read() {
    let cases: [(&str, &[&str]); 3] = [
        (
            "[lifecycle]\nedit = false\nrevoke = true\nreactivate = false\nrotate = false\n",
            &["revoke"],
        ),
        (
            "[lifecycle]\nedit = false\nrevoke = false\nreactivate = false\nrotate = false\n",
            &[],
        ),
        (
            "[lifecycle]\nedit = true\nrevoke = true\nreactivate = true\nrotate = true\n",
            &["edit", "revoke", "reactivate", "rotate"],
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(lifecycle_outcome(text), Ok(expected.to_vec()), "{text}");
    }
}

#[test]
fn lifecycle_refuses_unknown_fields_with_line_and_the_known_ones() {
    let message = refusal("[lifecycle]\nedit = true\nrevocation = false\n");
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("unknown field `revocation`"), "{message}");
    assert!(
        message.contains("`edit`, `revoke`, `reactivate`, `rotate`"),
        "{message}"
    );
}

#[test]
fn lifecycle_values_must_be_booleans() {
    let cases = [
        (
            "edit = \"no\"",
            "lifecycle.edit: must be true or false, got the string \"no\"",
        ),
        (
            "revoke = \"false\"",
            "lifecycle.revoke: must be true or false, got the string \"false\"",
        ),
        (
            "reactivate = 0",
            "lifecycle.reactivate: must be true or false, got 0",
        ),
        (
            "rotate = 1.5",
            "lifecycle.rotate: must be true or false, got 1.5",
        ),
        (
            "rotate = [true]",
            "lifecycle.rotate: must be true or false, got an array",
        ),
        (
            "rotate = { on = true }",
            "lifecycle.rotate: must be true or false, got a table",
        ),
        (
            "rotate = 2026-01-01",
            "lifecycle.rotate: must be true or false, got a date-time",
        ),
    ];
    for (field, expected) in cases {
        assert_eq!(refusal(&format!("[lifecycle]\n{field}\n")), expected);
    }
}

#[test]
fn lifecycle_reports_every_bad_value_in_one_pass() {
    let message = refusal("[lifecycle]\nrotate = \"yes\"\nedit = 1\n");
    assert_eq!(
        message,
        "lifecycle.edit: must be true or false, got 1\nlifecycle.rotate: must be true or false, got the string \"yes\""
    );
}

#[test]
fn reactivate_needs_revoke() {
    let cases: [(&str, Result<Vec<&str>, &str>); 4] = [
        (
            "[lifecycle]\nrevoke = false\nreactivate = true\n",
            Err("lifecycle.reactivate: cannot be true when revoke = false: re-activation undoes a revoke, so there is nothing to re-activate"),
        ),
        // Left to its default, reactivate is true too: say so, and what to write.
        (
            "[lifecycle]\nrevoke = false\n",
            Err("lifecycle.reactivate: defaults to true, but revoke = false leaves nothing to re-activate; set reactivate = false"),
        ),
        (
            "[lifecycle]\nrevoke = false\nreactivate = false\n",
            Ok(vec!["edit", "rotate"]),
        ),
        // Revoking without re-activation is the common "a revoke is final" setting.
        (
            "[lifecycle]\nreactivate = false\n",
            Ok(vec!["edit", "revoke", "rotate"]),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            lifecycle_outcome(text),
            expected.map_err(str::to_string),
            "{text}"
        );
    }
}

#[test]
fn reactivate_is_not_judged_against_an_invalid_revoke() {
    assert_eq!(
        refusal("[lifecycle]\nrevoke = \"off\"\nreactivate = true\n"),
        "lifecycle.revoke: must be true or false, got the string \"off\""
    );
}

#[test]
fn syntax_errors_pass_through_with_line_and_column() {
    let message = refusal("key_prefix = \n");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn unknown_fields_are_refused_in_every_table() {
    for text in [
        "key_prefx = \"kg\"",
        "[limits]\nper_minutes = 1",
        "[[groups]]\nname = \"A\"\nadmin = true",
        "[[resources]]\nname = \"a1\"\nkind = \"ladder\"\ngroups = \"x\"",
        "[[routes]]\nmethod = \"GET\"\npath = \"/\"\nresource = \"a\"\naction = \"read\"\nscope = \"x\"",
        "[lifecycle]\ndisable = true",
        "[credentials]\nheaders = \"X-API-Key\"",
        "[cors]\norigins = [\"*\"]",
        "[problems]\nbase = \"https://x.example/\"",
        "[portal]\ncolor = \"#2563eb\"",
    ] {
        let message = refusal(text);
        assert!(message.contains("unknown field"), "{text}: {message}");
    }
}

#[test]
fn client_settings_are_off_by_default() {
    let policy = load("");
    assert_eq!(policy.credential_header(), None);
    assert_eq!(policy.cors(), None);
    assert_eq!(policy.problem_type_base(), None);
    assert_described(
        &policy.describe(),
        &[
            ("/credentials", json!({"header": null})),
            ("/cors", json!(null)),
            ("/problems", json!({"type_base": null})),
        ],
    );
}

#[test]
fn a_credential_header_is_a_plain_name_of_its_own() {
    for good in ["X-API-Key", "Api-Key", "apikey", "X-Auth-Token"] {
        let policy = load(&format!("[credentials]\nheader = {good:?}"));
        assert_eq!(policy.credential_header(), Some(good));
    }
    for bad in [
        "X_API_Key",
        "X API Key",
        "X-API-Key:",
        "-x",
        "x--y",
        "",
        "X.API.Key",
    ] {
        let message = refusal(&format!("[credentials]\nheader = {bad:?}"));
        assert!(
            message.starts_with("credentials.header: "),
            "{bad}: {message}"
        );
        assert!(message.contains("letters, digits"), "{bad}: {message}");
    }
    for taken in [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "Host",
        "Cookie",
        "Set-Cookie",
        "X-Keygate-Key",
        "X-Forwarded-For",
        "CF-Access-Token",
        "Content-Type",
        "Idempotency-Key",
        "X-HTTP-Method-Override",
        "Origin",
        "Access-Control-Request-Headers",
        "Sec-Fetch-Mode",
        "Accept",
        "If-Match",
    ] {
        let message = refusal(&format!("[credentials]\nheader = {taken:?}"));
        assert!(
            message.contains("already means something"),
            "{taken}: {message}"
        );
    }
    // The table may be left empty: no header.
    assert_eq!(load("[credentials]").credential_header(), None);
}

#[test]
fn the_cors_table_is_validated_and_described() {
    let policy = load(
        r#"
        [credentials]
        header = "X-API-Key"

        [cors]
        allowed_origins = ["https://app.example.com"]
        allowed_methods = ["GET", "DELETE"]
        allowed_headers = ["Idempotency-Key"]
        exposed_headers = ["ETag"]
        max_age_seconds = 3600
        "#,
    );
    let described = policy.describe();
    assert_described(
        &described,
        &[
            ("/cors/allowed_origins", json!(["https://app.example.com"])),
            ("/cors/allowed_methods", json!(["GET", "DELETE"])),
            ("/cors/max_age_seconds", json!(3600)),
        ],
    );
    let headers = described["cors"]["allowed_headers"].as_array().unwrap();
    for header in ["x-api-key", "idempotency-key"] {
        assert!(headers.contains(&json!(header)), "{header} in {headers:?}");
    }
    let message = refusal(
        r#"
        [cors]
        allowed_origins = ["https://app.example.com/", "*"]
        max_age_seconds = 100000
        "#,
    );
    assert_eq!(
        message,
        "cors.allowed_origins: \"*\" allows every origin, so it must be the only entry\n\
         cors.max_age_seconds: must be between 0 and 86400, got 100000"
    );
    assert!(refusal("[cors]").starts_with("cors.allowed_origins: must list at least one origin"));
}

#[test]
fn the_portal_table_is_validated_located_and_described() {
    let policy = load(
        r##"
        [portal]
        title = "Acme API keys"
        accent_color = "#7c3aed"
        billing_url = "/billing"
        frame_ancestors = ["https://app.acme.example"]
        "##,
    );
    assert_described(
        &policy.describe(),
        &[(
            "/portal",
            json!({
                "title": "Acme API keys", "accent_color": "#7c3aed", "logo_url": null,
                "billing_url": "/billing", "docs_url": null,
                "frame_ancestors": ["https://app.acme.example"],
            }),
        )],
    );
    assert_described(
        &load("").describe(),
        &[
            ("/portal/title", json!("API keys")),
            ("/portal/frame_ancestors", json!([])),
        ],
    );
    let message = refusal(
        r##"
        [portal]
        accent_color = "purple"
        frame_ancestors = ["'self'", "https://app.example.com; script-src *"]
        "##,
    );
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 2, "{message}");
    assert!(
        lines[0].starts_with("portal.accent_color: \"purple\" must be a colour as #rrggbb"),
        "{message}"
    );
    assert!(
        lines[1].starts_with("portal.frame_ancestors[1]: "),
        "{message}"
    );
}

#[test]
fn a_problem_type_base_is_an_absolute_url() {
    for good in [
        "https://docs.example.com/errors/",
        "https://docs.example.com/errors#",
        "http://localhost:8080/e?code=",
    ] {
        let policy = load(&format!("[problems]\ntype_base = {good:?}"));
        assert_eq!(policy.problem_type_base(), Some(good));
    }
    for bad in [
        "docs.example.com/errors/",
        "https://",
        "https:///errors",
        "https://docs.example.com/a b/",
        "https://docs.example.com/\"x",
        "ftp://docs.example.com/",
        &format!("https://docs.example.com/{}", "a".repeat(200)),
    ] {
        let message = refusal(&format!("[problems]\ntype_base = {bad:?}"));
        assert!(
            message.starts_with("problems.type_base: "),
            "{bad}: {message}"
        );
    }
}

#[test]
fn key_prefix_must_be_short_lowercase() {
    for bad in ["k", "KG", "1kg", "kg_", "abcdefghijk", ""] {
        let message = refusal(&format!("key_prefix = {bad:?}"));
        assert!(message.starts_with("key_prefix: "), "{message}");
    }
    for good in ["kg", "tp", "a123456789"] {
        assert_eq!(load(&format!("key_prefix = {good:?}")).key_prefix(), good);
    }
}

#[test]
fn unmapped_route_status_is_404_or_403() {
    let message = refusal("unmapped_route_status = 500");
    assert_eq!(
        message,
        "unmapped_route_status: must be 404 or 403, got 500"
    );
}

#[test]
fn coarse_scopes_must_be_known_and_listed_once() {
    let message = refusal(r#"coarse_scopes = ["read:all", "write:any", "read:all"]"#);
    for expected in [
        "coarse_scopes[1]: \"write:any\" is not a coarse scope",
        "coarse_scopes[2]: \"read:all\" is listed twice",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
}

#[test]
fn limits_reuse_the_limits_wording() {
    for (text, expected) in [
        (
            "[limits]\nper_minute = 500\nper_day = 100",
            "limits: per_minute (500) must not exceed per_day (100)",
        ),
        (
            "[limits]\nper_minute = 0",
            "limits: per_minute must be between 1 and 1000000, got 0",
        ),
        (
            "[limits]\nper_day = -3",
            "limits: per_day must be between 1 and 1000000000, got -3",
        ),
    ] {
        assert_eq!(refusal(text), expected, "{text}");
    }
}

#[test]
fn enforcement_is_exact_unless_lease_is_chosen_with_a_lease_of_one_second() {
    let policy = load("");
    assert_eq!(policy.enforcement(), Enforcement::Exact);
    assert_eq!(policy.lease_time(), LeaseTime::DEFAULT);
    let policy = load("[limits]\nenforcement = \"lease\"\nlease_seconds = 10\n");
    assert_eq!(policy.enforcement(), Enforcement::Lease);
    assert_eq!(policy.lease_time().ms(), 10_000);
    // The lease time is read in exact mode too: a key may choose lease mode itself.
    let policy = load("[limits]\nenforcement = \"exact\"\nlease_seconds = 3\n");
    assert_eq!(policy.enforcement(), Enforcement::Exact);
    assert_eq!(policy.lease_time().ms(), 3_000);
}

#[test]
fn enforcement_and_lease_seconds_out_of_range_are_refused_precisely() {
    for (text, expected) in [
        (
            "[limits]\nenforcement = \"fast\"",
            r#"limits.enforcement: must be "exact" or "lease", got "fast""#,
        ),
        (
            "[limits]\nlease_seconds = 0",
            "limits.lease_seconds: must be between 1 and 10, got 0",
        ),
        (
            "[limits]\nlease_seconds = 11",
            "limits.lease_seconds: must be between 1 and 10, got 11",
        ),
        (
            "[limits]\nlease_seconds = -1",
            "limits.lease_seconds: must be between 1 and 10, got -1",
        ),
    ] {
        assert_eq!(refusal(text), expected, "{text}");
    }
    // Not a string at all: the parser's own message, at its place.
    let refused = refusal("[limits]\nenforcement = true");
    assert!(refused.contains("line 2, column 15"), "{refused}");
    assert!(refused.contains("expected a string"), "{refused}");
}

#[test]
fn groups_must_be_named_once() {
    let message =
        refusal("[[groups]]\nname = \"A\"\n[[groups]]\nname = \"A\"\n[[groups]]\nname = \" \"");
    for expected in [
        "groups[1].name: \"A\" is declared twice",
        "groups[2].name: ",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
}

#[test]
fn resource_names_follow_the_pattern_are_unique_and_not_reserved() {
    let message = refusal(
        r#"
        [[resources]]
        name = "contacts"
        kind = "ladder"
        [[resources]]
        name = "contacts"
        kind = "ladder"
        [[resources]]
        name = "Contacts"
        kind = "ladder"
        [[resources]]
        name = "admin"
        kind = "ladder"
        [[resources]]
        name = "a23456789012345678901234567890123456789012"
        kind = "ladder"
    "#,
    );
    for expected in [
        "resources[1].name: \"contacts\" is declared twice",
        "resources[2].name: \"Contacts\"",
        "resources[3].name: \"admin\" is reserved",
        "resources[4].name: ",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
    assert_eq!(message.lines().count(), 4, "{message}");
}

#[test]
fn resource_kind_and_group_must_exist() {
    let message = refusal(
        r#"
        [[groups]]
        name = "Admin only"
        [[resources]]
        name = "contacts"
        kind = "ladders"
        group = "Admins"
    "#,
    );
    for expected in [
        "resources[0].kind: \"ladders\" is not a kind (kinds: ladder, communication, ai, read_write, independent, read_only)",
        "resources[0].group: \"Admins\" is not a declared group (groups: \"Admin only\")",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
}

#[test]
fn route_action_must_be_supported_by_the_kind() {
    for (path, resource, action, expected) in [
        (
            "/v1/contacts",
            "contacts",
            "send",
            "routes[0].action: \"send\" is not an action of resource \"contacts\" (kind ladder supports: read, write, delete)",
        ),
        (
            "/v1/analytics",
            "analytics",
            "write",
            "routes[0].action: \"write\" is not an action of resource \"analytics\" (kind read_only supports: read)",
        ),
    ] {
        assert_eq!(
            refusal(&with_route("POST", path, resource, action)),
            expected,
            "{resource}:{action}"
        );
    }
    let message = refusal(&with_route("POST", "/v1/contacts", "contacts", "frob"));
    assert!(
        message.starts_with("routes[0].action: \"frob\""),
        "{message}"
    );
}

#[test]
fn route_resource_must_be_declared() {
    let message = refusal(&with_route("GET", "/v1/contact", "contact", "read"));
    assert!(
        message.starts_with("routes[0].resource: \"contact\" is not a declared resource (resources: contacts, email,"),
        "{message}"
    );
    // The action cannot be checked against an unknown resource, only against the list.
    let message = refusal(&with_route("GET", "/v1/contact", "contact", "fetch"));
    assert!(
        message.contains("routes[0].action: \"fetch\" is not an action (actions: read, write, delete, send, use)"),
        "{message}"
    );
}

#[test]
fn duplicate_routes_are_refused_even_with_other_param_names() {
    let text = format!(
        "{}\n[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{{contact}}\"\nresource = \"contacts\"\naction = \"write\"\n",
        with_route("GET", "/v1/contacts/{id}", "contacts", "read")
    );
    assert_eq!(
        refusal(&text),
        "routes[1]: GET \"/v1/contacts/{contact}\" duplicates routes[0] (same method and path pattern)"
    );
    // Same path, different method: fine.
    let text = format!(
        "{}\n[[routes]]\nmethod = \"*\"\npath = \"/v1/contacts/{{id}}\"\nresource = \"contacts\"\naction = \"write\"\n",
        with_route("GET", "/v1/contacts/{id}", "contacts", "read")
    );
    load(&text);
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let message = refusal(
        r#"
        key_prefix = "X"
        unmapped_route_status = 200
        [lifecycle]
        revoke = false
        rotate = "no"
        [[resources]]
        name = "contacts"
        kind = "lader"
        [[routes]]
        method = "get"
        path = "nope"
        resource = "contacts"
        action = "read"
    "#,
    );
    let locations: Vec<&str> = message
        .lines()
        .filter_map(|line| line.split(':').next())
        .collect();
    assert_eq!(
        locations,
        [
            "key_prefix",
            "unmapped_route_status",
            "lifecycle.reactivate",
            "lifecycle.rotate",
            "resources[0].kind",
            "routes[0].method",
            "routes[0].path",
            "routes[0].resource"
        ]
    );
    match Policy::from_toml("key_prefix = \"X\"") {
        Err(error) => assert_eq!(error.problems().len(), 1),
        Ok(_) => panic!("should be refused"),
    }
}

#[test]
fn nesting_deeper_than_the_bound_is_refused_before_toml_recurses_into_it() {
    let deep = crate::policy::syntax::tests::deep_inline_tables();
    // Under a field read as any TOML value, toml's deserialiser would recurse into all of it.
    let in_lifecycle = format!("[lifecycle]\nedit = {{ {deep} }}\n");
    for (name, text, line) in [
        ("top level", deep.as_str(), 1),
        ("lifecycle.edit", &in_lifecycle, 2),
    ] {
        // A small stack: the refusal must come without deep recursion.
        let text = text.to_string();
        let outcome = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let loaded = Policy::from_toml(&text)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let checked = match crate::policy::lint::check(&text) {
                    crate::policy::lint::Checked::Refused(refusals) => {
                        refusals.iter().map(ToString::to_string).collect()
                    }
                    crate::policy::lint::Checked::Loaded { .. } => Vec::new(),
                };
                (loaded, checked)
            })
            .unwrap()
            .join()
            .unwrap();
        let (loaded, checked) = outcome;
        let message = loaded.expect_err(name);
        assert!(
            message.starts_with(&format!("TOML parse error at line {line}, column "))
                && message.ends_with("\ntables, arrays and dotted keys nest deeper than 32 levels"),
            "{name}: {message}"
        );
        assert_eq!(checked.len(), 1, "{name}: {checked:?}");
        assert!(
            checked[0].starts_with(&format!("line {line}, column ")),
            "{name}: {checked:?}"
        );
    }
}
