//! The deployed policy, summarised.

use super::keys::limits;
use super::{clean, inline, table, text};
use serde_json::Value;
use std::fmt::Write as _;

/// `policy show`: the scalar settings, then the resources, the routes, every scope and
/// the plans (the default one marked).
pub fn policy_summary(policy: &Value) -> String {
    let mut out = String::new();
    let Some(object) = policy.as_object() else {
        return format!("{}\n", inline(policy));
    };
    const TABLES: &[&str] = &[
        "resources",
        "routes",
        "scopes",
        "groups",
        "plans",
        "default_plan",
    ];
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
    let plans = list("plans");
    if !plans.is_empty() {
        let default_plan = policy.get("default_plan").and_then(Value::as_str);
        out.push_str("\nplans:\n");
        for plan in &plans {
            let _ = writeln!(out, "  {}", plan_line(plan, default_plan));
        }
    }
    out
}

/// `pro: contacts deals; 60/minute, 10000/day (at most 600/minute, 100000/day)`, or
/// `free (default): no API access`, from a plan as `GET /policy` (and the policy's own
/// description) shows it.
pub fn plan_line(plan: &Value, default_plan: Option<&str>) -> String {
    let name = clean(plan["name"].as_str().unwrap_or_default());
    let default = if default_plan == Some(name.as_str()) {
        " (default)"
    } else {
        ""
    };
    if plan["api_access"] == Value::Bool(false) {
        return format!("{name}{default}: no API access");
    }
    let resources: Vec<String> = plan["resources"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).map(clean).collect())
        .unwrap_or_default();
    let limits =
        |limits: &Value| format!("{}/minute, {}/day", limits["per_minute"], limits["per_day"]);
    let bound = if plan["max_limits"].is_object() {
        format!(" (at most {})", limits(&plan["max_limits"]))
    } else {
        String::new()
    };
    let offered = if resources.is_empty() {
        "no resource".to_string()
    } else {
        resources.join(" ")
    };
    format!(
        "{name}{default}: {offered}; {}{bound}",
        limits(&plan["limits"])
    )
}
