//! Workspaces: the table, the details, and how far a plan change has reached the keys.

use super::{clean, inline, table, text, time_or};
use serde_json::Value;
use std::fmt::Write as _;

/// `yes`/`no` for a boolean, as the gateway's JSON gives it; anything else as is.
fn yes_no(workspace: &Value, field: &str) -> String {
    match workspace.get(field) {
        Some(Value::Bool(true)) => "yes".into(),
        Some(Value::Bool(false)) => "no".into(),
        other => other.map_or_else(|| "-".into(), inline),
    }
}

/// The plan and where it comes from: `pro`, `free (the policy's default)`, or `-` for a
/// policy without plans.
fn plan(workspace: &Value) -> String {
    let name = text(workspace, "plan");
    match workspace.get("plan_source").and_then(Value::as_str) {
        Some("default") if name != "-" => format!("{name} (the policy's default)"),
        _ => name,
    }
}

/// `workspaces list`: one line per workspace, newest first as the gateway sends them.
pub fn workspaces_table(workspaces: &[Value]) -> String {
    if workspaces.is_empty() {
        return "no workspaces\n".into();
    }
    let rows: Vec<Vec<String>> = workspaces
        .iter()
        .map(|workspace| {
            vec![
                text(workspace, "id"),
                text(workspace, "plan"),
                text(workspace, "plan_source"),
                yes_no(workspace, "api_access"),
                text(workspace, "created_at"),
                time_or(workspace, "plan_set_at", "never"),
            ]
        })
        .collect();
    table(
        &[
            "WORKSPACE",
            "PLAN",
            "SOURCE",
            "API ACCESS",
            "CREATED",
            "PLAN SET",
        ],
        &rows,
    )
}

/// Fields of a workspace in the order people look for them; `plan_source` is said with
/// the plan.
const WORKSPACE_FIELDS: &[&str] = &["id", "plan", "api_access", "created_at", "plan_set_at"];

/// Shown by [`plan_set`] itself, or with the plan.
const NOT_DETAILS: &[&str] = &["plan_source", "keys_updated", "keys_pending"];

/// `workspaces show`: one `field: value` per line. Fields this version does not know are
/// shown too, after the known ones.
pub fn workspace_details(workspace: &Value) -> String {
    let mut lines: Vec<(String, String)> = WORKSPACE_FIELDS
        .iter()
        .map(|field| {
            let value = match *field {
                "plan" => plan(workspace),
                "api_access" => yes_no(workspace, field),
                "plan_set_at" => time_or(workspace, field, "never"),
                _ => text(workspace, field),
            };
            (field.to_string(), value)
        })
        .collect();
    if let Some(object) = workspace.as_object() {
        for (field, value) in object {
            let known =
                WORKSPACE_FIELDS.contains(&field.as_str()) || NOT_DETAILS.contains(&field.as_str());
            if !known {
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
    out
}

/// `workspaces set-plan`: what the workspace is on now, how many of its keys have the
/// change and how many are still being told, then the workspace.
pub fn plan_set(body: &Value) -> String {
    let mut out = format!(
        "Workspace {} is on plan {}.\n",
        text(body, "id"),
        text(body, "plan")
    );
    let count = |field: &str| body.get(field).and_then(Value::as_u64);
    match (count("keys_updated"), count("keys_pending")) {
        (Some(0), Some(0)) => {
            let _ = writeln!(out, "The workspace has no keys yet.");
        }
        (Some(updated), Some(0)) => {
            let _ = writeln!(
                out,
                "Every key of the workspace has it ({updated} updated)."
            );
        }
        (Some(updated), Some(pending)) => {
            let _ = writeln!(
                out,
                "{updated} of its keys have it; {pending} are still being told (keygate retries until each has it)."
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "keys updated: {}, pending: {}",
                text(body, "keys_updated"),
                text(body, "keys_pending")
            );
        }
    }
    out.push('\n');
    out.push_str(&workspace_details(body));
    out
}
