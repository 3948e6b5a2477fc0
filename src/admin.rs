//! Admin API request validation: a JSON body in, a checked value or every field's error out.

use crate::authority::KeyRecord;
use crate::key::{ApiKey, Environment, KeyHash, KeyId};
use crate::limits::Limits;
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
    let per_minute = count("per_minute", defaults.per_minute.get())?;
    let per_day = count("per_day", defaults.per_day.get())?;
    Limits::new(per_minute, per_day)
        .map(Some)
        .map_err(|e| FieldError::new("limits", e.to_string()))
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
    let origin = match crate::config::Origin::parse(text) {
        Ok(origin) => origin,
        Err(m) => return error(&m),
    };
    if text.len() > 2048 {
        return error("must be at most 2048 characters");
    }
    if text.starts_with("https://") {
        return Ok(Some(text.clone()));
    }
    let host = origin
        .host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(origin.host.as_str(), |(host, _)| host);
    let loopback = host == "localhost" || host == "[::1]" || host.starts_with("127.");
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
