//! Keys acting on keys: never beyond the acting key's own grants.

use super::*;

// --- who asks: keys acting on keys ------------------------------------------------

#[test]
fn a_key_from_another_workspace_finds_nothing_and_changes_nothing() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 50);
    let outsider = key_actor("other", &["admin"], limits(1_000, 100_000));
    for revoked_first in [false, true] {
        let mut state = created(&record, &hash);
        if revoked_first {
            state.handle(revoke(), &policy(), NOW);
        }
        let before = state.clone();
        for command in lifecycle_commands(&outsider) {
            let label = format!("{command:?}");
            // Even where the policy turns the operation off, the answer is the same.
            for policy in [policy(), seed_001()] {
                let (reply, changed) = state.handle(command.clone(), &policy, NOW + 5);
                assert_eq!(reply, declined(Declined::NotFound), "{label}");
                assert_eq!(changed, NOTHING, "{label}");
                assert_eq!(state, before, "{label}");
            }
        }
    }
    // A key of the same workspace does find it.
    let insider = key_actor("acme", &["api_keys:read"], limits(10, 1000));
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(Command::Get { actor: insider }, &policy(), NOW);
    assert_eq!(key_of(&reply), &record);
}

#[test]
fn an_actor_cannot_edit_scopes_beyond_its_own() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 51);
    let actor = key_actor(
        "acme",
        &["api_keys:write", "contacts:write", "tags:read"],
        limits(60, 10_000),
    );
    let mut state = created(&record, &hash);
    let before = state.clone();
    let beyond = KeyEdit {
        scopes: Some(vec![
            "contacts:read".into(),
            "email:send".into(),
            "tags:write".into(),
        ]),
        ..KeyEdit::default()
    };
    let (reply, changed) = state.handle(
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor: actor.clone(),
            edit: beyond,
        },
        &policy(),
        NOW,
    );
    assert_eq!(
        reply,
        declined(Declined::Overreach(Overreach::Scopes {
            scopes: vec!["email:send".into(), "tags:write".into()]
        }))
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);

    let within = KeyEdit {
        scopes: Some(vec!["contacts:write".into(), "tags:read".into()]),
        ..KeyEdit::default()
    };
    let (reply, changed) = state.handle(
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor,
            edit: within,
        },
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).scopes, ["contacts:write", "tags:read"]);
    assert_eq!(changed, ADMIN);
}

#[test]
fn an_actor_cannot_raise_limits_above_its_own() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 52);
    let actor = key_actor(
        "acme",
        &["api_keys:write", "contacts:read"],
        limits(60, 10_000),
    );
    let mut state = created(&record, &hash);
    let before = state.clone();
    for (asked, overreach) in [
        (
            Some(limits(61, 100)),
            Overreach::Limit {
                window: Window::Minute,
                own: 60,
            },
        ),
        (
            Some(limits(10, 10_001)),
            Overreach::Limit {
                window: Window::Day,
                own: 10_000,
            },
        ),
        // Back to the policy's defaults (120 a minute) is more than the actor's 60.
        (
            None,
            Overreach::Limit {
                window: Window::Minute,
                own: 60,
            },
        ),
    ] {
        let (reply, changed) = state.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: actor.clone(),
                edit: KeyEdit {
                    limits: Some(match asked {
                        Some(wanted) => LimitsEdit::Set {
                            per_minute: Some(u64::from(wanted.per_minute.get())),
                            per_day: Some(u64::from(wanted.per_day.get())),
                        },
                        None => LimitsEdit::PolicyDefaults,
                    }),
                    ..KeyEdit::default()
                },
            },
            &policy(),
            NOW,
        );
        assert_eq!(reply, declined(Declined::Overreach(overreach)), "{asked:?}");
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
    let (reply, changed) = state.handle(
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor,
            edit: KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: Some(60),
                    per_day: Some(10_000),
                }),
                ..KeyEdit::default()
            },
        },
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).limits, Some(limits(60, 10_000)));
    assert_eq!(changed, ADMIN);
}

#[test]
fn an_expiring_actor_cannot_lift_an_expiry() {
    let Fixture { mut record, hash } = acme_key(r#"["contacts:read"]"#, 53);
    record.expires_at = Some(NOW + 1_000);
    let Actor::Key { mut grantee } = key_actor(
        "acme",
        &["api_keys:write", "contacts:read"],
        limits(60, 10_000),
    ) else {
        unreachable!()
    };
    grantee.expires_at = Some(NOW + 5_000);
    let actor = Actor::Key { grantee };
    let mut state = created(&record, &hash);
    let before = state.clone();
    let (reply, changed) = state.handle(
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor,
            edit: KeyEdit {
                expires_at: Some(None),
                ..KeyEdit::default()
            },
        },
        &policy(),
        NOW,
    );
    assert_eq!(
        reply,
        declined(Declined::Overreach(Overreach::Expiry { own: NOW + 5_000 }))
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn a_key_holding_more_than_the_actor_cannot_be_rotated_or_reactivated_by_it() {
    let Fixture { record, hash } = acme_key(r#"["contacts:delete", "email:send"]"#, 54);
    let actor = key_actor(
        "acme",
        &["api_keys:delete", "contacts:read"],
        limits(60, 10_000),
    );
    let overreach = declined(Declined::Overreach(Overreach::Scopes {
        scopes: vec!["contacts:delete".into(), "email:send".into()],
    }));
    let next = new_secret(54);

    let mut state = created(&record, &hash);
    let before = state.clone();
    let (reply, changed) = state.handle(
        Command::Rotate {
            actor: actor.clone(),
            secret: next.hash.clone(),
            hint: next.hint.clone(),
            grace_ms: 0,
        },
        &policy(),
        NOW,
    );
    assert_eq!(reply, overreach);
    assert_eq!(changed, NOTHING);
    assert_eq!(
        state, before,
        "the old secret still works, the new one does not"
    );

    // Its own revocation, so only the grants stand in the way of undoing it.
    let revoke_as_actor = Command::Revoke {
        actor: actor.clone(),
    };
    state.handle(revoke_as_actor, &policy(), NOW + 1);
    let before = state.clone();
    let (reply, changed) = state.handle(Command::Activate { actor }, &policy(), NOW + 2);
    assert_eq!(reply, overreach);
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn a_weaker_key_may_revoke_and_delete_a_stronger_one_in_its_workspace() {
    let Fixture { record, hash } = acme_key(r#"["admin"]"#, 55);
    let actor = key_actor("acme", &["api_keys:delete"], limits(1, 1));
    let mut state = created(&record, &hash);
    let (reply, changed) = state.handle(
        Command::Revoke {
            actor: actor.clone(),
        },
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).revoked_at, Some(NOW));
    assert_eq!(changed, ADMIN);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 1);
    assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
    let (reply, changed) = state.handle(Command::Delete { actor }, &policy(), NOW + 2);
    assert!(matches!(reply, Reply::Deleted { .. }), "{reply:?}");
    assert!(changed.wiped);
}

#[test]
fn within_its_own_grants_an_actor_may_edit_rotate_and_reactivate() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 56);
    let actor = key_actor(
        "acme",
        &["api_keys:delete", "contacts:write"],
        limits(60, 10_000),
    );
    let mut state = created(&record, &hash);
    let next = new_secret(56);
    let (reply, changed) = state.handle(
        Command::Rotate {
            actor: actor.clone(),
            secret: next.hash.clone(),
            hint: next.hint.clone(),
            grace_ms: 0,
        },
        &policy(),
        NOW,
    );
    assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
    assert_eq!(changed, ADMIN);
    let revoke_as_actor = Command::Revoke {
        actor: actor.clone(),
    };
    state.handle(revoke_as_actor, &policy(), NOW + 1);
    let (reply, changed) = state.handle(
        Command::Activate {
            actor: actor.clone(),
        },
        &policy(),
        NOW + 2,
    );
    assert_eq!(key_of(&reply).revoked_at, None);
    assert_eq!(changed, ADMIN);
    let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW + 3);
    assert!(is_admitted(&reply), "{reply:?}");
}

// --- who asks: a member, through a portal session --------------------------------------

fn member_actor(workspace: &str) -> Actor {
    Actor::Member {
        workspace: workspace.into(),
        member: crate::session::Member {
            id: "user_1".into(),
            name: "Ada".into(),
        },
        permissions: vec![crate::session::Permission::KeysManage],
    }
}

#[test]
fn a_member_of_another_workspace_finds_nothing_and_changes_nothing() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 51);
    let mut state = created(&record, &hash);
    let before = state.clone();
    for command in lifecycle_commands(&member_actor("other")) {
        let label = format!("{command:?}");
        let (reply, changed) = state.handle(command, &policy(), NOW + 5);
        assert_eq!(reply, declined(Declined::NotFound), "{label}");
        assert_eq!(changed, NOTHING, "{label}");
        assert_eq!(state, before, "{label}");
    }
}

#[test]
fn a_member_edits_and_rotates_a_key_another_key_made_and_gives_it_any_scope() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 52);
    let ada = member_actor("acme");
    let mut state = created(&record, &hash);
    let edit = Command::Edit {
        webhook_secret: fresh_webhook_secret(),
        actor: ada.clone(),
        edit: KeyEdit {
            scopes: Some(vec!["admin".into()]),
            ..KeyEdit::default()
        },
    };
    let (reply, _) = state.handle(edit, &policy(), NOW + 1);
    assert_eq!(key_of(&reply).scopes, ["admin"]);
    let next = new_secret(901);
    let rotate = Command::Rotate {
        actor: ada,
        secret: next.hash,
        hint: next.hint,
        grace_ms: 0,
    };
    let (reply, _) = state.handle(rotate, &policy(), NOW + 2);
    assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
}

#[test]
fn a_member_undoes_its_own_or_a_keys_revocation_but_not_the_root_tokens() {
    let ada = member_actor("acme");
    let activate = Command::Activate { actor: ada.clone() };
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 53);
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW);
    let (reply, changed) = state.handle(activate.clone(), &policy(), NOW + 1);
    assert_eq!(
        reply,
        declined(Declined::Stronger(Stronger::RevokedByOther))
    );
    assert_eq!(changed, NOTHING);
    for revoker in [
        ada,
        key_actor("acme", &["api_keys:delete"], limits(10, 1000)),
    ] {
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(
            Command::Revoke {
                actor: revoker.clone(),
            },
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).revoked_by, Some(revoker.principal()));
        let (reply, _) = state.handle(activate.clone(), &policy(), NOW + 1);
        assert_eq!(key_of(&reply).revoked_at, None, "{revoker:?}");
    }
}
