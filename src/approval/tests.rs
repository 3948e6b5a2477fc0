use super::lifecycle::*;
use super::review::*;
use super::*;
use crate::authority::{Refusal, SubmitterFailure};
use crate::delegation::Actor;
use crate::key::KEY_ID_RANDOM_BYTES;
use crate::key::{Environment, KeyId};
use crate::limits::Limits;
use crate::policy::{Action, Policy, RouteTarget};
use crate::queue::QueueShard;
use crate::record::{Grantee, Principal};
use proptest::prelude::*;
use serde_json::{json, Value};

const NOW: u64 = 1_900_000_000_000;
const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;

fn policy() -> Policy {
    Policy::from_toml(include_str!("../../policies/demo.toml")).expect("demo policy loads")
}

fn grantee(seed: u8, workspace: &str, scopes: &[&str]) -> Grantee {
    Grantee {
        key_id: KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]),
        key_name: format!("key {seed}"),
        workspace: workspace.into(),
        environment: Environment::Live,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        limits: Limits::new(10, 100).expect("valid limits"),
        expires_at: None,
        created_by: Some(Principal::Root),
        family: None,
    }
}

/// Made by the root token, like every [`grantee`]: unrelated to one another.
fn agent() -> Grantee {
    grantee(1, "acme", &["contacts:write-approval"])
}

fn pending() -> Approval {
    Approval::submit(
        ApprovalId::generate(&QueueShard::of("acme"), &[3; APPROVAL_ID_RANDOM_BYTES]),
        Submission {
            grantee: &agent(),
            secret: 1,
            target: RouteTarget {
                resource: "contacts".into(),
                action: Action::Write,
            },
            request: QueuedRequest {
                method: "POST".into(),
                path: "/v1/contacts".into(),
                query: Some("notify=1".into()),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body_bytes: 14,
            },
            now_ms: NOW,
            expire_after_ms: WEEK_MS,
        },
    )
}

fn reviewer(grantee: Grantee) -> Reviewer {
    Reviewer::of(&Actor::Key { grantee }, &policy())
}

fn root() -> Reviewer {
    Reviewer::of(&Actor::Root, &policy())
}

fn approve() -> Verdict {
    Verdict::Approve { submitter: Ok(()) }
}

fn reject(webhook: Option<&str>) -> Verdict {
    Verdict::Reject {
        reason: "not this one".into(),
        webhook: webhook.map(str::to_string),
        retry_ms: 60_000,
    }
}

#[test]
fn ids_parse_only_in_their_own_shape() {
    let id = ApprovalId::generate(&QueueShard::of("acme"), &[0xab; APPROVAL_ID_RANDOM_BYTES]);
    assert!(id.as_str().starts_with("apr_"));
    assert_eq!(id.as_str().len(), 4 + 22);
    assert_eq!(ApprovalId::parse(id.as_str()), Some(id.clone()));
    for bad in [
        "",
        "apr_",
        "key_AAAAAAAAAAAAAAAAAAAAAA",
        "apr_AAAAAAAAAAAAAAAAAAAAA",
        "apr_AAAAAAAAAAAAAAAAAAAAAAA",
        "apr_AAAAAAAAAAAAAAAAAAAAA-",
    ] {
        assert_eq!(ApprovalId::parse(bad), None, "{bad}");
    }
}

#[test]
fn an_id_leads_to_its_workspace_queue() {
    let acme = QueueShard::of("acme");
    let id = ApprovalId::generate(&acme, &[0x5c; APPROVAL_ID_RANDOM_BYTES]);
    assert_eq!(id.shard(), Some(acme.clone()));
    assert!(id.as_str().starts_with(&format!("apr_{acme}")));
    let parsed = ApprovalId::parse(id.as_str()).expect("an id we made parses");
    assert_eq!(parsed.shard(), Some(acme));
    assert_ne!(
        ApprovalId::generate(&QueueShard::of("globex"), &[0x5c; APPROVAL_ID_RANDOM_BYTES]).shard(),
        id.shard()
    );
}

#[test]
fn settled_approvals_are_purged_after_the_retention_and_only_then() {
    const RETAIN: u64 = 30 * 24 * 3600 * 1000;
    let waiting = pending();
    // Pending: kept until it has been expired for the retention.
    assert_eq!(waiting.purge_at(RETAIN), Some(waiting.expires_at + RETAIN));

    let mut approved = pending();
    approved
        .decide(&root(), approve(), NOW + 5)
        .expect("approved");
    // The origin call is still out: kept at least until it has certainly ended.
    assert_eq!(approved.purge_at(1_000), Some(NOW + 5 + IN_FLIGHT_MS));
    assert_eq!(approved.purge_at(RETAIN), Some(NOW + 5 + RETAIN));
    approved.record_result(OriginResult::Unreachable);
    assert_eq!(approved.purge_at(1_000), Some(NOW + 5 + 1_000));

    let mut failed = pending();
    let _ = failed.decide(
        &root(),
        Verdict::Approve {
            submitter: Err(SubmitterFailure::KeyDeleted),
        },
        NOW + 7,
    );
    assert_eq!(failed.purge_at(RETAIN), Some(NOW + 7 + RETAIN));

    let mut rejected = pending();
    rejected
        .decide(&root(), reject(Some("https://h.example/x")), NOW + 9)
        .expect("rejected");
    // Not while its webhook is still being delivered.
    assert_eq!(rejected.purge_at(RETAIN), None);
    if let Some(delivery) = rejected.delivery_mut() {
        delivery.after_attempt(Ok(()), NOW + 10);
    }
    assert_eq!(rejected.purge_at(RETAIN), Some(NOW + 9 + RETAIN));
    let mut quiet = pending();
    quiet
        .decide(&root(), reject(None), NOW + 11)
        .expect("rejected");
    assert_eq!(quiet.purge_at(2), Some(NOW + 13));
}

#[test]
fn stored_bytes_count_the_body_the_request_line_and_the_headers() {
    let request = pending().request;
    // 14 body + "POST" + "/v1/contacts" + "notify=1" + "Content-Type" + "application/json"
    assert_eq!(request.stored_bytes(), 14 + 4 + 12 + 8 + 12 + 16);
}

#[test]
fn a_submission_is_pending_until_it_expires() {
    let approval = pending();
    assert_eq!(approval.status(NOW), ApprovalStatus::Pending);
    // NOW is on a whole second; an odd millisecond rounds the end up, never down.
    let odd = Approval::submit(
        approval.id.clone(),
        Submission {
            grantee: &agent(),
            secret: 1,
            target: approval.target.clone(),
            request: approval.request.clone(),
            now_ms: NOW + 1,
            expire_after_ms: WEEK_MS,
        },
    );
    assert_eq!(odd.expires_at, NOW + WEEK_MS + 1000);
    assert_eq!(approval.status(NOW + WEEK_MS - 1), ApprovalStatus::Pending);
    assert_eq!(approval.status(NOW + WEEK_MS), ApprovalStatus::Expired);
    assert_eq!(approval.required_scope(), "contacts:write");
    assert_eq!(
        serde_json::to_value(queued_answer(&approval)).expect("serializes"),
        json!({"approval_id": approval.id.as_str(), "status": "pending", "expires_at": "2030-03-24T17:46:40Z"})
    );
}

#[test]
fn an_approval_is_decided_once_and_a_second_decision_says_how_it_stands() {
    let mut approval = pending();
    assert_eq!(approval.decide(&root(), approve(), NOW + 5), Ok(()));
    assert_eq!(approval.status(NOW + 5), ApprovalStatus::Approved);
    let before = approval.clone();
    for verdict in [approve(), reject(None)] {
        assert_eq!(
            approval.decide(&root(), verdict, NOW + 6),
            Err(QueueDeclined::NotPending {
                status: ApprovalStatus::Approved
            })
        );
    }
    assert_eq!(approval, before);
    // Only the first result is kept.
    let answered = OriginResult::Answered {
        status: 201,
        body: b"{}".to_vec(),
        truncated: false,
    };
    assert!(approval.record_result(answered.clone()));
    assert!(!approval.record_result(OriginResult::Unreachable));
    let shown = approval_object(&approval, Some(b"{}"), NOW + 7);
    assert_eq!(shown["result"]["origin_status"], 201);
    assert_eq!(shown["decided_by"], json!({"type": "root"}));
    assert_eq!(shown["decided_at"], "2030-03-17T17:46:40Z");
}

#[test]
fn an_expired_approval_cannot_be_decided() {
    for verdict in [approve(), reject(None)] {
        let mut approval = pending();
        assert_eq!(
            approval.decide(&root(), verdict, NOW + WEEK_MS),
            Err(QueueDeclined::NotPending {
                status: ApprovalStatus::Expired
            })
        );
        assert_eq!(approval.state, ApprovalState::Pending);
    }
}

#[test]
fn approving_for_a_key_that_may_no_longer_fails_the_approval() {
    let mut approval = pending();
    let verdict = Verdict::Approve {
        submitter: Err(SubmitterFailure::KeyRevoked),
    };
    assert_eq!(
        approval.decide(&root(), verdict, NOW),
        Err(QueueDeclined::SubmitterNotAllowed {
            failure: SubmitterFailure::KeyRevoked
        })
    );
    assert_eq!(approval.status(NOW), ApprovalStatus::Failed);
    let shown = approval_object(&approval, None, NOW);
    assert_eq!(shown["result"]["error"], "key_revoked");
    // Final: neither an approve nor a reject changes it now.
    assert_eq!(
        approval.decide(&root(), reject(None), NOW),
        Err(QueueDeclined::NotPending {
            status: ApprovalStatus::Failed
        })
    );
}

#[test]
fn reviewers_reach_their_workspace_and_never_their_own_requests() {
    let approval = pending();
    let approver = reviewer(grantee(2, "acme", &["approvals:write"]));
    let reader = reviewer(grantee(3, "acme", &["approvals:read"]));
    let outsider = reviewer(grantee(4, "globex", &["approvals:write"]));
    let bystander = reviewer(grantee(5, "acme", &["contacts:read"]));
    let admin = reviewer(grantee(6, "acme", &["admin"]));
    let submitter = reviewer(agent());
    let self_approver = reviewer(Grantee {
        scopes: vec!["contacts:write-approval".into(), "approvals:write".into()],
        ..agent()
    });

    assert!(approver.may_read(&approval));
    assert!(reader.may_read(&approval));
    assert!(admin.may_read(&approval));
    assert!(submitter.may_read(&approval), "an agent polls its own");
    assert!(!outsider.may_read(&approval));
    assert!(!bystander.may_read(&approval));

    assert_eq!(approver.needs(Action::Write), Ok(()));
    assert_eq!(admin.needs(Action::Write), Ok(()));
    assert_eq!(
        reader.needs(Action::Write),
        Err(Refusal::Scope {
            required_scope: "approvals:write".into(),
            approval_scope: None,
        })
    );
    assert_eq!(
        bystander.needs(Action::Read),
        Err(Refusal::Scope {
            required_scope: "approvals:read".into(),
            approval_scope: None,
        })
    );

    let decide = |reviewer: &Reviewer| pending().decide(reviewer, approve(), NOW);
    assert_eq!(decide(&approver), Ok(()));
    assert_eq!(decide(&admin), Ok(()));
    assert_eq!(decide(&outsider), Err(QueueDeclined::NotFound));
    assert_eq!(decide(&reader), Err(QueueDeclined::NotFound));
    assert_eq!(decide(&self_approver), Err(QueueDeclined::OwnApproval));
    assert_eq!(decide(&submitter), Err(QueueDeclined::OwnApproval));
    let mut approval = pending();
    approval
        .decide(&approver, approve(), NOW)
        .expect("approved");
    let shown = approval_object(&approval, None, NOW);
    assert_eq!(shown["decided_by"]["type"], "key");
    assert_eq!(shown["decided_by"]["name"], "key 2");
}

#[test]
fn a_rejection_keeps_the_reason_and_schedules_the_webhook_at_once() {
    let mut approval = pending();
    approval
        .decide(
            &root(),
            reject(Some("https://hooks.example.com/r?token=s3cret")),
            NOW + 9,
        )
        .expect("rejected");
    let delivery = approval.delivery_mut().expect("a webhook to deliver");
    assert_eq!(delivery.next_attempt_at, Some(NOW + 9));
    assert_eq!(delivery.give_up_at, NOW + 9 + 60_000);
    let shown = approval_object(&approval, Some(b"{}"), NOW + 9);
    assert_eq!(shown["status"], "rejected");
    assert_eq!(shown["reason"], "not this one");
    assert_eq!(shown["webhook"]["status"], "pending");
    assert_eq!(shown["webhook"]["attempts"], 0);
    // The URL may carry the receiver's token: never shown.
    assert!(!shown.to_string().contains("s3cret"), "{shown}");
    assert!(!shown.to_string().contains("hooks.example.com"), "{shown}");

    let mut quiet = pending();
    quiet.decide(&root(), reject(None), NOW).expect("rejected");
    assert!(quiet.delivery_mut().is_none());
    assert_eq!(approval_object(&quiet, None, NOW)["webhook"], Value::Null);
}

#[test]
fn bodies_show_as_text_when_utf8_and_base64_otherwise_and_lists_leave_them_out() {
    let approval = pending();
    let text = approval_object(&approval, Some("{\"name\":\"Zoë\"}".as_bytes()), NOW);
    assert_eq!(text["body"], "{\"name\":\"Zoë\"}");
    assert_eq!(text["body_encoding"], "utf8");
    assert_eq!(text["headers"], json!({"content-type": "application/json"}));
    assert_eq!(text["query"], "notify=1");
    let binary = approval_object(&approval, Some(&[0xff, 0x00, 0xfe]), NOW);
    assert_eq!(binary["body"], "/wD+");
    assert_eq!(binary["body_encoding"], "base64");
    let listed = approval_object(&approval, None, NOW);
    for absent in ["body", "headers", "body_encoding"] {
        assert!(listed.get(absent).is_none(), "{absent} in {listed}");
    }
    assert_eq!(listed["body_bytes"], 14);
    assert_eq!(listed["key_id"], agent().key_id.as_str());
    assert_eq!(listed["required_scope"], "contacts:write");
}

#[test]
fn origin_failures_and_truncation_are_shown() {
    for (result, error) in [
        (OriginResult::Unreachable, "origin_unreachable"),
        (OriginResult::TimedOut, "origin_timeout"),
    ] {
        let mut approval = pending();
        approval.decide(&root(), approve(), NOW).expect("approved");
        approval.record_result(result);
        assert_eq!(
            approval_object(&approval, None, NOW)["result"]["error"],
            error
        );
    }
    let mut approval = pending();
    approval.decide(&root(), approve(), NOW).expect("approved");
    assert_eq!(approval_object(&approval, None, NOW)["result"], Value::Null);
    approval.record_result(OriginResult::Answered {
        status: 500,
        body: vec![0xff],
        truncated: true,
    });
    let result = &approval_object(&approval, None, NOW)["result"];
    assert_eq!(
        (
            result["origin_status"].as_u64(),
            result["body_encoding"].as_str(),
            result["body_truncated"].as_bool()
        ),
        (Some(500), Some("base64"), Some(true))
    );
}

#[test]
fn stored_approvals_round_trip_through_json() {
    let mut approvals = vec![pending()];
    let mut approved = pending();
    approved.decide(&root(), approve(), NOW).expect("approved");
    approved.record_result(OriginResult::Answered {
        status: 200,
        body: vec![0, 159, 146, 150],
        truncated: false,
    });
    approvals.push(approved);
    let mut rejected = pending();
    rejected
        .decide(
            &reviewer(grantee(2, "acme", &["admin"])),
            reject(Some("https://h.example/x")),
            NOW,
        )
        .expect("rejected");
    approvals.push(rejected);
    let mut failed = pending();
    let _ = failed.decide(
        &root(),
        Verdict::Approve {
            submitter: Err(SubmitterFailure::ScopeLost {
                required_scope: "contacts:write".into(),
            }),
        },
        NOW,
    );
    approvals.push(failed);
    for approval in approvals {
        let json = serde_json::to_string(&approval).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Approval>(&json).ok(),
            Some(approval),
            "{json}"
        );
    }
}

#[test]
fn deliveries_back_off_and_give_up_when_the_window_closes() {
    let mut delivery = Delivery::new("https://h.example/x".into(), NOW, 10_000);
    let mut waits = Vec::new();
    while let Some(now) = delivery.next_attempt_at {
        delivery.after_attempt(Err(DeliveryError::ReceiverError), now);
        if let Some(next) = delivery.next_attempt_at {
            waits.push(next - now);
        }
    }
    assert_eq!(waits, [1_000, 2_000, 4_000]);
    assert_eq!(delivery.state, DeliveryState::Failed);
    assert_eq!(delivery.attempts, 4);
    assert_eq!(delivery.last_error, Some(DeliveryError::ReceiverError));

    let mut delivery = Delivery::new("https://h.example/x".into(), NOW, 10_000);
    delivery.after_attempt(Err(DeliveryError::Unreachable), NOW);
    delivery.after_attempt(Ok(()), NOW + 1_000);
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!((delivery.attempts, delivery.next_attempt_at), (2, None));
    assert_eq!(delivery.delivered_at, Some(NOW + 1_000));

    // No retry window: one attempt.
    let mut once = Delivery::new("https://h.example/x".into(), NOW, 0);
    once.after_attempt(Err(DeliveryError::Timeout), NOW);
    assert_eq!(once.state, DeliveryState::Failed);
}

/// A key reviewer with `approvals:write`, made by `creator`.
fn related_reviewer(seed: u8, creator: Option<Principal>) -> Reviewer {
    reviewer(Grantee {
        created_by: creator,
        ..grantee(seed, "acme", &["approvals:write"])
    })
}

fn made_by_key(seed: u8) -> Option<Principal> {
    Some(Principal::Key {
        key_id: KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]),
    })
}

/// `pending()`, as submitted by a key made by `creator`.
fn submitted_by_child_of(creator: Option<Principal>) -> Approval {
    Approval {
        submitter_created_by: creator,
        ..pending()
    }
}

#[test]
fn a_key_never_decides_for_its_maker_its_making_or_a_sibling() {
    let decide = |reviewer: &Reviewer, approval: Approval| {
        let mut approval = approval;
        approval.decide(reviewer, approve(), NOW)
    };
    let related = Err(QueueDeclined::RelatedApproval);
    // The reviewer (key 2) made the submitter.
    let reviewer = related_reviewer(2, Some(Principal::Root));
    assert_eq!(
        decide(&reviewer, submitted_by_child_of(made_by_key(2))),
        related
    );
    // The submitter (key 1, the agent) made the reviewer.
    let child = related_reviewer(2, made_by_key(1));
    assert_eq!(decide(&child, pending()), related);
    // Both made by key 7.
    let sibling = related_reviewer(2, made_by_key(7));
    assert_eq!(
        decide(&sibling, submitted_by_child_of(made_by_key(7))),
        related
    );
    // Either creator unknown: a relation cannot be ruled out.
    assert_eq!(decide(&reviewer, submitted_by_child_of(None)), related);
    assert_eq!(decide(&related_reviewer(2, None), pending()), related);
    // Made by the root token, both: not siblings. Made by different keys: unrelated.
    assert_eq!(decide(&reviewer, pending()), Ok(()));
    assert_eq!(
        decide(&sibling, submitted_by_child_of(made_by_key(8))),
        Ok(())
    );
    // The root token decides whatever the relations.
    assert_eq!(decide(&root(), submitted_by_child_of(None)), Ok(()));
    // Rejecting is deciding too.
    let mut approval = submitted_by_child_of(made_by_key(2));
    assert_eq!(approval.decide(&reviewer, reject(None), NOW), related);
    assert_eq!(approval.state, ApprovalState::Pending);
}

#[test]
fn no_key_decides_for_any_key_of_its_family() {
    let id = |seed: u8| KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]);
    // A (key 2, made by the root token) made B (key 5), which made C (key 1, the
    // agent): C's creator is B, its family A. A is neither C's maker nor its sibling.
    let a = reviewer(Grantee {
        created_by: Some(Principal::Root),
        family: Some(id(2)),
        ..grantee(2, "acme", &["approvals:write"])
    });
    let from_grandchild = Approval {
        submitter_created_by: made_by_key(5),
        submitter_family: Some(id(2)),
        ..pending()
    };
    assert_eq!(
        from_grandchild.clone().decide(&a, approve(), NOW),
        Err(QueueDeclined::RelatedApproval)
    );
    // A key of another family, made by the root token, decides it.
    let outsider = reviewer(Grantee {
        created_by: Some(Principal::Root),
        family: Some(id(9)),
        ..grantee(9, "acme", &["approvals:write"])
    });
    assert!(from_grandchild
        .clone()
        .decide(&outsider, approve(), NOW)
        .is_ok());
}

#[test]
fn reviewers_see_and_decide_only_their_own_environment() {
    let tester = reviewer(Grantee {
        environment: Environment::Test,
        ..grantee(2, "acme", &["approvals:write"])
    });
    let live = pending();
    assert_eq!(tester.environment(), Some(Environment::Test));
    assert_eq!(root().environment(), None);
    assert!(!tester.may_read(&live));
    assert_eq!(
        live.clone().decide(&tester, approve(), NOW),
        Err(QueueDeclined::NotFound)
    );
    let test_request = Approval {
        environment: Environment::Test,
        ..pending()
    };
    assert!(tester.may_read(&test_request));
    assert_eq!(test_request.clone().decide(&tester, approve(), NOW), Ok(()));
    let live_reviewer = reviewer(grantee(3, "acme", &["approvals:write"]));
    assert!(!live_reviewer.may_read(&test_request));
    assert_eq!(
        test_request.clone().decide(&live_reviewer, approve(), NOW),
        Err(QueueDeclined::NotFound)
    );
}

proptest! {
    /// Whatever reviewers try, in whatever order, an approval leaves `pending` at most
    /// once, and only the first decision that was allowed takes effect.
    #[test]
    fn at_most_one_decision_ever_takes_effect(
        attempts in proptest::collection::vec((0usize..4, 0usize..3, 0u64..(2 * WEEK_MS)), 1..12),
    ) {
        let reviewers = [
            root(),
            reviewer(grantee(2, "acme", &["approvals:write"])),
            reviewer(grantee(4, "globex", &["approvals:write"])),
            reviewer(agent()),
        ];
        let mut approval = pending();
        let mut first: Option<ApprovalState> = None;
        for (who, what, at) in attempts {
            let verdict = match what {
                0 => approve(),
                1 => reject(Some("https://h.example/x")),
                _ => Verdict::Approve { submitter: Err(SubmitterFailure::KeyDeleted) },
            };
            let before = approval.clone();
            let outcome = approval.decide(&reviewers[who], verdict, NOW + at);
            let took_effect = approval.state != before.state;
            if took_effect {
                prop_assert!(first.is_none(), "a second decision changed the state");
                prop_assert_eq!(&before.state, &ApprovalState::Pending);
                first = Some(approval.state.clone());
            } else {
                prop_assert!(outcome.is_err());
                prop_assert_eq!(&approval, &before);
            }
        }
    }

    /// Relations go both ways: if a key may not decide for another, the other may not
    /// decide for it either, and the root token always may.
    #[test]
    fn related_keys_are_refused_both_ways(
        reviewer_seed in 1u8..5, submitter_seed in 1u8..5,
        reviewer_maker in 0u8..6, submitter_maker in 0u8..6,
    ) {
        // 0: unknown, 1: the root token, 2..=5: the key with that seed (1..=4 overlap).
        let maker = |m: u8| match m {
            0 => None,
            1 => Some(Principal::Root),
            seed => Some(Principal::Key { key_id: KeyId::generate(&[seed - 1; KEY_ID_RANDOM_BYTES]) }),
        };
        let as_submitter = |seed: u8, m: u8| Approval {
            key_id: KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]),
            submitter_created_by: maker(m),
            ..pending()
        };
        let forward = as_submitter(submitter_seed, submitter_maker)
            .decide(&related_reviewer(reviewer_seed, maker(reviewer_maker)), approve(), NOW);
        let backward = as_submitter(reviewer_seed, reviewer_maker)
            .decide(&related_reviewer(submitter_seed, maker(submitter_maker)), approve(), NOW);
        prop_assert_eq!(&forward, &backward);
        if reviewer_maker == 0 || submitter_maker == 0 {
            prop_assert!(forward.is_err());
        }
        prop_assert_eq!(
            as_submitter(submitter_seed, submitter_maker).decide(&root(), approve(), NOW),
            Ok(())
        );
    }
}

fn member_reviewer(workspace: &str) -> Reviewer {
    Reviewer::of(
        &Actor::Member {
            workspace: workspace.into(),
            member: crate::session::Member {
                id: "user 7/ü".into(),
                name: "Ada".into(),
            },
            permissions: vec![crate::session::Permission::ApprovalsReview],
        },
        &policy(),
    )
}

#[test]
fn a_member_reviews_its_workspace_in_both_environments_without_the_family_rule() {
    let member = member_reviewer("acme");
    assert_eq!(member.environment(), None);
    assert_eq!(member.needs(Action::Write), Ok(()));
    // A test key's request and a live key's alike.
    for environment in [Environment::Live, Environment::Test] {
        let mut approval = pending();
        approval.environment = environment;
        // Even one whose submitter a related key would be barred from.
        approval.submitter_created_by = None;
        assert!(member.may_read(&approval));
        assert_eq!(approval.decide(&member, approve(), NOW), Ok(()));
        let shown = approval_object(&approval, None, NOW);
        assert_eq!(
            shown["decided_by"],
            json!({"type": "member", "id": "user 7/ü", "name": "Ada"})
        );
    }
    // Another workspace's approval is not there at all.
    let elsewhere = member_reviewer("globex");
    assert!(!elsewhere.may_read(&pending()));
    assert_eq!(
        pending().decide(&elsewhere, approve(), NOW),
        Err(QueueDeclined::NotFound)
    );
}

#[test]
fn the_approver_header_names_a_member_in_printable_ascii() {
    let member = member_reviewer("acme");
    assert_eq!(member.decider.header_value(), "member:user 7/%C3%BC");
    assert_eq!(root().decider.header_value(), "root");
    let key = reviewer(grantee(2, "acme", &["approvals:write"]));
    assert_eq!(
        key.decider.header_value(),
        KeyId::generate(&[2; KEY_ID_RANDOM_BYTES]).as_str()
    );
}

#[test]
fn an_approval_decided_by_a_member_round_trips_through_storage() {
    let mut approval = pending();
    approval
        .decide(&member_reviewer("acme"), approve(), NOW)
        .expect("decided");
    let stored = serde_json::to_string(&approval).expect("writes");
    assert_eq!(
        serde_json::from_str::<Approval>(&stored).expect("reads"),
        approval
    );
}
