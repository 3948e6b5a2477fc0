//! The admin API under `/_keygate/v1`: route, authenticate (root token, a key with
//! `api_keys` grants, or a member's portal session), then one handler per route. Validation and every decision are in
//! the pure core ([`crate::admin`] and its [`calls`], [`crate::authority`],
//! [`crate::delegation`]); the handlers draw randomness, make the calls and write what the
//! plans say.

use super::answer::{Answer, Outcome};
use super::platform::{self, now_ms, random};
use super::{approvals, authority_object, directory_object, key_index, proxy};
use crate::admin::calls::{self, AdminCredential, CreationRandom, MintRandom, RotationOutcome};
use crate::admin::{
    admin_route, parse_edit, parse_list_query, parse_rotate, parse_set_plan,
    parse_workspaces_query, AdminRoute, PlanSetView, WorkspaceView, WorkspacesPage, ADMIN_PREFIX,
    MAX_ADMIN_BODY_BYTES,
};
use crate::approval::Reviewer;
use crate::authority::{key_object, Command, LimitHeaders};
use crate::config::Config;
use crate::delegation::Actor;
use crate::directory::{DirectoryCommand, DirectoryReply, SessionRef};
use crate::key::{hash_key, KeyId};
use crate::policy::Action;
use crate::problem::{BodyBound, GatewayError};
use crate::request::body;
use crate::request::reply::Refused;
use crate::session::{Session, SessionIndexName};
use crate::webhook::secret::WebhookSecret;
use serde_json::Value;
use worker::{Env, Request, Response};

pub async fn handle(req: &mut Request, env: &Env, config: &Config, request_id: &str) -> Outcome {
    let url = req.url().map_err(|_| GatewayError::NotFound)?;
    if config.https_only && url.scheme() != "https" {
        return Err(GatewayError::HttpsRequired.into());
    }
    let path = url.path().strip_prefix(ADMIN_PREFIX).unwrap_or("");
    let method = req.inner().method();
    let route = admin_route(&method, path)?;
    let caller = authenticate(req, env, config, &route).await?;
    let limit_headers = caller.limit_headers.clone();
    let answer = Answer { config, request_id };
    // A key's admin calls count against its limits; its answers show them, as on the data plane.
    let response = match caller.session {
        Some(session) if route.is_own_session() => own_session(route, session, env, &answer).await,
        _ => serve(route, caller.actor, req, &url, env, &answer).await,
    };
    match response {
        Ok(response) => {
            Ok(proxy::with_headers(response.into(), &limit_headers, request_id)?.into())
        }
        // A refusal after authentication was counted too: it shows the same limit state.
        Err(refused) => Err(refused.counted(limit_headers)),
    }
}

async fn serve(
    route: AdminRoute,
    actor: Actor,
    req: &mut Request,
    url: &worker::Url,
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    let config = answer.config;
    let query = url.query();
    match route {
        AdminRoute::CreateKey => {
            let body = read_body(req).await?;
            create_key(&body, &actor, env, answer).await
        }
        AdminRoute::ListKeys => list_keys(query, &actor, env, answer).await,
        AdminRoute::GetKey(id) => {
            let reply = authority_object::call(env, &id, &Command::Get { actor }).await?;
            answer.key(reply, 200, true)
        }
        AdminRoute::EditKey(id) => {
            let body = read_body(req).await?;
            let edit = parse_edit(&body, &config.policy, now_ms(), config.https_only)?;
            let command = Command::Edit {
                actor,
                edit,
                webhook_secret: fresh_webhook_secret()?,
            };
            let reply = authority_object::call(env, &id, &command).await?;
            answer.key(reply, 200, false)
        }
        AdminRoute::RevokeKey(id) => {
            let reply = authority_object::call(env, &id, &Command::Revoke { actor }).await?;
            answer.key(reply, 200, false)
        }
        AdminRoute::ActivateKey(id) => {
            let reply = authority_object::call(env, &id, &Command::Activate { actor }).await?;
            answer.key(reply, 200, false)
        }
        AdminRoute::RotateKey(id) => {
            let body = read_body(req).await?;
            let grace_ms = parse_rotate(&body)?;
            rotate_key(&id, actor, grace_ms, env, answer).await
        }
        AdminRoute::RotateWebhookSecret(id) => {
            let body = read_body(req).await?;
            let grace_ms = parse_rotate(&body)?;
            rotate_webhook_secret(&id, actor, grace_ms, env, answer).await
        }
        AdminRoute::DeleteKey(id) => delete_key(&id, actor, env, answer.request_id).await,
        AdminRoute::ListApprovals => approvals::list(query, &actor, env, answer).await,
        AdminRoute::GetApproval(id) => approvals::get(id, &actor, env, answer).await,
        AdminRoute::Approve(id) => {
            // Only a reviewer's body is read at all.
            Reviewer::of(&actor, &config.policy)
                .needs(Action::Write)
                .map_err(GatewayError::from)?;
            let body = read_body(req).await?;
            crate::admin::parse_approve(&body)?;
            approvals::approve(id, &actor, env, answer).await
        }
        AdminRoute::Reject(id) => {
            Reviewer::of(&actor, &config.policy)
                .needs(Action::Write)
                .map_err(GatewayError::from)?;
            let body = read_body(req).await?;
            let reason = crate::admin::parse_reject(&body)?;
            approvals::reject(id, &actor, reason, env, answer).await
        }
        AdminRoute::ListWorkspaces => list_workspaces(query, env, answer).await,
        AdminRoute::GetWorkspace(id) => {
            let reply = directory_object::call(env, &DirectoryCommand::Workspace { id }).await?;
            let workspace = calls::shown_workspace(reply, &actor)?;
            answer.json(200, &WorkspaceView::of(&workspace, &config.policy))
        }
        AdminRoute::SetPlan(id) => {
            let body = read_body(req).await?;
            let plan = parse_set_plan(&body, &config.policy)?;
            let command = DirectoryCommand::SetPlan {
                id,
                plan: Some(plan),
                now_ms: now_ms(),
            };
            let (workspace, updated, pending) =
                calls::plan_set(directory_object::call(env, &command).await?)?;
            answer.json(
                200,
                &PlanSetView {
                    workspace: WorkspaceView::of(&workspace, &config.policy),
                    keys_updated: updated,
                    keys_pending: pending,
                },
            )
        }
        AdminRoute::Policy => {
            let mut policy = config.policy.describe();
            if let Some(fields) = policy.as_object_mut() {
                fields.insert("source".into(), config.policy_source.as_str().into());
            }
            answer.json(200, &policy)
        }
        AdminRoute::MintSession => {
            let body = read_body(req).await?;
            mint_session(&body, url, env, answer).await
        }
        AdminRoute::ListSessions => list_sessions(query, env, answer).await,
        AdminRoute::RevokeSession(id) => {
            end_session(SessionRef::Id { id }, env, answer.request_id).await
        }
        // Only a session has a current session ([`calls::root_may_call`]).
        AdminRoute::CurrentSession | AdminRoute::EndCurrentSession => {
            Err(GatewayError::NotFound.into())
        }
    }
}

/// The admin caller, authenticated: who acts, the limit state a key's call shows, and
/// for a portal session the session and its token's stored name.
struct Caller {
    actor: Actor,
    limit_headers: LimitHeaders,
    session: Option<(Session, SessionIndexName)>,
}

impl Caller {
    fn of(actor: Actor, limit_headers: LimitHeaders) -> Caller {
        Caller {
            actor,
            limit_headers,
            session: None,
        }
    }
}

/// The root token, a keygate key admitted by its own authority for the route
/// ([`calls::authentication`] says how), or a portal session the key directory holds
/// live — one call, strongly consistent, so a revoked session is refused at once
/// ([`calls::session_caller`]).
async fn authenticate(
    req: &Request,
    env: &Env,
    config: &Config,
    route: &AdminRoute,
) -> Result<Caller, Refused> {
    let authorization = req.headers().get("Authorization").ok().flatten();
    let credential = calls::admin_credential(
        authorization.as_deref(),
        &config.root_token,
        config.policy.key_prefix(),
    )?;
    let parsed = match credential {
        AdminCredential::Root => {
            calls::root_may_call(route)?;
            return Ok(Caller::of(Actor::Root, LimitHeaders::new()));
        }
        AdminCredential::Session(token) => {
            let index_name = token.index_name(&config.hash_secret);
            let find = calls::find_session(index_name.clone(), now_ms());
            let reply = directory_object::call(env, &find).await?;
            let (session, actor) = calls::session_caller(reply, route, &config.policy, now_ms())?;
            return Ok(Caller {
                session: Some((session, index_name)),
                ..Caller::of(actor, LimitHeaders::new())
            });
        }
        AdminCredential::Key(parsed) => parsed,
    };
    let key_hash = hash_key(&config.hash_secret, &parsed.key);
    let index_name = key_hash.index_name();
    let command = calls::authentication(route, key_hash)?;
    let key_id = key_index::lookup(env, &index_name).await?;
    let reply = authority_object::call(env, &key_id, &command).await?;
    if reply.refuses_the_secret() {
        key_index::forget(&index_name);
    }
    let (actor, limit_headers) = calls::admin_actor(reply)?;
    Ok(Caller::of(actor, limit_headers))
}

/// `GET` and `DELETE /portal/sessions/current`: the caller's own session.
async fn own_session(
    route: AdminRoute,
    (session, index_name): (Session, SessionIndexName),
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    match route {
        AdminRoute::EndCurrentSession => {
            end_session(SessionRef::Current { index_name }, env, answer.request_id).await
        }
        _ => answer.json(200, &crate::admin::session_object(&session)),
    }
}

/// Mints a session; the answer shows its token once, and the portal page's address on
/// this request's own origin.
async fn mint_session(body: &[u8], url: &worker::Url, env: &Env, answer: &Answer<'_>) -> Outcome {
    let new_session = crate::admin::parse_mint(body)?;
    let random = MintRandom {
        id: random()?,
        token: random()?,
    };
    let mint = calls::plan_mint(new_session, answer.config, now_ms(), &random);
    calls::minted(directory_object::call(env, &mint.command).await?)?;
    let origin = url.origin().ascii_serialization();
    let body = crate::admin::minted_object(&mint.session, &mint.token, &origin);
    answer.json(201, &body)
}

async fn list_sessions(query: Option<&str>, env: &Env, answer: &Answer<'_>) -> Outcome {
    let list = crate::admin::parse_sessions_query(query)?;
    let command = DirectoryCommand::ListSessions {
        workspace: list.workspace.unwrap_or_default(),
        limit: list.limit,
        after: list.cursor,
        now_ms: now_ms(),
    };
    let DirectoryReply::SessionPage { sessions, next } =
        directory_object::call(env, &command).await?
    else {
        return Err(GatewayError::Internal.into());
    };
    let page = crate::admin::SessionsPage {
        sessions: sessions.iter().map(crate::admin::session_object).collect(),
        next_cursor: next.map(|position| position.encode()),
    };
    answer.json(200, &page)
}

/// Ends a session: from the next request on its token is a 401.
async fn end_session(by: SessionRef, env: &Env, request_id: &str) -> Outcome {
    calls::session_revoked(directory_object::call(env, &calls::revoke_session(by)).await?)?;
    no_content(request_id)
}

fn no_content(request_id: &str) -> Outcome {
    let headers = worker::Headers::new();
    headers.set("Cache-Control", "no-store")?;
    headers.set(crate::identity::REQUEST_ID, request_id)?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Creates a key, in the order its plan gives ([`calls::Creation`]).
async fn create_key(body: &[u8], actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let config = answer.config;
    let now = now_ms();
    let random = CreationRandom {
        key_id: random()?,
        key: random()?,
        webhook_secret: random()?,
    };
    let request = calls::read_creation(body, actor);
    let workspace = DirectoryCommand::Workspace {
        id: request.workspace().clone(),
    };
    let assignment = calls::workspace_reply(directory_object::call(env, &workspace).await?)?
        .map(|workspace| workspace.assignment)
        .unwrap_or_default();
    let creation = calls::plan_creation(request, assignment, actor, config, now, &random)?;
    key_index::put(env, &creation.index).await?;
    let reply = authority_object::call(env, &creation.index.key_id, &creation.create).await?;
    let body = calls::created(reply, &creation, &config.policy, now)?;
    let response = answer.json(201, &body)?;
    let _ = response
        .headers()
        .set("Location", &calls::key_location(&creation.index.key_id));
    Ok(response)
}

async fn list_keys(query: Option<&str>, actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let mut list = parse_list_query(query)?;
    list.workspace = actor
        .workspace_for(list.workspace.as_deref())
        .map_err(GatewayError::BeyondOwnGrant)?;
    let now = now_ms();
    let command = DirectoryCommand::List {
        workspace: list.workspace.clone(),
        page: list.page(actor.environment(), now),
    };
    let DirectoryReply::Page { keys, next } = directory_object::call(env, &command).await? else {
        return Err(GatewayError::Internal.into());
    };
    let keys: Vec<Value> = keys
        .iter()
        .map(|listed| {
            key_object(
                &listed.record,
                listed.last_used_at,
                &answer.config.policy,
                now,
            )
        })
        .collect();
    let page = crate::admin::KeysPage {
        keys,
        next_cursor: next.map(|position| position.encode()),
    };
    answer.json(200, &page)
}

async fn list_workspaces(query: Option<&str>, env: &Env, answer: &Answer<'_>) -> Outcome {
    let list = parse_workspaces_query(query)?;
    let command = DirectoryCommand::ListWorkspaces {
        page: list.page(None, now_ms()),
    };
    let DirectoryReply::Workspaces { workspaces, next } =
        directory_object::call(env, &command).await?
    else {
        return Err(GatewayError::Internal.into());
    };
    let page = WorkspacesPage {
        workspaces: workspaces
            .iter()
            .map(|workspace| WorkspaceView::of(workspace, &answer.config.policy))
            .collect(),
        next_cursor: next.map(|position| position.encode()),
    };
    answer.json(200, &page)
}

/// Rotates a key, in the order its plan gives ([`calls::Rotation`]).
async fn rotate_key(
    id: &KeyId,
    actor: Actor,
    grace_ms: u64,
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    let config = answer.config;
    let get = Command::Get {
        actor: actor.clone(),
    };
    let environment = calls::key_environment(authority_object::call(env, id, &get).await?)?;
    let rotation = calls::plan_rotation(id, environment, actor, grace_ms, config, &random()?);
    key_index::put(env, &rotation.index).await?;
    let now = now_ms();
    let reply = authority_object::call(env, id, &rotation.rotate).await?;
    match calls::rotated(reply, &rotation, &config.policy, now) {
        RotationOutcome::Rotated { retired, body } => {
            for entry in &retired {
                if let Err(error) = key_index::put(env, entry).await {
                    worker::console_warn!("retired index entry kept: {error:?}");
                }
            }
            answer.json(200, &body)
        }
        RotationOutcome::NotRotated { remove, error } => {
            if let Ok(store) = key_index::store(env) {
                if store.delete(&remove).await.is_err() {
                    worker::console_warn!("index entry of a declined rotation kept");
                }
            }
            Err(error.into())
        }
    }
}

async fn rotate_webhook_secret(
    id: &KeyId,
    actor: Actor,
    grace_ms: u64,
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    let command = Command::RotateWebhookSecret {
        actor,
        secret: fresh_webhook_secret()?,
        grace_ms,
    };
    let reply = authority_object::call(env, id, &command).await?;
    let body = calls::webhook_secret_rotated(reply, &answer.config.policy, now_ms())?;
    answer.json(200, &body)
}

/// Drawn for every create and edit: the key's authority keeps it only for a new webhook URL.
fn fresh_webhook_secret() -> Result<WebhookSecret, GatewayError> {
    Ok(WebhookSecret::generate(&random()?))
}

/// Deletes a key: the authority forgets it first (so it answers 401 at once), then its
/// index entries go.
async fn delete_key(id: &KeyId, actor: Actor, env: &Env, request_id: &str) -> Outcome {
    let reply = authority_object::call(env, id, &Command::Delete { actor }).await?;
    let index_names = calls::deleted(reply)?;
    let store = key_index::store(env)?;
    for name in index_names {
        if store.delete(&name).await.is_err() {
            worker::console_warn!("index entry of a deleted key kept");
        }
    }
    no_content(request_id)
}

/// Reads an admin body with a hard bound: refused (413) as soon as it passes
/// [`MAX_ADMIN_BODY_BYTES`], declared or not. Called only once the caller's right to the
/// route is known.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, GatewayError> {
    let declared = platform::declared_body_length(req.inner());
    if declared.is_some_and(|len| len > MAX_ADMIN_BODY_BYTES) {
        return Err(GatewayError::PayloadTooLarge {
            max_bytes: MAX_ADMIN_BODY_BYTES as u64,
            bound: BodyBound::Admin,
        });
    }
    let stream = match req.inner().body() {
        Some(_) => Some(req.stream().map_err(|_| body::unreadable())?),
        None => None,
    };
    let (bytes, more) = proxy::read_at_most(stream, MAX_ADMIN_BODY_BYTES)
        .await
        .map_err(|_| body::unreadable())?;
    body::within(bytes, more, MAX_ADMIN_BODY_BYTES as u64, BodyBound::Admin)
}
