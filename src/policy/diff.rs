//! What deploying one policy over another does to keys that already exist, for
//! `keygate policy diff OLD NEW` — said before the deploy, not found out from 401s after.
//!
//! ```
//! use keygate::policy::{diff::diff, Policy};
//!
//! let old = Policy::from_toml("key_prefix = \"kg\"").unwrap();
//! let new = Policy::from_toml("key_prefix = \"acme\"").unwrap();
//! let changes = diff(&old, &new);
//! assert!(changes[0].affects_keys);
//! assert_eq!(changes[0].subject, "key_prefix");
//! ```
//!
//! A change *affects existing keys* when the same key sending the same request, or an
//! operator doing the same thing to it, can get another answer: a new key prefix, a scope
//! that no longer exists or gives something else, a request that needs another scope (or is
//! now unmapped, or newly mapped), the default limits, the lifecycle, the approval queue's
//! settings, and any other setting. Scopes are compared by what each gives on every
//! resource and action (a key's grant is the best of what its scopes give one by one, so
//! that is the whole story); requests by the first-match regions of both route tables
//! ([`super::region`]). What existing keys cannot see — a new scope nobody holds yet, a
//! description, a group's name, routes reordered without changing any request's scope —
//! is listed as not affecting them.

use super::region::{Region, Space, TooComplex};
use super::{Action, Policy, Route, Verdict};
use serde_json::Value;
use std::collections::BTreeSet;

/// One difference between the two policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Whether an existing key can get another answer than before.
    pub affects_keys: bool,
    /// What changed: `key_prefix`, `scope contacts:delete`, `GET /v1/contacts/x`, `limits.per_minute`.
    pub subject: String,
    /// What it means at run time.
    pub message: String,
}

/// Every difference, those that affect existing keys first, each group in a fixed order:
/// the key prefix, scopes, requests, then the other settings.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut changes = Vec::new();
    if old.key_prefix != new.key_prefix {
        changes.push(Change {
            affects_keys: true,
            subject: "key_prefix".to_string(),
            message: format!(
                "{:?} → {:?}: every existing key stops working. A key carries its prefix in its text, so each {}_… key is refused with 401 key_prefix_unknown before any lookup, and every client needs a new key",
                old.key_prefix, new.key_prefix, old.key_prefix
            ),
        });
    }
    scope_changes(old, new, &mut changes);
    request_changes(old, new, &mut changes);
    setting_changes(old, new, &mut changes);
    changes.sort_by_key(|change| !change.affects_keys);
    changes
}

/// What `held` gets for `action` on `resource`: [`Policy::decide`] without naming the
/// missing scope (this runs for every scope, resource and action of both policies).
fn verdict(policy: &Policy, held: &[String], resource: &str, action: Action) -> Verdict {
    match policy.resource_by_name(resource) {
        Some((index, found)) => found
            .kind
            .judge(action, policy.held_levels(held, index, found)),
        None => Verdict::Denied,
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allowed => "allowed",
        Verdict::NeedsApproval => "queued for approval",
        Verdict::Denied => "denied",
    }
}

fn resource_names(policy: &Policy) -> impl Iterator<Item = &str> {
    policy.resources.iter().map(|r| r.name.as_str())
}

/// Scopes that stop existing or give something else, and scopes that are new.
fn scope_changes(old: &Policy, new: &Policy, changes: &mut Vec<Change>) {
    let resources: BTreeSet<&str> = resource_names(old).chain(resource_names(new)).collect();
    // Scopes that vanish for one reason (a resource removed, a kind changed) are one change.
    let mut gone: Vec<(String, Vec<&str>)> = Vec::new();
    for scope in &old.valid_scopes {
        if !new.scope_grants.contains_key(scope) {
            let reason = why_gone(old, new, scope);
            match gone.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, scopes)) => scopes.push(scope),
                None => gone.push((reason, vec![scope])),
            }
            continue;
        }
        let held = [scope.clone()];
        let mut differences = Vec::new();
        for resource in &resources {
            for action in Action::ALL {
                let (before, after) = (
                    verdict(old, &held, resource, action),
                    verdict(new, &held, resource, action),
                );
                if before != after {
                    differences.push(format!(
                        "{resource}:{action} {} → {}",
                        verdict_name(before),
                        verdict_name(after)
                    ));
                }
            }
        }
        if !differences.is_empty() {
            changes.push(Change {
                affects_keys: true,
                subject: format!("scope {scope}"),
                message: format!(
                    "gives something else to the keys holding it: {}",
                    differences.join(", ")
                ),
            });
        }
    }
    for (reason, scopes) in gone {
        changes.push(Change {
            affects_keys: true,
            subject: format!("scopes {}", scopes.join(", ")),
            message: format!(
                "no longer exist ({reason}). Keys holding them keep them in their record and in X-Keygate-Scopes, but they grant nothing: what needed them is 403 insufficient_scope (or 404 route_not_mapped where no route is left), and an edit of such a key's scopes must leave them out (400 unknown_scopes)"
            ),
        });
    }
    let added: Vec<&str> = new
        .valid_scopes
        .iter()
        .filter(|scope| !old.scope_grants.contains_key(scope.as_str()))
        .map(String::as_str)
        .collect();
    if !added.is_empty() {
        changes.push(Change {
            affects_keys: false,
            subject: "new scopes".to_string(),
            message: format!("keys can now be granted {}", added.join(", ")),
        });
    }
}

fn why_gone(old: &Policy, new: &Policy, scope: &str) -> String {
    let resource = scope.split(':').next().unwrap_or(scope);
    let still_a_level = new
        .resource_by_name(resource)
        .zip(scope.split_once(':'))
        .is_some_and(|((_, found), (_, level))| found.kind.level_index(level).is_some());
    if still_a_level && !new.fine_scopes {
        return "fine_scopes = false: only the coarse scopes are offered".to_string();
    }
    match (
        old.resource_by_name(resource),
        new.resource_by_name(resource),
    ) {
        (Some(_), None) => format!("resource {resource} is removed"),
        (Some((_, before)), Some((_, after))) => format!(
            "resource {resource} is now of kind {} (levels {}), no longer {}",
            after.kind,
            after.kind.levels().join(", "),
            before.kind
        ),
        _ => "the policy no longer offers this coarse scope".to_string(),
    }
}

fn route_label(route: &Route) -> String {
    format!(
        "{} {:?} ({}:{})",
        route.method.as_str(),
        route.path,
        route.resource,
        route.action
    )
}

fn same_target(a: &Route, b: &Route) -> bool {
    a.resource == b.resource && a.action == b.action
}

/// Requests that need another scope than before, or are now unmapped, or newly mapped.
fn request_changes(old: &Policy, new: &Policy, changes: &mut Vec<Change>) {
    let before = changes.len();
    if compare_routes(old, new, changes).is_err() {
        changes.truncate(before);
        changes.push(Change {
            affects_keys: true,
            subject: "routes".to_string(),
            message: "the route patterns overlap too much to compare request by request; review the route changes by hand".to_string(),
        });
        return;
    }
    let routes_differ = old.describe()["routes"] != new.describe()["routes"];
    if changes.len() == before && routes_differ {
        changes.push(Change {
            affects_keys: false,
            subject: "routes".to_string(),
            message: "the route table is written differently, but every request needs the same scope as before".to_string(),
        });
    }
}

fn compare_routes(old: &Policy, new: &Policy, changes: &mut Vec<Change>) -> Result<(), TooComplex> {
    let space = Space::for_routes(old.routes.iter().chain(&new.routes));
    let old_reached = space.reached(&old.routes)?;
    let new_reached = space.reached(&new.routes)?;
    let unmapped_after = format!("{} route_not_mapped", new.unmapped_route_status);
    let unmapped_before = format!("{} route_not_mapped", old.unmapped_route_status);
    for (i, (route, reached)) in old.routes.iter().zip(&old_reached).enumerate() {
        let mut left = reached.clone();
        for (j, (other, other_reached)) in new.routes.iter().zip(&new_reached).enumerate() {
            if left.is_empty() {
                break;
            }
            if !left.overlaps(other_reached) {
                continue;
            }
            let both = left.intersect(other_reached)?;
            if both.is_empty() {
                continue;
            }
            left = left.without(other_reached)?;
            if same_target(route, other) {
                continue;
            }
            changes.push(request_change(
                &both,
                route,
                format!(
                    "needed {}:{} (routes[{i}] {}), now needs {}:{} (routes[{j}] {})",
                    route.resource,
                    route.action,
                    route_label(route),
                    other.resource,
                    other.action,
                    route_label(other)
                ),
            ));
        }
        if !left.is_empty() {
            changes.push(request_change(
                &left,
                route,
                format!(
                    "needed {}:{} (routes[{i}] {}), now unmapped: {unmapped_after}",
                    route.resource,
                    route.action,
                    route_label(route)
                ),
            ));
        }
    }
    for (j, (route, reached)) in new.routes.iter().zip(&new_reached).enumerate() {
        let mut left: Region = reached.clone();
        for old_region in &old_reached {
            if left.is_empty() {
                break;
            }
            if left.overlaps(old_region) {
                left = left.without(old_region)?;
            }
        }
        if !left.is_empty() {
            changes.push(request_change(
                &left,
                route,
                format!(
                    "was unmapped ({unmapped_before}), now needs {}:{} (routes[{j}] {})",
                    route.resource,
                    route.action,
                    route_label(route)
                ),
            ));
        }
    }
    Ok(())
}

fn request_change(requests: &Region, route: &Route, message: String) -> Change {
    let preferred = match &route.method {
        super::routes::MethodPattern::Any => "GET",
        super::routes::MethodPattern::Exact(method) => method,
    };
    let subject = requests
        .example(preferred)
        .map_or_else(|| route.path.clone(), |request| request.to_string());
    Change {
        affects_keys: true,
        subject,
        message: format!("requests like it: {message}"),
    }
}

/// The settings `describe()` shows besides the scope table, compared field by field, so a
/// setting added later is compared too.
fn setting_changes(old: &Policy, new: &Policy, changes: &mut Vec<Change>) {
    // Compared on their own: the scope table above, the plans below.
    const SCOPE_TABLE: [&str; 9] = [
        "key_prefix",
        "resources",
        "routes",
        "scopes",
        "coarse_scopes",
        "groups",
        "plans",
        "default_plan",
        "default_scopes",
    ];
    let (before, after) = (old.describe(), new.describe());
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return;
    };
    let fields: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for field in fields {
        if SCOPE_TABLE.contains(&field.as_str()) {
            continue;
        }
        let (a, b) = (before.get(field), after.get(field));
        match (a, b) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                let inner: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                for name in inner {
                    if a.get(name) != b.get(name) {
                        let subject = format!("{field}.{name}");
                        changes.push(setting_change(&subject, a.get(name), b.get(name)));
                    }
                }
            }
            _ if a != b => changes.push(setting_change(field, a, b)),
            _ => {}
        }
    }
    plan_changes(old, new, changes);
    display_changes(old, new, changes);
}

/// Plans removed, changed or added, the default plan and the default scopes. A plan is
/// compared as `GET /policy` shows it, field by field.
fn plan_changes(old: &Policy, new: &Policy, changes: &mut Vec<Change>) {
    let (before, after) = (old.describe(), new.describe());
    let plans = |described: &Value| -> Vec<(String, Value)> {
        described["plans"]
            .as_array()
            .map(|plans| {
                plans
                    .iter()
                    .map(|plan| {
                        (
                            plan["name"].as_str().unwrap_or("").to_string(),
                            plan.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old_plans, new_plans) = (plans(&before), plans(&after));
    let default_after = new.default_plan().map(|plan| plan.name().to_string());
    for (name, plan) in &old_plans {
        let Some((_, now)) = new_plans.iter().find(|(other, _)| other == name) else {
            let moved = match &default_after {
                Some(default) => format!("its workspaces move to the default plan {default:?}, and their keys are judged by its api_access, resources and limits"),
                None => "the policy has no plans any more: its workspaces' keys are judged by scopes and limits alone".to_string(),
            };
            changes.push(Change {
                affects_keys: true,
                subject: format!("plan {name}"),
                message: format!("removed: {moved}"),
            });
            continue;
        };
        let fields: BTreeSet<&String> = plan
            .as_object()
            .into_iter()
            .chain(now.as_object())
            .flat_map(|fields| fields.keys())
            .collect();
        let differences: Vec<String> = fields
            .into_iter()
            .filter(|field| plan.get(field.as_str()) != now.get(field.as_str()))
            .map(|field| {
                format!(
                    "{field} {} → {}",
                    shown(plan.get(field.as_str())),
                    shown(now.get(field.as_str()))
                )
            })
            .collect();
        if !differences.is_empty() {
            changes.push(Change {
                affects_keys: true,
                subject: format!("plan {name}"),
                message: format!(
                    "{}: every key of a workspace on it is judged by the new plan",
                    differences.join(", ")
                ),
            });
        }
    }
    let default_before = old.default_plan().map(|plan| plan.name().to_string());
    if default_before != default_after {
        let now = match &default_after {
            Some(default) => {
                format!("workspaces never put on a plan (or on a removed one) are on {default:?}")
            }
            None => "no plan is checked any more".to_string(),
        };
        changes.push(Change {
            affects_keys: true,
            subject: "default_plan".to_string(),
            message: format!(
                "{} → {}: {now}",
                shown(before.get("default_plan")),
                shown(after.get("default_plan"))
            ),
        });
    }
    for (name, _) in &new_plans {
        if !old_plans.iter().any(|(other, _)| other == name) {
            changes.push(Change {
                affects_keys: false,
                subject: format!("plan {name}"),
                message: "new: workspaces can be put on it".to_string(),
            });
        }
    }
    if before.get("default_scopes") != after.get("default_scopes") {
        changes.push(Change {
            affects_keys: false,
            subject: "default_scopes".to_string(),
            message: format!(
                "{} → {}: what a key created without scopes gets; existing keys keep theirs",
                shown(before.get("default_scopes")),
                shown(after.get("default_scopes"))
            ),
        });
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_string(), Value::to_string)
}

fn setting_change(subject: &str, before: Option<&Value>, after: Option<&Value>) -> Change {
    let meaning = match subject {
        "limits.per_minute" | "limits.per_day" => {
            "keys without limits of their own (limits.source = \"policy\") get the new value from their next request; keys with their own limits keep them"
        }
        "limits.enforcement" => {
            "how keys without an enforcement of their own are limited from their next request: exact (a revoke lands on the next request) or lease (within limits.lease_seconds)"
        }
        "limits.lease_seconds" => {
            "how long the leases of keys in lease mode last: how long a revoke may take to reach every isolate"
        }
        "lifecycle.edit" | "lifecycle.revoke" | "lifecycle.reactivate" | "lifecycle.rotate" => {
            "what the admin API lets operators do to existing keys (switched off: 409 lifecycle_not_allowed)"
        }
        "unmapped_route_status" => "the status every unmapped request gets",
        "origin_reads_body_overrides" => {
            "which form, multipart and JSON bodies keygate cannot read whole are refused (413 body_not_scannable)"
        }
        "credentials.header" => {
            "the one header besides Authorization a key may be sent in; a key in any other header is a 400 key_in_request"
        }
        "problems.type_base" => "the type URL of every data-plane problem",
        "fine_scopes" => {
            "false offers only the coarse scopes: resource-level scopes are unknown at create and edit, and grant nothing to the keys holding them"
        }
        _ if subject == "cors" || subject.starts_with("cors.") => {
            "which browser origins, methods and headers preflights allow (403 cors_preflight_refused otherwise)"
        }
        _ if subject.starts_with("portal.") => {
            "the portal page's branding, or which sites may frame it; no key's requests change"
        }
        _ if subject.starts_with("approvals.") => {
            "what agents' queued requests may hold and how long approvals wait and are kept"
        }
        _ => "a setting existing keys' requests are judged by",
    };
    Change {
        affects_keys: !subject.starts_with("portal."),
        subject: subject.to_string(),
        message: format!("{} → {}: {meaning}", shown(before), shown(after)),
    }
}

/// What only `GET /policy` shows: descriptions and groups' names.
fn display_changes(old: &Policy, new: &Policy, changes: &mut Vec<Change>) {
    for resource in &new.resources {
        let Some((_, before)) = old.resource_by_name(&resource.name) else {
            continue;
        };
        if before.description != resource.description || before.group != resource.group {
            changes.push(Change {
                affects_keys: false,
                subject: format!("resource {}", resource.name),
                message: "its description or group (as GET /policy shows it) changed".to_string(),
            });
        }
    }
    let names =
        |policy: &Policy| -> Vec<String> { policy.groups.iter().map(|g| g.name.clone()).collect() };
    if names(old) != names(new) {
        changes.push(Change {
            affects_keys: false,
            subject: "groups".to_string(),
            message: format!("{:?} → {:?}", names(old), names(new)),
        });
    }
}

#[cfg(test)]
mod tests;
