//! The portal page: files from the Worker's static assets (`ASSETS`, wrangler.toml's
//! `[assets]`, the built `portal/dist`) and the policy's branding, answered as
//! [`crate::portal`] decides, over HTTPS only when `KEYGATE_HTTPS_ONLY` is on (as the admin
//! API). Reads no credential, no body and no storage, and never calls the origin.

use super::platform;
use crate::config::Config;
use crate::portal::{classify, config_headers, PortalRefusal, PortalRequest, PAGE_PATH};
use crate::problem::GatewayError;
use crate::request::reply::Refused;
use worker::{Env, Headers, Request, Response, Result};

/// The static-assets binding wrangler.toml's `[assets]` declares.
const ASSETS: &str = "ASSETS";

/// The answer to a request under `/_keygate/portal` ([`crate::portal::is_portal_path`]).
pub async fn serve(
    req: &Request,
    env: &Env,
    config: &Config,
    request_id: &str,
) -> Result<Response> {
    let method = req.inner().method();
    // Over plain HTTP the page would read the session token from its link and send it, in
    // the clear, to the admin API (which refuses it only once it has crossed the wire).
    let plain_http = config.https_only && !req.url().is_ok_and(|url| url.scheme() == "https");
    let outcome = match classify(&method, &req.path()) {
        _ if plain_http => Err(GatewayError::HttpsRequired.into()),
        Ok(PortalRequest::Redirect) => redirect(),
        Ok(PortalRequest::Config) => branding(config),
        Ok(file) => stored_file(env, &file, config).await,
        Err(refusal) => Err(GatewayError::from(refusal).into()),
    };
    let response = match outcome {
        Ok(response) => response,
        // The portal is keygate's own: its problems keep keygate's `type`.
        Err(refused) => platform::refusal_response(refused, request_id, None)?,
    };
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.set(&name, &value)?;
    }
    for (name, value) in config.policy.portal().security_headers() {
        headers.set(name, &value)?;
    }
    headers.set(crate::identity::REQUEST_ID, request_id)?;
    let status = response.status_code();
    // HEAD: the same status and headers, no body.
    let response = if method == "HEAD" {
        Response::empty()?
    } else {
        response
    };
    Ok(response.with_status(status).with_headers(headers))
}

fn redirect() -> std::result::Result<Response, Refused> {
    let headers = Headers::new();
    headers.set("Location", PAGE_PATH)?;
    headers.set("Cache-Control", "no-cache")?;
    Ok(Response::empty()?.with_status(308).with_headers(headers))
}

fn branding(config: &Config) -> std::result::Result<Response, Refused> {
    // Plain strings and nulls: serialising cannot fail.
    let body =
        serde_json::to_vec(&config.policy.portal().config()).map_err(|_| GatewayError::Internal)?;
    let headers = Headers::new();
    for (name, value) in config_headers() {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(body)?.with_headers(headers))
}

/// A file from the static assets, streamed as the store gives it, with only the headers
/// the core keeps. The store is asked with a plain GET of its own path: nothing of the
/// request (headers, credentials, body) is passed on.
async fn stored_file(
    env: &Env,
    file: &PortalRequest,
    config: &Config,
) -> std::result::Result<Response, Refused> {
    let path = file
        .asset_path()
        .ok_or(GatewayError::from(PortalRefusal::NotFound))?;
    // A Worker deployed without `[assets]` (or a runtime started without them) has no binding.
    let assets = env
        .assets(ASSETS)
        .map_err(|_| GatewayError::from(PortalRefusal::NotDeployed))?;
    // The store reads only the path; the host is a placeholder.
    let stored = assets
        .fetch(format!("https://assets.invalid{path}"), None)
        .await?;
    let kept = file
        .file_headers(
            config.policy.portal(),
            stored.status_code(),
            &stored.headers().entries().collect::<Vec<_>>(),
        )
        .map_err(GatewayError::from)?;
    let headers = Headers::new();
    for (name, value) in &kept {
        headers.set(name, value)?;
    }
    // A fetched response's headers are immutable: the body goes on under new ones.
    Ok(stored.with_status(200).with_headers(headers))
}
