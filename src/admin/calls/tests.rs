//! The admin calls' decisions, run against the real key authority ([`KeyState::handle`])
//! where a reply is read, so a plan and its reading are checked together.

use super::*;
use crate::approval::{QueueDeclined, Submission, APPROVAL_ID_RANDOM_BYTES};
use crate::authority::{Declined, KeyState, Refusal};
use crate::limits::Limits;
use crate::policy::{Action, RouteTarget};
use crate::queue::QueueShard;
use crate::record::Principal;
use proptest::prelude::*;
use std::collections::HashMap;

/// 2030-03-17T17:46:40Z.
const NOW: u64 = 1_900_000_000_000;
const ROOT_TOKEN: &str = "root-token-0123456789abcdefghijkl";

fn config() -> Config {
    config_with(include_str!("../../../policies/demo.toml"))
}

fn config_with(policy: &str) -> Config {
    let vars: HashMap<&str, String> = [
        ("KEYGATE_ORIGIN", "http://127.0.0.1:9000".to_string()),
        ("KEYGATE_HASH_SECRET", "h".repeat(32)),
        ("KEYGATE_SIGNING_SECRET", "s".repeat(40)),
        ("KEYGATE_ROOT_TOKEN", ROOT_TOKEN.to_string()),
        ("KEYGATE_WEBHOOK_SECRET", "w".repeat(32)),
    ]
    .into_iter()
    .collect();
    let compiled = crate::policy::compile(policy).expect("the test policy compiles");
    Config::from_lookup(&compiled, |name| vars.get(name).cloned())
        .expect("the test configuration loads")
}

fn random(seed: u8) -> CreationRandom {
    CreationRandom {
        key_id: [seed; KEY_ID_RANDOM_BYTES],
        key: [seed; KEY_RANDOM_BYTES],
        webhook_secret: [seed; WEBHOOK_SECRET_RANDOM_BYTES],
    }
}

fn limit_headers() -> LimitHeaders {
    vec![("RateLimit-Remaining".into(), "9".into())]
}

fn code<T>(result: Result<T, ReplyError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.refused().error.code(),
    }
}

/// [`read_creation`] then [`plan_creation`], in a workspace whose plan was never set.
fn plan_create(body: &str, actor: &Actor, config: &Config) -> Result<Creation, GatewayError> {
    let request = read_creation(body.as_bytes(), actor);
    plan_creation(
        request,
        PlanAssignment::default(),
        actor,
        config,
        NOW,
        &random(7),
    )
}

/// A key created through [`plan_creation`] in a fresh authority.
fn create(body: &str) -> (Creation, KeyState, Value) {
    let config = config();
    let creation = plan_create(body, &Actor::Root, &config).expect("a valid create body");
    let mut authority = KeyState::default();
    let (reply, _) = authority.handle(creation.create.clone(), &config.policy, NOW);
    let body = created(reply, &creation, &config.policy, NOW).expect("created");
    (creation, authority, body)
}

#[test]
fn the_root_token_or_a_key_of_ours_or_invalid_admin_token() {
    let config = config();
    let credential = |authorization| {
        admin_credential(
            authorization,
            &config.root_token,
            config.policy.key_prefix(),
        )
    };
    let bearer = format!("Bearer {ROOT_TOKEN}");
    assert!(matches!(
        credential(Some(&bearer)),
        Ok(AdminCredential::Root)
    ));
    let key = ApiKey::generate("kg", Environment::Live, &[1; KEY_RANDOM_BYTES]);
    let bearer = format!("Bearer {}", key.expose());
    assert!(
        matches!(credential(Some(&bearer)), Ok(AdminCredential::Key(parsed)) if parsed.key == key)
    );
    let sent = |authorization| match credential(authorization) {
        Err(GatewayError::InvalidAdminToken { credentials_sent }) => Some(credentials_sent),
        _ => None,
    };
    assert_eq!(sent(None), Some(false));
    assert_eq!(sent(Some("Bearer  ")), Some(true));
    assert_eq!(sent(Some("Basic abc")), Some(true));
    let almost = format!("Bearer {ROOT_TOKEN}x");
    assert_eq!(sent(Some(&almost)), Some(true));
    assert_eq!(sent(Some("Bearer kg_live_garbage")), Some(true));
}

#[test]
fn a_key_is_admitted_for_api_keys_routes_and_identified_for_the_queue() {
    let hash = || {
        hash_key(
            &config().hash_secret,
            &ApiKey::generate("kg", Environment::Live, &[1; KEY_RANDOM_BYTES]),
        )
    };
    let id = ApprovalId::generate(&QueueShard::of("acme"), &[1; APPROVAL_ID_RANDOM_BYTES]);
    // Listing and deciding need a plan that offers the queue; reading one approval does
    // not, since a key may always read its own.
    let queue = [
        (AdminRoute::ListApprovals, Some(Action::Read)),
        (AdminRoute::GetApproval(id.clone()), None),
        (AdminRoute::Approve(id.clone()), Some(Action::Write)),
        (AdminRoute::Reject(id), Some(Action::Write)),
    ];
    for (route, needs) in queue {
        let Ok(Command::Identify { offered, .. }) = authentication(&route, hash()) else {
            panic!("{route:?} identifies");
        };
        let offered = offered.map(|target| (target.resource, target.action));
        assert_eq!(
            offered,
            needs.map(|action| ("approvals".to_string(), action)),
            "{route:?}"
        );
    }
    let key_id = KeyId::generate(&[2; KEY_ID_RANDOM_BYTES]);
    let cases = [
        (AdminRoute::ListKeys, Action::Read),
        (AdminRoute::CreateKey, Action::Write),
        (AdminRoute::RotateKey(key_id.clone()), Action::Write),
        (AdminRoute::DeleteKey(key_id), Action::Delete),
    ];
    for (route, expected) in cases {
        let Ok(Command::Admit {
            resource,
            action,
            queueing,
            ..
        }) = authentication(&route, hash())
        else {
            panic!("{route:?} admits");
        };
        assert_eq!((resource.as_str(), action), ("api_keys", expected));
        // An admin call is never queued for a human.
        assert!(queueing.is_none());
    }
    // What only the provider may do, no key may: refused before any lookup.
    let acme = || crate::workspace::WorkspaceName::parse("acme").expect("a name");
    for route in [AdminRoute::ListWorkspaces, AdminRoute::SetPlan(acme())] {
        assert_eq!(
            authentication(&route, hash())
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("root_token_required"),
            "{route:?}"
        );
    }
}

#[test]
fn an_admitted_key_acts_with_its_limit_state_and_a_refused_one_is_told_why() {
    let grantee = crate::request::admission::tests::grantee();
    let admitted = Reply::Admitted {
        grantee: grantee.clone(),
        limit_headers: limit_headers(),
    };
    let (actor, headers) = admin_actor(admitted).expect("admitted");
    assert_eq!(
        actor,
        Actor::Key {
            grantee: grantee.clone()
        }
    );
    assert_eq!(headers, limit_headers());
    let refused = Reply::Refused {
        refusal: Refusal::Expired,
        limit_headers: Vec::new(),
    };
    assert_eq!(code(admin_actor(refused)), "key_expired");
    let queued = Reply::Queued {
        grantee,
        limit_headers: limit_headers(),
        secret: 1,
    };
    assert_eq!(code(admin_actor(queued)), "store_unavailable");
}

#[test]
fn a_creation_indexes_the_new_secret_for_good_before_the_authority_holds_it() {
    let config = config();
    let (creation, authority, body) = create(r#"{"name": "ci", "scopes": ["contacts:read"]}"#);
    assert_eq!(
        creation.index,
        IndexEntry {
            name: hash_key(&config.hash_secret, &creation.key).index_name(),
            key_id: creation.index.key_id.clone(),
            ttl_secs: None,
        }
    );
    let record = authority
        .record
        .as_ref()
        .expect("the authority holds the key");
    assert_eq!(record.id, creation.index.key_id);
    assert_eq!(record.workspace, DEFAULT_WORKSPACE);
    assert_eq!(record.created_by, Some(Principal::Root));
    // The secret is in the answer, and nowhere the authority keeps.
    assert_eq!(body["key"], creation.key.expose());
    assert_eq!(body["id"], creation.index.key_id.as_str());
    assert!(!serde_json::to_string(&authority.record)
        .unwrap_or_default()
        .contains(creation.key.expose()));
    assert!(body.get("rejection_webhook_secret").is_none());
    assert_eq!(
        key_location(&creation.index.key_id),
        format!("/_keygate/v1/keys/{}", creation.index.key_id.as_str())
    );
}

#[test]
fn a_creation_shows_the_webhook_secret_it_issued_once() {
    let (_, _, body) = create(
        r#"{"name": "ci", "scopes": ["contacts:read"], "rejection_webhook": "https://hooks.example.com/k"}"#,
    );
    let secret = body["rejection_webhook_secret"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        secret,
        WebhookSecret::generate(&[7; WEBHOOK_SECRET_RANDOM_BYTES]).expose()
    );
}

#[test]
fn a_creation_is_refused_before_anything_is_written() {
    let config = config();
    let plan = |body: &str, actor: &Actor| plan_create(body, actor, &config).map(|_| ());
    assert_eq!(
        plan("{", &Actor::Root).map_err(|e| e.code()),
        Err("invalid_request")
    );
    // A key may not create keys in another workspace, nor with more than it holds.
    let mut grantee = crate::request::admission::tests::grantee();
    grantee.scopes = vec!["api_keys:write".into(), "contacts:read".into()];
    let key = Actor::Key { grantee };
    let elsewhere = r#"{"name": "x", "scopes": ["contacts:read"], "workspace": "other"}"#;
    assert_eq!(
        plan(elsewhere, &key).map_err(|e| e.code()),
        Err("workspace_forbidden")
    );
    let more = r#"{"name": "x", "scopes": ["contacts:write"]}"#;
    assert_eq!(
        plan(more, &key).map_err(|e| e.code()),
        Err("scope_exceeds_own")
    );
    let within = r#"{"name": "x", "scopes": ["contacts:read"], "limits": {"per_minute": 10, "per_day": 100}, "environment": "test"}"#;
    assert_eq!(plan(within, &key), Ok(()));
}

#[test]
fn a_creation_over_an_existing_key_is_a_conflict_and_anything_else_fails_closed() {
    let config = config();
    let (creation, mut authority, _) = create(r#"{"name": "ci", "scopes": ["contacts:read"]}"#);
    let (again, _) = authority.handle(creation.create.clone(), &config.policy, NOW);
    assert_eq!(again, Reply::AlreadyExists);
    let conflict = created(again, &creation, &config.policy, NOW).expect_err("a conflict");
    assert_eq!(conflict.refused().error.to_problem("r").status, 409);
    let deleted = Reply::Deleted {
        id: creation.index.key_id.clone(),
        index_names: Vec::new(),
    };
    assert_eq!(
        code(created(deleted, &creation, &config.policy, NOW)),
        "store_unavailable"
    );
}

#[test]
fn a_rotation_indexes_the_new_secret_and_lets_the_retired_one_expire() {
    let config = config();
    let (creation, mut authority, _) = create(r#"{"name": "ci", "scopes": ["contacts:read"]}"#);
    let id = &creation.index.key_id;
    let (reply, _) = authority.handle(Command::Get { actor: Actor::Root }, &config.policy, NOW);
    let environment = key_environment(reply).expect("the key");
    let grace_ms = 3_600_000;
    let rotation = plan_rotation(
        id,
        environment,
        Actor::Root,
        grace_ms,
        &config,
        &[8; KEY_RANDOM_BYTES],
    );
    assert_eq!(rotation.index.ttl_secs, None);
    assert_eq!(rotation.index.key_id, *id);
    assert_eq!(
        rotation.index.name,
        hash_key(&config.hash_secret, &rotation.key).index_name()
    );
    let later = NOW + 1_500;
    let (reply, _) = authority.handle(rotation.rotate.clone(), &config.policy, later);
    let RotationOutcome::Rotated { retired, body } =
        rotated(reply, &rotation, &config.policy, later)
    else {
        panic!("rotated");
    };
    assert_eq!(body["key"], rotation.key.expose());
    assert_eq!(
        body["previous_key_valid_until"],
        format_rfc3339(later + grace_ms)
    );
    assert_eq!(
        retired,
        [IndexEntry {
            name: creation.index.name.clone(),
            key_id: id.clone(),
            ttl_secs: Some(grace_ms / 1000 + KV_EXPIRY_MARGIN_SECS),
        }]
    );
}

#[test]
fn a_declined_rotation_removes_the_new_entry_again() {
    let config = config();
    let (creation, mut authority, _) = create(r#"{"name": "ci", "scopes": ["contacts:read"]}"#);
    let (_, _) = authority.handle(Command::Revoke { actor: Actor::Root }, &config.policy, NOW);
    let rotation = plan_rotation(
        &creation.index.key_id,
        Environment::Live,
        Actor::Root,
        0,
        &config,
        &[8; KEY_RANDOM_BYTES],
    );
    let (reply, _) = authority.handle(rotation.rotate.clone(), &config.policy, NOW);
    let RotationOutcome::NotRotated { remove, error } =
        rotated(reply, &rotation, &config.policy, NOW)
    else {
        panic!("a revoked key is not rotated");
    };
    assert_eq!(remove, rotation.index.name);
    assert_eq!(error.refused().error.code(), "key_not_active");
}

#[test]
fn a_key_reply_shows_usage_only_when_asked_and_a_deletion_names_its_entries() {
    let config = config();
    let (creation, mut authority, _) = create(r#"{"name": "ci", "scopes": ["contacts:read"]}"#);
    let get = || Command::Get { actor: Actor::Root };
    let (reply, _) = authority.handle(get(), &config.policy, NOW);
    let shown = key_answer(reply, true, &config.policy, NOW).expect("the key");
    assert!(shown.get("usage").is_some() && shown.get("key").is_none());
    let (reply, _) = authority.handle(get(), &config.policy, NOW);
    assert!(key_answer(reply, false, &config.policy, NOW)
        .expect("the key")
        .get("usage")
        .is_none());
    let (reply, _) = authority.handle(Command::Delete { actor: Actor::Root }, &config.policy, NOW);
    assert_eq!(deleted(reply).expect("deleted"), [creation.index.name]);
    let (reply, _) = authority.handle(get(), &config.policy, NOW);
    assert_eq!(
        code(key_answer(reply, false, &config.policy, NOW)),
        "not_found"
    );
    let (reply, _) = authority.handle(Command::Delete { actor: Actor::Root }, &config.policy, NOW);
    assert_eq!(code(deleted(reply)), "not_found");
}

#[test]
fn a_webhook_secret_rotation_shows_the_new_secret_and_the_old_one_s_end() {
    let config = config();
    let (_, mut authority, _) = create(
        r#"{"name": "ci", "scopes": ["contacts:read"], "rejection_webhook": "https://hooks.example.com/k"}"#,
    );
    let secret = WebhookSecret::generate(&[9; WEBHOOK_SECRET_RANDOM_BYTES]);
    let command = Command::RotateWebhookSecret {
        actor: Actor::Root,
        secret: secret.clone(),
        grace_ms: 60_000,
    };
    let (reply, _) = authority.handle(command, &config.policy, NOW);
    let body = webhook_secret_rotated(reply, &config.policy, NOW).expect("rotated");
    assert_eq!(body["rejection_webhook_secret"], secret.expose());
    assert_eq!(
        body["previous_webhook_secret_valid_until"],
        format_rfc3339(NOW + 60_000)
    );
}

proptest! {
    /// A retired secret's entry outlives the secret, by no more than KV's margin and a
    /// second, and KV is never asked for an expiry under its 60 s minimum.
    #[test]
    fn a_retired_entry_expires_after_its_secret(now in 0u64..4_000_000_000_000, ahead in 0u64..40_000_000_000, behind in any::<bool>()) {
        let valid_until = if behind { now.saturating_sub(ahead) } else { now + ahead };
        let retired = RetiredSecret {
            index_name: creation_index_name(),
            valid_until,
        };
        let key_id = KeyId::generate(&[3; KEY_ID_RANDOM_BYTES]);
        let entry = retired_entry(retired, &key_id, now);
        let ttl_ms = entry.ttl_secs.unwrap_or_default() * 1000;
        prop_assert!(ttl_ms >= KV_EXPIRY_MARGIN_SECS * 1000);
        prop_assert!(now + ttl_ms >= valid_until);
        prop_assert!(ttl_ms <= valid_until.saturating_sub(now) + KV_EXPIRY_MARGIN_SECS * 1000);
        prop_assert_eq!(entry.key_id, key_id);
    }
}

fn creation_index_name() -> IndexName {
    hash_key(
        &config().hash_secret,
        &ApiKey::generate("kg", Environment::Live, &[5; KEY_RANDOM_BYTES]),
    )
    .index_name()
}

// ---- Approvals ----

fn pending() -> Approval {
    let grantee = crate::request::admission::tests::grantee();
    Approval::submit(
        ApprovalId::generate(&QueueShard::of("acme"), &[3; APPROVAL_ID_RANDOM_BYTES]),
        Submission {
            grantee: &grantee,
            secret: 2,
            target: RouteTarget {
                resource: "contacts".into(),
                action: Action::Write,
            },
            request: crate::approval::QueuedRequest {
                method: "POST".into(),
                path: "/v1/contacts".into(),
                query: None,
                headers: Vec::new(),
                body_bytes: 0,
            },
            now_ms: NOW,
            expire_after_ms: 60_000,
        },
    )
}

#[test]
fn only_a_pending_approval_is_decided() {
    let approval = pending();
    assert_eq!(still_pending(&approval, NOW), Ok(()));
    assert_eq!(
        still_pending(&approval, approval.expires_at),
        Err(GatewayError::ApprovalDecided {
            status: ApprovalStatus::Expired
        })
    );
    assert_eq!(
        approval_location(&approval.id),
        format!("/_keygate/v1/approvals/{}", approval.id)
    );
}

#[test]
fn the_approve_verdict_follows_the_submitter_s_standing_as_it_is_now() {
    let approval = pending();
    let Command::Recheck {
        resource,
        action,
        secret,
    } = recheck(&approval)
    else {
        panic!("a recheck");
    };
    assert_eq!(
        (resource.as_str(), action, secret),
        ("contacts", Action::Write, Some(2))
    );
    let grantee = crate::request::admission::tests::grantee();
    let still = standing(Reply::Rechecked {
        standing: Ok(grantee.clone()),
    })
    .expect("rechecked");
    assert_eq!(
        approve_verdict(&still),
        Verdict::Approve { submitter: Ok(()) }
    );
    assert_eq!(approved_sender(still), Ok(grantee));
    let lost: Standing = Err(SubmitterFailure::KeyRevoked);
    assert_eq!(
        approve_verdict(&lost),
        Verdict::Approve {
            submitter: Err(SubmitterFailure::KeyRevoked)
        }
    );
    assert_eq!(approved_sender(lost), Err(GatewayError::Internal));
    assert_eq!(code(standing(Reply::AlreadyExists)), "store_unavailable");
}

#[test]
fn a_rejection_tells_the_key_s_current_webhook_and_a_deleted_key_has_none() {
    let config = config();
    let (_, mut authority, _) = create(
        r#"{"name": "ci", "scopes": ["contacts:read"], "rejection_webhook": "https://hooks.example.com/k"}"#,
    );
    let (reply, _) = authority.handle(webhook_lookup(), &config.policy, NOW);
    let webhook = rejection_webhook(reply).expect("the key");
    assert_eq!(webhook.as_deref(), Some("https://hooks.example.com/k"));
    let gone = Reply::Declined {
        declined: Declined::NotFound,
    };
    assert_eq!(rejection_webhook(gone).ok(), Some(None));
    let settings = config.policy.approvals();
    assert_eq!(
        reject_verdict("no".into(), webhook.clone(), &settings),
        Verdict::Reject {
            reason: "no".into(),
            webhook,
            retry_ms: settings.webhook_retry_ms
        }
    );
}

#[test]
fn the_queue_s_approval_reply_is_read_or_refused() {
    let approval = pending();
    let reply = QueueReply::Approval {
        approval: Box::new(approval.clone()),
        body: b"{}".to_vec(),
    };
    assert_eq!(approval_reply(reply).ok(), Some((approval, b"{}".to_vec())));
    let declined = QueueReply::Declined {
        declined: QueueDeclined::RelatedApproval,
    };
    assert_eq!(code(approval_reply(declined)), "related_key_approval");
    assert_eq!(code(approval_reply(QueueReply::Done)), "store_unavailable");
}

#[test]
fn the_origin_s_answer_or_why_there_was_none_is_recorded() {
    let answered = origin_result(Ok(OriginAnswer {
        status: 201,
        body: b"ok".to_vec(),
        truncated: false,
    }));
    assert_eq!(
        answered,
        OriginResult::Answered {
            status: 201,
            body: b"ok".to_vec(),
            truncated: false
        }
    );
    assert_eq!(
        origin_result(Err(GatewayError::OriginTimeout)),
        OriginResult::TimedOut
    );
    for error in [GatewayError::OriginUnreachable, GatewayError::Internal] {
        assert_eq!(origin_result(Err(error)), OriginResult::Unreachable);
    }
}

// ---- Portal sessions ----

fn member(permissions: Vec<crate::session::Permission>) -> Actor {
    Actor::Member {
        workspace: "acme".into(),
        member: crate::session::Member {
            id: "user_7".into(),
            name: "Ada".into(),
        },
        permissions,
    }
}

fn a_session(permissions: Vec<crate::session::Permission>) -> Session {
    Session {
        id: SessionId::generate(&[3; SESSION_ID_RANDOM_BYTES]),
        workspace: "acme".into(),
        member: crate::session::Member {
            id: "user_7".into(),
            name: "Ada".into(),
        },
        permissions,
        created_at: NOW - 1_000,
        expires_at: NOW + 60_000,
    }
}

#[test]
fn a_session_token_is_a_credential_of_its_own_and_a_key_under_kgs_stays_a_key() {
    let config = config();
    let token = SessionToken::generate(&[4; SESSION_TOKEN_RANDOM_BYTES]);
    let bearer = format!("Bearer {}", token.expose());
    assert!(matches!(
        admin_credential(Some(&bearer), &config.root_token, "kg"),
        Ok(AdminCredential::Session(found)) if found == token
    ));
    let key = ApiKey::generate("kgs", Environment::Live, &[1; KEY_RANDOM_BYTES]);
    let bearer = format!("Bearer {}", key.expose());
    assert!(matches!(
        admin_credential(Some(&bearer), &config.root_token, "kgs"),
        Ok(AdminCredential::Key(_))
    ));
    // A token with one character changed is refused before storage.
    let mut typo = token.expose().to_string();
    let last = typo.pop().map_or('0', |c| if c == 'a' { 'b' } else { 'a' });
    typo.push(last);
    assert!(matches!(
        admin_credential(Some(&format!("Bearer {typo}")), &config.root_token, "kg"),
        Err(GatewayError::InvalidAdminToken {
            credentials_sent: true
        })
    ));
}

#[test]
fn no_key_reaches_a_session_route_and_the_root_token_has_no_current_session() {
    let hash = hash_key(
        &config().hash_secret,
        &ApiKey::generate("kg", Environment::Live, &[1; KEY_RANDOM_BYTES]),
    );
    let id = SessionId::generate(&[1; SESSION_ID_RANDOM_BYTES]);
    for (route, code) in [
        (AdminRoute::MintSession, "root_token_required"),
        (AdminRoute::ListSessions, "root_token_required"),
        (AdminRoute::RevokeSession(id), "root_token_required"),
        (AdminRoute::CurrentSession, "not_found"),
        (AdminRoute::EndCurrentSession, "not_found"),
    ] {
        assert_eq!(
            authentication(&route, hash.clone())
                .map(|_| ())
                .map_err(|e| e.code()),
            Err(code),
            "{route:?}"
        );
        let root = root_may_call(&route).map_err(|e| e.code());
        assert_eq!(root.is_ok(), !route.is_own_session(), "{route:?}");
    }
}

#[test]
fn a_live_session_calls_what_its_permissions_give_and_nothing_else() {
    use crate::session::Permission::*;
    let find = |session: Option<Session>, route: &AdminRoute, now: u64| {
        session_caller(
            DirectoryReply::Session {
                session,
                assignment: PlanAssignment::default(),
            },
            route,
            &config().policy,
            now,
        )
        .map(|(_, actor)| actor)
    };
    let reader = a_session(vec![KeysRead]);
    let got = find(Some(reader.clone()), &AdminRoute::ListKeys, NOW).expect("reads keys");
    assert_eq!(got, member(vec![KeysRead]));
    for (route, expected) in [
        (AdminRoute::CreateKey, "permission_required"),
        (AdminRoute::ListApprovals, "permission_required"),
        (AdminRoute::MintSession, "root_token_required"),
        (AdminRoute::ListSessions, "root_token_required"),
    ] {
        let refused = find(Some(reader.clone()), &route, NOW);
        assert_eq!(code(refused), expected, "{route:?}");
    }
    let refused = find(Some(reader.clone()), &AdminRoute::CreateKey, NOW);
    let Err(error) = refused else {
        panic!("refused")
    };
    assert_eq!(
        error.refused().error,
        GatewayError::PermissionRequired {
            permission: KeysManage
        }
    );
    // Its own session it may always see and end.
    assert!(find(Some(reader.clone()), &AdminRoute::CurrentSession, NOW).is_ok());
    assert!(find(Some(reader.clone()), &AdminRoute::EndCurrentSession, NOW).is_ok());
    // A manager reads too; a reviewer reviews.
    let manager = a_session(vec![KeysManage]);
    assert!(find(Some(manager.clone()), &AdminRoute::ListKeys, NOW).is_ok());
    assert!(find(Some(manager), &AdminRoute::Policy, NOW).is_ok());
    let reviewer = a_session(vec![ApprovalsReview]);
    assert!(find(Some(reviewer.clone()), &AdminRoute::ListApprovals, NOW).is_ok());
    assert_eq!(
        code(find(Some(reviewer), &AdminRoute::ListKeys, NOW)),
        "permission_required"
    );
}

#[test]
fn an_unknown_or_expired_session_is_an_invalid_admin_token() {
    let session = a_session(vec![crate::session::Permission::KeysRead]);
    for (found, now) in [
        (None, NOW),
        (Some(session.clone()), session.expires_at),
        (Some(session.clone()), session.expires_at + 1),
    ] {
        let reply = DirectoryReply::Session {
            session: found,
            assignment: PlanAssignment::default(),
        };
        assert_eq!(
            code(session_caller(
                reply,
                &AdminRoute::CurrentSession,
                &config().policy,
                now
            )),
            "invalid_admin_token"
        );
    }
    let reply = DirectoryReply::Session {
        session: Some(session.clone()),
        assignment: PlanAssignment::default(),
    };
    let policy = config().policy;
    let live = session_caller(
        reply,
        &AdminRoute::CurrentSession,
        &policy,
        session.expires_at - 1,
    );
    assert!(live.is_ok());
    assert_eq!(
        code(session_caller(
            DirectoryReply::Done,
            &AdminRoute::ListKeys,
            &policy,
            NOW
        )),
        "store_unavailable"
    );
}

#[test]
fn a_mint_stores_the_token_s_hmac_never_the_token_and_a_full_workspace_is_409() {
    let config = config();
    let new_session = crate::admin::parse_mint(
        br#"{"workspace":"acme","member":{"id":"u1","name":"Ada"},"permissions":["keys:read"],"ttl_seconds":120}"#,
    )
    .expect("valid");
    let random = MintRandom {
        id: [5; SESSION_ID_RANDOM_BYTES],
        token: [6; SESSION_TOKEN_RANDOM_BYTES],
    };
    let mint = plan_mint(new_session, &config, NOW, &random);
    assert_eq!(mint.session.expires_at, NOW + 120_000);
    let DirectoryCommand::MintSession {
        index_name,
        session,
        now_ms,
    } = &mint.command
    else {
        panic!("a mint command")
    };
    assert_eq!(*index_name, mint.token.index_name(&config.hash_secret));
    assert_eq!((session, *now_ms), (&mint.session, NOW));
    let wire = serde_json::to_string(&mint.command).expect("writes");
    assert!(!wire.contains(mint.token.expose()), "{wire}");
    assert_eq!(code(minted(DirectoryReply::SessionMinted)), "ok");
    let full = DirectoryReply::TooManySessions(crate::session::TooManySessions { max: 1_000 });
    assert_eq!(code(minted(full)), "too_many_sessions");
    assert_eq!(
        code(session_revoked(DirectoryReply::SessionRevoked {
            found: true
        })),
        "ok"
    );
    assert_eq!(
        code(session_revoked(DirectoryReply::SessionRevoked {
            found: false
        })),
        "not_found"
    );
}

#[test]
fn a_member_creates_any_scope_of_the_policy_in_its_own_workspace_only() {
    let config = config();
    let manager = member(vec![crate::session::Permission::KeysManage]);
    let plan = |body: &str| plan_create(body, &manager, &config).map_err(|e| e.code());
    let creation = plan(r#"{"name": "x", "scopes": ["contacts:delete", "api_keys:delete"]}"#)
        .expect("any scope");
    let Command::Create { record, .. } = &creation.create else {
        panic!("a create")
    };
    assert_eq!(record.workspace, "acme");
    assert_eq!(
        record.created_by,
        Some(Principal::Member {
            id: "user_7".into(),
            name: "Ada".into()
        })
    );
    // A person's keys head families of their own, and follow the policy's defaults.
    assert_eq!((record.family.clone(), record.limits), (None, None));
    assert_eq!(
        plan(r#"{"name": "x", "scopes": ["contacts:read"], "workspace": "other"}"#).map(|_| ()),
        Err("workspace_forbidden")
    );
    assert!(plan(
        r#"{"name": "x", "scopes": ["contacts:read"], "workspace": "acme", "environment": "test"}"#
    )
    .is_ok());
}

#[test]
fn a_members_review_is_bound_by_its_workspaces_plan_like_a_keys() {
    use crate::session::Permission::ApprovalsReview;
    let policy = Policy::from_toml(
        r#"
default_plan = "basic"
[[resources]]
name = "contacts"
kind = "ladder"
[[resources]]
name = "approvals"
kind = "read_write"
[[plans]]
name = "basic"
resources = ["contacts"]
[[plans]]
name = "pro"
"#,
    )
    .expect("the policy loads");
    let id = ApprovalId::generate(&QueueShard::of("acme"), &[1; APPROVAL_ID_RANDOM_BYTES]);
    let call = |plan: Option<&str>, route: &AdminRoute| {
        let reply = DirectoryReply::Session {
            session: Some(a_session(vec![ApprovalsReview])),
            assignment: PlanAssignment {
                plan: plan.map(str::to_string),
                version: 1,
            },
        };
        code(session_caller(reply, route, &policy, NOW))
    };
    for route in [
        AdminRoute::ListApprovals,
        AdminRoute::Approve(id.clone()),
        AdminRoute::Reject(id.clone()),
    ] {
        // On the default plan (never set) and on `basic` the queue is not offered.
        assert_eq!(call(None, &route), "scope_not_in_plan", "{route:?}");
        assert_eq!(
            call(Some("basic"), &route),
            "scope_not_in_plan",
            "{route:?}"
        );
        assert_eq!(call(Some("pro"), &route), "ok", "{route:?}");
    }
    // Its own session it sees whatever the plan.
    assert_eq!(call(Some("basic"), &AdminRoute::CurrentSession), "ok");
}

#[test]
fn a_window_left_out_at_create_takes_the_plan_s_default() {
    let config = config_with(include_str!("../../../policies/seed-004-coarse.toml"));
    let on = |plan: &str| PlanAssignment {
        plan: Some(plan.into()),
        version: 1,
    };
    let create = |body: &str, plan: &str| {
        let request = read_creation(body.as_bytes(), &Actor::Root);
        plan_creation(request, on(plan), &Actor::Root, &config, NOW, &random(7))
    };
    let limits = |creation: Result<Creation, GatewayError>| match creation {
        Ok(Creation {
            create: Command::Create { record, .. },
            ..
        }) => record.limits,
        Ok(_) => panic!("not a create"),
        Err(error) => panic!("refused: {error:?}"),
    };
    let body = r#"{"name": "a", "scopes": ["read:all"], "limits": {"per_minute": 30}}"#;
    // Free gives 60/min and 1,000/day (and allows no more): the day is Free's, not the
    // policy's 50,000, which Free would refuse.
    assert_eq!(limits(create(body, "free")), Limits::new(30, 1_000).ok());
    assert_eq!(limits(create(body, "team")), Limits::new(30, 50_000).ok());
    let day_only = r#"{"name": "a", "scopes": ["read:all"], "limits": {"per_day": 500}}"#;
    assert_eq!(limits(create(day_only, "free")), Limits::new(60, 500).ok());
    // No limits: the key follows its plan's defaults, even as they change.
    let none = r#"{"name": "a", "scopes": ["read:all"]}"#;
    assert_eq!(limits(create(none, "free")), None);
    // Still bounded by the plan's maximum.
    let above = r#"{"name": "a", "scopes": ["read:all"], "limits": {"per_minute": 61}}"#;
    assert_eq!(
        create(above, "free").map(|_| ()).map_err(|e| e.code()),
        Err("limit_exceeds_plan")
    );
    // A day below the plan's default minute says which default it met.
    let low = r#"{"name": "a", "scopes": ["read:all"], "limits": {"per_day": 10}}"#;
    match create(low, "free") {
        Err(GatewayError::InvalidBody { errors }) => {
            assert!(
                errors[0]
                    .message
                    .contains("below the default per_minute (60)"),
                "{errors:?}"
            )
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}
