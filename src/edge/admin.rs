//! The admin API under `/_keygate/v1`, authenticated by the root token.

use super::authority_object;
use super::platform::{self, json_response, now_ms, random, Refused};
use super::KEY_INDEX;
use crate::admin::{parse_create, ADMIN_PREFIX, MAX_ADMIN_BODY_BYTES};
use crate::authority::{key_object, Command, Reply};
use crate::config::Config;
use crate::key::{hash_key, ApiKey, KeyId, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
use crate::problem::{FieldError, GatewayError};
use worker::{Env, Method, Request, Response};

type Outcome = Result<Response, Refused>;

pub async fn handle(req: &mut Request, env: &Env, config: &Config, request_id: &str) -> Outcome {
    let url = req.url().map_err(|_| GatewayError::NotFound)?;
    if config.https_only && url.scheme() != "https" {
        return Err(GatewayError::HttpsRequired.into());
    }
    let authorization = req.headers().get("Authorization").ok().flatten();
    let token = super::bearer_token(authorization.as_deref())
        .map_err(|_| GatewayError::InvalidAdminToken)?;
    if !config.root_token.matches(token) {
        return Err(GatewayError::InvalidAdminToken.into());
    }

    let path = url.path().strip_prefix(ADMIN_PREFIX).unwrap_or("");
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = req.method();
    match (segments.as_slice(), method) {
        (["keys"], Method::Post) => {
            let body = read_body(req).await?;
            create_key(&body, env, config, request_id).await
        }
        (["keys"], _) => Err(GatewayError::MethodNotAllowed { allowed: "POST" }.into()),
        (["keys", id], Method::Get) => {
            let reply = authority_object::call(env, &parse_id(id)?, &Command::Get).await?;
            key_response(reply, 200, config, request_id)
        }
        (["keys", _], _) => Err(GatewayError::MethodNotAllowed { allowed: "GET" }.into()),
        (["keys", id, "revoke"], Method::Post) => {
            let reply = authority_object::call(env, &parse_id(id)?, &Command::Revoke).await?;
            key_response(reply, 200, config, request_id)
        }
        (["keys", _, "revoke"], _) => {
            Err(GatewayError::MethodNotAllowed { allowed: "POST" }.into())
        }
        (["policy"], Method::Get) => Ok(json_response(200, &config.policy.describe(), request_id)?),
        (["policy"], _) => Err(GatewayError::MethodNotAllowed { allowed: "GET" }.into()),
        _ => Err(GatewayError::NotFound.into()),
    }
}

/// Creates a key: the authority's record first, then the index entry that makes it usable.
/// If the index write fails the key was never shown and can never authenticate.
async fn create_key(body: &[u8], env: &Env, config: &Config, request_id: &str) -> Outcome {
    let now = now_ms();
    let new_key = parse_create(body, &config.policy, now, config.https_only)?;
    let id = KeyId::generate(&random::<KEY_ID_RANDOM_BYTES>()?);
    let key = ApiKey::generate(
        config.policy.key_prefix(),
        new_key.environment,
        &random::<KEY_RANDOM_BYTES>()?,
    );
    let key_hash = hash_key(&config.hash_secret, &key);
    let index_name = key_hash.index_name();
    let record = new_key.into_record(id.clone(), &key, key_hash, now);
    let record = match authority_object::call(
        env,
        &id,
        &Command::Create {
            record: Box::new(record),
        },
    )
    .await?
    {
        Reply::Key { record, .. } => record,
        Reply::AlreadyExists => {
            return Err(GatewayError::Conflict {
                detail: "a key with this id already exists; retry the request".into(),
            }
            .into())
        }
        other => return Err(platform::unexpected_reply(&other)),
    };
    env.kv(KEY_INDEX)
        .map_err(|_| platform::store_down("KV binding missing"))?
        .put(&index_name, id.as_str())
        .map_err(|_| platform::store_down("KV put could not be prepared"))?
        .execute()
        .await
        .map_err(|_| platform::store_down("KV put failed"))?;
    let mut body = key_object(&record, None, &config.policy, now);
    // The secret is in this one response only; it is never stored or shown again.
    if let Some(object) = body.as_object_mut() {
        object.insert("key".into(), key.expose().into());
    }
    let response = json_response(201, &body, request_id)?;
    let _ = response
        .headers()
        .set("Location", &format!("{ADMIN_PREFIX}/keys/{}", id.as_str()));
    Ok(response)
}

fn key_response(reply: Reply, status: u16, config: &Config, request_id: &str) -> Outcome {
    match reply {
        Reply::Key {
            record,
            last_used_at,
        } => Ok(json_response(
            status,
            &key_object(&record, last_used_at, &config.policy, now_ms()),
            request_id,
        )?),
        Reply::NotFound => Err(GatewayError::NotFound.into()),
        other => Err(platform::unexpected_reply(&other)),
    }
}

fn parse_id(text: &str) -> Result<KeyId, GatewayError> {
    KeyId::parse(text).ok_or(GatewayError::NotFound)
}

async fn read_body(req: &mut Request) -> Result<Vec<u8>, GatewayError> {
    let too_large = || GatewayError::InvalidBody {
        errors: vec![FieldError::new(
            "body",
            format!("must be at most {MAX_ADMIN_BODY_BYTES} bytes"),
        )],
    };
    let declared = platform::declared_body_length(req);
    if declared.is_some_and(|len| len > MAX_ADMIN_BODY_BYTES) {
        return Err(too_large());
    }
    let body = req.bytes().await.map_err(|_| GatewayError::InvalidBody {
        errors: vec![FieldError::new("body", "could not be read")],
    })?;
    if body.len() > MAX_ADMIN_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}
