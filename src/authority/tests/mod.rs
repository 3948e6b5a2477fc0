mod admit;
mod delegation;
mod lease;
mod lifecycle;
mod plans;
mod properties;
mod rotate;
mod storage;
mod usage;
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
