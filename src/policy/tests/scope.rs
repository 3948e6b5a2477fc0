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

/// `policy.decide` on each case: (the key's scopes, resource, action, expected).
fn assert_decisions(policy: &Policy, cases: &[(&[&str], &str, Action, Access)]) {
    for (held, resource, action, expected) in cases {
        assert_eq!(
            policy.decide(&scopes(held), &target(resource, *action)),
            *expected,
            "{held:?} on {resource}:{action}"
        );
    }
}

#[test]
fn ladder_levels_include_everything_below() {
    use Action::{Delete, Read, Write};
    let policy = load(ONE_OF_EACH_KIND);
    assert_decisions(
        &policy,
        &[
            (
                &["contacts:write-approval"],
                "contacts",
                Read,
                Access::Allowed,
            ),
            (
                &["contacts:write-approval"],
                "contacts",
                Write,
                Access::NeedsApproval,
            ),
            (
                &["contacts:write-approval"],
                "contacts",
                Delete,
                denied_but_queueable("contacts:delete"),
            ),
            (
                &["contacts:delete-approval"],
                "contacts",
                Write,
                Access::Allowed,
            ),
            (
                &["contacts:delete-approval"],
                "contacts",
                Delete,
                Access::NeedsApproval,
            ),
            (&["contacts:delete"], "contacts", Delete, Access::Allowed),
            (&[], "contacts", Read, denied("contacts:read")),
        ],
    );
}

#[test]
fn highest_of_several_scopes_counts() {
    let policy = load(ONE_OF_EACH_KIND);
    let key: &[&str] = &["contacts:read", "contacts:write", "contacts:write-approval"];
    assert_decisions(
        &policy,
        &[(key, "contacts", Action::Write, Access::Allowed)],
    );
}

#[test]
fn communication_and_ai_ladders() {
    use Action::{Read, Send, Use};
    let policy = load(ONE_OF_EACH_KIND);
    let approvals: &[&str] = &["email:send-approval", "ai:use-approval"];
    let full: &[&str] = &["email:send", "ai:use"];
    assert_decisions(
        &policy,
        &[
            (approvals, "email", Read, Access::Allowed),
            (approvals, "email", Send, Access::NeedsApproval),
            (approvals, "ai", Use, Access::NeedsApproval),
            (full, "email", Send, Access::Allowed),
            (full, "ai", Use, Access::Allowed),
            (
                &["email:read"],
                "email",
                Send,
                denied_but_queueable("email:send"),
            ),
        ],
    );
}

#[test]
fn read_write_write_includes_read() {
    let policy = load(ONE_OF_EACH_KIND);
    assert_decisions(
        &policy,
        &[
            (&["modules:write"], "modules", Action::Read, Access::Allowed),
            (
                &["modules:read"],
                "modules",
                Action::Write,
                denied("modules:write"),
            ),
        ],
    );
}

#[test]
fn independent_write_does_not_include_read() {
    use Action::{Read, Write};
    let policy = load(ONE_OF_EACH_KIND);
    assert_decisions(
        &policy,
        &[
            (&["calls:write"], "calls", Write, Access::Allowed),
            (&["calls:write"], "calls", Read, denied("calls:read")),
            (
                &["calls:read", "calls:write"],
                "calls",
                Read,
                Access::Allowed,
            ),
        ],
    );
}

#[test]
fn read_only_has_only_read() {
    let policy = load(ONE_OF_EACH_KIND);
    assert_decisions(
        &policy,
        &[
            (
                &["analytics:read"],
                "analytics",
                Action::Read,
                Access::Allowed,
            ),
            (
                &["analytics:read"],
                "analytics",
                Action::Write,
                denied("analytics:write"),
            ),
        ],
    );
}

#[test]
fn coarse_scopes_follow_the_kinds_and_groups() {
    use Action::{Delete, Read, Send, Use, Write};
    let policy = load(ONE_OF_EACH_KIND);
    let read_all: &[&str] = &["read:all"];
    let write_all: &[&str] = &["write:all"];
    assert_decisions(
        &policy,
        &[
            (read_all, "settings", Read, Access::Allowed),
            (read_all, "calls", Read, Access::Allowed),
            (read_all, "ai", Use, denied_but_queueable("ai:use")),
            (write_all, "contacts", Read, Access::Allowed),
            (write_all, "contacts", Write, Access::Allowed),
            (
                write_all,
                "contacts",
                Delete,
                denied_but_queueable("contacts:delete"),
            ),
            (write_all, "calls", Write, Access::Allowed),
            (write_all, "calls", Read, denied("calls:read")),
            // An administrative group stops write:all.
            (write_all, "settings", Write, denied("settings:write")),
            (write_all, "email", Send, denied_but_queueable("email:send")),
        ],
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
                Access::Allowed,
                "admin on {resource}:{action}"
            );
        }
    }
}

#[test]
fn coarse_scopes_not_offered_grant_nothing() {
    let policy = load(
        &ONE_OF_EACH_KIND.replace(r#"coarse_scopes = ["read:all", "write:all", "admin"]"#, ""),
    );
    let key: &[&str] = &["admin", "read:all"];
    assert_decisions(
        &policy,
        &[(key, "contacts", Action::Read, denied("contacts:read"))],
    );
    assert!(policy.check_scopes(&scopes(key)).is_err());
}

#[test]
fn unknown_scopes_and_targets_grant_nothing() {
    let policy = load(ONE_OF_EACH_KIND);
    let unknown: &[&str] = &["contacts:superuser", "crm:read", "", "analytics:write"];
    assert_decisions(
        &policy,
        &[
            (unknown, "contacts", Action::Read, denied("contacts:read")),
            (&["admin"], "deleted", Action::Read, denied("deleted:read")),
            // A resource scope does not leak onto another resource.
            (
                &["calls:write"],
                "modules",
                Action::Write,
                denied("modules:write"),
            ),
        ],
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
    let valid = policy.valid_scopes();
    // Every scope but the coarse ones.
    let every_resource_level: Vec<&str> = valid[..17].iter().map(String::as_str).collect();
    let held: &[&str] = &["contacts:delete", "calls:write"];
    let cases: [(&[&str], &[&str], bool); 9] = [
        // (requested, held, within)
        (&["contacts:write-approval"], held, true),
        (&["contacts:delete", "calls:write"], held, true),
        (&["calls:read"], held, false),
        (&["email:read"], held, false),
        (&["read:all", "write:all"], &["admin"], true),
        (&["contacts:delete"], &["admin"], true),
        (&["admin"], &["read:all", "write:all"], false),
        (&["read:all"], &every_resource_level, false),
        (&["unknown:scope"], &[], true),
    ];
    for (requested, held, within) in cases {
        assert_eq!(
            policy.grants_within(&scopes(requested), &scopes(held)),
            within,
            "{requested:?} within {held:?}"
        );
    }
}
