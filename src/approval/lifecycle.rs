//! An approval's life: the queued request, its states, and the one step that changes them
//! ([`Approval::decide`]).

use super::{base64_bytes, Delivery, IN_FLIGHT_MS};
use crate::authority::SubmitterFailure;
use crate::key::{base62_fixed, Environment, KeyId};
use crate::page::ListedId;
use crate::policy::RouteTarget;
use crate::queue::{QueueFull, QueueShard, SHARD_CHARS};
use crate::record::{Grantee, Principal};
use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;
use std::fmt;

const ID_PREFIX: &str = "apr_";
const ID_CHARS: usize = 22;
/// Random bytes behind an approval id; the 16 base62 characters after the shard keep about
/// 95 bits of them.
pub const APPROVAL_ID_RANDOM_BYTES: usize = 16;

/// An approval's public identifier, e.g. `apr_3x9…`: 22 base62 characters after `apr_`, the
/// first [`SHARD_CHARS`] of them its workspace's [`QueueShard`], the rest random.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovalId(String);

impl ApprovalId {
    pub fn generate(shard: &QueueShard, random: &[u8; APPROVAL_ID_RANDOM_BYTES]) -> ApprovalId {
        let random = base62_fixed(random, ID_CHARS - SHARD_CHARS);
        ApprovalId(format!("{ID_PREFIX}{shard}{random}"))
    }

    /// The queue object the approval lives in.
    pub fn shard(&self) -> Option<QueueShard> {
        let start = ID_PREFIX.len();
        QueueShard::parse(self.0.get(start..start + SHARD_CHARS)?)
    }

    /// Accepts only ids this module could have made, so a path segment never reaches
    /// storage unchecked.
    pub fn parse(text: &str) -> Option<ApprovalId> {
        let body = text.strip_prefix(ID_PREFIX)?;
        (body.len() == ID_CHARS && body.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| ApprovalId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ListedId for ApprovalId {
    fn parse(text: &str) -> Option<ApprovalId> {
        ApprovalId::parse(text)
    }
    fn as_str(&self) -> &str {
        ApprovalId::as_str(self)
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request as the origin would have received it, minus keygate's identity headers
/// (added when it is sent) and the body (kept apart, so lists never load it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRequest {
    pub method: String,
    pub path: String,
    /// Without the `?`; `None` when the request had none.
    pub query: Option<String>,
    /// Sanitised: never `Authorization`, never a reserved `X-Keygate-` header.
    pub headers: Vec<(String, String)>,
    pub body_bytes: u64,
}

impl QueuedRequest {
    /// What the request takes in the queue, as its workspace's byte cap counts it: the
    /// body, the request line and the headers kept.
    pub fn stored_bytes(&self) -> u64 {
        let line = self.method.len() + self.path.len() + self.query.as_ref().map_or(0, String::len);
        let headers: usize = self.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        self.body_bytes.saturating_add((line + headers) as u64)
    }
}

/// One request waiting for (or past) a human's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: ApprovalId,
    pub key_id: KeyId,
    pub key_name: String,
    pub workspace: String,
    pub environment: Environment,
    /// What the request needs; checked again against the key when it is approved.
    pub target: RouteTarget,
    pub request: QueuedRequest,
    pub created_at: u64,
    pub expires_at: u64,
    pub state: ApprovalState,
    /// The submitting key's creator, copied at submit time (a key's creator never
    /// changes): a key reviewer related to the submitter may not decide. `None`: unknown.
    #[serde(default)]
    pub submitter_created_by: Option<Principal>,
    /// The submitting key's family ([`crate::record::KeyRecord::family_id`]), copied at
    /// submit time: no key of the same family may decide. `None`: stored before families.
    #[serde(default)]
    pub submitter_family: Option<KeyId>,
    /// The serial of the secret that submitted the request; it must still be live when the
    /// request is approved. `None` in approvals stored before serials were recorded.
    #[serde(default)]
    pub secret: Option<u64>,
}

/// Where an approval stands. Every state but `Pending` is final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    /// Sent to the origin; `result` is `None` until the origin's answer is recorded.
    Approved {
        decision: Decision,
        result: Option<OriginResult>,
    },
    /// An approval of a request whose key may no longer make it: the origin was not called.
    Failed {
        decision: Decision,
        failure: SubmitterFailure,
    },
    Rejected {
        decision: Decision,
        reason: String,
        /// `None` when the key has no rejection webhook.
        webhook: Option<Delivery>,
    },
}

/// Who decided, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub by: Decider,
    pub at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decider {
    Root,
    Key {
        key_id: KeyId,
        key_name: String,
    },
    /// One of the provider's members, through a portal session.
    Member {
        id: String,
        name: String,
    },
}

impl Decider {
    /// The `X-Keygate-Approved-By` value: `root`, the approving key's id, or `member:` and
    /// the member's id, percent-encoded as the key name is (so any id is a header value).
    pub fn header_value(&self) -> String {
        match self {
            Decider::Root => "root".into(),
            Decider::Key { key_id, .. } => key_id.as_str().into(),
            Decider::Member { id, .. } => {
                format!("member:{}", crate::identity::percent_encode(id))
            }
        }
    }
}

/// What the origin answered to an approved request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OriginResult {
    Answered {
        status: u16,
        /// At most [`super::MAX_RESULT_BODY_BYTES`], base64 in storage.
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
        truncated: bool,
    },
    Unreachable,
    TimedOut,
}

/// What the API shows; `Expired` is a pending approval past its `expires_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
    Failed,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 5] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Expired,
        ApprovalStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Failed => "failed",
        }
    }
}

impl ApprovalState {
    /// The stored status, which does not know about expiry.
    pub fn stored_status(&self) -> ApprovalStatus {
        match self {
            ApprovalState::Pending => ApprovalStatus::Pending,
            ApprovalState::Approved { .. } => ApprovalStatus::Approved,
            ApprovalState::Failed { .. } => ApprovalStatus::Failed,
            ApprovalState::Rejected { .. } => ApprovalStatus::Rejected,
        }
    }

    pub(super) fn decision(&self) -> Option<&Decision> {
        match self {
            ApprovalState::Pending => None,
            ApprovalState::Approved { decision, .. }
            | ApprovalState::Failed { decision, .. }
            | ApprovalState::Rejected { decision, .. } => Some(decision),
        }
    }
}

/// A reviewer's decision on a pending approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Approve: the submitting key still may (`Ok`), or why it no longer may.
    Approve {
        submitter: Result<(), SubmitterFailure>,
    },
    Reject {
        reason: String,
        /// The submitting key's rejection webhook, as it is now.
        webhook: Option<String>,
        /// How long a failing delivery is retried.
        retry_ms: u64,
    },
}

/// Why a queue command was declined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum QueueDeclined {
    /// No such approval, or one the reviewer may not see: the same answer.
    NotFound,
    /// Already decided, or expired.
    NotPending { status: ApprovalStatus },
    /// A key may not decide on the requests it submitted itself.
    OwnApproval,
    /// A key may not decide on a request of a key related to it (see [`super::Reviewer`]).
    RelatedApproval,
    /// The approval was found pending, but its key may no longer make the request: it
    /// is now failed.
    SubmitterNotAllowed { failure: SubmitterFailure },
    /// A submit over one of the queue's caps: nothing was stored.
    QueueFull { full: QueueFull },
}

impl Approval {
    pub fn status(&self, now_ms: u64) -> ApprovalStatus {
        match (&self.state, now_ms >= self.expires_at) {
            (ApprovalState::Pending, true) => ApprovalStatus::Expired,
            (state, _) => state.stored_status(),
        }
    }

    /// The scope that would have let the key make the request without approval.
    pub fn required_scope(&self) -> String {
        format!("{}:{}", self.target.resource, self.target.action.as_str())
    }

    /// Records the origin's answer to the approved request; only the first is kept.
    pub fn record_result(&mut self, origin: OriginResult) -> bool {
        match &mut self.state {
            ApprovalState::Approved { result, .. } if result.is_none() => {
                *result = Some(origin);
                true
            }
            _ => false,
        }
    }

    /// When the queue forgets this approval: `retain_ms` after it settled, by a decision or
    /// by expiring unanswered. `None` while a rejection's webhook is still being delivered
    /// (its row is saved again after every attempt). An approval whose origin call may still
    /// be out is kept at least [`IN_FLIGHT_MS`], so the origin's answer finds it.
    pub fn purge_at(&self, retain_ms: u64) -> Option<u64> {
        let after = |at: u64, keep: u64| Some(at.saturating_add(keep));
        match &self.state {
            ApprovalState::Pending => after(self.expires_at, retain_ms),
            ApprovalState::Rejected {
                webhook: Some(delivery),
                ..
            } if delivery.next_attempt_at.is_some() => None,
            ApprovalState::Approved {
                decision,
                result: None,
            } => after(decision.at, retain_ms.max(IN_FLIGHT_MS)),
            ApprovalState::Approved { decision, .. }
            | ApprovalState::Failed { decision, .. }
            | ApprovalState::Rejected { decision, .. } => after(decision.at, retain_ms),
        }
    }

    /// The rejection webhook still to deliver, if any.
    pub fn delivery_mut(&mut self) -> Option<&mut Delivery> {
        match &mut self.state {
            ApprovalState::Rejected {
                webhook: Some(delivery),
                ..
            } => Some(delivery),
            _ => None,
        }
    }
}

/// The request to queue: what the data plane read, and who sent it.
pub struct Submission<'a> {
    pub grantee: &'a Grantee,
    /// The serial of the secret that sent it.
    pub secret: u64,
    pub target: RouteTarget,
    pub request: QueuedRequest,
    pub now_ms: u64,
    pub expire_after_ms: u64,
}

impl Approval {
    pub fn submit(id: ApprovalId, submission: Submission) -> Approval {
        let Submission {
            grantee,
            secret,
            target,
            request,
            now_ms,
            expire_after_ms,
        } = submission;
        Approval {
            id,
            key_id: grantee.key_id.clone(),
            key_name: grantee.key_name.clone(),
            workspace: grantee.workspace.clone(),
            environment: grantee.environment,
            target,
            request,
            created_at: now_ms,
            // On a whole second, so the `expires_at` shown (whole seconds) is exactly when
            // the approval stops being pending.
            expires_at: now_ms.saturating_add(expire_after_ms).div_ceil(1000) * 1000,
            state: ApprovalState::Pending,
            submitter_created_by: grantee.created_by.clone(),
            submitter_family: grantee.family.clone(),
            secret: Some(secret),
        }
    }
}
