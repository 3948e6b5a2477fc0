//! A key's whole life through the pure core, the way the admin API composes it: route,
//! authenticate (root, or a key admitted for the route's `api_keys` action by its own
//! authority), validate the body, then one command to the target key's authority.
//!
//! Storage is two maps — the KV index (secret hash → key id) and one `KeyState` per key —
//! so what is tested is the composition of the public API, not the platform.

use keygate::admin::{
    admin_route, parse_create, parse_edit, parse_rotate, AdminRoute, DEFAULT_WORKSPACE,
};
use keygate::authority::{key_object, Command, Declined, KeyState, Refusal, Reply};
use keygate::delegation::{Actor, Overreach};
use keygate::key::{
    self, hash_key, ApiKey, Environment, HashingSecret, KeyId, KEY_ID_RANDOM_BYTES,
    KEY_RANDOM_BYTES,
};
use keygate::policy::{Action, Policy};
use keygate::problem::GatewayError;
use keygate::record::KeyRecord;
use keygate::webhook::secret::{WebhookSecret, WEBHOOK_SECRET_RANDOM_BYTES};
use std::collections::HashMap;

/// 2030-03-17T17:46:40Z.
const NOW: u64 = 1_900_000_000_000;

struct Deployment {
    policy: Policy,
    secret: HashingSecret,
    index: HashMap<String, KeyId>,
    keys: HashMap<KeyId, KeyState>,
    draws: u8,
}

/// A bearer token: the root token, or a key's secret as issued.
enum Token<'a> {
    Root,
    Key(&'a ApiKey),
}

impl Deployment {
    fn new(policy_text: &str) -> Deployment {
        Deployment {
            policy: Policy::from_toml(policy_text).expect("policy parses"),
            secret: HashingSecret::new(b"lifecycle-test-secret".to_vec()),
            index: HashMap::new(),
            keys: HashMap::new(),
            draws: 0,
        }
    }

    fn draw(&mut self) -> u8 {
        self.draws += 1;
        self.draws
    }

    /// One command to the authority of the key `id`.
    fn call(&mut self, id: &KeyId, command: Command, now: u64) -> Reply {
        let state = self.keys.entry(id.clone()).or_default();
        state.handle(command, &self.policy, now).0
    }

    /// What the gateway does with a presented key: format check, hash, index, authority.
    fn admit(&mut self, key: &ApiKey, resource: &str, action: Action, now: u64) -> Reply {
        let parsed = key::parse(key.expose(), self.policy.key_prefix()).expect("well formed");
        let key_hash = hash_key(&self.secret, &parsed.key);
        let Some(id) = self.index.get(key_hash.index_name().as_str()).cloned() else {
            return Reply::Refused {
                refusal: Refusal::Unknown,
                limit_headers: Vec::new(),
            };
        };
        let command = Command::Admit {
            key_hash,
            resource: resource.into(),
            action,
            queueing: None,
        };
        self.call(&id, command, now)
    }

    /// Routes and authenticates an admin request.
    fn authenticate(
        &mut self,
        token: Token,
        method: &str,
        path: &str,
        now: u64,
    ) -> Result<(AdminRoute, Actor), GatewayError> {
        let route = admin_route(method, path)?;
        let key = match token {
            Token::Root => return Ok((route, Actor::Root)),
            Token::Key(key) => key,
        };
        let grant = route
            .required_grant()
            .ok_or(GatewayError::RootTokenRequired)?;
        match self.admit(key, &grant.resource, grant.action, now) {
            Reply::Admitted { grantee, .. } => Ok((route, Actor::Key { grantee })),
            Reply::Refused { refusal, .. } => Err(refusal.into()),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// `POST /keys`: the new key's record and its secret, shown once.
    fn create(
        &mut self,
        token: Token,
        body: &str,
        now: u64,
    ) -> Result<(KeyRecord, ApiKey), GatewayError> {
        let (_, actor) = self.authenticate(token, "POST", "/keys", now)?;
        let new_key = parse_create(body.as_bytes(), &self.policy, now, true)?;
        let workspace = actor
            .workspace_for(new_key.workspace.as_deref())
            .map_err(GatewayError::BeyondOwnGrant)?
            .unwrap_or_else(|| DEFAULT_WORKSPACE.to_string());
        let draw = self.draw();
        let id = KeyId::generate(&[draw; KEY_ID_RANDOM_BYTES]);
        let key = ApiKey::generate(
            self.policy.key_prefix(),
            new_key.environment,
            &[draw; KEY_RANDOM_BYTES],
        );
        let mut record = new_key.into_record(
            id.clone(),
            &key,
            now,
            &workspace,
            actor.principal(),
            actor.family_for_new_key(),
        );
        actor.pin_limits(&mut record, &self.policy);
        actor
            .may_hold(&record, &self.policy)
            .map_err(GatewayError::BeyondOwnGrant)?;
        let secret = hash_key(&self.secret, &key);
        self.index
            .insert(secret.index_name().as_str().to_string(), id.clone());
        let command = Command::Create {
            webhook_secret: WebhookSecret::generate(&[0; WEBHOOK_SECRET_RANDOM_BYTES]),
            record: Box::new(record),
            secret,
        };
        match self.call(&id, command, now) {
            Reply::Key { record, .. } => Ok((record, key)),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Any other admin request on one key; the reply as the authority gave it.
    fn manage(
        &mut self,
        token: Token,
        method: &str,
        path: &str,
        body: &str,
        now: u64,
    ) -> Result<Reply, GatewayError> {
        let (route, actor) = self.authenticate(token, method, path, now)?;
        let (id, command) = match route {
            AdminRoute::GetKey(id) => (id, Command::Get { actor }),
            AdminRoute::EditKey(id) => {
                let edit = parse_edit(body.as_bytes(), &self.policy, now, true)?;
                (
                    id,
                    Command::Edit {
                        actor,
                        edit,
                        webhook_secret: WebhookSecret::generate(&[0; WEBHOOK_SECRET_RANDOM_BYTES]),
                    },
                )
            }
            AdminRoute::RevokeKey(id) => (id, Command::Revoke { actor }),
            AdminRoute::ActivateKey(id) => (id, Command::Activate { actor }),
            AdminRoute::DeleteKey(id) => (id, Command::Delete { actor }),
            other => panic!("not a key route: {other:?}"),
        };
        match self.call(&id, command, now) {
            Reply::Declined { declined } => Err(declined.into()),
            Reply::Deleted { index_names, id } => {
                for name in &index_names {
                    self.index.remove(name.as_str());
                }
                Ok(Reply::Deleted { id, index_names })
            }
            reply => Ok(reply),
        }
    }

    /// `POST /keys/{id}/rotate`: the reply and the new secret, shown once.
    fn rotate(
        &mut self,
        token: Token,
        id: &KeyId,
        body: &str,
        now: u64,
    ) -> Result<(Reply, ApiKey), GatewayError> {
        let path = format!("/keys/{id}/rotate");
        let (_, actor) = self.authenticate(token, "POST", &path, now)?;
        let grace_ms = parse_rotate(body.as_bytes())?;
        let draw = self.draw();
        let key = ApiKey::generate(
            self.policy.key_prefix(),
            Environment::Live,
            &[draw; KEY_RANDOM_BYTES],
        );
        let secret = hash_key(&self.secret, &key);
        self.index
            .insert(secret.index_name().as_str().to_string(), id.clone());
        let command = Command::Rotate {
            actor,
            secret,
            hint: key.hint(),
            grace_ms,
        };
        match self.call(id, command, now) {
            Reply::Declined { declined } => Err(declined.into()),
            reply => Ok((reply, key)),
        }
    }
}

const DEMO: &str = include_str!("../policies/demo.toml");

fn is_admitted(reply: &Reply) -> bool {
    matches!(reply, Reply::Admitted { .. })
}

fn refusal(reply: Reply) -> Refusal {
    match reply {
        Reply::Refused { refusal, .. } => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn record_of(reply: Reply) -> KeyRecord {
    match reply {
        Reply::Key { record, .. } | Reply::Rotated { record, .. } => record,
        other => panic!("expected a key, got {other:?}"),
    }
}

/// A manager key in workspace `acme`, created by the root token.
fn with_manager(deployment: &mut Deployment, scopes: &str) -> (KeyRecord, ApiKey) {
    deployment
        .create(
            Token::Root,
            &format!(
                r#"{{"name": "Acme manager", "scopes": {scopes}, "workspace": "acme",
                    "limits": {{"per_minute": 60, "per_day": 10000}}}}"#
            ),
            NOW,
        )
        .expect("root creates the manager")
}

#[test]
fn a_manager_key_creates_edits_rotates_and_a_root_deletes() {
    let mut gw = Deployment::new(DEMO);
    let (_, manager) = with_manager(&mut gw, r#"["api_keys:write", "contacts:write"]"#);

    // A key made by the manager lands in the manager's workspace and works at once.
    let (child, child_key) = gw
        .create(
            Token::Key(&manager),
            r#"{"name": "Sync job", "scopes": ["contacts:read"], "limits": {"per_minute": 5, "per_day": 500}}"#,
            NOW + 1,
        )
        .expect("within the manager's grants");
    assert_eq!(child.workspace, "acme");
    assert!(is_admitted(&gw.admit(
        &child_key,
        "contacts",
        Action::Read,
        NOW + 2
    )));

    // Edit: the next request sees the new name and scopes.
    let path = format!("/keys/{}", child.id);
    let edited = record_of(
        gw.manage(
            Token::Key(&manager),
            "PATCH",
            &path,
            r#"{"name": "Nightly sync", "scopes": ["contacts:write"]}"#,
            NOW + 3,
        )
        .expect("edit within grants"),
    );
    assert_eq!(edited.version, child.version + 1);
    let Reply::Admitted { grantee, .. } = gw.admit(&child_key, "contacts", Action::Write, NOW + 4)
    else {
        panic!("the edited scope admits");
    };
    assert_eq!(grantee.key_name, "Nightly sync");
    let shown = key_object(&edited, None, &gw.policy, NOW + 4);
    assert_eq!(shown["name"], "Nightly sync");

    // Rotate with a minute of grace: both secrets work, then only the new one.
    let (reply, new_key) = gw
        .rotate(
            Token::Key(&manager),
            &child.id,
            r#"{"grace_seconds": 60}"#,
            NOW + 10,
        )
        .expect("rotation within grants");
    let Reply::Rotated {
        record,
        previous_valid_until,
        ..
    } = reply
    else {
        panic!("expected Rotated");
    };
    assert_eq!(previous_valid_until, NOW + 60_010);
    assert_eq!(record.hint, new_key.hint());
    assert!(is_admitted(&gw.admit(
        &child_key,
        "contacts",
        Action::Read,
        NOW + 60_009
    )));
    assert_eq!(
        refusal(gw.admit(&child_key, "contacts", Action::Read, NOW + 60_010)),
        Refusal::Unknown
    );
    assert!(is_admitted(&gw.admit(
        &new_key,
        "contacts",
        Action::Read,
        NOW + 60_010
    )));

    // The manager (write) may not revoke: that needs api_keys:delete.
    let error = gw
        .manage(
            Token::Key(&manager),
            "POST",
            &format!("/keys/{}/revoke", child.id),
            "",
            NOW + 70_000,
        )
        .expect_err("write does not hold delete");
    assert_eq!(
        error,
        GatewayError::InsufficientScope {
            required_scope: "api_keys:delete".into(),
            // Key management is never queued: no approval level is named.
            approval_scope: None,
        }
    );
    assert_eq!(error.status(), 403);

    // The root token deletes; every secret of the key is gone from the index.
    let Reply::Deleted { id, index_names } = gw
        .manage(Token::Root, "DELETE", &path, "", NOW + 80_000)
        .expect("root deletes")
    else {
        panic!("expected Deleted");
    };
    assert_eq!(id, child.id);
    assert!(!index_names.is_empty());
    for key in [&child_key, &new_key] {
        assert_eq!(
            refusal(gw.admit(key, "contacts", Action::Read, NOW + 80_001)),
            Refusal::Unknown
        );
    }
    assert_eq!(
        gw.manage(Token::Root, "GET", &path, "", NOW + 80_002),
        Err(GatewayError::NotFound)
    );
}

#[test]
fn a_manager_cannot_mint_or_reach_more_than_it_holds() {
    let mut gw = Deployment::new(DEMO);
    let (_, manager) = with_manager(&mut gw, r#"["api_keys:delete", "contacts:write"]"#);
    let token = || Token::Key(&manager);

    for (body, expected) in [
        (
            r#"{"name": "Twin", "scopes": ["admin"]}"#,
            GatewayError::BeyondOwnGrant(Overreach::Scopes {
                scopes: vec!["admin".into()],
            }),
        ),
        (
            r#"{"name": "Fast", "scopes": ["contacts:read"], "limits": {"per_minute": 61, "per_day": 100}}"#,
            GatewayError::BeyondOwnGrant(Overreach::Limit {
                window: keygate::limits::Window::Minute,
                own: 60,
            }),
        ),
        (
            r#"{"name": "Elsewhere", "scopes": ["contacts:read"], "limits": {"per_minute": 1}, "workspace": "other"}"#,
            GatewayError::BeyondOwnGrant(Overreach::Workspace { own: "acme".into() }),
        ),
    ] {
        let error = gw
            .create(Token::Key(&manager), body, NOW + 1)
            .expect_err("beyond the manager's grants");
        assert_eq!(error, expected, "{body}");
        assert_eq!(error.status(), 403);
    }

    // A stronger key in the same workspace: revoked by the manager, but not re-activated.
    let (strong, strong_key) = gw
        .create(
            Token::Root,
            r#"{"name": "Admin", "scopes": ["admin"], "workspace": "acme"}"#,
            NOW + 2,
        )
        .expect("root creates anything");
    let revoked = record_of(
        gw.manage(
            token(),
            "POST",
            &format!("/keys/{}/revoke", strong.id),
            "",
            NOW + 3,
        )
        .expect("a revoke needs no equal power"),
    );
    assert_eq!(revoked.revoked_at, Some(NOW + 3));
    assert_eq!(
        refusal(gw.admit(&strong_key, "contacts", Action::Read, NOW + 4)),
        Refusal::Revoked
    );
    let error = gw
        .manage(
            token(),
            "POST",
            &format!("/keys/{}/activate", strong.id),
            "",
            NOW + 5,
        )
        .expect_err("re-activating hands the power back out");
    assert!(
        matches!(
            error,
            GatewayError::BeyondOwnGrant(Overreach::Scopes { .. })
        ),
        "{error:?}"
    );

    // Another workspace's key is not there at all for this manager.
    let (other, _) = gw
        .create(
            Token::Root,
            r#"{"name": "Other", "scopes": ["contacts:read"], "workspace": "other"}"#,
            NOW + 6,
        )
        .expect("root creates anywhere");
    for (method, path) in [
        ("GET", format!("/keys/{}", other.id)),
        ("PATCH", format!("/keys/{}", other.id)),
        ("POST", format!("/keys/{}/revoke", other.id)),
        ("DELETE", format!("/keys/{}", other.id)),
    ] {
        let error = gw
            .manage(token(), method, &path, r#"{"name": "Mine now"}"#, NOW + 7)
            .expect_err("another workspace");
        assert_eq!(error, GatewayError::NotFound, "{method} {path}");
        assert_eq!(error.to_problem("r").status, 404);
    }
    let (reply, _) = gw
        .rotate(Token::Root, &other.id, "", NOW + 8)
        .expect("the key is still there for root");
    assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
}

#[test]
fn a_revoked_manager_loses_its_admin_rights_on_the_next_request() {
    let mut gw = Deployment::new(DEMO);
    let (manager_record, manager) = with_manager(&mut gw, r#"["api_keys:read"]"#);
    let path = format!("/keys/{}", manager_record.id);
    assert!(gw
        .manage(Token::Key(&manager), "GET", &path, "", NOW + 1)
        .is_ok());
    gw.manage(Token::Root, "POST", &format!("{path}/revoke"), "", NOW + 2)
        .expect("root revokes");
    let error = gw
        .manage(Token::Key(&manager), "GET", &path, "", NOW + 3)
        .expect_err("revoked");
    assert_eq!(error, GatewayError::KeyRevoked);
    assert_eq!(error.status(), 401);
}

#[test]
fn where_a_revoke_is_final_the_admin_api_says_so() {
    let mut gw = Deployment::new(include_str!("../policies/seed-003-modules.toml"));
    let (key, _) = gw
        .create(
            Token::Root,
            r#"{"name": "Cases", "scopes": ["cases:read"]}"#,
            NOW,
        )
        .expect("created");
    let path = format!("/keys/{}", key.id);
    for (method, path, body) in [
        ("PATCH", path.clone(), r#"{"name": "Renamed"}"#),
        ("POST", format!("{path}/activate"), ""),
        ("POST", format!("{path}/rotate"), ""),
    ] {
        let error = match method {
            "POST" if path.ends_with("/rotate") => gw
                .rotate(Token::Root, &key.id, body, NOW + 1)
                .map(|(r, _)| r),
            _ => gw.manage(Token::Root, method, &path, body, NOW + 1),
        }
        .expect_err("turned off in seed-003");
        let problem = error.to_problem("r");
        assert_eq!(problem.status, 409, "{method} {path}");
        assert_eq!(problem.body["code"], "lifecycle_not_allowed");
    }
    // Revoke is offered, and stays final.
    gw.manage(Token::Root, "POST", &format!("{path}/revoke"), "", NOW + 2)
        .expect("revoke is offered");
    assert_eq!(
        gw.manage(
            Token::Root,
            "POST",
            &format!("{path}/activate"),
            "",
            NOW + 3
        ),
        Err(Declined::NotAllowed {
            action: keygate::policy::LifecycleAction::Reactivate
        }
        .into())
    );
}
