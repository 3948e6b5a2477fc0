//! The admin API under `/_keygate/v1`: route, authenticate (root token or a key with
//! `api_keys` grants), then one handler per route. Validation and every decision are in
//! the pure core ([`crate::admin`], [`crate::authority`], [`crate::delegation`]).

use super::platform::{self, json_response, now_ms, random, Refused};
use super::{approvals, authority_object, directory_object, KEY_INDEX};
use crate::admin::{
    admin_route, parse_create, parse_edit, parse_list_query, parse_rotate, AdminRoute,
    ADMIN_PREFIX, DEFAULT_WORKSPACE, MAX_ADMIN_BODY_BYTES,
};
use crate::approval::{Reviewer, APPROVALS_RESOURCE};
use crate::authority::{key_object, Command, LimitHeaders, Reply};
use crate::config::Config;
use crate::delegation::Actor;
use crate::directory::{DirectoryCommand, DirectoryReply};
use crate::key::{self, hash_key, ApiKey, KeyId, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
use crate::policy::Action;
use crate::problem::{BodyBound, FieldError, GatewayError};
use crate::timestamp::format_rfc3339;
use crate::webhook::secret::{WebhookSecret, WEBHOOK_SECRET_RANDOM_BYTES};
use serde_json::Value;
use worker::{Env, Request, Response};

type Outcome = Result<Response, Refused>;

pub async fn handle(req: &mut Request, env: &Env, config: &Config, request_id: &str) -> Outcome {
    let url = req.url().map_err(|_| GatewayError::NotFound)?;
    if config.https_only && url.scheme() != "https" {
        return Err(GatewayError::HttpsRequired.into());
    }
    let path = url.path().strip_prefix(ADMIN_PREFIX).unwrap_or("");
    let method = req.inner().method();
    let route = admin_route(&method, path)?;
    let (actor, limit_headers) = authenticate(req, env, config, &route).await?;
    let answer = Answer { config, request_id };
    // A key's admin calls count against its limits; its answers show them, as on the data plane.
    let response = serve(route, actor, req, url.query(), env, &answer).await;
    match response {
        Ok(response) => Ok(super::proxy::with_headers(
            response,
            &limit_headers,
            request_id,
        )),
        // A refusal after authentication was counted too: it shows the same limit state.
        Err(mut refused) => {
            if refused.limit_headers.is_empty() {
                refused.limit_headers = limit_headers;
            }
            Err(refused)
        }
    }
}

async fn serve(
    route: AdminRoute,
    actor: Actor,
    req: &mut Request,
    query: Option<&str>,
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    let (config, request_id) = (answer.config, answer.request_id);
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
        AdminRoute::DeleteKey(id) => delete_key(&id, actor, env, request_id).await,
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
        AdminRoute::Policy => {
            let mut policy = config.policy.describe();
            if let Some(fields) = policy.as_object_mut() {
                fields.insert("source".into(), config.policy_source.as_str().into());
            }
            Ok(json_response(200, &policy, request_id)?)
        }
    }
}

/// The root token, or a keygate key admitted by its own authority (so a revoked key loses
/// admin rights on the very next request, and admin calls count against the key's limits
/// like any other): for `api_keys` routes with the grant the route needs; for the approval
/// queue any active key, since what it may see depends on the approval (its own, or its
/// workspace's with an `approvals` grant).
async fn authenticate(
    req: &Request,
    env: &Env,
    config: &Config,
    route: &AdminRoute,
) -> Result<(Actor, LimitHeaders), Refused> {
    let authorization = req.headers().get("Authorization").ok().flatten();
    let token = crate::bearer::bearer_token(authorization.as_deref()).map_err(|error| {
        GatewayError::InvalidAdminToken {
            credentials_sent: error != GatewayError::MissingCredentials,
        }
    })?;
    if config.root_token.matches(token) {
        return Ok((Actor::Root, LimitHeaders::new()));
    }
    let parsed = key::parse(token, config.policy.key_prefix()).map_err(|_| {
        GatewayError::InvalidAdminToken {
            credentials_sent: true,
        }
    })?;
    let key_hash = hash_key(&config.hash_secret, &parsed.key);
    let key_id = super::lookup_key_id(env, &key_hash.index_name()).await?;
    let grant = route.required_grant();
    let command = match grant.resource.as_str() {
        APPROVALS_RESOURCE => Command::Identify { key_hash },
        _ => Command::Admit {
            key_hash,
            resource: grant.resource,
            action: grant.action,
            queueing: None,
        },
    };
    match authority_object::call(env, &key_id, &command).await? {
        Reply::Admitted {
            grantee,
            limit_headers,
        } => Ok((Actor::Key { grantee }, limit_headers)),
        Reply::Refused {
            refusal,
            limit_headers,
        } => Err(Refused {
            error: refusal.into(),
            limit_headers,
        }),
        other => Err(platform::unexpected_reply(&other)),
    }
}

/// Creates a key. The KV index entry is written first: until the authority holds the
/// record it leads nowhere, and if the authority call fails the secret was never shown.
async fn create_key(body: &[u8], actor: &Actor, env: &Env, answer: &Answer<'_>) -> Outcome {
    let config = answer.config;
    let now = now_ms();
    let new_key = parse_create(body, &config.policy, now, config.https_only)?;
    let workspace = actor
        .workspace_for(new_key.workspace.as_deref())
        .map_err(GatewayError::BeyondOwnGrant)?
        .unwrap_or_else(|| DEFAULT_WORKSPACE.to_string());
    let id = KeyId::generate(&random::<KEY_ID_RANDOM_BYTES>()?);
    let key = ApiKey::generate(
        config.policy.key_prefix(),
        new_key.environment,
        &random::<KEY_RANDOM_BYTES>()?,
    );
    let mut record = new_key.into_record(
        id.clone(),
        &key,
        now,
        &workspace,
        actor.principal(),
        actor.family_for_new_key(),
    );
    actor.pin_limits(&mut record, &config.policy);
    actor
        .may_hold(&record, &config.policy)
        .map_err(GatewayError::BeyondOwnGrant)?;
    let secret = hash_key(&config.hash_secret, &key);
    put_index(env, &secret.index_name(), &id, None).await?;
    let command = Command::Create {
        record: Box::new(record),
        secret,
        webhook_secret: fresh_webhook_secret()?,
    };
    match authority_object::call(env, &id, &command).await? {
        Reply::Key {
            record,
            last_used_at,
            webhook_secret,
            ..
        } => {
            let mut body = key_object(&record, last_used_at, &config.policy, now);
            // The secret is in this one response only; it is never stored or shown again.
            insert(&mut body, "key", key.expose().into());
            show_webhook_secret(&mut body, webhook_secret.as_ref());
            let response = json_response(201, &body, answer.request_id)?;
            let _ = response
                .headers()
                .set("Location", &format!("{ADMIN_PREFIX}/keys/{}", id.as_str()));
            Ok(response)
        }
        Reply::AlreadyExists => Err(GatewayError::Conflict {
            detail: "a key with this id already exists; retry the request".into(),
        }
        .into()),
        other => Err(answer.unexpected(other)),
    }
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
    let next_cursor = next.map(|position| position.encode());
    let body = serde_json::json!({ "keys": keys, "next_cursor": next_cursor });
    Ok(json_response(200, &body, answer.request_id)?)
}

/// Rotates a key. The new secret's index entry is written before the authority switches
/// to it, so the secret works the moment it is shown; retired secrets' entries expire on
/// their own once their grace has ended (the authority refuses them exactly on time).
async fn rotate_key(
    id: &KeyId,
    actor: Actor,
    grace_ms: u64,
    env: &Env,
    answer: &Answer<'_>,
) -> Outcome {
    let config = answer.config;
    let environment = match authority_object::call(
        env,
        id,
        &Command::Get {
            actor: actor.clone(),
        },
    )
    .await?
    {
        Reply::Key { record, .. } => record.environment,
        other => return Err(answer.unexpected(other)),
    };
    let key = ApiKey::generate(
        config.policy.key_prefix(),
        environment,
        &random::<KEY_RANDOM_BYTES>()?,
    );
    let secret = hash_key(&config.hash_secret, &key);
    // Written for good before the authority switches, so the new secret works the moment
    // it is shown; if the rotation is declined the entry is removed again (and one left
    // behind leads to an authority that does not know the hash).
    let secret_index = secret.index_name();
    put_index(env, &secret_index, id, None).await?;
    let command = Command::Rotate {
        actor,
        secret,
        hint: key.hint(),
        grace_ms,
    };
    let now = now_ms();
    match authority_object::call(env, id, &command).await? {
        Reply::Rotated {
            record,
            last_used_at,
            previous_valid_until,
            retired,
            ..
        } => {
            for old in retired {
                let ttl_secs = old.valid_until.saturating_sub(now) / 1_000 + KV_EXPIRY_MARGIN_SECS;
                // Best effort: an entry left behind leads to an authority that refuses it.
                if let Err(refused) = put_index(env, &old.index_name, id, Some(ttl_secs)).await {
                    worker::console_warn!("retired index entry kept: {:?}", refused.error);
                }
            }
            let mut body = key_object(&record, last_used_at, &config.policy, now);
            insert(&mut body, "key", key.expose().into());
            insert(
                &mut body,
                "previous_key_valid_until",
                format_rfc3339(previous_valid_until).into(),
            );
            Ok(json_response(200, &body, answer.request_id)?)
        }
        other => {
            if let Ok(store) = env.kv(KEY_INDEX) {
                if store.delete(&secret_index).await.is_err() {
                    worker::console_warn!("index entry of a declined rotation kept");
                }
            }
            Err(answer.unexpected(other))
        }
    }
}

/// A new signing secret for the key's webhook, shown in this answer only; the previous one
/// signs deliveries too until `previous_webhook_secret_valid_until`.
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
    match authority_object::call(env, id, &command).await? {
        Reply::WebhookSecretRotated {
            record,
            last_used_at,
            webhook_secret,
            previous_valid_until,
        } => {
            let mut body = key_object(&record, last_used_at, &answer.config.policy, now_ms());
            show_webhook_secret(&mut body, Some(&webhook_secret));
            insert(
                &mut body,
                "previous_webhook_secret_valid_until",
                format_rfc3339(previous_valid_until).into(),
            );
            Ok(json_response(200, &body, answer.request_id)?)
        }
        other => Err(answer.unexpected(other)),
    }
}

/// Drawn for every create and edit: the key's authority keeps it only for a new webhook URL.
fn fresh_webhook_secret() -> Result<WebhookSecret, GatewayError> {
    Ok(WebhookSecret::generate(&random::<
        WEBHOOK_SECRET_RANDOM_BYTES,
    >()?))
}

/// Shows a webhook secret that the answer's command issued (the one time it is shown).
fn show_webhook_secret(body: &mut Value, secret: Option<&WebhookSecret>) {
    if let Some(secret) = secret {
        insert(body, "rejection_webhook_secret", secret.expose().into());
    }
}

/// KV needs an expiry at least 60 s ahead; the authority enforces the exact end.
const KV_EXPIRY_MARGIN_SECS: u64 = 60;

/// Deletes a key: the authority forgets it first (so it answers 401 at once), then its
/// index entries go.
async fn delete_key(id: &KeyId, actor: Actor, env: &Env, request_id: &str) -> Outcome {
    match authority_object::call(env, id, &Command::Delete { actor }).await? {
        Reply::Deleted { index_names, .. } => {
            let store = env
                .kv(KEY_INDEX)
                .map_err(|_| platform::store_down("KV binding missing"))?;
            for name in index_names {
                if store.delete(&name).await.is_err() {
                    worker::console_warn!("index entry of a deleted key kept");
                }
            }
            let headers = worker::Headers::new();
            headers.set("Cache-Control", "no-store")?;
            headers.set(crate::identity::REQUEST_ID, request_id)?;
            Ok(Response::empty()?.with_status(204).with_headers(headers))
        }
        Reply::Declined { declined } => Err(GatewayError::from(declined).into()),
        other => Err(platform::unexpected_reply(&other)),
    }
}

async fn put_index(
    env: &Env,
    index_name: &str,
    id: &KeyId,
    ttl_secs: Option<u64>,
) -> Result<(), Refused> {
    let mut put = env
        .kv(KEY_INDEX)
        .map_err(|_| platform::store_down("KV binding missing"))?
        .put(index_name, id.as_str())
        .map_err(|_| platform::store_down("KV put could not be prepared"))?;
    if let Some(ttl) = ttl_secs {
        put = put.expiration_ttl(ttl);
    }
    put.execute()
        .await
        .map_err(|_| platform::store_down("KV put failed"))?;
    Ok(())
}

/// What every handler answers with.
pub(super) struct Answer<'a> {
    pub(super) config: &'a Config,
    pub(super) request_id: &'a str,
}

impl Answer<'_> {
    /// A key object for a [`Reply::Key`]; `with_usage` adds the usage figures (GET).
    fn key(&self, reply: Reply, status: u16, with_usage: bool) -> Outcome {
        match reply {
            Reply::Key {
                record,
                last_used_at,
                usage,
                webhook_secret,
            } => {
                let mut body = key_object(&record, last_used_at, &self.config.policy, now_ms());
                if with_usage {
                    insert(&mut body, "usage", serde_json::json!(usage));
                }
                show_webhook_secret(&mut body, webhook_secret.as_ref());
                Ok(json_response(status, &body, self.request_id)?)
            }
            other => Err(self.unexpected(other)),
        }
    }

    /// A decline becomes its error; anything else is a bug, logged and answered 500.
    fn unexpected(&self, reply: Reply) -> Refused {
        match reply {
            Reply::Declined { declined } => GatewayError::from(declined).into(),
            other => platform::unexpected_reply(&other),
        }
    }
}

fn insert(body: &mut Value, field: &str, value: Value) {
    if let Some(object) = body.as_object_mut() {
        object.insert(field.into(), value);
    }
}

/// Reads an admin body with a hard bound: refused (413) as soon as it passes
/// [`MAX_ADMIN_BODY_BYTES`], declared or not. Called only once the caller's right to the
/// route is known.
pub(super) async fn read_body(req: &mut Request) -> Result<Vec<u8>, GatewayError> {
    let too_large = || GatewayError::PayloadTooLarge {
        max_bytes: MAX_ADMIN_BODY_BYTES as u64,
        bound: BodyBound::Admin,
    };
    let declared = platform::declared_body_length(req);
    if declared.is_some_and(|len| len > MAX_ADMIN_BODY_BYTES) {
        return Err(too_large());
    }
    let unreadable = || GatewayError::InvalidBody {
        errors: vec![FieldError::new("body", "could not be read")],
    };
    let stream = match req.inner().body() {
        Some(_) => Some(req.stream().map_err(|_| unreadable())?),
        None => None,
    };
    let (body, more) = super::proxy::read_at_most(stream, MAX_ADMIN_BODY_BYTES)
        .await
        .map_err(|_| unreadable())?;
    if more {
        return Err(too_large());
    }
    Ok(body)
}
