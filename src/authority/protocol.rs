//! What crosses the key's Durable Object boundary: its commands, its replies, and why it
//! refuses or declines.

use super::edit::KeyEdit;
use crate::delegation::{Actor, Overreach, Stronger};
use crate::key::{IndexName, KeyHash, KeyId};
use crate::limits::Window;
use crate::policy::{Action, LifecycleAction};
use crate::record::{Grantee, KeyRecord, Status};
use crate::usage::UsageTotals;
use crate::webhook::secret::WebhookSecret;
use serde::{Deserialize, Serialize};

/// Requests to a key's authority (the body of the Durable Object call).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Create {
        record: Box<KeyRecord>,
        secret: KeyHash,
        /// Drawn for every create; kept only if the record has a `rejection_webhook`.
        webhook_secret: WebhookSecret,
    },
    Admit {
        key_hash: KeyHash,
        resource: String,
        action: Action,
        /// Set where a request may wait for approval (the data plane): a key holding only
        /// the approval level is then admitted to the queue. `None` (the admin API)
        /// refuses it instead.
        #[serde(default)]
        queueing: Option<Queueing>,
    },
    /// Status and limits, counted like an admit, but no scope: for the approval queue's
    /// admin routes, where what a key may do depends on the approval it asks about.
    Identify {
        key_hash: KeyHash,
    },
    /// Whether the key may still make a request it queued earlier; nothing is counted.
    Recheck {
        resource: String,
        action: Action,
        /// The serial of the secret that queued it (`None` for approvals stored before
        /// serials were recorded): that secret must still be live.
        #[serde(default)]
        secret: Option<u64>,
    },
    Get {
        actor: Actor,
    },
    Edit {
        actor: Actor,
        edit: KeyEdit,
        /// Drawn for every edit; kept only if the edit gives the key a new webhook URL.
        webhook_secret: WebhookSecret,
    },
    Revoke {
        actor: Actor,
    },
    Activate {
        actor: Actor,
    },
    Rotate {
        actor: Actor,
        secret: KeyHash,
        hint: String,
        grace_ms: u64,
    },
    Delete {
        actor: Actor,
    },
    /// A new signing secret for the key's webhook; the previous one signs too for
    /// `grace_ms` more. Allowed to whoever may edit the key's webhook, who could get a
    /// new secret by setting another URL anyway.
    RotateWebhookSecret {
        actor: Actor,
        secret: WebhookSecret,
        grace_ms: u64,
    },
    /// The secrets to sign a delivery to `url` with, from the approval queue's alarm.
    WebhookSigners {
        url: String,
    },
}

/// Who signs a delivery to a rejection webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum WebhookSigners {
    /// The key's own secrets, the current one first.
    Key { secrets: Vec<WebhookSecret> },
    /// The deployment's `KEYGATE_WEBHOOK_SECRET`: the key's webhook was set before keys
    /// had their own secrets, and its receiver knows no other until the key's webhook
    /// secret is rotated (or the webhook set again).
    Deployment,
    /// The URL is not the key's webhook any more (changed, removed, or the key deleted):
    /// nothing may be sent to it.
    Nobody,
}

/// What the data plane knows of a request that may be queued, before reading its body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queueing {
    /// The `Content-Length` the client declared, if any: an oversized body is refused
    /// before it is counted.
    pub declared_body_bytes: Option<u64>,
}

/// Why an authority refused a request, in a form that crosses the Durable Object boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Why a lifecycle command was declined, across the Durable Object boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// Rate-limit headers as name/value pairs, ready for any response.
pub type LimitHeaders = Vec<(String, String)>;

/// A secret that a rotation retired, for the KV index: its entry may go once the grace ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub index_name: IndexName,
    pub valid_until: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reply {
    Admitted {
        grantee: Grantee,
        limit_headers: LimitHeaders,
    },
    /// Counted like an admitted request, but the key holds only the approval level: the
    /// request goes to the approval queue, not the origin.
    Queued {
        grantee: Grantee,
        limit_headers: LimitHeaders,
        /// The serial of the secret presented, for [`Command::Recheck`] at approval time.
        secret: u64,
    },
    /// The answer to [`Command::Recheck`]: the key as it is now, or why it may no longer.
    Rechecked {
        standing: Result<Grantee, SubmitterFailure>,
    },
    /// `limit_headers` is empty when the key itself was refused (no limit state to show).
    Refused {
        refusal: Refusal,
        limit_headers: LimitHeaders,
    },
    Key {
        record: KeyRecord,
        last_used_at: Option<u64>,
        usage: UsageTotals,
        /// A webhook signing secret this very command issued, to show once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        webhook_secret: Option<WebhookSecret>,
    },
    WebhookSecretRotated {
        record: KeyRecord,
        last_used_at: Option<u64>,
        webhook_secret: WebhookSecret,
        /// When the secret that was current before stops signing.
        previous_valid_until: u64,
    },
    WebhookSigners {
        signers: WebhookSigners,
    },
    Rotated {
        record: KeyRecord,
        last_used_at: Option<u64>,
        usage: UsageTotals,
        /// When the secret that was current before stops working.
        previous_valid_until: u64,
        retired: Vec<RetiredSecret>,
    },
    /// The key is gone; these KV index entries pointed at it.
    Deleted {
        id: KeyId,
        index_names: Vec<IndexName>,
    },
    Declined {
        declined: Declined,
    },
    AlreadyExists,
}

/// How the key directory (the list index) must hear of a change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DirectorySync {
    #[default]
    None,
    /// An admin change: the directory is updated before the admin API answers, so a list
    /// right after shows it.
    Now,
    /// Only `last_used_at` moved: refreshed in the background, at most once a minute.
    Soon,
}

/// Which stored values a command changed, so the Durable Object writes only those.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// The record and the secrets (written together).
    pub record: bool,
    pub counters: bool,
    pub history: bool,
    /// Everything is gone: the object's whole storage is to be deleted.
    pub wiped: bool,
    pub directory: DirectorySync,
}
