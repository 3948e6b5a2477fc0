//! A key as the admin API shows it.

use crate::entitlement;
use crate::key::{Environment, KeyId};
use crate::policy::Policy;
use crate::record::{KeyRecord, Principal, Status};
use crate::timestamp::format_rfc3339;
use serde::Serialize;
use serde_json::{Map, Value};

/// The public view of a key: every field the admin API shows, and never a secret's hash.
#[derive(Serialize)]
struct KeyView<'a> {
    id: &'a KeyId,
    name: &'a str,
    hint: &'a str,
    workspace: &'a str,
    scopes: &'a [String],
    status: Status,
    environment: Environment,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    revoked_by: Option<PrincipalView<'a>>,
    created_by: Option<PrincipalView<'a>>,
    last_used_at: Option<String>,
    limits: LimitsView,
    enforcement: EnforcementView,
    metadata: &'a Map<String, Value>,
    /// Redacted: a webhook URL may carry a token of the receiver's.
    rejection_webhook: Option<String>,
}

/// Who did something, as the admin API shows it: `{"type": "root"}`,
/// `{"type": "key", "id"}` or `{"type": "member", "id", "name"}` (the stored form,
/// [`Principal`], keeps `key_id` so records already stored still load).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum PrincipalView<'a> {
    Root,
    Key { id: &'a str },
    Member { id: &'a str, name: &'a str },
}

impl PrincipalView<'_> {
    fn of(principal: &Principal) -> PrincipalView<'_> {
        match principal {
            Principal::Root => PrincipalView::Root,
            Principal::Key { key_id } => PrincipalView::Key {
                id: key_id.as_str(),
            },
            Principal::Member { id, name } => PrincipalView::Member { id, name },
        }
    }
}

#[derive(Serialize)]
struct LimitsView {
    per_minute: u32,
    per_day: u32,
    /// `key` when the key has its own, `plan` or `policy` when it follows its plan's or the
    /// policy's defaults.
    source: &'static str,
}

#[derive(Serialize)]
struct EnforcementView {
    /// `exact` or `lease`.
    mode: &'static str,
    /// `key` when the key chose it, `policy` when it follows the policy's.
    source: &'static str,
}

/// The key as the admin API shows it, as JSON the admin handlers add to (the secret shown
/// once, the usage).
pub fn key_object(
    record: &KeyRecord,
    last_used_at: Option<u64>,
    policy: &Policy,
    now_ms: u64,
) -> Value {
    let limits = entitlement::key_limits(record, policy);
    let view = KeyView {
        id: &record.id,
        name: &record.name,
        hint: &record.hint,
        workspace: &record.workspace,
        scopes: &record.scopes,
        status: record.status(now_ms),
        environment: record.environment,
        created_at: format_rfc3339(record.created_at),
        expires_at: record.expires_at.map(format_rfc3339),
        revoked_at: record.revoked_at.map(format_rfc3339),
        revoked_by: record.revoked_by.as_ref().map(PrincipalView::of),
        created_by: record.created_by.as_ref().map(PrincipalView::of),
        last_used_at: last_used_at.map(format_rfc3339),
        limits: LimitsView {
            per_minute: limits.per_minute.get(),
            per_day: limits.per_day.get(),
            source: match (record.limits, entitlement::key_plan(record, policy)) {
                (Some(_), _) => "key",
                (None, Some(_)) => "plan",
                (None, None) => "policy",
            },
        },
        enforcement: EnforcementView {
            mode: record.enforcement(policy.enforcement()).as_str(),
            source: match record.enforcement {
                Some(_) => "key",
                None => "policy",
            },
        },
        metadata: &record.metadata,
        rejection_webhook: record
            .rejection_webhook
            .as_deref()
            .map(crate::webhook::address::redacted),
    };
    // Strings, numbers and maps of them cannot fail to serialize.
    serde_json::to_value(view).unwrap_or_default()
}
