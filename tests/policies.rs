//! The shipped policy files, one test per seed model, plus property tests of the scope engine.
//!
//! Black-box: only `keygate::policy`'s public API, on the files exactly as they ship.

use keygate::policy::lint::{check, Checked};
use keygate::policy::{compile, Access, Action, LifecycleAction, Plan, Policy, RouteTarget};
use proptest::prelude::*;
use std::collections::BTreeSet;

const DEMO: &str = include_str!("../policies/demo.toml");
const SEED_000_LADDERS: &str = include_str!("../policies/seed-000-ladders.toml");
const SEED_001_SIMPLE: &str = include_str!("../policies/seed-001-simple.toml");
const SEED_002_READ_WRITE: &str = include_str!("../policies/seed-002-read-write.toml");
const SEED_003_MODULES: &str = include_str!("../policies/seed-003-modules.toml");
const SEED_004_COARSE: &str = include_str!("../policies/seed-004-coarse.toml");

const SHIPPED: [(&str, &str); 6] = [
    ("demo.toml", DEMO),
    ("seed-000-ladders.toml", SEED_000_LADDERS),
    ("seed-001-simple.toml", SEED_001_SIMPLE),
    ("seed-002-read-write.toml", SEED_002_READ_WRITE),
    ("seed-003-modules.toml", SEED_003_MODULES),
    ("seed-004-coarse.toml", SEED_004_COARSE),
];

fn load(name: &str, text: &str) -> Policy {
    match Policy::from_toml(text) {
        Ok(policy) => policy,
        Err(error) => panic!("{name} should load:\n{error}"),
    }
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Denied, naming `scope`, and the approval level that would queue the request exactly
/// when the policy offers `<scope>-approval`.
fn denied(policy: &Policy, scope: &str) -> Access {
    let approval = format!("{scope}-approval");
    Access::Denied {
        required_scope: scope.to_string(),
        approval_scope: policy
            .valid_scopes()
            .contains(&approval)
            .then_some(approval),
    }
}

/// What a key holding `held` gets for `method path`; panics if the route is unmapped.
fn access(policy: &Policy, held: &[&str], method: &str, path: &str) -> Access {
    match policy.route(method, path) {
        Some(target) => policy.decide(&scopes(held), &target),
        None => panic!("{method} {path} should be mapped"),
    }
}

/// The optional key-lifecycle operations a policy offers, in `LifecycleAction::ALL` order.
fn lifecycle(policy: &Policy) -> Vec<&'static str> {
    LifecycleAction::ALL
        .into_iter()
        .filter(|action| policy.allows(*action))
        .map(LifecycleAction::as_str)
        .collect()
}

fn on(resource: &str, action: Action) -> RouteTarget {
    RouteTarget {
        resource: resource.to_string(),
        action,
    }
}

/// A request path that the pattern matches: `{x}` becomes a value, a final `*` nothing.
fn example_path(pattern: &str) -> String {
    let segments: Vec<String> = pattern
        .split('/')
        .filter(|segment| *segment != "*")
        .map(|segment| {
            if segment.starts_with('{') {
                "x1".to_string()
            } else {
                segment.to_string()
            }
        })
        .collect();
    let path = segments.join("/");
    if path.is_empty() {
        "/".to_string()
    } else {
        path
    }
}

// ----- every shipped file -------------------------------------------------------------

#[test]
fn every_shipped_policy_loads_and_its_routes_are_consistent() {
    for (name, text) in SHIPPED {
        let policy = load(name, text);
        let body = policy.describe();
        let resources = body["resources"].as_array().cloned().unwrap_or_default();
        let routes = body["routes"].as_array().cloned().unwrap_or_default();
        assert!(!routes.is_empty(), "{name} has routes");
        for route in &routes {
            let resource = resources
                .iter()
                .find(|r| r["name"] == route["resource"])
                .unwrap_or_else(|| panic!("{name}: {route} names a declared resource"));
            let actions = resource["actions"].as_array().cloned().unwrap_or_default();
            assert!(
                actions.contains(&route["action"]),
                "{name}: {route} names an action its resource supports"
            );
            // Every route is reachable: its example path is mapped (possibly by an earlier
            // route, which is fine; a route shadowed entirely would be a policy mistake).
            let method = route["method"].as_str().unwrap_or_default();
            let method = if method == "*" { "POST" } else { method };
            let path = example_path(route["path"].as_str().unwrap_or_default());
            let target = policy
                .route(method, &path)
                .unwrap_or_else(|| panic!("{name}: {method} {path} is mapped"));
            assert_eq!(
                target.resource, route["resource"],
                "{name}: {method} {path}"
            );
            assert_eq!(
                target.action.as_str(),
                route["action"],
                "{name}: {method} {path}"
            );
        }
        let described: Vec<String> = body["scopes"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(described, policy.valid_scopes(), "{name}");
        assert_eq!(
            policy.check_scopes(&policy.valid_scopes()),
            Ok(()),
            "{name}"
        );
        // describe() shows exactly what allows() answers.
        for action in LifecycleAction::ALL {
            assert_eq!(
                body["lifecycle"][action.as_str()],
                serde_json::json!(policy.allows(action)),
                "{name}: lifecycle.{action}"
            );
        }
        // `admin`, where offered, may do every route without approval.
        if policy.valid_scopes().iter().any(|s| s == "admin") {
            for route in &routes {
                let target = on(
                    route["resource"].as_str().unwrap_or_default(),
                    Action::from_name(route["action"].as_str().unwrap_or_default())
                        .unwrap_or(Action::Read),
                );
                assert_eq!(
                    policy.decide(&scopes(&["admin"]), &target),
                    Access::Allowed,
                    "{name}: admin on {route}"
                );
            }
        }
    }
}

/// `keygate policy check` finds nothing in any shipped policy: no route is shadowed, no
/// foreign parameter spelling, no refused method or path.
#[test]
fn every_shipped_policy_passes_policy_check_without_findings() {
    for (name, text) in SHIPPED {
        match check(text) {
            Checked::Loaded { findings, .. } => assert_eq!(findings, [], "{name}"),
            Checked::Refused(refusals) => panic!("{name}: {refusals:?}"),
        }
    }
}

#[test]
fn nothing_unmapped_reaches_the_origin() {
    for (name, text) in SHIPPED {
        let policy = load(name, text);
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/admin"),
            ("GET", "/_keygate/v1/keys"),
            ("GET", "/v2/contacts"),
            ("GET", "/v1/contacts/../settings"),
        ] {
            assert_eq!(policy.route(method, path), None, "{name}: {method} {path}");
        }
        assert_eq!(policy.unmapped_route_status(), 404, "{name}");
    }
}

// ----- demo.toml ----------------------------------------------------------------------

#[test]
fn demo_routes_resolve_as_the_readme_claims() {
    let policy = load("demo.toml", DEMO);
    let expected = [
        ("GET", "/v1/contacts", "contacts", Action::Read),
        ("HEAD", "/v1/contacts", "contacts", Action::Read),
        ("GET", "/v1/contacts/42", "contacts", Action::Read),
        ("POST", "/v1/contacts", "contacts", Action::Write),
        ("PATCH", "/v1/contacts/42", "contacts", Action::Write),
        ("DELETE", "/v1/contacts/42", "contacts", Action::Delete),
        ("GET", "/v1/email", "email", Action::Read),
        ("POST", "/v1/email/send", "email", Action::Send),
        ("POST", "/v1/ai/complete", "ai", Action::Use),
        ("GET", "/v1/tags", "tags", Action::Read),
        ("POST", "/v1/tags", "tags", Action::Write),
        ("DELETE", "/v1/tags/urgent", "tags", Action::Write),
        ("GET", "/v1/documents/7", "documents", Action::Read),
        ("POST", "/v1/documents", "documents", Action::Write),
        ("GET", "/v1/analytics", "analytics", Action::Read),
        ("GET", "/v1/analytics/daily", "analytics", Action::Read),
        (
            "GET",
            "/v1/analytics/daily/2026-06-01",
            "analytics",
            Action::Read,
        ),
        ("GET", "/v1/settings", "settings", Action::Read),
        ("PATCH", "/v1/settings", "settings", Action::Write),
    ];
    for (method, path, resource, action) in expected {
        assert_eq!(
            policy.route(method, path),
            Some(on(resource, action)),
            "{method} {path}"
        );
    }
    for (method, path) in [
        ("GET", "/v1/contacts/"),
        ("PUT", "/v1/contacts/42"),
        ("DELETE", "/v1/contacts"),
        ("GET", "/v1/email/send"),
        ("POST", "/v1/analytics/daily"),
        ("GET", "/v1/unknown"),
    ] {
        assert_eq!(policy.route(method, path), None, "{method} {path}");
    }
    assert_eq!(policy.key_prefix(), "kg");
    assert_eq!(policy.default_limits().per_minute.get(), 120);
    assert_eq!(policy.default_limits().per_day.get(), 50_000);
}

#[test]
fn demo_shows_each_kind() {
    let policy = load("demo.toml", DEMO);
    assert_eq!(
        access(
            &policy,
            &["contacts:write-approval"],
            "POST",
            "/v1/contacts"
        ),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &["email:send-approval"], "POST", "/v1/email/send"),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &["ai:use"], "POST", "/v1/ai/complete"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &["tags:write"], "GET", "/v1/tags"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &["documents:write"], "GET", "/v1/documents/7"),
        denied(&policy, "documents:read")
    );
    assert_eq!(
        access(&policy, &["write:all"], "PATCH", "/v1/settings"),
        denied(&policy, "settings:write")
    );
    assert_eq!(
        access(&policy, &["read:all"], "GET", "/v1/analytics/x"),
        Access::Allowed
    );
    let error = policy
        .check_scopes(&scopes(&["analytics:write"]))
        .unwrap_err();
    assert!(error.to_string().contains("valid scopes: contacts:read,"));
}

#[test]
fn demo_writes_out_the_lifecycle_defaults() {
    let policy = load("demo.toml", DEMO);
    assert!(
        DEMO.contains("\n[lifecycle]\n"),
        "the table is shown, not left implicit"
    );
    assert_eq!(
        lifecycle(&policy),
        ["edit", "revoke", "reactivate", "rotate"]
    );
    assert_eq!(lifecycle(&policy), lifecycle(&load("empty", "")));
}

// ----- seed 000: ladders with approval levels -----------------------------------------

#[test]
fn seed_000_ladders_with_approval_levels() {
    let policy = load("seed 000", SEED_000_LADDERS);
    let agent = ["contacts:write-approval"];
    assert_eq!(
        access(&policy, &agent, "GET", "/v1/contacts/1"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &agent, "POST", "/v1/contacts"),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &agent, "PATCH", "/v1/contacts/1"),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &agent, "DELETE", "/v1/contacts/1"),
        denied(&policy, "contacts:delete")
    );
    // The ladder is per resource.
    assert_eq!(
        access(&policy, &agent, "GET", "/v1/deals"),
        denied(&policy, "deals:read")
    );

    let careful = ["contacts:delete-approval"];
    assert_eq!(
        access(&policy, &careful, "POST", "/v1/contacts"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &careful, "DELETE", "/v1/contacts/1"),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &["contacts:delete"], "DELETE", "/v1/contacts/1"),
        Access::Allowed
    );
}

#[test]
fn seed_000_communication_and_ai_ladders() {
    let policy = load("seed 000", SEED_000_LADDERS);
    for resource in ["email", "sms"] {
        let key = [format!("{resource}:send-approval")];
        let key: Vec<&str> = key.iter().map(String::as_str).collect();
        let send = format!("/v1/{resource}/send");
        assert_eq!(access(&policy, &key, "POST", &send), Access::NeedsApproval);
        assert_eq!(
            access(&policy, &key, "GET", &format!("/v1/{resource}")),
            Access::Allowed
        );
    }
    assert_eq!(
        access(&policy, &["calls:send-approval"], "POST", "/v1/calls"),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &["email:read"], "POST", "/v1/email/send"),
        denied(&policy, "email:send")
    );
    assert_eq!(
        access(&policy, &["email:send"], "POST", "/v1/email/send"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &["ai:use-approval"], "POST", "/v1/ai/draft"),
        Access::NeedsApproval
    );
    assert_eq!(
        access(&policy, &["ai:use"], "POST", "/v1/ai/summarise/long"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &["contacts:delete"], "POST", "/v1/ai/draft"),
        denied(&policy, "ai:use")
    );
}

#[test]
fn seed_000_full_access_reaches_admin_only_and_defaults_match() {
    let policy = load("seed 000", SEED_000_LADDERS);
    for (method, path) in [
        ("DELETE", "/v1/contacts/1"),
        ("POST", "/v1/email/send"),
        ("POST", "/v1/calls"),
        ("POST", "/v1/ai/draft"),
        ("PATCH", "/v1/settings/company"),
        ("PATCH", "/v1/billing"),
        ("DELETE", "/v1/users/9"),
        ("DELETE", "/v1/integrations/3"),
    ] {
        assert_eq!(
            access(&policy, &["admin"], method, path),
            Access::Allowed,
            "{method} {path}"
        );
    }
    for target in [
        on("api_keys", Action::Delete),
        on("approvals", Action::Write),
    ] {
        assert_eq!(policy.decide(&scopes(&["admin"]), &target), Access::Allowed);
    }
    // The preset is `admin`; broad read/write presets are not offered here.
    assert!(policy.check_scopes(&scopes(&["read:all"])).is_err());
    let body = policy.describe();
    let admin_only: BTreeSet<&str> = body["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["group"] == "Admin only")
        .filter_map(|r| r["name"].as_str())
        .collect();
    for name in ["company_settings", "billing", "users", "integrations"] {
        assert!(admin_only.contains(name), "{name} is Admin only");
    }
    assert_eq!(policy.default_limits().per_minute.get(), 120);
    assert_eq!(policy.default_limits().per_day.get(), 50_000);
}

#[test]
fn seed_000_keys_can_be_edited_revoked_reactivated_and_rotated() {
    // "Edit a key", "Revoke a key", "re-activate it at any time by clicking Activate",
    // "revoke or rotate keys".
    let policy = load("seed 000", SEED_000_LADDERS);
    assert_eq!(
        lifecycle(&policy),
        ["edit", "revoke", "reactivate", "rotate"]
    );
}

#[test]
fn seed_000_api_access_requires_the_pro_plan() {
    let policy = load("seed 000", SEED_000_LADDERS);
    let names: Vec<&str> = policy.plans().iter().map(Plan::name).collect();
    assert_eq!(names, ["free", "pro"]);
    // Every workspace starts on Free, which has no API access.
    let free = policy.plan_for(None).expect("a default plan");
    assert_eq!(free.name(), "free");
    assert!(!free.api_access());
    assert_eq!(policy.plan_for(Some("free")), Some(free));
    // A refusal names Pro, whatever the request needs.
    for resource in [None, Some("contacts"), Some("email"), Some("billing")] {
        assert_eq!(
            policy.plan_needed(resource).map(Plan::name),
            Some("pro"),
            "{resource:?}"
        );
    }
    // Pro offers every resource at the page's limits.
    let pro = policy.plan_for(Some("pro")).expect("pro");
    assert!(pro.api_access());
    assert!(policy
        .scopes_not_in_plan(&policy.valid_scopes(), pro)
        .is_empty());
    assert_eq!(pro.default_limits(), policy.default_limits());
    assert_eq!(pro.max_limits(), None);
    // A plan the policy no longer has falls back to Free.
    assert_eq!(policy.plan_for(Some("business")), Some(free));
}

// ----- seed 001: simple keys -----------------------------------------------------------

#[test]
fn seed_001_one_scope_opens_the_api_and_key_manage_is_separate() {
    let policy = load("seed 001", SEED_001_SIMPLE);
    let integration = ["api:write"];
    for (method, path) in [
        ("GET", "/v1/orders"),
        ("HEAD", "/v1/orders/1"),
        ("POST", "/v1/orders"),
        ("DELETE", "/v1/orders/1"),
        ("PUT", "/v1/a/b/c"),
    ] {
        assert_eq!(
            access(&policy, &integration, method, path),
            Access::Allowed,
            "{method} {path}"
        );
    }
    assert_eq!(
        access(&policy, &["api:read"], "POST", "/v1/orders"),
        denied(&policy, "api:write")
    );
    // Keys never manage keys: "Key: Manage" is a member's `keys:manage` session permission,
    // so the policy offers no api_keys scope and no key gets anything from the admin API.
    assert_eq!(policy.valid_scopes(), ["api:read", "api:write"]);
    assert!(policy.check_scopes(&scopes(&["api_keys:delete"])).is_err());
    for action in [Action::Read, Action::Write, Action::Delete] {
        assert_eq!(
            policy.decide(&scopes(&integration), &on("api_keys", action)),
            denied(&policy, &format!("api_keys:{}", action.as_str()))
        );
    }
    assert_eq!(policy.route("GET", "/v2/orders"), None);
}

#[test]
fn seed_001_a_name_is_all_a_key_needs() {
    // "Enter a descriptive name for the key ... Click Create": the key gets api:write.
    let policy = load("seed 001", SEED_001_SIMPLE);
    assert_eq!(policy.default_scopes(), ["api:write"]);
    assert_eq!(
        access(&policy, &["api:write"], "DELETE", "/v1/orders/1"),
        Access::Allowed
    );
    // No plans: nothing about the workspace is checked.
    assert!(policy.plans().is_empty());
    assert_eq!(policy.plan_for(Some("pro")), None);
}

#[test]
fn seed_001_keys_are_only_created_listed_and_deleted() {
    // "Create, view, and delete API keys"; to rotate, "delete it and create a new one".
    let policy = load("seed 001", SEED_001_SIMPLE);
    assert_eq!(lifecycle(&policy), Vec::<&str>::new());
    assert_eq!(
        policy.describe()["lifecycle"],
        serde_json::json!({"edit": false, "revoke": false, "reactivate": false, "rotate": false})
    );
}

// ----- seed 002: independent read and write --------------------------------------------

#[test]
fn seed_002_write_does_not_imply_read() {
    let policy = load("seed 002", SEED_002_READ_WRITE);
    let writer = ["calls:write"];
    assert_eq!(
        access(&policy, &writer, "POST", "/v1/calls"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &writer, "PATCH", "/v1/calls/1"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &writer, "DELETE", "/v1/calls/1"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &writer, "GET", "/v1/calls"),
        denied(&policy, "calls:read")
    );
    assert_eq!(
        access(&policy, &writer, "GET", "/v1/calls/1"),
        denied(&policy, "calls:read")
    );

    let reader = ["knowledge_base:read"];
    assert_eq!(
        access(&policy, &reader, "GET", "/v1/knowledge-base/1"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &reader, "POST", "/v1/knowledge-base"),
        denied(&policy, "knowledge_base:write")
    );

    let both = ["leads:read", "leads:write"];
    assert_eq!(access(&policy, &both, "GET", "/v1/leads"), Access::Allowed);
    assert_eq!(
        access(&policy, &both, "DELETE", "/v1/leads/1"),
        Access::Allowed
    );

    for resource in [
        "calls",
        "leads",
        "agents",
        "contacts",
        "knowledge_base",
        "integrations",
    ] {
        let body = policy.describe();
        let kind = body["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["name"] == resource)
            .map(|r| r["kind"].clone());
        assert_eq!(kind, Some(serde_json::json!("independent")), "{resource}");
    }
}

#[test]
fn seed_002_analytics_is_read_only() {
    let policy = load("seed 002", SEED_002_READ_WRITE);
    assert_eq!(
        access(
            &policy,
            &["analytics:read"],
            "GET",
            "/v1/analytics/calls/daily"
        ),
        Access::Allowed
    );
    assert_eq!(policy.route("POST", "/v1/analytics"), None);
    let error = policy
        .check_scopes(&scopes(&["analytics:read", "analytics:write"]))
        .unwrap_err();
    assert_eq!(error.unknown, scopes(&["analytics:write"]));
    assert!(error.valid.contains(&"analytics:read".to_string()));
    assert!(error.valid.contains(&"calls:write".to_string()));
    assert!(
        error.to_string().starts_with(
            "unknown scope(s) \"analytics:write\"; valid scopes: calls:read, calls:write,"
        ),
        "{error}"
    );
    // No coarse scopes in this product.
    assert!(policy.check_scopes(&scopes(&["admin"])).is_err());
}

#[test]
fn seed_002_a_revoke_is_final() {
    // "Revoked keys appear in the Revoked / Expired section ... and cannot be reactivated."
    let policy = load("seed 002", SEED_002_READ_WRITE);
    assert!(policy.allows(LifecycleAction::Revoke));
    assert!(!policy.allows(LifecycleAction::Reactivate));
    assert_eq!(lifecycle(&policy), ["edit", "revoke", "rotate"]);
}

// ----- seed 003: read-only or read/write per module ------------------------------------

#[test]
fn seed_003_read_write_includes_read() {
    let policy = load("seed 003", SEED_003_MODULES);
    let key = ["documents:write"];
    assert_eq!(
        access(&policy, &key, "POST", "/v1/documents"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &key, "GET", "/v1/documents/5"),
        Access::Allowed
    );
    let key = ["cases:read"];
    assert_eq!(access(&policy, &key, "GET", "/v1/cases/5"), Access::Allowed);
    assert_eq!(
        access(&policy, &key, "POST", "/v1/cases/5/comments"),
        denied(&policy, "cases:write")
    );
    assert_eq!(
        access(&policy, &["cases:write"], "PUT", "/v1/cases/5/override"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &["payment_check:write"], "GET", "/v1/vendor-pairs"),
        denied(&policy, "company_account_audit:read")
    );
}

#[test]
fn seed_003_users_and_paid_payment_have_no_write() {
    let policy = load("seed 003", SEED_003_MODULES);
    assert_eq!(
        access(&policy, &["users:read"], "GET", "/v1/users/1"),
        Access::Allowed
    );
    assert_eq!(
        access(&policy, &["paid_payment:read"], "GET", "/v1/paid-payments"),
        Access::Allowed
    );
    assert_eq!(policy.route("POST", "/v1/users"), None);
    let error = policy
        .check_scopes(&scopes(&["users:write", "paid_payment:write"]))
        .unwrap_err();
    assert_eq!(
        error.unknown,
        scopes(&["users:write", "paid_payment:write"])
    );
    assert_eq!(
        policy.decide(&scopes(&["users:read"]), &on("users", Action::Write)),
        denied(&policy, "users:write")
    );
}

#[test]
fn seed_003_tokens_are_only_revoked_never_edited_rotated_or_reactivated() {
    // "Tokens cannot be edited ... create a new token ... and revoke the old one";
    // "Revoked tokens ... cannot be reactivated."
    let policy = load("seed 003", SEED_003_MODULES);
    assert_eq!(lifecycle(&policy), ["revoke"]);
}

#[test]
fn seed_003_modules_not_in_the_plan_are_not_offered() {
    // "If a module is not visible, it is not included in your plan."
    let policy = load("seed 003", SEED_003_MODULES);
    let names: Vec<&str> = policy.plans().iter().map(Plan::name).collect();
    assert_eq!(names, ["control", "audit", "payment"]);
    let control = policy.plan_for(None).expect("a default plan");
    assert_eq!(control.name(), "control");
    assert!(control.api_access());
    let token = scopes(&[
        "cases:write",
        "company_account_check:read",
        "company_account_audit:read",
        "payment_check:write",
        "paid_payment:read",
    ]);
    assert_eq!(
        policy.scopes_not_in_plan(&token, control),
        scopes(&[
            "company_account_audit:read",
            "payment_check:write",
            "paid_payment:read"
        ])
    );
    let audit = policy.plan_for(Some("audit")).expect("audit");
    assert_eq!(
        policy.scopes_not_in_plan(&token, audit),
        scopes(&["payment_check:write", "paid_payment:read"])
    );
    let payment = policy.plan_for(Some("payment")).expect("payment");
    assert!(policy.scopes_not_in_plan(&token, payment).is_empty());
    // Each plan builds on the one before it.
    let described = policy.describe();
    let offered = |index: usize| -> BTreeSet<String> {
        described["plans"][index]["resources"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(offered(0).is_subset(&offered(1)) && offered(1).is_subset(&offered(2)));
    assert_eq!(offered(2).len(), 9, "payment offers every module");
    // A refusal names the first plan offering the module.
    assert_eq!(
        policy
            .plan_needed(Some("company_account_audit"))
            .map(Plan::name),
        Some("audit")
    );
    assert_eq!(
        policy.plan_needed(Some("payment_check")).map(Plan::name),
        Some("payment")
    );
}

// ----- seed 004: coarse scopes ---------------------------------------------------------

#[test]
fn seed_004_read_all_and_write_all() {
    let policy = load("seed 004", SEED_004_COARSE);
    let reader = ["read:all"];
    for path in [
        "/v1/users",
        "/v1/projects/1",
        "/v1/projects/1/records/2",
        "/v1/settings",
        "/v1/team",
        "/v1/billing",
    ] {
        assert_eq!(
            access(&policy, &reader, "GET", path),
            Access::Allowed,
            "{path}"
        );
    }
    // A refusal names the scope to add: "e.g., write:all for POST/PATCH requests".
    assert_eq!(
        access(&policy, &reader, "POST", "/v1/projects"),
        denied(&policy, "write:all")
    );

    let writer = ["write:all"];
    for (method, path) in [
        ("POST", "/v1/projects"),
        ("PATCH", "/v1/projects/1"),
        ("PUT", "/v1/projects/1/records/2"),
        ("PATCH", "/v1/users/1"),
        ("PUT", "/v1/settings"),
        // Every resource write:all reaches here is ordered, so it reads too.
        ("GET", "/v1/projects"),
    ] {
        assert_eq!(
            access(&policy, &writer, method, path),
            Access::Allowed,
            "{method} {path}"
        );
    }
    // Create and update only: deleting is above write.
    assert_eq!(
        access(&policy, &writer, "DELETE", "/v1/projects/1"),
        denied(&policy, "admin")
    );
}

#[test]
fn seed_004_write_all_stops_at_administrative_resources() {
    let policy = load("seed 004", SEED_004_COARSE);
    let writer = ["read:all", "write:all"];
    // Only admin writes them, and the refusal says so.
    assert_eq!(
        access(&policy, &writer, "POST", "/v1/team/invitations"),
        denied(&policy, "admin")
    );
    assert_eq!(
        access(&policy, &writer, "PUT", "/v1/billing/payment-method"),
        denied(&policy, "admin")
    );
    assert_eq!(
        policy.decide(&scopes(&writer), &on("api_keys", Action::Write)),
        denied(&policy, "admin")
    );
    // Without read:all, write:all does not even read them.
    assert_eq!(
        access(&policy, &["write:all"], "GET", "/v1/team"),
        denied(&policy, "read:all")
    );
}

#[test]
fn seed_004_admin_includes_read_all_and_write_all() {
    let policy = load("seed 004", SEED_004_COARSE);
    let admin = scopes(&["admin"]);
    assert!(policy.grants_within(&scopes(&["read:all", "write:all"]), &admin));
    assert!(!policy.grants_within(&admin, &scopes(&["read:all", "write:all"])));
    let body = policy.describe();
    let routes = body["routes"].as_array().cloned().unwrap_or_default();
    for route in routes {
        let method = route["method"].as_str().unwrap_or_default();
        let path = example_path(route["path"].as_str().unwrap_or_default());
        let target = policy
            .route(method, &path)
            .unwrap_or_else(|| panic!("{path}"));
        for coarse in ["read:all", "write:all"] {
            if policy.decide(&scopes(&[coarse]), &target) == Access::Allowed {
                assert_eq!(
                    policy.decide(&admin, &target),
                    Access::Allowed,
                    "{method} {path}"
                );
            }
        }
        assert_eq!(
            policy.decide(&admin, &target),
            Access::Allowed,
            "{method} {path}"
        );
    }
    for action in [Action::Read, Action::Write, Action::Delete] {
        assert_eq!(
            policy.decide(&admin, &on("api_keys", action)),
            Access::Allowed
        );
    }
}

#[test]
fn seed_004_keeps_every_lifecycle_operation() {
    // "edit the key, and add the necessary scope"; revoked keys get 401; nothing says a key
    // cannot be re-activated or rotated.
    let policy = load("seed 004", SEED_004_COARSE);
    assert_eq!(
        lifecycle(&policy),
        ["edit", "revoke", "reactivate", "rotate"]
    );
}

#[test]
fn seed_004_offers_three_scopes_and_nothing_else() {
    // "read:all, write:all, admin": the Key Scopes table has three rows.
    let policy = load("seed 004", SEED_004_COARSE);
    assert!(!policy.fine_scopes());
    assert_eq!(policy.valid_scopes(), ["read:all", "write:all", "admin"]);
    assert_eq!(
        policy.describe()["scopes"],
        serde_json::json!(["read:all", "write:all", "admin"])
    );
    let refused = policy
        .check_scopes(&scopes(&["read:all", "projects:read", "api_keys:delete"]))
        .expect_err("resource-level scopes are unknown");
    assert_eq!(refused.unknown, ["projects:read", "api_keys:delete"]);
    assert_eq!(refused.valid, ["read:all", "write:all", "admin"]);
    // A key holding one from before the switch gets nothing from it.
    assert_eq!(
        access(&policy, &["projects:write"], "POST", "/v1/projects"),
        denied(&policy, "write:all")
    );
}

#[test]
fn seed_004_rate_limits_are_per_plan() {
    // "review the Rate Limits page for per-plan limits".
    let policy = load("seed 004", SEED_004_COARSE);
    let limits = |plan: &Plan| {
        let limits = plan.default_limits();
        (limits.per_minute.get(), limits.per_day.get())
    };
    let free = policy.plan_for(None).expect("a default plan");
    assert_eq!(free.name(), "free");
    assert_eq!(limits(free), (60, 1000));
    assert_eq!(free.max_limits(), Some(free.default_limits()));
    let team = policy.plan_for(Some("team")).expect("team");
    assert_eq!(limits(team), (300, 50_000));
    let enterprise = policy.plan_for(Some("enterprise")).expect("enterprise");
    assert_eq!(limits(enterprise), (1000, 1_000_000));
    assert_eq!(enterprise.max_limits(), None);
    // Every plan has API access and offers every resource: the scopes are the same.
    for plan in policy.plans() {
        assert!(plan.api_access(), "{}", plan.name());
        assert!(policy
            .scopes_not_in_plan(&policy.valid_scopes(), plan)
            .is_empty());
    }
}

// ----- property tests -------------------------------------------------------------------

/// The kinds table, written out again independently of the crate.
const REFERENCE_KINDS: [(&str, &[&str], bool); 6] = [
    (
        "ladder",
        &[
            "read",
            "write-approval",
            "write",
            "delete-approval",
            "delete",
        ],
        true,
    ),
    ("communication", &["read", "send-approval", "send"], true),
    ("ai", &["use-approval", "use"], true),
    ("read_write", &["read", "write"], true),
    ("independent", &["read", "write"], false),
    ("read_only", &["read"], true),
];

#[derive(Clone, Debug)]
struct GeneratedPolicy {
    /// (kind index, in the administrative group) for resources r0, r1, ...
    resources: Vec<(usize, bool)>,
    offers_read_all: bool,
    offers_write_all: bool,
    offers_admin: bool,
}

impl GeneratedPolicy {
    fn to_toml(&self) -> String {
        let mut coarse = Vec::new();
        if self.offers_read_all {
            coarse.push("\"read:all\"");
        }
        if self.offers_write_all {
            coarse.push("\"write:all\"");
        }
        if self.offers_admin {
            coarse.push("\"admin\"");
        }
        let mut text = format!(
            "coarse_scopes = [{}]\n[[groups]]\nname = \"Admin only\"\nadministrative = true\n",
            coarse.join(", ")
        );
        for (index, (kind, administrative)) in self.resources.iter().enumerate() {
            let kind_name = REFERENCE_KINDS.get(*kind).map(|k| k.0).unwrap_or("ladder");
            text.push_str(&format!(
                "[[resources]]\nname = \"r{index}\"\nkind = \"{kind_name}\"\n"
            ));
            if *administrative {
                text.push_str("group = \"Admin only\"\n");
            }
        }
        text
    }

    /// Every scope string the reference model knows about, plus some it must ignore.
    fn scope_universe(&self) -> Vec<String> {
        let mut universe = vec![
            "read:all".to_string(),
            "write:all".to_string(),
            "admin".to_string(),
            "r0:superuser".to_string(),
            "nobody:read".to_string(),
            "r0:send".to_string(),
        ];
        // Every level of every kind on every resource: some exist, some must be unknown.
        let all_levels: BTreeSet<&str> = REFERENCE_KINDS
            .iter()
            .flat_map(|(_, levels, _)| levels.iter().copied())
            .collect();
        for index in 0..self.resources.len() {
            for level in &all_levels {
                universe.push(format!("r{index}:{level}"));
            }
        }
        universe
    }

    /// Levels held on resource `index`, by brute force over the scope strings.
    fn held_levels(&self, held: &[String], index: usize) -> BTreeSet<&'static str> {
        let mut granted = BTreeSet::new();
        let Some(&(kind, administrative)) = self.resources.get(index) else {
            return granted;
        };
        let Some(&(_, levels, ordered)) = REFERENCE_KINDS.get(kind) else {
            return granted;
        };
        let mut grant = |level: &str| {
            if let Some(position) = levels.iter().position(|l| *l == level) {
                if ordered {
                    granted.extend(levels.iter().take(position + 1).copied());
                } else {
                    granted.extend(levels.get(position).copied());
                }
            }
        };
        for scope in held {
            match scope.as_str() {
                "read:all" if self.offers_read_all => grant("read"),
                "write:all" if self.offers_write_all && !administrative => grant("write"),
                "admin" if self.offers_admin => {
                    for level in levels {
                        grant(level);
                    }
                }
                other => {
                    if let Some((resource, level)) = other.split_once(':') {
                        if resource == format!("r{index}") {
                            grant(level);
                        }
                    }
                }
            }
        }
        granted
    }

    fn expected(&self, held: &[String], index: usize, action: Action) -> Access {
        let granted = self.held_levels(held, index);
        let approval = format!("{}-approval", action.as_str());
        if granted.contains(action.as_str()) {
            Access::Allowed
        } else if granted.contains(approval.as_str()) {
            Access::NeedsApproval
        } else {
            let offers_approval = self
                .resources
                .get(index)
                .and_then(|&(kind, _)| REFERENCE_KINDS.get(kind))
                .is_some_and(|(_, levels, _)| levels.contains(&approval.as_str()));
            Access::Denied {
                required_scope: format!("r{index}:{}", action.as_str()),
                approval_scope: offers_approval.then(|| format!("r{index}:{approval}")),
            }
        }
    }
}

fn generated_policy() -> impl Strategy<Value = GeneratedPolicy> {
    (
        prop::collection::vec((0..REFERENCE_KINDS.len(), any::<bool>()), 1..6),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(resources, read_all, write_all, admin)| GeneratedPolicy {
            resources,
            offers_read_all: read_all,
            offers_write_all: write_all,
            offers_admin: admin,
        })
}

/// Small edits that keep the text UTF-8 but break it in TOML-ish ways.
#[derive(Clone, Debug)]
enum Mutation {
    Delete {
        at: prop::sample::Index,
        len: usize,
    },
    Insert {
        at: prop::sample::Index,
        text: String,
    },
    Duplicate {
        at: prop::sample::Index,
        len: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let fragment = prop_oneof![
        Just("\"".to_string()),
        Just("[".to_string()),
        Just("]]".to_string()),
        Just("\n".to_string()),
        Just("=".to_string()),
        Just("*".to_string()),
        Just("{".to_string()),
        Just("/".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("\n[[routes]]\n".to_string()),
        Just("\n[[resources]]\nname = \"contacts\"\nkind = \"ladder\"\n".to_string()),
        "\\PC{0,8}",
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), 1..40usize)
            .prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<prop::sample::Index>(), fragment)
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<prop::sample::Index>(), 1..200usize)
            .prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for mutation in mutations {
        let len_plus_one = chars.len() + 1;
        match mutation {
            Mutation::Delete { at, len } => {
                let start = at.index(len_plus_one);
                let end = (start + len).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Insert { at, text } => {
                let start = at.index(len_plus_one);
                chars.splice(start..start, text.chars());
            }
            Mutation::Duplicate { at, len } => {
                let start = at.index(len_plus_one);
                let end = (start + len).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, copy);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decide_matches_the_reference_model(
        generated in generated_policy(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let policy = Policy::from_toml(&generated.to_toml());
        prop_assert!(policy.is_ok(), "{:?}", policy.err().map(|e| e.to_string()));
        let Ok(policy) = policy else { return Ok(()) };
        let universe = generated.scope_universe();
        let held: Vec<String> = picks.iter().map(|pick| pick.get(&universe).clone()).collect();
        for index in 0..generated.resources.len() {
            for action in Action::ALL {
                let target = on(&format!("r{index}"), action);
                prop_assert_eq!(
                    policy.decide(&held, &target),
                    generated.expected(&held, index, action),
                    "held {:?} on r{} {:?}", held, index, action
                );
            }
        }
        // check_scopes agrees with the reference on which strings exist.
        let valid: BTreeSet<String> = policy.valid_scopes().into_iter().collect();
        let unknown: Vec<&String> = held.iter().filter(|s| !valid.contains(*s)).collect();
        prop_assert_eq!(policy.check_scopes(&held).is_ok(), unknown.is_empty());
    }

    #[test]
    fn grants_within_never_lets_a_key_exceed_itself(
        generated in generated_policy(),
        held_picks in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        requested_picks in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let Ok(policy) = Policy::from_toml(&generated.to_toml()) else {
            return Err(TestCaseError::fail("generated policy should load"));
        };
        let universe = generated.scope_universe();
        let held: Vec<String> = held_picks.iter().map(|p| p.get(&universe).clone()).collect();
        let requested: Vec<String> =
            requested_picks.iter().map(|p| p.get(&universe).clone()).collect();
        prop_assert!(policy.grants_within(&held, &held));
        if policy.grants_within(&requested, &held) {
            for index in 0..generated.resources.len() {
                prop_assert!(generated
                    .held_levels(&requested, index)
                    .is_subset(&generated.held_levels(&held, index)));
            }
        }
    }

    #[test]
    fn from_toml_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = Policy::from_toml(&text);
    }

    #[test]
    fn from_toml_never_panics_on_arbitrary_bytes_as_text(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Policy::from_toml(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn from_toml_never_panics_on_mutated_shipped_policies(
        which in 0..SHIPPED.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (_, text) = SHIPPED[which];
        let mutated = apply(text, &mutations);
        if let Ok(policy) = Policy::from_toml(&mutated) {
            // Whatever loads must still answer without panicking.
            let _ = policy.describe();
            let _ = policy.route("GET", "/v1/contacts/1");
        }
    }

    /// What the Worker reads is what the file says: a file compiles exactly when it loads,
    /// refused with the same words, and the compiled form loads to the same policy.
    #[test]
    fn a_compiled_policy_is_the_policy_its_file_loads_to(
        which in 0..SHIPPED.len(),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        let (_, text) = SHIPPED[which];
        let mutated = apply(text, &mutations);
        match (Policy::from_toml(&mutated), compile(&mutated)) {
            (Ok(loaded), Ok(compiled)) => {
                let read = Policy::from_compiled(&compiled);
                prop_assert!(read.is_ok(), "{:?}", read.err().map(|e| e.to_string()));
                let Ok(read) = read else { return Ok(()) };
                prop_assert_eq!(format!("{read:?}"), format!("{loaded:?}"));
            }
            (Err(refused), Err(not_compiled)) => {
                prop_assert_eq!(refused.to_string(), not_compiled.to_string());
            }
            (loaded, compiled) => {
                return Err(TestCaseError::fail(format!(
                    "from_toml {:?} but compile {:?}",
                    loaded.map(|_| ()).map_err(|e| e.to_string()),
                    compiled.map(|_| ()).map_err(|e| e.to_string())
                )));
            }
        }
    }

    #[test]
    fn a_generated_policy_compiles_to_itself(generated in generated_policy()) {
        let text = generated.to_toml();
        let loaded = Policy::from_toml(&text);
        let read = compile(&text).and_then(|compiled| Policy::from_compiled(&compiled));
        prop_assert!(loaded.is_ok() && read.is_ok(), "{:?}", read.err().map(|e| e.to_string()));
        prop_assert_eq!(format!("{:?}", read.ok()), format!("{:?}", loaded.ok()));
    }

    #[test]
    fn from_compiled_never_panics_on_mutated_compiled_policies(
        which in 0..SHIPPED.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (name, text) = SHIPPED[which];
        let Ok(compiled) = compile(text) else {
            return Err(TestCaseError::fail(format!("{name} should compile")));
        };
        if let Ok(policy) = Policy::from_compiled(&apply(&compiled, &mutations)) {
            let _ = policy.describe();
            let _ = policy.route("GET", "/v1/contacts/1");
        }
    }

    #[test]
    fn route_never_panics_and_dot_segments_never_match(
        method in "[A-Z*]{0,8}",
        path in "(/[a-z0-9.%{}*]{0,6}){0,5}/?",
    ) {
        for (_, text) in SHIPPED {
            let Ok(policy) = Policy::from_toml(text) else {
                return Err(TestCaseError::fail("shipped policy should load"));
            };
            let target = policy.route(&method, &path);
            if path.split('/').any(|s| s == "." || s == "..") {
                prop_assert_eq!(target, None);
            }
        }
    }
}
