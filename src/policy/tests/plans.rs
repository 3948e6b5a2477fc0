//! Plans, `default_scopes` and `fine_scopes`: loading, every problem they can have, and the
//! decisions the admin API and admission take from them.

use super::*;
use crate::limits::Limits;
use crate::policy::Plan;
use proptest::prelude::*;

const RESOURCES: &str = r#"
    coarse_scopes = ["read:all", "write:all", "admin"]

    [[resources]]
    name = "contacts"
    kind = "ladder"

    [[resources]]
    name = "deals"
    kind = "read_write"

    [[resources]]
    name = "reports"
    kind = "read_only"
"#;

/// `top` (top-level settings) before the resources, `tables` after them.
fn policy_text(top: &str, tables: &str) -> String {
    format!("{top}\n{RESOURCES}\n{tables}")
}

const TWO_PLANS: &str = r#"
    [[plans]]
    name = "free"
    api_access = false
    resources = ["contacts"]
    limits = { per_minute = 10, per_day = 100 }

    [[plans]]
    name = "pro"
    limits = { per_minute = 600 }
    max_limits = { per_minute = 1000, per_day = 200000 }
"#;

fn two_plans() -> Policy {
    load(&policy_text(
        "default_plan = \"free\"",
        &format!("[limits]\nper_minute = 60\nper_day = 5000\n{TWO_PLANS}"),
    ))
}

#[test]
fn a_policy_without_plans_or_switches_has_none_of_them() {
    let policy = load(RESOURCES);
    assert!(policy.plans().is_empty());
    assert_eq!(policy.default_plan(), None);
    assert_eq!(policy.plan_for(None), None);
    assert_eq!(policy.plan_for(Some("pro")), None);
    assert_eq!(policy.plan_needed(None), None);
    assert!(policy.default_scopes().is_empty());
    assert!(policy.fine_scopes());
    assert!(policy.check_scopes(&scopes(&["contacts:read"])).is_ok());
}

#[test]
fn plans_are_read_with_their_defaults() {
    let policy = two_plans();
    let names: Vec<&str> = policy.plans().iter().map(Plan::name).collect();
    assert_eq!(names, ["free", "pro"]);

    let free = policy.plan("free").unwrap();
    assert!(!free.api_access());
    assert!(free.offers("contacts"));
    assert!(!free.offers("deals"));
    assert_eq!(free.default_limits(), Limits::new(10, 100).unwrap());
    assert_eq!(free.max_limits(), None);

    let pro = policy.plan("pro").unwrap();
    assert!(pro.api_access(), "api_access defaults to true");
    for resource in ["contacts", "deals", "reports"] {
        assert!(
            pro.offers(resource),
            "{resource}: no list offers everything"
        );
    }
    assert_eq!(
        pro.default_limits(),
        Limits::new(600, 5000).unwrap(),
        "a window left out comes from [limits]"
    );
    assert_eq!(pro.max_limits(), Some(Limits::new(1000, 200_000).unwrap()));

    assert_eq!(policy.default_plan(), Some(free));
    assert_eq!(policy.plan("gold"), None);
}

#[test]
fn a_plan_without_limits_gives_the_policys_limits() {
    let policy = load(&policy_text(
        "default_plan = \"only\"",
        "[limits]\nper_minute = 7\nper_day = 70\n[[plans]]\nname = \"only\"\n",
    ));
    assert_eq!(
        policy.plan("only").unwrap().default_limits(),
        Limits::new(7, 70).unwrap()
    );
}

#[test]
fn a_max_limits_window_left_out_is_not_bounded() {
    let policy = load(&policy_text(
        "default_plan = \"p\"",
        "[[plans]]\nname = \"p\"\nmax_limits = { per_day = 60000 }\n",
    ));
    assert_eq!(
        policy.plan("p").unwrap().max_limits(),
        Some(Limits::new(60_000, 60_000).unwrap())
    );
}

#[test]
fn a_workspace_is_on_its_plan_while_it_exists_else_on_the_default() {
    let policy = two_plans();
    assert_eq!(policy.plan_for(Some("pro")).map(Plan::name), Some("pro"));
    assert_eq!(policy.plan_for(Some("free")).map(Plan::name), Some("free"));
    assert_eq!(policy.plan_for(None).map(Plan::name), Some("free"));
    assert_eq!(
        policy.plan_for(Some("enterprise")).map(Plan::name),
        Some("free"),
        "a plan the policy no longer declares falls back to the default"
    );
}

#[test]
fn scopes_not_in_plan_lists_resource_scopes_outside_the_plan_once() {
    let policy = two_plans();
    let free = policy.plan("free").unwrap();
    assert_eq!(
        policy.scopes_not_in_plan(
            &scopes(&[
                "contacts:write",
                "deals:read",
                "admin",
                "read:all",
                "nope:read",
                "reports:read",
                "deals:read",
            ]),
            free
        ),
        scopes(&["deals:read", "reports:read"])
    );
    let pro = policy.plan("pro").unwrap();
    assert!(policy
        .scopes_not_in_plan(&scopes(&["deals:write", "reports:read"]), pro)
        .is_empty());
}

#[test]
fn plan_needed_is_the_first_api_plan_offering_the_resource() {
    let policy = load(&policy_text(
        "default_plan = \"free\"",
        r#"
        [[plans]]
        name = "free"
        api_access = false

        [[plans]]
        name = "starter"
        resources = ["contacts"]

        [[plans]]
        name = "business"
        "#,
    ));
    let needed = |resource| policy.plan_needed(resource).map(Plan::name);
    assert_eq!(needed(None), Some("starter"));
    assert_eq!(needed(Some("contacts")), Some("starter"));
    assert_eq!(needed(Some("deals")), Some("business"));

    let nothing_offers_api = load(&policy_text(
        "default_plan = \"free\"",
        "[[plans]]\nname = \"free\"\napi_access = false\n",
    ));
    assert_eq!(nothing_offers_api.plan_needed(None), None);
}

#[test]
fn default_scopes_are_read_in_order() {
    let policy = load(&policy_text(
        "default_scopes = [\"contacts:write\", \"read:all\"]",
        "",
    ));
    assert_eq!(
        policy.default_scopes(),
        scopes(&["contacts:write", "read:all"])
    );
}

#[test]
fn fine_scopes_off_leaves_only_the_coarse_scopes() {
    let policy = load(&policy_text("fine_scopes = false", ""));
    assert!(!policy.fine_scopes());
    assert_eq!(
        policy.valid_scopes(),
        scopes(&["read:all", "write:all", "admin"])
    );
    let refused = policy
        .check_scopes(&scopes(&["contacts:read", "admin", "deals:write"]))
        .unwrap_err();
    assert_eq!(refused.unknown, scopes(&["contacts:read", "deals:write"]));
    assert_eq!(refused.valid, scopes(&["read:all", "write:all", "admin"]));

    // A key holding a resource-level scope from before the switch gets nothing from it;
    // the coarse scopes keep their reach.
    let read = target("contacts", Action::Read);
    assert_eq!(
        policy.decide(&scopes(&["contacts:delete"]), &read),
        denied("read:all")
    );
    assert_eq!(
        policy.decide(&scopes(&["read:all"]), &read),
        Access::Allowed
    );
    assert!(load(&policy_text("fine_scopes = true", "")).fine_scopes());
}

#[test]
fn with_fine_scopes_off_a_refusal_names_the_narrowest_coarse_scope_that_would_do() {
    let policy = load(&policy_text("fine_scopes = false", ""));
    let none: &[&str] = &[];
    let cases = [
        (none, "contacts", Action::Read, "read:all"),
        (&["read:all"], "contacts", Action::Write, "write:all"),
        (&["write:all"], "contacts", Action::Delete, "admin"),
        (&["read:all"], "deals", Action::Write, "write:all"),
    ];
    for (held, resource, action, named) in cases {
        // Never an approval level: no key can hold one.
        assert_eq!(
            policy.decide(&scopes(held), &target(resource, action)),
            denied(named),
            "{held:?} {resource}:{action}"
        );
    }
    // Where no offered coarse scope would do, the resource and action are named as ever.
    let reads_only = load(&RESOURCES.replace(
        r#"coarse_scopes = ["read:all", "write:all", "admin"]"#,
        "fine_scopes = false\ncoarse_scopes = [\"read:all\"]",
    ));
    assert_eq!(
        reads_only.decide(&scopes(&["read:all"]), &target("contacts", Action::Write)),
        denied("contacts:write")
    );
}

#[test]
fn plan_problems_are_located_and_all_reported() {
    let refused = refusal(&policy_text(
        "default_plan = \"free\"",
        r#"
        [[plans]]
        name = "free"
        resources = ["contacts", "billing", "contacts"]
        limits = { per_minute = 0, per_day = 2000000000 }

        [[plans]]
        name = "Pro Plan"

        [[plans]]
        name = "free"

        [[plans]]
        name = "team"
        limits = { per_minute = 500, per_day = 100 }
        max_limits = { per_minute = -1 }

        [[plans]]
        name = "scale"
        limits = { per_minute = 700, per_day = 1000 }
        max_limits = { per_minute = 600, per_day = 900 }

        [[plans]]
        name = "tiny"
        max_limits = { per_minute = 5 }

        [[plans]]
        name = ""
        "#,
    ));
    assert_eq!(
        refused,
        [
            r#"plans[0].resources[1]: unknown resource "billing" (declared: contacts, deals, reports)"#,
            r#"plans[0].resources[2]: "contacts" is listed twice"#,
            "plans[0].limits.per_minute: must be between 1 and 1000000, got 0",
            "plans[0].limits.per_day: must be between 1 and 1000000000, got 2000000000",
            r#"plans[1].name: "Pro Plan" must be 1 to 64 characters: lowercase letters, digits, `_` or `-`"#,
            r#"plans[2].name: "free" is declared twice"#,
            "plans[3].limits: per_minute (500) must not exceed per_day (100)",
            "plans[3].max_limits.per_minute: must be between 1 and 1000000, got -1",
            "plans[4].limits.per_minute: 700 is above the plan's max_limits.per_minute (600)",
            "plans[4].limits.per_day: 1000 is above the plan's max_limits.per_day (900)",
            "plans[5].max_limits.per_minute: 5 is below the per_minute the plan's keys get from [limits] (120); give the plan its own limits.per_minute",
            r#"plans[6].name: "" must be 1 to 64 characters: lowercase letters, digits, `_` or `-`"#,
        ]
        .join("\n")
    );
}

#[test]
fn a_plan_name_may_use_digits_dashes_and_underscores_up_to_64() {
    let name = format!("pro-2_{}", "x".repeat(58));
    let policy = load(&policy_text(
        &format!("default_plan = {name:?}"),
        &format!("[[plans]]\nname = {name:?}\n"),
    ));
    assert_eq!(policy.plans().len(), 1);
    let too_long = format!("{name}x");
    assert!(refusal(&policy_text(
        &format!("default_plan = {too_long:?}"),
        &format!("[[plans]]\nname = {too_long:?}\n"),
    ))
    .starts_with("plans[0].name: "));
}

#[test]
fn a_plan_offers_only_declared_resources_even_without_any() {
    assert_eq!(
        refusal("default_plan = \"p\"\n[[plans]]\nname = \"p\"\nresources = [\"contacts\"]\n"),
        r#"plans[0].resources[0]: unknown resource "contacts" (no valid resource is declared)"#
    );
}

#[test]
fn default_plan_is_required_with_plans_and_must_name_one() {
    assert_eq!(
        refusal(&policy_text("", TWO_PLANS)),
        "default_plan: required when plans are declared"
    );
    assert_eq!(
        refusal(&policy_text("default_plan = \"gold\"", TWO_PLANS)),
        r#"default_plan: no plan named "gold" (plans: free, pro)"#
    );
    assert_eq!(
        refusal(&policy_text("default_plan = \"free\"", "")),
        r#"default_plan: "free" names a plan, but no plans are declared"#
    );
    // A default naming a plan whose table is refused is reported once, at the table.
    assert_eq!(
        refusal(&policy_text(
            "default_plan = \"free\"",
            "[[plans]]\nname = \"free\"\nresources = [\"billing\"]\n"
        )),
        r#"plans[0].resources[0]: unknown resource "billing" (declared: contacts, deals, reports)"#
    );
}

#[test]
fn plan_tables_deny_unknown_fields() {
    let refused = refusal(&policy_text(
        "default_plan = \"p\"",
        "[[plans]]\nname = \"p\"\nprice = 10\n",
    ));
    assert!(refused.contains("unknown field `price`"), "{refused}");
    let refused = refusal(&policy_text(
        "default_plan = \"p\"",
        "[[plans]]\nname = \"p\"\nlimits = { per_hour = 10 }\n",
    ));
    assert!(refused.contains("unknown field `per_hour`"), "{refused}");
}

#[test]
fn default_scopes_problems_are_located() {
    assert_eq!(
        refusal(&policy_text(
            "default_scopes = [\"contacts:read\", \"contacts:read\", \"billing:read\"]",
            ""
        )),
        [
            r#"default_scopes[1]: "contacts:read" is listed twice"#,
            r#"default_scopes[2]: unknown scope "billing:read" (valid scopes: contacts:read, contacts:write-approval, contacts:write, contacts:delete-approval, contacts:delete, deals:read, deals:write, reports:read, read:all, write:all, admin)"#,
        ]
        .join("\n")
    );
    assert_eq!(
        refusal(&policy_text("default_scopes = []", "")),
        "default_scopes: must name at least one scope, or be left out"
    );
    assert_eq!(
        refusal("default_scopes = [\"admin\"]"),
        r#"default_scopes[0]: unknown scope "admin" (the policy offers no scope)"#
    );
}

#[test]
fn default_scopes_respect_fine_scopes() {
    assert_eq!(
        refusal(&policy_text(
            "fine_scopes = false\ndefault_scopes = [\"read:all\", \"contacts:read\"]",
            ""
        )),
        r#"default_scopes[1]: unknown scope "contacts:read": fine_scopes = false offers only the coarse scopes (valid scopes: read:all, write:all, admin)"#
    );
}

#[test]
fn fine_scopes_off_needs_coarse_scopes() {
    assert_eq!(
        refusal("fine_scopes = false\n[[resources]]\nname = \"contacts\"\nkind = \"ladder\"\n"),
        "fine_scopes: false leaves no scope to give a key: list the coarse_scopes keys may hold (read:all, write:all, admin)"
    );
}

#[test]
fn new_problems_come_after_the_routes_in_the_documented_order() {
    let refused = refusal(&format!(
        "{}\n{}",
        "default_plan = \"gold\"\ndefault_scopes = [\"x\"]\nfine_scopes = false\n[limits]\nper_minute = 0",
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1\"\nresource = \"nope\"\naction = \"read\"\n[[plans]]\nname = \"p\"\nresources = [\"nope\"]\n"
    ));
    let locations: Vec<&str> = refused
        .lines()
        .map(|line| line.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        locations,
        [
            "fine_scopes",
            "limits",
            "routes[0].resource",
            "plans[0].resources[0]",
            "default_plan",
            "default_scopes[0]",
        ]
    );
}

fn plan_policy() -> impl Strategy<Value = (Policy, Vec<String>)> {
    // Each of three plans offers a subset of the resources, or all of them.
    let plan = (
        any::<bool>(),
        prop::option::of(prop::sample::subsequence(
            vec!["contacts", "deals", "reports"],
            0..=3,
        )),
    );
    (prop::collection::vec(plan, 1..=3), 0usize..3).prop_map(|(plans, default)| {
        let default = default % plans.len();
        let mut text = policy_text(&format!("default_plan = \"p{default}\""), "");
        let mut names = Vec::new();
        for (index, (api_access, resources)) in plans.iter().enumerate() {
            text.push_str(&format!(
                "\n[[plans]]\nname = \"p{index}\"\napi_access = {api_access}\n"
            ));
            if let Some(resources) = resources {
                text.push_str(&format!("resources = {resources:?}\n"));
            }
            names.push(format!("p{index}"));
        }
        (load(&text), names)
    })
}

fn some_scopes() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec![
            "contacts:read",
            "contacts:delete",
            "deals:write",
            "reports:read",
            "read:all",
            "admin",
            "nope:read",
            "",
        ])
        .prop_map(String::from),
        0..6,
    )
}

proptest! {
    #[test]
    fn plan_for_never_returns_a_plan_the_policy_lacks(
        (policy, names) in plan_policy(),
        assigned in prop::option::of(prop::sample::select(vec!["p0", "p1", "p2", "p9", ""])),
    ) {
        let plan = policy.plan_for(assigned);
        prop_assert!(plan.is_some(), "a policy with plans always has one for a workspace");
        let plan = plan.unwrap();
        prop_assert!(names.iter().any(|name| name == plan.name()));
        prop_assert_eq!(Some(plan), policy.plan(plan.name()));
        if let Some(assigned) = assigned.filter(|name| names.iter().any(|n| n == name)) {
            prop_assert_eq!(plan.name(), assigned);
        } else {
            prop_assert_eq!(Some(plan), policy.default_plan());
        }
    }

    #[test]
    fn scopes_not_in_plan_are_held_resource_scopes_the_plan_does_not_offer(
        (policy, _names) in plan_policy(),
        held in some_scopes(),
    ) {
        for plan in policy.plans() {
            let outside = policy.scopes_not_in_plan(&held, plan);
            for scope in &outside {
                prop_assert!(held.contains(scope));
                let resource = scope.split(':').next().unwrap_or("");
                prop_assert!(!plan.offers(resource));
                prop_assert!(policy.check_scopes(std::slice::from_ref(scope)).is_ok());
            }
            // Everything held that is not listed is coarse, unknown or on an offered resource.
            for scope in &held {
                let resource_scope = !["read:all", "admin"].contains(&scope.as_str())
                    && policy.check_scopes(std::slice::from_ref(scope)).is_ok();
                let offered = plan.offers(scope.split(':').next().unwrap_or(""));
                prop_assert_eq!(outside.contains(scope), resource_scope && !offered);
            }
        }
    }

    #[test]
    fn a_plan_without_resources_offers_every_resource(
        name in "[a-z_]{1,40}",
    ) {
        let policy = load(&policy_text("default_plan = \"all\"", "[[plans]]\nname = \"all\"\n"));
        let plan = policy.plan("all").unwrap();
        prop_assert!(plan.offers(&name));
        prop_assert!(policy.scopes_not_in_plan(&policy.valid_scopes(), plan).is_empty());
    }

    #[test]
    fn plan_needed_has_api_access_and_offers_the_resource(
        (policy, _names) in plan_policy(),
        resource in prop::option::of(prop::sample::select(vec!["contacts", "deals", "reports"])),
    ) {
        match policy.plan_needed(resource) {
            Some(plan) => {
                prop_assert!(plan.api_access());
                prop_assert!(resource.is_none_or(|r| plan.offers(r)));
            }
            None => prop_assert!(!policy
                .plans()
                .iter()
                .any(|plan| plan.api_access() && resource.is_none_or(|r| plan.offers(r)))),
        }
    }
}
