//! The outbound request to the origin: streamed, stripped, signed, bounded in time.

use crate::config::Config;
use crate::headers::{reserved_response_headers, sanitize_request_headers};
use crate::identity::{self, sign, BodyDigest, Content, RequestLine, SIGNED_BODY_MAX_BYTES};
use crate::problem::GatewayError;
use crate::record::Grantee;
use crate::request::body;
use crate::request::origin::{path_and_query, Sender};
use crate::request::target::RequestTarget;
use futures_util::future::{select, Either};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCache, RequestInit, RequestRedirect};
use worker::{ByteStream, Delay};

// One peek of the body serves the override scan and the signature: a body the scan read
// whole is the body that gets signed.
const _: () = assert!(crate::ambiguity::BODY_SCAN_BYTES == SIGNED_BODY_MAX_BYTES);

/// A body on its way to the origin.
pub enum OutboundBody {
    None,
    /// Read whole (a small client body, or a stored one): signed by its digest.
    Whole(Vec<u8>),
    /// Longer than [`SIGNED_BODY_MAX_BYTES`]: streamed as it arrives, signed as
    /// `unsigned-body` with the length the client declared (none when chunked).
    Streamed {
        stream: web_sys::ReadableStream,
        declared_length: Option<u64>,
    },
}

/// A request on its way to the origin, before keygate's identity is added.
pub struct Outbound {
    pub method: worker::Method,
    /// The client's path and query, e.g. `/v1/contacts?page=2`.
    pub path_and_query: String,
    /// The client's headers; sanitised again here, so nothing reserved survives.
    pub headers: Vec<(String, String)>,
    pub body: OutboundBody,
    /// The client's country as the platform determined it (`request.cf.country`), sent as
    /// `CF-IPCountry` in place of any the client sent.
    pub platform_country: Option<String>,
}

/// A client's request as the data plane reads it, each part read from the platform once:
/// the runtime's own request (its body, and `cf` when forwarding), its method, its URL's
/// parts, its headers (names in lower case, as iterating them gives) and the body length
/// its `Content-Length` declared, if that parses.
pub struct ClientRequest<'a> {
    pub raw: &'a web_sys::Request,
    pub method: String,
    pub target: RequestTarget<'a>,
    pub headers: Vec<(String, String)>,
    pub declared_length: Option<usize>,
}

/// Forwards a client's request. `prefix` is what [`peek_body`] read of its body: a body
/// that ended within [`SIGNED_BODY_MAX_BYTES`] is sent as those bytes, signed by their
/// digest; a longer one is streamed from the request itself, never buffered.
pub async fn forward(
    client: ClientRequest<'_>,
    prefix: PeekedBody,
    config: &Config,
    grantee: &Grantee,
    request_id: &str,
) -> Result<web_sys::Response, GatewayError> {
    let body = match client.raw.body() {
        None => OutboundBody::None,
        Some(_) if prefix.complete => OutboundBody::Whole(prefix.bytes),
        Some(stream) => OutboundBody::Streamed {
            stream,
            declared_length: client.declared_length.map(|len| len as u64),
        },
    };
    let outbound = Outbound {
        method: worker::Method::from(client.method),
        path_and_query: path_and_query(client.target.path, client.target.query),
        headers: client.headers,
        body,
        platform_country: super::platform::platform_country(client.raw),
    };
    let sender = Sender {
        grantee,
        approval: None,
    };
    let now_ms = super::platform::now_ms();
    send(outbound, config, &sender, request_id, now_ms).await
}

/// Strips, signs and sends one request to the origin, bounded by the origin timeout.
pub async fn send(
    outbound: Outbound,
    config: &Config,
    sender: &Sender<'_>,
    request_id: &str,
    now_ms: u64,
) -> Result<web_sys::Response, GatewayError> {
    let Outbound {
        method,
        path_and_query,
        headers: client_headers,
        body,
        platform_country,
    } = outbound;
    let target = config.origin.url_for(&path_and_query);
    let origin_path = format!("{}{path_and_query}", config.origin.base_path);

    // Strip first, then add: nothing the client sent can stand in for keygate's headers.
    // Names and values came from a parsed request, so setting them again cannot fail.
    let headers = web_sys::Headers::new().map_err(|_| GatewayError::Internal)?;
    for (name, value) in sanitize_request_headers(client_headers, config.policy.credential_header())
    {
        let _ = headers.append(&name, &value);
    }
    if let Some(country) = platform_country {
        let _ = headers.set("CF-IPCountry", &country);
    }
    // What the origin will receive, so that is what gets signed. fetch() sends
    // `Content-Length: 0` for a request without a body unless it is a GET or HEAD; an
    // empty body says so explicitly, so the length signed is the length sent.
    let body = match body {
        OutboundBody::None if !matches!(method, worker::Method::Get | worker::Method::Head) => {
            OutboundBody::Whole(Vec::new())
        }
        other => other,
    };
    let (body, content_length, digest): (Option<JsValue>, _, _) = match body {
        OutboundBody::None => (None, None, BodyDigest::of(b"")),
        OutboundBody::Whole(bytes) => (
            Some(js_sys::Uint8Array::from(bytes.as_slice()).into()),
            Some(bytes.len() as u64),
            BodyDigest::of(&bytes),
        ),
        OutboundBody::Streamed {
            stream,
            declared_length,
        } => (Some(stream.into()), declared_length, BodyDigest::Unsigned),
    };
    let _ = match content_length {
        Some(length) => headers.set("Content-Length", &length.to_string()),
        None => headers.delete("Content-Length"),
    };
    let content_type = headers.get("Content-Type").ok().flatten();
    let content = Content {
        content_type: content_type.as_deref(),
        content_length,
        body: digest,
    };
    let identity = sender.identity(request_id, now_ms);
    let line = RequestLine {
        method: method.as_ref(),
        host: &config.origin.host,
        path_and_query: &origin_path,
    };
    let signature = sign(&config.signing_secret, &line, &content, &identity);
    for (name, value) in identity.headers(&content, &signature) {
        // Identity values are visible ASCII by construction (the name is percent-encoded).
        let _ = headers.set(name, &value);
    }

    let init = RequestInit::new();
    init.set_method(method.as_ref());
    init.set_headers(&headers);
    // Never follow: a redirect must not carry identity headers to another host.
    init.set_redirect(RequestRedirect::Manual);
    // Never from or into Cloudflare's cache: its key is the URL, not the caller, so an
    // origin on a Cloudflare zone answering `Cache-Control: public` would otherwise have
    // one key's answer served to another key, past its scopes and its limits.
    init.set_cache(RequestCache::NoStore);
    if let Some(body) = &body {
        init.set_body(body);
    }
    fetch_within(&target, &init, config.origin_timeout_ms)
        .await
        .map_err(|failure| match failure {
            FetchFailure::TimedOut => GatewayError::OriginTimeout,
            FetchFailure::Failed(error) => {
                worker::console_warn!("origin request failed: {error}");
                GatewayError::OriginUnreachable
            }
        })
}

pub enum FetchFailure {
    /// The request could not be built or sent; the runtime's message, for the log.
    Failed(String),
    TimedOut,
}

/// One outbound fetch of `url` with `init`, aborted if its response's headers have not
/// arrived within `timeout_ms`: never a hang. A body still streaming after that is not
/// cut (the timer is cleared once the headers are in).
///
/// Straight on the runtime's `fetch` and `setTimeout`: the request is built once, and the
/// timer aborts the controller itself, so no Rust future or closure stands in between.
pub async fn fetch_within(
    url: &str,
    init: &RequestInit,
    timeout_ms: u64,
) -> Result<web_sys::Response, FetchFailure> {
    let failed = |error: JsValue| FetchFailure::Failed(describe(&error));
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let controller = web_sys::AbortController::new().map_err(failed)?;
    let signal = controller.signal();
    init.set_signal(Some(&signal));
    let request = web_sys::Request::new_with_str_and_init(url, init).map_err(failed)?;
    let abort: js_sys::Function = js_sys::Reflect::get(&controller, &JsValue::from_str("abort"))
        .map_err(failed)?
        .unchecked_into();
    let timer = global
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            &abort.bind0(&controller),
            i32::try_from(timeout_ms).unwrap_or(i32::MAX),
        )
        .map_err(failed)?;
    let outcome = JsFuture::from(global.fetch_with_request(&request)).await;
    global.clear_timeout_with_handle(timer);
    match outcome {
        Ok(response) => Ok(response.unchecked_into()),
        Err(_) if signal.aborted() => Err(FetchFailure::TimedOut),
        Err(error) => Err(failed(error)),
    }
}

/// A thrown JS value as text for the log: an `Error`'s message, or what it is.
fn describe(error: &JsValue) -> String {
    match error.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => format!("{error:?}"),
    }
}

/// The first bytes of a request's body, and whether they were all of it.
pub struct PeekedBody {
    pub bytes: Vec<u8>,
    pub complete: bool,
}

/// Reads at most `limit` bytes of a request's body from a copy of it (`Request.clone()`
/// tees the stream), so the request itself is still streamed to the origin untouched.
/// The copy is cancelled when its stream is dropped here, so the tee holds back at most
/// what was read: `limit` bytes and one chunk. A body whose first `limit` bytes have not
/// arrived within `timeout_ms` is not waited for: what came counts, the rest as unread.
pub async fn peek_body(
    req: &web_sys::Request,
    limit: usize,
    timeout_ms: u64,
) -> Result<PeekedBody, GatewayError> {
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    if req.body().is_none() {
        return Ok(PeekedBody {
            bytes,
            complete: true,
        });
    }
    let copy = req.clone().map_err(|_| body::unreadable())?;
    let mut stream = ByteStream::from(copy.body().ok_or_else(body::unreadable)?);
    let mut deadline = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    loop {
        let chunk = match select(stream.next(), deadline.as_mut()).await {
            Either::Left((Some(chunk), _)) => chunk.map_err(|_| body::unreadable())?,
            Either::Left((None, _)) => {
                return Ok(PeekedBody {
                    bytes,
                    complete: true,
                })
            }
            Either::Right(_) => {
                return Ok(PeekedBody {
                    bytes,
                    complete: false,
                })
            }
        };
        let room = limit.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok(PeekedBody {
                bytes,
                complete: false,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
}

/// Reads and drops up to `limit` bytes of a body, keeping none of them, for at most
/// `timeout_ms`: a body still on its way is not waited for.
pub async fn drain(mut stream: ByteStream, limit: usize, timeout_ms: u64) {
    use futures_util::StreamExt;
    let mut seen = 0usize;
    let mut deadline = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    while seen <= limit {
        match select(stream.next(), deadline.as_mut()).await {
            Either::Left((Some(Ok(chunk)), _)) => seen += chunk.len(),
            _ => return,
        }
    }
}

/// Reads at most `limit` bytes of a body; the flag says whether there was more. Stops
/// reading as soon as the bound is passed: nothing beyond it is buffered.
pub async fn read_at_most(
    stream: Option<worker::ByteStream>,
    limit: usize,
) -> worker::Result<(Vec<u8>, bool)> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    let Some(mut stream) = stream else {
        return Ok((body, false));
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = limit.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The origin's response, streamed back, with the key's limit state and the request id.
pub fn with_headers(
    response: web_sys::Response,
    limit_headers: &[(String, String)],
    request_id: &str,
) -> worker::Result<web_sys::Response> {
    // A fetched response's headers are immutable. `new Response(body, response)` takes its
    // status, status text and a copy of its headers in one step, and that copy may change:
    // without any the origin set in keygate's prefix (only keygate speaks for keygate to
    // the client), then with keygate's own.
    let answer = web_sys::Response::new_with_opt_readable_stream_and_init(
        response.body().as_ref(),
        response.unchecked_ref(),
    )?;
    let headers = answer.headers();
    for name in reserved_response_headers(header_names(&headers)) {
        headers.delete(&name)?;
    }
    for (name, value) in limit_headers {
        headers.set(name, value)?;
    }
    headers.set(identity::REQUEST_ID, request_id)?;
    Ok(answer)
}

/// The names in a header set (lower case, as the runtime keeps them).
pub fn header_names(headers: &web_sys::Headers) -> Vec<String> {
    js_sys::try_iter(&headers.keys())
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(|name| name.ok()?.as_string())
        .collect()
}
