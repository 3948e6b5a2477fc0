//! Lease mode at the key's authority: what [`Command::Lease`] lends, and when it does not.

use super::*;
use crate::lease::{LeaseAsk, LeaseTerms, Unused};
use std::num::NonZeroU32;

/// The demo policy with `[limits] enforcement = "lease"`.
fn lease_policy() -> Policy {
    let text = include_str!("../../../policies/demo.toml").replace(
        "[limits]\n",
        "[limits]\nenforcement = \"lease\"\nlease_seconds = 2\n",
    );
    Policy::from_toml(&text).expect("the demo policy in lease mode parses")
}

fn lease(hash: &KeyHash, want: u32, returned: Vec<Unused>) -> Command {
    Command::Lease {
        key_hash: hash.clone(),
        resource: "contacts".into(),
        action: Action::Read,
        queueing: Some(Queueing::default()),
        ask: LeaseAsk {
            want: NonZeroU32::new(want).expect("want is not zero"),
            returned,
        },
    }
}

fn leased(reply: Reply) -> (LeaseTerms, LimitHeaders) {
    match reply {
        Reply::Leased {
            lease,
            limit_headers,
            ..
        } => (lease, limit_headers),
        other => panic!("expected a lease, got {other:?}"),
    }
}

fn unused(terms: &LeaseTerms, count: u32) -> Unused {
    Unused {
        second: terms.second,
        day: terms.day,
        count,
    }
}

fn usage_at(state: &mut KeyState, at: u64) -> UsageTotals {
    match state.handle(get(), &policy(), at).0 {
        Reply::Key { usage, .. } => usage,
        other => panic!("expected a key, got {other:?}"),
    }
}

#[test]
fn a_key_in_lease_mode_gets_a_lease_counted_at_once() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (reply, changed) = state.handle(lease(&hash, 10, Vec::new()), &lease_policy(), NOW);
    assert!(
        matches!(
            reply,
            Reply::Leased {
                lease_ms: 2_000,
                ..
            }
        ),
        "the policy's lease time: {reply:?}"
    );
    let (terms, headers) = leased(reply);
    assert_eq!(terms.count.get(), 10);
    assert_eq!(terms.valid_ms, 2_000);
    assert_eq!(terms.second, (NOW + 1_999) / 1_000);
    assert_eq!(header(&headers, "X-RateLimit-Remaining"), Some("110"));
    assert!(changed.counters);
    assert_eq!(usage_at(&mut state, NOW).last_24h, 10);
}

#[test]
fn a_key_in_exact_mode_is_admitted_exactly_whatever_it_asks() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(lease(&hash, 10, Vec::new()), &policy(), NOW);
    match reply {
        Reply::Admitted { limit_headers, .. } => {
            assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("119"));
        }
        other => panic!("expected an exact admission, got {other:?}"),
    }
}

#[test]
fn what_comes_back_is_free_again_and_not_usage() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let (terms, _) = leased(
        state
            .handle(lease(&hash, 10, Vec::new()), &lease_policy(), NOW)
            .0,
    );
    // Handed back with the next ask...
    let (next, headers) = leased(
        state
            .handle(
                lease(&hash, 1, vec![unused(&terms, 4)]),
                &lease_policy(),
                NOW + 500,
            )
            .0,
    );
    assert_eq!(header(&headers, "X-RateLimit-Remaining"), Some("113"));
    // ... or on its own, when the isolate's traffic stopped.
    let (reply, changed) = state.handle(
        Command::HandBack {
            returned: vec![unused(&next, 1)],
        },
        &lease_policy(),
        NOW + 3_000,
    );
    assert_eq!(reply, Reply::HandedBack);
    assert!(changed.counters);
    assert_eq!(usage_at(&mut state, NOW + 3_000).last_24h, 6);
}

#[test]
fn no_lease_outlives_the_key() {
    let Fixture { mut record, hash } = reader();
    record.expires_at = Some(NOW + 300);
    let mut state = created(&record, &hash);
    let (terms, _) = leased(
        state
            .handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW)
            .0,
    );
    assert_eq!(terms.valid_ms, 300);
}

#[test]
fn no_lease_outlives_a_rotated_out_secret() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(rotate(&new_secret(1), 700), &policy(), NOW);
    let (terms, _) = leased(
        state
            .handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW)
            .0,
    );
    assert_eq!(terms.valid_ms, 700);
}

#[test]
fn a_revoked_key_gets_no_lease() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    leased(
        state
            .handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW)
            .0,
    );
    state.handle(revoke(), &policy(), NOW + 10);
    let (reply, _) = state.handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW + 20);
    assert!(
        matches!(
            reply,
            Reply::Refused {
                refusal: Refusal::Revoked,
                ..
            }
        ),
        "{reply:?}"
    );
}

#[test]
fn a_scope_edit_ends_the_leases_of_the_routes_it_takes_away() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    leased(
        state
            .handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW)
            .0,
    );
    let no_contacts = KeyEdit {
        scopes: Some(vec!["email:send".into()]),
        ..KeyEdit::default()
    };
    state.handle(edit(no_contacts), &policy(), NOW + 10);
    let (reply, _) = state.handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW + 20);
    assert!(
        matches!(
            reply,
            Reply::Refused {
                refusal: Refusal::Scope { .. },
                ..
            }
        ),
        "{reply:?}"
    );
}

#[test]
fn a_full_window_refuses_a_lease_as_it_refuses_a_request() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
        18,
    );
    let mut state = created(&record, &hash);
    let counts: Vec<u32> = (0..2)
        .map(|_| {
            leased(
                state
                    .handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW)
                    .0,
            )
            .0
            .count
            .get()
        })
        .collect();
    assert_eq!(counts, [1, 1], "half of what is left, rounded up, each");
    let (reply, _) = state.handle(lease(&hash, 5, Vec::new()), &lease_policy(), NOW);
    match reply {
        Reply::Refused {
            refusal:
                Refusal::Throttled {
                    window,
                    retry_after_secs,
                },
            ..
        } => {
            assert_eq!(window, Window::Minute);
            // Both leases counted in the second of their last millisecond, NOW + 1.999 s.
            assert_eq!(retry_after_secs, 61);
        }
        other => panic!("expected a throttle, got {other:?}"),
    }
}

#[test]
fn a_lease_ask_crosses_the_boundary_as_json() {
    let command = lease(&reader().hash, 3, Vec::new());
    // As text, the way the Worker sends it (the tag first, as serde_tag_first reads it).
    let text = serde_json::to_string(&command).expect("a command serialises");
    assert!(text.starts_with(r#"{"op":"lease","#), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("is JSON");
    assert_eq!(json["ask"], json!({"want": 3, "returned": []}));
    let back: Command = serde_json::from_str(&text).expect("and reads back");
    assert!(matches!(back, Command::Lease { .. }));
}

#[test]
fn a_key_chooses_its_own_enforcement_over_the_policys() {
    let leasing = fixture(
        r#"{"name": "Leasing", "scopes": ["contacts:read"], "enforcement": "lease"}"#,
        31,
    );
    let mut state = created(&leasing.record, &leasing.hash);
    // The demo policy enforces exactly; this key leases.
    let (terms, _) = leased(
        state
            .handle(lease(&leasing.hash, 3, Vec::new()), &policy(), NOW)
            .0,
    );
    assert_eq!(terms.count.get(), 3);
    let key = key_object(&leasing.record, None, &policy(), NOW);
    assert_eq!(
        key["enforcement"],
        json!({"mode": "lease", "source": "key"})
    );

    let exact = fixture(
        r#"{"name": "Exact", "scopes": ["contacts:read"], "enforcement": "exact"}"#,
        32,
    );
    let mut state = created(&exact.record, &exact.hash);
    let (reply, _) = state.handle(lease(&exact.hash, 3, Vec::new()), &lease_policy(), NOW);
    assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
    let follows = key_object(&reader().record, None, &lease_policy(), NOW);
    assert_eq!(
        follows["enforcement"],
        json!({"mode": "lease", "source": "policy"})
    );
}

#[test]
fn an_edit_changes_the_enforcement_and_null_follows_the_policy_again() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    let to_lease = KeyEdit {
        enforcement: Some(Some(crate::lease::Enforcement::Lease)),
        ..KeyEdit::default()
    };
    state.handle(edit(to_lease), &policy(), NOW);
    leased(state.handle(lease(&hash, 2, Vec::new()), &policy(), NOW).0);
    let back = KeyEdit {
        enforcement: Some(None),
        ..KeyEdit::default()
    };
    state.handle(edit(back), &policy(), NOW + 1);
    let (reply, _) = state.handle(lease(&hash, 2, Vec::new()), &policy(), NOW + 2);
    assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
}
