//! The workspace's plan, as the key's authority applies it: admission, edits, a recheck of
//! a queued request, and adopting a newer assignment.

use super::*;
use crate::entitlement::PlanRefusal;
use crate::policy::RouteTarget;
use crate::workspace::PlanAssignment;

const PLANS: &str = r#"
default_plan = "free"

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

fn plans() -> Policy {
    Policy::from_toml(PLANS).expect("a valid policy")
}

fn assignment(plan: &str, version: u64) -> PlanAssignment {
    PlanAssignment {
        plan: Some(plan.into()),
        version,
    }
}

/// A key holding contacts and deals, on `plan` (assignment version 1).
fn key_on(plan: &str) -> (KeyState, KeyHash) {
    let policy = plans();
    let mut fixture = fixture_under(
        &policy,
        r#"{"name": "CRM sync", "scopes": ["contacts:delete", "deals:write"]}"#,
        3,
    );
    fixture.record.plan = assignment(plan, 1);
    let mut state = KeyState::default();
    let (reply, _) = state.handle(create(&fixture.record, &fixture.hash), &policy, NOW);
    assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");
    (state, fixture.hash)
}

fn refusal(reply: Reply) -> Option<Refusal> {
    match reply {
        Reply::Refused { refusal, .. } => Some(refusal),
        _ => None,
    }
}

#[test]
fn a_key_is_admitted_only_to_what_its_workspace_s_plan_offers() {
    let policy = plans();
    let (mut state, hash) = key_on("starter");
    let (reply, changed) = state.handle(admit(&hash, "contacts", Action::Delete), &policy, NOW);
    assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
    assert!(changed.counters);
    let (reply, changed) = state.handle(admit(&hash, "deals", Action::Read), &policy, NOW);
    assert_eq!(
        refusal(reply),
        Some(Refusal::Plan(PlanRefusal::ScopesNotInPlan {
            plan: "starter".into(),
            scopes: vec!["deals:read".into()]
        }))
    );
    // Refused by the plan: nothing counted, nothing written.
    assert_eq!(changed, Changed::default());
}

#[test]
fn a_downgrade_refuses_the_next_request_and_an_upgrade_lets_it_through_again() {
    let policy = plans();
    let (mut state, hash) = key_on("pro");
    let deals = || admit(&hash, "deals", Action::Write);
    assert!(matches!(
        state.handle(deals(), &policy, NOW).0,
        Reply::Admitted { .. }
    ));

    let (reply, changed) = state.handle(
        Command::AdoptPlan {
            assignment: assignment("free", 2),
        },
        &policy,
        NOW,
    );
    assert_eq!(
        reply,
        Reply::PlanAdopted {
            assignment: assignment("free", 2)
        }
    );
    assert!(changed.record, "the new assignment is stored");
    assert_eq!(
        refusal(state.handle(deals(), &policy, NOW).0),
        Some(Refusal::Plan(PlanRefusal::NoApiAccess {
            plan: "free".into(),
            needed: Some("pro".into())
        }))
    );

    // An older assignment arriving late changes nothing.
    let (reply, changed) = state.handle(
        Command::AdoptPlan {
            assignment: assignment("pro", 1),
        },
        &policy,
        NOW,
    );
    assert_eq!(
        reply,
        Reply::PlanAdopted {
            assignment: assignment("free", 2)
        }
    );
    assert_eq!(changed, Changed::default());

    state.handle(
        Command::AdoptPlan {
            assignment: assignment("pro", 3),
        },
        &policy,
        NOW,
    );
    assert!(matches!(
        state.handle(deals(), &policy, NOW).0,
        Reply::Admitted { .. }
    ));
}

#[test]
fn a_deleted_key_has_no_plan_to_adopt() {
    let policy = plans();
    let (mut state, _) = key_on("pro");
    state.handle(Command::Delete { actor: Actor::Root }, &policy, NOW);
    let (reply, _) = state.handle(
        Command::AdoptPlan {
            assignment: assignment("free", 2),
        },
        &policy,
        NOW,
    );
    assert_eq!(
        reply,
        Reply::Declined {
            declined: Declined::NotFound
        }
    );
}

#[test]
fn an_edit_must_fit_the_plan_in_what_it_changes() {
    let policy = plans();
    let (mut state, _) = key_on("starter");
    let edit = |body: &str| Command::Edit {
        actor: Actor::Root,
        edit: serde_json::from_str(body).expect("an edit"),
        webhook_secret: fresh_webhook_secret(),
    };
    // `deals` is not on `starter`, whoever asks; a rename of the same key still works
    // although its scopes (given on a bigger plan) reach beyond.
    let (reply, changed) = state.handle(edit(r#"{"scopes": ["deals:read"]}"#), &policy, NOW);
    assert_eq!(
        reply,
        Reply::Declined {
            declined: Declined::Plan(PlanRefusal::ScopesNotInPlan {
                plan: "starter".into(),
                scopes: vec!["deals:read".into()]
            })
        }
    );
    assert_eq!(changed, Changed::default());
    let (reply, _) = state.handle(
        edit(r#"{"limits": {"to": "set", "per_minute": 21, "per_day": 100}}"#),
        &policy,
        NOW,
    );
    assert!(
        matches!(
            reply,
            Reply::Declined {
                declined: Declined::Plan(PlanRefusal::LimitAbovePlan { max: 20, .. })
            }
        ),
        "{reply:?}"
    );
    let (reply, _) = state.handle(edit(r#"{"name": "Renamed"}"#), &policy, NOW);
    assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");
}

#[test]
fn a_queued_request_is_not_sent_once_the_plan_no_longer_offers_it() {
    let policy = plans();
    let (mut state, _) = key_on("pro");
    let recheck = Command::Recheck {
        resource: "deals".into(),
        action: Action::Write,
        secret: Some(1),
    };
    let standing = |state: &mut KeyState| match state.handle(recheck.clone(), &policy, NOW).0 {
        Reply::Rechecked { standing } => standing.map(|_| ()),
        other => panic!("{other:?}"),
    };
    assert_eq!(standing(&mut state), Ok(()));
    state.handle(
        Command::AdoptPlan {
            assignment: assignment("starter", 2),
        },
        &policy,
        NOW,
    );
    assert_eq!(
        standing(&mut state),
        Err(SubmitterFailure::PlanLost {
            plan: "starter".into()
        })
    );
}

#[test]
fn limits_shown_and_enforced_are_the_plan_s() {
    let policy = plans();
    let mut fixture = fixture_under(
        &policy,
        r#"{"name": "Heavy", "scopes": ["contacts:read"], "limits": {"per_minute": 500, "per_day": 9000}}"#,
        4,
    );
    fixture.record.plan = assignment("starter", 1);
    let mut state = KeyState::default();
    state.handle(create(&fixture.record, &fixture.hash), &policy, NOW);
    let (reply, _) = state.handle(admit(&fixture.hash, "contacts", Action::Read), &policy, NOW);
    let Reply::Admitted { grantee, .. } = reply else {
        panic!("{reply:?}");
    };
    // Given 500/min on a bigger plan; works at starter's cap.
    assert_eq!(grantee.limits, Limits::new(20, 200).expect("valid"));
}

#[test]
fn identifying_a_key_for_a_call_its_plan_must_offer_refuses_what_the_plan_leaves_out() {
    let policy = plans();
    let (mut state, hash) = key_on("starter");
    let identify = |resource: &str, action| Command::Identify {
        key_hash: hash.clone(),
        offered: Some(RouteTarget {
            resource: resource.into(),
            action,
        }),
    };
    // The key's scopes are not judged here (the queue's own rules do that later): only
    // whether the plan offers the call.
    let (reply, changed) = state.handle(identify("deals", Action::Write), &policy, NOW);
    assert_eq!(
        refusal(reply),
        Some(Refusal::Plan(PlanRefusal::ScopesNotInPlan {
            plan: "starter".into(),
            scopes: vec!["deals:write".into()]
        }))
    );
    assert_eq!(changed, Changed::default());
    let (reply, changed) = state.handle(identify("contacts", Action::Write), &policy, NOW);
    assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
    assert!(changed.counters);
    // Without one, any active key of a plan with API access is identified.
    let (reply, _) = state.handle(
        Command::Identify {
            key_hash: hash.clone(),
            offered: None,
        },
        &policy,
        NOW,
    );
    assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
}

#[test]
fn the_identity_carries_only_the_scopes_the_plan_offers() {
    let policy = plans();
    let (mut state, hash) = key_on("pro");
    let scopes = |state: &mut KeyState| match state
        .handle(admit(&hash, "contacts", Action::Read), &policy, NOW)
        .0
    {
        Reply::Admitted { grantee, .. } => grantee.scopes,
        other => panic!("{other:?}"),
    };
    assert_eq!(scopes(&mut state), ["contacts:delete", "deals:write"]);
    state.handle(
        Command::AdoptPlan {
            assignment: assignment("starter", 2),
        },
        &policy,
        NOW,
    );
    // The origin is not told of `deals:write`, which the workspace no longer has.
    assert_eq!(scopes(&mut state), ["contacts:delete"]);
}
