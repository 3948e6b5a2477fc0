//! Keys: the table, the details, the secret shown once.

use super::{clean, inline, principal, shorten, table, text, time_or};
use serde_json::Value;
use std::fmt::Write as _;

pub(super) const NAME_COLUMN_CHARS: usize = 32;

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

pub(super) fn limits(value: Option<&Value>) -> String {
    let Some(limits) = value.filter(|v| v.is_object()) else {
        return "-".into();
    };
    let count = |field: &str| limits.get(field).map_or_else(|| "-".into(), inline);
    let source = match limits.get("source").and_then(Value::as_str) {
        Some("policy") => " (the policy's default)",
        Some("plan") => " (the plan's default)",
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
    "created_by",
    "expires_at",
    "revoked_at",
    "revoked_by",
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
            "created_by" | "revoked_by" => principal(key.get(*field)),
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
