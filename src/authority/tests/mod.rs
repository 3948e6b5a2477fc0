mod webhook_secret;

use super::*;
use crate::admin::{parse_create, DEFAULT_WORKSPACE};
use crate::delegation::{Actor, Overreach, Stronger};
use crate::key::{hash_key, ApiKey, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
use crate::key::{Environment, IndexName, KeyHash, KeyId};
use crate::limits::{Limits, Window};
use crate::policy::{Action, LifecycleAction, Policy};
use crate::problem::GatewayError;
use crate::record::{Grantee, KeyRecord, Principal, Status};
use crate::timestamp::{format_rfc3339, MS_PER_DAY};
use crate::usage::{HourCount, HOUR_MS};
use crate::usage::{UsageHistory, UsageTotals};
use crate::webhook::secret::{WebhookSecret, WebhookSecrets};
use proptest::prelude::*;
use serde_json::json;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// 2030-03-17T17:46:40Z: mid-day, so a test's first minute never crosses UTC midnight.
const NOW: u64 = 1_900_000_000_000;

fn policy() -> Policy {
    Policy::from_toml(include_str!("../../../policies/demo.toml")).expect("demo policy parses")
}

/// No edit, revoke, reactivate or rotate.
fn seed_001() -> Policy {
    Policy::from_toml(include_str!("../../../policies/seed-001-simple.toml")).expect("seed parses")
}

/// Revoke, edit and rotate, but a revoke is final.
fn seed_002() -> Policy {
    Policy::from_toml(include_str!("../../../policies/seed-002-read-write.toml"))
        .expect("seed parses")
}

/// Revoke only.
fn seed_003() -> Policy {
    Policy::from_toml(include_str!("../../../policies/seed-003-modules.toml")).expect("seed parses")
}

fn secret() -> HashingSecret {
    HashingSecret::new(b"test-hashing-secret-0123456789abcdef".to_vec())
}

/// A key created the way the admin API creates one: validated body, fresh id and secret.
struct Fixture {
    record: KeyRecord,
    hash: KeyHash,
}

fn fixture(body: &str, seed: u8) -> Fixture {
    fixture_under(&policy(), body, seed)
}

fn fixture_under(policy: &Policy, body: &str, seed: u8) -> Fixture {
    let new_key = parse_create(body.as_bytes(), policy, NOW, true).expect("valid body");
    let key = ApiKey::generate(
        policy.key_prefix(),
        new_key.environment,
        &[seed; KEY_RANDOM_BYTES],
    );
    let hash = hash_key(&secret(), &key);
    let id = KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]);
    let record = new_key.into_record(id, &key, NOW, DEFAULT_WORKSPACE, Principal::Root, None);
    Fixture { record, hash }
}

fn reader() -> Fixture {
    fixture(
        r#"{"name": "Reporting script", "scopes": ["contacts:read"]}"#,
        1,
    )
}

/// A key's next secret, drawn as the admin API draws one for a rotation: hash and hint.
struct NewSecret {
    hash: KeyHash,
    hint: String,
}

fn new_secret(n: u32) -> NewSecret {
    let mut random = [0xA5; KEY_RANDOM_BYTES];
    random[..4].copy_from_slice(&n.to_le_bytes());
    let key = ApiKey::generate("kg", Environment::Live, &random);
    NewSecret {
        hash: hash_key(&secret(), &key),
        hint: key.hint(),
    }
}

/// A state holding `record` with `secret` as its one secret, created at `NOW`.
fn created(record: &KeyRecord, secret: &KeyHash) -> KeyState {
    let mut state = KeyState::default();
    let (reply, _) = state.handle(create(record, secret), &policy(), NOW);
    assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");
    state
}

/// The webhook secret the admin API draws for every create and edit.
fn fresh_webhook_secret() -> WebhookSecret {
    WebhookSecret::generate(&[0x5A; crate::webhook::secret::WEBHOOK_SECRET_RANDOM_BYTES])
}

fn create(record: &KeyRecord, secret: &KeyHash) -> Command {
    Command::Create {
        webhook_secret: fresh_webhook_secret(),
        record: Box::new(record.clone()),
        secret: secret.clone(),
    }
}

fn admit(hash: &KeyHash, resource: &str, action: Action) -> Command {
    Command::Admit {
        key_hash: hash.clone(),
        resource: resource.to_string(),
        action,
        queueing: None,
    }
}

/// An admit from the data plane, where a request may wait for approval.
fn admit_queueable(
    hash: &KeyHash,
    resource: &str,
    action: Action,
    declared_body_bytes: Option<u64>,
) -> Command {
    Command::Admit {
        key_hash: hash.clone(),
        resource: resource.to_string(),
        action,
        queueing: Some(Queueing {
            declared_body_bytes,
        }),
    }
}

fn read_contacts(hash: &KeyHash) -> Command {
    admit(hash, "contacts", Action::Read)
}

fn get() -> Command {
    Command::Get { actor: Actor::Root }
}

fn edit(edit: KeyEdit) -> Command {
    Command::Edit {
        webhook_secret: fresh_webhook_secret(),
        actor: Actor::Root,
        edit,
    }
}

fn revoke() -> Command {
    Command::Revoke { actor: Actor::Root }
}

fn activate() -> Command {
    Command::Activate { actor: Actor::Root }
}

fn rotate(next: &NewSecret, grace_ms: u64) -> Command {
    Command::Rotate {
        actor: Actor::Root,
        secret: next.hash.clone(),
        hint: next.hint.clone(),
        grace_ms,
    }
}

fn delete() -> Command {
    Command::Delete { actor: Actor::Root }
}

/// Every lifecycle command (not create or admit) as `actor` would send it.
fn lifecycle_commands(actor: &Actor) -> Vec<Command> {
    let next = new_secret(900);
    vec![
        Command::Get {
            actor: actor.clone(),
        },
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor: actor.clone(),
            edit: KeyEdit {
                name: Some("Taken over".into()),
                ..KeyEdit::default()
            },
        },
        Command::Revoke {
            actor: actor.clone(),
        },
        Command::Activate {
            actor: actor.clone(),
        },
        Command::Rotate {
            actor: actor.clone(),
            secret: next.hash,
            hint: next.hint,
            grace_ms: 0,
        },
        Command::Delete {
            actor: actor.clone(),
        },
    ]
}

fn limits(per_minute: u64, per_day: u64) -> Limits {
    Limits::new(per_minute, per_day).expect("valid limits")
}

/// The id of every [`key_actor`].
fn manager_id() -> KeyId {
    KeyId::generate(&[200; KEY_ID_RANDOM_BYTES])
}

/// A key acting on keys, as its own authority admitted it.
fn key_actor(workspace: &str, scopes: &[&str], own: Limits) -> Actor {
    Actor::Key {
        grantee: Grantee {
            key_id: manager_id(),
            key_name: "Manager".into(),
            workspace: workspace.into(),
            environment: Environment::Live,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            limits: own,
            expires_at: None,
            created_by: None,
            family: None,
        },
    }
}

fn header<'a>(headers: &'a LimitHeaders, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `t` parameter of one window in the `RateLimit` field; `None` when absent (t = 0).
fn reset_of(headers: &LimitHeaders, window: Window) -> Option<u64> {
    let field = header(headers, "RateLimit").expect("RateLimit header");
    let prefix = format!("\"{}\";", window.policy_name());
    let item = field
        .split(", ")
        .find(|item| item.starts_with(&prefix))
        .expect("window in RateLimit");
    item.split(';')
        .find_map(|param| param.strip_prefix("t="))
        .map(|t| t.parse().expect("t is a number"))
}

fn assert_limit_headers_present(headers: &LimitHeaders) {
    for name in [
        "RateLimit-Policy",
        "RateLimit",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ] {
        assert!(
            header(headers, name).is_some(),
            "{name} missing: {headers:?}"
        );
    }
}

fn refusal_of(reply: &Reply) -> (&Refusal, &LimitHeaders) {
    match reply {
        Reply::Refused {
            refusal,
            limit_headers,
        } => (refusal, limit_headers),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn grantee_of(reply: &Reply) -> &Grantee {
    match reply {
        Reply::Admitted { grantee, .. } => grantee,
        other => panic!("expected Admitted, got {other:?}"),
    }
}

fn key_of(reply: &Reply) -> &KeyRecord {
    match reply {
        Reply::Key { record, .. } => record,
        other => panic!("expected a key, got {other:?}"),
    }
}

fn declined(declined: Declined) -> Reply {
    Reply::Declined { declined }
}

fn is_admitted(reply: &Reply) -> bool {
    matches!(reply, Reply::Admitted { .. })
}

const NOTHING: Changed = Changed {
    record: false,
    counters: false,
    history: false,
    wiped: false,
    directory: DirectorySync::None,
};

/// What an admin change to a record reports: record and secrets written, the directory
/// told before the admin API answers.
const ADMIN: Changed = Changed {
    record: true,
    counters: false,
    history: false,
    wiped: false,
    directory: DirectorySync::Now,
};

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

// --- admit: the key itself refused ------------------------------------------------

#[test]
fn admit_without_record_is_unknown_with_no_limit_headers() {
    let mut state = KeyState::default();
    let (reply, changed) = state.handle(read_contacts(&reader().hash), &policy(), NOW);
    assert_eq!(
        reply,
        Reply::Refused {
            refusal: Refusal::Unknown,
            limit_headers: Vec::new()
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, KeyState::default());
}

#[test]
fn admit_with_another_keys_hash_is_unknown() {
    let Fixture { record, hash } = reader();
    let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
    let mut state = created(&record, &hash);
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&stranger), &policy(), NOW);
    assert_eq!(
        reply,
        Reply::Refused {
            refusal: Refusal::Unknown,
            limit_headers: Vec::new()
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn wrong_hash_on_a_revoked_key_says_unknown_not_revoked() {
    let Fixture { record, hash } = reader();
    let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW);
    let (reply, _) = state.handle(read_contacts(&stranger), &policy(), NOW + 1);
    assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
}

#[test]
fn admit_on_a_revoked_key_is_revoked_without_limit_headers() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(revoke(), &policy(), NOW + 10);
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 10);
    assert_eq!(
        reply,
        Reply::Refused {
            refusal: Refusal::Revoked,
            limit_headers: Vec::new()
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
}

#[test]
fn a_key_expires_exactly_at_expires_at() {
    let expires = NOW + 60_000;
    let body = format!(
        r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 3);
    assert_eq!(record.expires_at, Some(expires));
    let mut state = created(&record, &hash);

    let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires - 1);
    assert!(is_admitted(&reply), "{reply:?}");
    assert_eq!(record.status(expires - 1), Status::Active);

    let before = state.clone();
    for at in [expires, expires + 1, expires + MS_PER_DAY] {
        assert_eq!(record.status(at), Status::Expired);
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
        assert_eq!(
            reply,
            Reply::Refused {
                refusal: Refusal::Expired,
                limit_headers: Vec::new()
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
}

#[test]
fn revoked_wins_over_expired() {
    let mut record = reader().record;
    record.expires_at = Some(NOW + 5);
    record.revoked_at = Some(NOW + 1);
    assert_eq!(record.status(NOW + 10), Status::Revoked);
    assert_eq!(record.status(NOW), Status::Revoked);
}

// --- admit: scope ---------------------------------------------------------------

#[test]
fn a_denied_scope_names_resource_and_action_shows_limits_and_counts_nothing() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    state.handle(read_contacts(&hash), &policy(), NOW);
    let before = state.clone();
    for (resource, action) in [
        ("contacts", Action::Write),
        ("contacts", Action::Delete),
        ("email", Action::Send),
        ("settings", Action::Read),
        // A target from another policy version: nothing grants it.
        ("gone", Action::Read),
    ] {
        let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
        let (refusal, headers) = refusal_of(&reply);
        assert_eq!(
            refusal,
            &Refusal::Scope {
                required_scope: format!("{resource}:{}", action.as_str()),
                approval_scope: None,
            }
        );
        assert_limit_headers_present(headers);
        // The one request admitted before shows in the headers; nothing more was counted.
        assert_eq!(header(headers, "X-RateLimit-Limit"), Some("120"));
        assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("119"));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }
}

#[test]
fn a_denied_scope_names_its_approval_level_only_where_the_request_could_queue() {
    let Fixture { record, hash } = reader();
    let mut state = created(&record, &hash);
    for (resource, action, approval) in [
        ("contacts", Action::Write, Some("contacts:write-approval")),
        ("contacts", Action::Delete, Some("contacts:delete-approval")),
        ("email", Action::Send, Some("email:send-approval")),
        ("settings", Action::Read, None),
    ] {
        let queueable = admit_queueable(&hash, resource, action, None);
        let (reply, changed) = state.handle(queueable, &policy(), NOW);
        assert_eq!(
            refusal_of(&reply).0,
            &Refusal::Scope {
                required_scope: format!("{resource}:{}", action.as_str()),
                approval_scope: approval.map(str::to_string),
            }
        );
        assert_eq!(changed, NOTHING);
        // Where nothing can be queued (the admin API), no level is named.
        let (reply, _) = state.handle(admit(&hash, resource, action), &policy(), NOW);
        assert!(matches!(
            refusal_of(&reply).0,
            Refusal::Scope {
                approval_scope: None,
                ..
            }
        ));
    }
    // An older authority's refusal, without the field, still reads.
    let older: Refusal =
        serde_json::from_str(r#"{"reason": "scope", "required_scope": "contacts:write"}"#)
            .expect("reads");
    assert_eq!(
        older,
        Refusal::Scope {
            required_scope: "contacts:write".into(),
            approval_scope: None,
        }
    );
}

#[test]
fn an_approval_level_where_nothing_can_queue_is_refused_and_not_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval", "email:send-approval", "ai:use-approval"]}"#,
        4,
    );
    let mut state = created(&record, &hash);
    for (resource, action) in [
        ("contacts", Action::Write),
        ("email", Action::Send),
        ("ai", Action::Use),
    ] {
        let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
        let (refusal, headers) = refusal_of(&reply);
        assert_eq!(
            refusal,
            &Refusal::ApprovalNotOffered {
                required_scope: format!("{resource}:{}", action.as_str())
            }
        );
        assert_limit_headers_present(headers);
        assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("120"));
        assert_eq!(changed, NOTHING);
        assert_eq!(state.counters, Counters::default());
    }
    // The ladder's lower level is held outright.
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn an_approval_level_on_the_data_plane_is_queued_and_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:delete-approval", "email:send-approval", "ai:use-approval"], "limits": {"per_minute": 3, "per_day": 100}}"#,
        4,
    );
    let mut state = created(&record, &hash);
    for (resource, action, remaining) in [
        ("contacts", Action::Delete, "2"),
        ("email", Action::Send, "1"),
        ("ai", Action::Use, "0"),
    ] {
        let command = admit_queueable(&hash, resource, action, Some(10));
        let (reply, changed) = state.handle(command, &policy(), NOW);
        let Reply::Queued {
            grantee,
            limit_headers,
            secret,
        } = &reply
        else {
            panic!("{resource}: not queued: {reply:?}");
        };
        assert_eq!(grantee.key_id, record.id);
        // The key's one secret, named for the approval's later recheck.
        assert_eq!(*secret, 1);
        assert_eq!(
            header(limit_headers, "X-RateLimit-Remaining"),
            Some(remaining)
        );
        assert!(changed.counters);
    }
    // A queued request uses the quota like any other: the fourth is throttled.
    let command = admit_queueable(&hash, "email", Action::Send, None);
    let (reply, _) = state.handle(command, &policy(), NOW);
    assert!(
        matches!(refusal_of(&reply).0, Refusal::Throttled { .. }),
        "{reply:?}"
    );
    // The write level below delete is held outright, so it is admitted, not queued.
    let command = admit_queueable(&hash, "contacts", Action::Write, None);
    let (reply, _) = state.handle(command, &policy(), NOW + 60_000);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn a_declared_body_over_the_queue_limit_is_refused_before_it_is_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
        4,
    );
    let policy = Policy::from_toml(&format!(
        "{}\n[approvals]\nmax_body_bytes = 100\n",
        include_str!("../../../policies/demo.toml")
    ))
    .expect("valid policy");
    let mut state = created(&record, &hash);
    let command = admit_queueable(&hash, "contacts", Action::Write, Some(101));
    let (reply, changed) = state.handle(command, &policy, NOW);
    assert_eq!(
        refusal_of(&reply).0,
        &Refusal::BodyTooLarge { max_bytes: 100 }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state.counters, Counters::default());
    for fits in [Some(100), Some(0), None] {
        let command = admit_queueable(&hash, "contacts", Action::Write, fits);
        let (reply, _) = state.handle(command, &policy, NOW);
        assert!(matches!(reply, Reply::Queued { .. }), "{fits:?}: {reply:?}");
    }
}

#[test]
fn identify_checks_status_and_limits_but_no_scope() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10}}"#,
        4,
    );
    let mut state = created(&record, &hash);
    let identify = || Command::Identify {
        key_hash: hash.clone(),
    };
    let (reply, changed) = state.handle(identify(), &policy(), NOW);
    assert!(is_admitted(&reply), "{reply:?}");
    assert!(changed.counters, "an identified call is counted");
    let (reply, _) = state.handle(identify(), &policy(), NOW);
    assert!(
        matches!(refusal_of(&reply).0, Refusal::Throttled { .. }),
        "{reply:?}"
    );
    state.handle(Command::Revoke { actor: Actor::Root }, &policy(), NOW);
    let (reply, _) = state.handle(identify(), &policy(), NOW + 60_000);
    assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
}

#[test]
fn a_recheck_sees_the_key_as_it_is_now_and_counts_nothing() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
        4,
    );
    let recheck = || Command::Recheck {
        resource: "contacts".into(),
        action: Action::Write,
        secret: None,
    };
    let standing = |state: &mut KeyState, now| match state.handle(recheck(), &policy(), now) {
        (Reply::Rechecked { standing }, changed) => {
            assert_eq!(changed, NOTHING);
            standing.map(|grantee| grantee.key_id)
        }
        (other, _) => panic!("not a recheck answer: {other:?}"),
    };
    let mut state = created(&record, &hash);
    assert_eq!(standing(&mut state, NOW), Ok(record.id.clone()));
    assert_eq!(state.counters, Counters::default());
    // Raised to the write level: still allowed.
    state.handle(
        edit(KeyEdit {
            scopes: Some(vec!["contacts:write".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(standing(&mut state, NOW), Ok(record.id.clone()));
    // Lowered to read: the grant is lost.
    state.handle(
        edit(KeyEdit {
            scopes: Some(vec!["contacts:read".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(
        standing(&mut state, NOW),
        Err(SubmitterFailure::ScopeLost {
            required_scope: "contacts:write".into()
        })
    );
    state.handle(
        edit(KeyEdit {
            expires_at: Some(Some(NOW + 10)),
            scopes: Some(vec!["contacts:write-approval".into()]),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW,
    );
    assert_eq!(
        standing(&mut state, NOW + 10),
        Err(SubmitterFailure::KeyExpired)
    );
    state.handle(Command::Revoke { actor: Actor::Root }, &policy(), NOW);
    assert_eq!(standing(&mut state, NOW), Err(SubmitterFailure::KeyRevoked));
    assert_eq!(
        standing(&mut KeyState::default(), NOW),
        Err(SubmitterFailure::KeyDeleted)
    );
}

// --- admit: allowed and throttled ------------------------------------------------

#[test]
fn an_allowed_request_names_the_grantee_and_is_counted() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Zapier", "scopes": ["contacts:write", "tags:read"], "workspace": "acme"}"#,
        5,
    );
    let mut state = created(&record, &hash);
    let at = NOW + 1_234;
    let (reply, changed) = state.handle(admit(&hash, "contacts", Action::Read), &policy(), at);
    let Reply::Admitted {
        grantee,
        limit_headers,
    } = reply
    else {
        panic!("expected Admitted, got {reply:?}");
    };
    assert_eq!(
        grantee,
        Grantee {
            key_id: record.id.clone(),
            key_name: "Zapier".into(),
            workspace: "acme".into(),
            environment: Environment::Live,
            scopes: vec!["contacts:write".into(), "tags:read".into()],
            // The limits in force: the policy's defaults, as the key has none of its own.
            limits: limits(120, 50_000),
            expires_at: None,
            created_by: Some(Principal::Root),
            // Made by the root token: it heads its own family.
            family: Some(record.id.clone()),
        }
    );
    assert_limit_headers_present(&limit_headers);
    assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("119"));
    assert_eq!(
        header(&limit_headers, "RateLimit-Policy"),
        Some(r#""minute";q=120;w=60, "day";q=50000;w=86400"#)
    );
    // The first request ever opens a usage hour (no finished hour to write yet) and
    // sends last_used_at to the directory.
    assert_eq!(
        changed,
        Changed {
            counters: true,
            history: false,
            directory: DirectorySync::Soon,
            ..NOTHING
        }
    );
    assert_eq!(state.counters.last_used_at, Some(at));
    assert_eq!(
        state.record.as_ref(),
        Some(&record),
        "the record is untouched"
    );
}

#[test]
fn the_grantee_carries_the_keys_own_limits_and_expiry() {
    let expires = NOW + MS_PER_DAY;
    let body = format!(
        r#"{{"name": "Small", "scopes": ["contacts:read"], "limits": {{"per_minute": 3, "per_day": 7}},
            "expires_at": "{}", "environment": "test"}}"#,
        format_rfc3339(expires)
    );
    let Fixture { record, hash } = fixture(&body, 6);
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    let grantee = grantee_of(&reply);
    assert_eq!(grantee.limits, limits(3, 7));
    assert_eq!(grantee.expires_at, Some(expires));
    assert_eq!(grantee.environment, Environment::Test);
    assert_eq!(grantee.workspace, DEFAULT_WORKSPACE);
}

#[test]
fn per_key_limits_replace_the_policy_defaults() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 3, "per_day": 7}}"#,
        6,
    );
    let mut state = created(&record, &hash);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
    let Reply::Admitted { limit_headers, .. } = reply else {
        panic!("expected Admitted, got {reply:?}");
    };
    assert_eq!(
        header(&limit_headers, "RateLimit-Policy"),
        Some(r#""minute";q=3;w=60, "day";q=7;w=86400"#)
    );
    assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("2"));
}

#[test]
fn a_throttled_minute_is_not_counted_and_resets_no_earlier_than_retry_after() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
        7,
    );
    let mut state = created(&record, &hash);
    for at in [NOW, NOW + 500] {
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), at);
        assert!(is_admitted(&reply), "{reply:?}");
    }
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 1_000);
    let (refusal, headers) = refusal_of(&reply);
    let Refusal::Throttled {
        window,
        retry_after_secs,
    } = refusal.clone()
    else {
        panic!("expected Throttled, got {refusal:?}");
    };
    assert_eq!(window, Window::Minute);
    assert_eq!(retry_after_secs, 59);
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before, "a throttled request is not counted");
    assert_limit_headers_present(headers);
    assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("0"));
    let reset: u64 = header(headers, "X-RateLimit-Reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= retry_after_secs, "{reset} < {retry_after_secs}");
    let t = reset_of(headers, Window::Minute).expect("t for the exhausted minute");
    assert!(t >= retry_after_secs, "t={t} < {retry_after_secs}");

    // At Retry-After the same request passes.
    let retry_at = NOW + 1_000 + retry_after_secs * 1_000;
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), retry_at);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn a_throttled_day_waits_until_utc_midnight() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Daily", "scopes": ["contacts:read"], "limits": {"per_minute": 5, "per_day": 5}}"#,
        8,
    );
    let mut state = created(&record, &hash);
    for i in 0..5 {
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + i * 120_000);
        assert!(is_admitted(&reply), "{reply:?}");
    }
    let at = NOW + 3_600_000;
    let before = state.clone();
    let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
    let (refusal, headers) = refusal_of(&reply);
    let midnight = (at / MS_PER_DAY + 1) * MS_PER_DAY;
    let wait = (midnight - at).div_ceil(1_000);
    assert_eq!(
        refusal,
        &Refusal::Throttled {
            window: Window::Day,
            retry_after_secs: wait
        }
    );
    assert_eq!(changed, NOTHING);
    assert_eq!(state, before);
    let reset: u64 = header(headers, "X-RateLimit-Reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= wait);
    assert!(reset_of(headers, Window::Day).unwrap() >= wait);
    let (reply, _) = state.handle(read_contacts(&hash), &policy(), midnight);
    assert!(is_admitted(&reply), "{reply:?}");
}

#[test]
fn refusals_become_the_matching_gateway_errors() {
    assert_eq!(
        GatewayError::from(Refusal::Unknown),
        GatewayError::KeyUnknown
    );
    assert_eq!(
        GatewayError::from(Refusal::Revoked),
        GatewayError::KeyRevoked
    );
    assert_eq!(
        GatewayError::from(Refusal::Expired),
        GatewayError::KeyExpired
    );
    assert_eq!(
        GatewayError::from(Refusal::Scope {
            required_scope: "contacts:write".into(),
            approval_scope: Some("contacts:write-approval".into()),
        }),
        GatewayError::InsufficientScope {
            required_scope: "contacts:write".into(),
            approval_scope: Some("contacts:write-approval".into()),
        }
    );
    assert_eq!(
        GatewayError::from(Refusal::ApprovalNotOffered {
            required_scope: "api_keys:write".into()
        }),
        GatewayError::ApprovalNotOffered {
            required_scope: "api_keys:write".into()
        }
    );
    assert_eq!(
        GatewayError::from(Refusal::BodyTooLarge { max_bytes: 9 }),
        GatewayError::PayloadTooLarge {
            max_bytes: 9,
            bound: crate::problem::BodyBound::Queued
        }
    );
    assert_eq!(
        GatewayError::from(Refusal::Throttled {
            window: Window::Day,
            retry_after_secs: 7
        }),
        GatewayError::RateLimited {
            window: Window::Day,
            retry_after_secs: 7
        }
    );
}

#[test]
fn declines_become_the_matching_gateway_errors() {
    assert_eq!(
        GatewayError::from(Declined::NotFound),
        GatewayError::NotFound
    );
    for action in LifecycleAction::ALL {
        assert_eq!(
            GatewayError::from(Declined::NotAllowed { action }),
            GatewayError::LifecycleNotAllowed { action }
        );
    }
    for status in [Status::Revoked, Status::Expired] {
        assert_eq!(
            GatewayError::from(Declined::NotActive { status }),
            GatewayError::KeyNotActive { status }
        );
    }
    let overreach = Overreach::Limit {
        window: Window::Minute,
        own: 60,
    };
    assert_eq!(
        GatewayError::from(Declined::from(overreach.clone())),
        GatewayError::BeyondOwnGrant(overreach)
    );
    assert_eq!(GatewayError::from(Declined::NotFound).status(), 404);
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

// --- who asks: keys acting on keys ------------------------------------------------

/// A key in workspace `acme` for the actor tests.
/// A key of workspace `acme` that the [`key_actor`] created.
fn acme_key(scopes: &str, seed: u8) -> Fixture {
    let mut made = fixture(
        &format!(
            r#"{{"name": "Acme", "scopes": {scopes}, "workspace": "acme", "limits": {{"per_minute": 10, "per_day": 1000}}}}"#
        ),
        seed,
    );
    made.record.created_by = Some(Principal::Key {
        key_id: manager_id(),
    });
    made
}

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

// --- the public view ------------------------------------------------------------

#[test]
fn key_object_has_exactly_the_documented_fields_and_never_the_hash() {
    let body = format!(
        r#"{{"name": "Full", "scopes": ["contacts:read", "email:send"], "workspace": "acme",
            "expires_at": "{}", "limits": {{"per_minute": 10, "per_day": 1000}},
            "metadata": {{"team": "growth"}}, "rejection_webhook": "https://hooks.example.com/r",
            "environment": "test"}}"#,
        format_rfc3339(NOW + MS_PER_DAY)
    );
    let Fixture { record, hash } = fixture(&body, 10);
    let object = key_object(&record, Some(NOW + 1_000), &policy(), NOW + 2_000);

    let fields: BTreeSet<&str> = object
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let documented: BTreeSet<&str> = [
        "id",
        "name",
        "hint",
        "workspace",
        "scopes",
        "status",
        "environment",
        "created_at",
        "expires_at",
        "last_used_at",
        "limits",
        "metadata",
        "rejection_webhook",
        "revoked_at",
        "revoked_by",
        "created_by",
    ]
    .into_iter()
    .collect();
    assert_eq!(fields, documented);

    let text = serde_json::to_string(&object).unwrap();
    let hex = &hash.index_name()[3..];
    assert_eq!(hex.len(), 64);
    assert!(!text.contains(hex), "the hash leaked: {text}");
    assert!(!text.contains("key_hash"));
    assert!(!text.contains("secret"));

    assert_eq!(object["id"], json!(record.id.as_str()));
    assert_eq!(object["name"], "Full");
    assert_eq!(object["hint"], json!(record.hint));
    assert!(record.hint.starts_with("kg_test_…"));
    assert_eq!(object["workspace"], "acme");
    assert_eq!(object["scopes"], json!(["contacts:read", "email:send"]));
    assert_eq!(object["status"], "active");
    assert_eq!(object["environment"], "test");
    assert_eq!(object["created_at"], json!(format_rfc3339(NOW)));
    assert_eq!(
        object["expires_at"],
        json!(format_rfc3339(NOW + MS_PER_DAY))
    );
    assert_eq!(object["revoked_at"], Value::Null);
    assert_eq!(object["last_used_at"], json!(format_rfc3339(NOW + 1_000)));
    assert_eq!(object["limits"]["per_minute"], 10);
    assert_eq!(object["limits"]["per_day"], 1000);
    assert_eq!(object["limits"]["source"], "key");
    assert_eq!(object["metadata"], json!({"team": "growth"}));
    assert_eq!(object["rejection_webhook"], "https://hooks.example.com/r");
}

#[test]
fn key_object_shows_status_and_policy_limits() {
    let Fixture { record, .. } = reader();
    let object = key_object(&record, None, &policy(), NOW);
    assert_eq!(object["status"], "active");
    assert_eq!(object["expires_at"], Value::Null);
    assert_eq!(object["last_used_at"], Value::Null);
    assert_eq!(object["rejection_webhook"], Value::Null);
    assert_eq!(object["metadata"], json!({}));
    assert_eq!(object["workspace"], "default");
    assert_eq!(object["environment"], "live");
    assert_eq!(
        object["limits"],
        json!({"per_minute": 120, "per_day": 50000, "source": "policy"})
    );

    let mut revoked = record.clone();
    revoked.revoked_at = Some(NOW + 1_000);
    let object = key_object(&revoked, None, &policy(), NOW + 2_000);
    assert_eq!(object["status"], "revoked");
    assert_eq!(object["revoked_at"], json!(format_rfc3339(NOW + 1_000)));

    let mut expiring = record;
    expiring.expires_at = Some(NOW + 1_000);
    assert_eq!(
        key_object(&expiring, None, &policy(), NOW + 1_000)["status"],
        "expired"
    );
    assert_eq!(
        key_object(&expiring, None, &policy(), NOW + 999)["status"],
        "active"
    );
}

// --- serde across the Durable Object boundary -------------------------------------

fn round_trip_command(command: &Command) {
    let json = serde_json::to_value(command).unwrap();
    let back: Command = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
}

fn round_trip_reply(reply: &Reply) {
    let text = serde_json::to_string(reply).unwrap();
    let back: Reply = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, reply, "{text}");
}

/// An edit that sets every field.
fn edit_of_every_field() -> KeyEdit {
    let mut metadata = Map::new();
    metadata.insert("big".into(), json!(u64::MAX));
    metadata.insert("f".into(), json!(0.1));
    metadata.insert("deep".into(), json!({"a": [null, true, "é\n"]}));
    KeyEdit {
        name: Some("Renamed".into()),
        scopes: Some(vec!["contacts:read".into(), "tags:write".into()]),
        limits: Some(LimitsEdit::Set {
            per_minute: Some(3),
            per_day: Some(30),
        }),
        expires_at: Some(Some(NOW + MS_PER_DAY)),
        metadata: Some(metadata),
        rejection_webhook: Some(Some("https://hooks.example.com/r?t=1".into())),
    }
}

#[test]
fn commands_round_trip_through_json() {
    let body = format!(
        r#"{{"name": "Full", "scopes": ["contacts:read"], "expires_at": "{}",
            "limits": {{"per_minute": 10, "per_day": 1000}},
            "metadata": {{"n": 1.5, "big": 18446744073709551615, "neg": -3, "deep": {{"a": [null, true, "x"]}}}},
            "rejection_webhook": "https://hooks.example.com/r", "environment": "test"}}"#,
        format_rfc3339(NOW + MS_PER_DAY)
    );
    let Fixture { record, hash } = fixture(&body, 11);
    round_trip_command(&create(&record, &hash));
    for action in Action::ALL {
        round_trip_command(&admit(&hash, "contacts", action));
    }
    let acting = key_actor("acme", &["api_keys:write"], limits(60, 10_000));
    for actor in [Actor::Root, acting] {
        for command in lifecycle_commands(&actor) {
            round_trip_command(&command);
        }
        for change in [edit_of_every_field(), KeyEdit::default()] {
            round_trip_command(&Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: actor.clone(),
                edit: change,
            });
        }
    }

    assert_eq!(
        serde_json::to_value(get()).unwrap(),
        json!({"op": "get", "actor": {"kind": "root"}})
    );
    // A created record survives the trip exactly, and so does its secret.
    let json = serde_json::to_string(&create(&record, &hash)).unwrap();
    let Command::Create {
        record: back,
        secret,
        ..
    } = serde_json::from_str(&json).unwrap()
    else {
        panic!("not a create: {json}");
    };
    assert_eq!(*back, record);
    assert!(secret.matches(&hash));
    let json = serde_json::to_string(&admit(&hash, "email", Action::Send)).unwrap();
    let Command::Admit {
        key_hash,
        resource,
        action,
        queueing: None,
    } = serde_json::from_str(&json).unwrap()
    else {
        panic!("not an admit: {json}");
    };
    assert!(key_hash.matches(&hash));
    assert_eq!((resource.as_str(), action), ("email", Action::Send));
    // A rotation's new secret, hint and grace survive too.
    let next = new_secret(11);
    let json = serde_json::to_string(&rotate(&next, 12_345)).unwrap();
    let Command::Rotate {
        actor,
        secret,
        hint,
        grace_ms,
    } = serde_json::from_str(&json).unwrap()
    else {
        panic!("not a rotate: {json}");
    };
    assert_eq!(actor, Actor::Root);
    assert!(secret.matches(&next.hash));
    assert_eq!((hint, grace_ms), (next.hint, 12_345));
}

#[test]
fn a_key_edit_tells_absent_from_null_after_a_json_trip() {
    // Each clearable field absent, null, or set: every combination survives.
    let states = |set: Option<u64>| [None, Some(None), Some(set)];
    for limits_field in states(Some(7)) {
        for expires_at in states(Some(NOW + 1)) {
            for webhook in states(Some(9)) {
                let change = KeyEdit {
                    limits: limits_field.map(|l| match l {
                        Some(n) => LimitsEdit::Set {
                            per_minute: Some(n),
                            per_day: None,
                        },
                        None => LimitsEdit::PolicyDefaults,
                    }),
                    expires_at,
                    rejection_webhook: webhook
                        .map(|w| w.map(|n| format!("https://hooks.example.com/{n}"))),
                    ..KeyEdit::default()
                };
                let text = serde_json::to_string(&change).unwrap();
                let back: KeyEdit = serde_json::from_str(&text).unwrap();
                assert_eq!(back, change, "{text}");
                // And inside a whole command, as the Durable Object receives it.
                let command = serde_json::to_string(&edit(change.clone())).unwrap();
                let Command::Edit { edit: back, .. } = serde_json::from_str(&command).unwrap()
                else {
                    panic!("not an edit: {command}");
                };
                assert_eq!(back, change, "{command}");
            }
        }
    }
    let clears = KeyEdit {
        limits: Some(LimitsEdit::PolicyDefaults),
        expires_at: Some(None),
        rejection_webhook: Some(None),
        ..KeyEdit::default()
    };
    assert_eq!(
        serde_json::to_value(&clears).unwrap(),
        json!({"limits": {"to": "policy_defaults"}, "expires_at": null, "rejection_webhook": null})
    );
    assert_eq!(serde_json::to_value(KeyEdit::default()).unwrap(), json!({}));
    let every = edit_of_every_field();
    let text = serde_json::to_string(&every).unwrap();
    assert_eq!(serde_json::from_str::<KeyEdit>(&text).unwrap(), every);
    // Clearing metadata is an empty object, not an absent field.
    let cleared = KeyEdit {
        metadata: Some(Map::new()),
        ..KeyEdit::default()
    };
    let text = serde_json::to_string(&cleared).unwrap();
    assert_eq!(serde_json::from_str::<KeyEdit>(&text).unwrap(), cleared);
}

#[test]
fn replies_round_trip_through_json() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Small", "scopes": ["contacts:read", "contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10},
            "metadata": {"f": 0.1, "big": 18446744073709551615, "neg": -1, "s": "é\n", "a": [{"b": null}]}}"#,
        12,
    );
    let mut state = KeyState::default();
    let mut replies = vec![state.handle(create(&record, &hash), &policy(), NOW).0];
    let (second, third) = (new_secret(12), new_secret(13));
    for command in [
        read_contacts(&hash),
        read_contacts(&hash),
        admit(&hash, "contacts", Action::Write),
        admit(&hash, "contacts", Action::Delete),
        create(&record, &hash),
        get(),
        rotate(&second, 30_000),
        rotate(&third, 60_000),
        revoke(),
        read_contacts(&hash),
        rotate(&third, 0),
        activate(),
        delete(),
    ] {
        replies.push(state.handle(command, &policy(), NOW + 1).0);
    }
    replies.push(KeyState::default().handle(get(), &policy(), NOW).0);
    replies.push(
        KeyState::default()
            .handle(read_contacts(&hash), &policy(), NOW)
            .0,
    );
    let mut expiring = record.clone();
    expiring.expires_at = Some(NOW);
    replies.push(
        created(&expiring, &hash)
            .handle(read_contacts(&hash), &policy(), NOW)
            .0,
    );
    replies.push(Reply::Refused {
        refusal: Refusal::Throttled {
            window: Window::Day,
            retry_after_secs: 86_400,
        },
        limit_headers: vec![("Retry-After".into(), "1".into())],
    });
    let overreaches = [
        Overreach::Scopes {
            scopes: vec!["admin".into(), "contacts:delete".into()],
        },
        Overreach::Limit {
            window: Window::Day,
            own: 10,
        },
        Overreach::Expiry { own: NOW },
        Overreach::Environment,
        Overreach::Workspace { own: "acme".into() },
    ];
    let declines = LifecycleAction::ALL
        .map(|action| Declined::NotAllowed { action })
        .into_iter()
        .chain(
            [Status::Active, Status::Revoked, Status::Expired]
                .map(|status| Declined::NotActive { status }),
        )
        .chain(overreaches.map(Declined::Overreach))
        .chain([Declined::NotFound]);
    replies.extend(declines.map(declined));

    let outcomes: BTreeSet<String> = replies
        .iter()
        .map(|r| serde_json::to_value(r).unwrap()["outcome"].to_string())
        .collect();
    assert_eq!(outcomes.len(), 7, "every Reply variant is exercised");
    let reasons: BTreeSet<String> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Declined { declined } => {
                Some(serde_json::to_value(declined).unwrap()["reason"].to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 4, "every Declined variant is exercised");
    for reply in &replies {
        round_trip_reply(reply);
    }
    assert_eq!(
        serde_json::to_value(declined(Declined::NotAllowed {
            action: LifecycleAction::Reactivate
        }))
        .unwrap(),
        json!({"outcome": "declined", "declined": {"reason": "not_allowed", "action": "reactivate"}})
    );
}

#[test]
fn metadata_numbers_survive_storage_exactly() {
    // Found by fuzzing: serde_json's default float parsing is not exact, so a number
    // in a key's metadata could change in its last digit each time the record was stored.
    let Fixture { mut record, .. } =
        fixture(r#"{"name": "Floats", "scopes": ["contacts:read"]}"#, 14);
    record.metadata = json!({"x": [8.88888888888889e43, 1.6666666666666665e53, 0.1]})
        .as_object()
        .cloned()
        .unwrap();
    let stored = serde_json::to_string(&record).unwrap();
    let read: KeyRecord = serde_json::from_str(&stored).unwrap();
    assert_eq!(serde_json::to_string(&read).unwrap(), stored);
    assert_eq!(read, record);
}

#[test]
fn a_key_state_round_trips_through_its_stored_json() {
    let Fixture { record, hash } = fixture(
        r#"{"name": "Stored", "scopes": ["contacts:read"], "metadata": {"x": [1, 2.5, "y"]}}"#,
        13,
    );
    let mut state = created(&record, &hash);
    for i in 0..5 {
        state.handle(read_contacts(&hash), &policy(), NOW + i * 700);
    }
    state.handle(read_contacts(&hash), &policy(), NOW + 2 * HOUR_MS);
    let next = new_secret(13);
    state.handle(rotate(&next, MS_PER_DAY), &policy(), NOW + 2 * HOUR_MS);
    state.handle(revoke(), &policy(), NOW + 3 * HOUR_MS);
    assert_eq!(state.secrets.len(), 2);
    assert_ne!(state.history, UsageHistory::default());

    state.handle(
        edit(KeyEdit {
            rejection_webhook: Some(Some("https://hooks.example.com/r".into())),
            ..KeyEdit::default()
        }),
        &policy(),
        NOW + 3 * HOUR_MS,
    );
    assert!(!state.webhook_secrets.is_empty());

    // The five values the Durable Object stores, each as its own JSON.
    let record_json = serde_json::to_string(&state.record).unwrap();
    let secrets_json = serde_json::to_string(&state.secrets).unwrap();
    let webhook_secrets_json = serde_json::to_string(&state.webhook_secrets).unwrap();
    let counters_json = serde_json::to_string(&state.counters).unwrap();
    let history_json = serde_json::to_string(&state.history).unwrap();
    let restored = KeyState {
        record: serde_json::from_str(&record_json).unwrap(),
        secrets: serde_json::from_str(&secrets_json).unwrap(),
        webhook_secrets: serde_json::from_str(&webhook_secrets_json).unwrap(),
        counters: serde_json::from_str(&counters_json).unwrap(),
        history: serde_json::from_str(&history_json).unwrap(),
        last_used_synced_at: None,
    };
    assert_eq!(
        restored,
        KeyState {
            last_used_synced_at: None,
            ..state.clone()
        }
    );
    assert!(restored.secrets[0].hash.matches(&hash));
    assert!(restored.secrets[1].hash.matches(&next.hash));
    // Counters a fresh object never wrote deserialise to a full quota.
    assert_eq!(
        serde_json::from_str::<Counters>(r#"{"limiter": {}, "last_used_at": null}"#).unwrap(),
        Counters::default()
    );
}

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
