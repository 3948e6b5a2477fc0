//! The policy as `GET /_keygate/v1/policy` shows it, and as `keygate policy check` and
//! `policy diff` read it: one response struct per object, fields in the order they are shown.

use super::settings::Lifecycle;
use super::{Action, Policy};
use crate::cors::{CorsDescription, CorsSettings};
use crate::limits::Limits;
use crate::portal::PortalDescription;
use serde::Serialize;

#[derive(Serialize)]
struct Description<'a> {
    key_prefix: &'a str,
    unmapped_route_status: u16,
    origin_reads_body_overrides: bool,
    groups: Vec<DescribedGroup<'a>>,
    resources: Vec<DescribedResource<'a>>,
    routes: Vec<DescribedRoute<'a>>,
    /// Every scope the policy offers, as [`Policy::valid_scopes`] lists them.
    scopes: &'a [String],
    coarse_scopes: Vec<&'static str>,
    fine_scopes: bool,
    default_scopes: &'a [String],
    limits: DescribedPolicyLimits,
    plans: Vec<DescribedPlan<'a>>,
    /// `null` when the policy has no plans.
    default_plan: Option<&'a str>,
    lifecycle: Lifecycle,
    approvals: DescribedApprovals,
    credentials: DescribedCredentials<'a>,
    /// `null` when CORS is off.
    cors: Option<CorsDescription<'a>>,
    problems: DescribedProblems<'a>,
    portal: PortalDescription<'a>,
}

#[derive(Serialize)]
struct DescribedGroup<'a> {
    name: &'a str,
    administrative: bool,
}

#[derive(Serialize)]
struct DescribedResource<'a> {
    name: &'a str,
    kind: &'static str,
    levels: &'static [&'static str],
    ordered: bool,
    actions: &'static [Action],
    group: Option<&'a str>,
    administrative: bool,
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct DescribedRoute<'a> {
    /// As written: an uppercase method, or `*`.
    method: &'a str,
    path: &'a str,
    resource: &'a str,
    action: Action,
}

#[derive(Serialize)]
struct DescribedLimits {
    per_minute: u32,
    per_day: u32,
}

impl From<Limits> for DescribedLimits {
    fn from(limits: Limits) -> Self {
        DescribedLimits {
            per_minute: limits.per_minute.get(),
            per_day: limits.per_day.get(),
        }
    }
}

/// The policy's `[limits]`: the default windows and how keys' limits are enforced.
#[derive(Serialize)]
struct DescribedPolicyLimits {
    #[serde(flatten)]
    windows: DescribedLimits,
    enforcement: &'static str,
    lease_seconds: u64,
}

#[derive(Serialize)]
struct DescribedPlan<'a> {
    name: &'a str,
    api_access: bool,
    /// Every resource the plan offers by name, also when the file left the list out.
    resources: Vec<&'a str>,
    limits: DescribedLimits,
    max_limits: Option<DescribedLimits>,
}

/// The `[approvals]` table in the units it is written in (seconds, not milliseconds).
#[derive(Serialize)]
struct DescribedApprovals {
    max_body_bytes: u64,
    expire_after_seconds: u64,
    webhook_retry_seconds: u64,
    max_pending_per_key: u64,
    max_pending_per_workspace: u64,
    max_pending_bytes_per_workspace: u64,
    retain_decided_seconds: u64,
}

#[derive(Serialize)]
struct DescribedCredentials<'a> {
    header: Option<&'a str>,
}

#[derive(Serialize)]
struct DescribedProblems<'a> {
    type_base: Option<&'a str>,
}

impl Policy {
    /// The body of `GET /_keygate/v1/policy`: the scope table in force.
    pub fn describe(&self) -> serde_json::Value {
        // Serialising cannot fail: every map key is a field name, every value plain data.
        serde_json::to_value(self.description()).unwrap_or_default()
    }

    fn description(&self) -> Description<'_> {
        let approvals = self.approvals;
        Description {
            key_prefix: &self.key_prefix,
            unmapped_route_status: self.unmapped_route_status,
            origin_reads_body_overrides: self.origin_reads_body_overrides,
            groups: self
                .groups
                .iter()
                .map(|group| DescribedGroup {
                    name: &group.name,
                    administrative: group.administrative,
                })
                .collect(),
            resources: self
                .resources
                .iter()
                .map(|resource| DescribedResource {
                    name: &resource.name,
                    kind: resource.kind.as_str(),
                    levels: resource.kind.levels(),
                    ordered: resource.kind.is_ordered(),
                    actions: resource.kind.actions(),
                    group: resource.group.as_deref(),
                    administrative: resource.administrative,
                    description: resource.description.as_deref(),
                })
                .collect(),
            routes: self
                .routes
                .iter()
                .map(|route| DescribedRoute {
                    method: route.method.as_str(),
                    path: &route.path,
                    resource: &route.resource,
                    action: route.action,
                })
                .collect(),
            scopes: &self.valid_scopes,
            coarse_scopes: self.coarse_scopes.iter().map(|c| c.as_str()).collect(),
            fine_scopes: self.fine_scopes,
            default_scopes: &self.default_scopes,
            limits: DescribedPolicyLimits {
                windows: self.limits.into(),
                enforcement: self.enforcement.as_str(),
                lease_seconds: self.lease_time.ms() / 1_000,
            },
            plans: self
                .plans
                .iter()
                .map(|plan| DescribedPlan {
                    name: plan.name(),
                    api_access: plan.api_access(),
                    resources: self
                        .resources
                        .iter()
                        .map(|resource| resource.name.as_str())
                        .filter(|name| plan.offers(name))
                        .collect(),
                    limits: plan.default_limits().into(),
                    max_limits: plan.max_limits().map(DescribedLimits::from),
                })
                .collect(),
            default_plan: self.default_plan().map(|plan| plan.name()),
            lifecycle: self.lifecycle,
            approvals: DescribedApprovals {
                max_body_bytes: approvals.max_body_bytes,
                expire_after_seconds: approvals.expire_after_ms / 1000,
                webhook_retry_seconds: approvals.webhook_retry_ms / 1000,
                max_pending_per_key: approvals.caps.max_pending_per_key,
                max_pending_per_workspace: approvals.caps.max_pending_per_workspace,
                max_pending_bytes_per_workspace: approvals.caps.max_pending_bytes_per_workspace,
                retain_decided_seconds: approvals.retain_decided_ms / 1000,
            },
            credentials: DescribedCredentials {
                header: self.credential_header.as_deref(),
            },
            cors: self.cors.as_ref().map(CorsSettings::describe),
            problems: DescribedProblems {
                type_base: self.problem_type_base.as_deref(),
            },
            portal: self.portal.describe(),
        }
    }
}
