use super::*;
use crate::limits::Limits;
use serde_json::Map;

const NOW: u64 = 1_900_000_000_000;

fn policy() -> Policy {
    Policy::from_toml(include_str!("../../policies/demo.toml")).expect("demo policy parses")
}

fn limits(per_minute: u64, per_day: u64) -> Limits {
    Limits::new(per_minute, per_day).expect("valid limits")
}

fn manager(scopes: &[&str]) -> Grantee {
    Grantee {
        key_id: KeyId::generate(&[1; crate::key::KEY_ID_RANDOM_BYTES]),
        key_name: "Manager".into(),
        workspace: "acme".into(),
        environment: Environment::Live,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        limits: limits(60, 10_000),
        expires_at: None,
        created_by: None,
        family: None,
    }
}

fn record(scopes: &[&str]) -> KeyRecord {
    KeyRecord {
        id: KeyId::generate(&[2; crate::key::KEY_ID_RANDOM_BYTES]),
        name: "Made".into(),
        hint: "kg_live_…abcd".into(),
        workspace: "acme".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        environment: Environment::Live,
        created_at: NOW,
        expires_at: None,
        revoked_at: None,
        revoked_by: None,
        created_by: None,
        limits: Some(limits(60, 10_000)),
        enforcement: None,
        metadata: Map::new(),
        rejection_webhook: None,
        version: 1,
        family: None,
        plan: Default::default(),
    }
}

fn actor(grantee: Grantee) -> Actor {
    Actor::Key { grantee }
}

#[test]
fn root_reaches_everything_and_holds_everything() {
    assert!(Actor::Root.reaches("acme") && Actor::Root.reaches("other"));
    assert_eq!(Actor::Root.workspace_for(None), Ok(None));
    let mut huge = record(&["admin"]);
    huge.limits = None;
    assert_eq!(Actor::Root.may_hold(&huge, &policy()), Ok(()));
}

#[test]
fn a_key_reaches_only_its_own_workspace() {
    let acting = actor(manager(&["api_keys:write"]));
    assert!(acting.reaches("acme"));
    assert!(!acting.reaches("other"));
    assert_eq!(acting.workspace_for(None), Ok(Some("acme".into())));
    let mut elsewhere = record(&[]);
    elsewhere.workspace = "other".into();
    assert_eq!(
        acting.may_hold(&elsewhere, &policy()),
        Err(Overreach::Workspace { own: "acme".into() })
    );
}

#[test]
fn scopes_within_the_actors_own_are_allowed() {
    let acting = actor(manager(&["api_keys:write", "contacts:write", "tags:read"]));
    for scopes in [
        &["contacts:read"][..],
        &["contacts:write", "tags:read"],
        &["contacts:write-approval"],
        &["api_keys:read"],
    ] {
        assert_eq!(
            acting.may_hold(&record(scopes), &policy()),
            Ok(()),
            "{scopes:?}"
        );
    }
}

#[test]
fn scopes_beyond_the_actors_own_are_named() {
    let acting = actor(manager(&["api_keys:write", "contacts:write"]));
    assert_eq!(
        acting.may_hold(
            &record(&["contacts:read", "contacts:delete", "admin"]),
            &policy()
        ),
        Err(Overreach::Scopes {
            scopes: vec!["contacts:delete".into(), "admin".into()]
        })
    );
    // Holding an approval level does not allow handing out the level above it.
    let approver = actor(manager(&["api_keys:write", "contacts:write-approval"]));
    assert_eq!(
        approver.may_hold(&record(&["contacts:write"]), &policy()),
        Err(Overreach::Scopes {
            scopes: vec!["contacts:write".into()]
        })
    );
}

#[test]
fn limits_above_the_actors_own_are_refused_per_window() {
    let acting = actor(manager(&["api_keys:write"]));
    let mut made = record(&[]);
    made.limits = Some(limits(61, 100));
    assert_eq!(
        acting.may_hold(&made, &policy()),
        Err(Overreach::Limit {
            window: Window::Minute,
            own: 60
        })
    );
    made.limits = Some(limits(10, 10_001));
    assert_eq!(
        acting.may_hold(&made, &policy()),
        Err(Overreach::Limit {
            window: Window::Day,
            own: 10_000
        })
    );
    made.limits = Some(limits(60, 10_000));
    assert_eq!(acting.may_hold(&made, &policy()), Ok(()));
    // Following the policy's defaults (120/min) is above this actor's 60/min.
    made.limits = None;
    assert!(matches!(
        acting.may_hold(&made, &policy()),
        Err(Overreach::Limit {
            window: Window::Minute,
            ..
        })
    ));
}

#[test]
fn an_expiring_actor_only_makes_keys_that_expire_no_later() {
    let mut grantee = manager(&["api_keys:write"]);
    grantee.expires_at = Some(NOW + 1_000);
    let acting = actor(grantee);
    let mut made = record(&[]);
    assert_eq!(
        acting.may_hold(&made, &policy()),
        Err(Overreach::Expiry { own: NOW + 1_000 })
    );
    made.expires_at = Some(NOW + 1_001);
    assert!(acting.may_hold(&made, &policy()).is_err());
    made.expires_at = Some(NOW + 1_000);
    assert_eq!(acting.may_hold(&made, &policy()), Ok(()));
}

#[test]
fn a_key_manages_only_keys_of_its_own_environment() {
    let mut grantee = manager(&["api_keys:write"]);
    grantee.environment = Environment::Test;
    let acting = actor(grantee);
    let mut made = record(&[]);
    assert_eq!(
        acting.may_hold(&made, &policy()),
        Err(Overreach::Environment)
    );
    made.environment = Environment::Test;
    assert_eq!(acting.may_hold(&made, &policy()), Ok(()));
    // Nor a live key test keys: each environment is managed apart.
    let live = actor(manager(&["api_keys:write"]));
    assert_eq!(live.may_hold(&made, &policy()), Err(Overreach::Environment));
    assert!(!live.reaches_key(&made));
    assert!(acting.reaches_key(&made));
    assert!(!acting.reaches_key(&record(&[])));
    assert!(Actor::Root.reaches_key(&made));
}

#[test]
fn a_key_works_in_its_own_workspace_and_root_where_it_asks() {
    let acting = actor(manager(&["api_keys:write"]));
    assert_eq!(acting.workspace_for(None), Ok(Some("acme".into())));
    assert_eq!(acting.workspace_for(Some("acme")), Ok(Some("acme".into())));
    assert_eq!(
        acting.workspace_for(Some("other")),
        Err(Overreach::Workspace { own: "acme".into() })
    );
    assert_eq!(Actor::Root.workspace_for(None), Ok(None));
    assert_eq!(
        Actor::Root.workspace_for(Some("other")),
        Ok(Some("other".into()))
    );
}

#[test]
fn keys_made_by_keys_get_limits_of_their_own() {
    let mut made = record(&[]);
    made.limits = None;
    Actor::Root.pin_limits(&mut made, &policy());
    assert_eq!(made.limits, None);
    actor(manager(&["api_keys:write"])).pin_limits(&mut made, &policy());
    assert_eq!(made.limits, Some(policy().default_limits()));
    // Limits already its own stay as they are.
    made.limits = Some(limits(5, 50));
    actor(manager(&["api_keys:write"])).pin_limits(&mut made, &policy());
    assert_eq!(made.limits, Some(limits(5, 50)));
}

#[test]
fn actors_round_trip_through_json() {
    for acting in [Actor::Root, actor(manager(&["api_keys:delete"]))] {
        let json = serde_json::to_string(&acting).expect("serializes");
        assert_eq!(serde_json::from_str::<Actor>(&json).ok(), Some(acting));
    }
}

#[test]
fn keys_actions_climb_the_api_keys_ladder() {
    use crate::policy::{Access, RouteTarget};
    assert_eq!(KeysAction::Read.action(), Action::Read);
    assert_eq!(KeysAction::Write.action(), Action::Write);
    assert_eq!(KeysAction::Delete.action(), Action::Delete);
    // read < write < delete: each grant holds the actions below it, never above.
    let policy = policy();
    let actions = [KeysAction::Read, KeysAction::Write, KeysAction::Delete];
    for (held, scope) in ["api_keys:read", "api_keys:write", "api_keys:delete"]
        .into_iter()
        .enumerate()
    {
        for (asked, action) in actions.into_iter().enumerate() {
            let target = RouteTarget {
                resource: KEYS_RESOURCE.into(),
                action: action.action(),
            };
            let access = policy.decide(&[scope.to_string()], &target);
            assert_eq!(
                access == Access::Allowed,
                asked <= held,
                "{scope} for {action:?}: {access:?}"
            );
        }
    }
}

#[test]
fn overreaches_round_trip_through_json() {
    for overreach in [
        Overreach::Scopes {
            scopes: vec!["admin".into()],
        },
        Overreach::Limit {
            window: Window::Day,
            own: 5,
        },
        Overreach::Expiry { own: NOW },
        Overreach::Environment,
        Overreach::Workspace { own: "acme".into() },
    ] {
        let json = serde_json::to_string(&overreach).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Overreach>(&json).ok(),
            Some(overreach),
            "{json}"
        );
    }
}

#[test]
fn only_the_root_token_and_the_creator_change_a_key() {
    let acting = actor(manager(&["api_keys:write"]));
    let other = Principal::Key {
        key_id: KeyId::generate(&[9; crate::key::KEY_ID_RANDOM_BYTES]),
    };
    let mut made = record(&[]);
    // Unknown, the root token, another key: not the acting key's.
    for creator in [None, Some(Principal::Root), Some(other)] {
        made.created_by = creator;
        assert_eq!(Actor::Root.may_change(&made), Ok(()));
        assert_eq!(acting.may_change(&made), Err(Stronger::NotCreator));
    }
    made.created_by = Some(acting.principal());
    assert_eq!(acting.may_change(&made), Ok(()));
}

#[test]
fn a_key_undoes_only_its_own_revocation_while_it_may_still_revoke() {
    let revoker = actor(manager(&["api_keys:delete"]));
    let other = Principal::Key {
        key_id: KeyId::generate(&[9; crate::key::KEY_ID_RANDOM_BYTES]),
    };
    let mut revoked = record(&[]);
    revoked.revoked_at = Some(NOW);
    for by in [None, Some(Principal::Root), Some(other)] {
        revoked.revoked_by = by;
        assert_eq!(Actor::Root.may_undo(&revoked, &policy()), Ok(()));
        assert_eq!(
            revoker.may_undo(&revoked, &policy()),
            Err(Stronger::RevokedByOther)
        );
    }
    revoked.revoked_by = Some(revoker.principal());
    assert_eq!(revoker.may_undo(&revoked, &policy()), Ok(()));
    assert_eq!(
        actor(manager(&["admin"])).may_undo(&revoked, &policy()),
        Ok(())
    );
    // The same key, since narrowed to `api_keys:write`: it could not revoke it now.
    assert_eq!(
        actor(manager(&["api_keys:write"])).may_undo(&revoked, &policy()),
        Err(Stronger::RevokedByOther)
    );
}

fn member(workspace: &str, permissions: &[Permission]) -> Actor {
    Actor::Member {
        workspace: workspace.into(),
        member: Member {
            id: "user_1".into(),
            name: "Ada".into(),
        },
        permissions: permissions.to_vec(),
    }
}

#[test]
fn a_member_reaches_its_workspace_in_both_environments_and_nothing_else() {
    let ada = member("acme", &[Permission::KeysRead]);
    assert!(ada.reaches("acme") && !ada.reaches("globex"));
    assert_eq!(ada.environment(), None);
    let mut test_key = record(&["contacts:read"]);
    test_key.environment = Environment::Test;
    assert!(ada.reaches_key(&record(&["admin"])) && ada.reaches_key(&test_key));
    let mut elsewhere = record(&["contacts:read"]);
    elsewhere.workspace = "globex".into();
    assert!(!ada.reaches_key(&elsewhere));
    assert_eq!(ada.workspace_for(None), Ok(Some("acme".into())));
    assert_eq!(ada.workspace_for(Some("acme")), Ok(Some("acme".into())));
    assert_eq!(
        ada.workspace_for(Some("globex")),
        Err(Overreach::Workspace { own: "acme".into() })
    );
}

#[test]
fn a_member_gives_any_scope_of_the_policy_but_only_in_its_workspace() {
    let ada = member("acme", &[Permission::KeysManage]);
    let mut everything = record(&["admin", "api_keys:delete", "contacts:delete"]);
    everything.limits = None;
    everything.environment = Environment::Test;
    assert_eq!(ada.may_hold(&everything, &policy()), Ok(()));
    everything.workspace = "globex".into();
    assert_eq!(
        ada.may_hold(&everything, &policy()),
        Err(Overreach::Workspace { own: "acme".into() })
    );
    // A person's keys follow the policy's defaults, head their own family, and name them.
    let mut made = record(&["contacts:read"]);
    made.limits = None;
    ada.pin_limits(&mut made, &policy());
    assert_eq!(made.limits, None);
    assert_eq!(ada.family_for_new_key(), None);
    assert_eq!(
        ada.principal(),
        Principal::Member {
            id: "user_1".into(),
            name: "Ada".into()
        }
    );
}

#[test]
fn a_member_changes_any_key_it_reaches_and_undoes_any_revocation_but_the_root_tokens() {
    let ada = member("acme", &[Permission::KeysManage]);
    let key_id = KeyId::generate(&[7; crate::key::KEY_ID_RANDOM_BYTES]);
    for created_by in [
        None,
        Some(Principal::Root),
        Some(Principal::Key {
            key_id: key_id.clone(),
        }),
        Some(Principal::Member {
            id: "someone else".into(),
            name: "Bo".into(),
        }),
    ] {
        let mut key = record(&["contacts:read"]);
        key.created_by = created_by;
        assert_eq!(ada.may_change(&key), Ok(()));
    }
    for (revoked_by, allowed) in [
        (None, false),
        (Some(Principal::Root), false),
        (Some(Principal::Key { key_id }), true),
        (
            Some(Principal::Member {
                id: "someone else".into(),
                name: "Bo".into(),
            }),
            true,
        ),
    ] {
        let mut key = record(&["contacts:read"]);
        key.revoked_at = Some(NOW);
        key.revoked_by = revoked_by.clone();
        let expected = match allowed {
            true => Ok(()),
            false => Err(Stronger::RevokedByOther),
        };
        assert_eq!(ada.may_undo(&key, &policy()), expected, "{revoked_by:?}");
    }
}

#[test]
fn only_a_member_is_held_to_its_permissions() {
    for needed in Permission::ALL {
        assert_eq!(Actor::Root.holds(needed), Ok(()));
        assert_eq!(actor(manager(&["contacts:read"])).holds(needed), Ok(()));
        assert_eq!(
            member("acme", &[]).holds(needed),
            Err(PermissionMissing { permission: needed })
        );
    }
    let reviewer = member("acme", &[Permission::ApprovalsReview]);
    assert_eq!(reviewer.holds(Permission::ApprovalsReview), Ok(()));
    assert!(reviewer.holds(Permission::KeysRead).is_err());
    let manager = member("acme", &[Permission::KeysManage]);
    assert_eq!(manager.holds(Permission::KeysRead), Ok(()));
}

#[test]
fn a_member_actor_round_trips_through_json() {
    let ada = member("acme", &[Permission::KeysRead, Permission::ApprovalsReview]);
    let json = serde_json::to_string(&ada).expect("writes");
    assert_eq!(
        serde_json::from_str::<Actor>(&json).ok(),
        Some(ada),
        "{json}"
    );
}

proptest::proptest! {
    /// A member may do a route's work exactly when one of its permissions gives what the
    /// route needs, against a naive model of the three permissions.
    #[test]
    fn a_member_holds_exactly_what_its_permissions_give(
        held in proptest::sample::subsequence(Permission::ALL.to_vec(), 0..=3),
        needed in proptest::sample::select(Permission::ALL.to_vec()),
    ) {
        let model = held.contains(&needed)
            || (needed == Permission::KeysRead && held.contains(&Permission::KeysManage));
        proptest::prop_assert_eq!(member("acme", &held).holds(needed).is_ok(), model);
    }

    /// Whatever scopes a key is given, a member of its workspace may hold it, and one of
    /// another workspace never.
    #[test]
    fn a_member_holds_any_scopes_in_its_workspace_and_none_elsewhere(
        scopes in proptest::sample::subsequence(vec!["admin", "api_keys:delete", "contacts:delete", "tags:read", "approvals:write"], 0..=5),
        same in proptest::bool::ANY,
    ) {
        let ada = member(if same { "acme" } else { "globex" }, &[Permission::KeysManage]);
        proptest::prop_assert_eq!(ada.may_hold(&record(&scopes), &policy()).is_ok(), same);
    }
}
