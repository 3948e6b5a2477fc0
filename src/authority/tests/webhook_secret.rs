//! A key's webhook signing secrets, as its authority keeps them: issued with a new
//! receiver, shown once, rotated with an overlap, handed to the queue only for the URL
//! they belong to, and never in the record.

use super::*;
use crate::admin::{parse_create, parse_edit, DEFAULT_WORKSPACE};
use crate::key::{hash_key, ApiKey, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
use crate::webhook::secret::WEBHOOK_SECRET_RANDOM_BYTES;
use serde_json::json;

const NOW: u64 = 1_900_000_000_000;
const HOOK: &str = "https://hooks.example.com/r?token=t0ps3cret";

fn policy() -> Policy {
    Policy::from_toml(include_str!("../../../policies/demo.toml")).expect("demo policy parses")
}

fn webhook_secret(seed: u8) -> WebhookSecret {
    WebhookSecret::generate(&[seed; WEBHOOK_SECRET_RANDOM_BYTES])
}

/// A key created through the admin API's parser, with `webhook` (or none), and the reply.
fn create(webhook: Option<&str>) -> (KeyState, Reply) {
    let body = json!({"name": "Agent", "scopes": ["contacts:read"], "rejection_webhook": webhook});
    let new_key = parse_create(body.to_string().as_bytes(), &policy(), NOW, true).expect("valid");
    let key = ApiKey::generate("kg", Environment::Live, &[1; KEY_RANDOM_BYTES]);
    let hash = hash_key(&HashingSecret::new(b"test-hashing-secret".to_vec()), &key);
    let record = new_key.into_record(
        KeyId::generate(&[1; KEY_ID_RANDOM_BYTES]),
        &key,
        NOW,
        DEFAULT_WORKSPACE,
        crate::record::Principal::Root,
        None,
    );
    let mut state = KeyState::default();
    let command = Command::Create {
        record: Box::new(record),
        secret: hash,
        webhook_secret: webhook_secret(1),
    };
    let (reply, _) = state.handle(command, &policy(), NOW);
    (state, reply)
}

fn edit(state: &mut KeyState, body: Value, seed: u8, now: u64) -> Reply {
    let edit = parse_edit(body.to_string().as_bytes(), &policy(), now, true).expect("valid");
    let command = Command::Edit {
        actor: Actor::Root,
        edit,
        webhook_secret: webhook_secret(seed),
    };
    state.handle(command, &policy(), now).0
}

fn issued(reply: &Reply) -> Option<WebhookSecret> {
    match reply {
        Reply::Key { webhook_secret, .. } => webhook_secret.clone(),
        other => panic!("not a key: {other:?}"),
    }
}

fn signers(state: &mut KeyState, url: &str, now: u64) -> WebhookSigners {
    let command = Command::WebhookSigners { url: url.into() };
    match state.handle(command, &policy(), now).0 {
        Reply::WebhookSigners { signers } => signers,
        other => panic!("not signers: {other:?}"),
    }
}

fn rotate(state: &mut KeyState, actor: Actor, seed: u8, grace_ms: u64, now: u64) -> Reply {
    let command = Command::RotateWebhookSecret {
        actor,
        secret: webhook_secret(seed),
        grace_ms,
    };
    state.handle(command, &policy(), now).0
}

#[test]
fn a_key_created_with_a_webhook_gets_its_own_secret_shown_once() {
    let (mut state, reply) = create(Some(HOOK));
    assert_eq!(issued(&reply), Some(webhook_secret(1)));
    assert_eq!(
        signers(&mut state, HOOK, NOW),
        WebhookSigners::Key {
            secrets: vec![webhook_secret(1)]
        }
    );
    // Never again: not in a later read of the key.
    let (reply, _) = state.handle(Command::Get { actor: Actor::Root }, &policy(), NOW);
    assert_eq!(issued(&reply), None);
    // A key without a webhook keeps nothing.
    let (quiet, reply) = create(None);
    assert_eq!(issued(&reply), None);
    assert!(quiet.webhook_secrets.is_empty());
}

#[test]
fn the_secret_is_in_no_record_no_key_object_and_no_debug() {
    let (state, reply) = create(Some(HOOK));
    let secret = webhook_secret(1).expose().to_string();
    let record = state.record.clone().expect("a record");
    let shown = key_object(&record, None, &policy(), NOW).to_string();
    for text in [
        serde_json::to_string(&record).unwrap(),
        shown.clone(),
        format!("{state:?}"),
        format!("{reply:?}"),
    ] {
        assert!(!text.contains(&secret), "{text}");
    }
    // Key objects never show the webhook's query either.
    assert!(!shown.contains("t0ps3cret"), "{shown}");
    assert!(shown.contains(r#""rejection_webhook":"https://hooks.example.com/r?…""#));
}

#[test]
fn a_new_url_is_a_new_receiver_and_only_it_signs() {
    let (mut state, _) = create(Some(HOOK));
    // The same URL again changes nothing, and issues nothing.
    assert_eq!(
        issued(&edit(
            &mut state,
            json!({"rejection_webhook": HOOK}),
            2,
            NOW
        )),
        None
    );
    assert_eq!(
        issued(&edit(&mut state, json!({"name": "Renamed"}), 3, NOW)),
        None
    );
    let other = "https://other.example.com/hook";
    let reply = edit(&mut state, json!({"rejection_webhook": other}), 4, NOW + 1);
    assert_eq!(issued(&reply), Some(webhook_secret(4)));
    assert_eq!(
        signers(&mut state, other, NOW + 1),
        WebhookSigners::Key {
            secrets: vec![webhook_secret(4)]
        }
    );
    // The old receiver gets nothing more: a delivery still owed to it is not sent.
    assert_eq!(signers(&mut state, HOOK, NOW + 1), WebhookSigners::Nobody);
    // Removing the webhook removes its secrets; setting it again issues a fresh one.
    assert_eq!(
        issued(&edit(
            &mut state,
            json!({"rejection_webhook": null}),
            5,
            NOW + 2
        )),
        None
    );
    assert!(state.webhook_secrets.is_empty());
    assert_eq!(signers(&mut state, other, NOW + 2), WebhookSigners::Nobody);
    let reply = edit(&mut state, json!({"rejection_webhook": other}), 6, NOW + 3);
    assert_eq!(issued(&reply), Some(webhook_secret(6)));
    // A deleted key signs nothing.
    state.handle(Command::Delete { actor: Actor::Root }, &policy(), NOW + 4);
    assert_eq!(signers(&mut state, other, NOW + 4), WebhookSigners::Nobody);
}

#[test]
fn rotation_signs_with_both_secrets_during_the_grace_only() {
    let (mut state, _) = create(Some(HOOK));
    let Reply::WebhookSecretRotated {
        webhook_secret: fresh,
        previous_valid_until,
        record,
        ..
    } = rotate(&mut state, Actor::Root, 2, 60_000, NOW)
    else {
        panic!("not rotated");
    };
    assert_eq!(
        (fresh, previous_valid_until),
        (webhook_secret(2), NOW + 60_000)
    );
    assert_eq!(record.rejection_webhook.as_deref(), Some(HOOK));
    let both = WebhookSigners::Key {
        secrets: vec![webhook_secret(2), webhook_secret(1)],
    };
    assert_eq!(signers(&mut state, HOOK, NOW + 59_999), both);
    assert_eq!(
        signers(&mut state, HOOK, NOW + 60_000),
        WebhookSigners::Key {
            secrets: vec![webhook_secret(2)]
        }
    );
}

#[test]
fn a_webhook_set_before_keys_had_secrets_is_signed_by_the_deployment_until_rotated() {
    let (mut state, _) = create(Some(HOOK));
    state.webhook_secrets = WebhookSecrets::default();
    assert_eq!(signers(&mut state, HOOK, NOW), WebhookSigners::Deployment);
    let reply = rotate(&mut state, Actor::Root, 2, 60_000, NOW);
    assert!(
        matches!(reply, Reply::WebhookSecretRotated { .. }),
        "{reply:?}"
    );
    assert_eq!(
        signers(&mut state, HOOK, NOW),
        WebhookSigners::Key {
            secrets: vec![webhook_secret(2)]
        }
    );
}

#[test]
fn rotating_needs_a_webhook_the_edit_right_and_the_keys_grants() {
    let (mut quiet, _) = create(None);
    assert_eq!(
        rotate(&mut quiet, Actor::Root, 2, 0, NOW),
        Reply::Declined {
            declined: Declined::NoWebhook
        }
    );
    assert_eq!(
        GatewayError::from(Declined::NoWebhook).code(),
        "no_rejection_webhook"
    );
    let (mut state, _) = create(Some(HOOK));
    let weaker = Actor::Key {
        grantee: Grantee {
            key_id: KeyId::generate(&[9; KEY_ID_RANDOM_BYTES]),
            key_name: "Manager".into(),
            workspace: DEFAULT_WORKSPACE.into(),
            environment: Environment::Live,
            scopes: vec!["api_keys:write".into()],
            limits: Limits::new(1_000, 100_000).expect("valid"),
            expires_at: None,
            created_by: None,
            family: None,
        },
    };
    let reply = rotate(&mut state, weaker, 2, 0, NOW);
    assert!(
        matches!(
            reply,
            Reply::Declined {
                declined: Declined::Overreach(_)
            }
        ),
        "{reply:?}"
    );
    let stranger = Actor::Key {
        grantee: Grantee {
            key_id: KeyId::generate(&[8; KEY_ID_RANDOM_BYTES]),
            key_name: "Elsewhere".into(),
            workspace: "other".into(),
            environment: Environment::Live,
            scopes: vec!["api_keys:write".into(), "contacts:read".into()],
            limits: Limits::new(1_000, 100_000).expect("valid"),
            expires_at: None,
            created_by: None,
            family: None,
        },
    };
    assert_eq!(
        rotate(&mut state, stranger, 2, 0, NOW),
        Reply::Declined {
            declined: Declined::NotFound
        }
    );
    let frozen = Policy::from_toml(include_str!("../../../policies/seed-001-simple.toml"))
        .expect("seed parses");
    let command = Command::RotateWebhookSecret {
        actor: Actor::Root,
        secret: webhook_secret(3),
        grace_ms: 0,
    };
    assert!(matches!(
        state.handle(command, &frozen, NOW).0,
        Reply::Declined {
            declined: Declined::NotAllowed { .. }
        }
    ));
    assert_eq!(
        signers(&mut state, HOOK, NOW),
        WebhookSigners::Key {
            secrets: vec![webhook_secret(1)]
        }
    );
}
