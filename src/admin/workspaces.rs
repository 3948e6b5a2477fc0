//! `GET /workspaces`, `GET /workspaces/{workspace}` and `PUT /workspaces/{workspace}`:
//! a workspace's plan, shown and set.

use super::fields::{collect, parse_object};
use super::list::{parse_listing, ListQuery};
use crate::entitlement;
use crate::policy::Policy;
use crate::problem::{FieldError, GatewayError};
use crate::record::Status;
use crate::timestamp::format_rfc3339;
use crate::workspace::{Workspace, WorkspaceName};
use serde::Serialize;

/// `GET /workspaces?limit=&cursor=`, checked: newest first, paged like keys.
pub type WorkspacesQuery = ListQuery<Status, WorkspaceName>;

pub fn parse_workspaces_query(query: Option<&str>) -> Result<WorkspacesQuery, GatewayError> {
    parse_listing(query, &["limit", "cursor"])
}

/// A `PUT /workspaces/{workspace}` body, `{"plan": "<name>"}`: the plan must be one the
/// policy declares.
pub fn parse_set_plan(body: &[u8], policy: &Policy) -> Result<String, GatewayError> {
    let object = parse_object(body)?;
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|field| *field != "plan")
        .map(|field| FieldError::new(field.as_str(), "unknown field; allowed: plan"))
        .collect();
    let names: Vec<&str> = policy.plans().iter().map(|plan| plan.name()).collect();
    let plan = match object.get("plan") {
        None => Err(FieldError::new("plan", "is required")),
        Some(serde_json::Value::String(name)) if policy.plan(name).is_some() => Ok(name.clone()),
        Some(serde_json::Value::String(name)) if names.is_empty() => Err(FieldError::new(
            "plan",
            format!("no plan named {name:?}: the policy declares no plans"),
        )),
        Some(serde_json::Value::String(name)) => Err(FieldError::new(
            "plan",
            format!("no plan named {name:?}; plans: {}", names.join(", ")),
        )),
        Some(_) => Err(FieldError::new("plan", "must be a string naming a plan")),
    };
    let plan = collect(&mut errors, plan);
    match (plan, errors.is_empty()) {
        (Some(plan), true) => Ok(plan),
        _ => Err(GatewayError::InvalidBody { errors }),
    }
}

/// A workspace as the admin API shows it.
#[derive(Serialize)]
pub struct WorkspaceView<'a> {
    id: &'a str,
    /// The plan the workspace is on (`null` for a policy without plans): the one set, or
    /// the default one while none was (or the one set is no longer in the policy).
    plan: Option<&'a str>,
    /// `set` when the root token chose it, `default` otherwise.
    plan_source: &'static str,
    api_access: bool,
    created_at: String,
    plan_set_at: Option<String>,
}

impl<'a> WorkspaceView<'a> {
    pub fn of(workspace: &'a Workspace, policy: &'a Policy) -> WorkspaceView<'a> {
        let plan = entitlement::plan_of(policy, &workspace.assignment);
        let set = workspace.assignment.plan.as_deref();
        WorkspaceView {
            id: workspace.id.as_str(),
            plan: plan.map(|plan| plan.name()),
            plan_source: match plan.is_some_and(|plan| Some(plan.name()) == set) {
                true => "set",
                false => "default",
            },
            api_access: plan.is_none_or(|plan| plan.api_access()),
            created_at: format_rfc3339(workspace.created_at),
            plan_set_at: workspace.plan_set_at.map(format_rfc3339),
        }
    }
}

/// The answer to `PUT /workspaces/{workspace}`: the workspace, and how far the change has
/// reached its keys (`keys_pending` are retried until they have it).
#[derive(Serialize)]
pub struct PlanSetView<'a> {
    #[serde(flatten)]
    pub workspace: WorkspaceView<'a>,
    pub keys_updated: u64,
    pub keys_pending: u64,
}

/// A page of `GET /workspaces`.
#[derive(Serialize)]
pub struct WorkspacesPage<'a> {
    pub workspaces: Vec<WorkspaceView<'a>>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests;
