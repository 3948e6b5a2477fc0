//! Properties over random sequences of admits, revokes, activations and rotations.

use super::*;

// --- property: limits are exact, revocation is final until re-activated, rotation ----
// --- moves the secret but never the quota, refusals change nothing -----------------

#[derive(Clone, Debug)]
enum Op {
    /// Admit with the key's current secret after `jump_ms`.
    Right {
        jump_ms: u64,
    },
    /// Admit with the secret the latest rotation replaced, after `jump_ms`.
    Previous {
        jump_ms: u64,
    },
    /// Admit with another key's hash after `jump_ms`.
    Wrong {
        jump_ms: u64,
    },
    Revoke {
        jump_ms: u64,
    },
    Activate {
        jump_ms: u64,
    },
    /// Rotate after `jump_ms`, giving the replaced secret `grace_ms`.
    Rotate {
        jump_ms: u64,
        grace_ms: u64,
    },
}

fn jump() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => Just(0u64),
        20 => 0u64..1_500,
        8 => 0u64..65_000,
        2 => 0u64..MS_PER_DAY,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let grace = prop_oneof![Just(0u64), 0u64..5_000, 0u64..120_000];
    prop_oneof![
        40 => jump().prop_map(|jump_ms| Op::Right { jump_ms }),
        6 => jump().prop_map(|jump_ms| Op::Previous { jump_ms }),
        5 => jump().prop_map(|jump_ms| Op::Wrong { jump_ms }),
        1 => jump().prop_map(|jump_ms| Op::Revoke { jump_ms }),
        1 => jump().prop_map(|jump_ms| Op::Activate { jump_ms }),
        2 => (jump(), grace).prop_map(|(jump_ms, grace_ms)| Op::Rotate { jump_ms, grace_ms }),
    ]
}

/// Admits counted in the 60 s window ending at second `second`, and in the UTC day of `now`.
fn in_windows(admitted: &[u64], now: u64) -> (u64, u64) {
    let second = now / 1_000;
    let in_minute = admitted
        .iter()
        .filter(|&&at| at / 1_000 + 60 > second && at / 1_000 <= second)
        .count() as u64;
    let in_day = admitted
        .iter()
        .filter(|&&at| at / MS_PER_DAY == now / MS_PER_DAY)
        .count() as u64;
    (in_minute, in_day)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn admits_never_exceed_either_window_and_stop_at_revoke(
        per_minute in 1u64..5,
        extra_per_day in 0u64..12,
        start_offset in 0u64..MS_PER_DAY,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let per_day = per_minute + extra_per_day;
        let body = format!(
            r#"{{"name": "Prop", "scopes": ["contacts:read"], "limits": {{"per_minute": {per_minute}, "per_day": {per_day}}}}}"#
        );
        let Fixture { record, hash } = fixture(&body, 20);
        let wrong = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 21).hash;
        let policy = policy();
        // Start anywhere in a day, so windows straddle UTC midnight.
        let mut now = NOW / MS_PER_DAY * MS_PER_DAY + start_offset;
        let mut state = KeyState::default();
        state.handle(create(&record, &hash), &policy, now);

        // The model.
        let mut current = hash;
        let mut previous: Option<(KeyHash, u64)> = None;
        let mut rotations = 0u32;
        let mut revoked_at: Option<u64> = None;
        let mut admitted: Vec<u64> = Vec::new();
        let mut open_hour: Option<u64> = None;
        let mut synced_at: Option<u64> = None;
        for op in ops {
            let jump_ms = match op {
                Op::Right { jump_ms }
                | Op::Previous { jump_ms }
                | Op::Wrong { jump_ms }
                | Op::Revoke { jump_ms }
                | Op::Activate { jump_ms }
                | Op::Rotate { jump_ms, .. } => jump_ms,
            };
            now += jump_ms;
            let before = state.clone();
            match op {
                Op::Revoke { .. } => {
                    let (reply, changed) = state.handle(revoke(), &policy, now);
                    // Idempotent: a second revoke keeps the first time and writes nothing.
                    prop_assert_eq!(changed, if revoked_at.is_some() { NOTHING } else { ADMIN });
                    let first = *revoked_at.get_or_insert(now);
                    prop_assert_eq!(key_of(&reply).revoked_at, Some(first));
                    prop_assert_eq!(&state.counters, &before.counters);
                }
                Op::Activate { .. } => {
                    let (reply, changed) = state.handle(activate(), &policy, now);
                    prop_assert_eq!(key_of(&reply).revoked_at, None);
                    prop_assert_eq!(changed, if revoked_at.is_some() { ADMIN } else { NOTHING });
                    prop_assert_eq!(&state.counters, &before.counters);
                    revoked_at = None;
                }
                Op::Rotate { grace_ms, .. } => {
                    rotations += 1;
                    let next = new_secret(rotations);
                    let (reply, changed) = state.handle(rotate(&next, grace_ms), &policy, now);
                    prop_assert_eq!(&state.counters, &before.counters, "a rotation moved the counters");
                    prop_assert_eq!(&state.history, &before.history);
                    if revoked_at.is_some() {
                        prop_assert_eq!(reply, declined(Declined::NotActive { status: Status::Revoked }));
                        prop_assert_eq!(changed, NOTHING);
                        prop_assert_eq!(&state, &before);
                    } else {
                        let Reply::Rotated { previous_valid_until, .. } = reply else {
                            return Err(TestCaseError::fail(format!("not rotated: {reply:?}")));
                        };
                        prop_assert_eq!(previous_valid_until, now + grace_ms);
                        prop_assert_eq!(changed, ADMIN);
                        previous = Some((std::mem::replace(&mut current, next.hash), now + grace_ms));
                    }
                }
                Op::Right { .. } | Op::Previous { .. } | Op::Wrong { .. } => {
                    let (presented, live) = match &op {
                        Op::Right { .. } => (current.clone(), true),
                        Op::Previous { .. } => match &previous {
                            Some((old, until)) => (old.clone(), now < *until),
                            None => continue,
                        },
                        _ => (wrong.clone(), false),
                    };
                    let (reply, changed) = state.handle(read_contacts(&presented), &policy, now);
                    match &reply {
                        Reply::Admitted { .. } => {
                            prop_assert!(live, "a dead secret admitted: {:?}", op);
                            prop_assert!(revoked_at.is_none(), "admitted after revoke");
                            let rolls_over = open_hour.is_some_and(|hour| now / HOUR_MS > hour);
                            let syncs = synced_at.is_none_or(|at| now >= at + LAST_USED_SYNC_MS);
                            prop_assert_eq!(changed, Changed {
                                counters: true,
                                history: rolls_over,
                                directory: if syncs { DirectorySync::Soon } else { DirectorySync::None },
                                ..NOTHING
                            });
                            open_hour = Some(now / HOUR_MS);
                            if syncs {
                                synced_at = Some(now);
                            }
                            prop_assert_eq!(state.counters.last_used_at, Some(now));
                            prop_assert_eq!(&state.record, &before.record);
                            admitted.push(now);
                            // The reference: the admit just made fits both windows, checked naively.
                            let (in_minute, in_day) = in_windows(&admitted, now);
                            prop_assert!(in_minute <= per_minute, "{} admits in 60 s, limit {}", in_minute, per_minute);
                            prop_assert!(in_day <= per_day, "{} admits in a day, limit {}", in_day, per_day);
                        }
                        Reply::Refused { refusal, .. } => {
                            prop_assert_eq!(changed, NOTHING);
                            prop_assert_eq!(&state, &before, "a refusal changed the state");
                            let expected = if !live {
                                matches!(refusal, Refusal::Unknown)
                            } else if revoked_at.is_some() {
                                matches!(refusal, Refusal::Revoked)
                            } else {
                                // Exact: a refusal of a live key means one window really was full.
                                let (in_minute, in_day) = in_windows(&admitted, now);
                                prop_assert!(
                                    in_minute >= per_minute || in_day >= per_day,
                                    "refused with room: {} in minute, {} in day", in_minute, in_day
                                );
                                matches!(refusal, Refusal::Throttled { .. })
                            };
                            prop_assert!(expected, "{:?} for {:?}", refusal, op);
                        }
                        _ => prop_assert!(false, "unexpected {:?} for {:?}", reply, op),
                    }
                }
            }
            prop_assert!(state.secrets.len() <= MAX_LIVE_SECRETS);
        }

        // Every 60 s window (by second) and every UTC day, checked over the whole run.
        for &end in &admitted {
            let end_sec = end / 1_000;
            for last in [end_sec, end_sec + 59] {
                let in_window = admitted
                    .iter()
                    .filter(|&&at| at / 1_000 <= last && at / 1_000 + 60 > last)
                    .count() as u64;
                prop_assert!(in_window <= per_minute);
            }
            let same_day = admitted
                .iter()
                .filter(|&&at| at / MS_PER_DAY == end / MS_PER_DAY)
                .count() as u64;
            prop_assert!(same_day <= per_day);
        }
        // Usage counts exactly the admitted requests, hour by hour.
        let (reply, _) = state.handle(get(), &policy, now);
        let Reply::Key { usage, last_used_at, .. } = reply else {
            return Err(TestCaseError::fail(format!("not a key: {reply:?}")));
        };
        let hour = now / HOUR_MS;
        let within = |hours: u64| admitted.iter().filter(|&&at| at / HOUR_MS + hours > hour).count() as u64;
        prop_assert_eq!(usage, UsageTotals { last_24h: within(24), last_7d: within(7 * 24), last_30d: within(30 * 24) });
        prop_assert_eq!(last_used_at, admitted.last().copied());
    }
}

// --- who may undo what: creators, revokers, the secret behind a queued request ----

#[test]
fn only_the_creator_or_the_root_token_edits_or_rotates_a_key() {
    // Made by the root token, within the manager's grants: still not the manager's.
    let Fixture { record, hash } = fixture(
        r#"{"name": "Peer", "scopes": ["contacts:read"], "workspace": "acme", "limits": {"per_minute": 10, "per_day": 1000}}"#,
        60,
    );
    let manager = key_actor(
        "acme",
        &["api_keys:write", "contacts:write"],
        limits(60, 10_000),
    );
    let next = new_secret(60);
    let mut state = created(&record, &hash);
    let before = state.clone();
    for command in [
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor: manager.clone(),
            edit: KeyEdit {
                scopes: Some(vec!["contacts:read".into()]),
                ..KeyEdit::default()
            },
        },
        Command::Rotate {
            actor: manager.clone(),
            secret: next.hash.clone(),
            hint: next.hint.clone(),
            grace_ms: 0,
        },
    ] {
        let (reply, changed) = state.handle(command, &policy(), NOW);
        assert_eq!(reply, declined(Declined::Stronger(Stronger::NotCreator)));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
    // The root token may; so may the creator.
    let (reply, _) = state.handle(rotate(&next, 0), &policy(), NOW);
    assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 61);
    let mut own = created(&record, &hash);
    let (reply, _) = own.handle(
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor: manager,
            edit: KeyEdit {
                name: Some("Renamed".into()),
                ..KeyEdit::default()
            },
        },
        &policy(),
        NOW,
    );
    assert_eq!(key_of(&reply).name, "Renamed");
}

#[test]
fn a_revocation_records_its_revoker_and_only_an_equal_undoes_it() {
    let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 62);
    let manager = key_actor(
        "acme",
        &["api_keys:delete", "contacts:read"],
        limits(60, 10_000),
    );
    let mut state = created(&record, &hash);
    // The root token's revocation: the manager may not undo it.
    let (reply, _) = state.handle(revoke(), &policy(), NOW);
    assert_eq!(key_of(&reply).revoked_by, Some(Principal::Root));
    let before = state.clone();
    let undo = Command::Activate {
        actor: manager.clone(),
    };
    let (reply, changed) = state.handle(undo.clone(), &policy(), NOW + 1);
    assert_eq!(
        reply,
        declined(Declined::Stronger(Stronger::RevokedByOther))
    );
    assert_eq!((changed, &state), (NOTHING, &before));
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 2);
    assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
    // A revocation stored before revokers were recorded counts as the root token's.
    if let Some(record) = state.record.as_mut() {
        record.revoked_by = None;
    }
    let (reply, _) = state.handle(undo.clone(), &policy(), NOW + 3);
    assert_eq!(
        reply,
        declined(Declined::Stronger(Stronger::RevokedByOther))
    );
    // The root token undoes it; then the manager's own revocation it may undo.
    let (reply, _) = state.handle(activate(), &policy(), NOW + 4);
    assert_eq!(key_of(&reply).revoked_by, None);
    let (reply, _) = state.handle(
        Command::Revoke {
            actor: manager.clone(),
        },
        &policy(),
        NOW + 5,
    );
    assert_eq!(key_of(&reply).revoked_by, Some(manager.principal()));
    let (reply, changed) = state.handle(undo, &policy(), NOW + 6);
    assert_eq!((key_of(&reply).revoked_at, changed), (None, ADMIN));
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 7);
    assert!(is_admitted(&reply), "{reply:?}");
}

/// The serial an admit from the data plane reports for the secret `hash`.
fn queued_serial(state: &mut KeyState, hash: &KeyHash, now: u64) -> u64 {
    let command = admit_queueable(hash, "contacts", Action::Write, None);
    match state.handle(command, &policy(), now).0 {
        Reply::Queued { secret, .. } => secret,
        other => panic!("not queued: {other:?}"),
    }
}

fn recheck_with(
    state: &mut KeyState,
    secret: Option<u64>,
    now: u64,
) -> Result<(), SubmitterFailure> {
    let command = Command::Recheck {
        resource: "contacts".into(),
        action: Action::Write,
        secret,
    };
    match state.handle(command, &policy(), now) {
        (Reply::Rechecked { standing }, _) => standing.map(|_| ()),
        (other, _) => panic!("not a recheck answer: {other:?}"),
    }
}

#[test]
fn a_request_queued_by_a_secret_that_no_longer_works_is_not_approvable() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
        63,
    );
    let mut state = created(&record, &hash);
    let first = queued_serial(&mut state, &hash, NOW);
    assert_eq!(recheck_with(&mut state, Some(first), NOW), Ok(()));
    // Rotated with a grace: the old secret, and what it queued, still work until it ends.
    let next = new_secret(64);
    state.handle(rotate(&next, 1_000), &policy(), NOW + 1);
    let second = queued_serial(&mut state, &next.hash, NOW + 2);
    assert_ne!(first, second);
    assert_eq!(recheck_with(&mut state, Some(first), NOW + 999), Ok(()));
    assert_eq!(
        recheck_with(&mut state, Some(first), NOW + 1_001),
        Err(SubmitterFailure::SecretRetired)
    );
    // Approvals stored before serials existed are checked as before.
    assert_eq!(recheck_with(&mut state, None, NOW + 1_001), Ok(()));
    // A revoke and a re-activation retire what every secret queued before.
    assert_eq!(recheck_with(&mut state, Some(second), NOW + 1_002), Ok(()));
    state.handle(revoke(), &policy(), NOW + 1_003);
    state.handle(activate(), &policy(), NOW + 1_004);
    assert_eq!(
        recheck_with(&mut state, Some(second), NOW + 1_005),
        Err(SubmitterFailure::SecretRetired)
    );
    // The secret itself works again, under a serial nothing was queued with.
    let third = queued_serial(&mut state, &next.hash, NOW + 1_006);
    assert!(third > second);
    assert_eq!(recheck_with(&mut state, Some(third), NOW + 1_007), Ok(()));
}

#[test]
fn stored_records_and_secrets_from_before_load_with_unknown_creator_and_fresh_serials() {
    let Fixture { record, hash } = reader();
    let mut json = serde_json::to_value(&record).expect("serializes");
    if let Some(fields) = json.as_object_mut() {
        fields.remove("created_by");
        fields.remove("revoked_by");
    }
    let old: KeyRecord = serde_json::from_value(json).expect("an old record loads");
    assert_eq!((old.created_by, old.revoked_by), (None, None));

    let next = new_secret(65);
    let stored = json!([
        {"hash": hash, "valid_until": NOW + 10},
        {"hash": next.hash, "valid_until": null},
    ]);
    let mut secrets: Vec<Secret> = serde_json::from_value(stored).expect("old secrets load");
    assert!(secrets.iter().all(|s| s.serial == 0));
    number_secrets(&mut secrets);
    assert_eq!(secrets.iter().map(|s| s.serial).collect::<Vec<_>>(), [1, 2]);
    // Numbered once, they keep their serials.
    let numbered = secrets.clone();
    number_secrets(&mut secrets);
    assert_eq!(secrets, numbered);
}
