//! The key bodies: `POST /keys`, `PATCH /keys/{id}` and a rotation's grace.

use super::fields::{
    collect, enforcement, environment, expires_at, limits, limits_edit, metadata, name,
    parse_object, scopes, webhook, whole_number, workspace,
};
use crate::authority::KeyEdit;
use crate::key::{ApiKey, Environment, KeyId};
use crate::lease::Enforcement;
use crate::limits::Limits;
use crate::policy::Policy;
use crate::problem::{FieldError, GatewayError};
use crate::record::{KeyRecord, Principal};
use crate::workspace::PlanAssignment;
use serde_json::{Map, Value};

pub(super) const CREATE_FIELDS: &[&str] = &[
    "name",
    "scopes",
    "workspace",
    "expires_at",
    "limits",
    "enforcement",
    "metadata",
    "rejection_webhook",
    "environment",
];

/// A validated `POST /keys` body.
#[derive(Clone, Debug, PartialEq)]
pub struct NewKey {
    pub name: String,
    pub scopes: Vec<String>,
    /// `None` when the body names none: the acting key's own, or [`super::DEFAULT_WORKSPACE`].
    pub workspace: Option<String>,
    pub expires_at: Option<u64>,
    pub limits: Option<Limits>,
    /// `None` follows the policy's.
    pub enforcement: Option<Enforcement>,
    pub metadata: Map<String, Value>,
    pub rejection_webhook: Option<String>,
    pub environment: Environment,
}

impl NewKey {
    /// The record for this key, once the Workers layer has drawn its id and secret.
    /// `fallback_workspace` is used when the body named none.
    pub fn into_record(
        self,
        id: KeyId,
        key: &ApiKey,
        now_ms: u64,
        fallback_workspace: &str,
        created_by: Principal,
        family: Option<KeyId>,
    ) -> KeyRecord {
        KeyRecord {
            id,
            name: self.name,
            hint: key.hint(),
            workspace: self
                .workspace
                .unwrap_or_else(|| fallback_workspace.to_string()),
            scopes: self.scopes,
            environment: self.environment,
            created_at: now_ms,
            expires_at: self.expires_at,
            revoked_at: None,
            revoked_by: None,
            created_by: Some(created_by),
            family,
            limits: self.limits,
            enforcement: self.enforcement,
            metadata: self.metadata,
            rejection_webhook: self.rejection_webhook,
            version: 1,
            // Set by the creation, which reads the workspace's plan.
            plan: PlanAssignment::default(),
        }
    }
}

/// The workspace a create body names, if it names a valid one: enough to read that
/// workspace's plan before the whole body is checked ([`parse_create_with`]).
pub fn asked_workspace(body: &[u8]) -> Option<String> {
    let object = parse_object(body).ok()?;
    match object.get("workspace") {
        None | Some(Value::Null) => None,
        given => workspace(given).ok(),
    }
}

/// [`parse_create_with`] the policy's default limits: for a policy without plans.
pub fn parse_create(
    body: &[u8],
    policy: &Policy,
    now_ms: u64,
    https_only: bool,
) -> Result<NewKey, GatewayError> {
    parse_create_with(body, policy, policy.default_limits(), now_ms, https_only)
}

/// Parses and checks a create body. Every field error is reported at once; unknown scopes
/// get their own answer listing the valid ones. Without `scopes` the key gets the policy's
/// `default_scopes`, and where it has none that is a field error. A limits window left out
/// takes `defaults`: the key's plan's, where its workspace is on one.
pub fn parse_create_with(
    body: &[u8],
    policy: &Policy,
    defaults: Limits,
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
    // A policy's `default_scopes` stand in for scopes left out (or null), as if written.
    let scopes = match object.get("scopes") {
        None | Some(Value::Null) if !policy.default_scopes().is_empty() => {
            Some(policy.default_scopes().to_vec())
        }
        given => collect(&mut errors, scopes(given)),
    };
    let workspace = match object.get("workspace") {
        None | Some(Value::Null) => Some(None),
        given => collect(&mut errors, workspace(given)).map(Some),
    };
    let expires_at = collect(&mut errors, expires_at(object.get("expires_at"), now_ms));
    let limits = collect(&mut errors, limits(object.get("limits"), defaults));
    let enforcement = collect(&mut errors, enforcement(object.get("enforcement")));
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
        enforcement,
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
            Some(enforcement),
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
                enforcement,
                metadata,
                rejection_webhook,
                environment,
            })
        }
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}

pub(super) const EDIT_FIELDS: &[&str] = &[
    "name",
    "scopes",
    "limits",
    "enforcement",
    "expires_at",
    "metadata",
    "rejection_webhook",
];

/// Parses and checks a `PATCH /keys/{id}` body: the fields present are replaced; `null`
/// clears `expires_at`, `limits` (back to the policy's defaults), `enforcement` (back to the
/// policy's), `rejection_webhook` and `metadata`. A missing window in `limits` takes the policy's default, as at create.
pub fn parse_edit(
    body: &[u8],
    policy: &Policy,
    now_ms: u64,
    https_only: bool,
) -> Result<KeyEdit, GatewayError> {
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| !EDIT_FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.as_str(),
                format!("unknown field; editable: {}", EDIT_FIELDS.join(", ")),
            )
        })
        .collect();
    if object.is_empty() {
        errors.push(FieldError::new(
            "body",
            format!(
                "names no field to change; editable: {}",
                EDIT_FIELDS.join(", ")
            ),
        ));
    }
    let field = |name: &str| object.get(name);
    let mut edit = KeyEdit::default();
    if let Some(value) = field("name") {
        edit.name = collect(&mut errors, name(Some(value)));
    }
    if let Some(value) = field("scopes") {
        edit.scopes = collect(&mut errors, scopes(Some(value)));
    }
    if let Some(value) = field("limits") {
        edit.limits = collect(&mut errors, limits_edit(value));
    }
    if let Some(value) = field("enforcement") {
        edit.enforcement = collect(&mut errors, enforcement(Some(value)));
    }
    if let Some(value) = field("expires_at") {
        edit.expires_at = collect(&mut errors, expires_at(Some(value), now_ms));
    }
    if let Some(value) = field("metadata") {
        edit.metadata = collect(&mut errors, metadata(Some(value)));
    }
    if let Some(value) = field("rejection_webhook") {
        edit.rejection_webhook = collect(&mut errors, webhook(Some(value), https_only));
    }
    if !errors.is_empty() {
        return Err(GatewayError::InvalidBody { errors });
    }
    if let Some(scopes) = &edit.scopes {
        policy
            .check_scopes(scopes)
            .map_err(|u| GatewayError::UnknownScopes {
                unknown: u.unknown,
                valid: u.valid,
            })?;
    }
    Ok(edit)
}

/// The longest grace a rotation may give the previous secret: 30 days.
pub const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

/// Parses a rotate body, `{"grace_seconds": N}`, into the grace in milliseconds. An empty
/// body means no grace: the previous secret stops at once.
pub fn parse_rotate(body: &[u8]) -> Result<u64, GatewayError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(0);
    }
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| *k != "grace_seconds")
        .map(|k| FieldError::new(k.as_str(), "unknown field; allowed: grace_seconds"))
        .collect();
    let grace = match object.get("grace_seconds") {
        None | Some(Value::Null) => Some(0),
        Some(value) => {
            match whole_number(value) {
                Some(seconds) if seconds <= MAX_GRACE_SECONDS => Some(seconds),
                _ => {
                    errors.push(FieldError::new(
                    "grace_seconds",
                    format!("must be a whole number of seconds from 0 to {MAX_GRACE_SECONDS} (30 days)"),
                ));
                    None
                }
            }
        }
    };
    match grace {
        Some(seconds) if errors.is_empty() => Ok(seconds * 1_000),
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}
