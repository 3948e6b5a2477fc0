//! The outbound request to the origin: streamed, stripped, signed, bounded in time.

use crate::authority::Grantee;
use crate::config::Config;
use crate::headers::sanitize_request_headers;
use crate::identity::{self, sign, Identity, RequestLine};
use crate::problem::GatewayError;
use futures_util::future::{select, Either};
use std::time::Duration;
use worker::{
    AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response, Url,
};

pub async fn forward(
    req: &Request,
    client_headers: Vec<(String, String)>,
    url: &Url,
    config: &Config,
    grantee: &Grantee,
    request_id: &str,
    now_ms: u64,
) -> Result<Response, GatewayError> {
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let target = config.origin.url_for(&path_and_query);
    let method = req.method();
    let origin_path = format!("{}{path_and_query}", config.origin.base_path);

    // Strip first, then add: nothing the client sent can stand in for keygate's headers.
    // Names and values came from a parsed request, so setting them again cannot fail.
    let headers = Headers::new();
    for (name, value) in sanitize_request_headers(client_headers) {
        let _ = headers.append(&name, &value);
    }
    let identity = Identity {
        key_id: grantee.key_id.to_string(),
        key_name: grantee.key_name.clone(),
        workspace: grantee.workspace.clone(),
        environment: grantee.environment.as_str().to_string(),
        scopes: grantee.scopes.clone(),
        request_id: request_id.to_string(),
        approval_id: None,
        timestamp: now_ms / 1000,
    };
    let line = RequestLine {
        method: method.as_ref(),
        host: &config.origin.host,
        path_and_query: &origin_path,
    };
    let signature = sign(&config.signing_secret, &line, &identity);
    for (name, value) in identity.headers(&signature) {
        // Identity values are visible ASCII by construction (the name is percent-encoded).
        let _ = headers.set(name, &value);
    }

    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(headers)
        // Never follow: a redirect must not carry identity headers to another host.
        .with_redirect(RequestRedirect::Manual)
        // The body is passed as the client's stream, never buffered.
        .with_body(req.inner().body().map(Into::into));
    let outbound = Request::new_with_init(&target, &init).map_err(|e| {
        worker::console_error!("could not build the origin request: {e}");
        GatewayError::OriginUnreachable
    })?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(outbound);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Delay::from(Duration::from_millis(config.origin_timeout_ms));
    // Bound to a local so the losing future (which borrows `fetch`) is dropped before them.
    let outcome = select(sending, timeout).await;
    match outcome {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(error), _)) => {
            worker::console_warn!("origin request failed: {error}");
            Err(GatewayError::OriginUnreachable)
        }
        Either::Right(_) => {
            controller.abort();
            Err(GatewayError::OriginTimeout)
        }
    }
}

/// The origin's response, streamed back, with the key's limit state and the request id.
pub fn with_headers(
    response: Response,
    limit_headers: &[(String, String)],
    request_id: &str,
) -> Response {
    // A fetched response's headers are immutable; copy them into a new set.
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        let _ = headers.append(&name, &value);
    }
    for (name, value) in limit_headers {
        let _ = headers.set(name, value);
    }
    let _ = headers.set(identity::REQUEST_ID, request_id);
    response.with_headers(headers)
}
