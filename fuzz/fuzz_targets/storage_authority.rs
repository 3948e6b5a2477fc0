//! A key's Durable Object state as storage hands it back: the record, secrets, counters
//! and usage history, each read with the types and `serde_json::from_str` the edge uses,
//! then one command (as the edge's fetch reads it). Whatever storage held, handling never
//! panics, what is read is written back unchanged, and the reply and the new state survive
//! the trip through JSON.
//!
//! Input: `record`, `secrets`, `counters`, `history`, `command`, `now_ms` and
//! `webhook_secrets`, split at 0xFF
//! bytes; an empty part is a missing value.
#![no_main]

use keygate::authority::{legacy_secret, Command, Counters, KeyState, Reply, Secret};
use keygate::record::KeyRecord;
use keygate::usage::UsageHistory;
use keygate::webhook::secret::WebhookSecrets;
use keygate_fuzz::{assert_round_trips, demo_policy, parts, stored, NOW_MS};
use libfuzzer_sys::fuzz_target;

/// A present part that does not deserialise fails the edge's load (a 500, not a panic).
fn part<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
    bytes: Option<&&[u8]>,
) -> Option<T> {
    match bytes {
        None | Some([]) => Some(T::default()),
        Some(b) => stored(b),
    }
}

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    if let Some(record) = parts.first().and_then(|b| std::str::from_utf8(b).ok()) {
        if let Some(hash) = legacy_secret(record) {
            assert_round_trips(&hash);
        }
    }
    // The edge reads the record as a `KeyRecord` when one is stored, none otherwise.
    let record = match parts.first() {
        None | Some([]) => None,
        Some(b) => match stored::<KeyRecord>(b) {
            Some(record) => Some(record),
            None => return,
        },
    };
    let Some(secrets) = part::<Vec<Secret>>(parts.get(1)) else {
        return;
    };
    let Some(counters) = part::<Counters>(parts.get(2)) else {
        return;
    };
    let Some(history) = part::<UsageHistory>(parts.get(3)) else {
        return;
    };
    let Some(command) = parts.get(4).and_then(|b| stored::<Command>(b)) else {
        return;
    };
    let Some(webhook_secrets) = part::<WebhookSecrets>(parts.get(6)) else {
        return;
    };
    let now_ms = parts
        .get(5)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(NOW_MS);

    let mut state = KeyState {
        record,
        secrets,
        webhook_secrets,
        counters,
        history,
        last_used_synced_at: None,
    };
    let (reply, changed) = state.handle(command, demo_policy(), now_ms);
    assert_round_trips(&reply);
    let read_back: Reply = serde_json::from_str(&serde_json::to_string(&reply).unwrap()).unwrap();
    assert_eq!(read_back, reply);
    if let Reply::Admitted { .. } | Reply::Queued { .. } = reply {
        let record = state.record.as_ref().expect("only a stored key admits");
        assert_eq!(record.revoked_at, None);
        assert!(!changed.wiped);
    }
    if changed.wiped {
        assert_eq!(state.record, None);
    }
    // What the object writes back, it reads back as the same state.
    assert_round_trips(&state.record);
    assert_round_trips(&state.secrets);
    assert_round_trips(&state.webhook_secrets);
    assert_round_trips(&state.counters);
    assert_round_trips(&state.history);
});
