//! Create, revoke, get, edit and activate, each in force for the very next request.

use super::*;

// --- create -----------------------------------------------------------------------

#[test]
fn create_on_empty_state_stores_record_one_live_secret_and_fresh_counters() {
    let Fixture { record, hash } = reader();
    let mut state = KeyState::default();
    let (reply, changed) = state.handle(create(&record, &hash), &policy(), NOW);
    assert_eq!(
        reply,
        Reply::Key {
            webhook_secret: None,
            record: record.clone(),
            last_used_at: None,
            usage: UsageTotals::default(),
        }
    );
    // A fresh object has no counters stored, so the defaults need no write.
    assert_eq!(changed, ADMIN);
    assert_eq!(state.record.as_ref(), Some(&record));
    assert_eq!(
        state.secrets,
        [Secret {
            hash: hash.clone(),
            valid_until: None,
            serial: 1,
        }]
    );
    assert_eq!(state.counters, Counters::default());
    assert_eq!(state.history, UsageHistory::default());
    assert_eq!(state.last_used_synced_at, None);
}

#[test]
fn create_twice_is_already_exists_and_changes_nothing() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(read_contacts(&hash), &policy(), NOW);
    let before = state.clone();
    let other = fixture(r#"{"name": "Intruder", "scopes": ["admin"]}"#, 2);
    let (reply, changed) = state.handle(create(&other.record, &other.hash), &policy(), NOW + 1);
    assert_eq!(reply, Reply::AlreadyExists);
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
    // The intruder's secret was not added to the key.
    let (reply, _) = state.handle(read_contacts(&other.hash), &policy(), NOW + 2);
    assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
}

#[test]
fn a_record_and_its_debug_output_never_carry_a_secrets_hash() {
    let Fixture { record, hash } = reader();
    let hex = &hash.index_name()[3..];
    assert_eq!(hex.len(), 64);
    let text = serde_json::to_string(&record).unwrap();
    assert!(!text.contains(hex), "the hash leaked: {text}");
    let mut state = created(&record, &hash);
    state.handle(rotate(&new_secret(1), MS_PER_DAY), &policy(), NOW);
    let (reply, _) = state.handle(get(), &policy(), NOW);
    let text = serde_json::to_string(&reply).unwrap();
    assert!(!text.contains(hex), "the hash leaked: {text}");
    let debug = format!("{state:?} {:?}", rotate(&new_secret(2), 0));
    assert!(!debug.contains(hex), "the hash leaked: {debug}");
    assert!(!debug.contains(&new_secret(2).hash.index_name()[3..]));
}

// --- revoke and get -------------------------------------------------------------

#[test]
fn revoke_sets_revoked_at_once_and_bumps_the_version() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(read_contacts(&hash), &policy(), NOW + 5);
    let used_once = UsageTotals {
        last_24h: 1,
        last_7d: 1,
        last_30d: 1,
    };

    let (reply, changed) = state.handle(revoke(), &policy(), NOW + 10);
    let mut revoked = record.clone();
    revoked.revoked_at = Some(NOW + 10);
    revoked.revoked_by = Some(Principal::Root);
    revoked.version = record.version + 1;
    assert_eq!(
        reply,
        Reply::Key {
            webhook_secret: None,
            record: revoked.clone(),
            last_used_at: Some(NOW + 5),
            usage: used_once,
        }
    );
    assert_eq!(changed, ADMIN);
    assert_eq!(state.record.as_ref(), Some(&revoked));

    // Idempotent: the first revocation time and the version stay, nothing is written.
    let before = state.clone();
    let (reply, changed) = state.handle(revoke(), &policy(), NOW + 20);
    assert_eq!(
        reply,
        Reply::Key {
            webhook_secret: None,
            record: revoked.clone(),
            last_used_at: Some(NOW + 5),
            usage: used_once,
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn revoke_on_an_empty_state_is_not_found() {
    let mut state = KeyState::default();
    let (reply, changed) = state.handle(revoke(), &policy(), NOW);
    assert_eq!(reply, declined(Declined::NotFound));
    assert_eq!(changed, NOTHING);
    assert_eq!(state, KeyState::default());
}

#[test]
fn get_returns_the_record_last_use_and_usage() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (reply, changed) = state.handle(get(), &policy(), NOW);
    assert_eq!(
        reply,
        Reply::Key {
            webhook_secret: None,
            record: record.clone(),
            last_used_at: None,
            usage: UsageTotals::default(),
        }
    );
    assert_eq!(changed, NOTHING);
    state.handle(read_contacts(&hash), &policy(), NOW + 42);
    let (reply, changed) = state.handle(get(), &policy(), NOW + 50);
    assert_eq!(
        reply,
        Reply::Key {
            webhook_secret: None,
            record,
            last_used_at: Some(NOW + 42),
            usage: UsageTotals {
                last_24h: 1,
                last_7d: 1,
                last_30d: 1
            },
        }
    );
    assert_eq!(changed, NOTHING);
}

#[test]
fn every_lifecycle_command_on_an_empty_state_is_not_found() {
    for command in lifecycle_commands(&Actor::Root) {
        let mut state = KeyState::default();
        let label = format!("{command:?}");
        assert_eq!(
            state.handle(command, &policy(), NOW),
            (declined(Declined::NotFound), NOTHING),
            "{label}"
        );
        assert_eq!(state, KeyState::default(), "{label}");
    }
}

// --- edit -----------------------------------------------------------------------

/// A key with every optional field set, so an edit can clear each one.
fn full() -> Fixture {
    let body = format!(
        r#"{{"name": "Full", "scopes": ["contacts:read", "tags:read"], "expires_at": "{}",
            "limits": {{"per_minute": 10, "per_day": 1000}}, "metadata": {{"team": "growth"}},
            "rejection_webhook": "https://hooks.example.com/r"}}"#,
        format_rfc3339(NOW + MS_PER_DAY)
    );
    fixture(&body, 14)
}

#[test]
fn a_record_stored_before_secrets_were_apart_yields_its_hash() {
    let Fixture { record, hash } = reader();
    let mut old = serde_json::to_value(&record).unwrap();
    old["key_hash"] = serde_json::to_value(&hash).unwrap();
    let adopted = legacy_secret(&old.to_string()).expect("the old hash");
    assert!(adopted.matches(&hash));
    // And the old form still reads as today's record.
    assert_eq!(serde_json::from_value::<KeyRecord>(old).unwrap(), record);
    assert!(legacy_secret(&serde_json::to_string(&record).unwrap()).is_none());
    assert!(legacy_secret("not json").is_none());
}

#[test]
fn index_names_in_replies_are_redacted_in_debug_output() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(Command::Delete { actor: Actor::Root }, &policy(), NOW);
    let debug = format!("{reply:?}");
    assert!(debug.contains("Deleted"), "{debug}");
    assert!(!debug.contains(&hash.index_name()[3..]), "{debug}");
}

#[test]
fn a_new_expiry_for_an_expired_key_is_a_reactivation() {
    let expires = NOW + 1_000;
    let body = format!(
        r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 31);
    let extend = || {
        edit(KeyEdit {
            expires_at: Some(None),
            ..KeyEdit::default()
        })
    };
    let no_reactivation =
        Policy::from_toml(include_str!("../../../policies/seed-002-read-write.toml")).unwrap();
    let mut state = created(&record, &hash);
    // Before it expires, a new expiry is an ordinary edit.
    let (reply, _) = state.handle(extend(), &no_reactivation, expires - 1);
    assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");

    let mut state = created(&record, &hash);
    let before = state.clone();
    let (reply, changed) = state.handle(extend(), &no_reactivation, expires);
    assert_eq!(
        reply,
        declined(Declined::NotAllowed {
            action: LifecycleAction::Reactivate
        })
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
    // Where re-activation is allowed, it brings the key back.
    let (reply, _) = state.handle(extend(), &policy(), expires);
    assert_eq!(key_of(&reply).status(expires), Status::Active);
}

#[test]
fn a_key_that_a_key_sets_back_to_defaults_gets_them_as_its_own_limits() {
    let Fixture { mut record, hash } = full();
    record.created_by = Some(Principal::Key {
        key_id: manager_id(),
    });
    let mut state = created(&record, &hash);
    let manager = key_actor(
        &record.workspace,
        &["api_keys:write", "contacts:read", "tags:read"],
        limits(120, 50_000),
    );
    let (reply, _) = state.handle(
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor: manager,
            edit: KeyEdit {
                limits: Some(LimitsEdit::PolicyDefaults),
                ..KeyEdit::default()
            },
        },
        &policy(),
        NOW,
    );
    // Pinned: a later rise of the policy's defaults cannot lift it above its manager.
    assert_eq!(key_of(&reply).limits, Some(limits(120, 50_000)));
}

#[test]
fn an_edit_of_one_limit_window_keeps_the_other() {
    let Fixture { record, hash } = full();
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(
        edit(KeyEdit {
            limits: Some(LimitsEdit::Set {
                per_minute: Some(5),
                per_day: None,
            }),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).limits, Some(limits(5, 1000)));
    // A window that no longer fits the other one's current value changes nothing.
    let before = state.clone();
    let (reply, changed) = state.handle(
        edit(KeyEdit {
            limits: Some(LimitsEdit::Set {
                per_minute: None,
                per_day: Some(4),
            }),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert!(
        matches!(&reply, Reply::Declined { declined: Declined::InvalidLimits { message } } if message.contains("per_minute")),
        "{reply:?}"
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
    // From the policy's defaults, the other window is the policy's.
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(
        edit(KeyEdit {
            limits: Some(LimitsEdit::Set {
                per_minute: None,
                per_day: Some(1_000),
            }),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).limits, Some(limits(120, 1_000)));
}

#[test]
fn a_test_key_finds_no_live_key_to_revoke_or_delete() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let Actor::Key { mut grantee } = key_actor("default", &["admin"], limits(120, 50_000)) else {
        unreachable!()
    };
    grantee.environment = Environment::Test;
    let tester = Actor::Key { grantee };
    let before = state.clone();
    for command in [
        Command::Revoke {
            actor: tester.clone(),
        },
        Command::Delete {
            actor: tester.clone(),
        },
    ] {
        let (reply, changed) = state.handle(command, &policy(), NOW);
        // As if absent, like another workspace's key: a test key never learns of it.
        assert_eq!(reply, declined(Declined::NotFound));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
}

#[test]
fn an_edit_replaces_each_field_given_and_bumps_the_version() {
    let Fixture { record, hash } = full();
    let changed_by = |change: fn(&mut KeyRecord)| {
        let mut expected = record.clone();
        change(&mut expected);
        expected.version = record.version + 1;
        expected
    };
    let mut metadata = Map::new();
    metadata.insert("team".into(), json!("sales"));
    metadata.insert("n".into(), json!(2));
    let cases = [
        (
            KeyEdit {
                name: Some("Renamed".into()),
                ..KeyEdit::default()
            },
            changed_by(|r| r.name = "Renamed".into()),
        ),
        (
            KeyEdit {
                scopes: Some(vec!["email:send".into()]),
                ..KeyEdit::default()
            },
            changed_by(|r| r.scopes = vec!["email:send".into()]),
        ),
        (
            KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: Some(5),
                    per_day: Some(50),
                }),
                ..KeyEdit::default()
            },
            changed_by(|r| r.limits = Some(limits(5, 50))),
        ),
        (
            KeyEdit {
                expires_at: Some(Some(NOW + 2 * MS_PER_DAY)),
                ..KeyEdit::default()
            },
            changed_by(|r| r.expires_at = Some(NOW + 2 * MS_PER_DAY)),
        ),
        (
            KeyEdit {
                metadata: Some(metadata.clone()),
                ..KeyEdit::default()
            },
            {
                let mut expected = record.clone();
                expected.metadata = metadata.clone();
                expected.version += 1;
                expected
            },
        ),
        (
            KeyEdit {
                rejection_webhook: Some(Some("https://hooks.example.com/other".into())),
                ..KeyEdit::default()
            },
            changed_by(|r| r.rejection_webhook = Some("https://hooks.example.com/other".into())),
        ),
    ];
    for (change, expected) in cases {
        let mut state = created(&record, &hash);
        let before = state.clone();
        let label = format!("{change:?}");
        let (reply, changed) = state.handle(edit(change), &policy(), NOW + 1);
        assert_eq!(key_of(&reply), &expected, "{label}");
        assert_eq!(changed, ADMIN, "{label}");
        assert_eq!(state.record.as_ref(), Some(&expected), "{label}");
        // Only the record moved: secrets, counters and usage stay as they were.
        assert_eq!(state.secrets, before.secrets, "{label}");
        assert_eq!(state.counters, before.counters, "{label}");
        assert_eq!(state.history, before.history, "{label}");
    }
}

#[test]
fn null_clears_each_optional_field() {
    let Fixture { record, hash } = full();
    assert!(record.expires_at.is_some() && record.limits.is_some());
    assert!(record.rejection_webhook.is_some() && !record.metadata.is_empty());
    let mut state = created(&record, &hash);
    let clears = [
        KeyEdit {
            limits: Some(LimitsEdit::PolicyDefaults),
            ..KeyEdit::default()
        },
        KeyEdit {
            expires_at: Some(None),
            ..KeyEdit::default()
        },
        KeyEdit {
            rejection_webhook: Some(None),
            ..KeyEdit::default()
        },
        KeyEdit {
            metadata: Some(Map::new()),
            ..KeyEdit::default()
        },
    ];
    for (i, clear) in clears.into_iter().enumerate() {
        let (reply, changed) = state.handle(edit(clear), &policy(), NOW + 1);
        assert_eq!(changed, ADMIN);
        assert_eq!(key_of(&reply).version, record.version + 1 + i as u64);
    }
    let cleared = state.record.clone().unwrap();
    assert_eq!(cleared.limits, None);
    assert_eq!(cleared.expires_at, None);
    assert_eq!(cleared.rejection_webhook, None);
    assert_eq!(cleared.metadata, Map::new());
    // Everything else is as it was.
    assert_eq!(
        (&cleared.name, &cleared.scopes, cleared.created_at),
        (&record.name, &record.scopes, record.created_at)
    );
    // Back on the policy's defaults.
    assert_eq!(
        cleared.effective_limits(policy().default_limits()),
        limits(120, 50_000)
    );
}

#[test]
fn an_edit_that_changes_nothing_keeps_the_version_and_writes_nothing() {
    let Fixture { record, hash } = full();
    let mut state = created(&record, &hash);
    state.handle(read_contacts(&hash), &policy(), NOW);
    let before = state.clone();
    for same in [
        KeyEdit::default(),
        KeyEdit {
            name: Some(record.name.clone()),
            scopes: Some(record.scopes.clone()),
            ..KeyEdit::default()
        },
        KeyEdit {
            limits: Some(match record.limits {
                Some(own) => LimitsEdit::Set {
                    per_minute: Some(u64::from(own.per_minute.get())),
                    per_day: Some(u64::from(own.per_day.get())),
                },
                None => LimitsEdit::PolicyDefaults,
            }),
            expires_at: Some(record.expires_at),
            metadata: Some(record.metadata.clone()),
            rejection_webhook: Some(record.rejection_webhook.clone()),
            ..KeyEdit::default()
        },
    ] {
        let label = format!("{same:?}");
        let (reply, changed) = state.handle(edit(same), &policy(), NOW + 1);
        assert_eq!(key_of(&reply), &record, "{label}");
        assert_eq!(changed, NOTHING, "{label}");
        assert_eq!(state, before, "{label}");
    }
    // Clearing what is already clear is no change either.
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let before = state.clone();
    let (reply, changed) = state.handle(
        edit(KeyEdit {
            limits: Some(LimitsEdit::PolicyDefaults),
            expires_at: Some(None),
            rejection_webhook: Some(None),
            metadata: Some(Map::new()),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).version, record.version);
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn each_real_change_bumps_the_version_by_one() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    for (i, name) in ["One", "Two", "Two", "Three"].into_iter().enumerate() {
        state.handle(
            edit(KeyEdit {
                name: Some(name.into()),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW + i as u64,
        );
    }
    state.handle(revoke(), &policy(), NOW + 10);
    state.handle(activate(), &policy(), NOW + 11);
    // Three names (one repeated), a revoke and an activate.
    assert_eq!(state.record.unwrap().version, record.version + 5);
}

#[test]
fn an_edit_of_scopes_is_in_force_for_the_next_admit() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Writer", "scopes": ["contacts:write", "tags:read"]}"#,
        30,
    );
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(admit(&hash, "contacts", Action::Write), &policy(), NOW);
    assert!(is_admitted(&reply), "{reply:?}");
    state.handle(
        edit(KeyEdit {
            scopes: Some(vec!["tags:read".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW + 1,
    );
    let (reply, _) = state.handle(admit(&hash, "contacts", Action::Write), &policy(), NOW + 2);
    let refusal = refusal_of(&reply).0.clone();
    assert_eq!(
        refusal,
        Refusal::Scope {
            required_scope: "contacts:write".into(),
            approval_scope: None,
        }
    );
    assert_eq!(GatewayError::from(refusal).status(), 403);
    let (reply, _) = state.handle(admit(&hash, "tags", Action::Read), &policy(), NOW + 3);
    assert_eq!(grantee_of(&reply).scopes, ["tags:read"]);
}

#[test]
fn an_edit_of_the_name_is_in_force_for_the_next_admit() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    assert_eq!(grantee_of(&reply).key_name, "Reporting script");
    state.handle(
        edit(KeyEdit {
            name: Some("Nightly report".into()),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW + 1,
    );
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 2);
    assert_eq!(grantee_of(&reply).key_name, "Nightly report");
}

#[test]
fn lowered_limits_throttle_sooner_from_the_next_admit() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    for i in 0..5 {
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + i);
        assert!(is_admitted(&reply), "{reply:?}");
    }
    // At the policy's 120 a minute there would be room for 115 more; at 6 there is one.
    state.handle(
        edit(KeyEdit {
            limits: Some(LimitsEdit::Set {
                per_minute: Some(6),
                per_day: Some(100),
            }),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW + 10,
    );
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 11);
    let Reply::Admitted {
        grantee,
        limit_headers,
    } = &reply
    else {
        panic!("expected Admitted, got {reply:?}");
    };
    assert_eq!(grantee.limits, limits(6, 100));
    assert_eq!(header(limit_headers, "X-RateLimit-Remaining"), Some("0"));
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 12);
    assert!(
        matches!(
            refusal_of(&reply).0,
            Refusal::Throttled {
                window: Window::Minute,
                ..
            }
        ),
        "{reply:?}"
    );
    // Below what was already used: throttled at once, never a negative remainder.
    state.handle(
        edit(KeyEdit {
            limits: Some(LimitsEdit::Set {
                per_minute: Some(2),
                per_day: Some(100),
            }),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW + 13,
    );
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 14);
    let (refusal, headers) = refusal_of(&reply);
    assert!(matches!(refusal, Refusal::Throttled { .. }), "{refusal:?}");
    assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("0"));
}

#[test]
fn an_edit_of_the_expiry_is_in_force_for_the_next_admit() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let expires = NOW + 10_000;
    state.handle(
        edit(KeyEdit {
            expires_at: Some(Some(expires)),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires - 1);
    assert_eq!(grantee_of(&reply).expires_at, Some(expires));
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires);
    assert_eq!(refusal_of(&reply).0, &Refusal::Expired);
    // Clearing the expiry brings an expired key back.
    state.handle(
        edit(KeyEdit {
            expires_at: Some(None),
            ..KeyEdit::default()
        }),
        &policy(),
        expires + 1,
    );
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires + 2);
    assert_eq!(grantee_of(&reply).expires_at, None);
}

// --- activate -------------------------------------------------------------------

#[test]
fn activate_undoes_a_revoke_and_restores_admission() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW + 1);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 2);
    assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);

    let (reply, changed) = state.handle(activate(), &policy(), NOW + 3);
    let mut active = record.clone();
    active.version = record.version + 2;
    assert_eq!(key_of(&reply), &active);
    assert_eq!(changed, ADMIN);
    assert_eq!(state.record.as_ref(), Some(&active));
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 4);
    assert!(is_admitted(&reply), "{reply:?}");

    // Activating an active key changes nothing.
    let before = state.clone();
    let (reply, changed) = state.handle(activate(), &policy(), NOW + 5);
    assert_eq!(key_of(&reply), &active);
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

// --- what the policy's [lifecycle] table turns off --------------------------------

#[test]
fn reactivation_is_declined_where_a_revoke_is_final() {
    for (name, policy, body) in [
        (
            "seed-002",
            seed_002(),
            r#"{"name": "Caller", "scopes": ["calls:read"]}"#,
        ),
        (
            "seed-003",
            seed_003(),
            r#"{"name": "Cases", "scopes": ["cases:read"]}"#,
        ),
    ] {
        let Fixture { record, hash } = fixture_under(&policy, body, 40);
        let mut state = created(&record, &hash);
        let (reply, changed) = state.handle(revoke(), &policy, NOW + 1);
        assert!(key_of(&reply).revoked_at.is_some(), "{name}");
        assert_eq!(changed, ADMIN, "{name}");
        let before = state.clone();
        let (reply, changed) = state.handle(activate(), &policy, NOW + 2);
        assert_eq!(
            reply,
            declined(Declined::NotAllowed {
                action: LifecycleAction::Reactivate
            }),
            "{name}"
        );
        assert_eq!(changed, NOTHING, "{name}");
        assert_eq!(state, before, "{name}");
        let resource = &record.scopes[0][..record.scopes[0].find(':').unwrap()];
        let (reply, _) = state.handle(admit(&hash, resource, Action::Read), &policy, NOW + 3);
        assert_eq!(refusal_of(&reply).0, &Refusal::Revoked, "{name}");
    }
}

#[test]
fn edits_are_declined_where_the_policy_turns_them_off() {
    for (name, policy, body) in [
        (
            "seed-001",
            seed_001(),
            r#"{"name": "Simple", "scopes": ["api:write"]}"#,
        ),
        (
            "seed-003",
            seed_003(),
            r#"{"name": "Cases", "scopes": ["cases:read"]}"#,
        ),
    ] {
        let Fixture { record, hash } = fixture_under(&policy, body, 41);
        let mut state = created(&record, &hash);
        let before = state.clone();
        for change in [
            KeyEdit {
                name: Some("Renamed".into()),
                ..KeyEdit::default()
            },
            // Even an edit that would change nothing is refused as an edit.
            KeyEdit::default(),
        ] {
            let (reply, changed) = state.handle(edit(change), &policy, NOW + 1);
            assert_eq!(
                reply,
                declined(Declined::NotAllowed {
                    action: LifecycleAction::Edit
                }),
                "{name}"
            );
            assert_eq!(changed, NOTHING, "{name}");
            assert_eq!(state, before, "{name}");
        }
    }
}

#[test]
fn where_keys_are_only_created_and_deleted_nothing_else_changes_them() {
    let policy = seed_001();
    let Fixture { record, hash } = fixture_under(
        &policy,
        r#"{"name": "Simple", "scopes": ["api:write"]}"#,
        42,
    );
    let mut state = created(&record, &hash);
    let before = state.clone();
    let next = new_secret(42);
    for (command, action) in [
        (revoke(), LifecycleAction::Revoke),
        (activate(), LifecycleAction::Reactivate),
        (rotate(&next, 0), LifecycleAction::Rotate),
    ] {
        let (reply, changed) = state.handle(command, &policy, NOW + 1);
        assert_eq!(reply, declined(Declined::NotAllowed { action }));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
    // Rotation is off in seed-003 too.
    let seed_003 = seed_003();
    let (reply, _) = state.handle(rotate(&next, 0), &seed_003, NOW + 1);
    assert_eq!(
        reply,
        declined(Declined::NotAllowed {
            action: LifecycleAction::Rotate
        })
    );
    // Get and delete are always offered.
    let (reply, _) = state.handle(get(), &policy, NOW + 2);
    assert_eq!(key_of(&reply), &record);
    let (reply, changed) = state.handle(delete(), &policy, NOW + 3);
    assert!(matches!(reply, Reply::Deleted { .. }), "{reply:?}");
    assert!(changed.wiped);
}
