//! A request stored for a human's approval instead of forwarded: what the approval record
//! holds, the bound its body is read with, and the 202 that says where it waits. The edge
//! reads the body, draws the id's randomness, and makes the one queue call.

use super::body;
use super::reply::{unwanted, ReplyError};
use crate::approval::{
    queued_answer, Approval, ApprovalId, QueueCommand, QueueReply, QueuedAnswer, QueuedRequest,
    Submission, APPROVAL_ID_RANDOM_BYTES,
};
use crate::policy::{ApprovalSettings, RouteTarget};
use crate::problem::{BodyBound, GatewayError};
use crate::queue::QueueShard;
use crate::record::Grantee;

/// A request the key's authority sent to the approval queue, before its body is read.
pub struct Queued {
    pub grantee: Grantee,
    /// The serial of the secret that sent it.
    pub secret: u64,
    pub target: RouteTarget,
    /// The client's headers as the platform gave them; only the sanitised ones are kept.
    pub headers: Vec<(String, String)>,
}

/// The request line the client sent.
pub struct RequestLine<'a> {
    pub method: String,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

/// How many bytes of a queued body to read: the policy's `[approvals] max_body_bytes`.
/// The body is kept, not streamed, so it is read whole.
pub fn body_limit(settings: &ApprovalSettings) -> usize {
    body::read_limit(settings.max_body_bytes)
}

/// The body read with [`body_limit`]; `more` says whether the client sent more (a 413).
pub fn accept_body(
    body: Vec<u8>,
    more: bool,
    settings: &ApprovalSettings,
) -> Result<Vec<u8>, GatewayError> {
    body::within(body, more, settings.max_body_bytes, BodyBound::Queued)
}

/// What the edge does to queue a request: one call to `shard`'s queue object, then the 202.
pub struct Submit {
    /// The workspace's queue; the id names it, so every later call goes straight to it.
    pub shard: QueueShard,
    pub command: QueueCommand,
    /// Where the approval is found in the admin API (`Location`).
    pub approval_id: ApprovalId,
    /// The 202's body.
    pub answer: QueuedAnswer,
}

/// The approval for `queued`, pending from `now_ms` until the policy's `expire_after_ms`.
pub fn submission(
    queued: Queued,
    line: RequestLine<'_>,
    body: Vec<u8>,
    random: &[u8; APPROVAL_ID_RANDOM_BYTES],
    settings: &ApprovalSettings,
    now_ms: u64,
) -> Submit {
    let shard = QueueShard::of(&queued.grantee.workspace);
    let id = ApprovalId::generate(&shard, random);
    let request = QueuedRequest {
        method: line.method,
        path: line.path.to_string(),
        query: line.query.map(str::to_string),
        headers: crate::headers::queued_request_headers(queued.headers),
        body_bytes: body.len() as u64,
    };
    let approval = Approval::submit(
        id,
        Submission {
            grantee: &queued.grantee,
            secret: queued.secret,
            target: queued.target,
            request,
            now_ms,
            expire_after_ms: settings.expire_after_ms,
        },
    );
    Submit {
        shard,
        approval_id: approval.id.clone(),
        answer: queued_answer(&approval),
        command: QueueCommand::Submit {
            approval: Box::new(approval),
            body,
        },
    }
}

/// Reads the queue's reply to [`Submit::command`]: stored, or declined (a cap is reached).
pub fn submitted(reply: QueueReply) -> Result<(), ReplyError> {
    match reply {
        QueueReply::Done => Ok(()),
        other => Err(unwanted(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{ApprovalState, QueueDeclined};
    use crate::policy::{Action, Policy};
    use crate::queue::QueueFull;
    use crate::request::admission::tests::grantee;

    const NOW: u64 = 1_900_000_000_123;

    fn settings() -> ApprovalSettings {
        Policy::from_toml(include_str!("../../policies/demo.toml"))
            .expect("demo policy loads")
            .approvals()
    }

    fn queued() -> Queued {
        Queued {
            grantee: grantee(),
            secret: 2,
            target: RouteTarget {
                resource: "contacts".into(),
                action: Action::Write,
            },
            headers: vec![
                ("authorization".into(), "Bearer kg_live_x".into()),
                ("content-type".into(), "application/json".into()),
                ("x-keygate-key-id".into(), "forged".into()),
            ],
        }
    }

    fn submit() -> Submit {
        let line = RequestLine {
            method: "POST".into(),
            path: "/v1/contacts",
            query: Some("notify=1"),
        };
        let random = [5; APPROVAL_ID_RANDOM_BYTES];
        submission(
            queued(),
            line,
            b"{\"a\":1}".to_vec(),
            &random,
            &settings(),
            NOW,
        )
    }

    #[test]
    fn the_approval_holds_the_request_as_sent_and_who_sent_it() {
        let submit = submit();
        let QueueCommand::Submit { approval, body } = &submit.command else {
            panic!("a submit");
        };
        assert_eq!(body, b"{\"a\":1}");
        assert_eq!(approval.id, submit.approval_id);
        assert_eq!(approval.id.shard(), Some(submit.shard.clone()));
        assert_eq!(submit.shard, QueueShard::of("acme"));
        assert_eq!(approval.key_id, grantee().key_id);
        assert_eq!(approval.secret, Some(2));
        assert_eq!(approval.state, ApprovalState::Pending);
        assert_eq!(approval.created_at, NOW);
        assert!(approval.expires_at >= NOW + settings().expire_after_ms);
        let request = &approval.request;
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/contacts");
        assert_eq!(request.query.as_deref(), Some("notify=1"));
        assert_eq!(request.body_bytes, 7);
        // Neither the key nor anything in keygate's prefix is stored.
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type"]);
        let answer = serde_json::to_value(&submit.answer).expect("serialises");
        assert_eq!(answer["approval_id"], approval.id.as_str());
        assert_eq!(answer["status"], "pending");
    }

    #[test]
    fn the_body_bound_is_the_policy_s() {
        let settings = settings();
        assert_eq!(body_limit(&settings) as u64, settings.max_body_bytes);
        assert!(accept_body(vec![1], false, &settings).is_ok());
        let error = accept_body(vec![1], true, &settings).expect_err("too long");
        assert_eq!(
            error,
            GatewayError::PayloadTooLarge {
                max_bytes: settings.max_body_bytes,
                bound: BodyBound::Queued
            }
        );
    }

    #[test]
    fn a_full_queue_declines_and_anything_else_fails_closed() {
        assert!(submitted(QueueReply::Done).is_ok());
        let full = QueueReply::Declined {
            declined: QueueDeclined::QueueFull {
                full: QueueFull::PendingPerKey { max: 1 },
            },
        };
        let error = submitted(full).expect_err("declined").refused().error;
        assert_eq!(error.code(), "approval_queue_full");
        let page = QueueReply::Page {
            approvals: Vec::new(),
            next: None,
        };
        let error = submitted(page).expect_err("unexpected").refused().error;
        assert_eq!(error, GatewayError::StoreUnavailable);
    }
}
