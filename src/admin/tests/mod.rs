mod approvals;
mod create;
mod edit;
mod fields;
mod list;
mod properties;
mod rotate;
mod routes;

use super::fields::*;
use super::keys::*;
use super::list::*;
use super::routes::*;
use super::*;
use crate::approval::{ApprovalId, ApprovalStatus};
use crate::authority::{KeyEdit, LimitsEdit};
use crate::key::{hash_key, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
use crate::key::{ApiKey, Environment, KeyId};
use crate::lease::Enforcement;
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
    Policy::from_toml(include_str!("../../../policies/demo.toml")).expect("demo policy parses")
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
