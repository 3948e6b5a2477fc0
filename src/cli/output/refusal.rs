//! A refusal, as the operator reads it.

use super::{clean, inline, text};
use serde_json::Value;
use std::fmt::Write as _;

/// Problem fields rendered by [`problem`] itself; any other field is listed after them.
const PROBLEM_FIELDS: &[&str] = &[
    "type",
    "title",
    "status",
    "code",
    "detail",
    "request_id",
    "errors",
    "unknown_scopes",
    "valid_scopes",
    "retry_after",
    "reason",
    "approval_status",
];

/// A refusal for people: status, code and detail, then every field error on its own line,
/// the unknown and valid scopes, an approval's current status (`approval_status`) and the
/// reason it failed, when to retry, and the request id to quote.
pub fn problem(body: &Value, http_status: u16, retry_after: Option<&str>) -> String {
    let status = body
        .get("status")
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(http_status));
    let code = body.get("code").map_or_else(|| "-".into(), inline);
    let detail = match body.get("detail").or_else(|| body.get("title")) {
        Some(value) => inline(value),
        None => "(no detail)".into(),
    };
    let mut out = format!("keygate: the gateway refused ({status} {code}): {detail}\n");
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        for error in errors {
            let _ = writeln!(
                out,
                "  {}: {}",
                text(error, "field"),
                text(error, "message")
            );
        }
    }
    if let Some(unknown) = body.get("unknown_scopes") {
        let _ = writeln!(out, "  unknown scopes: {}", inline(unknown));
    }
    if let Some(valid) = body.get("valid_scopes") {
        let _ = writeln!(out, "  valid scopes: {}", inline(valid));
    }
    if let Some(current) = body.get("approval_status") {
        let _ = writeln!(out, "  current status: {}", inline(current));
    }
    if let Some(reason) = body.get("reason") {
        let _ = writeln!(out, "  reason: {}", inline(reason));
    }
    if let Some(object) = body.as_object() {
        for (field, value) in object {
            if !PROBLEM_FIELDS.contains(&field.as_str()) {
                let _ = writeln!(out, "  {}: {}", clean(field), inline(value));
            }
        }
    }
    let retry = retry_after
        .map(clean)
        .or_else(|| body.get("retry_after").map(inline));
    if let Some(seconds) = retry {
        let _ = writeln!(out, "  retry after: {seconds} s");
    }
    let hint = match code.as_str() {
        "invalid_admin_token" => Some("the token from --token or $KEYGATE_TOKEN was not accepted"),
        "approval_decided" => {
            Some("it is no longer pending; `keygate approvals show ID` tells who decided and when")
        }
        "submitter_not_allowed" => Some(
            "the key that made the request may no longer make it, so it was not sent and the approval failed",
        ),
        "root_token_required" => {
            Some("only the deployment's root token may do this; give it with --token or $KEYGATE_TOKEN")
        }
        "plan_required" | "scope_not_in_plan" | "limit_exceeds_plan" => Some(
            "the workspace's plan does not allow it; `keygate workspaces show WORKSPACE` shows the plan, and the root token can change it with `keygate workspaces set-plan WORKSPACE PLAN`",
        ),
        _ => None,
    };
    if let Some(hint) = hint {
        let _ = writeln!(out, "  hint: {hint}");
    }
    if let Some(id) = body.get("request_id") {
        let _ = writeln!(out, "  request_id: {}", inline(id));
    }
    out
}
