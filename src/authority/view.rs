//! A key as the admin API shows it.

use crate::policy::Policy;
use crate::record::KeyRecord;
use serde_json::Value;

/// The public view of a key: every field the admin API shows, and never a secret's hash.
pub fn key_object(
    record: &KeyRecord,
    last_used_at: Option<u64>,
    policy: &Policy,
    now_ms: u64,
) -> Value {
    use crate::timestamp::format_rfc3339;
    let limits = record.effective_limits(policy.default_limits());
    serde_json::json!({
        "id": record.id,
        "name": record.name,
        "hint": record.hint,
        "workspace": record.workspace,
        "scopes": record.scopes,
        "status": record.status(now_ms),
        "environment": record.environment,
        "created_at": format_rfc3339(record.created_at),
        "expires_at": record.expires_at.map(format_rfc3339),
        "revoked_at": record.revoked_at.map(format_rfc3339),
        "revoked_by": record.revoked_by,
        "created_by": record.created_by,
        "last_used_at": last_used_at.map(format_rfc3339),
        "limits": {
            "per_minute": limits.per_minute.get(),
            "per_day": limits.per_day.get(),
            "source": if record.limits.is_some() { "key" } else { "policy" },
        },
        "metadata": record.metadata,
        "rejection_webhook": record.rejection_webhook.as_deref().map(crate::webhook::address::redacted),
    })
}
