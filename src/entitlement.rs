//! What a workspace's plan entitles its keys to: API access at all, the resources it
//! offers, the limits its keys get by default and at most.
//!
//! Each decision takes the plan the workspace is on ([`plan_of`]); a policy without plans
//! has none, and then every decision here allows (keygate behaves as it did before plans).
//! The same rules hold for every actor, the root token included: a plan is what the
//! provider sells, not a grant a stronger caller can step past. A key's Durable Object
//! applies them at admission, with its own copy of the workspace's assignment.
//!
//! ```
//! use keygate::entitlement::plan_of;
//! use keygate::policy::Policy;
//! use keygate::workspace::PlanAssignment;
//!
//! let policy = Policy::from_toml("[[resources]]\nname = \"contacts\"\nkind = \"ladder\"\n").unwrap();
//! assert!(plan_of(&policy, &PlanAssignment::default()).is_none()); // no plans: nothing checked
//! ```

use crate::limits::{Limits, Window};
use crate::policy::{Plan, Policy, RouteTarget};
use crate::record::KeyRecord;
use crate::workspace::PlanAssignment;
use serde::Serialize;
use serde_tag_first::TagFirstDeserialize;

/// Why a workspace's plan does not allow something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "beyond_plan", rename_all = "snake_case")]
pub enum PlanRefusal {
    /// The plan has no API access; `needed` is a plan that has it (and offers what was
    /// asked), where the policy has one.
    NoApiAccess {
        plan: String,
        needed: Option<String>,
    },
    /// These scopes grant on resources the plan does not offer.
    ScopesNotInPlan { plan: String, scopes: Vec<String> },
    /// A limit above what the plan lets any key have.
    LimitAbovePlan {
        plan: String,
        window: Window,
        max: u32,
    },
}

/// The plan a workspace whose assignment is `assignment` is on: the one set while the policy
/// still declares it, else the policy's default plan; `None` for a policy without plans.
pub fn plan_of<'p>(policy: &'p Policy, assignment: &PlanAssignment) -> Option<&'p Plan> {
    policy.plan_for(assignment.plan.as_deref())
}

/// The plan `record`'s workspace is on, as the key's copy says.
pub fn key_plan<'p>(record: &KeyRecord, policy: &'p Policy) -> Option<&'p Plan> {
    plan_of(policy, &record.plan)
}

/// The limits `record` works under ([`effective_limits`] on its own plan).
pub fn key_limits(record: &KeyRecord, policy: &Policy) -> Limits {
    effective_limits(record.limits, key_plan(record, policy), policy)
}

/// A request for `target` (`None`: any request, e.g. an approval-queue admin call) by a key
/// of a workspace on `plan`: refused without API access, and for a resource the plan does
/// not offer.
pub fn admits(
    plan: Option<&Plan>,
    target: Option<&RouteTarget>,
    policy: &Policy,
) -> Result<(), PlanRefusal> {
    let Some(plan) = plan else {
        return Ok(());
    };
    let resource = target.map(|target| target.resource.as_str());
    if !plan.api_access() {
        return Err(no_api_access(plan, resource, policy));
    }
    match target {
        Some(target) if !plan.offers(&target.resource) => Err(PlanRefusal::ScopesNotInPlan {
            plan: plan.name().to_string(),
            scopes: vec![format!("{}:{}", target.resource, target.action.as_str())],
        }),
        _ => Ok(()),
    }
}

/// A key may be made in a workspace on `plan` only with API access.
pub fn may_create(plan: Option<&Plan>, policy: &Policy) -> Result<(), PlanRefusal> {
    match plan {
        Some(plan) if !plan.api_access() => Err(no_api_access(plan, None, policy)),
        _ => Ok(()),
    }
}

/// Whether a key with `scopes` and its own `limits` (`None`: it follows the defaults) fits
/// `plan`: every scope on a resource the plan offers, and no limit above the plan's max.
pub fn fits(
    scopes: &[String],
    limits: Option<Limits>,
    plan: Option<&Plan>,
    policy: &Policy,
) -> Result<(), PlanRefusal> {
    let Some(plan) = plan else {
        return Ok(());
    };
    let beyond = policy.scopes_not_in_plan(scopes, plan);
    if !beyond.is_empty() {
        return Err(PlanRefusal::ScopesNotInPlan {
            plan: plan.name().to_string(),
            scopes: beyond,
        });
    }
    if let (Some(own), Some(max)) = (limits, plan.max_limits()) {
        for (window, wanted, max) in [
            (Window::Minute, own.per_minute, max.per_minute),
            (Window::Day, own.per_day, max.per_day),
        ] {
            if wanted > max {
                return Err(PlanRefusal::LimitAbovePlan {
                    plan: plan.name().to_string(),
                    window,
                    max: max.get(),
                });
            }
        }
    }
    Ok(())
}

/// Drops from `scopes` those on resources `plan` does not offer (coarse scopes stay: their
/// reach is cut at admission). In place, and nothing at all without a plan: it runs on
/// every admitted request.
pub fn keep_offered(scopes: &mut Vec<String>, plan: Option<&Plan>, policy: &Policy) {
    let Some(plan) = plan else {
        return;
    };
    let beyond = policy.scopes_not_in_plan(scopes, plan);
    if !beyond.is_empty() {
        scopes.retain(|scope| !beyond.contains(scope));
    }
}

/// The limits a key of a workspace on `plan` follows when it has none of its own: the
/// plan's defaults, else the policy's.
pub fn default_limits(plan: Option<&Plan>, policy: &Policy) -> Limits {
    plan.map_or_else(|| policy.default_limits(), Plan::default_limits)
}

/// The limits a key works under: its own, or the defaults; never above its plan's max (a
/// key given more on a bigger plan keeps its number but gets no more than the plan allows
/// after a downgrade).
pub fn effective_limits(own: Option<Limits>, plan: Option<&Plan>, policy: &Policy) -> Limits {
    let limits = own.unwrap_or_else(|| default_limits(plan, policy));
    match plan.and_then(Plan::max_limits) {
        Some(max) => Limits {
            per_minute: limits.per_minute.min(max.per_minute),
            per_day: limits.per_day.min(max.per_day),
        },
        None => limits,
    }
}

fn no_api_access(plan: &Plan, resource: Option<&str>, policy: &Policy) -> PlanRefusal {
    PlanRefusal::NoApiAccess {
        plan: plan.name().to_string(),
        needed: policy
            .plan_needed(resource)
            .map(|needed| needed.name().to_string()),
    }
}

#[cfg(test)]
mod tests;
