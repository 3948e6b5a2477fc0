use super::fields::*;
use super::keys::*;
use super::list::*;
use super::routes::*;
use super::*;
use crate::approval::{ApprovalId, ApprovalStatus};
use crate::authority::{KeyEdit, LimitsEdit};
use crate::key::{hash_key, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
use crate::key::{ApiKey, Environment, KeyId};
use crate::limits::Limits;
use crate::page::{Position, DEFAULT_PAGE_SIZE, MAX_CURSOR_TIME_DIGITS, MAX_PAGE_SIZE};
use crate::policy::Policy;
use crate::problem::{FieldError, GatewayError};
use crate::record::{Principal, Status};
use crate::timestamp::format_rfc3339;
use proptest::prelude::*;
use serde_json::json;
use serde_json::{Map, Value};

/// 2030-03-17T17:46:40Z.
const NOW: u64 = 1_900_000_000_000;

fn policy() -> Policy {
    Policy::from_toml(include_str!("../../policies/demo.toml")).expect("demo policy parses")
}

fn parse_with(body: &Value, https_only: bool) -> Result<NewKey, GatewayError> {
    parse_create(body.to_string().as_bytes(), &policy(), NOW, https_only)
}

fn parse(body: &Value) -> Result<NewKey, GatewayError> {
    parse_with(body, true)
}

/// The smallest valid body, with `field` set to `value`.
fn with(field: &str, value: Value) -> Value {
    let mut body = json!({"name": "Zapier", "scopes": ["contacts:read"]});
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = with("name", json!("Zapier"));
    body.as_object_mut().unwrap().remove(field);
    body
}

fn field_errors<T: std::fmt::Debug>(result: Result<T, GatewayError>) -> Vec<FieldError> {
    match result {
        Err(GatewayError::InvalidBody { errors }) => errors,
        other => panic!("expected InvalidBody, got {other:?}"),
    }
}

/// The body is refused for exactly one reason, on `field`; returns its message.
fn refused_on<T: std::fmt::Debug>(field: &str, result: Result<T, GatewayError>) -> String {
    let errors = field_errors(result);
    match errors.as_slice() {
        [one] if one.field == field => one.message.clone(),
        _ => panic!("expected one error on `{field}`, got {errors:?}"),
    }
}

fn at(ms: u64) -> Value {
    json!(format_rfc3339(ms))
}

// --- whole bodies ---------------------------------------------------------------

#[test]
fn a_full_body_sets_every_field() {
    let body = json!({
        "name": "  Claude Desktop — prod  ",
        "scopes": ["contacts:write", "email:send-approval", "read:all"],
        "workspace": "acme-prod_1.eu",
        "expires_at": "2030-12-31T23:59:59Z",
        "limits": {"per_minute": 10, "per_day": 1000},
        "metadata": {"team": "growth", "cost_center": 42, "tags": ["a", "b"]},
        "rejection_webhook": "https://hooks.example.com/keygate/rejected",
        "environment": "test",
    });
    let new_key = parse(&body).unwrap();
    assert_eq!(
        new_key,
        NewKey {
            name: "Claude Desktop — prod".into(),
            scopes: vec![
                "contacts:write".into(),
                "email:send-approval".into(),
                "read:all".into()
            ],
            workspace: Some("acme-prod_1.eu".into()),
            expires_at: Some(1_924_991_999_000),
            limits: Some(Limits::new(10, 1000).unwrap()),
            metadata: body["metadata"].as_object().unwrap().clone(),
            rejection_webhook: Some("https://hooks.example.com/keygate/rejected".into()),
            environment: Environment::Test,
        }
    );
}

#[test]
fn omitted_and_null_fields_take_their_defaults() {
    let expected = NewKey {
        name: "Zapier".into(),
        scopes: vec!["contacts:read".into()],
        // No workspace named: the record gets the acting key's own, or the default.
        workspace: None,
        expires_at: None,
        limits: None,
        metadata: Map::new(),
        rejection_webhook: None,
        environment: Environment::Live,
    };
    assert_eq!(DEFAULT_WORKSPACE, "default");
    assert_eq!(parse(&with("name", json!("Zapier"))).unwrap(), expected);
    let nulls = json!({
        "name": "Zapier", "scopes": ["contacts:read"], "workspace": null,
        "expires_at": null, "limits": null, "metadata": null,
        "rejection_webhook": null, "environment": null,
    });
    assert_eq!(parse(&nulls).unwrap(), expected);
    let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
    let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
    let record = expected.into_record(id, &key, NOW, DEFAULT_WORKSPACE, Principal::Root, None);
    assert_eq!(record.workspace, "default");
}

#[test]
fn into_record_builds_a_fresh_active_record() {
    let new_key = parse(&with("workspace", json!("acme"))).unwrap();
    let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
    let hash = hash_key(&HashingSecret::new(b"secret".to_vec()), &key);
    let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
    // A workspace named in the body wins over the fallback.
    let record =
        new_key
            .clone()
            .into_record(id.clone(), &key, NOW, "fallback", Principal::Root, None);
    assert_eq!(record.id, id);
    assert_eq!(record.name, new_key.name);
    assert_eq!(record.hint, key.hint());
    assert_eq!(record.workspace, "acme");
    assert_eq!(record.scopes, new_key.scopes);
    assert_eq!(record.created_at, NOW);
    assert_eq!(record.revoked_at, None);
    assert_eq!(record.version, 1);
    assert_eq!(record.expires_at, new_key.expires_at);
    assert_eq!(record.limits, new_key.limits);
    assert_eq!(record.environment, new_key.environment);
    // Neither the key nor its hash is in the record: the authority keeps the hash apart.
    let hex = &hash.index_name()[3..];
    for text in [
        format!("{record:?}"),
        serde_json::to_string(&record).unwrap(),
    ] {
        assert!(!text.contains(key.expose()), "{text}");
        assert!(!text.contains(hex), "{text}");
    }

    // No workspace named: the fallback (the acting key's own workspace).
    let unnamed = parse(&with("name", json!("Zapier"))).unwrap();
    assert_eq!(unnamed.workspace, None);
    let record = unnamed.into_record(id, &key, NOW, "acme-team", Principal::Root, None);
    assert_eq!(record.workspace, "acme-team");
}

#[test]
fn unknown_top_level_fields_are_each_named() {
    let mut body = with("scope", json!("contacts:read"));
    body["expiry"] = json!("2031-01-01T00:00:00Z");
    let errors = field_errors(parse(&body));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["expiry", "scope"]);
    assert!(errors[0].message.contains("allowed: name, scopes"));
}

#[test]
fn every_bad_field_is_reported_in_one_answer() {
    let body = json!({
        "name": "",
        "scopes": [],
        "workspace": "no spaces",
        "expires_at": "tomorrow",
        "limits": {"per_minute": 0},
        "metadata": [],
        "rejection_webhook": "ftp://example.com",
        "environment": "prod",
        "colour": "blue",
    });
    let errors = field_errors(parse(&body));
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "colour",
            "environment",
            "expires_at",
            "limits",
            "metadata",
            "name",
            "rejection_webhook",
            "scopes",
            "workspace"
        ]
    );
}

#[test]
fn unknown_scopes_are_listed_with_the_valid_ones() {
    let body = with(
        "scopes",
        json!([
            "contacts:read",
            "contacts:admin",
            "billing:read",
            "contacts:admin"
        ]),
    );
    match parse(&body) {
        Err(GatewayError::UnknownScopes { unknown, valid }) => {
            assert_eq!(unknown, ["contacts:admin", "billing:read"]);
            assert_eq!(valid, policy().valid_scopes());
            assert!(valid.iter().any(|s| s == "contacts:read"));
            assert!(valid.iter().any(|s| s == "admin"));
        }
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    // Field errors come first: an unknown scope is not reported next to a bad field.
    let mut body = with("scopes", json!(["billing:read"]));
    body["name"] = json!("");
    assert_eq!(refused_on("name", parse(&body)), "must not be empty");
}

#[test]
fn bodies_that_are_not_json_objects_are_refused_on_body() {
    for body in [
        &b"[]"[..],
        b"\"a string\"",
        b"42",
        b"null",
        b"",
        b"{",
        b"{\"name\": }",
        b"\xff\xfe",
        b"{\"name\": \"a\"} trailing",
    ] {
        let errors = field_errors(parse_create(body, &policy(), NOW, true));
        assert_eq!(errors.len(), 1, "{body:?}");
        assert_eq!(errors[0].field, "body", "{body:?}");
    }
    let errors = field_errors(parse_create(b"[1]", &policy(), NOW, true));
    assert_eq!(errors[0].message, "must be a JSON object");
}

#[test]
fn bodies_over_64_kib_are_refused_before_parsing() {
    let base = with("name", json!("Zapier")).to_string();
    let padded = |total: usize| format!("{base}{}", " ".repeat(total - base.len()));
    let at_limit = padded(MAX_ADMIN_BODY_BYTES);
    assert!(parse_create(at_limit.as_bytes(), &policy(), NOW, true).is_ok());
    let code = |body: &[u8]| {
        parse_create(body, &policy(), NOW, true)
            .err()
            .map(|e| e.code())
    };
    let over = padded(MAX_ADMIN_BODY_BYTES + 1);
    assert_eq!(code(over.as_bytes()), Some("payload_too_large"));
    // Even an invalid body is refused for its size, not parsed.
    let junk = vec![b'x'; MAX_ADMIN_BODY_BYTES + 1];
    assert_eq!(code(&junk), Some("payload_too_large"));
}

// --- name -----------------------------------------------------------------------

#[test]
fn name_is_required_non_empty_and_trimmed() {
    assert_eq!(refused_on("name", parse(&without("name"))), "is required");
    assert_eq!(
        refused_on("name", parse(&with("name", json!(null)))),
        "is required"
    );
    for empty in ["", "   ", "\t\n"] {
        assert_eq!(
            refused_on("name", parse(&with("name", json!(empty)))),
            "must not be empty"
        );
    }
    for not_string in [json!(1), json!(["a"]), json!({}), json!(true)] {
        assert_eq!(
            refused_on("name", parse(&with("name", not_string))),
            "must be a string"
        );
    }
    assert_eq!(
        parse(&with("name", json!("  CI bot \n"))).unwrap().name,
        "CI bot"
    );
}

#[test]
fn name_is_at_most_120_characters() {
    let ok = "é".repeat(120);
    assert_eq!(parse(&with("name", json!(ok))).unwrap().name, ok);
    let long = "a".repeat(121);
    assert_eq!(
        refused_on("name", parse(&with("name", json!(long)))),
        "must be at most 120 characters"
    );
    refused_on("name", parse(&with("name", json!("é".repeat(121)))));
}

#[test]
fn name_refuses_control_characters() {
    for bad in [
        "line\nbreak",
        "tab\there",
        "nul\u{0}",
        "bell\u{7}",
        "del\u{7f}x",
        "c1\u{85}x",
    ] {
        let message = refused_on("name", parse(&with("name", json!(bad))));
        assert!(message.contains("control characters"), "{bad:?}: {message}");
    }
}

// --- scopes ---------------------------------------------------------------------

#[test]
fn scopes_must_be_a_non_empty_list_of_strings() {
    assert!(refused_on("scopes", parse(&without("scopes"))).starts_with("is required"));
    assert!(refused_on("scopes", parse(&with("scopes", json!(null)))).starts_with("is required"));
    assert_eq!(
        refused_on("scopes", parse(&with("scopes", json!([])))),
        "must contain at least one scope"
    );
    for not_list in [
        json!("contacts:read"),
        json!({"contacts": "read"}),
        json!(1),
    ] {
        assert_eq!(
            refused_on("scopes", parse(&with("scopes", not_list))),
            "must be a list of scope strings"
        );
    }
    for not_strings in [
        json!([1]),
        json!(["contacts:read", null]),
        json!([["admin"]]),
    ] {
        assert_eq!(
            refused_on("scopes", parse(&with("scopes", not_strings))),
            "must contain only strings"
        );
    }
}

#[test]
fn duplicate_scopes_collapse_in_order() {
    let body = with(
        "scopes",
        json!([
            "tags:read",
            "contacts:read",
            "tags:read",
            "contacts:read",
            "tags:read"
        ]),
    );
    assert_eq!(parse(&body).unwrap().scopes, ["tags:read", "contacts:read"]);
}

// --- workspace ------------------------------------------------------------------

#[test]
fn workspace_is_1_to_64_safe_characters_starting_alphanumeric() {
    for ok in ["a", "Acme", "acme-prod_1.eu", "9lives", &"w".repeat(64)] {
        assert_eq!(
            parse(&with("workspace", json!(ok))).unwrap().workspace,
            Some(ok.to_string())
        );
    }
    let too_long = "w".repeat(65);
    for bad in [
        "",
        "-acme",
        "_acme",
        ".acme",
        "ac me",
        "acme/other",
        "acme:1",
        "ünïcode",
        "acme\n",
        too_long.as_str(),
    ] {
        let message = refused_on("workspace", parse(&with("workspace", json!(bad))));
        assert!(message.contains("1 to 64 characters"), "{bad:?}: {message}");
    }
    assert_eq!(
        refused_on("workspace", parse(&with("workspace", json!(7)))),
        "must be a string"
    );
}

// --- expires_at -----------------------------------------------------------------

#[test]
fn expires_at_must_be_an_rfc_3339_string() {
    for bad in [
        "tomorrow",
        "2031-01-01",
        "2031-01-01 00:00:00",
        "1900000000",
        "2031-13-01T00:00:00Z",
    ] {
        let message = refused_on("expires_at", parse(&with("expires_at", json!(bad))));
        assert!(message.contains("RFC 3339"), "{bad:?}: {message}");
    }
    for not_string in [json!(NOW + 1_000), json!(true), json!({})] {
        refused_on("expires_at", parse(&with("expires_at", not_string)));
    }
    assert!(refused_on(
        "expires_at",
        parse(&with("expires_at", json!("1969-12-31T23:59:59Z")))
    )
    .contains("1970"));
}

#[test]
fn expires_at_must_be_strictly_in_the_future() {
    for not_future in [NOW - 86_400_000, NOW - 1_000, NOW] {
        assert_eq!(
            refused_on("expires_at", parse(&with("expires_at", at(not_future)))),
            "must be in the future"
        );
    }
    // Within the same second as now, but later: accepted at millisecond precision.
    assert_eq!(
        parse(&with("expires_at", json!("2030-03-17T17:46:40.001Z")))
            .unwrap()
            .expires_at,
        Some(NOW + 1)
    );
    assert_eq!(
        parse(&with("expires_at", json!("2030-03-17T19:46:41+02:00")))
            .unwrap()
            .expires_at,
        Some(NOW + 1_000)
    );
}

// --- limits ---------------------------------------------------------------------

#[test]
fn limits_are_whole_numbers_of_at_least_one() {
    for (value, field) in [
        (json!({"per_minute": 0, "per_day": 10}), "limits"),
        (json!({"per_minute": 1, "per_day": 0}), "limits"),
        (
            json!({"per_minute": -1, "per_day": 10}),
            "limits.per_minute",
        ),
        (json!({"per_minute": 1, "per_day": -10}), "limits.per_day"),
        (
            json!({"per_minute": 1.5, "per_day": 10}),
            "limits.per_minute",
        ),
        (
            json!({"per_minute": 1.25e0, "per_day": 10}),
            "limits.per_minute",
        ),
        (
            json!({"per_minute": -1.0, "per_day": 10}),
            "limits.per_minute",
        ),
        (json!({"per_minute": 1, "per_day": 1e300}), "limits"),
        (
            json!({"per_minute": "5", "per_day": 10}),
            "limits.per_minute",
        ),
        (json!({"per_minute": 1, "per_day": true}), "limits.per_day"),
        (
            json!({"per_minute": 1_000_001, "per_day": 2_000_000}),
            "limits",
        ),
        (
            json!({"per_minute": 1, "per_day": 1_000_000_001u64}),
            "limits",
        ),
        (
            json!({"per_minute": u64::MAX, "per_day": u64::MAX}),
            "limits",
        ),
    ] {
        refused_on(field, parse(&with("limits", value)));
    }
    assert!(
        refused_on("limits", parse(&with("limits", json!({"per_minute": 0}))))
            .contains("per_minute must be between 1 and")
    );
}

#[test]
fn limits_refuse_unknown_fields_and_non_objects() {
    assert_eq!(
        refused_on(
            "limits.burst",
            parse(&with("limits", json!({"per_minute": 5, "burst": 10})))
        ),
        "unknown field; allowed: per_minute, per_day"
    );
    for not_object in [json!(5), json!([5, 10]), json!("5/min")] {
        refused_on("limits", parse(&with("limits", not_object)));
    }
}

#[test]
fn per_minute_may_not_exceed_per_day() {
    let message = refused_on(
        "limits",
        parse(&with("limits", json!({"per_minute": 11, "per_day": 10}))),
    );
    assert_eq!(message, "per_minute (11) must not exceed per_day (10)");
    assert_eq!(
        parse(&with("limits", json!({"per_minute": 10, "per_day": 10})))
            .unwrap()
            .limits,
        Some(Limits::new(10, 10).unwrap())
    );
}

#[test]
fn partial_limits_fill_from_the_policy_defaults() {
    let defaults = policy().default_limits();
    assert_eq!(defaults, Limits::new(120, 50_000).unwrap());
    let limits = |value: Value| parse(&with("limits", value)).unwrap().limits;
    assert_eq!(
        limits(json!({"per_minute": 5})),
        Some(Limits::new(5, 50_000).unwrap())
    );
    assert_eq!(
        limits(json!({"per_day": 1_000})),
        Some(Limits::new(120, 1_000).unwrap())
    );
    assert_eq!(
        limits(json!({"per_minute": 7, "per_day": null})),
        Some(Limits::new(7, 50_000).unwrap())
    );
    // An empty object, like null, overrides nothing: the key follows the policy.
    assert_eq!(limits(json!({})), None);
    assert_eq!(limits(json!({"per_minute": null})), None);
    assert_eq!(limits(json!(null)), None);
    // A per_day below the default per_minute says where the 120 came from.
    assert_eq!(
        refused_on("limits", parse(&with("limits", json!({"per_day": 100})))),
        "per_day (100) is below the policy's default per_minute (120); set per_minute too"
    );
}

// --- metadata -------------------------------------------------------------------

#[test]
fn metadata_is_an_object_of_at_most_4_kib() {
    for not_object in [json!([]), json!("team=growth"), json!(1), json!(true)] {
        assert_eq!(
            refused_on("metadata", parse(&with("metadata", not_object))),
            "must be a JSON object"
        );
    }
    // {"k":"…"} is 8 bytes plus the value.
    let fits = json!({"k": "x".repeat(MAX_METADATA_BYTES - 8)});
    assert_eq!(fits.to_string().len(), MAX_METADATA_BYTES);
    assert_eq!(
        parse(&with("metadata", fits.clone())).unwrap().metadata,
        *fits.as_object().unwrap()
    );
    let over = json!({"k": "x".repeat(MAX_METADATA_BYTES - 7)});
    assert_eq!(
        refused_on("metadata", parse(&with("metadata", over))),
        "must be at most 4096 bytes as JSON"
    );
    let nested = json!({"a": {"b": [1, 2.5, null, {"c": "d"}]}});
    assert_eq!(
        parse(&with("metadata", nested.clone())).unwrap().metadata,
        *nested.as_object().unwrap()
    );
}

// --- rejection_webhook ----------------------------------------------------------

#[test]
fn https_webhooks_are_accepted_in_every_mode() {
    for url in [
        "https://hooks.example.com/rejected",
        "https://hooks.example.com",
        "https://hooks.example.com:8443/a/b",
        "https://203.0.113.7/r",
        "https://[2001:db8::7]/r",
    ] {
        for https_only in [true, false] {
            assert_eq!(
                parse_with(&with("rejection_webhook", json!(url)), https_only)
                    .unwrap()
                    .rejection_webhook
                    .as_deref(),
                Some(url)
            );
        }
    }
}

#[test]
fn plain_http_webhooks_only_for_loopback_while_https_only_is_off() {
    for url in [
        "http://localhost/hook",
        "http://localhost:8787/hook",
        "http://127.0.0.1:9000/hook",
        "http://127.0.0.1",
        "http://[::1]:8080/hook",
        "http://[::1]/hook",
    ] {
        let body = with("rejection_webhook", json!(url));
        assert_eq!(
            parse_with(&body, false)
                .unwrap()
                .rejection_webhook
                .as_deref(),
            Some(url)
        );
        assert_eq!(
            refused_on("rejection_webhook", parse_with(&body, true)),
            "must be an https:// URL"
        );
    }
}

#[test]
fn webhooks_at_private_link_local_or_metadata_addresses_are_refused_in_every_mode() {
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/r",
        "https://172.16.0.1/r",
        "https://192.168.1.1/r",
        "https://100.64.0.1/r",
        "https://0.0.0.0/r",
        "https://[fc00::1]/r",
        "https://[fe80::1]/r",
        "https://[::ffff:169.254.169.254]/r",
        "https://[::ffff:10.0.0.1]/r",
        "https://2852039166/r",
        "https://0xa9.0xfe.0xa9.0xfe/r",
    ] {
        for https_only in [true, false] {
            let message = refused_on(
                "rejection_webhook",
                parse_with(&with("rejection_webhook", json!(url)), https_only),
            );
            assert!(message.starts_with("must not point at"), "{url}: {message}");
        }
    }
}

#[test]
fn loopback_in_any_spelling_only_while_https_only_is_off() {
    for url in [
        "https://127.0.0.1/r",
        "https://localhost/r",
        "https://[::1]/r",
        "https://[::ffff:127.0.0.1]/r",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
    ] {
        let body = with("rejection_webhook", json!(url));
        let message = refused_on("rejection_webhook", parse_with(&body, true));
        assert!(
            message.starts_with("must not point at this machine")
                || message == "must be an https:// URL",
            "{url}: {message}"
        );
        assert_eq!(
            parse_with(&body, false)
                .unwrap()
                .rejection_webhook
                .as_deref(),
            Some(url)
        );
    }
}

#[test]
fn plain_http_to_other_hosts_is_refused() {
    for url in [
        "http://hooks.example.com/r",
        "http://10.0.0.1/r",
        "http://localhost.example.com/r",
        "http://128.0.0.1/r",
        "http://[::2]/r",
    ] {
        for https_only in [true, false] {
            let message = refused_on(
                "rejection_webhook",
                parse_with(&with("rejection_webhook", json!(url)), https_only),
            );
            assert!(
                message.starts_with("must be an https:// URL"),
                "{url}: {message}"
            );
        }
    }
    // A loopback name with a broken port is refused for the port, before the scheme rule.
    for https_only in [true, false] {
        let message = refused_on(
            "rejection_webhook",
            parse_with(
                &with("rejection_webhook", json!("http://localhost:abc/r")),
                https_only,
            ),
        );
        assert!(message.contains("port"), "{message}");
    }
}

#[test]
fn plain_http_to_a_dns_name_that_starts_with_127_is_refused() {
    for url in [
        "http://127.0.0.1.evil.com/",
        "http://127.0.0.1.nip.io/hook",
        "http://127.evil.com/",
        "http://127.0.0.1:80.evil.com/",
    ] {
        let result = parse_with(&with("rejection_webhook", json!(url)), false);
        assert!(
            matches!(result, Err(GatewayError::InvalidBody { .. })),
            "{url} accepted as loopback: {result:?}"
        );
    }
}

#[test]
fn webhooks_without_a_host_are_refused() {
    for url in [
        "https://:443",
        "https://:443/r",
        "https://:8443/r",
        "https://:/r",
    ] {
        let result = parse(&with("rejection_webhook", json!(url)));
        assert!(
            matches!(result, Err(GatewayError::InvalidBody { .. })),
            "{url} accepted without a host: {result:?}"
        );
    }
}

#[test]
fn webhooks_with_user_info_or_other_shapes_are_refused() {
    for url in [
        "https://user:pass@hooks.example.com/r",
        "https://user@hooks.example.com/r",
        "http://localhost@evil.com/r",
        "http://127.0.0.1:8080@evil.com/",
        "ftp://hooks.example.com/r",
        "hooks.example.com/r",
        "https://",
        "https:///path",
        "https://hooks.example.com/r#frag",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/r?token=a b",
        "HTTPS://hooks.example.com/r",
        "",
    ] {
        for https_only in [true, false] {
            refused_on(
                "rejection_webhook",
                parse_with(&with("rejection_webhook", json!(url)), https_only),
            );
        }
    }
    // Hook URLs commonly carry a token in the query: that is accepted.
    let with_token = "https://hooks.example.com/r?token=abc&v=2";
    assert_eq!(
        parse(&with("rejection_webhook", json!(with_token)))
            .unwrap()
            .rejection_webhook
            .as_deref(),
        Some(with_token)
    );
    let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
    assert_eq!(
        refused_on(
            "rejection_webhook",
            parse(&with("rejection_webhook", json!(long)))
        ),
        "must be at most 2048 characters"
    );
    for not_string in [json!(1), json!(["https://a.example"]), json!({"url": "x"})] {
        assert_eq!(
            refused_on(
                "rejection_webhook",
                parse(&with("rejection_webhook", not_string))
            ),
            "must be a URL string"
        );
    }
}

// --- environment ----------------------------------------------------------------

#[test]
fn environment_is_live_or_test() {
    assert_eq!(
        parse(&with("environment", json!("live")))
            .unwrap()
            .environment,
        Environment::Live
    );
    assert_eq!(
        parse(&with("environment", json!("test")))
            .unwrap()
            .environment,
        Environment::Test
    );
    for bad in [
        json!("prod"),
        json!("LIVE"),
        json!(" test"),
        json!(""),
        json!(1),
        json!(["live"]),
    ] {
        assert_eq!(
            refused_on("environment", parse(&with("environment", bad))),
            "must be `live` or `test`"
        );
    }
}

// --- edit bodies ----------------------------------------------------------------

fn parse_edit_with(body: &Value, https_only: bool) -> Result<KeyEdit, GatewayError> {
    parse_edit(body.to_string().as_bytes(), &policy(), NOW, https_only)
}

fn edit_of(body: Value) -> Result<KeyEdit, GatewayError> {
    parse_edit_with(&body, true)
}

const EDITABLE: &str = "name, scopes, limits, expires_at, metadata, rejection_webhook";

#[test]
fn an_edit_sets_only_the_fields_it_names() {
    assert_eq!(
        edit_of(json!({"name": "  Renamed \n"})).unwrap(),
        KeyEdit {
            name: Some("Renamed".into()),
            ..KeyEdit::default()
        }
    );
    assert_eq!(
        edit_of(json!({"scopes": ["tags:read", "contacts:read", "tags:read"]})).unwrap(),
        KeyEdit {
            scopes: Some(vec!["tags:read".into(), "contacts:read".into()]),
            ..KeyEdit::default()
        }
    );
    let every = json!({
        "name": "Renamed",
        "scopes": ["contacts:write"],
        "limits": {"per_minute": 5},
        "expires_at": "2030-12-31T23:59:59Z",
        "metadata": {"team": "growth"},
        "rejection_webhook": "https://hooks.example.com/r",
    });
    assert_eq!(
        edit_of(every.clone()).unwrap(),
        KeyEdit {
            name: Some("Renamed".into()),
            scopes: Some(vec!["contacts:write".into()]),
            // A missing window keeps the key's current value (resolved by its authority).
            limits: Some(LimitsEdit::Set {
                per_minute: Some(5),
                per_day: None
            }),
            expires_at: Some(Some(1_924_991_999_000)),
            metadata: Some(every["metadata"].as_object().unwrap().clone()),
            rejection_webhook: Some(Some("https://hooks.example.com/r".into())),
        }
    );
}

#[test]
fn null_clears_expiry_limits_webhook_and_metadata() {
    assert_eq!(
        edit_of(
            json!({"expires_at": null, "limits": null, "rejection_webhook": null, "metadata": null})
        )
        .unwrap(),
        KeyEdit {
            limits: Some(LimitsEdit::PolicyDefaults),
            expires_at: Some(None),
            metadata: Some(Map::new()),
            rejection_webhook: Some(None),
            ..KeyEdit::default()
        }
    );
    // Limits that override nothing, like null, go back to the policy's defaults.
    // An object naming no window is a mistake, not a reset: null is the reset.
    for nothing in [json!({}), json!({"per_minute": null, "per_day": null})] {
        assert!(edit_of(json!({ "limits": nothing })).is_err());
    }
    // A name and scopes cannot be cleared.
    assert_eq!(
        refused_on("name", edit_of(json!({"name": null}))),
        "is required"
    );
    assert!(refused_on("scopes", edit_of(json!({"scopes": null}))).starts_with("is required"));
    assert_eq!(
        refused_on("scopes", edit_of(json!({"scopes": []}))),
        "must contain at least one scope"
    );
}

#[test]
fn an_edit_that_names_no_field_is_refused_on_body() {
    let message = refused_on("body", edit_of(json!({})));
    assert_eq!(
        message,
        format!("names no field to change; editable: {EDITABLE}")
    );
    for body in [
        &b""[..],
        b"   ",
        b"[]",
        b"null",
        b"\"name\"",
        b"{",
        b"{\"name\": \"a\"} trailing",
    ] {
        refused_on("body", parse_edit(body, &policy(), NOW, true));
    }
    let over = format!(r#"{{"name": "a"}}{}"#, " ".repeat(MAX_ADMIN_BODY_BYTES));
    let refused = parse_edit(over.as_bytes(), &policy(), NOW, true).err();
    assert_eq!(refused.map(|e| e.code()), Some("payload_too_large"));
}

#[test]
fn unknown_and_create_only_fields_are_each_named_in_an_edit() {
    let errors = field_errors(edit_of(json!({
        "name": "Fine",
        "workspace": "other",
        "environment": "test",
        "id": "key_x",
        "colour": "blue",
    })));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["colour", "environment", "id", "workspace"]);
    for error in &errors {
        assert_eq!(
            error.message,
            format!("unknown field; editable: {EDITABLE}")
        );
    }
}

#[test]
fn every_bad_edit_field_is_reported_in_one_answer() {
    let errors = field_errors(edit_of(json!({
        "name": "",
        "scopes": [],
        "limits": {"per_minute": 0},
        "expires_at": "tomorrow",
        "metadata": [],
        "rejection_webhook": "ftp://example.com",
        "bogus": 1,
    })));
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "bogus",
            "expires_at",
            "limits.per_minute",
            "metadata",
            "name",
            "rejection_webhook",
            "scopes"
        ]
    );
}

#[test]
fn an_edit_cannot_set_an_expiry_in_the_past() {
    for not_future in [NOW - 86_400_000, NOW - 1, NOW] {
        assert_eq!(
            refused_on("expires_at", edit_of(json!({"expires_at": at(not_future)}))),
            "must be in the future"
        );
    }
    assert_eq!(
        edit_of(json!({"expires_at": "2030-03-17T17:46:40.001Z"}))
            .unwrap()
            .expires_at,
        Some(Some(NOW + 1))
    );
    assert_eq!(
        edit_of(json!({"expires_at": at(NOW + 1_000)}))
            .unwrap()
            .expires_at,
        Some(Some(NOW + 1_000))
    );
    for not_string in [json!(NOW + 1_000), json!(true)] {
        refused_on("expires_at", edit_of(json!({ "expires_at": not_string })));
    }
}

#[test]
fn an_edit_with_unknown_scopes_lists_the_valid_ones() {
    match edit_of(json!({"scopes": ["contacts:read", "billing:read", "contacts:admin"]})) {
        Err(GatewayError::UnknownScopes { unknown, valid }) => {
            assert_eq!(unknown, ["billing:read", "contacts:admin"]);
            assert_eq!(valid, policy().valid_scopes());
        }
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    // Field errors come first, as at create.
    assert_eq!(
        refused_on(
            "name",
            edit_of(json!({"scopes": ["billing:read"], "name": ""}))
        ),
        "must not be empty"
    );
}

#[test]
fn an_id_that_cannot_exist_is_404_whatever_the_method() {
    for (method, path) in [
        ("PUT", "/keys/nope"),
        ("POST", "/keys/"),
        ("GET", "/keys//revoke"),
    ] {
        assert_eq!(
            admin_route(method, path),
            Err(GatewayError::NotFound),
            "{method} {path}"
        );
    }
}

#[test]
fn edit_limits_and_webhooks_follow_the_create_rules() {
    // One window alone is kept for the key's authority, which knows the other.
    assert_eq!(
        edit_of(json!({"limits": {"per_day": 100}})).unwrap().limits,
        Some(LimitsEdit::Set {
            per_minute: None,
            per_day: Some(100)
        })
    );
    assert_eq!(
        refused_on(
            "limits",
            edit_of(json!({"limits": {"per_minute": 10, "per_day": 5}}))
        ),
        "per_minute (10) must not exceed per_day (5)"
    );
    assert_eq!(
        refused_on(
            "limits.per_day",
            edit_of(json!({"limits": {"per_day": 1_000_000_001u64}}))
        ),
        "must be a whole number from 1 to 1000000000"
    );
    assert_eq!(
        refused_on(
            "limits.burst",
            edit_of(json!({"limits": {"per_minute": 5, "burst": 10}}))
        ),
        "unknown field; allowed: per_minute, per_day"
    );
    let local = json!({"rejection_webhook": "http://localhost:8787/hook"});
    assert_eq!(
        parse_edit_with(&local, false).unwrap().rejection_webhook,
        Some(Some("http://localhost:8787/hook".into()))
    );
    assert_eq!(
        refused_on("rejection_webhook", parse_edit_with(&local, true)),
        "must be an https:// URL"
    );
    refused_on(
        "rejection_webhook",
        edit_of(json!({"rejection_webhook": "https://user@hooks.example.com/"})),
    );
    let over = json!({"k": "x".repeat(MAX_METADATA_BYTES - 7)});
    assert_eq!(
        refused_on("metadata", edit_of(json!({ "metadata": over }))),
        "must be at most 4096 bytes as JSON"
    );
}

// --- rotate bodies --------------------------------------------------------------

#[test]
fn a_rotate_body_gives_the_grace_in_milliseconds() {
    assert_eq!(MAX_GRACE_SECONDS, 30 * 86_400);
    let max = MAX_GRACE_SECONDS.to_string();
    for (body, grace_ms) in [
        ("", 0),
        (" \r\n\t", 0),
        ("{}", 0),
        (r#"{"grace_seconds": null}"#, 0),
        (r#"{"grace_seconds": 0}"#, 0),
        (r#"{"grace_seconds": 1}"#, 1_000),
        (r#" {"grace_seconds": 3600} "#, 3_600_000),
        (
            &format!(r#"{{"grace_seconds": {max}}}"#),
            MAX_GRACE_SECONDS * 1_000,
        ),
    ] {
        assert_eq!(parse_rotate(body.as_bytes()), Ok(grace_ms), "{body:?}");
    }
}

/// JSON Schema's `integer` is any whole number, however it is written (`374`, `374.0`,
/// `3.74e2`), so every integer field of the document takes them all.
#[test]
fn whole_numbers_written_with_a_fraction_or_exponent_are_integers() {
    let floats = r#"{"name": "n", "scopes": ["contacts:read"], "limits": {"per_minute": 6e1, "per_day": 374.0}}"#;
    let created = parse_create(floats.as_bytes(), &policy(), NOW, true).unwrap();
    assert_eq!(created.limits, Some(Limits::new(60, 374).unwrap()));
    let edit = parse_edit(
        br#"{"limits": {"per_minute": 1.0, "per_day": 1000000000.0}}"#,
        &policy(),
        NOW,
        true,
    )
    .unwrap();
    assert_eq!(
        edit.limits,
        Some(LimitsEdit::Set {
            per_minute: Some(1),
            per_day: Some(1_000_000_000)
        })
    );
    for (body, grace_ms) in [
        (r#"{"grace_seconds": 6738.0}"#, 6_738_000),
        (r#"{"grace_seconds": 3.6e3}"#, 3_600_000),
        (r#"{"grace_seconds": 0.0}"#, 0),
        (r#"{"grace_seconds": -0.0}"#, 0),
        (r#"{"grace_seconds": 2592000.0}"#, MAX_GRACE_SECONDS * 1_000),
    ] {
        assert_eq!(parse_rotate(body.as_bytes()), Ok(grace_ms), "{body}");
    }
    assert_eq!(whole_number(&json!(1e16)), Some(10_000_000_000_000_000));
    assert_eq!(whole_number(&json!(1e300)), Some(u64::MAX));
    for not_whole in [
        json!(0.5),
        json!(-1.0),
        json!(-1),
        json!(1e-300),
        json!("1"),
    ] {
        assert_eq!(whole_number(&not_whole), None, "{not_whole}");
    }
}

#[test]
fn rotate_grace_must_be_whole_seconds_within_30_days() {
    for bad in [
        json!(MAX_GRACE_SECONDS + 1),
        json!(u64::MAX),
        json!(-1),
        json!(1.5),
        json!(-1.0),
        json!(0.001),
        json!(2592001.0),
        json!(1e300),
        json!("60"),
        json!(true),
        json!([60]),
        json!({"seconds": 60}),
    ] {
        let body = json!({ "grace_seconds": bad }).to_string();
        assert_eq!(
            refused_on("grace_seconds", parse_rotate(body.as_bytes())),
            "must be a whole number of seconds from 0 to 2592000 (30 days)",
            "{body}"
        );
    }
}

#[test]
fn rotate_refuses_unknown_fields_and_non_objects() {
    assert_eq!(
        refused_on("grace", parse_rotate(br#"{"grace": 60}"#)),
        "unknown field; allowed: grace_seconds"
    );
    refused_on(
        "secret",
        parse_rotate(br#"{"grace_seconds": 60, "secret": "kg_live_x"}"#),
    );
    // Both problems at once.
    let errors = field_errors(parse_rotate(br#"{"grace_seconds": -1, "hint": "x"}"#));
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["grace_seconds", "hint"]);
    for body in [&b"[]"[..], b"60", b"null", b"\"60\"", b"{", b"\xff"] {
        refused_on("body", parse_rotate(body));
    }
    let over = format!("{{}}{}", " ".repeat(MAX_ADMIN_BODY_BYTES));
    let refused = parse_rotate(over.as_bytes()).err();
    assert_eq!(refused.map(|e| e.code()), Some("payload_too_large"));
}

// --- list queries ---------------------------------------------------------------

fn a_cursor() -> Position<KeyId> {
    Position {
        created_at: NOW,
        id: KeyId::generate(&[5; KEY_ID_RANDOM_BYTES]),
    }
}

fn query_errors(query: &str) -> Vec<(String, String)> {
    field_errors(parse_list_query(Some(query)))
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

/// The query is refused for exactly one reason, on `field`; returns its message.
fn query_refused_on(field: &str, query: &str) -> String {
    refused_on(field, parse_list_query(Some(query)))
}

#[test]
fn a_list_query_defaults_to_a_first_page_of_20() {
    assert_eq!((DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), (20, 100));
    let first_page = ListQuery {
        status: None,
        workspace: None,
        limit: 20,
        cursor: None,
    };
    for query in [None, Some(""), Some("&"), Some("&&")] {
        assert_eq!(parse_list_query(query), Ok(first_page.clone()), "{query:?}");
    }
}

#[test]
fn each_list_parameter_is_read() {
    let read = |query: &str| parse_list_query(Some(query)).unwrap();
    assert_eq!(read("status=active").status, Some(Status::Active));
    assert_eq!(read("status=revoked").status, Some(Status::Revoked));
    assert_eq!(read("status=expired").status, Some(Status::Expired));
    assert_eq!(
        read("workspace=acme-prod_1.eu").workspace.as_deref(),
        Some("acme-prod_1.eu")
    );
    for limit in [1, 37, 100] {
        assert_eq!(read(&format!("limit={limit}")).limit, limit);
    }
    let cursor = a_cursor();
    assert_eq!(
        read(&format!("cursor={}", cursor.encode())).cursor,
        Some(cursor.clone())
    );
    assert_eq!(
        read(&format!(
            "cursor={}&limit=5&workspace=acme&status=revoked",
            cursor.encode()
        )),
        ListQuery {
            status: Some(Status::Revoked),
            workspace: Some("acme".into()),
            limit: 5,
            cursor: Some(cursor),
        }
    );
}

#[test]
fn bad_list_parameters_are_named() {
    for status in ["ACTIVE", "", "deleted", "active ", "all"] {
        assert_eq!(
            query_refused_on("status", &format!("status={status}")),
            "must be `active`, `revoked` or `expired`"
        );
    }
    assert_eq!(
        query_refused_on("status", "status"),
        "must be `active`, `revoked` or `expired`"
    );
    for workspace in ["", "-acme", "a%20b", "a/b", &"w".repeat(65)] {
        let message = query_refused_on("workspace", &format!("workspace={workspace}"));
        assert!(
            message.contains("1 to 64 characters"),
            "{workspace}: {message}"
        );
    }
    for limit in [
        "0",
        "101",
        "-1",
        "abc",
        "",
        "1.5",
        "1e2",
        "99999999999999999999999",
    ] {
        assert_eq!(
            query_refused_on("limit", &format!("limit={limit}")),
            "must be a whole number from 1 to 100",
            "{limit}"
        );
    }
    for cursor in ["", "garbage!", "MTIz", &format!("{}=", a_cursor().encode())] {
        assert_eq!(
            query_refused_on("cursor", &format!("cursor={cursor}")),
            "is not a cursor this API returned; pass `next_cursor` as is",
            "{cursor}"
        );
    }
    for unknown in ["page=2", "Status=active", "offset=0", "=x", "cursor[]=1"] {
        let field = unknown.split_once('=').map_or(unknown, |(name, _)| name);
        assert_eq!(
            query_refused_on(field, unknown),
            "unknown parameter; allowed: status, workspace, limit, cursor"
        );
    }
}

#[test]
fn a_repeated_list_parameter_is_refused() {
    for query in [
        "limit=5&limit=5",
        "status=active&status=revoked",
        "workspace=a&limit=2&workspace=a",
    ] {
        let errors = query_errors(query);
        assert_eq!(errors.len(), 1, "{query}: {errors:?}");
        assert_eq!(errors[0].1, "is given more than once", "{query}");
    }
    let cursor = a_cursor().encode();
    assert_eq!(
        query_refused_on("cursor", &format!("cursor={cursor}&cursor={cursor}")),
        "is given more than once"
    );
}

#[test]
fn several_bad_list_parameters_are_reported_at_once() {
    let fields: Vec<String> = query_errors("status=x&limit=0&cursor=zz&page=2&limit=3&workspace=-")
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(
        fields,
        ["status", "limit", "cursor", "page", "limit", "workspace"]
    );
}

#[test]
fn garbage_cursors_decode_to_nothing() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let key_id = KeyId::generate(&[6; KEY_ID_RANDOM_BYTES]);
    let valid = Position {
        created_at: 1,
        id: key_id.clone(),
    }
    .encode();
    assert_eq!(valid, format!("1.{key_id}"));
    assert!(Position::<KeyId>::decode(&valid).is_some());
    let id = key_id.as_str();
    let approval_id = ApprovalId::parse("apr_0123456789ABCDEFGHIJab").unwrap();
    for garbage in [
        String::new(),
        "!!!".into(),
        "a".into(),
        "1".into(),
        "1.".into(),
        format!(".{id}"),
        format!("abc.{id}"),
        format!("-1.{id}"),
        format!("+1.{id}"),
        format!(" 1.{id}"),
        format!("1.{id} "),
        format!("1e3.{id}"),
        format!("1,{id}"),
        format!("\u{ff11}.{id}"),
        // More than 15 digits, even when the number would fit.
        format!("18446744073709551616.{id}"),
        format!("9007199254740993.{id}"),
        format!("0000000000000001.{id}"),
        format!("1.{id}.2"),
        "1.key_short".into(),
        "1.not-a-key-id".into(),
        format!("1.{}", approval_id.as_str()),
        // The encoding cursors had before they were written out plainly.
        URL_SAFE_NO_PAD.encode(format!("1.{id}")),
    ] {
        assert_eq!(Position::<KeyId>::decode(&garbage), None, "{garbage:?}");
    }
    assert_eq!(
        Position::<KeyId>::decode(&format!("{}.{id}", "9".repeat(MAX_CURSOR_TIME_DIGITS))),
        Some(Position {
            created_at: 999_999_999_999_999,
            id: key_id,
        })
    );
}

// --- routes ---------------------------------------------------------------------

fn an_id() -> KeyId {
    KeyId::generate(&[9; KEY_ID_RANDOM_BYTES])
}

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "get",
];

fn an_approval_id() -> ApprovalId {
    ApprovalId::generate(
        &crate::queue::QueueShard::of("acme"),
        &[9; crate::approval::APPROVAL_ID_RANDOM_BYTES],
    )
}

#[test]
fn every_admin_route_is_served_with_the_grant_it_needs() {
    let id = an_id();
    let approval = an_approval_id();
    let expected = [
        (("POST", "/keys"), AdminRoute::CreateKey, "api_keys:write"),
        (("GET", "/keys"), AdminRoute::ListKeys, "api_keys:read"),
        (
            ("GET", "/keys/{id}"),
            AdminRoute::GetKey(id.clone()),
            "api_keys:read",
        ),
        (
            ("PATCH", "/keys/{id}"),
            AdminRoute::EditKey(id.clone()),
            "api_keys:write",
        ),
        (
            ("DELETE", "/keys/{id}"),
            AdminRoute::DeleteKey(id.clone()),
            "api_keys:delete",
        ),
        (
            ("POST", "/keys/{id}/revoke"),
            AdminRoute::RevokeKey(id.clone()),
            "api_keys:delete",
        ),
        (
            ("POST", "/keys/{id}/activate"),
            AdminRoute::ActivateKey(id.clone()),
            "api_keys:write",
        ),
        (
            ("POST", "/keys/{id}/rotate"),
            AdminRoute::RotateKey(id.clone()),
            "api_keys:write",
        ),
        (
            ("POST", "/keys/{id}/webhook-secret/rotate"),
            AdminRoute::RotateWebhookSecret(id.clone()),
            "api_keys:write",
        ),
        (
            ("GET", "/approvals"),
            AdminRoute::ListApprovals,
            "approvals:read",
        ),
        (
            ("GET", "/approvals/{id}"),
            AdminRoute::GetApproval(approval.clone()),
            "approvals:read",
        ),
        (
            ("POST", "/approvals/{id}/approve"),
            AdminRoute::Approve(approval.clone()),
            "approvals:write",
        ),
        (
            ("POST", "/approvals/{id}/reject"),
            AdminRoute::Reject(approval.clone()),
            "approvals:write",
        ),
        (("GET", "/policy"), AdminRoute::Policy, "api_keys:read"),
    ];
    let listed: Vec<(&str, &str)> = expected.iter().map(|(route, ..)| *route).collect();
    assert_eq!(listed, ADMIN_ROUTES, "ADMIN_ROUTES lists exactly these");
    for ((method, template), route, grant) in expected {
        let id = match template.starts_with("/keys") {
            true => id.as_str(),
            false => approval.as_str(),
        };
        let path = template.replace("{id}", id);
        assert_eq!(
            admin_route(method, &path),
            Ok(route.clone()),
            "{method} {path}"
        );
        let needed = route.required_grant();
        assert_eq!(
            format!("{}:{}", needed.resource, needed.action.as_str()),
            grant,
            "{method} {template}"
        );
    }
}

#[test]
fn an_id_of_the_other_kind_is_404() {
    let key = an_id();
    let approval = an_approval_id();
    for (method, template) in ADMIN_ROUTES {
        let wrong = match template.starts_with("/keys") {
            true => approval.as_str(),
            false => key.as_str(),
        };
        if template.contains("{id}") {
            let path = template.replace("{id}", wrong);
            assert_eq!(
                admin_route(method, &path),
                Err(GatewayError::NotFound),
                "{path}"
            );
        }
    }
}

#[test]
fn approval_list_queries_take_approval_statuses_and_cursors() {
    let query = parse_approvals_query(Some("status=expired&workspace=acme&limit=5")).unwrap();
    assert_eq!(query.status, Some(ApprovalStatus::Expired));
    assert_eq!((query.workspace.as_deref(), query.limit), (Some("acme"), 5));
    let cursor = Position {
        created_at: 7,
        id: an_approval_id(),
    };
    let query = parse_approvals_query(Some(&format!("cursor={}", cursor.encode()))).unwrap();
    assert_eq!(query.cursor, Some(cursor));
    // A key list's cursor or status is no approval list's.
    let key_cursor = Position {
        created_at: 7,
        id: an_id(),
    }
    .encode();
    for (bad, field) in [
        ("status=active", "status"),
        (&*format!("cursor={key_cursor}"), "cursor"),
    ] {
        let Err(GatewayError::InvalidBody { errors }) = parse_approvals_query(Some(bad)) else {
            panic!("{bad} accepted");
        };
        assert_eq!(errors[0].field, field);
    }
    let Err(GatewayError::InvalidBody { errors }) = parse_approvals_query(Some("status=active"))
    else {
        panic!("accepted");
    };
    assert!(errors[0]
        .message
        .contains("`pending`, `approved`, `rejected`, `expired` or `failed`"));
}

#[test]
fn a_known_path_with_another_method_is_405_naming_the_allowed_ones() {
    let id = an_id();
    for (template, allowed) in [
        ("/keys", "POST, GET"),
        ("/keys/{id}", "GET, PATCH, DELETE"),
        ("/keys/{id}/revoke", "POST"),
        ("/keys/{id}/activate", "POST"),
        ("/keys/{id}/rotate", "POST"),
        ("/keys/{id}/webhook-secret/rotate", "POST"),
        ("/approvals", "GET"),
        ("/approvals/{id}", "GET"),
        ("/approvals/{id}/approve", "POST"),
        ("/approvals/{id}/reject", "POST"),
        ("/policy", "GET"),
    ] {
        // The Allow list is ADMIN_ROUTES' methods for the path, in its order.
        let from_table: Vec<&str> = ADMIN_ROUTES
            .iter()
            .filter(|(_, t)| *t == template)
            .map(|(m, _)| *m)
            .collect();
        assert_eq!(from_table.join(", "), allowed);
        let path = match template.starts_with("/keys") {
            true => template.replace("{id}", id.as_str()),
            false => template.replace("{id}", an_approval_id().as_str()),
        };
        for method in METHODS {
            let result = admin_route(method, &path);
            if from_table.contains(&method) {
                assert!(result.is_ok(), "{method} {path}: {result:?}");
                continue;
            }
            let error = result.expect_err("not an allowed method");
            assert_eq!(
                error,
                GatewayError::MethodNotAllowed {
                    allowed: allowed.into()
                },
                "{method} {path}"
            );
            let problem = error.to_problem("r");
            assert_eq!(problem.status, 405);
            assert_eq!(problem.headers, [("Allow", allowed.to_string())]);
        }
    }
}

#[test]
fn unknown_paths_are_404_for_every_method() {
    let id = an_id();
    let id = id.as_str();
    for path in [
        String::new(),
        "/".into(),
        "keys".into(),
        "//keys".into(),
        "/key".into(),
        "/KEYS".into(),
        "/keys/".into(),
        format!("/keys/{id}/"),
        format!("/keys/{id}/suspend"),
        format!("/keys/{id}/revoke/"),
        format!("/keys/{id}/rotate/now"),
        format!("/keys/{id}/webhook-secret"),
        format!("/keys/{id}/webhook-secret/"),
        format!("/keys/{id}/webhook_secret/rotate"),
        format!("/keys/{id}//revoke"),
        "/policy/".into(),
        "/policy/x".into(),
        "/approvals/".into(),
        "/approval".into(),
        format!("/approvals/{}/decline", an_approval_id()),
        format!("/approvals/{}/approve/", an_approval_id()),
        "/v1/keys".into(),
        "/_keygate/v1/keys".into(),
    ] {
        for method in METHODS {
            let result = admin_route(method, &path);
            // A trailing slash after /keys reads as an empty id: 404 where the method fits.
            if path == "/keys/" && !["GET", "PATCH", "DELETE"].contains(&method) {
                continue;
            }
            if path == "/approvals/" && method != "GET" {
                continue;
            }
            assert_eq!(result, Err(GatewayError::NotFound), "{method} {path:?}");
        }
    }
}

#[test]
fn an_id_that_cannot_exist_is_404() {
    let id = an_id();
    let id = id.as_str();
    let mut wrong_char = id.to_string();
    wrong_char.replace_range(5..6, "-");
    for bad in [
        "".to_string(),
        "nope".into(),
        "key_".into(),
        "key_short".into(),
        id[..id.len() - 1].to_string(),
        format!("{id}x"),
        wrong_char,
        id.to_uppercase(),
        id.replacen("key_", "kez_", 1),
        "..".into(),
        "%2e%2e".into(),
    ] {
        for (method, template) in ADMIN_ROUTES {
            if !template.contains("{id}") {
                continue;
            }
            let path = template.replace("{id}", &bad);
            assert_eq!(
                admin_route(method, &path),
                Err(GatewayError::NotFound),
                "{method} {path}"
            );
        }
    }
}

// --- properties -----------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..100).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,30}".prop_map(Value::String),
        "[\\x00-\\x7f]{0,10}".prop_map(Value::String),
        prop::sample::select(vec![
            "contacts:read",
            "contacts:write-approval",
            "admin",
            "read:all",
            "nope:read",
            "live",
            "test",
            "acme",
            "2031-01-01T00:00:00Z",
            "2000-01-01T00:00:00Z",
            "2030-03-17T17:46:40Z",
            "https://hooks.example.com/r",
            "http://localhost:8787/r",
            "http://127.0.0.1.evil.com/",
            "https://10.0.0.1/r",
            "https://169.254.169.254/",
            "https://[::ffff:192.168.0.1]/",
            "https://0x7f.1/",
            "http://2130706433/",
            "https://localhost/r?t=1",
            "http://user@localhost/",
            "http://[::1]:",
            "http://:80",
            "https://:443",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("per_minute".to_string()),
                    Just("per_day".to_string()),
                    "[a-z_]{0,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn create_body() -> impl Strategy<Value = Map<String, Value>> {
    let field = prop_oneof![
        10 => prop::sample::select(CREATE_FIELDS).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ];
    prop::collection::btree_map(field, json_value(), 0..10)
        .prop_map(|fields| fields.into_iter().collect())
}

/// What every accepted body guarantees, whatever it looked like.
fn check_accepted(new_key: &NewKey, policy: &Policy, https_only: bool) {
    assert!(!new_key.name.is_empty() && new_key.name.chars().count() <= MAX_NAME_CHARS);
    assert_eq!(new_key.name, new_key.name.trim());
    assert!(!new_key.name.chars().any(char::is_control));
    assert!(!new_key.scopes.is_empty());
    assert!(policy.check_scopes(&new_key.scopes).is_ok());
    for (i, scope) in new_key.scopes.iter().enumerate() {
        assert!(!new_key.scopes[..i].contains(scope), "duplicate {scope}");
    }
    assert!(new_key
        .workspace
        .as_ref()
        .is_none_or(|w| (1..=MAX_WORKSPACE_CHARS).contains(&w.len())));
    assert!(new_key.expires_at.is_none_or(|at| at > NOW));
    if let Some(limits) = new_key.limits {
        assert!(limits.per_minute <= limits.per_day);
    }
    assert!(serde_json::to_string(&new_key.metadata).unwrap().len() <= MAX_METADATA_BYTES);
    if let Some(url) = &new_key.rejection_webhook {
        use crate::webhook::address::{receiver_host, ReceiverHost};
        assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
        assert!(!url.contains('@'));
        let host = receiver_host(url).expect("an accepted webhook parses");
        assert!(!matches!(host, ReceiverHost::Forbidden(_)), "{url}");
        assert!(!(https_only && host == ReceiverHost::Loopback), "{url}");
    }
}

proptest! {
    #[test]
    fn parse_create_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256), https_only in any::<bool>()) {
        let _ = parse_create(&body, &policy(), NOW, https_only);
    }

    #[test]
    fn parse_create_never_panics_on_near_json(body in "[{}\\[\\]\":,0-9a-z_ .\\-]{0,80}") {
        let _ = parse_create(body.as_bytes(), &policy(), NOW, true);
    }

    #[test]
    fn parse_create_never_panics_on_objects_of_known_fields(
        fields in create_body(),
        https_only in any::<bool>(),
    ) {
        let policy = policy();
        let body = serde_json::to_vec(&Value::Object(fields)).unwrap();
        match parse_create(&body, &policy, NOW, https_only) {
            Ok(new_key) => check_accepted(&new_key, &policy, https_only),
            Err(GatewayError::InvalidBody { errors }) => prop_assert!(!errors.is_empty()),
            Err(GatewayError::UnknownScopes { unknown, valid }) => {
                prop_assert!(!unknown.is_empty());
                prop_assert_eq!(valid, policy.valid_scopes());
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }

    #[test]
    fn mostly_valid_bodies_are_accepted_or_name_the_bad_field(
        name in "\\PC{0,130}",
        scopes in prop::collection::vec(prop::sample::select(vec!["contacts:read", "tags:write", "admin", "email:send-approval"]), 1..5),
        per_minute in 0u64..200,
        per_day in 0u64..200,
    ) {
        let body = json!({"name": name, "scopes": scopes, "limits": {"per_minute": per_minute, "per_day": per_day}});
        match parse(&body) {
            Ok(new_key) => {
                check_accepted(&new_key, &policy(), true);
                prop_assert_eq!(new_key.name, name.trim());
                prop_assert_eq!(new_key.limits, Some(Limits::new(per_minute, per_day).unwrap()));
            }
            Err(GatewayError::InvalidBody { errors }) => {
                for e in &errors {
                    prop_assert!(e.field == "name" || e.field == "limits", "{:?}", e);
                }
                prop_assert!(!errors.is_empty());
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

fn edit_body() -> impl Strategy<Value = Map<String, Value>> {
    let field = prop_oneof![
        10 => prop::sample::select(EDIT_FIELDS).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ];
    prop::collection::btree_map(field, json_value(), 0..7)
        .prop_map(|fields| fields.into_iter().collect())
}

/// The method and path template an admin route is served at.
fn template_of(route: &AdminRoute) -> (&'static str, &'static str) {
    match route {
        AdminRoute::CreateKey => ("POST", "/keys"),
        AdminRoute::ListKeys => ("GET", "/keys"),
        AdminRoute::GetKey(_) => ("GET", "/keys/{id}"),
        AdminRoute::EditKey(_) => ("PATCH", "/keys/{id}"),
        AdminRoute::DeleteKey(_) => ("DELETE", "/keys/{id}"),
        AdminRoute::RevokeKey(_) => ("POST", "/keys/{id}/revoke"),
        AdminRoute::ActivateKey(_) => ("POST", "/keys/{id}/activate"),
        AdminRoute::RotateKey(_) => ("POST", "/keys/{id}/rotate"),
        AdminRoute::RotateWebhookSecret(_) => ("POST", "/keys/{id}/webhook-secret/rotate"),
        AdminRoute::ListApprovals => ("GET", "/approvals"),
        AdminRoute::GetApproval(_) => ("GET", "/approvals/{id}"),
        AdminRoute::Approve(_) => ("POST", "/approvals/{id}/approve"),
        AdminRoute::Reject(_) => ("POST", "/approvals/{id}/reject"),
        AdminRoute::Policy => ("GET", "/policy"),
    }
}

proptest! {
    #[test]
    fn list_cursors_round_trip(
        // Creation times are milliseconds up to year 9999: 15 digits, the bound.
        created_at in 0..=999_999_999_999_999u64,
        random in any::<[u8; KEY_ID_RANDOM_BYTES]>(),
    ) {
        let cursor = Position { created_at, id: KeyId::generate(&random) };
        let text = cursor.encode();
        // Safe in a query string as is.
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'), "{}", text);
        prop_assert_eq!(Position::decode(&text), Some(cursor.clone()));
        let query = parse_list_query(Some(&format!("limit=3&cursor={text}"))).unwrap();
        prop_assert_eq!(query.cursor, Some(cursor));
    }

    #[test]
    fn decoding_any_text_never_panics_and_yields_only_real_cursors(text in "[A-Za-z0-9_\\-=+/. ]{0,64}") {
        if let Some(cursor) = Position::<KeyId>::decode(&text) {
            prop_assert!(KeyId::parse(cursor.id.as_str()).is_some());
            prop_assert_eq!(Position::decode(&cursor.encode()), Some(cursor));
        }
    }

    #[test]
    fn parse_edit_never_panics_and_accepts_only_real_changes(
        fields in edit_body(),
        https_only in any::<bool>(),
    ) {
        let policy = policy();
        let body = serde_json::to_vec(&Value::Object(fields)).unwrap();
        match parse_edit(&body, &policy, NOW, https_only) {
            Ok(edit) => {
                prop_assert!(edit != KeyEdit::default(), "an edit that names nothing");
                if let Some(name) = &edit.name {
                    prop_assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
                    prop_assert_eq!(name, name.trim());
                }
                if let Some(scopes) = &edit.scopes {
                    prop_assert!(!scopes.is_empty());
                    prop_assert!(policy.check_scopes(scopes).is_ok());
                }
                if let Some(Some(at)) = edit.expires_at {
                    prop_assert!(at > NOW);
                }
                if let Some(LimitsEdit::Set { per_minute: Some(m), per_day: Some(d) }) = edit.limits {
                    prop_assert!(m <= d);
                }
                if let Some(Some(url)) = &edit.rejection_webhook {
                    prop_assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
                }
            }
            Err(GatewayError::InvalidBody { errors }) => prop_assert!(!errors.is_empty()),
            Err(GatewayError::UnknownScopes { unknown, .. }) => prop_assert!(!unknown.is_empty()),
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }

    #[test]
    fn parse_rotate_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(grace_ms) = parse_rotate(&body) {
            prop_assert!(grace_ms % 1_000 == 0 && grace_ms <= MAX_GRACE_SECONDS * 1_000);
        }
    }

    #[test]
    fn parse_rotate_accepts_exactly_the_seconds_from_0_to_30_days(seconds in prop_oneof![any::<i64>(), -10i64..3_000_000]) {
        let body = format!(r#"{{"grace_seconds": {seconds}}}"#);
        let in_range = (0..=MAX_GRACE_SECONDS as i64).contains(&seconds);
        match parse_rotate(body.as_bytes()) {
            Ok(grace_ms) => {
                prop_assert!(in_range, "{} accepted", seconds);
                prop_assert_eq!(grace_ms, seconds as u64 * 1_000);
            }
            Err(_) => prop_assert!(!in_range, "{} refused", seconds),
        }
    }

    #[test]
    fn parse_list_query_never_panics(query in "[a-z=&%0-9A-Z_.\\-]{0,60}") {
        if let Ok(list) = parse_list_query(Some(&query)) {
            prop_assert!((1..=MAX_PAGE_SIZE).contains(&list.limit));
        }
    }

    #[test]
    fn admin_route_serves_only_listed_routes(
        method in prop::sample::select(METHODS.to_vec()),
        path in "(/(keys|policy|revoke|rotate|activate|webhook-secret|key_[A-Za-z0-9]{22}|[a-z_]{0,5})){0,5}",
    ) {
        match admin_route(method, &path) {
            Ok(route) => {
                let (served_method, template) = template_of(&route);
                prop_assert_eq!(served_method, method);
                prop_assert!(ADMIN_ROUTES.contains(&(method, template)));
                let id = match &route {
                    AdminRoute::GetKey(id) | AdminRoute::EditKey(id) | AdminRoute::DeleteKey(id)
                    | AdminRoute::RevokeKey(id) | AdminRoute::ActivateKey(id)
                    | AdminRoute::RotateKey(id) | AdminRoute::RotateWebhookSecret(id) => id.as_str(),
                    _ => "",
                };
                prop_assert_eq!(template.replace("{id}", id), path);
            }
            Err(GatewayError::NotFound) => {}
            Err(GatewayError::MethodNotAllowed { allowed }) => {
                prop_assert!(!allowed.split(", ").any(|m| m == method));
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

#[test]
fn reject_needs_a_reason_and_approve_takes_nothing() {
    assert_eq!(
        parse_reject(br#"{"reason": "  too risky  "}"#),
        Ok("too risky".into())
    );
    let field_errors = |body: &[u8]| match parse_reject(body) {
        Err(GatewayError::InvalidBody { errors }) => errors
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field_errors(b"{}"),
        ["reason: is required: say why, for the key's owner"]
    );
    assert_eq!(
        field_errors(br#"{"reason": " "}"#),
        ["reason: must not be empty"]
    );
    assert_eq!(
        field_errors(br#"{"reason": 5}"#),
        ["reason: must be a string"]
    );
    let long = format!(r#"{{"reason": "{}"}}"#, "x".repeat(1001));
    assert_eq!(
        field_errors(long.as_bytes()),
        ["reason: must be at most 1000 characters"]
    );
    assert_eq!(
        field_errors(br#"{"reason": "ok", "notify": true}"#),
        ["notify: unknown field; allowed: reason"]
    );
    assert_eq!(field_errors(b"nope").len(), 1);

    assert_eq!(parse_approve(b""), Ok(()));
    assert_eq!(parse_approve(b" \n"), Ok(()));
    assert_eq!(parse_approve(b"{}"), Ok(()));
    assert!(parse_approve(br#"{"force": true}"#).is_err());
    assert!(parse_approve(b"[]").is_err());
}
