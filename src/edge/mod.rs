//! The Workers layer: moves data between the platform and the pure core, nothing more.
//!
//! [`gateway`] is a request's whole path, phase by phase, as the crate docs describe it.

mod admin;
mod answer;
mod approval_queue;
mod approvals;
mod authority_object;
mod directory_object;
mod key_index;
mod lease;
mod platform;
mod portal;
mod proxy;

use crate::admin::calls::approval_location;
use crate::ambiguity::{BodyPrefix, RequestShape, BODY_SCAN_BYTES};
use crate::authority::Queueing;
use crate::config::Config;
use crate::cors::{CorsSettings, Preflight};
use crate::headers::header_value;
use crate::key::hash_key;
use crate::problem::GatewayError;
use crate::request::admission::{admission, Admission};
use crate::request::bearer::{presented_api_key, CredentialHeader};
use crate::request::body;
use crate::request::queued::{self, Queued, RequestLine};
use crate::request::reply::Refused;
use crate::request::target::RequestTarget;
use platform::now_ms;
use proxy::ClientRequest;
use std::borrow::Cow;
use worker::{event, Context, Env, Headers, Request, Response, Result};

/// Refused requests with a declared body up to this size have it drained before the answer,
/// for at most this long (a body that has arrived drains at once).
const DISCARDABLE_BODY_BYTES: usize = 1024 * 1024;
const DRAIN_TIMEOUT_MS: u64 = 1000;

/// A response as the runtime holds it. The data plane builds the origin's answer on it
/// directly: no copy of its headers into `worker::Response` and back on the hot path.
type RawResponse = web_sys::Response;

// The runtime's own request, not workers-rs's: that one reads the method, the URL (parsing
// it), the headers and `cf` for every request, and its `url()` parses again. The admin API
// and the portal page take it; the data plane reads what it needs ([`ClientRequest`]).
#[event(fetch)]
pub async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<RawResponse> {
    let request_id = platform::request_id();
    let config = match platform::config(&env) {
        Ok(config) => config,
        Err(error) => {
            worker::console_error!("keygate is misconfigured: {error}");
            return platform::refusal_response(
                GatewayError::Misconfigured.into(),
                &request_id,
                None,
            )
            .map(Into::into);
        }
    };
    let url = req.url();
    let Some(target) = RequestTarget::split(&url) else {
        // The runtime hands over a serialised absolute URL; anything else is our bug.
        worker::console_error!("internal error: a request URL that does not split");
        return platform::refusal_response(GatewayError::Internal.into(), &request_id, None)
            .map(Into::into);
    };
    let path = target.path;
    if crate::portal::is_portal_path(path) {
        // The portal page is static and public: no key, no body, no storage, no origin. A
        // small body sent anyway is drained unread, as before any refusal, so the client's
        // connection survives it.
        discard_small_body(&req).await;
        return portal::serve(&Request::from(req), &env, &config, &request_id)
            .await
            .map(Into::into);
    }
    let is_admin = path == crate::admin::ADMIN_PREFIX
        || path.starts_with(&format!("{}/", crate::admin::ADMIN_PREFIX));
    if is_admin {
        // The admin API is keygate's own: its problems keep keygate's `type`, and it
        // answers no cross-origin calls.
        let mut admin_req = Request::from(req);
        let outcome = admin::handle(&mut admin_req, &env, &config, &request_id)
            .await
            .map(Into::into);
        return answer(outcome, admin_req.inner(), &request_id, None).await;
    }
    let headers: Vec<(String, String)> = Headers(req.headers()).entries().collect();
    let incoming = ClientRequest {
        raw: &req,
        method: req.method(),
        target,
        declared_length: body::declared_length(header_value(&headers, "content-length").as_deref()),
        headers,
    };
    // A cross-origin preflight carries no key: answered from the policy alone, before
    // anything else, without the origin and without counting anything.
    let cors = config.policy.cors();
    let origin = header_value(&incoming.headers, "origin").map(Cow::into_owned);
    if let Some(cors) = cors {
        let requested = header_value(&incoming.headers, "access-control-request-method");
        if let Some((origin, requested)) =
            crate::cors::preflight_of(&incoming.method, origin.as_deref(), requested.as_deref())
        {
            let request_headers = header_value(&incoming.headers, "access-control-request-headers");
            let type_base = config.policy.problem_type_base();
            return preflight(
                cors,
                origin,
                requested,
                request_headers.as_deref(),
                &request_id,
                type_base,
            )
            .map(Into::into);
        }
    }
    let outcome = gateway(incoming, &env, &ctx, &config, &request_id).await;
    let response = answer(
        outcome,
        &req,
        &request_id,
        config.policy.problem_type_base(),
    )
    .await?;
    // Every answer, keygate's refusals included: a script must read an error to show it.
    match cors {
        Some(cors) => with_cors(response, cors, origin.as_deref()),
        None => Ok(response),
    }
}

/// The response for an outcome: a refusal becomes its problem (its body drained first).
async fn answer(
    outcome: std::result::Result<RawResponse, Refused>,
    req: &web_sys::Request,
    request_id: &str,
    type_base: Option<&str>,
) -> Result<RawResponse> {
    match outcome {
        Ok(response) => Ok(response),
        Err(refused) => {
            discard_small_body(req).await;
            platform::refusal_response(refused, request_id, type_base).map(Into::into)
        }
    }
}

/// A preflight's answer: 204 with what is allowed, or a 403 problem without any
/// `Access-Control-Allow-*` (a browser fails the preflight on either a non-2xx status or
/// missing headers; the problem tells a person with devtools or curl which part failed).
fn preflight(
    cors: &CorsSettings,
    origin: &str,
    requested: &str,
    request_headers: Option<&str>,
    request_id: &str,
    type_base: Option<&str>,
) -> Result<Response> {
    let (name, vary) = CorsSettings::preflight_vary();
    match cors.preflight(origin, requested, request_headers) {
        Preflight::Allowed(allowed) => {
            let headers = Headers::new();
            for (name, value) in allowed {
                headers.set(name, &value)?;
            }
            headers.set(name, &vary)?;
            headers.set(crate::identity::REQUEST_ID, request_id)?;
            Ok(Response::empty()?.with_status(204).with_headers(headers))
        }
        Preflight::Refused(refused) => {
            let error = GatewayError::CorsPreflightRefused { refused };
            let mut response = platform::refusal_response(error.into(), request_id, type_base)?;
            response.headers_mut().set(name, &vary)?;
            Ok(response)
        }
    }
}

/// A response with keygate's CORS headers in place of the origin's own. Every answer that
/// reaches here was made by keygate (the origin's is re-made by [`proxy::with_headers`]), so
/// its headers may change in place: no second copy of the response.
fn with_cors(
    response: RawResponse,
    cors: &CorsSettings,
    origin: Option<&str>,
) -> Result<RawResponse> {
    let headers = response.headers();
    let wanted = cors.apply(origin, Headers(headers.clone()).entries().collect());
    for name in proxy::header_names(&headers) {
        headers.delete(&name)?;
    }
    for (name, value) in wanted {
        // Names and values came from a response or from the policy: valid already.
        headers.append(&name, &value)?;
    }
    Ok(response)
}

/// workerd closes a keep-alive connection whose request body was left unread, and a client
/// that has already reused that connection for its next request sees it reset. Draining a
/// small body first (its bytes are dropped as they come, never kept) keeps the connection
/// usable; large or undeclared ones are left (the close is cheaper).
async fn discard_small_body(req: &web_sys::Request) {
    let declared = platform::declared_body_length(req);
    if declared.is_some_and(|len| (1..=DISCARDABLE_BODY_BYTES).contains(&len)) && !req.body_used() {
        // A body already handed to a fetch is locked to it: not ours to drain.
        if let Some(stream) = req.body().filter(|stream| !stream.locked()) {
            proxy::drain(stream.into(), DISCARDABLE_BODY_BYTES, DRAIN_TIMEOUT_MS).await;
        }
    }
}

/// One data-plane request: transport → authenticate → route → look up → admit → forward
/// (or, for a key holding only the approval level, queue).
async fn gateway(
    client: ClientRequest<'_>,
    env: &Env,
    ctx: &Context,
    config: &Config,
    request_id: &str,
) -> std::result::Result<RawResponse, Refused> {
    let (req, url, headers) = (client.raw, client.target, &client.headers);

    // Transport: on Workers the URL's scheme is the client's.
    if config.https_only && url.scheme != "https" {
        return Err(GatewayError::HttpsRequired.into());
    }

    // Authenticate the key's shape: no storage is touched for garbage. The key is in
    // `Authorization`, or in the policy's credential header: never both, never twice.
    let credential_header = config.policy.credential_header();
    let authorization = header_value(headers, "authorization");
    let credential_value = credential_header.and_then(|name| header_value(headers, name));
    let parsed = presented_api_key(
        authorization.as_deref(),
        credential_header.map(|name| CredentialHeader {
            name,
            value: credential_value.as_deref(),
        }),
        config.policy.key_prefix(),
    )?;

    // Route: refuse whatever the origin could read differently (or a key where it would
    // travel on), then find which resource and action the request needs; unmapped means denied.
    let path = url.path;
    crate::ambiguity::check_request(&RequestShape {
        method: &client.method,
        path,
        query: url.query,
        headers,
        has_body: req.body().is_some(),
        key_prefix: config.policy.key_prefix(),
        credential_header,
    })
    .map_err(GatewayError::from)?;
    let target = config
        .policy
        .route(&client.method, path)
        .ok_or(GatewayError::RouteNotMapped {
            status: config.policy.unmapped_route_status(),
        })?;

    // Look up: from the key's hash to its id, one KV read unless this isolate knows it.
    let key_hash = hash_key(&config.hash_secret, &parsed.key);
    let index_name = key_hash.index_name();
    let key_id = key_index::lookup(env, &index_name).await?;

    // Read the body's first bytes for a method override, now that the caller holds a real
    // key and before anything is counted (a refusal here is not).
    let prefix = proxy::peek_body(req, BODY_SCAN_BYTES, config.origin_timeout_ms).await?;
    let content_type = header_value(headers, "content-type");
    let content_encoding = header_value(headers, "content-encoding");
    let body = BodyPrefix {
        content_type: content_type.as_deref(),
        content_encoding: content_encoding.as_deref(),
        bytes: &prefix.bytes,
        complete: prefix.complete,
    };
    crate::ambiguity::check_body(&body, config.policy.origin_reads_body_overrides())
        .map_err(GatewayError::from)?;

    // Admit: the one Durable Object call — status, scope and both limit windows at once;
    // for a key in lease mode, a lease this isolate holds answers instead ([`lease`]).
    let queueing = Queueing {
        declared_body_bytes: client.declared_length.map(|len| len as u64),
    };
    let reply = lease::admit(
        env,
        ctx,
        &key_id,
        key_hash,
        target.resource.clone(),
        target.action,
        queueing,
    )
    .await?;
    if reply.refuses_the_secret() {
        key_index::forget(&index_name);
    }
    let (grantee, limit_headers) = match admission(reply)? {
        Admission::Forward {
            grantee,
            limit_headers,
        } => (grantee, limit_headers),
        Admission::Queue {
            grantee,
            limit_headers,
            secret,
        } => {
            let line = RequestLine {
                method: client.method,
                path: url.path,
                query: url.query,
            };
            let queued = Queued {
                grantee,
                secret,
                target,
                headers: client.headers,
            };
            // Counted: a 202, and any refusal after it, shows the key's limit state.
            return match queue(req, line, queued, config, env, request_id).await {
                Ok(response) => Ok(proxy::with_headers(
                    response.into(),
                    &limit_headers,
                    request_id,
                )?),
                Err(refused) => Err(refused.counted(limit_headers)),
            };
        }
    };

    // Forward: strip, sign, stream to the origin. The request was counted, so even an
    // origin failure shows the key's limit state.
    match proxy::forward(client, prefix, config, &grantee, request_id).await {
        Ok(response) => Ok(proxy::with_headers(response, &limit_headers, request_id)?),
        Err(error) => Err(Refused {
            error,
            limit_headers,
        }),
    }
}

/// Stores the request for a human to approve and answers 202 with where it waits. The
/// body is read whole (at most the policy's limit): it is kept, not streamed.
async fn queue(
    req: &web_sys::Request,
    line: RequestLine<'_>,
    queued: Queued,
    config: &Config,
    env: &Env,
    request_id: &str,
) -> std::result::Result<Response, Refused> {
    let settings = config.policy.approvals();
    let stream = req.body().map(worker::ByteStream::from);
    let (bytes, more) = proxy::read_at_most(stream, queued::body_limit(&settings))
        .await
        .map_err(|_| body::unreadable())?;
    let bytes = queued::accept_body(bytes, more, &settings)?;
    let random = platform::random()?;
    let submit = queued::submission(queued, line, bytes, &random, &settings, now_ms());
    queued::submitted(approval_queue::call(env, &submit.shard, &submit.command).await?)?;
    let response = platform::json_response(202, &submit.answer, request_id)?;
    let _ = response
        .headers()
        .set("Location", &approval_location(&submit.approval_id));
    Ok(response)
}
