//! Criterion benchmarks of keygate's pure hot path: everything a proxied request runs in
//! Rust, without the platform (KV, Durable Object, fetch) around it.
//!
//! Run: `cargo bench --bench hot_path -- --warm-up-time 1 --measurement-time 3`
//! (figures and caveats in BENCHMARKS.md). These run natively, not in wasm; on Workers the
//! same code runs as wasm in V8, which is slower by a constant factor.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hmac::{Hmac, Mac};
use keygate::admin::parse_create;
use keygate::ambiguity::{self, BodyPrefix, RequestShape, BODY_SCAN_BYTES};
use keygate::authority::{Command, KeyState, Reply};
use keygate::headers::sanitize_request_headers;
use keygate::identity::{
    self, BodyDigest, Content, Identity, RequestLine, SigningSecret, SIGNED_BODY_MAX_BYTES,
};
use keygate::key::{self, hash_key, ApiKey, Environment, HashingSecret, KeyId};
use keygate::limits::{self, LimiterState, Limits};
use keygate::policy::{Access, Action, Policy, RouteTarget};
use keygate::usage;
use keygate::webhook::secret::{WebhookSecret, WEBHOOK_SECRET_RANDOM_BYTES};
use sha2::Sha256;
use std::hint::black_box;

const DEMO_POLICY: &str = include_str!("../policies/demo.toml");
const HASH_SECRET: &[u8] = b"hash-secret-for-benches-0123456789abcdef";
const SIGNING_SECRET: &[u8] = b"signing-secret-for-benches-0123456789abcdef";
/// 2023-11-14T22:13:20Z, a whole second; the state below fills the 60 seconds up to it.
const NOW_SEC: u64 = 1_700_000_000;
const NOW_MS: u64 = NOW_SEC * 1000 + 250;

fn valid_key() -> String {
    let random: [u8; key::KEY_RANDOM_BYTES] =
        std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
    ApiKey::generate("kg", Environment::Live, &random)
        .expose()
        .to_string()
}

/// The valid key with its last checksum character changed: well formed, wrong checksum.
fn bad_checksum_key() -> String {
    let mut text = valid_key();
    let last = text.pop().expect("key is not empty");
    text.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        key::parse(&text, "kg").unwrap_err(),
        key::KeyFormatError::ChecksumMismatch
    );
    text
}

fn policy() -> Policy {
    Policy::from_toml(DEMO_POLICY).expect("demo policy is valid")
}

/// Limits well above the traffic in `busy_state`, so every check admits.
fn limits() -> Limits {
    Limits::new(100_000, 10_000_000).expect("valid limits")
}

/// A busy key: 60 occupied per-second buckets (the most counting at now keeps), 50 requests
/// each, and 1.2M requests already counted today.
fn busy_state() -> LimiterState {
    let minute: Vec<(u64, u32)> = (NOW_SEC - 59..=NOW_SEC).map(|s| (s, 50)).collect();
    let json = serde_json::json!({
        "minute": minute,
        "day": NOW_MS / 86_400_000,
        "day_count": 1_200_000,
    });
    let state: LimiterState = serde_json::from_value(json).expect("state deserialises");
    // Sanity: the state admits, and really has 60 buckets in the window.
    let quota = limits::peek(&state, &limits(), NOW_MS);
    assert_eq!(quota.minute.remaining, 100_000 - 60 * 50);
    state
}

fn identity() -> Identity {
    Identity {
        key_id: "key_4fQx9ZbT2mLk8RwE1nVh7c".to_string(),
        key_name: "Zapier — prod".to_string(),
        workspace: "acme".to_string(),
        environment: "live".to_string(),
        scopes: vec!["contacts:read".to_string(), "email:read".to_string()],
        request_id: "req_7Hc2LpQ9xVb4Nt1ZkR8mWs".to_string(),
        approval_id: None,
        approved_by: None,
        timestamp: NOW_SEC,
    }
}

fn request_line() -> RequestLine<'static> {
    RequestLine {
        method: "GET",
        host: "api.internal.example:8443",
        path_and_query: "/v1/contacts/c_8812?fields=name,email&page=2",
    }
}

/// 15 headers as a browser-ish client sends them through Cloudflare; 7 of them are stripped.
fn client_headers(key: &str) -> Vec<(String, String)> {
    [
        ("host", "gateway.example.com"),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, br"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("authorization", &format!("Bearer {key}")),
        ("cf-connecting-ip", "203.0.113.7"),
        ("cf-ipcountry", "GB"),
        ("cf-ray", "8c1f2a3b4c5d6e7f-LHR"),
        ("cf-visitor", "{\"scheme\":\"https\"}"),
        ("connection", "Keep-Alive"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("user-agent", "Zapier/2.0 (+https://zapier.com)"),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-request-tag", "sync-42"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

fn bench_key(c: &mut Criterion) {
    let valid = valid_key();
    let bad = bad_checksum_key();
    c.bench_function("key::parse/valid", |b| {
        b.iter(|| key::parse(black_box(&valid), black_box("kg")))
    });
    c.bench_function("key::parse/bad_checksum", |b| {
        b.iter(|| key::parse(black_box(&bad), black_box("kg")))
    });

    let secret = HashingSecret::new(HASH_SECRET.to_vec());
    let parsed = key::parse(&valid, "kg").expect("valid key");
    c.bench_function("key::hash_key (HMAC-SHA256)", |b| {
        b.iter(|| hash_key(black_box(&secret), black_box(&parsed.key)))
    });
    // Reference, not keygate code: the bare HMAC over the same bytes, no hex encoding, to
    // show how much of hash_key is the MAC itself.
    c.bench_function("reference: bare HMAC-SHA256 of a key", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(black_box(HASH_SECRET))
                .expect("any key length");
            mac.update(black_box(valid.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
}

fn bench_policy(c: &mut Criterion) {
    let policy = policy();
    assert!(policy.route("GET", "/v1/contacts/c_8812").is_some());
    assert!(policy.route("GET", "/v1/nothing/here").is_none());
    c.bench_function("policy.route/param_hit", |b| {
        b.iter(|| policy.route(black_box("GET"), black_box("/v1/contacts/c_8812")))
    });
    c.bench_function("policy.route/miss", |b| {
        b.iter(|| policy.route(black_box("GET"), black_box("/v1/nothing/here")))
    });

    let target: RouteTarget = policy
        .route("DELETE", "/v1/contacts/c_8812")
        .expect("mapped");
    let allowed = vec!["email:read".to_string(), "contacts:delete".to_string()];
    let denied = vec!["email:read".to_string(), "contacts:read".to_string()];
    assert_eq!(policy.decide(&allowed, &target), Access::Allowed);
    assert!(matches!(
        policy.decide(&denied, &target),
        Access::Denied { .. }
    ));
    c.bench_function("policy.decide/allowed", |b| {
        b.iter(|| policy.decide(black_box(&allowed), black_box(&target)))
    });
    c.bench_function("policy.decide/denied", |b| {
        b.iter(|| policy.decide(black_box(&denied), black_box(&target)))
    });
}

fn bench_limits(c: &mut Criterion) {
    let state = busy_state();
    let limits = limits();
    // A fresh copy of the busy state per iteration (cloned outside the timing), so every
    // iteration sees the same 60 buckets instead of an ever-growing count.
    c.bench_function("limits::check_and_count/60_buckets", |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| {
                let quota = limits::check_and_count(s, black_box(&limits), black_box(NOW_MS));
                assert!(quota.is_ok());
                quota
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("limits::peek/60_buckets", |b| {
        b.iter(|| limits::peek(black_box(&state), black_box(&limits), black_box(NOW_MS)))
    });
}

fn bench_identity_and_headers(c: &mut Criterion) {
    let secret = SigningSecret::new(SIGNING_SECRET.to_vec());
    let identity = identity();
    let line = request_line();
    // A GET: no body, so the digest is of no bytes.
    let empty = Content {
        content_type: None,
        content_length: None,
        body: BodyDigest::of(b""),
    };
    c.bench_function("identity::sign (V3, no body)", |b| {
        b.iter(|| {
            identity::sign(
                black_box(&secret),
                black_box(&line),
                black_box(&empty),
                black_box(&identity),
            )
        })
    });
    // Hashing the body is the part of V3 that grows with the request: 1 KiB, and the
    // largest body keygate signs (64 KiB); signing is the digest plus the fixed HMAC above.
    for (label, size) in [("1 KiB", 1024), ("64 KiB", SIGNED_BODY_MAX_BYTES)] {
        let body = vec![b'x'; size];
        c.bench_function(
            &format!("identity: digest + sign (V3, {label} body)"),
            |b| {
                b.iter(|| {
                    let content = Content {
                        content_type: Some("application/json"),
                        content_length: Some(size as u64),
                        body: BodyDigest::of(black_box(&body)),
                    };
                    identity::sign(&secret, &line, &content, &identity)
                })
            },
        );
    }

    let headers = client_headers(&valid_key());
    assert_eq!(sanitize_request_headers(headers.clone(), None).len(), 8);
    c.bench_function("headers::sanitize_request_headers/15", |b| {
        b.iter_batched(
            || headers.clone(),
            |h| sanitize_request_headers(black_box(h), None),
            BatchSize::SmallInput,
        )
    });
}

/// The key's Durable Object deciding one request: hash match, status, scope, both windows,
/// usage hour, rate-limit headers — `KeyState::handle` with `Command::Admit`, as it runs for
/// every admitted request (60 busy buckets, a usage history of 30 days of hours).
fn bench_authority(c: &mut Criterion) {
    let policy = policy();
    let hash_secret = HashingSecret::new(HASH_SECRET.to_vec());
    let key = ApiKey::generate("kg", Environment::Live, &[7; key::KEY_RANDOM_BYTES]);
    let hash = hash_key(&hash_secret, &key);
    let body = r#"{"name": "Bench", "scopes": ["contacts:write"], "limits": {"per_minute": 1000000, "per_day": 1000000000}}"#;
    let new_key = parse_create(body.as_bytes(), &policy, NOW_MS - 1, true).unwrap();
    let record = new_key.into_record(
        KeyId::generate(&[9; key::KEY_ID_RANDOM_BYTES]),
        &key,
        NOW_MS - 1,
        "default",
        keygate::record::Principal::Root,
        None,
    );
    let mut state = KeyState::default();
    state.handle(
        Command::Create {
            webhook_secret: WebhookSecret::generate(&[0; WEBHOOK_SECRET_RANDOM_BYTES]),
            record: Box::new(record),
            secret: hash.clone(),
        },
        &policy,
        NOW_MS - 1,
    );
    // Thirty days of hourly usage, then a busy minute.
    for hour in (0..720u64).rev() {
        state.handle(admit(&hash), &policy, NOW_MS - hour * usage::HOUR_MS);
    }
    state.counters.limiter = busy_state();
    c.bench_function("authority: admit (60 buckets, 720 usage hours)", |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| {
                let (reply, _) = s.handle(admit(&hash), &policy, black_box(NOW_MS));
                assert!(matches!(reply, Reply::Admitted { .. }));
                reply
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("usage::totals (720 hours)", |b| {
        b.iter(|| usage::totals(state.counters.this_hour, black_box(&state.history), NOW_MS))
    });
}

fn admit(hash: &key::KeyHash) -> Command {
    Command::Admit {
        key_hash: hash.clone(),
        resource: "contacts".into(),
        action: Action::Read,
        queueing: Some(Default::default()),
    }
}

/// Everything one admitted request runs in Rust, in order, as a single iteration:
/// parse → hash → route → decide → check_and_count → sign (+ identity headers) → sanitize.
/// The request checks before routing, and the body scan on bodies of each kind at the
/// 64 KiB the gateway reads.
fn bench_request_checks(c: &mut Criterion) {
    let presented = valid_key();
    let headers = client_headers(&presented);
    c.bench_function("check_request (GET, 15 headers)", |b| {
        b.iter(|| {
            ambiguity::check_request(black_box(&RequestShape {
                method: "GET",
                path: "/v1/contacts/c_8812",
                query: Some("page=2&per_page=50"),
                headers: &headers,
                has_body: false,
                key_prefix: "kg",
                credential_header: None,
            }))
        })
    });
    let json_small =
        br#"{"name":"Ada Lovelace","email":"ada@example.com","tags":["a","b"]}"#.to_vec();
    let json_large = {
        let member = r#""field":"some value with words in it","n":12345,"#;
        let mut text = String::from("{");
        while text.len() + member.len() < BODY_SCAN_BYTES - 20 {
            text.push_str(member);
        }
        text.push_str(r#""end":true}"#);
        text.into_bytes()
    };
    let form_large = "field=some+value+with+words&n=12345&"
        .repeat(BODY_SCAN_BYTES / 36)
        .into_bytes();
    let multipart_large = {
        let part = "--XyZ\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n";
        part.repeat(BODY_SCAN_BYTES / part.len()).into_bytes()
    };
    for (name, content_type, bytes) in [
        ("check_body (JSON, 66 B)", "application/json", &json_small),
        ("check_body (JSON, 64 KiB)", "application/json", &json_large),
        (
            "check_body (form, 64 KiB)",
            "application/x-www-form-urlencoded",
            &form_large,
        ),
        (
            "check_body (multipart, 64 KiB)",
            "multipart/form-data; boundary=XyZ",
            &multipart_large,
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let body = BodyPrefix {
                    content_type: Some(content_type),
                    content_encoding: None,
                    bytes: black_box(bytes),
                    complete: true,
                };
                ambiguity::check_body(&body, true)
            })
        });
    }
}

fn bench_whole(c: &mut Criterion) {
    let policy = policy();
    let hash_secret = HashingSecret::new(HASH_SECRET.to_vec());
    let signing_secret = SigningSecret::new(SIGNING_SECRET.to_vec());
    let limits = limits();
    let state = busy_state();
    let presented = valid_key();
    let headers = client_headers(&presented);
    let scopes = identity().scopes;
    let line = request_line();

    c.bench_function("whole pure hot path", |b| {
        b.iter_batched(
            || (state.clone(), headers.clone()),
            |(mut state, headers)| {
                ambiguity::check_request(&RequestShape {
                    method: "GET",
                    path: black_box("/v1/contacts/c_8812"),
                    query: None,
                    headers: &headers,
                    has_body: false,
                    key_prefix: policy.key_prefix(),
                    credential_header: policy.credential_header(),
                })
                .unwrap();
                let parsed = key::parse(black_box(&presented), policy.key_prefix()).unwrap();
                let key_hash = hash_key(&hash_secret, &parsed.key);
                let target = policy
                    .route(black_box("GET"), black_box("/v1/contacts/c_8812"))
                    .unwrap();
                assert_eq!(policy.decide(&scopes, &target), Access::Allowed);
                let quota =
                    limits::check_and_count(&mut state, &limits, black_box(NOW_MS)).unwrap();
                let identity = Identity {
                    scopes: scopes.clone(),
                    ..identity()
                };
                let content = Content {
                    content_type: None,
                    content_length: None,
                    body: BodyDigest::of(b""),
                };
                let signature = identity::sign(&signing_secret, &line, &content, &identity);
                let mut forwarded = sanitize_request_headers(headers, None);
                forwarded.extend(
                    identity
                        .headers(&content, &signature)
                        .into_iter()
                        .map(|(n, v)| (n.to_string(), v)),
                );
                (key_hash, quota, forwarded, state)
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(
    benches,
    bench_key,
    bench_authority,
    bench_policy,
    bench_limits,
    bench_identity_and_headers,
    bench_request_checks,
    bench_whole
);
criterion_main!(benches);
