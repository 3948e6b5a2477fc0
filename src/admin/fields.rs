//! One body field at a time, each with its own error, shared by the bodies above.

use super::MAX_ADMIN_BODY_BYTES;
use crate::authority::LimitsEdit;
use crate::key::Environment;
use crate::lease::Enforcement;
use crate::limits::{Limits, LimitsError};
use crate::problem::{FieldError, GatewayError};
use crate::timestamp::parse_rfc3339;
use crate::workspace::WorkspaceName;
use serde_json::{Map, Value};

/// The longest key name.
pub const MAX_NAME_CHARS: usize = 120;
pub use crate::workspace::DEFAULT_WORKSPACE;
/// Metadata is for the operator's own labels, not a store.
pub(super) const MAX_METADATA_BYTES: usize = 4 * 1024;

/// Keeps a field's value, or records its error so every bad field is reported at once.
pub(super) fn collect<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A JSON number that is a whole number at least 0, whichever way it is written: JSON
/// Schema's `integer` counts `374`, `374.0` and `3.74e2` alike, so the document's integer
/// fields accept all of them. Fractions, negatives and non-numbers are `None`.
pub(super) fn whole_number(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let n = value.as_f64()?;
    // `as` saturates: a whole number past `u64::MAX` (e.g. `1e300`) becomes `u64::MAX`,
    // beyond every bound, so it is refused as out of range. `-0.0` is 0.
    (n.fract() == 0.0 && n >= 0.0).then_some(n as u64)
}

pub(super) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    let invalid = |message: String| GatewayError::InvalidBody {
        errors: vec![FieldError::new("body", message)],
    };
    if body.len() > MAX_ADMIN_BODY_BYTES {
        return Err(GatewayError::PayloadTooLarge {
            max_bytes: MAX_ADMIN_BODY_BYTES as u64,
            bound: crate::problem::BodyBound::Admin,
        });
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("must be a JSON object".into())),
        Err(e) => Err(invalid(format!("is not valid JSON ({e})"))),
    }
}

pub(super) fn name(value: Option<&Value>) -> Result<String, FieldError> {
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

pub(super) fn scopes(value: Option<&Value>) -> Result<Vec<String>, FieldError> {
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

pub(super) fn workspace(value: Option<&Value>) -> Result<String, FieldError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_WORKSPACE.to_string()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(FieldError::new("workspace", "must be a string")),
    };
    match WorkspaceName::parse(text) {
        Some(name) => Ok(name.as_str().to_string()),
        None => Err(FieldError::new(
            "workspace",
            format!("must be {}", WorkspaceName::rule()),
        )),
    }
}

pub(super) fn expires_at(value: Option<&Value>, now_ms: u64) -> Result<Option<u64>, FieldError> {
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

/// A create's `limits`: a window left out takes `defaults` (the plan's, where the key's
/// workspace is on one, else the policy's); none given keeps following the defaults.
pub(super) fn limits(
    value: Option<&Value>,
    defaults: Limits,
) -> Result<Option<Limits>, FieldError> {
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
    let count = |field: &str, default: u32| -> Result<u64, FieldError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(u64::from(default)),
            Some(v) => whole_number(v).ok_or_else(|| {
                FieldError::new(
                    format!("limits.{field}"),
                    "must be a whole number of at least 1",
                )
            }),
        }
    };
    let given = |field: &str| object.get(field).is_some_and(|v| !v.is_null());
    if !given("per_minute") && !given("per_day") {
        // Nothing to override: keep following the defaults, even as they change.
        return Ok(None);
    }
    let per_minute = count("per_minute", defaults.per_minute.get())?;
    let per_day = count("per_day", defaults.per_day.get())?;
    Limits::new(per_minute, per_day).map(Some).map_err(|e| {
        let message = match e {
            LimitsError::MinuteAboveDay { .. } if !given("per_minute") => format!(
                "per_day ({per_day}) is below the default per_minute ({per_minute}); set per_minute too"
            ),
            other => other.to_string(),
        };
        FieldError::new("limits", message)
    })
}

/// An edit's `limits`: `null` goes back to the policy's defaults; an object sets the
/// windows it names and keeps the other at the key's current value (checked by the key's
/// authority, which knows it).
pub(super) fn limits_edit(value: &Value) -> Result<LimitsEdit, FieldError> {
    let object = match value {
        Value::Null => return Ok(LimitsEdit::PolicyDefaults),
        Value::Object(o) => o,
        _ => return Err(FieldError::new(
            "limits",
            "must be an object with per_minute and/or per_day, or null for the policy's defaults",
        )),
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
    let window = |field: &str, max: u32| -> Result<Option<u64>, FieldError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => whole_number(v)
                .filter(|n| (1..=u64::from(max)).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    FieldError::new(
                        format!("limits.{field}"),
                        format!("must be a whole number from 1 to {max}"),
                    )
                }),
        }
    };
    let per_minute = window("per_minute", crate::limits::MAX_PER_MINUTE)?;
    let per_day = window("per_day", crate::limits::MAX_PER_DAY)?;
    match (per_minute, per_day) {
        (None, None) => Err(FieldError::new(
            "limits",
            "names no window; give per_minute and/or per_day, or null for the policy's defaults",
        )),
        (Some(minute), Some(day)) if minute > day => Err(FieldError::new(
            "limits",
            format!("per_minute ({minute}) must not exceed per_day ({day})"),
        )),
        _ => Ok(LimitsEdit::Set {
            per_minute,
            per_day,
        }),
    }
}

pub(super) fn metadata(value: Option<&Value>) -> Result<Map<String, Value>, FieldError> {
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

/// HTTPS to a host name or a public address; loopback (by any spelling, and plain HTTP to
/// it) only while HTTPS-only is off, for local testing. See [`crate::webhook::address`].
pub(super) fn webhook(
    value: Option<&Value>,
    https_only: bool,
) -> Result<Option<String>, FieldError> {
    use crate::webhook::address::{receiver_host, ReceiverHost};
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
    if let Err(m) = crate::config::Origin::parse(without_query) {
        return error(&m);
    }
    if text.len() > 2048 {
        return error("must be at most 2048 characters");
    }
    let host = match receiver_host(text) {
        Ok(host) => host,
        Err(m) => return error(&m),
    };
    let loopback = host == ReceiverHost::Loopback;
    if !text.starts_with("https://") {
        if https_only {
            return error("must be an https:// URL");
        }
        if !loopback {
            return error("must be an https:// URL (plain http:// is accepted only for loopback hosts while HTTPS-only is off)");
        }
    }
    match host {
        ReceiverHost::Forbidden(range) => error(&format!(
            "must not point at {range}: a webhook must reach a public receiver"
        )),
        ReceiverHost::Loopback if https_only => error(
            "must not point at this machine (localhost or a loopback address) while HTTPS-only is on",
        ),
        _ => Ok(Some(text.clone())),
    }
}

/// `enforcement`: `"exact"` or `"lease"` for the key's own, `null` (or absent) to follow
/// the policy's.
pub(super) fn enforcement(value: Option<&Value>) -> Result<Option<Enforcement>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if Enforcement::parse(name).is_some() => {
            Ok(Enforcement::parse(name))
        }
        Some(_) => Err(FieldError::new(
            "enforcement",
            "must be `exact`, `lease` or null (follow the policy's)",
        )),
    }
}

pub(super) fn environment(value: Option<&Value>) -> Result<Environment, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(Environment::Live),
        Some(Value::String(s)) if s == "live" => Ok(Environment::Live),
        Some(Value::String(s)) if s == "test" => Ok(Environment::Test),
        Some(_) => Err(FieldError::new("environment", "must be `live` or `test`")),
    }
}
