use super::*;
use crate::entitlement::PlanRefusal;
use crate::timestamp::format_rfc3339;
use serde_json::json;
use std::collections::BTreeSet;

#[test]
fn unknown_revoked_expired_share_one_shape() {
    let shapes: Vec<Vec<String>> = [
        GatewayError::KeyUnknown,
        GatewayError::KeyRevoked,
        GatewayError::KeyExpired,
    ]
    .iter()
    .map(|e| {
        let p = e.to_problem("req_1");
        assert_eq!(p.status, 401);
        assert_eq!(p.headers[0].0, "WWW-Authenticate");
        p.body.as_object().unwrap().keys().cloned().collect()
    })
    .collect();
    assert_eq!(shapes[0], shapes[1]);
    assert_eq!(shapes[1], shapes[2]);
}

#[test]
fn rate_limited_carries_retry_after() {
    let p = GatewayError::RateLimited {
        window: Window::Minute,
        retry_after_secs: 17,
    }
    .to_problem("req_2");
    assert_eq!(p.status, 429);
    assert!(p.headers.contains(&("Retry-After", "17".to_string())));
    assert_eq!(p.body["retry_after"], 17);
    assert_eq!(p.body["code"], "rate_limited");
    assert_eq!(p.body["request_id"], "req_2");
}

#[test]
fn scope_refusal_names_the_scope() {
    let p = GatewayError::InsufficientScope {
        required_scope: "contacts:write".into(),
        approval_scope: None,
    }
    .to_problem("r");
    assert_eq!(p.status, 403);
    assert_eq!(p.body["required_scope"], "contacts:write");
    assert_eq!(
        detail(&p),
        "this request needs the scope `contacts:write`, which the key does not have"
    );
    assert_eq!(members(&p), with_base(&["required_scope"]));
}

#[test]
fn scope_refusal_names_the_approval_level_that_would_queue_it() {
    let p = GatewayError::InsufficientScope {
        required_scope: "contacts:delete".into(),
        approval_scope: Some("contacts:delete-approval".into()),
    }
    .to_problem("r");
    assert_eq!(p.body["required_scope"], "contacts:delete");
    assert_eq!(p.body["approval_scope"], "contacts:delete-approval");
    assert_eq!(
        detail(&p),
        "this request needs the scope `contacts:delete`, which the key does not have; with `contacts:delete-approval` it would be queued for a human to approve"
    );
}

/// RFC 6750 §3 and §3.1, case by case.
#[test]
fn the_challenge_follows_rfc_6750() {
    let challenge = |error: GatewayError| {
        let p = error.to_problem("r");
        let found: Vec<&String> = p
            .headers
            .iter()
            .filter(|(name, _)| *name == "WWW-Authenticate")
            .map(|(_, value)| value)
            .collect();
        assert!(found.len() <= 1, "{found:?}");
        found.first().map(|v| v.to_string())
    };
    let bare = Some(r#"Bearer realm="keygate""#.to_string());
    assert_eq!(challenge(GatewayError::MissingCredentials), bare);
    assert_eq!(challenge(GatewayError::InvalidScheme), bare);
    for error in [
        GatewayError::KeyMalformed,
        GatewayError::KeyPrefixUnknown,
        GatewayError::KeyChecksumMismatch,
        GatewayError::KeyUnknown,
        GatewayError::KeyRevoked,
        GatewayError::KeyExpired,
    ] {
        assert_eq!(
            challenge(error),
            Some(r#"Bearer realm="keygate", error="invalid_token""#.into())
        );
    }
    assert_eq!(
        challenge(GatewayError::CredentialsAmbiguous { what: "x".into() }),
        Some(r#"Bearer realm="keygate", error="invalid_request""#.into())
    );
    assert_eq!(
        challenge(GatewayError::InsufficientScope {
            required_scope: "contacts:delete".into(),
            approval_scope: Some("contacts:delete-approval".into()),
        }),
        Some(
            r#"Bearer realm="keygate", error="insufficient_scope", scope="contacts:delete""#.into()
        )
    );
    assert_eq!(
        challenge(GatewayError::ApprovalNotOffered {
            required_scope: "api_keys:write".into(),
        }),
        Some(
            r#"Bearer realm="keygate", error="insufficient_scope", scope="api_keys:write""#.into()
        )
    );
    assert_eq!(
        challenge(GatewayError::InvalidAdminToken {
            credentials_sent: false
        }),
        Some(r#"Bearer realm="keygate-admin""#.into())
    );
    assert_eq!(
        challenge(GatewayError::InvalidAdminToken {
            credentials_sent: true
        }),
        Some(r#"Bearer realm="keygate-admin", error="invalid_token""#.into())
    );
    for error in [
        GatewayError::HttpsRequired,
        GatewayError::RouteNotMapped { status: 403 },
        GatewayError::KeyInRequest {
            place: "the path".into(),
        },
        GatewayError::RateLimited {
            window: Window::Minute,
            retry_after_secs: 1,
        },
    ] {
        assert_eq!(challenge(error), None);
    }
}

#[test]
fn a_type_base_puts_the_code_under_the_providers_docs() {
    for error in every_error() {
        let code = error.code();
        let p = error
            .to_problem("r")
            .with_type_base("https://docs.example.com/errors/");
        assert_eq!(
            p.body["type"],
            format!("https://docs.example.com/errors/{code}")
        );
        assert_eq!(p.body["code"], code);
    }
}

#[test]
fn a_refused_preflight_says_which_part_without_echoing_the_request() {
    for (refused, part) in [
        (PreflightRefusal::Origin, "origin"),
        (PreflightRefusal::Method, "method"),
        (PreflightRefusal::Headers, "header"),
    ] {
        let p = GatewayError::CorsPreflightRefused { refused }.to_problem("r");
        assert_eq!(
            (p.status, p.body["code"].as_str()),
            (403, Some("cors_preflight_refused"))
        );
        assert!(detail(&p).contains(part), "{}", detail(&p));
        assert!(p.headers.is_empty());
    }
}

#[test]
fn unmapped_routes_use_the_policy_status() {
    assert_eq!(GatewayError::RouteNotMapped { status: 403 }.status(), 403);
    assert_eq!(GatewayError::RouteNotMapped { status: 404 }.status(), 404);
}

#[test]
fn field_errors_are_listed() {
    let p = GatewayError::InvalidBody {
        errors: vec![FieldError::new("name", "is required")],
    }
    .to_problem("r");
    assert_eq!(p.body["detail"], "name: is required");
    assert_eq!(p.body["errors"][0]["field"], "name");
}

/// The members every problem body has (RFC 9457's, plus `code` and `request_id`).
const BASE: [&str; 6] = ["code", "detail", "request_id", "status", "title", "type"];

fn members(problem: &Problem) -> BTreeSet<String> {
    problem.body.as_object().unwrap().keys().cloned().collect()
}

fn with_base(extra: &[&str]) -> BTreeSet<String> {
    BASE.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn detail(problem: &Problem) -> &str {
    problem.body["detail"].as_str().expect("a detail")
}

#[test]
fn a_lifecycle_operation_the_policy_turns_off_is_409_naming_the_setting() {
    for (action, verb) in [
        (LifecycleAction::Edit, "editing"),
        (LifecycleAction::Revoke, "revoking"),
        (LifecycleAction::Reactivate, "re-activating"),
        (LifecycleAction::Rotate, "rotating"),
    ] {
        let error = GatewayError::LifecycleNotAllowed { action };
        assert_eq!(
            (error.status(), error.code()),
            (409, "lifecycle_not_allowed")
        );
        let p = error.to_problem("r");
        assert_eq!(p.status, 409);
        assert_eq!(p.body["title"], "Conflict");
        assert_eq!(
            detail(&p),
            format!(
                "this deployment's policy does not allow {verb} keys (`[lifecycle] {} = false`)",
                action.as_str()
            )
        );
        assert_eq!(members(&p), with_base(&[]));
        assert!(p.headers.is_empty());
    }
}

#[test]
fn rotating_a_key_that_is_not_active_is_409_with_its_status() {
    for (status, name) in [(Status::Revoked, "revoked"), (Status::Expired, "expired")] {
        let error = GatewayError::KeyNotActive { status };
        assert_eq!((error.status(), error.code()), (409, "key_not_active"));
        let p = error.to_problem("r");
        assert_eq!(p.body["key_status"], name);
        assert_eq!(
            detail(&p),
            format!("the key is {name}; only an active key can be rotated")
        );
        assert_eq!(members(&p), with_base(&["key_status"]));
    }
}

#[test]
fn each_overreach_is_403_with_its_own_code_and_detail() {
    let cases = [
        (
            Overreach::Scopes {
                scopes: vec!["email:send".into()],
            },
            "scope_exceeds_own",
            "a key cannot give more than it holds: `email:send` is not within the calling key's scopes",
        ),
        (
            Overreach::Scopes {
                scopes: vec!["email:send".into(), "admin".into()],
            },
            "scope_exceeds_own",
            "a key cannot give more than it holds: `email:send`, `admin` are not within the calling key's scopes",
        ),
        (
            Overreach::Limit {
                window: Window::Minute,
                own: 60,
            },
            "limit_exceeds_own",
            "a key cannot give a higher limit than its own: the calling key's per-minute limit is 60",
        ),
        (
            Overreach::Limit {
                window: Window::Day,
                own: 1000,
            },
            "limit_exceeds_own",
            "a key cannot give a higher limit than its own: the calling key's per-day limit is 1000",
        ),
        (
            Overreach::Expiry {
                own: 1_900_000_000_000,
            },
            "expiry_exceeds_own",
            "",
        ),
        (
            Overreach::Environment,
            "environment_exceeds_own",
            "a key manages only keys of its own environment: a test key test keys, a live key live keys",
        ),
        (
            Overreach::Workspace { own: "acme".into() },
            "workspace_forbidden",
            "the calling key manages only keys of its own workspace, `acme`",
        ),
    ];
    for (overreach, code, expected_detail) in cases {
        let error = GatewayError::BeyondOwnGrant(overreach.clone());
        assert_eq!((error.status(), error.code()), (403, code), "{overreach:?}");
        let p = error.to_problem("r");
        assert_eq!(p.body["title"], "Forbidden");
        assert_eq!(p.body["type"], format!("urn:keygate:problem:{code}"));
        if let Overreach::Expiry { own } = overreach {
            assert_eq!(
                detail(&p),
                format!(
                    "the calling key expires at {}; a key it manages must expire no later",
                    format_rfc3339(own)
                )
            );
        } else {
            assert_eq!(detail(&p), expected_detail);
        }
        match &overreach {
            Overreach::Scopes { scopes } => {
                assert_eq!(p.body["scopes"], json!(scopes));
                assert_eq!(members(&p), with_base(&["scopes"]));
            }
            _ => assert_eq!(members(&p), with_base(&[])),
        }
    }
}

#[test]
fn method_not_allowed_names_the_methods_in_allow() {
    let error = GatewayError::MethodNotAllowed {
        allowed: "GET, PATCH, DELETE".into(),
    };
    assert_eq!((error.status(), error.code()), (405, "method_not_allowed"));
    let p = error.to_problem("r");
    assert_eq!(p.headers, [("Allow", "GET, PATCH, DELETE".to_string())]);
    assert_eq!(detail(&p), "allowed methods: GET, PATCH, DELETE");
    assert_eq!(members(&p), with_base(&[]));
}

/// One of every variant. The match below stops compiling when a variant is added, so
/// this list cannot silently fall behind.
fn every_error() -> Vec<GatewayError> {
    use GatewayError::*;
    let all = vec![
        HttpsRequired,
        MissingCredentials,
        InvalidScheme,
        KeyMalformed,
        KeyPrefixUnknown,
        KeyChecksumMismatch,
        KeyUnknown,
        KeyRevoked,
        KeyExpired,
        InsufficientScope {
            required_scope: "contacts:write".into(),
            approval_scope: Some("contacts:write-approval".into()),
        },
        CredentialsAmbiguous {
            what: "the request sends a key in both `Authorization` and `X-API-Key`".into(),
        },
        CorsPreflightRefused {
            refused: PreflightRefusal::Origin,
        },
        RouteNotMapped { status: 404 },
        AmbiguousPath {
            reason: "an encoded slash",
        },
        OverrideNotAllowed {
            what: "X-HTTP-Method-Override".into(),
        },
        MethodNotSupported,
        BodyNotAllowed,
        RateLimited {
            window: Window::Minute,
            retry_after_secs: 3,
        },
        ApprovalNotOffered {
            required_scope: "api_keys:write".into(),
        },
        PayloadTooLarge {
            max_bytes: 1024,
            bound: BodyBound::Queued,
        },
        BodyNotScannable { max_bytes: 65536 },
        KeyInRequest {
            place: "the query string".into(),
        },
        ApprovalQueueFull(QueueFull::PendingPerKey { max: 100 }),
        WorkspaceRequired,
        ApprovalDecided {
            status: ApprovalStatus::Expired,
        },
        SubmitterNotAllowed {
            failure: SubmitterFailure::ScopeLost {
                required_scope: "contacts:write".into(),
            },
        },
        OwnApproval,
        RelatedKeyApproval,
        OriginUnreachable,
        OriginTimeout,
        StoreUnavailable,
        Misconfigured,
        Internal,
        InvalidAdminToken {
            credentials_sent: true,
        },
        InvalidBody {
            errors: vec![FieldError::new("name", "is required")],
        },
        UnknownScopes {
            unknown: vec!["billing:read".into()],
            valid: vec!["contacts:read".into()],
        },
        NotFound,
        MethodNotAllowed {
            allowed: "POST".into(),
        },
        Conflict {
            detail: "a key with this id already exists".into(),
        },
        LifecycleNotAllowed {
            action: LifecycleAction::Rotate,
        },
        KeyNotActive {
            status: Status::Revoked,
        },
        BeyondOwnGrant(Overreach::Environment),
        NoRejectionWebhook,
        NotKeyCreator,
        ReactivationNotAllowed,
        BeyondPlan(PlanRefusal::NoApiAccess {
            plan: "free".into(),
            needed: Some("pro".into()),
        }),
        BeyondPlan(PlanRefusal::ScopesNotInPlan {
            plan: "free".into(),
            scopes: vec!["deals:read".into()],
        }),
        BeyondPlan(PlanRefusal::LimitAbovePlan {
            plan: "free".into(),
            window: Window::Day,
            max: 1_000,
        }),
        RootTokenRequired,
        PermissionRequired {
            permission: crate::session::Permission::KeysManage,
        },
        TooManySessions { max: 1_000 },
        PortalNotDeployed,
    ];
    for error in &all {
        match error {
            HttpsRequired
            | MissingCredentials
            | InvalidScheme
            | KeyMalformed
            | KeyPrefixUnknown
            | KeyChecksumMismatch
            | KeyUnknown
            | KeyRevoked
            | KeyExpired
            | InsufficientScope { .. }
            | CredentialsAmbiguous { .. }
            | CorsPreflightRefused { .. }
            | RouteNotMapped { .. }
            | AmbiguousPath { .. }
            | OverrideNotAllowed { .. }
            | BodyNotScannable { .. }
            | KeyInRequest { .. }
            | MethodNotSupported
            | BodyNotAllowed
            | RateLimited { .. }
            | ApprovalNotOffered { .. }
            | PayloadTooLarge { .. }
            | ApprovalQueueFull(_)
            | WorkspaceRequired
            | ApprovalDecided { .. }
            | SubmitterNotAllowed { .. }
            | OwnApproval
            | RelatedKeyApproval
            | OriginUnreachable
            | OriginTimeout
            | StoreUnavailable
            | Misconfigured
            | Internal
            | InvalidAdminToken { .. }
            | InvalidBody { .. }
            | UnknownScopes { .. }
            | NotFound
            | MethodNotAllowed { .. }
            | Conflict { .. }
            | LifecycleNotAllowed { .. }
            | KeyNotActive { .. }
            | BeyondOwnGrant(_)
            | NoRejectionWebhook
            | NotKeyCreator
            | ReactivationNotAllowed
            | BeyondPlan(_)
            | RootTokenRequired
            | PermissionRequired { .. }
            | TooManySessions { .. }
            | PortalNotDeployed => {}
        }
    }
    all
}

#[test]
fn plan_refusals_name_the_plan_and_what_it_lacks() {
    let required = GatewayError::BeyondPlan(PlanRefusal::NoApiAccess {
        plan: "free".into(),
        needed: Some("pro".into()),
    })
    .to_problem("req_1");
    assert_eq!(
        (required.status, required.body["code"].as_str()),
        (403, Some("plan_required"))
    );
    assert_eq!(required.body["plan"], "free");
    assert_eq!(required.body["required_plan"], "pro");
    assert!(detail(&required).contains("`pro`"), "{}", detail(&required));
    let nowhere = GatewayError::BeyondPlan(PlanRefusal::NoApiAccess {
        plan: "free".into(),
        needed: None,
    })
    .to_problem("req_1");
    assert!(nowhere.body.get("required_plan").is_none());
    let scopes = GatewayError::BeyondPlan(PlanRefusal::ScopesNotInPlan {
        plan: "starter".into(),
        scopes: vec!["deals:read".into(), "deals:write".into()],
    })
    .to_problem("req_1");
    assert_eq!(scopes.body["code"], "scope_not_in_plan");
    assert_eq!(scopes.body["plan"], "starter");
    assert_eq!(
        scopes.body["scopes"],
        serde_json::json!(["deals:read", "deals:write"])
    );
    assert!(
        detail(&scopes).contains("`deals:write`"),
        "{}",
        detail(&scopes)
    );
    let limit = GatewayError::BeyondPlan(PlanRefusal::LimitAbovePlan {
        plan: "free".into(),
        window: Window::Minute,
        max: 60,
    })
    .to_problem("req_1");
    assert_eq!(limit.body["code"], "limit_exceeds_plan");
    assert_eq!(
        (limit.body["window"].as_str(), limit.body["max"].as_u64()),
        (Some("minute"), Some(60))
    );
}

#[test]
fn a_missing_session_permission_is_403_naming_it() {
    let p = GatewayError::from(crate::delegation::PermissionMissing {
        permission: crate::session::Permission::KeysManage,
    })
    .to_problem("r");
    assert_eq!(p.status, 403);
    assert_eq!(p.body["code"], "permission_required");
    assert_eq!(p.body["permission"], "keys:manage");
    assert_eq!(members(&p), with_base(&["permission"]));
    assert_eq!(
        detail(&p),
        "this call needs the session permission `keys:manage`, which this session does not have"
    );
}

#[test]
fn session_refusals_have_their_codes_and_members() {
    let root = GatewayError::RootTokenRequired.to_problem("r");
    assert_eq!(
        (root.status, &root.body["code"]),
        (403, &json!("root_token_required"))
    );
    assert_eq!(members(&root), with_base(&[]));
    let full = GatewayError::from(crate::session::TooManySessions { max: 1_000 }).to_problem("r");
    assert_eq!(
        (full.status, &full.body["code"]),
        (409, &json!("too_many_sessions"))
    );
    assert_eq!(full.body["max"], 1_000);
    assert_eq!(members(&full), with_base(&["max"]));
    assert!(
        detail(&full).contains("1000 live sessions"),
        "{}",
        detail(&full)
    );
}

#[test]
fn approval_conflicts_say_where_the_approval_stands_without_touching_status() {
    let decided = GatewayError::ApprovalDecided {
        status: ApprovalStatus::Rejected,
    }
    .to_problem("req_1");
    assert_eq!(decided.status, 409);
    assert_eq!(decided.body["status"], 409);
    assert_eq!(decided.body["approval_status"], "rejected");
    let failed = GatewayError::SubmitterNotAllowed {
        failure: SubmitterFailure::KeyRevoked,
    }
    .to_problem("req_1");
    assert_eq!(failed.body["approval_status"], "failed");
    assert_eq!(failed.body["reason"], "key_revoked");
    assert!(detail(&failed).contains("revoked"), "{}", detail(&failed));
    let large = GatewayError::PayloadTooLarge {
        max_bytes: 10,
        bound: BodyBound::Queued,
    }
    .to_problem("req_1");
    assert_eq!(
        (large.status, large.body["max_bytes"].as_u64()),
        (413, Some(10))
    );
    let full = GatewayError::ApprovalQueueFull(QueueFull::PendingPerWorkspace { max: 7 })
        .to_problem("req_1");
    assert_eq!(
        (
            full.status,
            full.body["code"].as_str(),
            full.body["cap"].as_str(),
            full.body["max"].as_u64()
        ),
        (
            429,
            Some("approval_queue_full"),
            Some("max_pending_per_workspace"),
            Some(7)
        )
    );
    assert!(
        full.headers.iter().all(|(name, _)| *name != "Retry-After"),
        "no promise of when a place frees up"
    );
}

#[test]
fn every_problem_has_the_rfc_9457_members_and_a_stable_code() {
    let extras: BTreeSet<&str> = [
        "required_scope",
        "approval_scope",
        "retry_after",
        "errors",
        "unknown_scopes",
        "valid_scopes",
        "key_status",
        "scopes",
        "max_bytes",
        "cap",
        "max",
        "approval_status",
        "reason",
        "plan",
        "required_plan",
        "window",
        "permission",
    ]
    .into_iter()
    .collect();
    let mut codes = BTreeSet::new();
    for error in every_error() {
        let p = error.to_problem("req_9");
        let (status, code) = (error.status(), error.code());
        assert_eq!(p.status, status, "{error:?}");
        assert!((400..600).contains(&status), "{error:?}");
        assert_eq!(p.body["status"], status);
        assert_eq!(p.body["code"], code);
        assert_eq!(p.body["type"], format!("urn:keygate:problem:{code}"));
        assert_eq!(p.body["request_id"], "req_9");
        assert!(!p.body["title"].as_str().unwrap().is_empty());
        assert!(!detail(&p).is_empty(), "{error:?}");
        for member in members(&p) {
            assert!(
                BASE.contains(&member.as_str()) || extras.contains(member.as_str()),
                "{error:?} has an undocumented member `{member}`"
            );
        }
        codes.insert(code);
    }
    // Each Overreach has its own code; the list above holds one of them.
    assert_eq!(codes.len(), every_error().len());
}

#[test]
fn no_problem_from_a_key_lifecycle_carries_a_secret() {
    use crate::admin::{parse_create, DEFAULT_WORKSPACE};
    use crate::authority::{Command, KeyState, Reply};
    use crate::delegation::Actor;
    use crate::key::{
        hash_key, ApiKey, Environment, HashingSecret, KeyId, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES,
    };
    use crate::limits::Limits;
    use crate::policy::Policy;
    use crate::record::Grantee;
    use crate::webhook::secret::{WebhookSecret, WEBHOOK_SECRET_RANDOM_BYTES};

    let policy = Policy::from_toml(include_str!("../../policies/seed-003-modules.toml"))
        .expect("seed parses");
    let new_key = parse_create(
        br#"{"name": "Cases", "scopes": ["cases:write"], "workspace": "acme"}"#,
        &policy,
        1_900_000_000_000,
        true,
    )
    .expect("valid body");
    let key = ApiKey::generate("tpr", Environment::Live, &[3; KEY_RANDOM_BYTES]);
    let secret = HashingSecret::new(b"problem-test-secret".to_vec());
    let hash = hash_key(&secret, &key);
    let record = new_key.into_record(
        KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]),
        &key,
        1_900_000_000_000,
        DEFAULT_WORKSPACE,
        crate::record::Principal::Root,
        None,
    );
    let mut state = KeyState::default();
    state.handle(
        Command::Create {
            webhook_secret: WebhookSecret::generate(&[7; WEBHOOK_SECRET_RANDOM_BYTES]),
            record: Box::new(record),
            secret: hash.clone(),
        },
        &policy,
        1_900_000_000_000,
    );
    let weaker = Actor::Key {
        grantee: Grantee {
            key_id: KeyId::generate(&[5; KEY_ID_RANDOM_BYTES]),
            key_name: "Manager".into(),
            workspace: "acme".into(),
            environment: Environment::Test,
            scopes: vec!["api_keys:delete".into(), "cases:read".into()],
            limits: Limits::new(1, 1).unwrap(),
            expires_at: Some(1_900_000_001_000),
            created_by: None,
            family: None,
        },
    };
    let next = ApiKey::generate("tpr", Environment::Live, &[6; KEY_RANDOM_BYTES]);
    let mut problems = Vec::new();
    for actor in [Actor::Root, weaker] {
        for command in [
            Command::Edit {
                webhook_secret: WebhookSecret::generate(&[7; WEBHOOK_SECRET_RANDOM_BYTES]),
                actor: actor.clone(),
                edit: Default::default(),
            },
            Command::Activate {
                actor: actor.clone(),
            },
            Command::Rotate {
                actor: actor.clone(),
                secret: hash_key(&secret, &next),
                hint: next.hint(),
                grace_ms: 0,
            },
        ] {
            if let (Reply::Declined { declined }, _) =
                state.clone().handle(command, &policy, 1_900_000_000_001)
            {
                problems.push(GatewayError::from(declined).to_problem("r"));
            }
        }
    }
    assert_eq!(problems.len(), 6, "every command was declined");
    let secrets = [
        key.expose().to_string(),
        next.expose().to_string(),
        hash.index_name()[3..].to_string(),
    ];
    for p in &problems {
        let text = format!("{} {:?}", p.body, p.headers);
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret in {text}");
        }
    }
}

#[test]
fn portal_refusals_are_keygate_problems() {
    use crate::portal::PortalRefusal;
    let not_found = GatewayError::from(PortalRefusal::NotFound).to_problem("req_1");
    assert_eq!(
        (not_found.status, not_found.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let method = GatewayError::from(PortalRefusal::MethodNotAllowed).to_problem("req_1");
    assert_eq!(method.status, 405);
    assert_eq!(method.headers, vec![("Allow", "GET, HEAD".to_string())]);
    let missing = GatewayError::from(PortalRefusal::NotDeployed).to_problem("req_1");
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (404, Some("portal_not_deployed"))
    );
    assert!(missing.body["detail"]
        .as_str()
        .is_some_and(|detail| detail.contains("scripts/build.sh") && detail.contains("[assets]")));
}
