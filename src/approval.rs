//! The approval queue: requests a key may make only with a human's approval.
//!
//! A key whose grant on a resource is exactly an `<action>-approval` level does not reach
//! the origin: keygate stores the request (an [`Approval`]) and answers 202. A reviewer —
//! the root token, or a key holding `approvals:write` in the same workspace ([`Reviewer`])
//! — then approves it, and keygate sends it to the origin once, or rejects it with a
//! reason, and keygate tells the submitting key's rejection webhook
//! ([`crate::webhook`]).
//!
//! Every change of an approval is one call of [`Approval::decide`] on the queue's Durable
//! Object, which runs one command at a time: of two racing approvals exactly one finds it
//! pending, so the origin is called once. A pending approval past its `expires_at` is
//! expired; nothing needs to run for that.

use crate::authority::Grantee;
use crate::delegation::{Actor, Principal};
use crate::key::{base62_fixed, Environment, KeyId};
use crate::policy::{Access, Action, Policy, RouteTarget};
use crate::problem::{FieldError, GatewayError};
use crate::queue::{QueueFull, QueueShard, SHARD_CHARS};
use crate::timestamp::format_rfc3339;
use crate::webhook::Delivery;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::fmt;

/// The policy resource whose grants let a key review the queue: read lists and shows,
/// write approves and rejects.
pub const APPROVALS_RESOURCE: &str = "approvals";
/// How much of the origin's answer to an approved request is kept.
pub const MAX_RESULT_BODY_BYTES: usize = 64 * 1024;
const MAX_REASON_CHARS: usize = 1000;
/// Longer than any origin call lasts (`KEYGATE_ORIGIN_TIMEOUT_MS` is at most 5 minutes).
pub const IN_FLIGHT_MS: u64 = 10 * 60 * 1000;

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
    /// The submitting key's family ([`crate::authority::KeyRecord::family_id`]), copied at
    /// submit time: no key of the same family may decide. `None`: stored before families.
    #[serde(default)]
    pub submitter_family: Option<KeyId>,
    /// The serial of the secret that submitted the request; it must still be live when the
    /// request is approved. `None` in approvals stored before serials were recorded.
    #[serde(default)]
    pub secret: Option<u64>,
}

/// Where an approval stands. Every state but `Pending` is final.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decider {
    Root,
    Key { key_id: KeyId, key_name: String },
}

impl Decider {
    /// The `X-Keygate-Approved-By` value: `root`, or the approving key's id.
    pub fn header_value(&self) -> &str {
        match self {
            Decider::Root => "root",
            Decider::Key { key_id, .. } => key_id.as_str(),
        }
    }
}

/// What the origin answered to an approved request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OriginResult {
    Answered {
        status: u16,
        /// At most [`MAX_RESULT_BODY_BYTES`], base64 in storage.
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
        truncated: bool,
    },
    Unreachable,
    TimedOut,
}

/// Why the submitting key may no longer make the request it queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SubmitterFailure {
    KeyRevoked,
    KeyExpired,
    KeyDeleted,
    ScopeLost {
        required_scope: String,
    },
    /// The secret that queued the request was rotated out, or the key was revoked and
    /// re-activated since: whoever held that secret may not have been the key's owner.
    SecretRetired,
}

impl SubmitterFailure {
    pub fn code(&self) -> &'static str {
        match self {
            SubmitterFailure::KeyRevoked => "key_revoked",
            SubmitterFailure::KeyExpired => "key_expired",
            SubmitterFailure::KeyDeleted => "key_deleted",
            SubmitterFailure::ScopeLost { .. } => "scope_lost",
            SubmitterFailure::SecretRetired => "secret_retired",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            SubmitterFailure::KeyRevoked => {
                "the key that submitted the request has been revoked since".into()
            }
            SubmitterFailure::KeyExpired => {
                "the key that submitted the request has expired since".into()
            }
            SubmitterFailure::KeyDeleted => {
                "the key that submitted the request has been deleted since".into()
            }
            SubmitterFailure::ScopeLost { required_scope } => format!(
                "the key that submitted the request no longer holds `{required_scope}` or its approval level"
            ),
            SubmitterFailure::SecretRetired => {
                "the secret that submitted the request no longer works (rotated out, or the key was revoked since)".into()
            }
        }
    }
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

    fn decision(&self) -> Option<&Decision> {
        match self {
            ApprovalState::Pending => None,
            ApprovalState::Approved { decision, .. }
            | ApprovalState::Failed { decision, .. }
            | ApprovalState::Rejected { decision, .. } => Some(decision),
        }
    }
}

/// A reviewer's decision on a pending approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum QueueDeclined {
    /// No such approval, or one the reviewer may not see: the same answer.
    NotFound,
    /// Already decided, or expired.
    NotPending { status: ApprovalStatus },
    /// A key may not decide on the requests it submitted itself.
    OwnApproval,
    /// A key may not decide on a request of a key related to it (see [`Reviewer`]).
    RelatedApproval,
    /// The approval was found pending, but its key may no longer make the request: it
    /// is now failed.
    SubmitterNotAllowed { failure: SubmitterFailure },
    /// A submit over one of the queue's caps: nothing was stored.
    QueueFull { full: QueueFull },
}

impl From<QueueDeclined> for GatewayError {
    fn from(declined: QueueDeclined) -> GatewayError {
        match declined {
            QueueDeclined::NotFound => GatewayError::NotFound,
            QueueDeclined::NotPending { status } => GatewayError::ApprovalDecided { status },
            QueueDeclined::OwnApproval => GatewayError::OwnApproval,
            QueueDeclined::RelatedApproval => GatewayError::RelatedKeyApproval,
            QueueDeclined::SubmitterNotAllowed { failure } => {
                GatewayError::SubmitterNotAllowed { failure }
            }
            QueueDeclined::QueueFull { full } => GatewayError::ApprovalQueueFull(full),
        }
    }
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

    /// Applies `verdict` if `reviewer` may and the approval is still pending; otherwise
    /// changes nothing. An approval whose key may no longer make the request becomes
    /// `Failed` (and the answer says why).
    pub fn decide(
        &mut self,
        reviewer: &Reviewer,
        verdict: Verdict,
        now_ms: u64,
    ) -> Result<(), QueueDeclined> {
        reviewer.may_decide(self)?;
        match self.status(now_ms) {
            ApprovalStatus::Pending => {}
            status => return Err(QueueDeclined::NotPending { status }),
        }
        let decision = Decision {
            by: reviewer.decider.clone(),
            at: now_ms,
        };
        self.state = match verdict {
            Verdict::Approve { submitter: Ok(()) } => ApprovalState::Approved {
                decision,
                result: None,
            },
            Verdict::Approve {
                submitter: Err(failure),
            } => ApprovalState::Failed { decision, failure },
            Verdict::Reject {
                reason,
                webhook,
                retry_ms,
            } => ApprovalState::Rejected {
                decision,
                reason,
                webhook: webhook.map(|url| Delivery::new(url, now_ms, retry_ms)),
            },
        };
        match &self.state {
            ApprovalState::Failed { failure, .. } => Err(QueueDeclined::SubmitterNotAllowed {
                failure: failure.clone(),
            }),
            _ => Ok(()),
        }
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

/// Who is looking at the queue, and what they may do there.
///
/// A key reviewer sees and decides only approvals of its own workspace and environment (a
/// test key never sends a request to production), and never decides one submitted by
/// itself or by a key related to it: a key it created, the key that created it, or a
/// sibling made by the same key — else one key could make a twin, submit through it and
/// approve as itself. Keys made by the root token (or a person) are not siblings. Where
/// either creator is unknown (keys stored before keygate recorded it), a relation cannot
/// be ruled out, and only the root token or an unrelated key with known creator decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewer {
    pub decider: Decider,
    pub reach: Reach,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reach", rename_all = "snake_case")]
pub enum Reach {
    /// The root token: every approval.
    Everything,
    /// A key: its own submissions, and its workspace's as far as its `approvals` grant goes.
    Workspace {
        workspace: String,
        environment: Environment,
        /// The reviewing key's creator; `None`: unknown.
        #[serde(default)]
        created_by: Option<Principal>,
        /// The reviewing key's family; `None`: unknown.
        #[serde(default)]
        family: Option<KeyId>,
        may_read: bool,
        may_decide: bool,
    },
}

impl Reviewer {
    /// The reviewer an admin caller is: the policy's `approvals` resource says what a
    /// key may do (`admin` reaches it like any resource).
    pub fn of(actor: &Actor, policy: &Policy) -> Reviewer {
        match actor {
            Actor::Root => Reviewer {
                decider: Decider::Root,
                reach: Reach::Everything,
            },
            Actor::Key { grantee } => {
                let allowed = |action| {
                    let target = RouteTarget {
                        resource: APPROVALS_RESOURCE.to_string(),
                        action,
                    };
                    policy.decide(&grantee.scopes, &target) == Access::Allowed
                };
                Reviewer {
                    decider: Decider::Key {
                        key_id: grantee.key_id.clone(),
                        key_name: grantee.key_name.clone(),
                    },
                    reach: Reach::Workspace {
                        workspace: grantee.workspace.clone(),
                        environment: grantee.environment,
                        created_by: grantee.created_by.clone(),
                        family: grantee.family.clone(),
                        may_read: allowed(Action::Read),
                        may_decide: allowed(Action::Write),
                    },
                }
            }
        }
    }

    /// `Err` naming the scope a key lacks to list the queue or decide on it.
    pub fn needs(&self, action: Action) -> Result<(), GatewayError> {
        let held = match (&self.reach, action) {
            (Reach::Everything, _) => true,
            (Reach::Workspace { may_decide, .. }, Action::Write) => *may_decide,
            (Reach::Workspace { may_read, .. }, _) => *may_read,
        };
        match held {
            true => Ok(()),
            false => Err(GatewayError::InsufficientScope {
                required_scope: format!("{APPROVALS_RESOURCE}:{}", action.as_str()),
                approval_scope: None,
            }),
        }
    }

    /// The environment a key reviewer works in; `None` for the root token (both).
    pub fn environment(&self) -> Option<Environment> {
        match &self.reach {
            Reach::Everything => None,
            Reach::Workspace { environment, .. } => Some(*environment),
        }
    }

    /// Whether the reviewer may see `approval`: its workspace's and environment's with
    /// `approvals:read`, and a key always its own submissions (so an agent can poll for the
    /// outcome).
    pub fn may_read(&self, approval: &Approval) -> bool {
        match (&self.reach, &self.decider) {
            (Reach::Everything, _) => true,
            (
                Reach::Workspace {
                    workspace,
                    environment,
                    may_read,
                    ..
                },
                Decider::Key { key_id, .. },
            ) => {
                (*may_read
                    && *workspace == approval.workspace
                    && *environment == approval.environment)
                    || *key_id == approval.key_id
            }
            (Reach::Workspace { .. }, Decider::Root) => false,
        }
    }

    fn may_decide(&self, approval: &Approval) -> Result<(), QueueDeclined> {
        match (&self.reach, &self.decider) {
            (Reach::Everything, _) => Ok(()),
            (
                Reach::Workspace {
                    workspace,
                    environment,
                    created_by,
                    family,
                    may_decide,
                    ..
                },
                Decider::Key { key_id, .. },
            ) => {
                if *key_id == approval.key_id {
                    // A human checkpoint the submitter can pass itself is no checkpoint.
                    Err(QueueDeclined::OwnApproval)
                } else if !(*may_decide
                    && *workspace == approval.workspace
                    && *environment == approval.environment)
                {
                    Err(QueueDeclined::NotFound)
                } else if related(key_id, created_by.as_ref(), family.as_ref(), approval) {
                    Err(QueueDeclined::RelatedApproval)
                } else {
                    Ok(())
                }
            }
            (Reach::Workspace { .. }, Decider::Root) => Err(QueueDeclined::NotFound),
        }
    }
}

/// Whether the reviewing key (`reviewer`, made by `reviewer_creator`, of `reviewer_family`)
/// and the key that submitted `approval` are related: of one family — one made the other,
/// one key made both, or any longer chain of keys making keys (a key's family is the top
/// of its chain of makers). An unknown creator on either side may hide a relation, so it
/// counts as one; without families (older records) the direct relations are checked.
fn related(
    reviewer: &KeyId,
    reviewer_creator: Option<&Principal>,
    reviewer_family: Option<&KeyId>,
    approval: &Approval,
) -> bool {
    let made_by = |creator: Option<&Principal>, key: &KeyId| matches!(creator, Some(Principal::Key { key_id }) if key_id == key);
    match (reviewer_creator, approval.submitter_created_by.as_ref()) {
        (None, _) | (_, None) => true,
        (Some(mine), Some(theirs)) => {
            let same_family = matches!(
                (reviewer_family, approval.submitter_family.as_ref()),
                (Some(a), Some(b)) if a == b
            );
            same_family
                || made_by(Some(theirs), reviewer)
                || made_by(Some(mine), &approval.key_id)
                || matches!((mine, theirs), (Principal::Key { key_id: a }, Principal::Key { key_id: b }) if a == b)
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

/// The body of a 202: where the request waits.
pub fn queued_answer(approval: &Approval) -> Value {
    json!({
        "approval_id": approval.id.as_str(),
        "status": ApprovalStatus::Pending.as_str(),
        "expires_at": format_rfc3339(approval.expires_at),
    })
}

/// An approval as the admin API shows it. `body` is the stored body for a single
/// approval; `None` (a list) leaves out the headers and the body.
pub fn approval_object(approval: &Approval, body: Option<&[u8]>, now_ms: u64) -> Value {
    let request = &approval.request;
    let decision = approval.state.decision();
    let mut object = json!({
        "id": approval.id.as_str(),
        "status": approval.status(now_ms).as_str(),
        "workspace": approval.workspace,
        "key_id": approval.key_id.as_str(),
        "key_name": approval.key_name,
        "environment": approval.environment.as_str(),
        "required_scope": approval.required_scope(),
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "body_bytes": request.body_bytes,
        "created_at": format_rfc3339(approval.created_at),
        "expires_at": format_rfc3339(approval.expires_at),
        "decided_at": decision.map(|d| format_rfc3339(d.at)),
        "decided_by": decision.map(|d| decider_object(&d.by)),
        "reason": match &approval.state {
            ApprovalState::Rejected { reason, .. } => Some(reason.as_str()),
            _ => None,
        },
        "result": result_object(&approval.state),
        "webhook": match &approval.state {
            ApprovalState::Rejected { webhook: Some(delivery), .. } => delivery.object(),
            _ => Value::Null,
        },
    });
    if let (Some(body), Some(fields)) = (body, object.as_object_mut()) {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), Value::from(value.as_str())))
            .collect();
        fields.insert("headers".into(), Value::Object(headers));
        insert_body(fields, body);
    }
    object
}

/// Who decided, as the admin API and the rejection webhook show it.
pub fn decider_object(decider: &Decider) -> Value {
    match decider {
        Decider::Root => json!({"type": "root"}),
        Decider::Key { key_id, key_name } => {
            json!({"type": "key", "key_id": key_id.as_str(), "key_name": key_name})
        }
    }
}

fn result_object(state: &ApprovalState) -> Value {
    match state {
        ApprovalState::Approved {
            result:
                Some(OriginResult::Answered {
                    status,
                    body,
                    truncated,
                }),
            ..
        } => {
            let mut fields = Map::new();
            fields.insert("origin_status".into(), json!(status));
            insert_body(&mut fields, body);
            fields.insert("body_truncated".into(), json!(truncated));
            Value::Object(fields)
        }
        ApprovalState::Approved {
            result: Some(OriginResult::Unreachable),
            ..
        } => {
            json!({"error": "origin_unreachable", "detail": "the upstream API could not be reached; the request was sent once and is not retried"})
        }
        ApprovalState::Approved {
            result: Some(OriginResult::TimedOut),
            ..
        } => {
            json!({"error": "origin_timeout", "detail": "the upstream API did not answer in time; it may have acted on the request"})
        }
        ApprovalState::Failed { failure, .. } => {
            json!({"error": failure.code(), "detail": failure.detail()})
        }
        _ => Value::Null,
    }
}

/// `body` and `body_encoding`: the text when it is UTF-8, base64 otherwise.
pub fn insert_body(fields: &mut Map<String, Value>, body: &[u8]) {
    let (text, encoding) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (STANDARD.encode(body), "base64"),
    };
    fields.insert("body".into(), Value::from(text));
    fields.insert("body_encoding".into(), Value::from(encoding));
}

/// The body of `POST /approvals/{id}/approve`: nothing, or an empty JSON object.
pub fn parse_approve(body: &[u8]) -> Result<(), GatewayError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let fields = crate::admin::parse_object(body)?;
    match fields.keys().next() {
        None => Ok(()),
        Some(field) => Err(GatewayError::InvalidBody {
            errors: vec![FieldError::new(
                field.as_str(),
                "unknown field; approve takes no fields",
            )],
        }),
    }
}

/// The body of `POST /approvals/{id}/reject`: `{"reason": "..."}`.
pub fn parse_reject(body: &[u8]) -> Result<String, GatewayError> {
    let fields = crate::admin::parse_object(body)?;
    let mut errors = Vec::new();
    for field in fields.keys().filter(|f| *f != "reason") {
        errors.push(FieldError::new(
            field.as_str(),
            "unknown field; allowed: reason",
        ));
    }
    let reason = match fields.get("reason") {
        None | Some(Value::Null) => Err("is required: say why, for the key's owner"),
        Some(Value::String(text)) if text.trim().is_empty() => Err("must not be empty"),
        Some(Value::String(text)) if text.trim().chars().count() > MAX_REASON_CHARS => {
            Err("must be at most 1000 characters")
        }
        Some(Value::String(text)) => Ok(text.trim().to_string()),
        Some(_) => Err("must be a string"),
    };
    match reason {
        Ok(reason) if errors.is_empty() => Ok(reason),
        Ok(_) => Err(GatewayError::InvalidBody { errors }),
        Err(message) => {
            errors.insert(0, FieldError::new("reason", message));
            Err(GatewayError::InvalidBody { errors })
        }
    }
}

/// An approval's place in list order: newest first, ties broken by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub created_at: u64,
    pub id: ApprovalId,
}

/// Requests to the approval queue's Durable Object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum QueueCommand {
    Submit {
        approval: Box<Approval>,
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
    },
    Get {
        id: ApprovalId,
        reviewer: Reviewer,
    },
    /// One workspace's: a queue object holds only the workspaces of its shard.
    List {
        workspace: String,
        /// A key reviewer's environment: it lists only that environment's approvals.
        #[serde(default)]
        environment: Option<Environment>,
        status: Option<ApprovalStatus>,
        limit: usize,
        after: Option<Position>,
        now_ms: u64,
    },
    Decide {
        id: ApprovalId,
        reviewer: Reviewer,
        verdict: Verdict,
        now_ms: u64,
    },
    /// The origin's answer to an approved request.
    Record {
        id: ApprovalId,
        result: OriginResult,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum QueueReply {
    Done,
    Approval {
        approval: Box<Approval>,
        #[serde(with = "base64_bytes")]
        body: Vec<u8>,
    },
    Page {
        approvals: Vec<Approval>,
        /// Where the next page starts; `None` on the last page.
        next: Option<Position>,
    },
    Declined {
        declined: QueueDeclined,
    },
}

/// Stored bodies are base64 inside JSON.
pub mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KEY_ID_RANDOM_BYTES;
    use crate::limits::Limits;
    use crate::webhook::{DeliveryError, DeliveryState};
    use proptest::prelude::*;

    const NOW: u64 = 1_900_000_000_000;
    const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("demo policy loads")
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
            ApprovalId::generate(&QueueShard::of("globex"), &[0x5c; APPROVAL_ID_RANDOM_BYTES])
                .shard(),
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
            queued_answer(&approval),
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
            Err(GatewayError::InsufficientScope {
                required_scope: "approvals:write".into(),
                approval_scope: None,
            })
        );
        assert_eq!(
            bystander.needs(Action::Read),
            Err(GatewayError::InsufficientScope {
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
        assert_eq!(shown["decided_by"]["key_name"], "key 2");
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
    fn reject_needs_a_reason_and_approve_takes_nothing() {
        assert_eq!(
            parse_reject(br#"{"reason": "  too risky  "}"#),
            Ok("too risky".into())
        );
        let field_errors = |body: &[u8]| match parse_reject(body) {
            Err(GatewayError::InvalidBody { errors }) => errors
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field_errors(b"{}"),
            ["reason: is required: say why, for the key's owner"]
        );
        assert_eq!(
            field_errors(br#"{"reason": " "}"#),
            ["reason: must not be empty"]
        );
        assert_eq!(
            field_errors(br#"{"reason": 5}"#),
            ["reason: must be a string"]
        );
        let long = format!(r#"{{"reason": "{}"}}"#, "x".repeat(1001));
        assert_eq!(
            field_errors(long.as_bytes()),
            ["reason: must be at most 1000 characters"]
        );
        assert_eq!(
            field_errors(br#"{"reason": "ok", "notify": true}"#),
            ["notify: unknown field; allowed: reason"]
        );
        assert_eq!(field_errors(b"nope").len(), 1);

        assert_eq!(parse_approve(b""), Ok(()));
        assert_eq!(parse_approve(b" \n"), Ok(()));
        assert_eq!(parse_approve(b"{}"), Ok(()));
        assert!(parse_approve(br#"{"force": true}"#).is_err());
        assert!(parse_approve(b"[]").is_err());
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
}
