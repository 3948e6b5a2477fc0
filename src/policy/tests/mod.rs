//! The policy's unit tests, by concept: loading and validation, the compiled form, route
//! patterns and matching, the scope model's decisions, and the description. Fixtures shared by them are here.

mod compiled;
mod describe;
mod load;
mod plans;
mod routes;
mod scope;

use super::{Access, Action, Policy, RouteTarget};

pub(super) fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(super) fn load(text: &str) -> Policy {
    match Policy::from_toml(text) {
        Ok(policy) => policy,
        Err(error) => panic!("policy should load, got:\n{error}"),
    }
}

/// The displayed problems of a policy that must be refused.
pub(super) fn refusal(text: &str) -> String {
    match Policy::from_toml(text) {
        Ok(_) => panic!("policy should be refused:\n{text}"),
        Err(error) => error.to_string(),
    }
}

pub(super) fn target(resource: &str, action: Action) -> RouteTarget {
    RouteTarget {
        resource: resource.to_string(),
        action,
    }
}

/// Denied, naming the scope, on a resource whose kind has no approval level for it.
pub(super) fn denied(scope: &str) -> Access {
    Access::Denied {
        required_scope: scope.to_string(),
        approval_scope: None,
    }
}

/// Denied, naming the scope and the approval level that would queue the request.
pub(super) fn denied_but_queueable(scope: &str) -> Access {
    Access::Denied {
        required_scope: scope.to_string(),
        approval_scope: Some(format!("{scope}-approval")),
    }
}

pub(super) const ONE_OF_EACH_KIND: &str = r#"
    coarse_scopes = ["read:all", "write:all", "admin"]

    [[groups]]
    name = "Admin only"
    administrative = true

    [[groups]]
    name = "Everyday"

    [[resources]]
    name = "contacts"
    kind = "ladder"
    group = "Everyday"
    description = "People"

    [[resources]]
    name = "email"
    kind = "communication"

    [[resources]]
    name = "ai"
    kind = "ai"

    [[resources]]
    name = "modules"
    kind = "read_write"

    [[resources]]
    name = "calls"
    kind = "independent"

    [[resources]]
    name = "analytics"
    kind = "read_only"

    [[resources]]
    name = "settings"
    kind = "read_write"
    group = "Admin only"
"#;

pub(super) fn with_route(method: &str, path: &str, resource: &str, action: &str) -> String {
    format!(
        "{ONE_OF_EACH_KIND}\n[[routes]]\nmethod = {method:?}\npath = {path:?}\nresource = {resource:?}\naction = {action:?}\n"
    )
}

/// Each (JSON pointer, value) of a policy's description, naming the pointer on failure.
pub(super) fn assert_described(described: &serde_json::Value, cases: &[(&str, serde_json::Value)]) {
    for (pointer, expected) in cases {
        assert_eq!(described.pointer(pointer), Some(expected), "{pointer}");
    }
}
