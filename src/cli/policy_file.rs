//! `keygate policy check FILE`, `keygate policy compile FILE` and `keygate policy diff OLD
//! NEW`: commands on policy files, offline. The analysis is [`crate::policy::lint`] and [`crate::policy::diff`]; this only
//! reads the files and prints.

use super::exit::Exit;
use super::output::plan_line;
use crate::policy::diff::diff;
use crate::policy::lint::{check, Checked, Finding, Severity};
use crate::policy::{compile, Policy};
use crate::portal::PortalSettings;
use serde_json::Value;
use std::io::Write;

/// `keygate policy check FILE`: the Worker's own validation (every syntax error that can be
/// found, every broken rule), then routes that would not work as written; on success the
/// scopes keys can be granted, one resource per line, and the portal's branding where the
/// policy sets any.
pub fn check_policy(path: &str, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let Some(Passed {
        policy, warnings, ..
    }) = read_checked(path, err)
    else {
        return Exit::Refused;
    };
    let description = policy.describe();
    let count = |field: &str| description[field].as_array().map_or(0, Vec::len);
    let _ = writeln!(
        out,
        "{path}: ok ({} resources, {} routes, {} scopes)",
        count("resources"),
        count("routes"),
        count("scopes")
    );
    let _ = write!(out, "{}", scope_lines(&description));
    if policy.portal() != &PortalSettings::default() {
        let _ = writeln!(out, "{}", portal_line(&description["portal"]));
    }
    print_warnings(path, &warnings, err);
    Exit::Done
}

/// `keygate policy compile FILE`: what `policy check` refuses is refused the same way;
/// otherwise the compiled form on stdout, one line, and the warnings on stderr.
pub fn compile_policy(path: &str, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let Some(Passed { text, warnings, .. }) = read_checked(path, err) else {
        return Exit::Refused;
    };
    print_warnings(path, &warnings, err);
    match compile(&text) {
        Ok(compiled) => {
            let _ = writeln!(out, "{compiled}");
            Exit::Done
        }
        // Not expected: the check above loaded the same text.
        Err(error) => {
            let _ = writeln!(err, "{path}: invalid policy\n  {error}");
            Exit::Refused
        }
    }
}

/// A policy file that passed `policy check`.
struct Passed {
    text: String,
    policy: Box<Policy>,
    /// What the checker found that is only worth a look.
    warnings: Vec<Finding>,
}

/// The file and its policy when it passes `policy check`; `None`, with every refusal and
/// error printed to `err`, when it does not.
fn read_checked(path: &str, err: &mut dyn Write) -> Option<Passed> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            let _ = writeln!(err, "keygate: cannot read {path}: {error}");
            return None;
        }
    };
    match check(&text) {
        Checked::Refused(refusals) => {
            let _ = writeln!(err, "{path}: invalid policy");
            for refusal in refusals {
                let _ = writeln!(err, "  {refusal}");
            }
            None
        }
        Checked::Loaded { findings, .. }
            if findings.iter().any(|f| f.severity == Severity::Error) =>
        {
            let _ = writeln!(err, "{path}: invalid policy");
            for finding in findings {
                let _ = writeln!(err, "  {finding}");
            }
            None
        }
        Checked::Loaded { policy, findings } => Some(Passed {
            text,
            policy,
            warnings: findings,
        }),
    }
}

fn print_warnings(path: &str, warnings: &[Finding], err: &mut dyn Write) {
    for finding in warnings {
        let _ = writeln!(err, "{path}: {finding}");
    }
}

/// `scopes:` and then each resource's scopes low to high (unless `fine_scopes` is off), and
/// the coarse scopes, a line each; then `plans:` and a line per plan, when there are plans.
fn scope_lines(description: &Value) -> String {
    let mut text = String::from("scopes:\n");
    let empty = Vec::new();
    let fine = description["fine_scopes"].as_bool().unwrap_or(true);
    let resources = if fine {
        description["resources"].as_array().unwrap_or(&empty)
    } else {
        &empty
    };
    for resource in resources {
        let name = resource["name"].as_str().unwrap_or_default();
        let levels: Vec<String> = resource["levels"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(Value::as_str)
            .map(|level| format!("{name}:{level}"))
            .collect();
        text.push_str(&format!("  {}\n", levels.join(" ")));
    }
    let coarse: Vec<&str> = description["coarse_scopes"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !coarse.is_empty() {
        text.push_str(&format!("  {}\n", coarse.join(" ")));
    }
    let plans = description["plans"].as_array().unwrap_or(&empty);
    if !plans.is_empty() {
        text.push_str("plans:\n");
    }
    let default_plan = description["default_plan"].as_str();
    for plan in plans {
        text.push_str(&format!("  {}\n", plan_line(plan, default_plan)));
    }
    text
}

/// `portal: "<title>", accent #rrggbb, logo …, billing …, docs …, framed by …`: the
/// `[portal]` table in one line, the links only where set.
fn portal_line(portal: &Value) -> String {
    let mut line = format!(
        "portal: {}, accent {}",
        portal["title"],
        portal["accent_color"].as_str().unwrap_or_default()
    );
    for (field, label) in [
        ("logo_url", "logo"),
        ("billing_url", "billing"),
        ("docs_url", "docs"),
    ] {
        if let Some(link) = portal[field].as_str() {
            line.push_str(&format!(", {label} {link}"));
        }
    }
    let ancestors: Vec<&str> = portal["frame_ancestors"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ancestors.is_empty() {
        line.push_str(", framed by no site");
    } else {
        line.push_str(&format!(", framed by {}", ancestors.join(" ")));
    }
    line
}

/// `keygate policy diff OLD NEW`: exit 0 when existing keys see no difference, 1 when some
/// change affects them (each printed), 2 when a file cannot be read or loaded.
pub fn diff_policies(old: &str, new: &str, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let (Some(before), Some(after)) = (load(old, err), load(new, err)) else {
        return Exit::Usage;
    };
    let changes = diff(&before, &after);
    let (affecting, other): (Vec<_>, Vec<_>) = changes.iter().partition(|c| c.affects_keys);
    if !affecting.is_empty() {
        let _ = writeln!(
            out,
            "{new} over {old}: {} change(s) affect existing keys:",
            affecting.len()
        );
        for change in &affecting {
            let _ = writeln!(out, "  {}: {}", change.subject, change.message);
        }
    } else {
        let _ = writeln!(out, "{new} over {old}: no change affects existing keys");
    }
    if !other.is_empty() {
        let _ = writeln!(out, "Changes existing keys do not see:");
        for change in &other {
            let _ = writeln!(out, "  {}: {}", change.subject, change.message);
        }
    }
    if affecting.is_empty() {
        Exit::Done
    } else {
        Exit::Refused
    }
}

fn load(path: &str, err: &mut dyn Write) -> Option<Policy> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            let _ = writeln!(err, "keygate: cannot read {path}: {error}");
            return None;
        }
    };
    // The Worker's own load; `check` only to show every error (it also lints, which a diff
    // does not need).
    if let Ok(policy) = Policy::from_toml(&text) {
        return Some(policy);
    }
    match check(&text) {
        Checked::Loaded { policy, .. } => Some(*policy),
        Checked::Refused(refusals) => {
            let _ = writeln!(err, "keygate: {path}: invalid policy");
            for refusal in refusals {
                let _ = writeln!(err, "  {refusal}");
            }
            None
        }
    }
}
