//! The deployed policy, summarised.

use super::keys::limits;
use super::{clean, inline, table, text};
use serde_json::Value;
use std::fmt::Write as _;

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
