//! Rotation's grace and delete's wipe.

use super::*;

// --- rotate ---------------------------------------------------------------------

#[test]
fn a_rotation_gives_a_new_secret_and_the_old_one_exactly_its_grace() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let next = new_secret(1);
    let grace = 90_000;
    let at = NOW + 1_000;
    let (reply, changed) = state.handle(rotate(&next, grace), &policy(), at);
    let mut rotated = record.clone();
    rotated.hint = next.hint.clone();
    rotated.version = record.version + 1;
    assert_ne!(rotated.hint, record.hint, "the hint shows the new secret");
    assert_eq!(
        reply,
        Reply::Rotated {
            record: rotated.clone(),
            last_used_at: None,
            usage: UsageTotals::default(),
            previous_valid_until: at + grace,
            retired: vec![RetiredSecret {
                index_name: hash.index_name(),
                valid_until: at + grace,
            }],
        }
    );
    assert_eq!(changed, ADMIN);
    assert_eq!(state.record.as_ref(), Some(&rotated));

    for t in [at, at + grace - 1] {
        for secret in [&next.hash, &hash] {
            let (reply, _) = state.handle(read_contacts(secret), &policy(), t);
            assert!(is_admitted(&reply), "{reply:?}");
        }
    }
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), at + grace);
    assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), at + grace);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn a_rotation_with_no_grace_ends_the_old_secret_at_once() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let next = new_secret(2);
    let (reply, _) = state.handle(rotate(&next, 0), &policy(), NOW);
    let Reply::Rotated {
        previous_valid_until,
        retired,
        ..
    } = reply
    else {
        panic!("expected Rotated, got {reply:?}");
    };
    assert_eq!(previous_valid_until, NOW);
    assert_eq!(
        retired,
        [RetiredSecret {
            index_name: hash.index_name(),
            valid_until: NOW
        }]
    );
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW);
    assert!(is_admitted(&reply), "{reply:?}");
    // Only the new secret is kept.
    assert_eq!(state.secrets.len(), 1);
}

#[test]
fn a_rotation_with_no_grace_ends_every_older_grace_too() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (second, third) = (new_secret(3), new_secret(4));
    state.handle(rotate(&second, MS_PER_DAY), &policy(), NOW);
    // A compromised key: rotating again with no grace leaves only the newest secret.
    state.handle(rotate(&third, 0), &policy(), NOW + 1);
    for old in [&hash, &second.hash] {
        let (reply, _) = state.handle(read_contacts(old), &policy(), NOW + 1);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    }
    let (reply, _) = state.handle(read_contacts(&third.hash), &policy(), NOW + 1);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn the_grace_never_outlasts_the_keys_expiry() {
    let expires = NOW + 5_000;
    let body = format!(
        r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 15);
    let mut state = created(&record, &hash);
    let next = new_secret(5);
    let (reply, _) = state.handle(rotate(&next, 60_000), &policy(), NOW);
    let Reply::Rotated {
        previous_valid_until,
        retired,
        ..
    } = reply
    else {
        panic!("expected Rotated, got {reply:?}");
    };
    assert_eq!(previous_valid_until, expires);
    assert_eq!(retired[0].valid_until, expires);
    assert_eq!(state.secrets[0].valid_until, Some(expires));
    // A grace that ends before the expiry is kept as asked.
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(rotate(&next, 4_000), &policy(), NOW);
    assert!(matches!(
        reply,
        Reply::Rotated { previous_valid_until, .. } if previous_valid_until == NOW + 4_000
    ));
}

#[test]
fn no_more_than_max_live_secrets_work_at_once() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let mut issued = vec![hash];
    for round in 0..8u32 {
        // Far enough apart that the checks below never fill a minute.
        let at = NOW + u64::from(round) * 61_000;
        let live_before: Vec<IndexName> = state
            .secrets
            .iter()
            .filter(|s| s.is_live(at))
            .map(|s| s.hash.index_name())
            .collect();
        let next = new_secret(round + 10);
        let (reply, changed) = state.handle(rotate(&next, MS_PER_DAY), &policy(), at);
        assert_eq!(changed, ADMIN);
        let Reply::Rotated { retired, .. } = reply else {
            panic!("expected Rotated, got {reply:?}");
        };
        // Every secret that worked before is named, so its index entry can be dropped.
        let named: Vec<IndexName> = retired.iter().map(|r| r.index_name.clone()).collect();
        assert_eq!(named, live_before, "round {round}");
        if live_before.len() == MAX_LIVE_SECRETS {
            assert_eq!(retired[0].valid_until, at, "the oldest grace ends now");
        }
        assert_eq!(
            retired.last().map(|r| r.valid_until),
            Some(at + MS_PER_DAY),
            "the secret just replaced gets its full grace"
        );
        issued.push(next.hash);

        let working: Vec<usize> = (0..issued.len())
            .filter(|&i| is_admitted(&state.handle(read_contacts(&issued[i]), &policy(), at).0))
            .collect();
        let newest: Vec<usize> =
            (issued.len().saturating_sub(MAX_LIVE_SECRETS)..issued.len()).collect();
        assert_eq!(working, newest, "round {round}");
        assert!(
            state.secrets.len() <= MAX_LIVE_SECRETS,
            "storage stays bounded"
        );
    }
}

#[test]
fn a_rotation_never_resets_a_quota_or_the_usage() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
        16,
    );
    let mut state = created(&record, &hash);
    for at in [NOW, NOW + 100] {
        assert!(is_admitted(
            &state.handle(read_contacts(&hash), &policy(), at).0
        ));
    }
    let counters = state.counters.clone();
    let history = state.history.clone();
    let next = new_secret(6);
    let (reply, changed) = state.handle(rotate(&next, 0), &policy(), NOW + 200);
    let Reply::Rotated {
        last_used_at,
        usage,
        ..
    } = reply
    else {
        panic!("expected Rotated, got {reply:?}");
    };
    assert_eq!(last_used_at, Some(NOW + 100));
    assert_eq!(usage.last_24h, 2);
    assert_eq!(changed, ADMIN);
    assert_eq!(state.counters, counters);
    assert_eq!(state.history, history);

    // The minute is still full for the new secret.
    let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW + 300);
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
    let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW + 60_000);
    assert!(is_admitted(&reply), "{reply:?}");
    let (reply, _) = state.handle(get(), &policy(), NOW + 60_001);
    let Reply::Key {
        last_used_at,
        usage,
        ..
    } = reply
    else {
        panic!("expected a key, got {reply:?}");
    };
    assert_eq!(last_used_at, Some(NOW + 60_000));
    assert_eq!(usage.last_24h, 3);
}

#[test]
fn only_an_active_key_can_be_rotated() {
    let expires = NOW + 5_000;
    let body = format!(
        r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 17);
    let next = new_secret(7);

    let mut revoked = created(&record, &hash);
    revoked.handle(revoke(), &policy(), NOW);
    let mut expired = created(&record, &hash);
    for (mut state, at, status) in [
        (revoked, NOW + 1, Status::Revoked),
        (expired.clone(), expires, Status::Expired),
    ] {
        let before = state.clone();
        let (reply, changed) = state.handle(rotate(&next, 1_000), &policy(), at);
        assert_eq!(reply, declined(Declined::NotActive { status }));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
        let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), at);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    }
    // One millisecond before its expiry the key is still active.
    let (reply, _) = expired.handle(rotate(&next, 1_000), &policy(), expires - 1);
    assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
}

// --- delete ---------------------------------------------------------------------

#[test]
fn delete_wipes_everything_and_names_every_index_entry() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(read_contacts(&hash), &policy(), NOW);
    let (second, third) = (new_secret(8), new_secret(9));
    state.handle(rotate(&second, MS_PER_DAY), &policy(), NOW + 1);
    state.handle(rotate(&third, MS_PER_DAY), &policy(), NOW + 2);
    state.handle(read_contacts(&third.hash), &policy(), NOW + HOUR_MS);
    assert!(!state.history.eq(&UsageHistory::default()));

    let (reply, changed) = state.handle(delete(), &policy(), NOW + HOUR_MS + 1);
    let Reply::Deleted { id, index_names } = reply else {
        panic!("expected Deleted, got {reply:?}");
    };
    assert_eq!(id, record.id);
    for live in [&hash, &second.hash, &third.hash] {
        assert!(
            index_names.contains(&live.index_name()),
            "{index_names:?} misses a live secret"
        );
    }
    assert_eq!(
        changed,
        Changed {
            wiped: true,
            directory: DirectorySync::Now,
            ..NOTHING
        }
    );
    assert_eq!(state, KeyState::default());

    // The id now answers like one that never existed.
    for secret in [&hash, &second.hash, &third.hash] {
        let (reply, changed) = state.handle(read_contacts(secret), &policy(), NOW + HOUR_MS + 2);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
        assert_eq!(changed, NOTHING);
    }
    for command in lifecycle_commands(&Actor::Root) {
        assert_eq!(
            state.handle(command, &policy(), NOW + HOUR_MS + 3),
            (declined(Declined::NotFound), NOTHING)
        );
    }
    assert_eq!(state, KeyState::default());
}

#[test]
fn a_revoked_or_expired_key_can_be_deleted() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW);
    let (reply, changed) = state.handle(delete(), &policy(), NOW + 1);
    assert_eq!(
        reply,
        Reply::Deleted {
            id: record.id.clone(),
            index_names: vec![hash.index_name()]
        }
    );
    assert!(changed.wiped);
    let mut expiring = record.clone();
    expiring.expires_at = Some(NOW + 1);
    let mut state = created(&expiring, &hash);
    let (reply, _) = state.handle(delete(), &policy(), NOW + 2);
    assert!(matches!(reply, Reply::Deleted { .. }), "{reply:?}");
    assert_eq!(state, KeyState::default());
}
