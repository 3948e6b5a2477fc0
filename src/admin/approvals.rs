//! The reviewer's bodies: approve and reject.

use super::fields::parse_object;
use crate::problem::{FieldError, GatewayError};
use serde_json::Value;

/// The longest rejection reason a reviewer may give.
pub const MAX_REASON_CHARS: usize = 1000;

/// The body of `POST /approvals/{id}/approve`: nothing, or an empty JSON object.
pub fn parse_approve(body: &[u8]) -> Result<(), GatewayError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let fields = parse_object(body)?;
    match fields.keys().next() {
        None => Ok(()),
        Some(field) => Err(GatewayError::InvalidBody {
            errors: vec![FieldError::new(
                field.as_str(),
                "unknown field; approve takes no fields",
            )],
        }),
    }
}

/// The body of `POST /approvals/{id}/reject`: `{"reason": "..."}`.
pub fn parse_reject(body: &[u8]) -> Result<String, GatewayError> {
    let fields = parse_object(body)?;
    let mut errors = Vec::new();
    for field in fields.keys().filter(|f| *f != "reason") {
        errors.push(FieldError::new(
            field.as_str(),
            "unknown field; allowed: reason",
        ));
    }
    let reason = match fields.get("reason") {
        None | Some(Value::Null) => Err("is required: say why, for the key's owner"),
        Some(Value::String(text)) if text.trim().is_empty() => Err("must not be empty"),
        Some(Value::String(text)) if text.trim().chars().count() > MAX_REASON_CHARS => {
            Err("must be at most 1000 characters")
        }
        Some(Value::String(text)) => Ok(text.trim().to_string()),
        Some(_) => Err("must be a string"),
    };
    match reason {
        Ok(reason) if errors.is_empty() => Ok(reason),
        Ok(_) => Err(GatewayError::InvalidBody { errors }),
        Err(message) => {
            errors.insert(0, FieldError::new("reason", message));
            Err(GatewayError::InvalidBody { errors })
        }
    }
}
