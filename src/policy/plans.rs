//! Plans: what a workspace's subscription offers. A policy may declare `[[plans]]`, each
//! with whether its keys may call the API at all, the resources it offers, the limits its
//! keys get by default and the most any of its keys may be given; `default_plan` is the
//! plan of every workspace that was never put on one. Without plans nothing here is
//! checked. The rules are in the [module docs](super).

use super::errors::Problems;
use super::file::{LimitsTable, PlanTable};
use super::scope::{Resource, ScopeGrant};
use super::Policy;
use crate::limits::{Limits, MAX_PER_DAY, MAX_PER_MINUTE};
use std::collections::BTreeMap;

const MAX_PLAN_NAME_CHARS: usize = 64;

/// One plan a workspace can be on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    name: String,
    api_access: bool,
    /// The offered resources' names in file order; `None`: every resource.
    resources: Option<Vec<String>>,
    default_limits: Limits,
    max_limits: Option<Limits>,
}

impl Plan {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether keys of a workspace on this plan may call the API (and be created) at all.
    pub fn api_access(&self) -> bool {
        self.api_access
    }

    /// Whether the plan offers `resource` (every resource when `resources` was left out).
    pub fn offers(&self, resource: &str) -> bool {
        self.resources
            .as_ref()
            .is_none_or(|offered| offered.iter().any(|name| name == resource))
    }

    /// Limits for keys on the plan that follow the defaults.
    pub fn default_limits(&self) -> Limits {
        self.default_limits
    }

    /// The most any key of a workspace on the plan may be given; `None`: no bound beyond
    /// the limits' own ranges.
    pub fn max_limits(&self) -> Option<Limits> {
        self.max_limits
    }
}

impl Policy {
    /// Every plan, in file order (empty when the policy declares none).
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.name == name)
    }

    /// The plan of a workspace that was never put on one; `None` when the policy has no plans.
    pub fn default_plan(&self) -> Option<&Plan> {
        self.default_plan.and_then(|index| self.plans.get(index))
    }

    /// The plan a workspace is on: `assigned` while the policy still declares it, else the
    /// default plan; None when the policy has no plans (nothing is checked then).
    pub fn plan_for(&self, assigned: Option<&str>) -> Option<&Plan> {
        assigned
            .and_then(|name| self.plan(name))
            .or_else(|| self.default_plan())
    }

    /// The scopes among `scopes` that grant something on a resource `plan` does not offer
    /// (each once, in the order given). Coarse scopes are never listed (their reach is cut
    /// at admission by [`Plan::offers`]); unknown scopes grant nothing, so neither are they.
    pub fn scopes_not_in_plan(&self, scopes: &[String], plan: &Plan) -> Vec<String> {
        let mut outside: Vec<String> = Vec::new();
        for scope in scopes {
            let Some(ScopeGrant::OnResource { resource, .. }) =
                self.scope_grants.get(scope.as_str())
            else {
                continue;
            };
            let offered = self
                .resources
                .get(*resource)
                .is_some_and(|resource| plan.offers(&resource.name));
            if !offered && !outside.contains(scope) {
                outside.push(scope.clone());
            }
        }
        outside
    }

    /// The plan to name in a `plan_required` refusal: the first plan in file order with
    /// api_access that offers `resource` (any api-access plan for None).
    pub fn plan_needed(&self, resource: Option<&str>) -> Option<&Plan> {
        self.plans
            .iter()
            .filter(|plan| plan.api_access)
            .find(|plan| resource.is_none_or(|resource| plan.offers(resource)))
    }

    /// What a key created without `scopes` gets (`default_scopes`); empty when unset.
    pub fn default_scopes(&self) -> &[String] {
        &self.default_scopes
    }

    /// Whether resource-level scopes (`contacts:read`) are offered; `false` leaves only the
    /// coarse scopes (`fine_scopes = false`).
    pub fn fine_scopes(&self) -> bool {
        self.fine_scopes
    }
}

/// `^[a-z0-9_-]{1,64}$`
fn is_valid_plan_name(name: &str) -> bool {
    (1..=MAX_PLAN_NAME_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Every `[[plans]]` table, validated in file order. `policy_limits` is the `[limits]` in
/// force (`None` when that table has a problem of its own: then what a plan inherits
/// from it is not judged).
pub(super) fn validate_plans(
    tables: &[PlanTable],
    resources: &[Resource],
    resource_index: &BTreeMap<String, usize>,
    policy_limits: Option<Limits>,
    problems: &mut Problems,
) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (position, table) in tables.iter().enumerate() {
        let at = format!("plans[{position}]");
        let mut valid = true;
        let name = &table.name;
        if !is_valid_plan_name(name) {
            problems.add(
                format!("{at}.name"),
                format!("{name:?} must be 1 to {MAX_PLAN_NAME_CHARS} characters: lowercase letters, digits, `_` or `-`"),
            );
            valid = false;
        } else if names.contains(&name.as_str()) {
            problems.add(format!("{at}.name"), format!("{name:?} is declared twice"));
            valid = false;
        } else {
            names.push(name);
        }

        let offered = table.resources.as_ref().map(|listed| {
            let mut offered: Vec<String> = Vec::new();
            for (index, resource) in listed.iter().enumerate() {
                let location = format!("{at}.resources[{index}]");
                if !resource_index.contains_key(resource) {
                    let declared: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
                    let declared = if declared.is_empty() {
                        "no valid resource is declared".to_string()
                    } else {
                        format!("declared: {}", declared.join(", "))
                    };
                    problems.add(
                        location,
                        format!("unknown resource {resource:?} ({declared})"),
                    );
                    valid = false;
                } else if offered.contains(resource) {
                    problems.add(location, format!("{resource:?} is listed twice"));
                    valid = false;
                } else {
                    offered.push(resource.clone());
                }
            }
            offered
        });

        let inherited = policy_limits.map(|limits| {
            (
                u64::from(limits.per_minute.get()),
                u64::from(limits.per_day.get()),
            )
        });
        let default_limits = plan_limits(
            table.limits.as_ref(),
            inherited.unwrap_or((1, 1)),
            &format!("{at}.limits"),
            problems,
        );
        // A window left out of max_limits is not bounded, except that no minute may
        // admit more than the day does.
        let unbounded_minute = table
            .max_limits
            .as_ref()
            .and_then(|t| t.per_day)
            .and_then(|day| u64::try_from(day).ok())
            .map_or(u64::from(MAX_PER_MINUTE), |day| {
                day.clamp(1, u64::from(MAX_PER_MINUTE))
            });
        let max_limits = plan_limits(
            table.max_limits.as_ref(),
            (unbounded_minute, u64::from(MAX_PER_DAY)),
            &format!("{at}.max_limits"),
            problems,
        );
        if let (Some(limits), Some(max)) = (default_limits, max_limits) {
            let written = table.limits.as_ref();
            let windows = [
                (
                    "per_minute",
                    limits.per_minute.get(),
                    max.per_minute.get(),
                    written.and_then(|t| t.per_minute).is_some(),
                ),
                (
                    "per_day",
                    limits.per_day.get(),
                    max.per_day.get(),
                    written.and_then(|t| t.per_day).is_some(),
                ),
            ];
            for (field, limit, bound, is_written) in windows {
                if limit <= bound {
                    continue;
                }
                valid = false;
                if is_written {
                    problems.add(
                        format!("{at}.limits.{field}"),
                        format!("{limit} is above the plan's max_limits.{field} ({bound})"),
                    );
                } else if inherited.is_some() {
                    problems.add(
                        format!("{at}.max_limits.{field}"),
                        format!("{bound} is below the {field} the plan's keys get from [limits] ({limit}); give the plan its own limits.{field}"),
                    );
                }
            }
        }

        // A table with a problem is left out: the policy is refused anyway.
        if let (true, Some(default_limits), Some(max_limits)) = (valid, default_limits, max_limits)
        {
            plans.push(Plan {
                name: name.clone(),
                api_access: table.api_access,
                resources: offered,
                default_limits,
                max_limits: table.max_limits.as_ref().map(|_| max_limits),
            });
        }
    }
    plans
}

/// A plan's `limits` or `max_limits` table: each field in the range `[limits]` allows,
/// `fallback` for a field left out, per_minute not above per_day.
fn plan_limits(
    table: Option<&LimitsTable>,
    fallback: (u64, u64),
    location: &str,
    problems: &mut Problems,
) -> Option<Limits> {
    let mut window = |written: Option<i64>, field: &str, max: u32, fallback: u64| match written {
        None => Some(fallback),
        Some(value) => match u64::try_from(value) {
            Ok(value) if (1..=u64::from(max)).contains(&value) => Some(value),
            _ => {
                problems.add(
                    format!("{location}.{field}"),
                    format!("must be between 1 and {max}, got {value}"),
                );
                None
            }
        },
    };
    let per_minute = window(
        table.and_then(|t| t.per_minute),
        "per_minute",
        MAX_PER_MINUTE,
        fallback.0,
    );
    let per_day = window(
        table.and_then(|t| t.per_day),
        "per_day",
        MAX_PER_DAY,
        fallback.1,
    );
    Limits::new(per_minute?, per_day?)
        .map_err(|error| problems.add(location, error.to_string()))
        .ok()
}

/// `default_plan`: required when plans are declared, one of them; refused without plans.
pub(super) fn validate_default_plan(
    written: Option<&str>,
    tables: &[PlanTable],
    plans: &[Plan],
    problems: &mut Problems,
) -> Option<usize> {
    match written {
        None if tables.is_empty() => None,
        None => {
            problems.add("default_plan", "required when plans are declared");
            None
        }
        Some(name) if tables.is_empty() => {
            problems.add(
                "default_plan",
                format!("{name:?} names a plan, but no plans are declared"),
            );
            None
        }
        Some(name) => {
            let index = plans.iter().position(|plan| plan.name == name);
            // A plan whose own table has a problem is reported there, not again here.
            if index.is_none() && !tables.iter().any(|table| table.name == name) {
                let declared: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
                problems.add(
                    "default_plan",
                    format!("no plan named {name:?} (plans: {})", declared.join(", ")),
                );
            }
            index
        }
    }
}
