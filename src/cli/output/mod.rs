//! What people read: key tables, key details, the one-time secret, approval tables and
//! details (the stored request, the decision, the origin's answer, the webhook), workspace
//! tables and details, policy summaries and refusals. Pure functions from the gateway's JSON to text; nothing here prints.
//!
//! The gateway's JSON is read defensively (a missing or odd field shows as `-`, it never
//! panics), and every string from it passes through [`clean`], so a control character in
//! a name or metadata cannot drive the operator's terminal.

mod approvals;
mod keys;
mod policy;
mod refusal;
mod sessions;
mod workspaces;

pub use approvals::{approval_decision, approval_details, approvals_table};
pub use keys::{key_details, keys_table, webhook_secret_notice, with_secret, Secret};
pub use policy::{plan_line, policy_summary};
pub use refusal::problem;
pub use sessions::{minted_session, sessions_table};
pub use workspaces::{plan_set, workspace_details, workspaces_table};

use serde_json::Value;

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

/// Who did something (`created_by`, `revoked_by`, `decided_by`): `root (the admin token)`,
/// `key Name (key_…)` or `key key_…`, `member Name (id)`; `-` for nobody on record.
pub fn principal(by: Option<&Value>) -> String {
    let Some(by) = by.filter(|by| !by.is_null()) else {
        return "-".into();
    };
    let field = |name: &str| match by.get(name) {
        None | Some(Value::Null) => None,
        Some(value) => Some(inline(value)),
    };
    let label = match (field("name"), field("id")) {
        (Some(name), Some(id)) => format!("{name} ({id})"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "-".into(),
    };
    match by.get("type").and_then(Value::as_str) {
        Some("root") => "root (the admin token)".into(),
        Some("key") => format!("key {label}"),
        Some("member") => format!("member {label}"),
        _ => inline(by),
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

pub(super) fn text(key: &Value, field: &str) -> String {
    key.get(field).map_or_else(|| "-".into(), inline)
}

/// `None` when the field is null or missing: `never` reads better than `-` for times.
pub(super) fn time_or(key: &Value, field: &str, absent: &str) -> String {
    match key.get(field) {
        None | Some(Value::Null) => absent.into(),
        Some(value) => inline(value),
    }
}

pub(super) fn shorten(text: String, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;
