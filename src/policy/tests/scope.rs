//! The scope model: which scopes a policy offers, and what a key's scopes allow.

use super::*;
use serde_json::json;

#[test]
fn valid_scopes_are_resource_levels_in_order_then_coarse_scopes() {
    let policy = load(ONE_OF_EACH_KIND);
    let valid = policy.valid_scopes();
    let expected: Vec<&str> = vec![
        "contacts:read",
        "contacts:write-approval",
        "contacts:write",
        "contacts:delete-approval",
        "contacts:delete",
        "email:read",
        "email:send-approval",
        "email:send",
        "ai:use-approval",
        "ai:use",
        "modules:read",
        "modules:write",
        "calls:read",
        "calls:write",
        "analytics:read",
        "settings:read",
        "settings:write",
        "read:all",
        "write:all",
        "admin",
    ];
    assert_eq!(valid, scopes(&expected));
}

#[test]
fn action_serializes_lowercase_and_round_trips_by_name() {
    for action in Action::ALL {
        assert_eq!(
            serde_json::to_value(action).unwrap(),
            json!(action.as_str())
        );
        assert_eq!(Action::from_name(action.as_str()), Some(action));
    }
    assert_eq!(Action::from_name("Read"), None);
}

#[test]
fn ladder_levels_include_everything_below() {
    let policy = load(ONE_OF_EACH_KIND);
    let read = target("contacts", Action::Read);
    let write = target("contacts", Action::Write);
    let delete = target("contacts", Action::Delete);
    let key = scopes(&["contacts:write-approval"]);
    assert_eq!(policy.decide(&key, &read), Access::Allowed);
    assert_eq!(policy.decide(&key, &write), Access::NeedsApproval);
    assert_eq!(
        policy.decide(&key, &delete),
        denied_but_queueable("contacts:delete")
    );
    let key = scopes(&["contacts:delete-approval"]);
    assert_eq!(policy.decide(&key, &write), Access::Allowed);
    assert_eq!(policy.decide(&key, &delete), Access::NeedsApproval);
    let key = scopes(&["contacts:delete"]);
    assert_eq!(policy.decide(&key, &delete), Access::Allowed);
    assert_eq!(policy.decide(&[], &read), denied("contacts:read"));
}

#[test]
fn highest_of_several_scopes_counts() {
    let policy = load(ONE_OF_EACH_KIND);
    let key = scopes(&["contacts:read", "contacts:write", "contacts:write-approval"]);
    assert_eq!(
        policy.decide(&key, &target("contacts", Action::Write)),
        Access::Allowed
    );
}

#[test]
fn communication_and_ai_ladders() {
    let policy = load(ONE_OF_EACH_KIND);
    let key = scopes(&["email:send-approval", "ai:use-approval"]);
    assert_eq!(
        policy.decide(&key, &target("email", Action::Read)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&key, &target("email", Action::Send)),
        Access::NeedsApproval
    );
    assert_eq!(
        policy.decide(&key, &target("ai", Action::Use)),
        Access::NeedsApproval
    );
    let key = scopes(&["email:send", "ai:use"]);
    assert_eq!(
        policy.decide(&key, &target("email", Action::Send)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&key, &target("ai", Action::Use)),
        Access::Allowed
    );
    let key = scopes(&["email:read"]);
    assert_eq!(
        policy.decide(&key, &target("email", Action::Send)),
        denied_but_queueable("email:send")
    );
}

#[test]
fn read_write_write_includes_read() {
    let policy = load(ONE_OF_EACH_KIND);
    let key = scopes(&["modules:write"]);
    assert_eq!(
        policy.decide(&key, &target("modules", Action::Read)),
        Access::Allowed
    );
    let key = scopes(&["modules:read"]);
    assert_eq!(
        policy.decide(&key, &target("modules", Action::Write)),
        denied("modules:write")
    );
}

#[test]
fn independent_write_does_not_include_read() {
    let policy = load(ONE_OF_EACH_KIND);
    let key = scopes(&["calls:write"]);
    assert_eq!(
        policy.decide(&key, &target("calls", Action::Write)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&key, &target("calls", Action::Read)),
        denied("calls:read")
    );
    let key = scopes(&["calls:read", "calls:write"]);
    assert_eq!(
        policy.decide(&key, &target("calls", Action::Read)),
        Access::Allowed
    );
}

#[test]
fn read_only_has_only_read() {
    let policy = load(ONE_OF_EACH_KIND);
    let key = scopes(&["analytics:read"]);
    assert_eq!(
        policy.decide(&key, &target("analytics", Action::Read)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&key, &target("analytics", Action::Write)),
        denied("analytics:write")
    );
}

#[test]
fn coarse_scopes_follow_the_kinds_and_groups() {
    let policy = load(ONE_OF_EACH_KIND);
    let read_all = scopes(&["read:all"]);
    assert_eq!(
        policy.decide(&read_all, &target("settings", Action::Read)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&read_all, &target("calls", Action::Read)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&read_all, &target("ai", Action::Use)),
        denied_but_queueable("ai:use")
    );

    let write_all = scopes(&["write:all"]);
    assert_eq!(
        policy.decide(&write_all, &target("contacts", Action::Read)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&write_all, &target("contacts", Action::Write)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&write_all, &target("contacts", Action::Delete)),
        denied_but_queueable("contacts:delete")
    );
    assert_eq!(
        policy.decide(&write_all, &target("calls", Action::Write)),
        Access::Allowed
    );
    assert_eq!(
        policy.decide(&write_all, &target("calls", Action::Read)),
        denied("calls:read")
    );
    assert_eq!(
        policy.decide(&write_all, &target("settings", Action::Write)),
        denied("settings:write")
    );
    assert_eq!(
        policy.decide(&write_all, &target("email", Action::Send)),
        denied_but_queueable("email:send")
    );

    let admin = scopes(&["admin"]);
    for resource in [
        "contacts",
        "email",
        "ai",
        "modules",
        "calls",
        "analytics",
        "settings",
    ] {
        let (_, kind) = policy
            .resource_by_name(resource)
            .map(|(i, r)| (i, r.kind))
            .unwrap();
        for &action in kind.actions() {
            assert_eq!(
                policy.decide(&admin, &target(resource, action)),
                Access::Allowed
            );
        }
    }
}

#[test]
fn coarse_scopes_not_offered_grant_nothing() {
    let policy = load(
        &ONE_OF_EACH_KIND.replace(r#"coarse_scopes = ["read:all", "write:all", "admin"]"#, ""),
    );
    let key = scopes(&["admin", "read:all"]);
    assert_eq!(
        policy.decide(&key, &target("contacts", Action::Read)),
        denied("contacts:read")
    );
    assert!(policy.check_scopes(&key).is_err());
}

#[test]
fn unknown_scopes_and_targets_grant_nothing() {
    let policy = load(ONE_OF_EACH_KIND);
    let key = scopes(&["contacts:superuser", "crm:read", "", "analytics:write"]);
    assert_eq!(
        policy.decide(&key, &target("contacts", Action::Read)),
        denied("contacts:read")
    );
    let key = scopes(&["admin"]);
    assert_eq!(
        policy.decide(&key, &target("deleted", Action::Read)),
        denied("deleted:read")
    );
    // A resource scope does not leak onto another resource.
    let key = scopes(&["calls:write"]);
    assert_eq!(
        policy.decide(&key, &target("modules", Action::Write)),
        denied("modules:write")
    );
}

#[test]
fn check_scopes_lists_unknown_once_and_all_valid() {
    let policy = load(ONE_OF_EACH_KIND);
    assert_eq!(
        policy.check_scopes(&scopes(&["contacts:read", "admin"])),
        Ok(())
    );
    let error = policy
        .check_scopes(&scopes(&[
            "analytics:write",
            "contacts:read",
            "x\ny",
            "analytics:write",
        ]))
        .unwrap_err();
    assert_eq!(error.unknown, scopes(&["analytics:write", "x\ny"]));
    assert_eq!(error.valid, policy.valid_scopes());
    let message = error.to_string();
    assert!(
        message.starts_with("unknown scope(s) \"analytics:write\", \"x\\ny\"; valid scopes: contacts:read, contacts:write-approval,"),
        "{message}"
    );
    assert!(message.ends_with("read:all, write:all, admin"), "{message}");
}

#[test]
fn grants_within_compares_effective_grants() {
    let policy = load(ONE_OF_EACH_KIND);
    let held = scopes(&["contacts:delete", "calls:write"]);
    assert!(policy.grants_within(&scopes(&["contacts:write-approval"]), &held));
    assert!(policy.grants_within(&scopes(&["contacts:delete", "calls:write"]), &held));
    assert!(!policy.grants_within(&scopes(&["calls:read"]), &held));
    assert!(!policy.grants_within(&scopes(&["email:read"]), &held));
    assert!(policy.grants_within(&scopes(&["read:all", "write:all"]), &scopes(&["admin"])));
    assert!(policy.grants_within(&scopes(&["contacts:delete"]), &scopes(&["admin"])));
    assert!(!policy.grants_within(&scopes(&["admin"]), &scopes(&["read:all", "write:all"])));
    assert!(!policy.grants_within(&scopes(&["read:all"]), &policy.valid_scopes()[..17]));
    assert!(policy.grants_within(&scopes(&["unknown:scope"]), &[]));
}
