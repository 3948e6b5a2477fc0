//! Why an authority says no, in a form that crosses the Durable Object boundary: a request
//! it refuses, a lifecycle change it declines, a queued request whose key may no longer
//! make it.

use crate::delegation::{Overreach, Stronger};
use crate::entitlement::PlanRefusal;
use crate::limits::Window;
use crate::policy::LifecycleAction;
use crate::record::Status;
use serde::Serialize;
use serde_tag_first::TagFirstDeserialize;

/// Why an authority refused a request, in a form that crosses the Durable Object boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    Unknown,
    Revoked,
    Expired,
    Scope {
        required_scope: String,
        /// The approval level that would queue the request, where it could be queued.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_scope: Option<String>,
    },
    /// The key holds only the approval level, and this request cannot be queued.
    ApprovalNotOffered {
        required_scope: String,
    },
    /// The request would be queued, but its declared body is over the queue's limit.
    BodyTooLarge {
        max_bytes: u64,
    },
    Throttled {
        window: Window,
        retry_after_secs: u64,
    },
    /// The workspace's plan does not allow the request.
    Plan(PlanRefusal),
}

/// Why a lifecycle command was declined, across the Durable Object boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Declined {
    /// No such key, or one the actor may not see (another workspace): the same answer.
    NotFound,
    /// The policy's `[lifecycle]` table turns this operation off.
    NotAllowed { action: LifecycleAction },
    /// Only an active key can be rotated.
    NotActive { status: Status },
    /// A key acting on keys tried to give more than it holds.
    Overreach(Overreach),
    /// A key tried a change only a stronger actor may make (see [`Stronger`]).
    Stronger(Stronger),
    /// An edit of one limit window that does not fit the other's current value.
    InvalidLimits { message: String },
    /// A webhook secret rotation for a key without a webhook.
    NoWebhook,
    /// The change would give the key what its workspace's plan does not offer.
    Plan(PlanRefusal),
}

impl From<Overreach> for Declined {
    fn from(overreach: Overreach) -> Declined {
        Declined::Overreach(overreach)
    }
}

impl From<Stronger> for Declined {
    fn from(stronger: Stronger) -> Declined {
        Declined::Stronger(stronger)
    }
}

/// Why the submitting key may no longer make the request it queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
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
    /// The workspace's plan no longer offers the request (a downgrade since).
    PlanLost {
        plan: String,
    },
}

impl SubmitterFailure {
    pub fn code(&self) -> &'static str {
        match self {
            SubmitterFailure::KeyRevoked => "key_revoked",
            SubmitterFailure::KeyExpired => "key_expired",
            SubmitterFailure::KeyDeleted => "key_deleted",
            SubmitterFailure::ScopeLost { .. } => "scope_lost",
            SubmitterFailure::SecretRetired => "secret_retired",
            SubmitterFailure::PlanLost { .. } => "plan_lost",
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
            SubmitterFailure::PlanLost { plan } => format!(
                "the workspace's plan, `{plan}`, no longer offers this request"
            ),
        }
    }
}
