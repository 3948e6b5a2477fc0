//! Small pieces of the platform: clock, randomness, configuration, and refusals as responses.

use crate::authority::{Command, Reply};
use crate::config::{Config, ConfigError, PolicySource};
use crate::key::{base62_fixed, KeyId};
use crate::page::{ListedId, Position};
use crate::problem::GatewayError;
use crate::request::reply::{Refused, ReplyError};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::DurableObjectNamespace;
use worker::{Env, Headers, Response, Result};

/// The platform's clock in Unix milliseconds: `Date.now()` itself (workers-rs's
/// `Date::now()` builds a `Date` object to read it).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Bytes from the platform's CSPRNG (`crypto.getRandomValues`).
pub fn random<const N: usize>() -> std::result::Result<[u8; N], GatewayError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|_| store_down("CSPRNG unavailable"))?;
    Ok(bytes)
}

/// The body length the client declared, if it declared one that parses.
pub fn declared_body_length(req: &web_sys::Request) -> Option<usize> {
    let content_length = req.headers().get("Content-Length").ok().flatten();
    crate::request::body::declared_length(content_length.as_deref())
}

/// The client's country as the platform determined it (`request.cf.country`). Read only
/// when it is sent on: the runtime builds `cf` on first access (3 % of an isolate's CPU
/// per request locally: BENCHMARKS.md).
pub fn platform_country(req: &web_sys::Request) -> Option<String> {
    let cf = js_sys::Reflect::get(req, &JsValue::from_str("cf")).ok()?;
    if cf.is_undefined() || cf.is_null() {
        return None;
    }
    js_sys::Reflect::get(&cf, &JsValue::from_str("country"))
        .ok()?
        .as_string()
}

pub fn request_id() -> String {
    // A request id only needs to be unique; a CSPRNG failure here must not fail the request.
    let bytes: [u8; 16] = random().unwrap_or_default();
    format!("req_{}", base62_fixed(&bytes, 22))
}

/// The policy file scripts/build.sh checked and compiled (`KEYGATE_POLICY_FILE`), as build.rs
/// bundled it; empty in a build that did not go through scripts/build.sh.
const BUNDLED_POLICY: &str = include_str!(concat!(env!("OUT_DIR"), "/policy.json"));

thread_local! {
    /// Variables are fixed for an isolate's life, so the policy is parsed once per isolate.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The deployment's configuration, parsed on first use in this isolate.
pub fn config(env: &Env) -> std::result::Result<Rc<Config>, ConfigError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    // Secrets and plain variables are both strings in `env`; `var` reads either.
    let config = Rc::new(Config::from_lookup(BUNDLED_POLICY, |name| {
        env.var(name).ok().map(|v| v.to_string())
    })?);
    // Once per isolate: a KEYGATE_POLICY left behind (a secret outlives every deploy) would
    // otherwise hide that the deployed bundle's policy is not the one in force.
    if config.policy_source == PolicySource::Variable {
        worker::console_log!(
            "keygate: policy from the KEYGATE_POLICY variable, not the bundled one"
        );
    }
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

/// Logs why storage failed (never a key or hash) and fails closed.
pub fn store_down(what: &str) -> GatewayError {
    worker::console_error!("key store unavailable: {what}");
    GatewayError::StoreUnavailable
}

/// A platform call that cannot fail in practice (building a response) failed anyway.
impl From<worker::Error> for Refused {
    fn from(error: worker::Error) -> Refused {
        worker::console_error!("internal error: {error}");
        GatewayError::Internal.into()
    }
}

/// A reply of the wrong kind means the object and this Worker disagree (a bug, or a deploy
/// under way): logged here, answered as the core says.
impl From<ReplyError> for Refused {
    fn from(error: ReplyError) -> Refused {
        if let ReplyError::Unexpected { .. } = error {
            worker::console_error!("key store unavailable: {error}");
        }
        error.refused()
    }
}

/// A refusal as a problem response. `type_base` (the policy's `[problems] type_base`, for
/// the data plane) puts the problem's `type` under the provider's documentation.
pub fn refusal_response(
    refused: Refused,
    request_id: &str,
    type_base: Option<&str>,
) -> Result<Response> {
    let problem = refused.error.to_problem(request_id);
    let problem = match type_base {
        Some(base) => problem.with_type_base(base),
        None => problem,
    };
    let headers = Headers::new();
    headers.set("Content-Type", "application/problem+json")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set(crate::identity::REQUEST_ID, request_id)?;
    for (name, value) in &problem.headers {
        headers.set(name, value)?;
    }
    for (name, value) in &refused.limit_headers {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(problem.body.to_string().into_bytes())?
        .with_status(problem.status)
        .with_headers(headers))
}

pub fn json_response(
    status: u16,
    body: &impl serde::Serialize,
    request_id: &str,
) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    // Admin answers can carry a key shown once; no cache may keep one.
    headers.set("Cache-Control", "no-store")?;
    headers.set(crate::identity::REQUEST_ID, request_id)?;
    let bytes = serde_json::to_vec(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    Ok(Response::from_bytes(bytes)?
        .with_status(status)
        .with_headers(headers))
}

/// The key authorities' Durable Object binding, one object per key id.
const KEY_AUTHORITY: &str = "KEY_AUTHORITY";

/// Sends one command to a key's authority and reads its reply. Any failure fails closed.
pub async fn call_authority(
    env: &Env,
    id: &KeyId,
    command: &Command,
) -> std::result::Result<Reply, GatewayError> {
    call_object(env, KEY_AUTHORITY, id.as_str(), command).await
}

/// Sends `command` as JSON to the Durable Object named `name` in `binding` and reads its
/// JSON reply. Any failure is a store failure: callers fail closed.
pub async fn call_object<C, R>(
    env: &Env,
    binding: &str,
    name: &str,
    command: &C,
) -> std::result::Result<R, GatewayError>
where
    C: serde::Serialize,
    R: serde::de::DeserializeOwned,
{
    // On the runtime's own objects: the command goes as one string and the reply is read
    // as one, with no stream reader or request wrapper in between.
    let outcome = async {
        let namespace = env.durable_object(binding)?;
        let namespace: &DurableObjectNamespace = namespace.as_ref().unchecked_ref();
        let stub = namespace.get(&namespace.id_from_name(name)?)?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&serde_json::to_string(command)?));
        let request = web_sys::Request::new_with_str_and_init("https://durable-object/", &init)?;
        let response: web_sys::Response = JsFuture::from(stub.fetch_with_request(&request)?)
            .await?
            .unchecked_into();
        if response.status() != 200 {
            return Err(worker::Error::RustError(format!(
                "answered {}",
                response.status()
            )));
        }
        let text = JsFuture::from(response.text()?).await?;
        let text = text
            .as_string()
            .ok_or_else(|| worker::Error::RustError("a reply that is not text".into()))?;
        Ok(serde_json::from_str::<R>(&text)?)
    }
    .await;
    outcome.map_err(|e| store_down(&format!("{binding} call failed: {e}")))
}

/// Unix milliseconds (and versions) as an SQL integer; they are far below 2^53, the exact
/// range of a JS number.
pub fn sql_integer(value: u64) -> worker::SqlStorageValue {
    worker::SqlStorageValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Ends a list query with keyset pagination, newest first: rows after `after`
/// (`created_at`, `id`), ordered, and one more than `limit` to tell whether there is a
/// next page.
pub fn newest_first_after<Id: ListedId>(
    query: &mut String,
    bindings: &mut Vec<worker::SqlStorageValue>,
    after: Option<&Position<Id>>,
    limit: usize,
) {
    if let Some(Position { created_at, id }) = after {
        let (created_at, id) = (*created_at, id.as_str());
        query.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        bindings.push(sql_integer(created_at));
        bindings.push(sql_integer(created_at));
        bindings.push(id.into());
    }
    query.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    bindings.push(sql_integer(limit as u64 + 1));
}
