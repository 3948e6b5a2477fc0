//! What a policy sets besides the scope table: which key-lifecycle operations the admin API
//! offers (`[lifecycle]`), and the approval queue's bounds (`[approvals]`).

use crate::queue::QueueCaps;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A key-lifecycle operation a deployment may switch off in its policy's `[lifecycle]`
/// table. Create, list, get and delete are always offered, so they are not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleAction {
    /// `PATCH` a key's name, scopes, limits, expiry, metadata or webhook.
    Edit,
    /// Revoke a key: it answers 401 from the next request on.
    Revoke,
    /// Undo a revoke.
    Reactivate,
    /// Issue a new secret for the same key; the old one stays valid for a grace period.
    Rotate,
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 4] = [
        LifecycleAction::Edit,
        LifecycleAction::Revoke,
        LifecycleAction::Reactivate,
        LifecycleAction::Rotate,
    ];

    /// The name, as the field in `[lifecycle]` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Edit => "edit",
            LifecycleAction::Revoke => "revoke",
            LifecycleAction::Reactivate => "reactivate",
            LifecycleAction::Rotate => "rotate",
        }
    }
}

impl fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the optional lifecycle operations the deployment offers; serialised as the
/// policy's description shows it, a field per [`LifecycleAction`] in [`LifecycleAction::ALL`]'s order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(super) struct Lifecycle {
    pub(super) edit: bool,
    pub(super) revoke: bool,
    pub(super) reactivate: bool,
    pub(super) rotate: bool,
}

impl Lifecycle {
    pub(super) fn allows(self, action: LifecycleAction) -> bool {
        match action {
            LifecycleAction::Edit => self.edit,
            LifecycleAction::Revoke => self.revoke,
            LifecycleAction::Reactivate => self.reactivate,
            LifecycleAction::Rotate => self.rotate,
        }
    }
}

/// The approval queue's settings (the optional `[approvals]` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// A queued request's body may be at most this long; a longer one is a 413.
    pub max_body_bytes: u64,
    /// A pending approval expires this long after it was queued.
    pub expire_after_ms: u64,
    /// A rejection webhook that fails is retried for this long after the rejection.
    pub webhook_retry_ms: u64,
    /// How much may wait for a decision at once.
    pub caps: QueueCaps,
    /// A settled approval (decided, failed or expired) is purged this long after it settled.
    pub retain_decided_ms: u64,
}

/// The largest body the queue keeps. A queued request is stored in one Durable Object
/// row, and SQLite there holds at most 2 MB per row; base64 makes 1 MiB about 1.4 MB.
pub const MAX_QUEUED_BODY_BYTES: u64 = 1024 * 1024;
pub(super) const DEFAULT_EXPIRE_AFTER_SECONDS: u64 = 7 * 24 * 3600;
pub(super) const MAX_EXPIRE_AFTER_SECONDS: u64 = 30 * 24 * 3600;
pub(super) const DEFAULT_WEBHOOK_RETRY_SECONDS: u64 = 24 * 3600;
pub(super) const MAX_WEBHOOK_RETRY_SECONDS: u64 = 7 * 24 * 3600;
// Defaults that one agent key at the default limits (120 a minute) reaches in about a
// minute; a reviewer clears some, or they expire, before it queues more.
pub(super) const DEFAULT_MAX_PENDING_PER_KEY: u64 = 100;
pub(super) const MAX_MAX_PENDING_PER_KEY: u64 = 10_000;
pub(super) const DEFAULT_MAX_PENDING_PER_WORKSPACE: u64 = 1_000;
pub(super) const MAX_MAX_PENDING_PER_WORKSPACE: u64 = 100_000;
pub(super) const DEFAULT_MAX_PENDING_BYTES_PER_WORKSPACE: u64 = 64 * 1024 * 1024;
/// A tenth of a Durable Object's 10 GB, so the pending part of a shard stays small.
pub(super) const MAX_MAX_PENDING_BYTES_PER_WORKSPACE: u64 = 1024 * 1024 * 1024;
pub(super) const DEFAULT_RETAIN_DECIDED_SECONDS: u64 = 30 * 24 * 3600;
pub(super) const MAX_RETAIN_DECIDED_SECONDS: u64 = 365 * 24 * 3600;

impl Default for ApprovalSettings {
    fn default() -> ApprovalSettings {
        ApprovalSettings {
            max_body_bytes: MAX_QUEUED_BODY_BYTES,
            expire_after_ms: DEFAULT_EXPIRE_AFTER_SECONDS * 1000,
            webhook_retry_ms: DEFAULT_WEBHOOK_RETRY_SECONDS * 1000,
            caps: QueueCaps {
                max_pending_per_key: DEFAULT_MAX_PENDING_PER_KEY,
                max_pending_per_workspace: DEFAULT_MAX_PENDING_PER_WORKSPACE,
                max_pending_bytes_per_workspace: DEFAULT_MAX_PENDING_BYTES_PER_WORKSPACE,
            },
            retain_decided_ms: DEFAULT_RETAIN_DECIDED_SECONDS * 1000,
        }
    }
}
