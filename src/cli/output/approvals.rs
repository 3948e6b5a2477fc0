//! Approvals: the table, the details (the stored request, the decision, the origin's
//! answer, the webhook) and a decision's outcome.

use super::keys::NAME_COLUMN_CHARS;
use super::{clean, inline, principal, shorten, table, text};
use serde_json::Value;
use std::fmt::Write as _;

const PATH_COLUMN_CHARS: usize = 40;

/// `Name (key_…)`, or whichever of the two is there, from an object with `key_name` and
/// `key_id`: the key that submitted an approval.
fn key_label(object: &Value) -> String {
    let present = |field: &str| match object.get(field) {
        None | Some(Value::Null) => None,
        Some(value) => Some(inline(value)),
    };
    match (present("key_name"), present("key_id")) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "-".into(),
    }
}

/// `approvals list`: one line per approval, newest first as the gateway sends them. The key
/// is shown by name (by id when it has none); `approvals show` has both.
pub fn approvals_table(approvals: &[Value]) -> String {
    if approvals.is_empty() {
        return "no approvals\n".into();
    }
    let rows: Vec<Vec<String>> = approvals
        .iter()
        .map(|approval| {
            let key = match approval.get("key_name") {
                None | Some(Value::Null) => text(approval, "key_id"),
                Some(name) => inline(name),
            };
            vec![
                text(approval, "id"),
                text(approval, "status"),
                text(approval, "method"),
                shorten(text(approval, "path"), PATH_COLUMN_CHARS),
                shorten(key, NAME_COLUMN_CHARS),
                text(approval, "workspace"),
                text(approval, "created_at"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATUS",
            "METHOD",
            "PATH",
            "KEY",
            "WORKSPACE",
            "CREATED",
        ],
        &rows,
    )
}

/// `POST /v1/contacts?a=1`: the stored request's method, path and query.
fn request_line(approval: &Value) -> String {
    let mut line = format!("{} {}", text(approval, "method"), text(approval, "path"));
    if let Some(Value::String(query)) = approval.get("query") {
        if !query.is_empty() {
            line.push('?');
            line.push_str(&clean(query));
        }
    }
    line
}

/// What sending the approved request gave: the origin's status, or why it did not complete.
fn result_summary(result: Option<&Value>) -> String {
    let Some(result) = result.filter(|r| !r.is_null()) else {
        return "-".into();
    };
    if let Some(status) = result.get("origin_status") {
        return format!("the origin answered {}", inline(status));
    }
    let Some(error) = result.get("error").map(inline) else {
        return inline(result);
    };
    let detail = match result.get("detail") {
        None | Some(Value::Null) => String::new(),
        Some(detail) => format!(": {}", inline(detail)),
    };
    let what = match error.as_str() {
        "origin_unreachable" | "origin_timeout" => "sent, but the origin failed",
        "key_revoked" | "key_expired" | "key_deleted" | "scope_lost" => "not sent",
        _ => "error",
    };
    format!("{what} ({error}){detail}")
}

/// The rejection webhook's delivery: its state, then whichever details are known.
fn webhook_summary(webhook: Option<&Value>) -> String {
    let Some(webhook) = webhook.filter(|w| !w.is_null()) else {
        return "-".into();
    };
    if !webhook.is_object() {
        return inline(webhook);
    }
    let mut parts = vec![text(webhook, "status")];
    match webhook.get("attempts") {
        Some(n) if n.as_u64() == Some(1) => parts.push("1 attempt".into()),
        Some(n) if !n.is_null() => parts.push(format!("{} attempts", inline(n))),
        _ => {}
    }
    for (field, said) in [
        ("delivered_at", "delivered at"),
        ("last_attempt_at", "last attempt at"),
        ("last_error", "last error:"),
    ] {
        if let Some(value) = webhook.get(field).filter(|v| !v.is_null()) {
            parts.push(format!("{said} {}", inline(value)));
        }
    }
    parts.join(", ")
}

/// A stored body as an indented block: UTF-8 text line by line, base64 in lines of 76
/// characters, each line cleaned. The heading says which, with the size when known and
/// whether it was cut.
fn body_block(
    out: &mut String,
    name: &str,
    body: Option<&Value>,
    encoding: Option<&Value>,
    size: Option<String>,
    truncated: bool,
) {
    let body = match body {
        None | Some(Value::Null) => {
            let _ = writeln!(out, "{name}: -");
            return;
        }
        Some(Value::String(body)) => body.as_str(),
        Some(other) => {
            let _ = writeln!(out, "{name}: {}", inline(other));
            return;
        }
    };
    let mut about: Vec<String> = size.into_iter().collect();
    let base64 = encoding.and_then(Value::as_str) == Some("base64");
    about.push(match encoding {
        Some(Value::String(e)) if e == "base64" => "base64-encoded: not UTF-8 text".into(),
        Some(Value::String(e)) if e == "utf8" => "UTF-8 text".into(),
        None | Some(Value::Null) => "encoding not given".into(),
        Some(other) => format!("encoding {}", inline(other)),
    });
    if truncated {
        about.push("truncated to the first 64 KiB".into());
    }
    if body.is_empty() {
        let _ = writeln!(out, "{name}: (empty)");
        return;
    }
    let _ = writeln!(out, "{name} ({}):", about.join(", "));
    if base64 {
        let chars: Vec<char> = body.chars().collect();
        for line in chars.chunks(76) {
            let _ = writeln!(out, "  {}", clean(&line.iter().collect::<String>()));
        }
    } else {
        for line in body.split('\n') {
            let line = clean(line.strip_suffix('\r').unwrap_or(line));
            // An empty line gets no indent: no trailing spaces that are not the body's.
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
}

/// Fields of an approval shown on their own line or in a block; any other field is listed
/// after them.
const APPROVAL_FIELDS: &[&str] = &[
    "id",
    "status",
    "workspace",
    "key_id",
    "key_name",
    "environment",
    "required_scope",
    "method",
    "path",
    "query",
    "headers",
    "body",
    "body_encoding",
    "body_bytes",
    "created_at",
    "expires_at",
    "decided_at",
    "decided_by",
    "reason",
    "result",
    "webhook",
];

/// `approvals show` and the approval after a decision: the fields one per line, then the
/// request's headers and body and the origin's body, each as a block.
pub fn approval_details(approval: &Value) -> String {
    let mut lines: Vec<(String, String)> = vec![
        ("id".into(), text(approval, "id")),
        ("status".into(), text(approval, "status")),
        ("workspace".into(), text(approval, "workspace")),
        ("key".into(), key_label(approval)),
        ("environment".into(), text(approval, "environment")),
        ("required_scope".into(), text(approval, "required_scope")),
        ("request".into(), request_line(approval)),
        ("created_at".into(), text(approval, "created_at")),
        ("expires_at".into(), text(approval, "expires_at")),
        ("decided_at".into(), text(approval, "decided_at")),
        ("decided_by".into(), principal(approval.get("decided_by"))),
        ("reason".into(), text(approval, "reason")),
        ("result".into(), result_summary(approval.get("result"))),
        ("webhook".into(), webhook_summary(approval.get("webhook"))),
    ];
    if let Some(object) = approval.as_object() {
        for (field, value) in object {
            if !APPROVAL_FIELDS.contains(&field.as_str()) {
                lines.push((clean(field), inline(value)));
            }
        }
    }
    let width = lines
        .iter()
        .map(|(f, _)| f.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (field, value) in lines {
        let label = format!("{field}:");
        let _ = writeln!(out, "{label:<w$} {value}", w = width + 1);
    }
    // List items carry neither headers nor body; say nothing rather than "-" for them.
    if let Some(headers) = approval.get("headers") {
        match headers.as_object() {
            Some(map) if !map.is_empty() => {
                let _ = writeln!(out, "headers:");
                for (name, value) in map {
                    let _ = writeln!(out, "  {}: {}", clean(name), inline(value));
                }
            }
            _ => {
                let _ = writeln!(out, "headers: {}", inline(headers));
            }
        }
    }
    if approval.get("body").is_some() {
        let size = match approval.get("body_bytes") {
            Some(n) if n.as_u64() == Some(1) => Some("1 byte".to_string()),
            Some(n) if !n.is_null() => Some(format!("{} bytes", inline(n))),
            _ => None,
        };
        body_block(
            &mut out,
            "body",
            approval.get("body"),
            approval.get("body_encoding"),
            size,
            false,
        );
    }
    if let Some(result) = approval.get("result").filter(|r| r.get("body").is_some()) {
        body_block(
            &mut out,
            "origin's body",
            result.get("body"),
            result.get("body_encoding"),
            None,
            result.get("body_truncated") == Some(&Value::Bool(true)),
        );
    }
    out
}

/// The answer to `approvals approve` or `reject`: what happened in one sentence, then the
/// approval.
pub fn approval_decision(approval: &Value) -> String {
    let id = text(approval, "id");
    let status = approval.get("status").and_then(Value::as_str);
    let result = approval.get("result").filter(|r| !r.is_null());
    let headline = match status {
        Some("approved") => match result {
            Some(r) if r.get("origin_status").is_some() => format!(
                "Approved {id}: the request was sent and the origin answered {}.",
                text(r, "origin_status")
            ),
            Some(r) => format!(
                "Approved {id}, but the request did not complete: {}.",
                result_summary(Some(r))
            ),
            None => format!("Approved {id}."),
        },
        Some("rejected") => match approval.get("webhook").filter(|w| !w.is_null()) {
            Some(_) => format!("Rejected {id}. The key's rejection webhook is told shortly."),
            None => format!("Rejected {id}. The key has no rejection webhook to tell."),
        },
        Some("failed") => format!(
            "Approval {id} failed: {}.",
            result_summary(approval.get("result"))
        ),
        _ => format!("Approval {id} is now {}.", text(approval, "status")),
    };
    format!("{headline}\n\n{}", approval_details(approval))
}
