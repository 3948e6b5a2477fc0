//! The nouns every layer shares about a key: its record as its authority stores it, its
//! status, who made or revoked it, and the grantee a request is admitted as.

use crate::key::{Environment, KeyId};
use crate::lease::Enforcement;
use crate::limits::Limits;
use crate::workspace::PlanAssignment;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_tag_first::TagFirstDeserialize;

/// A key as its authority stores it and the admin API shows it. The secrets' hashes are
/// kept apart, by the key's authority, so a record can be copied to the key directory and
/// anywhere else without them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: KeyId,
    pub name: String,
    /// Prefix and last four characters of the current secret, e.g. `kg_live_…a1B2`.
    pub hint: String,
    pub workspace: String,
    pub scopes: Vec<String>,
    pub environment: Environment,
    pub created_at: u64,
    pub expires_at: Option<u64>,
    pub revoked_at: Option<u64>,
    /// Who revoked the key; cleared with `revoked_at` when it is re-activated. `None` on a
    /// revoked key stored before keygate recorded it: treated as the root token's.
    #[serde(default)]
    pub revoked_by: Option<Principal>,
    /// Who created the key. `None` for a key stored before keygate recorded it: an unknown
    /// creator, which only the root token stands in for.
    #[serde(default)]
    pub created_by: Option<Principal>,
    /// The key at the top of the chain of keys that made this one: its maker's family, or
    /// its maker. `None` for a key the root token (or a person) made, which heads its own
    /// family. Keys of one family may not decide one another's approvals.
    #[serde(default)]
    pub family: Option<KeyId>,
    /// Per-key limits; `None` follows the policy's defaults, even when they change.
    pub limits: Option<Limits>,
    /// How the key's limits are enforced; `None` follows the policy's `[limits]
    /// enforcement`, even when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
    pub metadata: Map<String, Value>,
    pub rejection_webhook: Option<String>,
    /// Bumped by every change, so copies (the key directory) can tell a stale one.
    pub version: u64,
    /// The key's copy of its workspace's plan (see [`crate::directory`]): the default plan
    /// for a key stored before plans, until its workspace's plan is set.
    #[serde(default)]
    pub plan: PlanAssignment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Revoked,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }
}

impl KeyRecord {
    pub fn status(&self, now_ms: u64) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now_ms) {
            Status::Expired
        } else {
            Status::Active
        }
    }

    /// How the key's limits are enforced: its own choice, or the policy's.
    pub fn enforcement(&self, policy_default: Enforcement) -> Enforcement {
        self.enforcement.unwrap_or(policy_default)
    }

    /// The key's own limits, or the policy's `defaults` when it follows them.
    pub fn effective_limits(&self, defaults: Limits) -> Limits {
        self.limits.unwrap_or(defaults)
    }

    /// The family the key belongs to: the top of its chain of makers, or itself. A record
    /// stored before families were kept falls back to its maker.
    pub fn family_id(&self) -> KeyId {
        let maker = match &self.created_by {
            Some(Principal::Key { key_id }) => Some(key_id.clone()),
            _ => None,
        };
        self.family
            .clone()
            .or(maker)
            .unwrap_or_else(|| self.id.clone())
    }

    /// The key as a request's maker: what the identity headers carry.
    pub fn grantee(&self, limits: Limits) -> Grantee {
        Grantee {
            key_id: self.id.clone(),
            key_name: self.name.clone(),
            workspace: self.workspace.clone(),
            environment: self.environment,
            scopes: self.scopes.clone(),
            limits,
            expires_at: self.expires_at,
            created_by: self.created_by.clone(),
            family: Some(self.family_id()),
        }
    }
}

/// Who a request is made by, once admitted: what the identity headers carry, and what a
/// key acting on other keys may hand out (the key-management rules).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grantee {
    pub key_id: KeyId,
    pub key_name: String,
    pub workspace: String,
    pub environment: Environment,
    pub scopes: Vec<String>,
    pub limits: Limits,
    pub expires_at: Option<u64>,
    /// Who created the key, as its record says: the approval queue's related-key rule.
    #[serde(default)]
    pub created_by: Option<Principal>,
    /// The key's family ([`KeyRecord::family_id`]); `None` only from an older authority.
    #[serde(default)]
    pub family: Option<KeyId>,
}

/// Who did something to a key, as its record remembers it (`created_by`, `revoked_by`):
/// stored as `{"type": "root"}`, `{"type": "key", "key_id": "key_…"}` or
/// `{"type": "member", "id", "name"}` (the admin API shows its own view of it). Records
/// already stored keep this form, so it never changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TagFirstDeserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Principal {
    Root,
    Key {
        key_id: KeyId,
    },
    /// One of the provider's members, acting through a portal session.
    Member {
        id: String,
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KEY_ID_RANDOM_BYTES;

    #[test]
    fn principals_keep_their_stored_form() {
        let key_id = KeyId::generate(&[3; KEY_ID_RANDOM_BYTES]);
        for (stored, principal) in [
            (r#"{"type":"root"}"#.to_string(), Principal::Root),
            (
                format!(r#"{{"type":"key","key_id":"{key_id}"}}"#),
                Principal::Key {
                    key_id: key_id.clone(),
                },
            ),
            (
                r#"{"type":"member","id":"u_1","name":"Ada"}"#.to_string(),
                Principal::Member {
                    id: "u_1".into(),
                    name: "Ada".into(),
                },
            ),
        ] {
            let read: Principal = serde_json::from_str(&stored).expect("reads");
            assert_eq!(read, principal);
            assert_eq!(serde_json::to_string(&principal).expect("writes"), stored);
        }
    }
}
