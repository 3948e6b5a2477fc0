use super::*;
use crate::policy::Action;
use proptest::prelude::*;

const PLANS: &str = r#"
default_plan = "free"
coarse_scopes = ["read:all", "admin"]

[limits]
per_minute = 60
per_day = 5000

[[resources]]
name = "contacts"
kind = "ladder"

[[resources]]
name = "deals"
kind = "read_write"

[[plans]]
name = "free"
api_access = false

[[plans]]
name = "starter"
resources = ["contacts"]
limits = { per_minute = 10, per_day = 100 }
max_limits = { per_minute = 20, per_day = 200 }

[[plans]]
name = "pro"
"#;

fn policy() -> Policy {
    Policy::from_toml(PLANS).expect("a valid policy")
}

fn on(plan: Option<&str>) -> PlanAssignment {
    PlanAssignment {
        plan: plan.map(str::to_string),
        version: 1,
    }
}

fn target(resource: &str, action: Action) -> RouteTarget {
    RouteTarget {
        resource: resource.into(),
        action,
    }
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn limits(per_minute: u64, per_day: u64) -> Limits {
    Limits::new(per_minute, per_day).expect("valid limits")
}

#[test]
fn a_workspace_never_set_is_on_the_default_plan_and_a_vanished_plan_falls_back_to_it() {
    let policy = policy();
    let name = |assignment| plan_of(&policy, &assignment).map(Plan::name);
    assert_eq!(name(PlanAssignment::default()), Some("free"));
    assert_eq!(name(on(Some("pro"))), Some("pro"));
    assert_eq!(name(on(Some("gold"))), Some("free"));
}

#[test]
fn without_api_access_nothing_is_admitted_and_the_plan_that_has_it_is_named() {
    let policy = policy();
    let free = policy.plan("free");
    let refused = admits(free, Some(&target("deals", Action::Read)), &policy);
    // `starter` has API access but not `deals`: `pro` is the plan that would do.
    assert_eq!(
        refused,
        Err(PlanRefusal::NoApiAccess {
            plan: "free".into(),
            needed: Some("pro".into())
        })
    );
    let any = admits(free, None, &policy);
    assert_eq!(
        any,
        Err(PlanRefusal::NoApiAccess {
            plan: "free".into(),
            needed: Some("starter".into())
        })
    );
    assert_eq!(
        may_create(free, &policy),
        Err(PlanRefusal::NoApiAccess {
            plan: "free".into(),
            needed: Some("starter".into())
        })
    );
    assert_eq!(may_create(policy.plan("starter"), &policy), Ok(()));
}

#[test]
fn a_resource_the_plan_does_not_offer_is_refused_whatever_the_key_holds() {
    let policy = policy();
    let starter = policy.plan("starter");
    assert_eq!(
        admits(starter, Some(&target("contacts", Action::Delete)), &policy),
        Ok(())
    );
    assert_eq!(
        admits(starter, Some(&target("deals", Action::Write)), &policy),
        Err(PlanRefusal::ScopesNotInPlan {
            plan: "starter".into(),
            scopes: vec!["deals:write".into()]
        })
    );
    // The approval queue's admin calls name no resource: only API access counts.
    assert_eq!(admits(starter, None, &policy), Ok(()));
    assert_eq!(
        admits(
            policy.plan("pro"),
            Some(&target("deals", Action::Write)),
            &policy
        ),
        Ok(())
    );
}

#[test]
fn a_key_fits_a_plan_by_its_scopes_and_its_own_limits() {
    let policy = policy();
    let starter = policy.plan("starter");
    assert_eq!(
        fits(
            &scopes(&["contacts:write", "deals:read"]),
            None,
            starter,
            &policy
        ),
        Err(PlanRefusal::ScopesNotInPlan {
            plan: "starter".into(),
            scopes: vec!["deals:read".into()]
        })
    );
    // A coarse scope is cut at admission instead.
    assert_eq!(fits(&scopes(&["read:all"]), None, starter, &policy), Ok(()));
    assert_eq!(
        fits(
            &scopes(&["contacts:read"]),
            Some(limits(21, 100)),
            starter,
            &policy
        ),
        Err(PlanRefusal::LimitAbovePlan {
            plan: "starter".into(),
            window: Window::Minute,
            max: 20
        })
    );
    assert_eq!(
        fits(
            &scopes(&["contacts:read"]),
            Some(limits(5, 201)),
            starter,
            &policy
        ),
        Err(PlanRefusal::LimitAbovePlan {
            plan: "starter".into(),
            window: Window::Day,
            max: 200
        })
    );
    assert_eq!(
        fits(
            &scopes(&["contacts:read"]),
            Some(limits(20, 200)),
            starter,
            &policy
        ),
        Ok(())
    );
    // No plan, no bound.
    let plain = Policy::from_toml("[[resources]]\nname = \"contacts\"\nkind = \"ladder\"\n")
        .expect("valid");
    assert_eq!(
        fits(
            &scopes(&["contacts:read"]),
            Some(limits(1000, 100_000)),
            None,
            &plain
        ),
        Ok(())
    );
}

#[test]
fn keys_follow_their_plan_s_defaults_and_never_exceed_its_max() {
    let policy = policy();
    let starter = policy.plan("starter");
    assert_eq!(default_limits(starter, &policy), limits(10, 100));
    assert_eq!(
        default_limits(policy.plan("pro"), &policy),
        limits(60, 5000)
    );
    assert_eq!(default_limits(None, &policy), limits(60, 5000));
    // A key given 600/min on `pro` keeps its number, but works at the cap on `starter`.
    assert_eq!(
        effective_limits(Some(limits(600, 50_000)), starter, &policy),
        limits(20, 200)
    );
    assert_eq!(
        effective_limits(Some(limits(600, 50_000)), policy.plan("pro"), &policy),
        limits(600, 50_000)
    );
    assert_eq!(effective_limits(None, starter, &policy), limits(10, 100));
}

proptest! {
    #[test]
    fn effective_limits_are_valid_and_within_the_plan(
        minute in 1u64..=2000,
        extra in 0u64..100_000,
        plan in prop::sample::select(vec!["free", "starter", "pro"]),
    ) {
        let policy = policy();
        let plan = policy.plan(plan);
        let own = limits(minute, minute + extra);
        let effective = effective_limits(Some(own), plan, &policy);
        prop_assert!(effective.per_minute <= effective.per_day);
        prop_assert!(effective.per_minute <= own.per_minute && effective.per_day <= own.per_day);
        if let Some(max) = plan.and_then(Plan::max_limits) {
            prop_assert!(effective.per_minute <= max.per_minute && effective.per_day <= max.per_day);
        }
        // What fits the plan is never cut.
        if fits(&[], Some(own), plan, &policy).is_ok() {
            prop_assert_eq!(effective, own);
        }
    }

    #[test]
    fn admission_never_allows_what_the_plan_does_not_offer(
        resource in prop::sample::select(vec!["contacts", "deals"]),
        action in prop::sample::select(vec![Action::Read, Action::Write, Action::Delete]),
        plan in prop::sample::select(vec!["free", "starter", "pro", "gold"]),
    ) {
        let policy = policy();
        let plan = plan_of(&policy, &on(Some(plan)));
        let allowed = admits(plan, Some(&target(resource, action)), &policy).is_ok();
        let offered = plan.is_some_and(|plan| plan.api_access() && plan.offers(resource));
        prop_assert_eq!(allowed, offered);
    }
}
