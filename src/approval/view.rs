//! Approvals as the admin API, the 202 answer and the rejection webhook show them: one
//! serde type per shape, so each field is named and typed once.

use super::{Approval, ApprovalState, ApprovalStatus, Decider, Delivery, OriginResult};
use crate::timestamp::format_rfc3339;
use crate::webhook::REJECTED_EVENT;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The body of a 202: where the request waits. Owned, as the approval goes on to the queue.
#[derive(Serialize)]
pub struct QueuedAnswer {
    approval_id: String,
    status: &'static str,
    expires_at: String,
}

pub fn queued_answer(approval: &Approval) -> QueuedAnswer {
    QueuedAnswer {
        approval_id: approval.id.to_string(),
        status: ApprovalStatus::Pending.as_str(),
        expires_at: format_rfc3339(approval.expires_at),
    }
}

/// An approval as the admin API shows it.
#[derive(Serialize)]
struct ApprovalView<'a> {
    id: &'a str,
    status: &'static str,
    workspace: &'a str,
    key_id: &'a str,
    key_name: &'a str,
    environment: &'static str,
    required_scope: String,
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    body_bytes: u64,
    created_at: String,
    expires_at: String,
    decided_at: Option<String>,
    decided_by: Option<DeciderView<'a>>,
    reason: Option<&'a str>,
    result: Option<ResultView<'a>>,
    webhook: Option<DeliveryView<'a>>,
    /// Only for a single approval: a list leaves out the headers and the body.
    #[serde(flatten)]
    stored: Option<StoredRequest<'a>>,
}

#[derive(Serialize)]
struct StoredRequest<'a> {
    headers: BTreeMap<String, &'a str>,
    #[serde(flatten)]
    body: BodyView,
}

/// An approval as the admin API shows it. `body` is the stored body for a single
/// approval; `None` (a list) leaves out the headers and the body.
pub fn approval_object(approval: &Approval, body: Option<&[u8]>, now_ms: u64) -> Value {
    let request = &approval.request;
    let decision = approval.state.decision();
    let view = ApprovalView {
        id: approval.id.as_str(),
        status: approval.status(now_ms).as_str(),
        workspace: &approval.workspace,
        key_id: approval.key_id.as_str(),
        key_name: &approval.key_name,
        environment: approval.environment.as_str(),
        required_scope: approval.required_scope(),
        method: &request.method,
        path: &request.path,
        query: request.query.as_deref(),
        body_bytes: request.body_bytes,
        created_at: format_rfc3339(approval.created_at),
        expires_at: format_rfc3339(approval.expires_at),
        decided_at: decision.map(|d| format_rfc3339(d.at)),
        decided_by: decision.map(|d| DeciderView::of(&d.by)),
        reason: match &approval.state {
            ApprovalState::Rejected { reason, .. } => Some(reason.as_str()),
            _ => None,
        },
        result: ResultView::of(&approval.state),
        webhook: match &approval.state {
            ApprovalState::Rejected {
                webhook: Some(delivery),
                ..
            } => Some(DeliveryView::of(delivery)),
            _ => None,
        },
        stored: body.map(|body| StoredRequest {
            headers: request
                .headers
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.as_str()))
                .collect(),
            body: BodyView::of(body),
        }),
    };
    // Strings, numbers and maps of them cannot fail to serialize.
    serde_json::to_value(view).unwrap_or_default()
}

/// Who decided, as the admin API and the rejection webhook show it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeciderView<'a> {
    Root,
    Key { id: &'a str, name: &'a str },
    Member { id: &'a str, name: &'a str },
}

impl DeciderView<'_> {
    pub fn of(decider: &Decider) -> DeciderView<'_> {
        match decider {
            Decider::Root => DeciderView::Root,
            Decider::Key { key_id, key_name } => DeciderView::Key {
                id: key_id.as_str(),
                name: key_name,
            },
            Decider::Member { id, name } => DeciderView::Member { id, name },
        }
    }
}

/// What came of an approval that was carried out, or could not be.
#[derive(Serialize)]
#[serde(untagged)]
enum ResultView<'a> {
    Answered {
        origin_status: u16,
        #[serde(flatten)]
        body: BodyView,
        body_truncated: bool,
    },
    Error {
        error: &'static str,
        detail: std::borrow::Cow<'a, str>,
    },
}

impl ResultView<'_> {
    fn of(state: &ApprovalState) -> Option<ResultView<'_>> {
        let error = |error, detail: &'static str| ResultView::Error {
            error,
            detail: detail.into(),
        };
        match state {
            ApprovalState::Approved {
                result:
                    Some(OriginResult::Answered {
                        status,
                        body,
                        truncated,
                    }),
                ..
            } => Some(ResultView::Answered {
                origin_status: *status,
                body: BodyView::of(body),
                body_truncated: *truncated,
            }),
            ApprovalState::Approved {
                result: Some(OriginResult::Unreachable),
                ..
            } => Some(error(
                "origin_unreachable",
                "the upstream API could not be reached; the request was sent once and is not retried",
            )),
            ApprovalState::Approved {
                result: Some(OriginResult::TimedOut),
                ..
            } => Some(error(
                "origin_timeout",
                "the upstream API did not answer in time; it may have acted on the request",
            )),
            ApprovalState::Failed { failure, .. } => Some(ResultView::Error {
                error: failure.code(),
                detail: failure.detail().into(),
            }),
            _ => None,
        }
    }
}

/// A rejection webhook's delivery, as reviewers see it: never its URL.
#[derive(Serialize)]
pub struct DeliveryView<'a> {
    status: &'a super::DeliveryState,
    attempts: u32,
    last_attempt_at: Option<String>,
    last_error: Option<&'a super::DeliveryError>,
    delivered_at: Option<String>,
}

impl DeliveryView<'_> {
    pub fn of(delivery: &Delivery) -> DeliveryView<'_> {
        DeliveryView {
            status: &delivery.state,
            attempts: delivery.attempts,
            last_attempt_at: delivery.last_attempt_at.map(format_rfc3339),
            last_error: delivery.last_error.as_ref(),
            delivered_at: delivery.delivered_at.map(format_rfc3339),
        }
    }
}

/// `body` and `body_encoding`: the text when it is UTF-8, base64 otherwise.
#[derive(Serialize)]
pub struct BodyView {
    body: String,
    body_encoding: &'static str,
}

impl BodyView {
    pub fn of(body: &[u8]) -> BodyView {
        match std::str::from_utf8(body) {
            Ok(text) => BodyView {
                body: text.to_string(),
                body_encoding: "utf8",
            },
            Err(_) => BodyView {
                body: STANDARD.encode(body),
                body_encoding: "base64",
            },
        }
    }
}

/// The JSON body POSTed for a rejected approval; `None` if it is not rejected.
pub fn rejection_payload(approval: &Approval, body: &[u8]) -> Option<Vec<u8>> {
    let ApprovalState::Rejected {
        decision, reason, ..
    } = &approval.state
    else {
        return None;
    };
    let payload = RejectionPayload {
        event: REJECTED_EVENT,
        approval_id: approval.id.as_str(),
        key_id: approval.key_id.as_str(),
        key_name: &approval.key_name,
        workspace: &approval.workspace,
        reason,
        rejected_at: format_rfc3339(decision.at),
        rejected_by: DeciderView::of(&decision.by),
        request: RejectedRequest {
            method: &approval.request.method,
            path: &approval.request.path,
            query: approval.request.query.as_deref(),
            body: BodyView::of(body),
        },
    };
    serde_json::to_vec(&payload).ok()
}

/// The JSON body POSTed for a rejected approval.
#[derive(Serialize)]
struct RejectionPayload<'a> {
    #[serde(rename = "type")]
    event: &'static str,
    approval_id: &'a str,
    key_id: &'a str,
    key_name: &'a str,
    workspace: &'a str,
    reason: &'a str,
    rejected_at: String,
    rejected_by: DeciderView<'a>,
    request: RejectedRequest<'a>,
}

#[derive(Serialize)]
struct RejectedRequest<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    #[serde(flatten)]
    body: BodyView,
}
