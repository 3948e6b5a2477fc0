//! The layers in an axum app, driven with `tower::ServiceExt::oneshot` (no sockets): what
//! keygate signed reaches the handler with its identity; a forgery, a replay, a changed
//! body, a body over the limit never do.

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use keygate_verify::identity::{sign, BodyDigest, Content, Identity, RequestLine, Verified};
use keygate_verify::layer::{Refusal, VerifiedWebhook, VerifyIdentityLayer, VerifyWebhookLayer};
use keygate_verify::webhook;
use keygate_verify::SigningSecret;
use tower::ServiceExt;

const NOW: u64 = 1_900_000_000;
const HOST: &str = "api.internal:8443";
const TARGET: &str = "/v1/contacts?notify=1";
const BODY: &[u8] = br#"{"name":"Ada"}"#;

fn secret() -> SigningSecret {
    SigningSecret::new(b"the origin's signing secret".to_vec())
}

fn identity(request_id: &str) -> Identity {
    Identity {
        key_id: "key_4fQx9ZbT2mLk8RwE1nVh7c".into(),
        key_name: "Agent — prod".into(),
        workspace: "acme".into(),
        environment: "live".into(),
        scopes: vec!["contacts:write".into()],
        request_id: request_id.into(),
        approval_id: None,
        approved_by: None,
        timestamp: NOW,
    }
}

/// A request as keygate forwards it: its identity headers, signed for `body`, with its
/// length declared unless `chunked`.
fn forwarded(
    secret: &SigningSecret,
    request_id: &str,
    body: &[u8],
    digest: BodyDigest,
) -> Request<Body> {
    forwarded_with(secret, &identity(request_id), TARGET, body, digest, false)
}

/// As keygate forwards `identity`'s request to `target`.
fn forwarded_with(
    secret: &SigningSecret,
    identity: &Identity,
    target: &str,
    body: &[u8],
    digest: BodyDigest,
    chunked: bool,
) -> Request<Body> {
    let line = RequestLine {
        method: "POST",
        host: HOST,
        path_and_query: target,
    };
    let content = Content {
        content_type: Some("application/json"),
        content_length: (!chunked).then_some(body.len() as u64),
        body: digest,
    };
    let signature = sign(secret, &line, &content, identity);
    let mut request = Request::post(TARGET)
        .header("host", HOST)
        .header("content-type", "application/json");
    if !chunked {
        request = request.header("content-length", body.len());
    }
    for (name, value) in identity.headers(&content, &signature) {
        request = request.header(name, value);
    }
    request.body(Body::from(body.to_vec())).expect("a request")
}

fn signed(request_id: &str) -> Request<Body> {
    forwarded(&secret(), request_id, BODY, BodyDigest::of(BODY))
}

async fn handler(verified: Verified, body: Bytes) -> String {
    format!(
        "{} {} {} {}",
        verified.identity.key_id,
        verified.identity.key_name,
        verified.secret_index,
        String::from_utf8_lossy(&body)
    )
}

fn layer() -> VerifyIdentityLayer {
    VerifyIdentityLayer::new(vec![secret()]).clock(|| NOW + 5)
}

fn app(layer: VerifyIdentityLayer) -> Router {
    Router::new()
        .route("/v1/contacts", post(handler))
        .layer(layer)
}

async fn text(response: Response) -> String {
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    String::from_utf8_lossy(&body).into_owned()
}

/// The refusal's status and code, checked in the response's extensions and its body.
async fn refused(response: Response) -> (StatusCode, &'static str) {
    let status = response.status();
    let code = response
        .extensions()
        .get::<Refusal>()
        .map(Refusal::code)
        .expect("a refusal");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = text(response).await;
    assert!(body.contains(&format!(r#""code":"{code}""#)), "{body}");
    (status, code)
}

#[tokio::test]
async fn a_signed_request_reaches_the_handler_with_its_identity_and_body() {
    let response = app(layer()).oneshot(signed("req_1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        text(response).await,
        r#"key_4fQx9ZbT2mLk8RwE1nVh7c Agent — prod 0 {"name":"Ada"}"#
    );
}

#[tokio::test]
async fn a_forgery_is_refused_before_the_handler() {
    let forger = SigningSecret::new(b"not the origin's".to_vec());
    let forged = forwarded(&forger, "req_1", BODY, BodyDigest::of(BODY));
    let response = app(layer()).oneshot(forged).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    // The headers are checked first: a forged upload is refused before its body is read.
    let huge = vec![b'x'; 2 << 20];
    let forged = forwarded(&forger, "req_1", &huge, BodyDigest::of(&huge));
    let response = app(layer()).oneshot(forged).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    let unsigned = Request::post(TARGET)
        .header("host", HOST)
        .body(Body::from(BODY))
        .unwrap();
    let response = app(layer()).oneshot(unsigned).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::UNAUTHORIZED, "missing_header")
    );
}

#[tokio::test]
async fn a_replay_is_refused_once_the_cache_has_seen_the_request_id() {
    let app = app(layer().replay_cache(100));
    let first = app.clone().oneshot(signed("req_1")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let again = app.clone().oneshot(signed("req_1")).await.unwrap();
    assert_eq!(refused(again).await, (StatusCode::UNAUTHORIZED, "replayed"));
    let another = app.clone().oneshot(signed("req_2")).await.unwrap();
    assert_eq!(another.status(), StatusCode::OK);
    // Without the cache, the same replay verifies (the signature cannot tell).
    let plain = self::app(layer());
    for _ in 0..2 {
        let response = plain.clone().oneshot(signed("req_1")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_full_replay_cache_fails_closed() {
    let app = app(layer().replay_cache(1));
    let first = app.clone().oneshot(signed("req_1")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = app.clone().oneshot(signed("req_2")).await.unwrap();
    assert_eq!(
        refused(second).await,
        (StatusCode::SERVICE_UNAVAILABLE, "replay_cache_full")
    );
}

#[tokio::test]
async fn a_changed_body_is_refused() {
    let swapped = br#"{"name":"Eve"}"#;
    let changed = forwarded(&secret(), "req_1", swapped, BodyDigest::of(BODY));
    let response = app(layer()).oneshot(changed).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::UNAUTHORIZED, "body_mismatch")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_declared_or_not() {
    let app = app(layer().max_body_bytes(BODY.len() - 1));
    let response = app.clone().oneshot(signed("req_1")).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
    // No Content-Length (chunked): refused once the bytes read pass the limit.
    let undeclared = forwarded_with(
        &secret(),
        &identity("req_1"),
        TARGET,
        BODY,
        BodyDigest::of(BODY),
        true,
    );
    let response = app.oneshot(undeclared).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
}

#[tokio::test]
async fn an_approved_body_is_read_up_to_the_limit_a_live_one_up_to_what_keygate_signs() {
    // keygate signs a live request's body only up to 64 KiB (longer is unsigned-body); an
    // approved request's, sent from storage, up to 1 MiB.
    let long = vec![b'x'; 100_000];
    let approved = Identity {
        approval_id: Some("apr_9Kd2LmQ8xVb4Nt1ZkR8mWs".into()),
        approved_by: Some("root".into()),
        ..identity("req_1")
    };
    let request = forwarded_with(
        &secret(),
        &approved,
        TARGET,
        &long,
        BodyDigest::of(&long),
        false,
    );
    let response = app(layer()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let live = forwarded(&secret(), "req_2", &long, BodyDigest::of(&long));
    assert_eq!(
        refused(app(layer()).oneshot(live).await.unwrap()).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
}

#[tokio::test]
async fn an_unsigned_body_is_refused_unless_allowed() {
    let large = vec![b'x'; 70_000];
    let unsigned = || forwarded(&secret(), "req_1", &large, BodyDigest::Unsigned);
    let strict = app(layer().max_body_bytes(100_000));
    assert_eq!(
        refused(strict.oneshot(unsigned()).await.unwrap()).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "unsigned_body")
    );
    let lenient = Router::new()
        .route(
            "/v1/contacts",
            post(|verified: Verified| async move { verified.body_signed.to_string() }),
        )
        .layer(layer().max_body_bytes(100_000).allow_unsigned_body(true));
    let response = lenient.oneshot(unsigned()).await.unwrap();
    assert_eq!(text(response).await, "false");
}

#[tokio::test]
async fn during_a_rotation_either_secret_verifies_and_the_handler_learns_which() {
    let new = SigningSecret::new(b"the origin's next secret".to_vec());
    let rotating = || app(VerifyIdentityLayer::new(vec![new.clone(), secret()]).clock(|| NOW));
    let by_old = rotating().oneshot(signed("req_1")).await.unwrap();
    assert!(text(by_old).await.contains(" 1 {"));
    let by_new = forwarded(&new, "req_2", BODY, BodyDigest::of(BODY));
    let by_new = rotating().oneshot(by_new).await.unwrap();
    assert!(text(by_new).await.contains(" 0 {"));
}

#[tokio::test]
async fn a_stale_request_is_refused() {
    let late = app(VerifyIdentityLayer::new(vec![secret()]).clock(|| NOW + 301));
    assert_eq!(
        refused(late.oneshot(signed("req_1")).await.unwrap()).await,
        (StatusCode::UNAUTHORIZED, "stale_timestamp")
    );
}

#[tokio::test]
async fn under_a_nested_router_the_original_target_is_the_one_checked() {
    let nested = Router::new().nest(
        "/v1",
        Router::new()
            .route("/contacts", post(handler))
            .layer(layer()),
    );
    let response = nested.oneshot(signed("req_1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_proxy_that_rewrites_host_the_signed_host_is_configured() {
    let proxied = || {
        let mut request = signed("req_1");
        let rewritten = "origin-pod-7:8080".parse().unwrap();
        request.headers_mut().insert("host", rewritten);
        request
    };
    let response = app(layer()).oneshot(proxied()).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    let response = app(layer().host(HOST)).oneshot(proxied()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_proxy_that_strips_a_prefix_the_prefix_is_configured() {
    // keygate signed /svc/v1/contacts (KEYGATE_ORIGIN=https://api.internal:8443/svc); the
    // proxy in front of the origin took /svc off.
    let stripped = || {
        let signed_target = "/svc/v1/contacts?notify=1";
        let digest = BodyDigest::of(BODY);
        forwarded_with(
            &secret(),
            &identity("req_1"),
            signed_target,
            BODY,
            digest,
            false,
        )
    };
    let response = app(layer().path_prefix("/svc")).oneshot(stripped()).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    assert_eq!(
        refused(app(layer()).oneshot(stripped()).await.unwrap()).await,
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
}

#[tokio::test]
async fn a_second_copy_of_a_signed_header_is_refused() {
    // The handler could read the second copy; keygate never sends one.
    let mut doubled = signed("req_1");
    doubled
        .headers_mut()
        .append("x-keygate-key-id", "key_someoneelse".parse().unwrap());
    let response = app(layer()).oneshot(doubled).await.unwrap();
    assert_eq!(
        refused(response).await,
        (StatusCode::UNAUTHORIZED, "malformed_header")
    );
}

#[tokio::test]
async fn a_handler_without_the_layer_refuses_rather_than_serve_unverified() {
    let unlayered = Router::new().route("/v1/contacts", post(handler));
    let response = unlayered.oneshot(signed("req_1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_rejection_webhook_is_verified_by_its_layer() {
    let receiver = SigningSecret::new(b"whsec_the receiver's secret".to_vec());
    let app = Router::new()
        .route(
            "/hooks/keygate",
            post(|verified: VerifiedWebhook, body: Bytes| async move {
                format!("{} {}", verified.secret_index, body.len())
            }),
        )
        .layer(VerifyWebhookLayer::new(vec![receiver.clone()]).clock(|| NOW + 30));
    let body = br#"{"type":"approval.rejected"}"#;
    let delivery = |signature: String, body: &[u8]| {
        Request::post("/hooks/keygate")
            .header("x-keygate-event", webhook::REJECTED_EVENT)
            .header("x-keygate-timestamp", NOW.to_string())
            .header("x-keygate-signature", signature)
            .body(Body::from(body.to_vec()))
            .unwrap()
    };
    let valid = delivery(webhook::sign(&receiver, NOW, body), body);
    let response = app.clone().oneshot(valid).await.unwrap();
    assert_eq!(text(response).await, format!("0 {}", body.len()));
    let forger = SigningSecret::new(b"whsec_someone else".to_vec());
    let forged = delivery(webhook::sign(&forger, NOW, body), body);
    assert_eq!(
        refused(app.clone().oneshot(forged).await.unwrap()).await,
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    let changed = delivery(webhook::sign(&receiver, NOW, body), b"{}");
    assert_eq!(
        refused(app.oneshot(changed).await.unwrap()).await,
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
}
