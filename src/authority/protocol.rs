//! What crosses the key's Durable Object boundary: its commands, its replies, and why it
//! refuses or declines.

use super::edit::KeyEdit;
use super::refusal::{Declined, Refusal, SubmitterFailure};
use crate::delegation::Actor;
use crate::key::{IndexName, KeyHash, KeyId};
use crate::lease::{LeaseAsk, LeaseTerms, Unused};
use crate::policy::{Action, RouteTarget};
use crate::record::{Grantee, KeyRecord};
use crate::usage::UsageTotals;
use crate::webhook::secret::WebhookSecret;
use crate::workspace::PlanAssignment;
use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;

/// Requests to a key's authority (the body of the Durable Object call).
#[derive(Clone, Debug, Serialize, TagFirstDeserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Create {
        record: Box<KeyRecord>,
        secret: KeyHash,
        /// Drawn for every create; kept only if the record has a `rejection_webhook`.
        webhook_secret: WebhookSecret,
    },
    /// The workspace's plan changed: kept if newer than the key's copy (see
    /// [`crate::directory`]).
    AdoptPlan {
        assignment: PlanAssignment,
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
    /// The data plane's admit: as [`Command::Admit`], and for a key in lease mode
    /// ([`crate::lease`]) the answer to an allowed request is a lease for the isolate to
    /// admit this request and the next ones under ([`Reply::Leased`]). A key in exact mode
    /// is admitted exactly, the ask unread (but for what it hands back).
    Lease {
        key_hash: KeyHash,
        resource: String,
        action: Action,
        #[serde(default)]
        queueing: Option<Queueing>,
        ask: LeaseAsk,
    },
    /// Unused requests of an isolate's leases that no ask carried back (its traffic
    /// stopped): taken back, nothing else. Sent without the key's secret: it can only ever
    /// lower the count, and only by what the isolate's leases counted.
    HandBack {
        returned: Vec<Unused>,
    },
    /// Status and limits, counted like an admit, but no scope: for the approval queue's
    /// admin routes, where what a key may do depends on the approval it asks about.
    Identify {
        key_hash: KeyHash,
        /// What the workspace's plan must offer for the call, though the key's grant is
        /// judged later: listing or deciding on the queue (`None`: reading one approval,
        /// which a key may always do for its own).
        #[serde(default)]
        offered: Option<RouteTarget>,
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
#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
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

/// Rate-limit headers as name/value pairs, ready for any response.
pub type LimitHeaders = Vec<(String, String)>;

/// A secret that a rotation retired, for the KV index: its entry may go once the grace ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub index_name: IndexName,
    pub valid_until: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, TagFirstDeserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reply {
    Admitted {
        grantee: Grantee,
        limit_headers: LimitHeaders,
    },
    /// Admitted, and a lease for the isolate to admit this request and up to
    /// `lease.count - 1` more on its own (answering [`Command::Lease`] for a key in lease
    /// mode). `lease_ms` is the key's lease time: how long the isolate may believe a
    /// refusal for lack of room.
    Leased {
        grantee: Grantee,
        limit_headers: LimitHeaders,
        lease: LeaseTerms,
        lease_ms: u64,
    },
    /// [`Command::HandBack`] done.
    HandedBack,
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
    /// The key's copy of its workspace's plan, after [`Command::AdoptPlan`].
    PlanAdopted {
        assignment: PlanAssignment,
    },
}

impl Reply {
    /// The object does not know the presented secret (retired, or the key is gone): the
    /// index entry that led here is stale, so an isolate's memory of it must go.
    pub fn refuses_the_secret(&self) -> bool {
        matches!(
            self,
            Reply::Refused {
                refusal: Refusal::Unknown,
                ..
            }
        )
    }
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
