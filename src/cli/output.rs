//! What people read: key tables, key details, the one-time secret, approval tables and
//! details (the stored request, the decision, the origin's answer, the webhook), policy
//! summaries and refusals. Pure functions from the gateway's JSON to text; nothing here prints.
//!
//! The gateway's JSON is read defensively (a missing or odd field shows as `-`, it never
//! panics), and every string from it passes through [`clean`], so a control character in
//! a name or metadata cannot drive the operator's terminal.

use serde_json::Value;
use std::fmt::Write as _;

/// A value from the gateway as one line of plain text: control characters are escaped.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A JSON value on one line for people: strings bare, lists comma-separated, objects as
/// `name: value` pairs, null as `-`.
pub fn inline(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => clean(s),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        Value::Object(map) if map.is_empty() => "-".into(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", clean(k), inline(v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Re-indents JSON text the way `serde_json::to_string_pretty` would, but keeps the
/// gateway's field order and number spelling: `--json` shows the answer as it came.
/// The text must already be known to be valid JSON.
pub fn pretty_json(text: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                out.push(c);
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Columns padded to their widest cell (counted in characters), two spaces apart, with no
/// trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn text(key: &Value, field: &str) -> String {
    key.get(field).map_or_else(|| "-".into(), inline)
}

/// `None` when the field is null or missing: `never` reads better than `-` for times.
fn time_or(key: &Value, field: &str, absent: &str) -> String {
    match key.get(field) {
        None | Some(Value::Null) => absent.into(),
        Some(value) => inline(value),
    }
}

fn shorten(text: String, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

const NAME_COLUMN_CHARS: usize = 32;

/// `keys list`: one line per key, newest first as the gateway sends them.
pub fn keys_table(keys: &[Value]) -> String {
    if keys.is_empty() {
        return "no keys\n".into();
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            let scopes = match key.get("scopes") {
                Some(Value::Array(list)) if !list.is_empty() => {
                    list.iter().map(inline).collect::<Vec<_>>().join(",")
                }
                _ => "-".into(),
            };
            vec![
                text(key, "id"),
                shorten(text(key, "name"), NAME_COLUMN_CHARS),
                text(key, "workspace"),
                text(key, "status"),
                text(key, "hint"),
                scopes,
                time_or(key, "last_used_at", "never"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "WORKSPACE",
            "STATUS",
            "HINT",
            "SCOPES",
            "LAST USED",
        ],
        &rows,
    )
}

fn limits(value: Option<&Value>) -> String {
    let Some(limits) = value.filter(|v| v.is_object()) else {
        return "-".into();
    };
    let count = |field: &str| limits.get(field).map_or_else(|| "-".into(), inline);
    let source = match limits.get("source").and_then(Value::as_str) {
        Some("policy") => " (the policy's default)",
        Some("key") => " (the key's own)",
        _ => "",
    };
    format!(
        "{}/min, {}/day{source}",
        count("per_minute"),
        count("per_day")
    )
}

/// Fields of a key object in the order people look for them.
const KEY_FIELDS: &[&str] = &[
    "id",
    "name",
    "hint",
    "workspace",
    "status",
    "environment",
    "scopes",
    "limits",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "metadata",
    "rejection_webhook",
];

/// Fields shown elsewhere (the secret and rotation notice) or below (usage).
const NOT_DETAILS: &[&str] = &[
    "key",
    "previous_key_valid_until",
    "rejection_webhook_secret",
    "previous_webhook_secret_valid_until",
    "usage",
];

/// The webhook signing secret an answer issued, on a line of its own with the warning that
/// it is never shown again (and, after a rotation, until when the previous one signs);
/// empty when the answer issued none.
pub fn webhook_secret_notice(body: &Value) -> String {
    let Some(secret) = body.get("rejection_webhook_secret").and_then(Value::as_str) else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nThe rejection webhook's signing secret:\n\n    {}\n",
        clean(secret)
    );
    let _ = writeln!(
        out,
        "It is shown once — give it to the webhook's receiver now; keygate cannot show it again."
    );
    if body.get("previous_webhook_secret_valid_until").is_some() {
        let _ = writeln!(
            out,
            "Deliveries carry the previous secret's signature too until {}.",
            time_or(body, "previous_webhook_secret_valid_until", "-")
        );
    }
    out
}

/// `keys show` and the key after every change: one `field: value` per line, usage included.
/// Fields this version does not know are shown too, after the known ones.
pub fn key_details(key: &Value) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    for field in KEY_FIELDS {
        let value = match *field {
            "limits" => limits(key.get("limits")),
            "expires_at" => time_or(key, field, "never"),
            "last_used_at" => time_or(key, field, "never"),
            "metadata" => match key.get("metadata") {
                Some(object @ Value::Object(_)) => clean(&object.to_string()),
                other => other.map_or_else(|| "-".into(), inline),
            },
            _ => text(key, field),
        };
        lines.push((field.to_string(), value));
    }
    if let Some(object) = key.as_object() {
        for (field, value) in object {
            if !KEY_FIELDS.contains(&field.as_str()) && !NOT_DETAILS.contains(&field.as_str()) {
                lines.push((clean(field), inline(value)));
            }
        }
    }
    if let Some(usage) = key.get("usage").and_then(Value::as_object) {
        for (window, count) in usage {
            lines.push((format!("usage.{}", clean(window)), inline(count)));
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
    out
}

/// What a secret was just made by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    Created,
    Rotated,
}

/// The create or rotate answer: the secret on a line of its own, the warning that it is
/// never shown again, then the key.
pub fn with_secret(body: &Value, made_by: Secret) -> String {
    let mut out = String::new();
    let id = text(body, "id");
    let _ = match made_by {
        Secret::Created => writeln!(out, "Created key {id} ({}).", text(body, "name")),
        Secret::Rotated => writeln!(out, "Rotated key {id}: it has a new secret."),
    };
    match body.get("key").and_then(Value::as_str) {
        Some(secret) => {
            let _ = writeln!(out, "\n    {}\n", clean(secret));
            let _ = writeln!(
                out,
                "This secret is shown once — store it now. keygate keeps only a hash of it and cannot show it again."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\nThe gateway's answer carries no secret (`key`); rotate the key to get one."
            );
        }
    }
    out.push_str(&webhook_secret_notice(body));
    if made_by == Secret::Rotated {
        let _ = writeln!(
            out,
            "The previous secret keeps working until {}.",
            time_or(body, "previous_key_valid_until", "-")
        );
    }
    out.push('\n');
    out.push_str(&key_details(body));
    out
}

const PATH_COLUMN_CHARS: usize = 40;

/// `Name (key_…)`, or whichever of the two is there, from an object with `key_name` and
/// `key_id` (an approval, or the key that decided it).
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

/// Who decided: the root token, or a key by name and id.
fn reviewer(decided_by: Option<&Value>) -> String {
    match decided_by {
        None | Some(Value::Null) => "-".into(),
        Some(by) => match by.get("type").and_then(Value::as_str) {
            Some("root") => "root (the admin token)".into(),
            Some("key") => format!("key {}", key_label(by)),
            _ => inline(by),
        },
    }
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
        ("decided_by".into(), reviewer(approval.get("decided_by"))),
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

/// `policy show`: the scalar settings, then the resources, the routes and every scope.
pub fn policy_summary(policy: &Value) -> String {
    let mut out = String::new();
    let Some(object) = policy.as_object() else {
        return format!("{}\n", inline(policy));
    };
    const TABLES: &[&str] = &["resources", "routes", "scopes", "groups"];
    let settings: Vec<(String, String)> = object
        .iter()
        .filter(|(field, _)| !TABLES.contains(&field.as_str()))
        .map(|(field, value)| {
            let shown = match field.as_str() {
                "limits" => limits(Some(value)),
                _ => inline(value),
            };
            (clean(field), shown)
        })
        .collect();
    let width = settings
        .iter()
        .map(|(f, _)| f.chars().count())
        .max()
        .unwrap_or(0);
    for (field, value) in settings {
        let label = format!("{field}:");
        let _ = writeln!(out, "{label:<w$} {value}", w = width + 1);
    }
    let list = |field: &str| -> Vec<Value> {
        policy
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let resources: Vec<Vec<String>> = list("resources")
        .iter()
        .map(|r| {
            let levels = match r.get("levels") {
                Some(Value::Array(levels)) => {
                    levels.iter().map(inline).collect::<Vec<_>>().join(" < ")
                }
                _ => "-".into(),
            };
            vec![
                text(r, "name"),
                text(r, "kind"),
                levels,
                text(r, "group"),
                text(r, "description"),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "\n{}",
        table(
            &["RESOURCE", "KIND", "LEVELS", "GROUP", "DESCRIPTION"],
            &resources
        )
    );
    let routes: Vec<Vec<String>> = list("routes")
        .iter()
        .map(|r| {
            vec![
                text(r, "method"),
                text(r, "path"),
                text(r, "resource"),
                text(r, "action"),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "\n{}",
        table(&["METHOD", "PATH", "RESOURCE", "ACTION"], &routes)
    );
    let scopes = list("scopes");
    let _ = writeln!(out, "\nscopes ({}):", scopes.len());
    for scope in &scopes {
        let _ = writeln!(out, "  {}", inline(scope));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn key() -> Value {
        json!({
            "id": "key_5C6oug3qxDqDYRHASGJgAo",
            "name": "Zapier",
            "hint": "kg_live_…IdkV",
            "workspace": "acme",
            "scopes": ["contacts:read", "email:send"],
            "status": "active",
            "environment": "live",
            "created_at": "2030-01-01T00:00:00Z",
            "expires_at": null,
            "revoked_at": null,
            "last_used_at": null,
            "limits": {"per_minute": 120, "per_day": 50000, "source": "policy"},
            "metadata": {"team": "growth"},
            "rejection_webhook": null
        })
    }

    #[test]
    fn tables_align_columns_by_characters_without_trailing_spaces() {
        let text = table(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["…x".into(), "b".into(), "".into()],
                vec!["wide cell".into(), "".into(), "z".into()],
            ],
        );
        assert_eq!(
            text,
            "A          LONG HEADER  C\n…x         b\nwide cell               z\n"
        );
    }

    #[test]
    fn keys_table_has_the_documented_columns() {
        let mut used = key();
        used["id"] = json!("key_000000000000000000000B");
        used["name"] = json!("A name that is far too long for the table's name column");
        used["status"] = json!("revoked");
        used["last_used_at"] = json!("2030-01-02T03:04:05Z");
        used["scopes"] = json!([]);
        let text = keys_table(&[key(), used]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "ID",
                "NAME",
                "WORKSPACE",
                "STATUS",
                "HINT",
                "SCOPES",
                "LAST",
                "USED"
            ]
        );
        assert!(lines[1].starts_with("key_5C6oug3qxDqDYRHASGJgAo  Zapier "));
        assert!(lines[1].contains("  acme  "));
        assert!(lines[1].contains("kg_live_…IdkV  contacts:read,email:send  never"));
        assert!(lines[2].contains("A name that is far too long for…"));
        assert!(lines[2].contains("revoked"));
        assert!(lines[2].contains("kg_live_…IdkV  -    "));
        assert!(lines[2].ends_with("  2030-01-02T03:04:05Z"));
        // Every row starts its columns at the same character offsets.
        let column = |line: &str, needle: &str| {
            line.chars().count() - line[line.find(needle).unwrap()..].chars().count()
        };
        assert_eq!(column(lines[0], "STATUS"), column(lines[1], "active"));
        assert_eq!(column(lines[0], "STATUS"), column(lines[2], "revoked"));
    }

    #[test]
    fn an_empty_list_says_so() {
        assert_eq!(keys_table(&[]), "no keys\n");
    }

    #[test]
    fn details_show_every_field_and_usage() {
        let mut k = key();
        k["usage"] = json!({"last_24h": 3, "last_7d": 40, "last_30d": 100});
        k["future_field"] = json!("x");
        let text = key_details(&k);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id:                key_5C6oug3qxDqDYRHASGJgAo");
        for expected in [
            "name:              Zapier",
            "scopes:            contacts:read, email:send",
            "limits:            120/min, 50000/day (the policy's default)",
            "expires_at:        never",
            "revoked_at:        -",
            "last_used_at:      never",
            "metadata:          {\"team\":\"growth\"}",
            "rejection_webhook: -",
            "future_field:      x",
            "usage.last_24h:    3",
            "usage.last_7d:     40",
            "usage.last_30d:    100",
        ] {
            assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn details_survive_odd_answers() {
        let text = key_details(&json!({"limits": "?", "metadata": 3}));
        assert!(text.contains("id:"));
        assert!(text.contains("limits:            -"), "{text}");
        assert!(key_details(&json!([1])).contains("name:"));
    }

    #[test]
    fn own_limits_say_so() {
        assert_eq!(
            limits(Some(
                &json!({"per_minute": 5, "per_day": 10, "source": "key"})
            )),
            "5/min, 10/day (the key's own)"
        );
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(clean("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        let mut k = key();
        k["name"] = json!("evil\u{1b}]0;title\u{7}");
        assert!(!keys_table(&[k.clone()]).contains('\u{1b}'));
        assert!(!key_details(&k).contains('\u{1b}'));
    }

    #[test]
    fn a_created_secret_is_prominent_and_marked_once() {
        let mut body = key();
        body["key"] = json!("kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv");
        let text = with_secret(&body, Secret::Created);
        assert!(text.starts_with("Created key key_5C6oug3qxDqDYRHASGJgAo (Zapier).\n\n    kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv\n\n"));
        assert!(text.contains("shown once — store it now"));
        assert!(text.contains("id:                key_5C6oug3qxDqDYRHASGJgAo"));
        assert!(
            !text.contains("key:  "),
            "the secret is not repeated as a field"
        );
    }

    #[test]
    fn a_rotation_says_until_when_the_old_secret_works() {
        let mut body = key();
        body["key"] = json!("kg_live_new");
        body["previous_key_valid_until"] = json!("2030-01-01T01:00:00Z");
        let text = with_secret(&body, Secret::Rotated);
        assert!(text.contains("\n    kg_live_new\n"));
        assert!(text.contains("The previous secret keeps working until 2030-01-01T01:00:00Z."));
        assert!(!text.contains("previous_key_valid_until:"));
    }

    #[test]
    fn field_errors_are_one_per_line() {
        let body = json!({
            "type": "urn:keygate:problem:invalid_request", "title": "Bad Request", "status": 400,
            "code": "invalid_request", "detail": "2 fields are invalid; see `errors`",
            "request_id": "req_1",
            "errors": [{"field": "name", "message": "is required"},
                       {"field": "limits.per_minute", "message": "must be a whole number of at least 1"}]
        });
        assert_eq!(
            problem(&body, 400, None),
            "keygate: the gateway refused (400 invalid_request): 2 fields are invalid; see `errors`\n\
             \x20 name: is required\n\
             \x20 limits.per_minute: must be a whole number of at least 1\n\
             \x20 request_id: req_1\n"
        );
    }

    #[test]
    fn unknown_scopes_list_the_unknown_and_the_valid() {
        let body = json!({
            "status": 400, "code": "unknown_scopes",
            "detail": "unknown scope(s): `contacts:admin`; see `valid_scopes`",
            "unknown_scopes": ["contacts:admin"],
            "valid_scopes": ["contacts:read", "contacts:write", "admin"],
            "request_id": "req_2"
        });
        let text = problem(&body, 400, None);
        assert!(
            text.contains("\n  unknown scopes: contacts:admin\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  valid scopes: contacts:read, contacts:write, admin\n"),
            "{text}"
        );
    }

    #[test]
    fn retry_after_extra_fields_and_token_hints() {
        let limited =
            json!({"status": 429, "code": "rate_limited", "detail": "wait", "retry_after": 17});
        assert!(problem(&limited, 429, Some("17")).contains("  retry after: 17 s\n"));
        assert!(problem(&limited, 429, None).contains("  retry after: 17 s\n"));

        let beyond =
            json!({"status": 403, "code": "scope_exceeds_own", "detail": "no", "scope": "admin"});
        assert!(problem(&beyond, 403, None).contains("\n  scope: admin\n"));

        let token = json!({"status": 401, "code": "invalid_admin_token", "detail": "send it"});
        assert!(
            problem(&token, 401, None).contains("hint: the token from --token or $KEYGATE_TOKEN")
        );
    }

    #[test]
    fn a_json_error_that_is_not_a_problem_still_reads() {
        let text = problem(&json!({"error": "boom"}), 500, None);
        assert!(
            text.starts_with("keygate: the gateway refused (500 -): (no detail)\n"),
            "{text}"
        );
        assert!(text.contains("  error: boom\n"));
    }

    #[test]
    fn policy_summary_shows_settings_tables_and_scopes() {
        let policy = json!({
            "key_prefix": "kg",
            "limits": {"per_minute": 120, "per_day": 50000},
            "lifecycle": {"edit": true, "revoke": true, "reactivate": false, "rotate": true},
            "resources": [{"name": "contacts", "kind": "ladder", "levels": ["read", "write"], "group": null, "description": "People"}],
            "routes": [{"method": "GET", "path": "/v1/contacts", "resource": "contacts", "action": "read"}],
            "scopes": ["contacts:read", "contacts:write"],
            "groups": []
        });
        let text = policy_summary(&policy);
        assert!(text.contains("key_prefix: kg\n"), "{text}");
        assert!(text.contains("limits:     120/min, 50000/day\n"), "{text}");
        assert!(text.contains("reactivate: false"), "{text}");
        assert!(
            text.contains("contacts  ladder  read < write  -      People\n"),
            "{text}"
        );
        assert!(
            text.contains("GET     /v1/contacts  contacts  read\n"),
            "{text}"
        );
        assert!(
            text.ends_with("scopes (2):\n  contacts:read\n  contacts:write\n"),
            "{text}"
        );
    }

    #[test]
    fn pretty_json_keeps_field_order_and_number_spelling() {
        let text = r#"{"z":1,"a":[],"m":{},"n":1.50,"s":"a,b:{\"c\"}","l":[1,{"x":null}]}"#;
        assert_eq!(
            pretty_json(text),
            "{\n  \"z\": 1,\n  \"a\": [],\n  \"m\": {},\n  \"n\": 1.50,\n  \"s\": \"a,b:{\\\"c\\\"}\",\n  \"l\": [\n    1,\n    {\n      \"x\": null\n    }\n  ]\n}"
        );
        assert_eq!(pretty_json(" [ ] "), "[]");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[ -~\\\\\"\u{e9}\u{2014}\n\t]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z,:{}\" ]{0,5}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// For compact input, the re-indenter agrees exactly with serde_json's pretty printer.
        #[test]
        fn pretty_json_matches_serde_json(value in json_value()) {
            let compact = serde_json::to_string(&value).unwrap();
            prop_assert_eq!(pretty_json(&compact), serde_json::to_string_pretty(&value).unwrap());
            let spaced = serde_json::to_string_pretty(&value).unwrap();
            prop_assert_eq!(pretty_json(&spaced), serde_json::to_string_pretty(&value).unwrap());
        }
    }
}
