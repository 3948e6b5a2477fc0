//! Admin API request validation: a JSON body in, a checked value or every field's error out.

use crate::authority::KeyRecord;
use crate::key::{ApiKey, Environment, KeyHash, KeyId};
use crate::limits::{Limits, LimitsError};
use crate::policy::Policy;
use crate::problem::{FieldError, GatewayError};
use crate::timestamp::parse_rfc3339;
use serde_json::{Map, Value};

/// The prefix every admin route lives under.
pub const ADMIN_PREFIX: &str = "/_keygate/v1";
/// Admin bodies are small; anything bigger is a mistake or an attack.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;
const MAX_NAME_CHARS: usize = 120;
const MAX_METADATA_BYTES: usize = 4 * 1024;
const MAX_WORKSPACE_CHARS: usize = 64;
pub const DEFAULT_WORKSPACE: &str = "default";

const CREATE_FIELDS: &[&str] = &[
    "name",
    "scopes",
    "workspace",
    "expires_at",
    "limits",
    "metadata",
    "rejection_webhook",
    "environment",
];

/// A validated `POST /keys` body.
#[derive(Clone, Debug, PartialEq)]
pub struct NewKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub workspace: String,
    pub expires_at: Option<u64>,
    pub limits: Option<Limits>,
    pub metadata: Map<String, Value>,
    pub rejection_webhook: Option<String>,
    pub environment: Environment,
}

impl NewKey {
    /// The record for this key, once the Workers layer has drawn its id and secret.
    pub fn into_record(self, id: KeyId, key: &ApiKey, key_hash: KeyHash, now_ms: u64) -> KeyRecord {
        KeyRecord {
            id,
            name: self.name,
            hint: key.hint(),
            workspace: self.workspace,
            scopes: self.scopes,
            environment: self.environment,
            created_at: now_ms,
            expires_at: self.expires_at,
            revoked_at: None,
            limits: self.limits,
            metadata: self.metadata,
            rejection_webhook: self.rejection_webhook,
            key_hash,
            version: 1,
        }
    }
}

/// Parses and checks a create body. Every field error is reported at once; unknown scopes
/// get their own answer listing the valid ones.
pub fn parse_create(
    body: &[u8],
    policy: &Policy,
    now_ms: u64,
    https_only: bool,
) -> Result<NewKey, GatewayError> {
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| !CREATE_FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.as_str(),
                format!("unknown field; allowed: {}", CREATE_FIELDS.join(", ")),
            )
        })
        .collect();
    let name = collect(&mut errors, name(object.get("name")));
    let scopes = collect(&mut errors, scopes(object.get("scopes")));
    let workspace = collect(&mut errors, workspace(object.get("workspace")));
    let expires_at = collect(&mut errors, expires_at(object.get("expires_at"), now_ms));
    let limits = collect(&mut errors, limits(object.get("limits"), policy));
    let metadata = collect(&mut errors, metadata(object.get("metadata")));
    let rejection_webhook = collect(
        &mut errors,
        webhook(object.get("rejection_webhook"), https_only),
    );
    let environment = collect(&mut errors, environment(object.get("environment")));

    match (
        name,
        scopes,
        workspace,
        expires_at,
        limits,
        metadata,
        rejection_webhook,
        environment,
    ) {
        (
            Some(name),
            Some(scopes),
            Some(workspace),
            Some(expires_at),
            Some(limits),
            Some(metadata),
            Some(rejection_webhook),
            Some(environment),
        ) if errors.is_empty() => {
            policy
                .check_scopes(&scopes)
                .map_err(|u| GatewayError::UnknownScopes {
                    unknown: u.unknown,
                    valid: u.valid,
                })?;
            Ok(NewKey {
                name,
                scopes,
                workspace,
                expires_at,
                limits,
                metadata,
                rejection_webhook,
                environment,
            })
        }
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}

/// Keeps a field's value, or records its error so every bad field is reported at once.
fn collect<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    let invalid = |message: String| GatewayError::InvalidBody {
        errors: vec![FieldError::new("body", message)],
    };
    if body.len() > MAX_ADMIN_BODY_BYTES {
        return Err(invalid(format!(
            "must be at most {MAX_ADMIN_BODY_BYTES} bytes"
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("must be a JSON object".into())),
        Err(e) => Err(invalid(format!("is not valid JSON ({e})"))),
    }
}

fn name(value: Option<&Value>) -> Result<String, FieldError> {
    let error = |m: &str| FieldError::new("name", m);
    let text = match value {
        None | Some(Value::Null) => return Err(error("is required")),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(error("must be a string")),
    };
    if text.is_empty() {
        return Err(error("must not be empty"));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(error(&format!(
            "must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(error(
            "must not contain control characters such as line breaks",
        ));
    }
    Ok(text.to_string())
}

fn scopes(value: Option<&Value>) -> Result<Vec<String>, FieldError> {
    let error = |m: &str| FieldError::new("scopes", m);
    let list = match value {
        None | Some(Value::Null) => return Err(error("is required: a list of at least one scope")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(error("must be a list of scope strings")),
    };
    let mut scopes: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        match item.as_str() {
            Some(s) if !scopes.iter().any(|seen| seen == s) => scopes.push(s.to_string()),
            Some(_) => {}
            None => return Err(error("must contain only strings")),
        }
    }
    if scopes.is_empty() {
        return Err(error("must contain at least one scope"));
    }
    Ok(scopes)
}

fn workspace(value: Option<&Value>) -> Result<String, FieldError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_WORKSPACE.to_string()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(FieldError::new("workspace", "must be a string")),
    };
    let valid = (1..=MAX_WORKSPACE_CHARS).contains(&text.len())
        && text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        return Err(FieldError::new(
            "workspace",
            format!("must be 1 to {MAX_WORKSPACE_CHARS} characters of letters, digits, `_`, `.` or `-`, starting with a letter or digit"),
        ));
    }
    Ok(text.clone())
}

fn expires_at(value: Option<&Value>, now_ms: u64) -> Result<Option<u64>, FieldError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(FieldError::new(
                "expires_at",
                "must be an RFC 3339 timestamp string",
            ))
        }
    };
    let at = parse_rfc3339(text).map_err(|m| FieldError::new("expires_at", m))?;
    if at <= now_ms {
        return Err(FieldError::new("expires_at", "must be in the future"));
    }
    Ok(Some(at))
}

fn limits(value: Option<&Value>, policy: &Policy) -> Result<Option<Limits>, FieldError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(FieldError::new(
                "limits",
                "must be an object with per_minute and/or per_day",
            ))
        }
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| *k != "per_minute" && *k != "per_day")
    {
        return Err(FieldError::new(
            format!("limits.{unknown}"),
            "unknown field; allowed: per_minute, per_day",
        ));
    }
    let defaults = policy.default_limits();
    let count = |field: &str, default: u32| -> Result<u64, FieldError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(u64::from(default)),
            Some(v) => v.as_u64().ok_or_else(|| {
                FieldError::new(
                    format!("limits.{field}"),
                    "must be a whole number of at least 1",
                )
            }),
        }
    };
    let given = |field: &str| object.get(field).is_some_and(|v| !v.is_null());
    if !given("per_minute") && !given("per_day") {
        // Nothing to override: keep following the policy's defaults, even as they change.
        return Ok(None);
    }
    let per_minute = count("per_minute", defaults.per_minute.get())?;
    let per_day = count("per_day", defaults.per_day.get())?;
    Limits::new(per_minute, per_day).map(Some).map_err(|e| {
        let message = match e {
            LimitsError::MinuteAboveDay { .. } if !given("per_minute") => format!(
                "per_day ({per_day}) is below the policy's default per_minute ({per_minute}); set per_minute too"
            ),
            other => other.to_string(),
        };
        FieldError::new("limits", message)
    })
}

fn metadata(value: Option<&Value>) -> Result<Map<String, Value>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => {
            let size = serde_json::to_string(o).map_or(usize::MAX, |s| s.len());
            if size > MAX_METADATA_BYTES {
                return Err(FieldError::new(
                    "metadata",
                    format!("must be at most {MAX_METADATA_BYTES} bytes as JSON"),
                ));
            }
            Ok(o.clone())
        }
        Some(_) => Err(FieldError::new("metadata", "must be a JSON object")),
    }
}

/// HTTPS always; plain HTTP only to this machine, and only while HTTPS-only is off (local testing).
fn webhook(value: Option<&Value>, https_only: bool) -> Result<Option<String>, FieldError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(FieldError::new("rejection_webhook", "must be a URL string")),
    };
    let error = |m: &str| Err(FieldError::new("rejection_webhook", m));
    // Hook URLs often carry a token in the query; a fragment never reaches a server.
    if text.contains('#') {
        return error("must not contain a fragment (`#`)");
    }
    if text.contains(char::is_whitespace) {
        return error("must not contain spaces");
    }
    let without_query = text.split_once('?').map_or(text.as_str(), |(base, _)| base);
    let origin = match crate::config::Origin::parse(without_query) {
        Ok(origin) => origin,
        Err(m) => return error(&m),
    };
    if text.len() > 2048 {
        return error("must be at most 2048 characters");
    }
    if text.starts_with("https://") {
        return Ok(Some(text.clone()));
    }
    let loopback = origin.is_loopback();
    if https_only {
        error("must be an https:// URL")
    } else if !loopback {
        error("must be an https:// URL (plain http:// is accepted only for loopback hosts while HTTPS-only is off)")
    } else {
        Ok(Some(text.clone()))
    }
}

fn environment(value: Option<&Value>) -> Result<Environment, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(Environment::Live),
        Some(Value::String(s)) if s == "live" => Ok(Environment::Live),
        Some(Value::String(s)) if s == "test" => Ok(Environment::Test),
        Some(_) => Err(FieldError::new("environment", "must be `live` or `test`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{hash_key, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
    use crate::timestamp::format_rfc3339;
    use proptest::prelude::*;
    use serde_json::json;

    /// 2030-03-17T17:46:40Z.
    const NOW: u64 = 1_900_000_000_000;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("demo policy parses")
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

    fn field_errors(result: Result<NewKey, GatewayError>) -> Vec<FieldError> {
        match result {
            Err(GatewayError::InvalidBody { errors }) => errors,
            other => panic!("expected InvalidBody, got {other:?}"),
        }
    }

    /// The body is refused for exactly one reason, on `field`; returns its message.
    fn refused_on(field: &str, result: Result<NewKey, GatewayError>) -> String {
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
                workspace: "acme-prod_1.eu".into(),
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
            workspace: DEFAULT_WORKSPACE.into(),
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
    }

    #[test]
    fn into_record_builds_a_fresh_active_record() {
        let new_key = parse(&with("workspace", json!("acme"))).unwrap();
        let key = ApiKey::generate("kg", Environment::Live, &[3; KEY_RANDOM_BYTES]);
        let hash = hash_key(&HashingSecret::new(b"secret".to_vec()), &key);
        let id = KeyId::generate(&[4; KEY_ID_RANDOM_BYTES]);
        let record = new_key
            .clone()
            .into_record(id.clone(), &key, hash.clone(), NOW);
        assert_eq!(record.id, id);
        assert_eq!(record.name, new_key.name);
        assert_eq!(record.hint, key.hint());
        assert_eq!(record.workspace, "acme");
        assert_eq!(record.scopes, new_key.scopes);
        assert_eq!(record.created_at, NOW);
        assert_eq!(record.revoked_at, None);
        assert_eq!(record.version, 1);
        assert!(record.key_hash.matches(&hash));
        assert!(!format!("{record:?}").contains(key.expose()));
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
        let over = padded(MAX_ADMIN_BODY_BYTES + 1);
        let message = refused_on("body", parse_create(over.as_bytes(), &policy(), NOW, true));
        assert_eq!(message, "must be at most 65536 bytes");
        // Even an invalid body is refused for its size, not parsed.
        let junk = vec![b'x'; MAX_ADMIN_BODY_BYTES + 1];
        refused_on("body", parse_create(&junk, &policy(), NOW, true));
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
        assert!(
            refused_on("scopes", parse(&with("scopes", json!(null)))).starts_with("is required")
        );
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
            assert_eq!(parse(&with("workspace", json!(ok))).unwrap().workspace, ok);
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
                json!({"per_minute": 1.0, "per_day": 10}),
                "limits.per_minute",
            ),
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
            "https://127.0.0.1/r",
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
        assert!((1..=MAX_WORKSPACE_CHARS).contains(&new_key.workspace.len()));
        assert!(new_key.expires_at.is_none_or(|at| at > NOW));
        if let Some(limits) = new_key.limits {
            assert!(limits.per_minute <= limits.per_day);
        }
        assert!(serde_json::to_string(&new_key.metadata).unwrap().len() <= MAX_METADATA_BYTES);
        if let Some(url) = &new_key.rejection_webhook {
            assert!(url.starts_with("https://") || (!https_only && url.starts_with("http://")));
            assert!(!url.contains('@'));
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
}
