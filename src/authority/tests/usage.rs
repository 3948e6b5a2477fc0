//! Usage counts and what reaches the key directory, and when.

use super::*;

// --- usage and the directory ----------------------------------------------------

#[test]
fn usage_counts_admitted_requests_only() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
        18,
    );
    let stranger = reader().hash;
    let mut state = created(&record, &hash);
    for (command, at) in [
        (read_contacts(&hash), NOW),
        (read_contacts(&hash), NOW + 1),
        // Throttled, refused for scope, unknown: none of these is usage.
        (read_contacts(&hash), NOW + 2),
        (admit(&hash, "contacts", Action::Write), NOW + 3),
        (read_contacts(&stranger), NOW + 4),
        (read_contacts(&hash), NOW + 2 * HOUR_MS),
    ] {
        state.handle(command, &policy(), at);
    }
    let usage_at = |state: &mut KeyState, at: u64| match state.handle(get(), &policy(), at).0 {
        Reply::Key { usage, .. } => usage,
        other => panic!("expected a key, got {other:?}"),
    };
    let all = UsageTotals {
        last_24h: 3,
        last_7d: 3,
        last_30d: 3,
    };
    assert_eq!(usage_at(&mut state, NOW + 2 * HOUR_MS), all);
    // Hour by hour: a day later only the request two hours in is within 24 hours.
    assert_eq!(
        usage_at(&mut state, NOW + 25 * HOUR_MS),
        UsageTotals { last_24h: 1, ..all }
    );
    assert_eq!(
        usage_at(&mut state, NOW + 31 * MS_PER_DAY),
        UsageTotals::default()
    );
}

#[test]
fn the_usage_history_is_written_exactly_when_the_hour_rolls_over() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let next_hour = (NOW / HOUR_MS + 1) * HOUR_MS;
    for (at, rolls_over) in [
        // The first hour opens; nothing has finished yet.
        (NOW, false),
        (NOW + 1, false),
        (next_hour - 1, false),
        (next_hour, true),
        (next_hour + 5, false),
        (next_hour + 3 * HOUR_MS, true),
    ] {
        let history = state.history.clone();
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
        assert!(is_admitted(&reply), "{reply:?}");
        assert_eq!(changed.history, rolls_over, "at {at}");
        // Never a changed history that is not written.
        assert!(changed.history || state.history == history, "at {at}");
    }
    assert_eq!(
        state.history,
        serde_json::from_value::<UsageHistory>(json!([
            {"hour": NOW / HOUR_MS, "count": 3},
            {"hour": NOW / HOUR_MS + 1, "count": 2},
        ]))
        .unwrap()
    );
    assert_eq!(
        state.counters.this_hour,
        Some(HourCount {
            hour: NOW / HOUR_MS + 4,
            count: 1
        })
    );
}

#[test]
fn last_use_reaches_the_directory_at_first_admit_then_at_most_once_a_minute() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    for (at, expected) in [
        (NOW, DirectorySync::Soon),
        (NOW + 1, DirectorySync::None),
        (NOW + LAST_USED_SYNC_MS - 1, DirectorySync::None),
        (NOW + LAST_USED_SYNC_MS, DirectorySync::Soon),
        (NOW + LAST_USED_SYNC_MS + 1, DirectorySync::None),
        (NOW + 200_000, DirectorySync::Soon),
    ] {
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
        assert!(is_admitted(&reply), "{reply:?}");
        assert_eq!(changed.directory, expected, "at {at}");
    }
    // A refusal sends nothing, and does not move the clock.
    let (_, changed) = state.handle(
        admit(&hash, "contacts", Action::Write),
        &policy(),
        NOW + 300_000,
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state.last_used_synced_at, Some(NOW + 200_000));
    // After a restart (the sync time is in memory only) the next admit sends again.
    state.last_used_synced_at = None;
    let (_, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 300_001);
    assert_eq!(changed.directory, DirectorySync::Soon);
}

#[test]
fn every_admin_change_reaches_the_directory_now_and_reads_never() {
    let Fixture { record, hash } = reader();
    let mut state = KeyState::default();
    let rename = KeyEdit {
        name: Some("Renamed".into()),
        ..KeyEdit::default()
    };
    let next = new_secret(19);
    for (label, command, expected) in [
        ("create", create(&record, &hash), DirectorySync::Now),
        ("get", get(), DirectorySync::None),
        ("edit", edit(rename.clone()), DirectorySync::Now),
        ("same edit", edit(rename), DirectorySync::None),
        ("revoke", revoke(), DirectorySync::Now),
        ("revoke again", revoke(), DirectorySync::None),
        ("activate", activate(), DirectorySync::Now),
        ("activate again", activate(), DirectorySync::None),
        ("rotate", rotate(&next, 0), DirectorySync::Now),
        ("delete", delete(), DirectorySync::Now),
        ("delete again", delete(), DirectorySync::None),
    ] {
        let (_, changed) = state.handle(command, &policy(), NOW);
        assert_eq!(changed.directory, expected, "{label}");
        assert_eq!(
            changed.record,
            expected == DirectorySync::Now && label != "delete",
            "{label}"
        );
    }
}
