//! The key directory's rows as its Durable Object reads them back (a record's JSON and its
//! `last_used_at`), and the commands and replies it exchanges. Nothing panics, a key's
//! public view is JSON and never holds a secret's hash, and rows survive the round trip.
//!
//! Input: `record`, `last_used_at`, `command` and `reply`, split at 0xFF bytes.
#![no_main]

use keygate::authority::key_object;
use keygate::directory::{DirectoryCommand, DirectoryReply, Listed};
use keygate::record::KeyRecord;
use keygate_fuzz::{assert_round_trips, demo_policy, parts, stored, NOW_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    if let Some(command) = parts.get(2).and_then(|b| stored::<DirectoryCommand>(b)) {
        let _ = command;
    }
    if let Some(reply) = parts.get(3).and_then(|b| stored::<DirectoryReply>(b)) {
        let _ = reply;
    }
    let Some(record) = parts.first().and_then(|b| stored::<KeyRecord>(b)) else {
        return;
    };
    let last_used_at = parts
        .get(1)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| t.trim().parse::<u64>().ok());
    let _ = record.status(NOW_MS);
    let _ = record.effective_limits(demo_policy().default_limits());
    let object = key_object(&record, last_used_at, demo_policy(), NOW_MS).to_string();
    // A hash's hex can only be there if the record itself (its name, metadata...) held one.
    let written = serde_json::to_string(&record).expect("a record serialises");
    assert!(
        !object.contains("\"hex\"") || written.contains("\"hex\""),
        "a key's view shows a hash"
    );
    assert_round_trips(&Listed {
        record,
        last_used_at,
    });
});
