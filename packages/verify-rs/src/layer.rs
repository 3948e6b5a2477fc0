//! tower layers (feature `tower`) that verify a whole request before the service sees it:
//! [`VerifyIdentityLayer`] for requests keygate forwards to the origin, and
//! [`VerifyWebhookLayer`] for the rejection webhooks it POSTs.
//!
//! Each reads the body, bounded (a `Content-Length` over the limit is refused before any
//! of it is read, a chunked body as soon as it passes the limit), verifies it with the
//! headers, and passes the request on with the result in its extensions ([`Verified`] or
//! [`VerifiedWebhook`]) and the body it read. The identity layer checks the headers and
//! their signature first, so a forgery is refused before its body is read. Anything else is answered here, as
//! `application/problem+json` with a stable `code` ([`Refusal`]), and never reaches the
//! service. With the `axum` feature a handler takes the result as an argument.
//!
//! ```
//! use keygate_verify::layer::{VerifyIdentityLayer, Refusal};
//! use keygate_verify::SigningSecret;
//! # use http_body_util::Full; use bytes::Bytes;
//! # use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = VerifyIdentityLayer::new(vec![SigningSecret::new(b"from keygate".to_vec())])
//!     .replay_cache(100_000);
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(|_req: http::Request<Full<Bytes>>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from("hello"))))
//! }));
//! let unsigned = http::Request::post("/v1/contacts").header("host", "api.internal").body(Full::new(Bytes::new())).unwrap();
//! let response = service.oneshot(unsigned).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.extensions().get::<Refusal>().map(Refusal::code), Some("missing_header"));
//! # });
//! ```
//!
//! Put the identity layer on the outermost router: the request target it checks is the one
//! keygate signed, so it must see the path before any prefix is stripped (with `axum`,
//! under `Router::nest`, it reads axum's `OriginalUri`).

use crate::identity::{
    self, ReceivedBody, RequestLine, SignedHeaders, Verified, APPROVAL_ID, APPROVED_BY,
    CONTENT_SHA256, ENVIRONMENT, KEY_ID, KEY_NAME, REQUEST_ID, SCOPES, SIGNATURE, TIMESTAMP,
    WORKSPACE,
};
use crate::replay::{Replay, ReplayCache};
use crate::{webhook, SigningSecret, VerifyError};
use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};
use tower_layer::Layer;
use tower_service::Service;

/// Unix seconds now; a test passes its own.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// keygate's default window: a timestamp further than this from now is stale.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// The largest body keygate signs: an approved request's, sent from the stored body, which
/// keygate's policy caps at 1 MiB (a live request's is signed up to 64 KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// A rejection notice carries the queued request's body (base64 when binary): room for it.
pub const DEFAULT_WEBHOOK_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Why a layer answered instead of the service. Also put into the response's extensions,
/// so a logging layer outside can count refusals by [`Refusal::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not what keygate signed: a forgery, a changed request, or a stale one.
    Unverified(VerifyError),
    /// The body is longer than the layer's limit.
    BodyTooLarge,
    /// keygate forwarded the body without signing it (a live request's over
    /// [`identity::SIGNED_BODY_MAX_BYTES`]), and the layer was not told to allow that.
    BodyUnsigned,
    /// The body could not be read to its end (the connection broke).
    BodyUnreadable,
    /// Verified, but seen before within the window, or no room to remember it.
    Replayed(Replay),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unverified(_) | Refusal::Replayed(Replay::Seen) => StatusCode::UNAUTHORIZED,
            Refusal::BodyTooLarge | Refusal::BodyUnsigned => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyUnreadable => StatusCode::BAD_REQUEST,
            // Fail closed: the origin is short of memory for ids, not the caller at fault.
            Refusal::Replayed(Replay::Full) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable name: [`VerifyError::code`], [`Replay::code`], or this layer's own.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unverified(error) => error.code(),
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BodyUnsigned => "unsigned_body",
            Refusal::BodyUnreadable => "body_unreadable",
            Refusal::Replayed(replay) => replay.code(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Refusal::Unverified(_) => "Not signed by keygate",
            Refusal::BodyTooLarge => "Body too large",
            Refusal::BodyUnsigned => "Body not signed",
            Refusal::BodyUnreadable => "Body unreadable",
            Refusal::Replayed(Replay::Seen) => "Request replayed",
            Refusal::Replayed(Replay::Full) => "Too many requests to remember",
        }
    }

    /// The problem+json answer. Only static text: nothing of the request is echoed.
    fn response<B: From<Bytes>>(&self) -> Response<B> {
        let status = self.status();
        let body = format!(
            r#"{{"type":"about:blank","title":"{}","status":{},"code":"{}"}}"#,
            self.title(),
            status.as_u16(),
            self.code()
        );
        let mut response = Response::new(B::from(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response.extensions_mut().insert(self.clone());
        response
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unverified(error) => error.fmt(f),
            other => f.write_str(other.code()),
        }
    }
}

/// What both layers share: the secrets, newest first, the window, the body limit, the clock.
#[derive(Clone)]
struct Settings {
    secrets: Arc<[SigningSecret]>,
    tolerance_secs: u64,
    max_body_bytes: usize,
    clock: Clock,
}

impl Settings {
    fn new(secrets: Vec<SigningSecret>, max_body_bytes: usize) -> Settings {
        Settings {
            secrets: secrets.into(),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            max_body_bytes,
            clock: Arc::new(system_clock),
        }
    }
}

fn system_clock() -> u64 {
    // Before 1970 nothing verifies (every timestamp is stale): fail closed.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Looks up a header keygate sends once; a second copy (which keygate never sends) is
/// refused, so what was verified is the only value a handler could read.
fn single<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, Refusal> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => value
            .to_str()
            .map(Some)
            .map_err(|_| Refusal::Unverified(VerifyError::MalformedHeader(name))),
        (Some(_), Some(_)) => Err(Refusal::Unverified(VerifyError::MalformedHeader(name))),
    }
}

/// `name → value` for the verifiers, after [`single`] has vouched for each name.
fn lookup<'h>(headers: &'h HeaderMap, names: &[&'static str]) -> Result<LookUp<'h>, Refusal> {
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        if let Some(value) = single(headers, name)? {
            found.push((*name, value));
        }
    }
    Ok(LookUp(found))
}

struct LookUp<'h>(Vec<(&'static str, &'h str)>);

impl<'h> LookUp<'h> {
    fn get(&self, name: &str) -> Option<&'h str> {
        self.0
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

mod sealed {
    use super::Refusal;
    use http::request::Parts;

    /// What a layer checks: what it can before reading the body, then the rest with it.
    /// Sealed: the two layers are the only ones.
    pub trait Check: Clone + Send + Sync + 'static {
        type Pending: Send + 'static;
        type Verified: Clone + Send + Sync + 'static;
        /// The most of the body to read, knowing what the headers said.
        fn body_limit(&self, pending: &Self::Pending) -> usize;
        fn check_headers(&self, parts: &Parts) -> Result<Self::Pending, Refusal>;
        fn check_body(
            &self,
            pending: Self::Pending,
            parts: &Parts,
            body: &[u8],
        ) -> Result<Self::Verified, Refusal>;
    }
}
use sealed::Check;

/// Verifies keygate's identity headers (`X-Keygate-*`, V3) on every request.
///
/// Defaults: a 300 s window, bodies up to [`DEFAULT_MAX_BODY_BYTES`], unsigned bodies
/// refused, no replay cache, the `Host` header as the host.
#[derive(Clone)]
pub struct VerifyIdentityLayer {
    settings: Settings,
    host: Option<Arc<str>>,
    path_prefix: Option<Arc<str>>,
    allow_unsigned_body: bool,
    replay: Option<Arc<Mutex<ReplayCache>>>,
}

impl VerifyIdentityLayer {
    /// The origin's signing secrets, newest first (two while one is being rotated).
    pub fn new(secrets: Vec<SigningSecret>) -> VerifyIdentityLayer {
        VerifyIdentityLayer {
            settings: Settings::new(secrets, DEFAULT_MAX_BODY_BYTES),
            host: None,
            path_prefix: None,
            allow_unsigned_body: false,
            replay: None,
        }
    }

    /// The window either side of now; the replay cache keeps ids this long.
    pub fn tolerance_secs(mut self, secs: u64) -> Self {
        self.settings.tolerance_secs = secs;
        if let Some(capacity) = self.replay_capacity() {
            self = self.replay_cache(capacity);
        }
        self
    }

    /// The longest body read; a longer one is refused with 413 `body_too_large`.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_body_bytes = bytes;
        self
    }

    /// Let through bodies keygate forwarded unsigned (`unsigned-body`: a live request's
    /// over [`identity::SIGNED_BODY_MAX_BYTES`]): [`Verified::body_signed`] is then `false`,
    /// and the bytes are not vouched for. They are still read whole, up to
    /// [`Self::max_body_bytes`].
    pub fn allow_unsigned_body(mut self, allow: bool) -> Self {
        self.allow_unsigned_body = allow;
        self
    }

    /// The host keygate signs (the host and port of its `KEYGATE_ORIGIN`), for an origin
    /// behind a proxy that rewrites `Host`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into().into());
        self
    }

    /// The path prefix a proxy between keygate and the origin strips (`/svc` when keygate
    /// signs `/svc/v1/contacts` and the origin receives `/v1/contacts`).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into().into());
        self
    }

    /// Refuse a second request with the same `X-Keygate-Request-Id` within the window,
    /// remembering at most `capacity` ids; when they are all still in the window a new
    /// request is refused (503 `replay_cache_full`) rather than one forgotten. One cache
    /// for every clone of this layer.
    pub fn replay_cache(mut self, capacity: usize) -> Self {
        self.replay = Some(Arc::new(Mutex::new(ReplayCache::new(
            capacity,
            self.settings.tolerance_secs,
        ))));
        self
    }

    /// Where "now" comes from (Unix seconds); the system clock by default.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    fn replay_capacity(&self) -> Option<usize> {
        let cache = self.replay.as_ref()?.lock().ok()?;
        Some(cache.capacity())
    }

    fn signed_host<'p>(&'p self, parts: &'p Parts) -> Result<&'p str, Refusal> {
        Ok(match &self.host {
            Some(host) => host,
            None => match single(&parts.headers, "host")? {
                Some(host) => host,
                // HTTP/2 has no Host header: the authority is in the URI.
                None => parts
                    .uri
                    .authority()
                    .map(|authority| authority.as_str())
                    .ok_or(Refusal::Unverified(VerifyError::MissingHeader("Host")))?,
            },
        })
    }

    /// The request target keygate signed: with the prefix a proxy stripped put back.
    fn signed_target<'p>(&self, parts: &'p Parts) -> Cow<'p, str> {
        let received = received_target(parts);
        match &self.path_prefix {
            Some(prefix) => Cow::Owned(format!("{prefix}{received}")),
            None => Cow::Borrowed(received),
        }
    }
}

/// The path and query as the request arrived, before any router stripped a prefix.
fn received_target(parts: &Parts) -> &str {
    #[cfg(feature = "axum")]
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    #[cfg(not(feature = "axum"))]
    let uri = &parts.uri;
    uri.path_and_query().map_or("/", |target| target.as_str())
}

/// Every header the identity signature covers.
const IDENTITY_HEADERS: [&str; 13] = [
    KEY_ID,
    KEY_NAME,
    WORKSPACE,
    ENVIRONMENT,
    SCOPES,
    REQUEST_ID,
    APPROVAL_ID,
    APPROVED_BY,
    TIMESTAMP,
    SIGNATURE,
    CONTENT_SHA256,
    "Content-Type",
    "Content-Length",
];

impl Check for VerifyIdentityLayer {
    /// The verified headers, and when they were checked.
    type Pending = (SignedHeaders, u64);
    type Verified = Verified;

    /// A live request's body is signed only up to [`identity::SIGNED_BODY_MAX_BYTES`]
    /// (longer is `unsigned-body`); an approved one's, from storage, up to the limit.
    fn body_limit(&self, (signed, _): &(SignedHeaders, u64)) -> usize {
        let approved = signed.identity().approval_id.is_some();
        if signed.body_signed() && !approved {
            self.settings
                .max_body_bytes
                .min(identity::SIGNED_BODY_MAX_BYTES)
        } else {
            self.settings.max_body_bytes
        }
    }

    fn check_headers(&self, parts: &Parts) -> Result<(SignedHeaders, u64), Refusal> {
        let target = self.signed_target(parts);
        let line = RequestLine {
            method: parts.method.as_str(),
            host: self.signed_host(parts)?,
            path_and_query: &target,
        };
        let headers = lookup(&parts.headers, &IDENTITY_HEADERS)?;
        let now = (self.settings.clock)();
        let signed = identity::verify_headers_any(
            &self.settings.secrets,
            &line,
            |name| headers.get(name),
            now,
            self.settings.tolerance_secs,
        )
        .map_err(Refusal::Unverified)?;
        if !signed.body_signed() && !self.allow_unsigned_body {
            return Err(Refusal::BodyUnsigned);
        }
        Ok((signed, now))
    }

    fn check_body(
        &self,
        (signed, now): (SignedHeaders, u64),
        _: &Parts,
        body: &[u8],
    ) -> Result<Verified, Refusal> {
        let verified = signed
            .check_body(ReceivedBody::Bytes(body))
            .map_err(Refusal::Unverified)?;
        if let Some(replay) = &self.replay {
            // A poisoned lock is a panic elsewhere mid-update: fail closed.
            let mut seen = replay.lock().map_err(|_| Refusal::Replayed(Replay::Full))?;
            seen.check_and_remember(
                &verified.identity.request_id,
                verified.identity.timestamp,
                now,
            )
            .map_err(Refusal::Replayed)?;
        }
        Ok(verified)
    }
}

/// A rejection webhook that verified: which of the receiver's secrets signed it (0: the
/// first, the newest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedWebhook {
    pub secret_index: usize,
}

/// Verifies a rejection webhook's `X-Keygate-Signature` over its timestamp and raw body.
///
/// Defaults: a 300 s window, bodies up to [`DEFAULT_WEBHOOK_MAX_BODY_BYTES`]. keygate tries
/// a delivery again until it is answered 2xx, so the same notice can arrive twice: act on
/// each `approval_id` once.
#[derive(Clone)]
pub struct VerifyWebhookLayer {
    settings: Settings,
}

impl VerifyWebhookLayer {
    /// The receiver's webhook secrets (`whsec_…`), newest first.
    pub fn new(secrets: Vec<SigningSecret>) -> VerifyWebhookLayer {
        VerifyWebhookLayer {
            settings: Settings::new(secrets, DEFAULT_WEBHOOK_MAX_BODY_BYTES),
        }
    }

    pub fn tolerance_secs(mut self, secs: u64) -> Self {
        self.settings.tolerance_secs = secs;
        self
    }

    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_body_bytes = bytes;
        self
    }

    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }
}

const WEBHOOK_HEADERS: [&str; 2] = [TIMESTAMP, SIGNATURE];

impl Check for VerifyWebhookLayer {
    type Pending = ();
    type Verified = VerifiedWebhook;

    fn body_limit(&self, (): &()) -> usize {
        self.settings.max_body_bytes
    }

    /// The signature covers the body: only that both headers are there, once each.
    fn check_headers(&self, parts: &Parts) -> Result<(), Refusal> {
        let headers = lookup(&parts.headers, &WEBHOOK_HEADERS)?;
        match WEBHOOK_HEADERS
            .into_iter()
            .find(|name| headers.get(name).is_none())
        {
            Some(missing) => Err(Refusal::Unverified(VerifyError::MissingHeader(missing))),
            None => Ok(()),
        }
    }

    fn check_body(&self, (): (), parts: &Parts, body: &[u8]) -> Result<VerifiedWebhook, Refusal> {
        let headers = lookup(&parts.headers, &WEBHOOK_HEADERS)?;
        let secret_index = webhook::verify_delivery_any(
            &self.settings.secrets,
            |name| headers.get(name),
            body,
            (self.settings.clock)(),
            self.settings.tolerance_secs,
        )
        .map_err(Refusal::Unverified)?;
        Ok(VerifiedWebhook { secret_index })
    }
}

impl<S> Layer<S> for VerifyIdentityLayer {
    type Service = Verify<S, VerifyIdentityLayer>;

    fn layer(&self, inner: S) -> Self::Service {
        Verify {
            inner,
            check: self.clone(),
        }
    }
}

impl<S> Layer<S> for VerifyWebhookLayer {
    type Service = Verify<S, VerifyWebhookLayer>;

    fn layer(&self, inner: S) -> Self::Service {
        Verify {
            inner,
            check: self.clone(),
        }
    }
}

/// The service either layer wraps around `S`.
#[derive(Clone)]
pub struct Verify<S, C> {
    inner: S,
    check: C,
}

/// Reads at most `max` bytes of `body`: a declared length over it is refused unread.
async fn read_bounded<B>(headers: &HeaderMap, body: B, max: usize) -> Result<Bytes, Refusal>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(Refusal::BodyTooLarge);
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Refusal::BodyTooLarge)
        }
        Err(_) => Err(Refusal::BodyUnreadable),
    }
}

impl<S, C, B, ResBody> Service<Request<B>> for Verify<S, C>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    C: Check,
    B: http_body::Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was not polled ready stays here; the ready one serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let check = self.check.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let verified = async {
                let pending = check.check_headers(&parts)?;
                let limit = check.body_limit(&pending);
                let bytes = read_bounded(&parts.headers, body, limit).await?;
                let verified = check.check_body(pending, &parts, &bytes)?;
                Ok::<_, Refusal>((verified, bytes))
            }
            .await;
            match verified {
                Ok((verified, bytes)) => {
                    parts.extensions.insert(verified);
                    inner.call(Request::from_parts(parts, B::from(bytes))).await
                }
                Err(refusal) => Ok(refusal.response()),
            }
        })
    }
}

#[cfg(feature = "axum")]
mod extract {
    use super::{Verified, VerifiedWebhook};
    use axum::extract::FromRequestParts;
    use axum::response::{IntoResponse, Response};
    use http::request::Parts;
    use http::StatusCode;

    /// A handler asked for what a layer puts in, but no layer ran: a wiring mistake, so
    /// the request is refused rather than served unverified.
    #[derive(Debug)]
    pub struct LayerMissing;

    impl IntoResponse for LayerMissing {
        fn into_response(self) -> Response {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "keygate verification layer missing",
            )
                .into_response()
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for Verified {
        type Rejection = LayerMissing;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<Verified>()
                .cloned()
                .ok_or(LayerMissing)
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for VerifiedWebhook {
        type Rejection = LayerMissing;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<VerifiedWebhook>()
                .cloned()
                .ok_or(LayerMissing)
        }
    }
}
#[cfg(feature = "axum")]
pub use extract::LayerMissing;
