//! Where a workspace's approvals live, and how many may wait there.
//!
//! Each workspace's approvals are in a queue object of their own, named by the workspace's
//! [`QueueShard`]; the shard is also written into every approval id, so a `GET`, approve or
//! reject of `/approvals/{id}` goes straight to the right object with no lookup. Two
//! workspaces that share a shard (any two do with odds of 1 in 62^6 ≈ 5.7 × 10^10) share
//! an object, never a row or a cap: every row keeps its workspace and every read checks it.
//!
//! [`QueueCaps::admit`] decides whether one more request may wait. The queue object counts
//! what is pending and calls it in the same synchronous step as the insert, so two racing
//! submits can never both take the last place.
//!
//! ```
//! use keygate::queue::{PendingUsage, QueueCaps, QueueFull};
//! let caps = QueueCaps { max_pending_per_key: 2, max_pending_per_workspace: 10, max_pending_bytes_per_workspace: 1000 };
//! let usage = PendingUsage { key_requests: 2, workspace_requests: 2, workspace_bytes: 40 };
//! assert_eq!(caps.admit(&usage, 20), Err(QueueFull::PendingPerKey { max: 2 }));
//! ```

use crate::key::base62_fixed;
use serde::{Deserialize, Serialize};
use serde_tag_first::TagFirstDeserialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// Base62 characters of a shard: 62^6 ≈ 5.7 × 10^10 shards.
pub const SHARD_CHARS: usize = 6;

/// The queue object a workspace's approvals live in.
///
/// A plain SHA-256 of the workspace's name, not a keyed one: only the root token names new
/// workspaces, so nobody else can aim a collision, and a collision only shares an object.
/// Unkeyed, the mapping also survives a change of any secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueueShard(String);

impl QueueShard {
    pub fn of(workspace: &str) -> QueueShard {
        let digest = Sha256::digest(workspace.as_bytes());
        // 64 bits of the digest, reduced to six base62 digits.
        QueueShard(base62_fixed(&digest[..8], SHARD_CHARS))
    }

    /// Accepts only the shape [`QueueShard::of`] makes (as read back from an approval id).
    pub fn parse(text: &str) -> Option<QueueShard> {
        (text.len() == SHARD_CHARS && text.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| QueueShard(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The queue object's name (`idFromName`).
    pub fn object_name(&self) -> String {
        format!("approvals-{}", self.0)
    }
}

impl fmt::Display for QueueShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much may wait for a decision (the policy's `[approvals]` table). Only pending,
/// unexpired approvals count: a decision or an expiry frees the place at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCaps {
    pub max_pending_per_key: u64,
    pub max_pending_per_workspace: u64,
    /// Of [`crate::approval::QueuedRequest::stored_bytes`]: body, request line and headers.
    pub max_pending_bytes_per_workspace: u64,
}

/// What is pending now, for the submitting key and its workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingUsage {
    pub key_requests: u64,
    pub workspace_requests: u64,
    pub workspace_bytes: u64,
}

/// The cap a request would pass; nothing is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "cap", rename_all = "snake_case")]
pub enum QueueFull {
    PendingPerKey { max: u64 },
    PendingPerWorkspace { max: u64 },
    PendingBytesPerWorkspace { max: u64 },
}

impl QueueFull {
    /// The policy field that sets the cap, as the problem's `cap` names it.
    pub fn setting(&self) -> &'static str {
        match self {
            QueueFull::PendingPerKey { .. } => "max_pending_per_key",
            QueueFull::PendingPerWorkspace { .. } => "max_pending_per_workspace",
            QueueFull::PendingBytesPerWorkspace { .. } => "max_pending_bytes_per_workspace",
        }
    }

    pub fn max(&self) -> u64 {
        match self {
            QueueFull::PendingPerKey { max }
            | QueueFull::PendingPerWorkspace { max }
            | QueueFull::PendingBytesPerWorkspace { max } => *max,
        }
    }

    pub fn detail(&self) -> String {
        let what = match self {
            QueueFull::PendingPerKey { max } => {
                format!("this key already has {max} requests waiting for approval")
            }
            QueueFull::PendingPerWorkspace { max } => {
                format!("this workspace already has {max} requests waiting for approval")
            }
            QueueFull::PendingBytesPerWorkspace { max } => {
                format!("this request would take the workspace's waiting requests over {max} bytes")
            }
        };
        format!(
            "{what} (the policy's `[approvals] {}`); nothing was queued: retry once a reviewer has decided some or they expire",
            self.setting()
        )
    }
}

impl QueueCaps {
    /// `Ok` when a request of `request_bytes` may join what `usage` says is pending. The
    /// key's cap is checked first, so a busy key learns it is the one to slow down.
    pub fn admit(&self, usage: &PendingUsage, request_bytes: u64) -> Result<(), QueueFull> {
        if usage.key_requests >= self.max_pending_per_key {
            Err(QueueFull::PendingPerKey {
                max: self.max_pending_per_key,
            })
        } else if usage.workspace_requests >= self.max_pending_per_workspace {
            Err(QueueFull::PendingPerWorkspace {
                max: self.max_pending_per_workspace,
            })
        } else if usage.workspace_bytes.saturating_add(request_bytes)
            > self.max_pending_bytes_per_workspace
        {
            Err(QueueFull::PendingBytesPerWorkspace {
                max: self.max_pending_bytes_per_workspace,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CAPS: QueueCaps = QueueCaps {
        max_pending_per_key: 2,
        max_pending_per_workspace: 3,
        max_pending_bytes_per_workspace: 100,
    };

    #[test]
    fn a_workspace_has_one_stable_shard_of_six_base62_characters() {
        let acme = QueueShard::of("acme");
        assert_eq!(acme, QueueShard::of("acme"));
        assert_eq!(acme.as_str().len(), SHARD_CHARS);
        assert_eq!(QueueShard::parse(acme.as_str()), Some(acme.clone()));
        assert_ne!(acme, QueueShard::of("globex"));
        assert_ne!(acme, QueueShard::of("Acme"));
        assert_eq!(acme.object_name(), format!("approvals-{acme}"));
        for bad in ["", "abcde", "abcdefg", "abc-ef", "abcdé"] {
            assert_eq!(QueueShard::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_cap_refuses_at_its_limit_and_names_itself() {
        let usage = |key, workspace, bytes| PendingUsage {
            key_requests: key,
            workspace_requests: workspace,
            workspace_bytes: bytes,
        };
        assert_eq!(CAPS.admit(&usage(0, 0, 0), 100), Ok(()));
        assert_eq!(CAPS.admit(&usage(1, 2, 50), 50), Ok(()));
        assert_eq!(
            CAPS.admit(&usage(2, 2, 0), 1),
            Err(QueueFull::PendingPerKey { max: 2 })
        );
        assert_eq!(
            CAPS.admit(&usage(0, 3, 0), 1),
            Err(QueueFull::PendingPerWorkspace { max: 3 })
        );
        assert_eq!(
            CAPS.admit(&usage(0, 0, 60), 41),
            Err(QueueFull::PendingBytesPerWorkspace { max: 100 })
        );
        assert_eq!(
            CAPS.admit(&usage(0, 0, u64::MAX), u64::MAX),
            Err(QueueFull::PendingBytesPerWorkspace { max: 100 })
        );
        let full = QueueFull::PendingBytesPerWorkspace { max: 100 };
        assert_eq!(full.setting(), "max_pending_bytes_per_workspace");
        assert!(full.detail().contains("max_pending_bytes_per_workspace"));
        assert!(full.detail().contains("100 bytes"));
        assert_eq!(
            serde_json::to_value(QueueFull::PendingPerKey { max: 2 }).ok(),
            Some(serde_json::json!({"cap": "pending_per_key", "max": 2}))
        );
    }

    /// One pending request in the model of a workspace's queue.
    #[derive(Clone, Debug)]
    struct Waiting {
        key: usize,
        bytes: u64,
        expires_at: u64,
    }

    fn usage_of(queue: &[Waiting], key: usize, now: u64) -> PendingUsage {
        let pending: Vec<&Waiting> = queue.iter().filter(|w| w.expires_at > now).collect();
        PendingUsage {
            key_requests: pending.iter().filter(|w| w.key == key).count() as u64,
            workspace_requests: pending.len() as u64,
            workspace_bytes: pending.iter().map(|w| w.bytes).sum(),
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        Submit { key: usize, bytes: u64 },
        Decide { index: usize },
        Wait { ms: u64 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0usize..3, 0u64..60).prop_map(|(key, bytes)| Step::Submit { key, bytes }),
            1 => (0usize..8).prop_map(|index| Step::Decide { index }),
            1 => (0u64..40).prop_map(|ms| Step::Wait { ms }),
        ]
    }

    proptest! {
        /// Whatever sequence of submits, decisions and waiting, what is pending never passes
        /// a cap, and a refusal happens only when admitting would have passed the cap it names.
        #[test]
        fn pending_never_exceeds_a_cap(steps in proptest::collection::vec(step(), 1..60)) {
            let mut queue: Vec<Waiting> = Vec::new();
            let mut now = 0u64;
            for step in steps {
                match step {
                    Step::Submit { key, bytes } => {
                        let before = usage_of(&queue, key, now);
                        match CAPS.admit(&before, bytes) {
                            Ok(()) => queue.push(Waiting { key, bytes, expires_at: now + 50 }),
                            Err(QueueFull::PendingPerKey { max }) => prop_assert!(before.key_requests + 1 > max),
                            Err(QueueFull::PendingPerWorkspace { max }) => prop_assert!(before.workspace_requests + 1 > max),
                            Err(QueueFull::PendingBytesPerWorkspace { max }) => prop_assert!(before.workspace_bytes + bytes > max),
                        }
                    }
                    Step::Decide { index } => {
                        if index < queue.len() {
                            queue.remove(index);
                        }
                    }
                    Step::Wait { ms } => now += ms,
                }
                for key in 0..3 {
                    let usage = usage_of(&queue, key, now);
                    prop_assert!(usage.key_requests <= CAPS.max_pending_per_key);
                    prop_assert!(usage.workspace_requests <= CAPS.max_pending_per_workspace);
                    prop_assert!(usage.workspace_bytes <= CAPS.max_pending_bytes_per_workspace);
                }
            }
        }

        #[test]
        fn shards_are_always_six_base62_characters(workspace in ".{0,64}") {
            let shard = QueueShard::of(&workspace);
            prop_assert_eq!(QueueShard::parse(shard.as_str()), Some(shard.clone()));
        }
    }
}
