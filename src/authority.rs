//! The per-key authority: what the key's Durable Object knows and decides, as pure code.
//!
//! Each key has one Durable Object. It is single-threaded and strongly consistent, so it
//! is the authority on the key's status, scopes, secrets and counts; Workers KV is only
//! the index from a secret's hash to the key's id. A request is admitted by one call,
//! [`KeyState::handle`] with [`Command::Admit`], which checks the presented hash, the
//! status and expiry, the scope and both limit windows together — so a revoke or an edit
//! is in force for the very next request, and a limit can never be overshot by concurrent
//! requests. Every lifecycle change (edit, revoke, activate, rotate, delete) goes through
//! the same object, checked against who asks ([`Actor`]) in the same step.

use crate::approval::SubmitterFailure;
use crate::delegation::{Actor, Overreach, Principal, Stronger};
use crate::key::{Environment, IndexName, KeyHash, KeyId};
use crate::limits::{self, LimiterState, Limits, Window};
use crate::policy::{Access, Action, LifecycleAction, Policy, RouteTarget};
use crate::problem::{FieldError, GatewayError};
use crate::usage::{self, HourCount, UsageHistory, UsageTotals};
use crate::webhook::secret::{WebhookSecret, WebhookSecrets};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A key as its authority stores it and the admin API shows it (see [`key_object`]). The
/// secrets' hashes are kept apart, in [`KeyState::secrets`], so a record can be copied to
/// the key directory and anywhere else without them.
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
    pub metadata: Map<String, Value>,
    pub rejection_webhook: Option<String>,
    /// Bumped by every change, so copies (the key directory) can tell a stale one.
    pub version: u64,
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

    pub fn effective_limits(&self, policy: &Policy) -> Limits {
        self.limits.unwrap_or_else(|| policy.default_limits())
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
    fn grantee(&self, limits: Limits) -> Grantee {
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

/// One secret of a key, by its hash. The current secret has no end; a rotated-out one
/// works until `valid_until` (exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    pub hash: KeyHash,
    pub valid_until: Option<u64>,
    /// Names the secret without revealing anything of it, so a queued request can say which
    /// secret sent it ([`Command::Recheck`]). Unique among the key's secrets; 0 in secrets
    /// stored before serials existed, which [`number_secrets`] makes unique on load.
    #[serde(default)]
    pub serial: u64,
}

impl Secret {
    fn is_live(&self, now_ms: u64) -> bool {
        self.valid_until.is_none_or(|until| now_ms < until)
    }
}

/// Gives secrets stored before serials existed (all 0) serials of their own, by their
/// stored order; secrets that already have distinct serials are left as they are. The
/// same stored list always gets the same serials, so this may run on every load.
pub fn number_secrets(secrets: &mut [Secret]) {
    let mut seen = std::collections::BTreeSet::new();
    if secrets.iter().all(|secret| seen.insert(secret.serial)) {
        return;
    }
    for (serial, secret) in (1..).zip(secrets.iter_mut()) {
        secret.serial = serial;
    }
}

/// A rotation never leaves more than this many secrets working at once; rotating again
/// ends the oldest grace period at once.
pub const MAX_LIVE_SECRETS: usize = 3;

/// What changes on every admitted request; stored apart from the record so the hot path
/// writes one small value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub limiter: LimiterState,
    pub last_used_at: Option<u64>,
    /// The usage hour being counted; finished hours move to [`KeyState::history`].
    #[serde(default)]
    pub this_hour: Option<HourCount>,
}

/// A `PATCH` of a key: each field present is replaced. `Some(None)` clears an optional
/// field (expiry, per-key limits, webhook).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsEdit>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub expires_at: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub rejection_webhook: Option<Option<String>>,
}

/// A change to a key's own limits: back to following the policy's defaults, or new values
/// for the windows given — a window left out keeps the key's current value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum LimitsEdit {
    PolicyDefaults,
    Set {
        per_minute: Option<u64>,
        per_day: Option<u64>,
    },
}

/// A field that is present, even as `null`, is `Some`; `default` covers the absent case.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl KeyEdit {
    /// Applies the edit. Only the limits can fail: a window given alone must still fit the
    /// other one's current value.
    fn apply_to(self, record: &mut KeyRecord, policy: &Policy) -> Result<(), Declined> {
        let KeyEdit {
            name,
            scopes,
            limits,
            expires_at,
            metadata,
            rejection_webhook,
        } = self;
        if let Some(name) = name {
            record.name = name;
        }
        if let Some(scopes) = scopes {
            record.scopes = scopes;
        }
        if let Some(change) = limits {
            record.limits = match change {
                LimitsEdit::PolicyDefaults => None,
                LimitsEdit::Set {
                    per_minute,
                    per_day,
                } => {
                    let current = record.effective_limits(policy);
                    let per_minute = per_minute.unwrap_or(u64::from(current.per_minute.get()));
                    let per_day = per_day.unwrap_or(u64::from(current.per_day.get()));
                    let limits = Limits::new(per_minute, per_day).map_err(|error| {
                        Declined::InvalidLimits {
                            message: error.to_string(),
                        }
                    })?;
                    Some(limits)
                }
            };
        }
        if let Some(expires_at) = expires_at {
            record.expires_at = expires_at;
        }
        if let Some(metadata) = metadata {
            record.metadata = metadata;
        }
        if let Some(webhook) = rejection_webhook {
            record.rejection_webhook = webhook;
        }
        Ok(())
    }
}

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

/// Who a request is made by, once admitted: what the identity headers carry, and what a
/// key acting on other keys may hand out (see [`crate::delegation`]).
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

impl From<Refusal> for GatewayError {
    fn from(refusal: Refusal) -> GatewayError {
        match refusal {
            Refusal::Unknown => GatewayError::KeyUnknown,
            Refusal::Revoked => GatewayError::KeyRevoked,
            Refusal::Expired => GatewayError::KeyExpired,
            Refusal::Scope {
                required_scope,
                approval_scope,
            } => GatewayError::InsufficientScope {
                required_scope,
                approval_scope,
            },
            Refusal::ApprovalNotOffered { required_scope } => {
                GatewayError::ApprovalNotOffered { required_scope }
            }
            Refusal::BodyTooLarge { max_bytes } => GatewayError::PayloadTooLarge {
                max_bytes,
                bound: crate::problem::BodyBound::Queued,
            },
            Refusal::Throttled {
                window,
                retry_after_secs,
            } => GatewayError::RateLimited {
                window,
                retry_after_secs,
            },
        }
    }
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

impl From<Declined> for GatewayError {
    fn from(declined: Declined) -> GatewayError {
        match declined {
            Declined::NotFound => GatewayError::NotFound,
            Declined::NotAllowed { action } => GatewayError::LifecycleNotAllowed { action },
            Declined::NotActive { status } => GatewayError::KeyNotActive { status },
            Declined::Overreach(overreach) => GatewayError::BeyondOwnGrant(overreach),
            Declined::Stronger(Stronger::NotCreator) => GatewayError::NotKeyCreator,
            Declined::Stronger(Stronger::RevokedByOther) => GatewayError::ReactivationNotAllowed,
            Declined::InvalidLimits { message } => GatewayError::InvalidBody {
                errors: vec![FieldError::new("limits", message)],
            },
            Declined::NoWebhook => GatewayError::NoRejectionWebhook,
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

/// How stale the directory's `last_used_at` may get for a key in use.
pub const LAST_USED_SYNC_MS: u64 = 60_000;

/// Everything one key's Durable Object holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyState {
    pub record: Option<KeyRecord>,
    pub secrets: Vec<Secret>,
    /// The webhook's signing secrets, stored with `secrets`; empty without a webhook.
    pub webhook_secrets: WebhookSecrets,
    pub counters: Counters,
    pub history: UsageHistory,
    /// When `last_used_at` was last sent to the directory; in memory only (after a
    /// restart the next request sends it again).
    pub last_used_synced_at: Option<u64>,
}

impl KeyState {
    pub fn handle(&mut self, command: Command, policy: &Policy, now_ms: u64) -> (Reply, Changed) {
        let outcome = match command {
            Command::Create {
                record,
                secret,
                webhook_secret,
            } => Ok(self.create(*record, secret, webhook_secret, now_ms)),
            Command::Admit {
                key_hash,
                resource,
                action,
                queueing,
            } => Ok(self.admit(
                &key_hash,
                Some(RouteTarget { resource, action }),
                queueing,
                policy,
                now_ms,
            )),
            Command::Identify { key_hash } => Ok(self.admit(&key_hash, None, None, policy, now_ms)),
            Command::Recheck {
                resource,
                action,
                secret,
            } => {
                let target = RouteTarget { resource, action };
                let standing = self.recheck(&target, secret, policy, now_ms);
                Ok((Reply::Rechecked { standing }, Changed::default()))
            }
            Command::Get { actor } => self
                .reachable(&actor)
                .map(|_| (self.key_reply(now_ms), Changed::default())),
            Command::Edit {
                actor,
                edit,
                webhook_secret,
            } => self.edit(&actor, edit, webhook_secret, policy, now_ms),
            Command::Revoke { actor } => self.revoke(&actor, policy, now_ms),
            Command::Activate { actor } => self.activate(&actor, policy, now_ms),
            Command::Rotate {
                actor,
                secret,
                hint,
                grace_ms,
            } => self.rotate(&actor, secret, hint, grace_ms, policy, now_ms),
            Command::Delete { actor } => self.delete(&actor),
            Command::RotateWebhookSecret {
                actor,
                secret,
                grace_ms,
            } => self.rotate_webhook_secret(&actor, secret, grace_ms, policy, now_ms),
            Command::WebhookSigners { url } => Ok((
                Reply::WebhookSigners {
                    signers: self.webhook_signers(&url, now_ms),
                },
                Changed::default(),
            )),
        };
        outcome.unwrap_or_else(|declined| (Reply::Declined { declined }, Changed::default()))
    }

    fn create(
        &mut self,
        record: KeyRecord,
        secret: KeyHash,
        webhook_secret: WebhookSecret,
        now_ms: u64,
    ) -> (Reply, Changed) {
        if self.record.is_some() {
            return (Reply::AlreadyExists, Changed::default());
        }
        let issued = record.rejection_webhook.is_some().then_some(webhook_secret);
        *self = KeyState {
            record: Some(record),
            secrets: vec![Secret {
                hash: secret,
                valid_until: None,
                serial: 1,
            }],
            webhook_secrets: issued
                .clone()
                .map(WebhookSecrets::issue)
                .unwrap_or_default(),
            ..KeyState::default()
        };
        (with_issued(self.key_reply(now_ms), issued), ADMIN_CHANGE)
    }

    /// Status, then scope, then limits: a refused key learns nothing about its limits, a
    /// refused scope is not counted, and a throttled request is not counted either.
    fn admit(
        &mut self,
        presented: &KeyHash,
        target: Option<RouteTarget>,
        queueing: Option<Queueing>,
        policy: &Policy,
        now_ms: u64,
    ) -> (Reply, Changed) {
        let refuse = |refusal, limit_headers| {
            (
                Reply::Refused {
                    refusal,
                    limit_headers,
                },
                Changed::default(),
            )
        };
        let Some(record) = &self.record else {
            return refuse(Refusal::Unknown, Vec::new());
        };
        // KV may still map a retired hash to this id; the authority decides which are live.
        let Some(presented_serial) = self
            .secrets
            .iter()
            .find(|secret| secret.hash.matches(presented) && secret.is_live(now_ms))
            .map(|secret| secret.serial)
        else {
            return refuse(Refusal::Unknown, Vec::new());
        };
        match record.status(now_ms) {
            Status::Active => {}
            Status::Revoked => return refuse(Refusal::Revoked, Vec::new()),
            Status::Expired => return refuse(Refusal::Expired, Vec::new()),
        }
        let limits = record.effective_limits(policy);
        let peek_headers =
            |counters: &Counters| headers_of(&limits::peek(&counters.limiter, &limits, now_ms));
        let access = match &target {
            Some(target) => policy.decide(&record.scopes, target),
            None => Access::Allowed,
        };
        let queued = match (access, queueing) {
            (Access::Allowed, _) => false,
            (Access::NeedsApproval, Some(queueing)) => {
                let max_bytes = policy.approvals().max_body_bytes;
                if queueing
                    .declared_body_bytes
                    .is_some_and(|bytes| bytes > max_bytes)
                {
                    return refuse(
                        Refusal::BodyTooLarge { max_bytes },
                        peek_headers(&self.counters),
                    );
                }
                true
            }
            (Access::NeedsApproval, None) => {
                // The scope that would allow it outright; the approval level is held already.
                let required_scope = target
                    .map(|t| format!("{}:{}", t.resource, t.action.as_str()))
                    .unwrap_or_default();
                return refuse(
                    Refusal::ApprovalNotOffered { required_scope },
                    peek_headers(&self.counters),
                );
            }
            (
                Access::Denied {
                    required_scope,
                    approval_scope,
                },
                queueing,
            ) => {
                // Only where a request can be queued does its approval level mean anything
                // (never on keygate's own admin API).
                let approval_scope = approval_scope.filter(|_| queueing.is_some());
                return refuse(
                    Refusal::Scope {
                        required_scope,
                        approval_scope,
                    },
                    peek_headers(&self.counters),
                );
            }
        };
        match limits::check_and_count(&mut self.counters.limiter, &limits, now_ms) {
            Ok(quota) => {
                self.counters.last_used_at = Some(now_ms);
                let history =
                    usage::record(&mut self.counters.this_hour, &mut self.history, now_ms);
                let directory = match self.last_used_synced_at {
                    Some(at) if now_ms < at.saturating_add(LAST_USED_SYNC_MS) => {
                        DirectorySync::None
                    }
                    _ => {
                        self.last_used_synced_at = Some(now_ms);
                        DirectorySync::Soon
                    }
                };
                let grantee = record.grantee(limits);
                let limit_headers = headers_of(&quota);
                (
                    match queued {
                        true => Reply::Queued {
                            grantee,
                            limit_headers,
                            secret: presented_serial,
                        },
                        false => Reply::Admitted {
                            grantee,
                            limit_headers,
                        },
                    },
                    Changed {
                        counters: true,
                        history,
                        directory,
                        ..Changed::default()
                    },
                )
            }
            // On a 429 the resets shown must not point earlier than Retry-After.
            Err(throttled) => refuse(
                Refusal::Throttled {
                    window: throttled.window,
                    retry_after_secs: throttled.retry_after_secs,
                },
                owned(limits::throttled_rate_limit_headers(&throttled)),
            ),
        }
    }

    /// Whether the key, as it is now, may still make a request to `target` that it queued
    /// for approval: it exists, is active, the secret that queued it still works, and it
    /// holds the target's level or its approval level.
    fn recheck(
        &self,
        target: &RouteTarget,
        secret: Option<u64>,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<Grantee, SubmitterFailure> {
        let record = self.record.as_ref().ok_or(SubmitterFailure::KeyDeleted)?;
        match record.status(now_ms) {
            Status::Active => {}
            Status::Revoked => return Err(SubmitterFailure::KeyRevoked),
            Status::Expired => return Err(SubmitterFailure::KeyExpired),
        }
        // A secret rotated out (or renumbered by a re-activation) may have leaked: what it
        // queued is not sent on its behalf.
        if let Some(serial) = secret {
            let live = self
                .secrets
                .iter()
                .any(|s| s.serial == serial && s.is_live(now_ms));
            if !live {
                return Err(SubmitterFailure::SecretRetired);
            }
        }
        match policy.decide(&record.scopes, target) {
            Access::Allowed | Access::NeedsApproval => {
                Ok(record.grantee(record.effective_limits(policy)))
            }
            Access::Denied { required_scope, .. } => {
                Err(SubmitterFailure::ScopeLost { required_scope })
            }
        }
    }

    /// The record, if `actor` may see it. Another workspace's or environment's key
    /// answers as if absent.
    fn reachable(&self, actor: &Actor) -> Result<&KeyRecord, Declined> {
        match &self.record {
            Some(record) if actor.reaches_key(record) => Ok(record),
            _ => Err(Declined::NotFound),
        }
    }

    /// Applies `change` to a copy of the record, checks the result against the policy and
    /// the actor, then commits it with a new version — or changes nothing.
    fn change_record(
        &mut self,
        actor: &Actor,
        policy: &Policy,
        now_ms: u64,
        change: impl FnOnce(&mut KeyRecord) -> Result<(), Declined>,
    ) -> Result<(Reply, Changed), Declined> {
        let mut changed = self.reachable(actor)?.clone();
        change(&mut changed)?;
        actor.may_hold(&changed, policy)?;
        let Some(record) = self.record.as_mut() else {
            return Err(Declined::NotFound);
        };
        changed.version = record.version;
        if changed == *record {
            return Ok((self.key_reply(now_ms), Changed::default()));
        }
        changed.version = record.version.saturating_add(1);
        *record = changed;
        Ok((self.key_reply(now_ms), ADMIN_CHANGE))
    }

    /// A new webhook URL is a new receiver: it gets `webhook_secret`, and no secret of the
    /// one before signs for it. A removed webhook takes its secrets with it.
    fn edit(
        &mut self,
        actor: &Actor,
        edit: KeyEdit,
        webhook_secret: WebhookSecret,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<(Reply, Changed), Declined> {
        let receiver_before = self.reachable(actor)?.rejection_webhook.clone();
        let (reply, changed) = self.edit_record(actor, edit, policy, now_ms)?;
        let receiver_after = self
            .record
            .as_ref()
            .and_then(|r| r.rejection_webhook.clone());
        if receiver_after == receiver_before {
            return Ok((reply, changed));
        }
        let issued = receiver_after.is_some().then_some(webhook_secret);
        self.webhook_secrets = issued
            .clone()
            .map(WebhookSecrets::issue)
            .unwrap_or_default();
        Ok((with_issued(reply, issued), changed))
    }

    fn edit_record(
        &mut self,
        actor: &Actor,
        edit: KeyEdit,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<(Reply, Changed), Declined> {
        let record = self.reachable(actor)?;
        allowed(policy, LifecycleAction::Edit)?;
        actor.may_change(record)?;
        // A new expiry would bring an expired key back: that is a re-activation.
        if edit.expires_at.is_some() && record.status(now_ms) == Status::Expired {
            allowed(policy, LifecycleAction::Reactivate)?;
        }
        let resets_limits = edit.limits == Some(LimitsEdit::PolicyDefaults);
        self.change_record(actor, policy, now_ms, |record| {
            edit.apply_to(record, policy)?;
            if resets_limits {
                actor.pin_limits(record, policy);
            }
            Ok(())
        })
    }

    /// Idempotent: revoking a revoked key keeps the first revocation time and revoker. A
    /// key that may revoke keys may revoke any key it reaches, however much that key holds.
    fn revoke(
        &mut self,
        actor: &Actor,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<(Reply, Changed), Declined> {
        self.reachable(actor)?;
        allowed(policy, LifecycleAction::Revoke)?;
        let Some(record) = self.record.as_mut() else {
            return Err(Declined::NotFound);
        };
        if record.revoked_at.is_some() {
            return Ok((self.key_reply(now_ms), Changed::default()));
        }
        record.revoked_at = Some(now_ms);
        record.revoked_by = Some(actor.principal());
        record.version = record.version.saturating_add(1);
        Ok((self.key_reply(now_ms), ADMIN_CHANGE))
    }

    /// Undoes a revoke, if the actor is as strong as the revoker ([`Actor::may_undo`]). The
    /// key must be within what the actor holds: re-activating is handing its power back
    /// out. Its secrets work again, under new serials: a request queued before the
    /// revocation can no longer be approved.
    fn activate(
        &mut self,
        actor: &Actor,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<(Reply, Changed), Declined> {
        let record = self.reachable(actor)?;
        allowed(policy, LifecycleAction::Reactivate)?;
        if record.revoked_at.is_none() {
            return Ok((self.key_reply(now_ms), Changed::default()));
        }
        actor.may_undo(record, policy)?;
        let reply = self.change_record(actor, policy, now_ms, |record| {
            record.revoked_at = None;
            record.revoked_by = None;
            Ok(())
        })?;
        let mut serial = self.next_serial();
        for secret in &mut self.secrets {
            secret.serial = serial;
            serial = serial.saturating_add(1);
        }
        Ok(reply)
    }

    /// A serial no secret of the key has had: one above the highest.
    fn next_serial(&self) -> u64 {
        let highest = self.secrets.iter().map(|s| s.serial).max().unwrap_or(0);
        highest.saturating_add(1)
    }

    /// A new current secret; the previous one works for `grace_ms` more, never past the
    /// key's own expiry. Counters and usage stay: rotating never resets a quota.
    fn rotate(
        &mut self,
        actor: &Actor,
        secret: KeyHash,
        hint: String,
        grace_ms: u64,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<(Reply, Changed), Declined> {
        let record = self.reachable(actor)?;
        allowed(policy, LifecycleAction::Rotate)?;
        // Whoever rotates receives the new secret, so the key must be within their grants,
        // and theirs to change.
        actor.may_hold(record, policy)?;
        actor.may_change(record)?;
        match record.status(now_ms) {
            Status::Active => {}
            status => return Err(Declined::NotActive { status }),
        }
        let previous_valid_until = now_ms
            .saturating_add(grace_ms)
            .min(record.expires_at.unwrap_or(u64::MAX));
        let serial = self.next_serial();
        let Some(record) = self.record.as_mut() else {
            return Err(Declined::NotFound);
        };
        // Secrets whose grace already ended were retired by an earlier rotation.
        self.secrets.retain(|old| old.is_live(now_ms));
        for old in &mut self.secrets {
            let until = old.valid_until.unwrap_or(previous_valid_until);
            old.valid_until = Some(until.min(previous_valid_until));
        }
        // Oldest first: beyond the cap, the oldest graces end now.
        let excess = self.secrets.len().saturating_sub(MAX_LIVE_SECRETS - 1);
        for old in self.secrets.iter_mut().take(excess) {
            old.valid_until = Some(now_ms);
        }
        let retired: Vec<RetiredSecret> = self
            .secrets
            .iter()
            .map(|old| RetiredSecret {
                index_name: old.hash.index_name(),
                valid_until: old.valid_until.unwrap_or(now_ms),
            })
            .collect();
        self.secrets.retain(|old| old.is_live(now_ms));
        self.secrets.push(Secret {
            hash: secret,
            valid_until: None,
            serial,
        });
        record.hint = hint;
        record.version = record.version.saturating_add(1);
        let Reply::Key {
            record,
            last_used_at,
            usage,
            ..
        } = self.key_reply(now_ms)
        else {
            return Err(Declined::NotFound);
        };
        Ok((
            Reply::Rotated {
                record,
                last_used_at,
                usage,
                previous_valid_until,
                retired,
            },
            ADMIN_CHANGE,
        ))
    }

    /// Needs what editing the webhook needs: the lifecycle's `edit`, a key within the
    /// actor's grants (whoever rotates receives the secret), and the key's creator.
    fn rotate_webhook_secret(
        &mut self,
        actor: &Actor,
        secret: WebhookSecret,
        grace_ms: u64,
        policy: &Policy,
        now_ms: u64,
    ) -> Result<(Reply, Changed), Declined> {
        let record = self.reachable(actor)?;
        allowed(policy, LifecycleAction::Edit)?;
        actor.may_hold(record, policy)?;
        actor.may_change(record)?;
        if record.rejection_webhook.is_none() {
            return Err(Declined::NoWebhook);
        }
        let record = record.clone();
        // A webhook set before keys had their own secrets is signed with the deployment's;
        // its first rotation starts the key's own.
        let previous_valid_until = match self.webhook_secrets.is_empty() {
            true => {
                self.webhook_secrets = WebhookSecrets::issue(secret.clone());
                now_ms.saturating_add(grace_ms)
            }
            false => self
                .webhook_secrets
                .rotate(secret.clone(), grace_ms, now_ms),
        };
        Ok((
            Reply::WebhookSecretRotated {
                record,
                last_used_at: self.counters.last_used_at,
                webhook_secret: secret,
                previous_valid_until,
            },
            Changed {
                record: true,
                ..Changed::default()
            },
        ))
    }

    fn webhook_signers(&self, url: &str, now_ms: u64) -> WebhookSigners {
        let current = self
            .record
            .as_ref()
            .and_then(|r| r.rejection_webhook.as_deref());
        if current != Some(url) {
            return WebhookSigners::Nobody;
        }
        match self.webhook_secrets.live(now_ms) {
            secrets if secrets.is_empty() => WebhookSigners::Deployment,
            secrets => WebhookSigners::Key { secrets },
        }
    }

    /// Permanent: the record, secrets, counters and usage history all go. The id then
    /// answers as unknown, like one that never existed.
    fn delete(&mut self, actor: &Actor) -> Result<(Reply, Changed), Declined> {
        let id = self.reachable(actor)?.id.clone();
        let index_names = self
            .secrets
            .iter()
            .map(|secret| secret.hash.index_name())
            .collect();
        *self = KeyState::default();
        Ok((
            Reply::Deleted { id, index_names },
            Changed {
                wiped: true,
                directory: DirectorySync::Now,
                ..Changed::default()
            },
        ))
    }

    fn key_reply(&self, now_ms: u64) -> Reply {
        match &self.record {
            Some(record) => Reply::Key {
                record: record.clone(),
                last_used_at: self.counters.last_used_at,
                usage: usage::totals(self.counters.this_hour, &self.history, now_ms),
                webhook_secret: None,
            },
            None => Reply::Declined {
                declined: Declined::NotFound,
            },
        }
    }
}

/// Up to commit cb39fe8 a key's one secret hash was stored inside its record. Returns that
/// hash from a stored record's JSON, so the Durable Object can adopt it as the key's
/// current secret; `None` for a record in today's form.
pub fn legacy_secret(record_json: &str) -> Option<KeyHash> {
    #[derive(Deserialize)]
    struct Legacy {
        key_hash: Option<KeyHash>,
    }
    serde_json::from_str::<Legacy>(record_json).ok()?.key_hash
}

/// `reply`, showing `issued` if the command issued a webhook secret.
fn with_issued(reply: Reply, issued: Option<WebhookSecret>) -> Reply {
    match reply {
        Reply::Key {
            record,
            last_used_at,
            usage,
            ..
        } => Reply::Key {
            record,
            last_used_at,
            usage,
            webhook_secret: issued,
        },
        other => other,
    }
}

/// A record change from the admin API: stored, and in the directory before the answer.
const ADMIN_CHANGE: Changed = Changed {
    record: true,
    counters: false,
    history: false,
    wiped: false,
    directory: DirectorySync::Now,
};

fn allowed(policy: &Policy, action: LifecycleAction) -> Result<(), Declined> {
    match policy.allows(action) {
        true => Ok(()),
        false => Err(Declined::NotAllowed { action }),
    }
}

fn headers_of(quota: &limits::Quota) -> LimitHeaders {
    owned(limits::rate_limit_headers(quota))
}

fn owned(headers: Vec<(&'static str, String)>) -> LimitHeaders {
    headers
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// The public view of a key: every field the admin API shows, and never a secret's hash.
pub fn key_object(
    record: &KeyRecord,
    last_used_at: Option<u64>,
    policy: &Policy,
    now_ms: u64,
) -> Value {
    use crate::timestamp::format_rfc3339;
    let limits = record.effective_limits(policy);
    serde_json::json!({
        "id": record.id,
        "name": record.name,
        "hint": record.hint,
        "workspace": record.workspace,
        "scopes": record.scopes,
        "status": record.status(now_ms),
        "environment": record.environment,
        "created_at": format_rfc3339(record.created_at),
        "expires_at": record.expires_at.map(format_rfc3339),
        "revoked_at": record.revoked_at.map(format_rfc3339),
        "revoked_by": record.revoked_by,
        "created_by": record.created_by,
        "last_used_at": last_used_at.map(format_rfc3339),
        "limits": {
            "per_minute": limits.per_minute.get(),
            "per_day": limits.per_day.get(),
            "source": if record.limits.is_some() { "key" } else { "policy" },
        },
        "metadata": record.metadata,
        "rejection_webhook": record.rejection_webhook.as_deref().map(crate::webhook::address::redacted),
    })
}

#[cfg(test)]
mod webhook_secret_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{parse_create, DEFAULT_WORKSPACE};
    use crate::key::{hash_key, ApiKey, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
    use crate::timestamp::{format_rfc3339, MS_PER_DAY};
    use crate::usage::{HourCount, HOUR_MS};
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    /// 2030-03-17T17:46:40Z: mid-day, so a test's first minute never crosses UTC midnight.
    const NOW: u64 = 1_900_000_000_000;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("demo policy parses")
    }

    /// No edit, revoke, reactivate or rotate.
    fn seed_001() -> Policy {
        Policy::from_toml(include_str!("../policies/seed-001-simple.toml")).expect("seed parses")
    }

    /// Revoke, edit and rotate, but a revoke is final.
    fn seed_002() -> Policy {
        Policy::from_toml(include_str!("../policies/seed-002-read-write.toml"))
            .expect("seed parses")
    }

    /// Revoke only.
    fn seed_003() -> Policy {
        Policy::from_toml(include_str!("../policies/seed-003-modules.toml")).expect("seed parses")
    }

    fn secret() -> HashingSecret {
        HashingSecret::new(b"test-hashing-secret-0123456789abcdef".to_vec())
    }

    /// A key created the way the admin API creates one: validated body, fresh id and secret.
    struct Fixture {
        record: KeyRecord,
        hash: KeyHash,
    }

    fn fixture(body: &str, seed: u8) -> Fixture {
        fixture_under(&policy(), body, seed)
    }

    fn fixture_under(policy: &Policy, body: &str, seed: u8) -> Fixture {
        let new_key = parse_create(body.as_bytes(), policy, NOW, true).expect("valid body");
        let key = ApiKey::generate(
            policy.key_prefix(),
            new_key.environment,
            &[seed; KEY_RANDOM_BYTES],
        );
        let hash = hash_key(&secret(), &key);
        let id = KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]);
        let record = new_key.into_record(id, &key, NOW, DEFAULT_WORKSPACE, Principal::Root, None);
        Fixture { record, hash }
    }

    fn reader() -> Fixture {
        fixture(
            r#"{"name": "Reporting script", "scopes": ["contacts:read"]}"#,
            1,
        )
    }

    /// A key's next secret, drawn as the admin API draws one for a rotation: hash and hint.
    struct NewSecret {
        hash: KeyHash,
        hint: String,
    }

    fn new_secret(n: u32) -> NewSecret {
        let mut random = [0xA5; KEY_RANDOM_BYTES];
        random[..4].copy_from_slice(&n.to_le_bytes());
        let key = ApiKey::generate("kg", Environment::Live, &random);
        NewSecret {
            hash: hash_key(&secret(), &key),
            hint: key.hint(),
        }
    }

    /// A state holding `record` with `secret` as its one secret, created at `NOW`.
    fn created(record: &KeyRecord, secret: &KeyHash) -> KeyState {
        let mut state = KeyState::default();
        let (reply, _) = state.handle(create(record, secret), &policy(), NOW);
        assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");
        state
    }

    /// The webhook secret the admin API draws for every create and edit.
    fn fresh_webhook_secret() -> WebhookSecret {
        WebhookSecret::generate(&[0x5A; crate::webhook::secret::WEBHOOK_SECRET_RANDOM_BYTES])
    }

    fn create(record: &KeyRecord, secret: &KeyHash) -> Command {
        Command::Create {
            webhook_secret: fresh_webhook_secret(),
            record: Box::new(record.clone()),
            secret: secret.clone(),
        }
    }

    fn admit(hash: &KeyHash, resource: &str, action: Action) -> Command {
        Command::Admit {
            key_hash: hash.clone(),
            resource: resource.to_string(),
            action,
            queueing: None,
        }
    }

    /// An admit from the data plane, where a request may wait for approval.
    fn admit_queueable(
        hash: &KeyHash,
        resource: &str,
        action: Action,
        declared_body_bytes: Option<u64>,
    ) -> Command {
        Command::Admit {
            key_hash: hash.clone(),
            resource: resource.to_string(),
            action,
            queueing: Some(Queueing {
                declared_body_bytes,
            }),
        }
    }

    fn read_contacts(hash: &KeyHash) -> Command {
        admit(hash, "contacts", Action::Read)
    }

    fn get() -> Command {
        Command::Get { actor: Actor::Root }
    }

    fn edit(edit: KeyEdit) -> Command {
        Command::Edit {
            webhook_secret: fresh_webhook_secret(),
            actor: Actor::Root,
            edit,
        }
    }

    fn revoke() -> Command {
        Command::Revoke { actor: Actor::Root }
    }

    fn activate() -> Command {
        Command::Activate { actor: Actor::Root }
    }

    fn rotate(next: &NewSecret, grace_ms: u64) -> Command {
        Command::Rotate {
            actor: Actor::Root,
            secret: next.hash.clone(),
            hint: next.hint.clone(),
            grace_ms,
        }
    }

    fn delete() -> Command {
        Command::Delete { actor: Actor::Root }
    }

    /// Every lifecycle command (not create or admit) as `actor` would send it.
    fn lifecycle_commands(actor: &Actor) -> Vec<Command> {
        let next = new_secret(900);
        vec![
            Command::Get {
                actor: actor.clone(),
            },
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: actor.clone(),
                edit: KeyEdit {
                    name: Some("Taken over".into()),
                    ..KeyEdit::default()
                },
            },
            Command::Revoke {
                actor: actor.clone(),
            },
            Command::Activate {
                actor: actor.clone(),
            },
            Command::Rotate {
                actor: actor.clone(),
                secret: next.hash,
                hint: next.hint,
                grace_ms: 0,
            },
            Command::Delete {
                actor: actor.clone(),
            },
        ]
    }

    fn limits(per_minute: u64, per_day: u64) -> Limits {
        Limits::new(per_minute, per_day).expect("valid limits")
    }

    /// The id of every [`key_actor`].
    fn manager_id() -> KeyId {
        KeyId::generate(&[200; KEY_ID_RANDOM_BYTES])
    }

    /// A key acting on keys, as its own authority admitted it.
    fn key_actor(workspace: &str, scopes: &[&str], own: Limits) -> Actor {
        Actor::Key {
            grantee: Grantee {
                key_id: manager_id(),
                key_name: "Manager".into(),
                workspace: workspace.into(),
                environment: Environment::Live,
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                limits: own,
                expires_at: None,
                created_by: None,
                family: None,
            },
        }
    }

    fn header<'a>(headers: &'a LimitHeaders, name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `t` parameter of one window in the `RateLimit` field; `None` when absent (t = 0).
    fn reset_of(headers: &LimitHeaders, window: Window) -> Option<u64> {
        let field = header(headers, "RateLimit").expect("RateLimit header");
        let prefix = format!("\"{}\";", window.policy_name());
        let item = field
            .split(", ")
            .find(|item| item.starts_with(&prefix))
            .expect("window in RateLimit");
        item.split(';')
            .find_map(|param| param.strip_prefix("t="))
            .map(|t| t.parse().expect("t is a number"))
    }

    fn assert_limit_headers_present(headers: &LimitHeaders) {
        for name in [
            "RateLimit-Policy",
            "RateLimit",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ] {
            assert!(
                header(headers, name).is_some(),
                "{name} missing: {headers:?}"
            );
        }
    }

    fn refusal_of(reply: &Reply) -> (&Refusal, &LimitHeaders) {
        match reply {
            Reply::Refused {
                refusal,
                limit_headers,
            } => (refusal, limit_headers),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn grantee_of(reply: &Reply) -> &Grantee {
        match reply {
            Reply::Admitted { grantee, .. } => grantee,
            other => panic!("expected Admitted, got {other:?}"),
        }
    }

    fn key_of(reply: &Reply) -> &KeyRecord {
        match reply {
            Reply::Key { record, .. } => record,
            other => panic!("expected a key, got {other:?}"),
        }
    }

    fn declined(declined: Declined) -> Reply {
        Reply::Declined { declined }
    }

    fn is_admitted(reply: &Reply) -> bool {
        matches!(reply, Reply::Admitted { .. })
    }

    const NOTHING: Changed = Changed {
        record: false,
        counters: false,
        history: false,
        wiped: false,
        directory: DirectorySync::None,
    };

    /// What an admin change to a record reports: record and secrets written, the directory
    /// told before the admin API answers.
    const ADMIN: Changed = Changed {
        record: true,
        counters: false,
        history: false,
        wiped: false,
        directory: DirectorySync::Now,
    };

    // --- create -----------------------------------------------------------------------

    #[test]
    fn create_on_empty_state_stores_record_one_live_secret_and_fresh_counters() {
        let Fixture { record, hash } = reader();
        let mut state = KeyState::default();
        let (reply, changed) = state.handle(create(&record, &hash), &policy(), NOW);
        assert_eq!(
            reply,
            Reply::Key {
                webhook_secret: None,
                record: record.clone(),
                last_used_at: None,
                usage: UsageTotals::default(),
            }
        );
        // A fresh object has no counters stored, so the defaults need no write.
        assert_eq!(changed, ADMIN);
        assert_eq!(state.record.as_ref(), Some(&record));
        assert_eq!(
            state.secrets,
            [Secret {
                hash: hash.clone(),
                valid_until: None,
                serial: 1,
            }]
        );
        assert_eq!(state.counters, Counters::default());
        assert_eq!(state.history, UsageHistory::default());
        assert_eq!(state.last_used_synced_at, None);
    }

    #[test]
    fn create_twice_is_already_exists_and_changes_nothing() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(read_contacts(&hash), &policy(), NOW);
        let before = state.clone();
        let other = fixture(r#"{"name": "Intruder", "scopes": ["admin"]}"#, 2);
        let (reply, changed) = state.handle(create(&other.record, &other.hash), &policy(), NOW + 1);
        assert_eq!(reply, Reply::AlreadyExists);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
        // The intruder's secret was not added to the key.
        let (reply, _) = state.handle(read_contacts(&other.hash), &policy(), NOW + 2);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    }

    #[test]
    fn a_record_and_its_debug_output_never_carry_a_secrets_hash() {
        let Fixture { record, hash } = reader();
        let hex = &hash.index_name()[3..];
        assert_eq!(hex.len(), 64);
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains(hex), "the hash leaked: {text}");
        let mut state = created(&record, &hash);
        state.handle(rotate(&new_secret(1), MS_PER_DAY), &policy(), NOW);
        let (reply, _) = state.handle(get(), &policy(), NOW);
        let text = serde_json::to_string(&reply).unwrap();
        assert!(!text.contains(hex), "the hash leaked: {text}");
        let debug = format!("{state:?} {:?}", rotate(&new_secret(2), 0));
        assert!(!debug.contains(hex), "the hash leaked: {debug}");
        assert!(!debug.contains(&new_secret(2).hash.index_name()[3..]));
    }

    // --- admit: the key itself refused ------------------------------------------------

    #[test]
    fn admit_without_record_is_unknown_with_no_limit_headers() {
        let mut state = KeyState::default();
        let (reply, changed) = state.handle(read_contacts(&reader().hash), &policy(), NOW);
        assert_eq!(
            reply,
            Reply::Refused {
                refusal: Refusal::Unknown,
                limit_headers: Vec::new()
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, KeyState::default());
    }

    #[test]
    fn admit_with_another_keys_hash_is_unknown() {
        let Fixture { record, hash } = reader();
        let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
        let mut state = created(&record, &hash);
        let before = state.clone();
        let (reply, changed) = state.handle(read_contacts(&stranger), &policy(), NOW);
        assert_eq!(
            reply,
            Reply::Refused {
                refusal: Refusal::Unknown,
                limit_headers: Vec::new()
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    #[test]
    fn wrong_hash_on_a_revoked_key_says_unknown_not_revoked() {
        let Fixture { record, hash } = reader();
        let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
        let mut state = created(&record, &hash);
        state.handle(revoke(), &policy(), NOW);
        let (reply, _) = state.handle(read_contacts(&stranger), &policy(), NOW + 1);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    }

    #[test]
    fn admit_on_a_revoked_key_is_revoked_without_limit_headers() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(revoke(), &policy(), NOW + 10);
        let before = state.clone();
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 10);
        assert_eq!(
            reply,
            Reply::Refused {
                refusal: Refusal::Revoked,
                limit_headers: Vec::new()
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    #[test]
    fn a_key_expires_exactly_at_expires_at() {
        let expires = NOW + 60_000;
        let body = format!(
            r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
            format_rfc3339(expires)
        );
        let Fixture { record, hash } = fixture(&body, 3);
        assert_eq!(record.expires_at, Some(expires));
        let mut state = created(&record, &hash);

        let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires - 1);
        assert!(is_admitted(&reply), "{reply:?}");
        assert_eq!(record.status(expires - 1), Status::Active);

        let before = state.clone();
        for at in [expires, expires + 1, expires + MS_PER_DAY] {
            assert_eq!(record.status(at), Status::Expired);
            let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
            assert_eq!(
                reply,
                Reply::Refused {
                    refusal: Refusal::Expired,
                    limit_headers: Vec::new()
                }
            );
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
        }
    }

    #[test]
    fn revoked_wins_over_expired() {
        let mut record = reader().record;
        record.expires_at = Some(NOW + 5);
        record.revoked_at = Some(NOW + 1);
        assert_eq!(record.status(NOW + 10), Status::Revoked);
        assert_eq!(record.status(NOW), Status::Revoked);
    }

    // --- admit: scope ---------------------------------------------------------------

    #[test]
    fn a_denied_scope_names_resource_and_action_shows_limits_and_counts_nothing() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(read_contacts(&hash), &policy(), NOW);
        let before = state.clone();
        for (resource, action) in [
            ("contacts", Action::Write),
            ("contacts", Action::Delete),
            ("email", Action::Send),
            ("settings", Action::Read),
            // A target from another policy version: nothing grants it.
            ("gone", Action::Read),
        ] {
            let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
            let (refusal, headers) = refusal_of(&reply);
            assert_eq!(
                refusal,
                &Refusal::Scope {
                    required_scope: format!("{resource}:{}", action.as_str()),
                    approval_scope: None,
                }
            );
            assert_limit_headers_present(headers);
            // The one request admitted before shows in the headers; nothing more was counted.
            assert_eq!(header(headers, "X-RateLimit-Limit"), Some("120"));
            assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("119"));
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
        }
    }

    #[test]
    fn a_denied_scope_names_its_approval_level_only_where_the_request_could_queue() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        for (resource, action, approval) in [
            ("contacts", Action::Write, Some("contacts:write-approval")),
            ("contacts", Action::Delete, Some("contacts:delete-approval")),
            ("email", Action::Send, Some("email:send-approval")),
            ("settings", Action::Read, None),
        ] {
            let queueable = admit_queueable(&hash, resource, action, None);
            let (reply, changed) = state.handle(queueable, &policy(), NOW);
            assert_eq!(
                refusal_of(&reply).0,
                &Refusal::Scope {
                    required_scope: format!("{resource}:{}", action.as_str()),
                    approval_scope: approval.map(str::to_string),
                }
            );
            assert_eq!(changed, NOTHING);
            // Where nothing can be queued (the admin API), no level is named.
            let (reply, _) = state.handle(admit(&hash, resource, action), &policy(), NOW);
            assert!(matches!(
                refusal_of(&reply).0,
                Refusal::Scope {
                    approval_scope: None,
                    ..
                }
            ));
        }
        // An older authority's refusal, without the field, still reads.
        let older: Refusal =
            serde_json::from_str(r#"{"reason": "scope", "required_scope": "contacts:write"}"#)
                .expect("reads");
        assert_eq!(
            older,
            Refusal::Scope {
                required_scope: "contacts:write".into(),
                approval_scope: None,
            }
        );
    }

    #[test]
    fn an_approval_level_where_nothing_can_queue_is_refused_and_not_counted() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:write-approval", "email:send-approval", "ai:use-approval"]}"#,
            4,
        );
        let mut state = created(&record, &hash);
        for (resource, action) in [
            ("contacts", Action::Write),
            ("email", Action::Send),
            ("ai", Action::Use),
        ] {
            let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
            let (refusal, headers) = refusal_of(&reply);
            assert_eq!(
                refusal,
                &Refusal::ApprovalNotOffered {
                    required_scope: format!("{resource}:{}", action.as_str())
                }
            );
            assert_limit_headers_present(headers);
            assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("120"));
            assert_eq!(changed, NOTHING);
            assert_eq!(state.counters, Counters::default());
        }
        // The ladder's lower level is held outright.
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    #[test]
    fn an_approval_level_on_the_data_plane_is_queued_and_counted() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:delete-approval", "email:send-approval", "ai:use-approval"], "limits": {"per_minute": 3, "per_day": 100}}"#,
            4,
        );
        let mut state = created(&record, &hash);
        for (resource, action, remaining) in [
            ("contacts", Action::Delete, "2"),
            ("email", Action::Send, "1"),
            ("ai", Action::Use, "0"),
        ] {
            let command = admit_queueable(&hash, resource, action, Some(10));
            let (reply, changed) = state.handle(command, &policy(), NOW);
            let Reply::Queued {
                grantee,
                limit_headers,
                secret,
            } = &reply
            else {
                panic!("{resource}: not queued: {reply:?}");
            };
            assert_eq!(grantee.key_id, record.id);
            // The key's one secret, named for the approval's later recheck.
            assert_eq!(*secret, 1);
            assert_eq!(
                header(limit_headers, "X-RateLimit-Remaining"),
                Some(remaining)
            );
            assert!(changed.counters);
        }
        // A queued request uses the quota like any other: the fourth is throttled.
        let command = admit_queueable(&hash, "email", Action::Send, None);
        let (reply, _) = state.handle(command, &policy(), NOW);
        assert!(
            matches!(refusal_of(&reply).0, Refusal::Throttled { .. }),
            "{reply:?}"
        );
        // The write level below delete is held outright, so it is admitted, not queued.
        let command = admit_queueable(&hash, "contacts", Action::Write, None);
        let (reply, _) = state.handle(command, &policy(), NOW + 60_000);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    #[test]
    fn a_declared_body_over_the_queue_limit_is_refused_before_it_is_counted() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
            4,
        );
        let policy = Policy::from_toml(&format!(
            "{}\n[approvals]\nmax_body_bytes = 100\n",
            include_str!("../policies/demo.toml")
        ))
        .expect("valid policy");
        let mut state = created(&record, &hash);
        let command = admit_queueable(&hash, "contacts", Action::Write, Some(101));
        let (reply, changed) = state.handle(command, &policy, NOW);
        assert_eq!(
            refusal_of(&reply).0,
            &Refusal::BodyTooLarge { max_bytes: 100 }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state.counters, Counters::default());
        for fits in [Some(100), Some(0), None] {
            let command = admit_queueable(&hash, "contacts", Action::Write, fits);
            let (reply, _) = state.handle(command, &policy, NOW);
            assert!(matches!(reply, Reply::Queued { .. }), "{fits:?}: {reply:?}");
        }
    }

    #[test]
    fn identify_checks_status_and_limits_but_no_scope() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10}}"#,
            4,
        );
        let mut state = created(&record, &hash);
        let identify = || Command::Identify {
            key_hash: hash.clone(),
        };
        let (reply, changed) = state.handle(identify(), &policy(), NOW);
        assert!(is_admitted(&reply), "{reply:?}");
        assert!(changed.counters, "an identified call is counted");
        let (reply, _) = state.handle(identify(), &policy(), NOW);
        assert!(
            matches!(refusal_of(&reply).0, Refusal::Throttled { .. }),
            "{reply:?}"
        );
        state.handle(Command::Revoke { actor: Actor::Root }, &policy(), NOW);
        let (reply, _) = state.handle(identify(), &policy(), NOW + 60_000);
        assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
    }

    #[test]
    fn a_recheck_sees_the_key_as_it_is_now_and_counts_nothing() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
            4,
        );
        let recheck = || Command::Recheck {
            resource: "contacts".into(),
            action: Action::Write,
            secret: None,
        };
        let standing = |state: &mut KeyState, now| match state.handle(recheck(), &policy(), now) {
            (Reply::Rechecked { standing }, changed) => {
                assert_eq!(changed, NOTHING);
                standing.map(|grantee| grantee.key_id)
            }
            (other, _) => panic!("not a recheck answer: {other:?}"),
        };
        let mut state = created(&record, &hash);
        assert_eq!(standing(&mut state, NOW), Ok(record.id.clone()));
        assert_eq!(state.counters, Counters::default());
        // Raised to the write level: still allowed.
        state.handle(
            edit(KeyEdit {
                scopes: Some(vec!["contacts:write".into()]),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert_eq!(standing(&mut state, NOW), Ok(record.id.clone()));
        // Lowered to read: the grant is lost.
        state.handle(
            edit(KeyEdit {
                scopes: Some(vec!["contacts:read".into()]),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert_eq!(
            standing(&mut state, NOW),
            Err(SubmitterFailure::ScopeLost {
                required_scope: "contacts:write".into()
            })
        );
        state.handle(
            edit(KeyEdit {
                expires_at: Some(Some(NOW + 10)),
                scopes: Some(vec!["contacts:write-approval".into()]),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert_eq!(
            standing(&mut state, NOW + 10),
            Err(SubmitterFailure::KeyExpired)
        );
        state.handle(Command::Revoke { actor: Actor::Root }, &policy(), NOW);
        assert_eq!(standing(&mut state, NOW), Err(SubmitterFailure::KeyRevoked));
        assert_eq!(
            standing(&mut KeyState::default(), NOW),
            Err(SubmitterFailure::KeyDeleted)
        );
    }

    // --- admit: allowed and throttled ------------------------------------------------

    #[test]
    fn an_allowed_request_names_the_grantee_and_is_counted() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Zapier", "scopes": ["contacts:write", "tags:read"], "workspace": "acme"}"#,
            5,
        );
        let mut state = created(&record, &hash);
        let at = NOW + 1_234;
        let (reply, changed) = state.handle(admit(&hash, "contacts", Action::Read), &policy(), at);
        let Reply::Admitted {
            grantee,
            limit_headers,
        } = reply
        else {
            panic!("expected Admitted, got {reply:?}");
        };
        assert_eq!(
            grantee,
            Grantee {
                key_id: record.id.clone(),
                key_name: "Zapier".into(),
                workspace: "acme".into(),
                environment: Environment::Live,
                scopes: vec!["contacts:write".into(), "tags:read".into()],
                // The limits in force: the policy's defaults, as the key has none of its own.
                limits: limits(120, 50_000),
                expires_at: None,
                created_by: Some(Principal::Root),
                // Made by the root token: it heads its own family.
                family: Some(record.id.clone()),
            }
        );
        assert_limit_headers_present(&limit_headers);
        assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("119"));
        assert_eq!(
            header(&limit_headers, "RateLimit-Policy"),
            Some(r#""minute";q=120;w=60, "day";q=50000;w=86400"#)
        );
        // The first request ever opens a usage hour (no finished hour to write yet) and
        // sends last_used_at to the directory.
        assert_eq!(
            changed,
            Changed {
                counters: true,
                history: false,
                directory: DirectorySync::Soon,
                ..NOTHING
            }
        );
        assert_eq!(state.counters.last_used_at, Some(at));
        assert_eq!(
            state.record.as_ref(),
            Some(&record),
            "the record is untouched"
        );
    }

    #[test]
    fn the_grantee_carries_the_keys_own_limits_and_expiry() {
        let expires = NOW + MS_PER_DAY;
        let body = format!(
            r#"{{"name": "Small", "scopes": ["contacts:read"], "limits": {{"per_minute": 3, "per_day": 7}},
                "expires_at": "{}", "environment": "test"}}"#,
            format_rfc3339(expires)
        );
        let Fixture { record, hash } = fixture(&body, 6);
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
        let grantee = grantee_of(&reply);
        assert_eq!(grantee.limits, limits(3, 7));
        assert_eq!(grantee.expires_at, Some(expires));
        assert_eq!(grantee.environment, Environment::Test);
        assert_eq!(grantee.workspace, DEFAULT_WORKSPACE);
    }

    #[test]
    fn per_key_limits_replace_the_policy_defaults() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 3, "per_day": 7}}"#,
            6,
        );
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
        let Reply::Admitted { limit_headers, .. } = reply else {
            panic!("expected Admitted, got {reply:?}");
        };
        assert_eq!(
            header(&limit_headers, "RateLimit-Policy"),
            Some(r#""minute";q=3;w=60, "day";q=7;w=86400"#)
        );
        assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("2"));
    }

    #[test]
    fn a_throttled_minute_is_not_counted_and_resets_no_earlier_than_retry_after() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
            7,
        );
        let mut state = created(&record, &hash);
        for at in [NOW, NOW + 500] {
            let (reply, _) = state.handle(read_contacts(&hash), &policy(), at);
            assert!(is_admitted(&reply), "{reply:?}");
        }
        let before = state.clone();
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 1_000);
        let (refusal, headers) = refusal_of(&reply);
        let Refusal::Throttled {
            window,
            retry_after_secs,
        } = refusal.clone()
        else {
            panic!("expected Throttled, got {refusal:?}");
        };
        assert_eq!(window, Window::Minute);
        assert_eq!(retry_after_secs, 59);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before, "a throttled request is not counted");
        assert_limit_headers_present(headers);
        assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("0"));
        let reset: u64 = header(headers, "X-RateLimit-Reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset >= retry_after_secs, "{reset} < {retry_after_secs}");
        let t = reset_of(headers, Window::Minute).expect("t for the exhausted minute");
        assert!(t >= retry_after_secs, "t={t} < {retry_after_secs}");

        // At Retry-After the same request passes.
        let retry_at = NOW + 1_000 + retry_after_secs * 1_000;
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), retry_at);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    #[test]
    fn a_throttled_day_waits_until_utc_midnight() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Daily", "scopes": ["contacts:read"], "limits": {"per_minute": 5, "per_day": 5}}"#,
            8,
        );
        let mut state = created(&record, &hash);
        for i in 0..5 {
            let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + i * 120_000);
            assert!(is_admitted(&reply), "{reply:?}");
        }
        let at = NOW + 3_600_000;
        let before = state.clone();
        let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
        let (refusal, headers) = refusal_of(&reply);
        let midnight = (at / MS_PER_DAY + 1) * MS_PER_DAY;
        let wait = (midnight - at).div_ceil(1_000);
        assert_eq!(
            refusal,
            &Refusal::Throttled {
                window: Window::Day,
                retry_after_secs: wait
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
        let reset: u64 = header(headers, "X-RateLimit-Reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset >= wait);
        assert!(reset_of(headers, Window::Day).unwrap() >= wait);
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), midnight);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    #[test]
    fn refusals_become_the_matching_gateway_errors() {
        assert_eq!(
            GatewayError::from(Refusal::Unknown),
            GatewayError::KeyUnknown
        );
        assert_eq!(
            GatewayError::from(Refusal::Revoked),
            GatewayError::KeyRevoked
        );
        assert_eq!(
            GatewayError::from(Refusal::Expired),
            GatewayError::KeyExpired
        );
        assert_eq!(
            GatewayError::from(Refusal::Scope {
                required_scope: "contacts:write".into(),
                approval_scope: Some("contacts:write-approval".into()),
            }),
            GatewayError::InsufficientScope {
                required_scope: "contacts:write".into(),
                approval_scope: Some("contacts:write-approval".into()),
            }
        );
        assert_eq!(
            GatewayError::from(Refusal::ApprovalNotOffered {
                required_scope: "api_keys:write".into()
            }),
            GatewayError::ApprovalNotOffered {
                required_scope: "api_keys:write".into()
            }
        );
        assert_eq!(
            GatewayError::from(Refusal::BodyTooLarge { max_bytes: 9 }),
            GatewayError::PayloadTooLarge {
                max_bytes: 9,
                bound: crate::problem::BodyBound::Queued
            }
        );
        assert_eq!(
            GatewayError::from(Refusal::Throttled {
                window: Window::Day,
                retry_after_secs: 7
            }),
            GatewayError::RateLimited {
                window: Window::Day,
                retry_after_secs: 7
            }
        );
    }

    #[test]
    fn declines_become_the_matching_gateway_errors() {
        assert_eq!(
            GatewayError::from(Declined::NotFound),
            GatewayError::NotFound
        );
        for action in LifecycleAction::ALL {
            assert_eq!(
                GatewayError::from(Declined::NotAllowed { action }),
                GatewayError::LifecycleNotAllowed { action }
            );
        }
        for status in [Status::Revoked, Status::Expired] {
            assert_eq!(
                GatewayError::from(Declined::NotActive { status }),
                GatewayError::KeyNotActive { status }
            );
        }
        let overreach = Overreach::Limit {
            window: Window::Minute,
            own: 60,
        };
        assert_eq!(
            GatewayError::from(Declined::from(overreach.clone())),
            GatewayError::BeyondOwnGrant(overreach)
        );
        assert_eq!(GatewayError::from(Declined::NotFound).status(), 404);
    }

    // --- revoke and get -------------------------------------------------------------

    #[test]
    fn revoke_sets_revoked_at_once_and_bumps_the_version() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(read_contacts(&hash), &policy(), NOW + 5);
        let used_once = UsageTotals {
            last_24h: 1,
            last_7d: 1,
            last_30d: 1,
        };

        let (reply, changed) = state.handle(revoke(), &policy(), NOW + 10);
        let mut revoked = record.clone();
        revoked.revoked_at = Some(NOW + 10);
        revoked.revoked_by = Some(Principal::Root);
        revoked.version = record.version + 1;
        assert_eq!(
            reply,
            Reply::Key {
                webhook_secret: None,
                record: revoked.clone(),
                last_used_at: Some(NOW + 5),
                usage: used_once,
            }
        );
        assert_eq!(changed, ADMIN);
        assert_eq!(state.record.as_ref(), Some(&revoked));

        // Idempotent: the first revocation time and the version stay, nothing is written.
        let before = state.clone();
        let (reply, changed) = state.handle(revoke(), &policy(), NOW + 20);
        assert_eq!(
            reply,
            Reply::Key {
                webhook_secret: None,
                record: revoked.clone(),
                last_used_at: Some(NOW + 5),
                usage: used_once,
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    #[test]
    fn revoke_on_an_empty_state_is_not_found() {
        let mut state = KeyState::default();
        let (reply, changed) = state.handle(revoke(), &policy(), NOW);
        assert_eq!(reply, declined(Declined::NotFound));
        assert_eq!(changed, NOTHING);
        assert_eq!(state, KeyState::default());
    }

    #[test]
    fn get_returns_the_record_last_use_and_usage() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let (reply, changed) = state.handle(get(), &policy(), NOW);
        assert_eq!(
            reply,
            Reply::Key {
                webhook_secret: None,
                record: record.clone(),
                last_used_at: None,
                usage: UsageTotals::default(),
            }
        );
        assert_eq!(changed, NOTHING);
        state.handle(read_contacts(&hash), &policy(), NOW + 42);
        let (reply, changed) = state.handle(get(), &policy(), NOW + 50);
        assert_eq!(
            reply,
            Reply::Key {
                webhook_secret: None,
                record,
                last_used_at: Some(NOW + 42),
                usage: UsageTotals {
                    last_24h: 1,
                    last_7d: 1,
                    last_30d: 1
                },
            }
        );
        assert_eq!(changed, NOTHING);
    }

    #[test]
    fn every_lifecycle_command_on_an_empty_state_is_not_found() {
        for command in lifecycle_commands(&Actor::Root) {
            let mut state = KeyState::default();
            let label = format!("{command:?}");
            assert_eq!(
                state.handle(command, &policy(), NOW),
                (declined(Declined::NotFound), NOTHING),
                "{label}"
            );
            assert_eq!(state, KeyState::default(), "{label}");
        }
    }

    // --- edit -----------------------------------------------------------------------

    /// A key with every optional field set, so an edit can clear each one.
    fn full() -> Fixture {
        let body = format!(
            r#"{{"name": "Full", "scopes": ["contacts:read", "tags:read"], "expires_at": "{}",
                "limits": {{"per_minute": 10, "per_day": 1000}}, "metadata": {{"team": "growth"}},
                "rejection_webhook": "https://hooks.example.com/r"}}"#,
            format_rfc3339(NOW + MS_PER_DAY)
        );
        fixture(&body, 14)
    }

    #[test]
    fn a_record_stored_before_secrets_were_apart_yields_its_hash() {
        let Fixture { record, hash } = reader();
        let mut old = serde_json::to_value(&record).unwrap();
        old["key_hash"] = serde_json::to_value(&hash).unwrap();
        let adopted = legacy_secret(&old.to_string()).expect("the old hash");
        assert!(adopted.matches(&hash));
        // And the old form still reads as today's record.
        assert_eq!(serde_json::from_value::<KeyRecord>(old).unwrap(), record);
        assert!(legacy_secret(&serde_json::to_string(&record).unwrap()).is_none());
        assert!(legacy_secret("not json").is_none());
    }

    #[test]
    fn index_names_in_replies_are_redacted_in_debug_output() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(Command::Delete { actor: Actor::Root }, &policy(), NOW);
        let debug = format!("{reply:?}");
        assert!(debug.contains("Deleted"), "{debug}");
        assert!(!debug.contains(&hash.index_name()[3..]), "{debug}");
    }

    #[test]
    fn a_new_expiry_for_an_expired_key_is_a_reactivation() {
        let expires = NOW + 1_000;
        let body = format!(
            r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
            format_rfc3339(expires)
        );
        let Fixture { record, hash } = fixture(&body, 31);
        let extend = || {
            edit(KeyEdit {
                expires_at: Some(None),
                ..KeyEdit::default()
            })
        };
        let no_reactivation =
            Policy::from_toml(include_str!("../policies/seed-002-read-write.toml")).unwrap();
        let mut state = created(&record, &hash);
        // Before it expires, a new expiry is an ordinary edit.
        let (reply, _) = state.handle(extend(), &no_reactivation, expires - 1);
        assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");

        let mut state = created(&record, &hash);
        let before = state.clone();
        let (reply, changed) = state.handle(extend(), &no_reactivation, expires);
        assert_eq!(
            reply,
            declined(Declined::NotAllowed {
                action: LifecycleAction::Reactivate
            })
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
        // Where re-activation is allowed, it brings the key back.
        let (reply, _) = state.handle(extend(), &policy(), expires);
        assert_eq!(key_of(&reply).status(expires), Status::Active);
    }

    #[test]
    fn a_key_that_a_key_sets_back_to_defaults_gets_them_as_its_own_limits() {
        let Fixture { mut record, hash } = full();
        record.created_by = Some(Principal::Key {
            key_id: manager_id(),
        });
        let mut state = created(&record, &hash);
        let manager = key_actor(
            &record.workspace,
            &["api_keys:write", "contacts:read", "tags:read"],
            limits(120, 50_000),
        );
        let (reply, _) = state.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: manager,
                edit: KeyEdit {
                    limits: Some(LimitsEdit::PolicyDefaults),
                    ..KeyEdit::default()
                },
            },
            &policy(),
            NOW,
        );
        // Pinned: a later rise of the policy's defaults cannot lift it above its manager.
        assert_eq!(key_of(&reply).limits, Some(limits(120, 50_000)));
    }

    #[test]
    fn an_edit_of_one_limit_window_keeps_the_other() {
        let Fixture { record, hash } = full();
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(
            edit(KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: Some(5),
                    per_day: None,
                }),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).limits, Some(limits(5, 1000)));
        // A window that no longer fits the other one's current value changes nothing.
        let before = state.clone();
        let (reply, changed) = state.handle(
            edit(KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: None,
                    per_day: Some(4),
                }),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert!(
            matches!(&reply, Reply::Declined { declined: Declined::InvalidLimits { message } } if message.contains("per_minute")),
            "{reply:?}"
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
        // From the policy's defaults, the other window is the policy's.
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(
            edit(KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: None,
                    per_day: Some(1_000),
                }),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).limits, Some(limits(120, 1_000)));
    }

    #[test]
    fn a_test_key_finds_no_live_key_to_revoke_or_delete() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let Actor::Key { mut grantee } = key_actor("default", &["admin"], limits(120, 50_000))
        else {
            unreachable!()
        };
        grantee.environment = Environment::Test;
        let tester = Actor::Key { grantee };
        let before = state.clone();
        for command in [
            Command::Revoke {
                actor: tester.clone(),
            },
            Command::Delete {
                actor: tester.clone(),
            },
        ] {
            let (reply, changed) = state.handle(command, &policy(), NOW);
            // As if absent, like another workspace's key: a test key never learns of it.
            assert_eq!(reply, declined(Declined::NotFound));
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
        }
    }

    #[test]
    fn an_edit_replaces_each_field_given_and_bumps_the_version() {
        let Fixture { record, hash } = full();
        let changed_by = |change: fn(&mut KeyRecord)| {
            let mut expected = record.clone();
            change(&mut expected);
            expected.version = record.version + 1;
            expected
        };
        let mut metadata = Map::new();
        metadata.insert("team".into(), json!("sales"));
        metadata.insert("n".into(), json!(2));
        let cases = [
            (
                KeyEdit {
                    name: Some("Renamed".into()),
                    ..KeyEdit::default()
                },
                changed_by(|r| r.name = "Renamed".into()),
            ),
            (
                KeyEdit {
                    scopes: Some(vec!["email:send".into()]),
                    ..KeyEdit::default()
                },
                changed_by(|r| r.scopes = vec!["email:send".into()]),
            ),
            (
                KeyEdit {
                    limits: Some(LimitsEdit::Set {
                        per_minute: Some(5),
                        per_day: Some(50),
                    }),
                    ..KeyEdit::default()
                },
                changed_by(|r| r.limits = Some(limits(5, 50))),
            ),
            (
                KeyEdit {
                    expires_at: Some(Some(NOW + 2 * MS_PER_DAY)),
                    ..KeyEdit::default()
                },
                changed_by(|r| r.expires_at = Some(NOW + 2 * MS_PER_DAY)),
            ),
            (
                KeyEdit {
                    metadata: Some(metadata.clone()),
                    ..KeyEdit::default()
                },
                {
                    let mut expected = record.clone();
                    expected.metadata = metadata.clone();
                    expected.version += 1;
                    expected
                },
            ),
            (
                KeyEdit {
                    rejection_webhook: Some(Some("https://hooks.example.com/other".into())),
                    ..KeyEdit::default()
                },
                changed_by(|r| {
                    r.rejection_webhook = Some("https://hooks.example.com/other".into())
                }),
            ),
        ];
        for (change, expected) in cases {
            let mut state = created(&record, &hash);
            let before = state.clone();
            let label = format!("{change:?}");
            let (reply, changed) = state.handle(edit(change), &policy(), NOW + 1);
            assert_eq!(key_of(&reply), &expected, "{label}");
            assert_eq!(changed, ADMIN, "{label}");
            assert_eq!(state.record.as_ref(), Some(&expected), "{label}");
            // Only the record moved: secrets, counters and usage stay as they were.
            assert_eq!(state.secrets, before.secrets, "{label}");
            assert_eq!(state.counters, before.counters, "{label}");
            assert_eq!(state.history, before.history, "{label}");
        }
    }

    #[test]
    fn null_clears_each_optional_field() {
        let Fixture { record, hash } = full();
        assert!(record.expires_at.is_some() && record.limits.is_some());
        assert!(record.rejection_webhook.is_some() && !record.metadata.is_empty());
        let mut state = created(&record, &hash);
        let clears = [
            KeyEdit {
                limits: Some(LimitsEdit::PolicyDefaults),
                ..KeyEdit::default()
            },
            KeyEdit {
                expires_at: Some(None),
                ..KeyEdit::default()
            },
            KeyEdit {
                rejection_webhook: Some(None),
                ..KeyEdit::default()
            },
            KeyEdit {
                metadata: Some(Map::new()),
                ..KeyEdit::default()
            },
        ];
        for (i, clear) in clears.into_iter().enumerate() {
            let (reply, changed) = state.handle(edit(clear), &policy(), NOW + 1);
            assert_eq!(changed, ADMIN);
            assert_eq!(key_of(&reply).version, record.version + 1 + i as u64);
        }
        let cleared = state.record.clone().unwrap();
        assert_eq!(cleared.limits, None);
        assert_eq!(cleared.expires_at, None);
        assert_eq!(cleared.rejection_webhook, None);
        assert_eq!(cleared.metadata, Map::new());
        // Everything else is as it was.
        assert_eq!(
            (&cleared.name, &cleared.scopes, cleared.created_at),
            (&record.name, &record.scopes, record.created_at)
        );
        // Back on the policy's defaults.
        assert_eq!(cleared.effective_limits(&policy()), limits(120, 50_000));
    }

    #[test]
    fn an_edit_that_changes_nothing_keeps_the_version_and_writes_nothing() {
        let Fixture { record, hash } = full();
        let mut state = created(&record, &hash);
        state.handle(read_contacts(&hash), &policy(), NOW);
        let before = state.clone();
        for same in [
            KeyEdit::default(),
            KeyEdit {
                name: Some(record.name.clone()),
                scopes: Some(record.scopes.clone()),
                ..KeyEdit::default()
            },
            KeyEdit {
                limits: Some(match record.limits {
                    Some(own) => LimitsEdit::Set {
                        per_minute: Some(u64::from(own.per_minute.get())),
                        per_day: Some(u64::from(own.per_day.get())),
                    },
                    None => LimitsEdit::PolicyDefaults,
                }),
                expires_at: Some(record.expires_at),
                metadata: Some(record.metadata.clone()),
                rejection_webhook: Some(record.rejection_webhook.clone()),
                ..KeyEdit::default()
            },
        ] {
            let label = format!("{same:?}");
            let (reply, changed) = state.handle(edit(same), &policy(), NOW + 1);
            assert_eq!(key_of(&reply), &record, "{label}");
            assert_eq!(changed, NOTHING, "{label}");
            assert_eq!(state, before, "{label}");
        }
        // Clearing what is already clear is no change either.
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let before = state.clone();
        let (reply, changed) = state.handle(
            edit(KeyEdit {
                limits: Some(LimitsEdit::PolicyDefaults),
                expires_at: Some(None),
                rejection_webhook: Some(None),
                metadata: Some(Map::new()),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).version, record.version);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    #[test]
    fn each_real_change_bumps_the_version_by_one() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        for (i, name) in ["One", "Two", "Two", "Three"].into_iter().enumerate() {
            state.handle(
                edit(KeyEdit {
                    name: Some(name.into()),
                    ..KeyEdit::default()
                }),
                &policy(),
                NOW + i as u64,
            );
        }
        state.handle(revoke(), &policy(), NOW + 10);
        state.handle(activate(), &policy(), NOW + 11);
        // Three names (one repeated), a revoke and an activate.
        assert_eq!(state.record.unwrap().version, record.version + 5);
    }

    #[test]
    fn an_edit_of_scopes_is_in_force_for_the_next_admit() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Writer", "scopes": ["contacts:write", "tags:read"]}"#,
            30,
        );
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(admit(&hash, "contacts", Action::Write), &policy(), NOW);
        assert!(is_admitted(&reply), "{reply:?}");
        state.handle(
            edit(KeyEdit {
                scopes: Some(vec!["tags:read".into()]),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW + 1,
        );
        let (reply, _) = state.handle(admit(&hash, "contacts", Action::Write), &policy(), NOW + 2);
        let refusal = refusal_of(&reply).0.clone();
        assert_eq!(
            refusal,
            Refusal::Scope {
                required_scope: "contacts:write".into(),
                approval_scope: None,
            }
        );
        assert_eq!(GatewayError::from(refusal).status(), 403);
        let (reply, _) = state.handle(admit(&hash, "tags", Action::Read), &policy(), NOW + 3);
        assert_eq!(grantee_of(&reply).scopes, ["tags:read"]);
    }

    #[test]
    fn an_edit_of_the_name_is_in_force_for_the_next_admit() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
        assert_eq!(grantee_of(&reply).key_name, "Reporting script");
        state.handle(
            edit(KeyEdit {
                name: Some("Nightly report".into()),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW + 1,
        );
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 2);
        assert_eq!(grantee_of(&reply).key_name, "Nightly report");
    }

    #[test]
    fn lowered_limits_throttle_sooner_from_the_next_admit() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        for i in 0..5 {
            let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + i);
            assert!(is_admitted(&reply), "{reply:?}");
        }
        // At the policy's 120 a minute there would be room for 115 more; at 6 there is one.
        state.handle(
            edit(KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: Some(6),
                    per_day: Some(100),
                }),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW + 10,
        );
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 11);
        let Reply::Admitted {
            grantee,
            limit_headers,
        } = &reply
        else {
            panic!("expected Admitted, got {reply:?}");
        };
        assert_eq!(grantee.limits, limits(6, 100));
        assert_eq!(header(limit_headers, "X-RateLimit-Remaining"), Some("0"));
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 12);
        assert!(
            matches!(
                refusal_of(&reply).0,
                Refusal::Throttled {
                    window: Window::Minute,
                    ..
                }
            ),
            "{reply:?}"
        );
        // Below what was already used: throttled at once, never a negative remainder.
        state.handle(
            edit(KeyEdit {
                limits: Some(LimitsEdit::Set {
                    per_minute: Some(2),
                    per_day: Some(100),
                }),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW + 13,
        );
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 14);
        let (refusal, headers) = refusal_of(&reply);
        assert!(matches!(refusal, Refusal::Throttled { .. }), "{refusal:?}");
        assert_eq!(header(headers, "X-RateLimit-Remaining"), Some("0"));
    }

    #[test]
    fn an_edit_of_the_expiry_is_in_force_for_the_next_admit() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let expires = NOW + 10_000;
        state.handle(
            edit(KeyEdit {
                expires_at: Some(Some(expires)),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW,
        );
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires - 1);
        assert_eq!(grantee_of(&reply).expires_at, Some(expires));
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires);
        assert_eq!(refusal_of(&reply).0, &Refusal::Expired);
        // Clearing the expiry brings an expired key back.
        state.handle(
            edit(KeyEdit {
                expires_at: Some(None),
                ..KeyEdit::default()
            }),
            &policy(),
            expires + 1,
        );
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires + 2);
        assert_eq!(grantee_of(&reply).expires_at, None);
    }

    // --- activate -------------------------------------------------------------------

    #[test]
    fn activate_undoes_a_revoke_and_restores_admission() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(revoke(), &policy(), NOW + 1);
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 2);
        assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);

        let (reply, changed) = state.handle(activate(), &policy(), NOW + 3);
        let mut active = record.clone();
        active.version = record.version + 2;
        assert_eq!(key_of(&reply), &active);
        assert_eq!(changed, ADMIN);
        assert_eq!(state.record.as_ref(), Some(&active));
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 4);
        assert!(is_admitted(&reply), "{reply:?}");

        // Activating an active key changes nothing.
        let before = state.clone();
        let (reply, changed) = state.handle(activate(), &policy(), NOW + 5);
        assert_eq!(key_of(&reply), &active);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    // --- what the policy's [lifecycle] table turns off --------------------------------

    #[test]
    fn reactivation_is_declined_where_a_revoke_is_final() {
        for (name, policy, body) in [
            (
                "seed-002",
                seed_002(),
                r#"{"name": "Caller", "scopes": ["calls:read"]}"#,
            ),
            (
                "seed-003",
                seed_003(),
                r#"{"name": "Cases", "scopes": ["cases:read"]}"#,
            ),
        ] {
            let Fixture { record, hash } = fixture_under(&policy, body, 40);
            let mut state = created(&record, &hash);
            let (reply, changed) = state.handle(revoke(), &policy, NOW + 1);
            assert!(key_of(&reply).revoked_at.is_some(), "{name}");
            assert_eq!(changed, ADMIN, "{name}");
            let before = state.clone();
            let (reply, changed) = state.handle(activate(), &policy, NOW + 2);
            assert_eq!(
                reply,
                declined(Declined::NotAllowed {
                    action: LifecycleAction::Reactivate
                }),
                "{name}"
            );
            assert_eq!(changed, NOTHING, "{name}");
            assert_eq!(state, before, "{name}");
            let resource = &record.scopes[0][..record.scopes[0].find(':').unwrap()];
            let (reply, _) = state.handle(admit(&hash, resource, Action::Read), &policy, NOW + 3);
            assert_eq!(refusal_of(&reply).0, &Refusal::Revoked, "{name}");
        }
    }

    #[test]
    fn edits_are_declined_where_the_policy_turns_them_off() {
        for (name, policy, body) in [
            (
                "seed-001",
                seed_001(),
                r#"{"name": "Simple", "scopes": ["api:write"]}"#,
            ),
            (
                "seed-003",
                seed_003(),
                r#"{"name": "Cases", "scopes": ["cases:read"]}"#,
            ),
        ] {
            let Fixture { record, hash } = fixture_under(&policy, body, 41);
            let mut state = created(&record, &hash);
            let before = state.clone();
            for change in [
                KeyEdit {
                    name: Some("Renamed".into()),
                    ..KeyEdit::default()
                },
                // Even an edit that would change nothing is refused as an edit.
                KeyEdit::default(),
            ] {
                let (reply, changed) = state.handle(edit(change), &policy, NOW + 1);
                assert_eq!(
                    reply,
                    declined(Declined::NotAllowed {
                        action: LifecycleAction::Edit
                    }),
                    "{name}"
                );
                assert_eq!(changed, NOTHING, "{name}");
                assert_eq!(state, before, "{name}");
            }
        }
    }

    #[test]
    fn where_keys_are_only_created_and_deleted_nothing_else_changes_them() {
        let policy = seed_001();
        let Fixture { record, hash } = fixture_under(
            &policy,
            r#"{"name": "Simple", "scopes": ["api:write"]}"#,
            42,
        );
        let mut state = created(&record, &hash);
        let before = state.clone();
        let next = new_secret(42);
        for (command, action) in [
            (revoke(), LifecycleAction::Revoke),
            (activate(), LifecycleAction::Reactivate),
            (rotate(&next, 0), LifecycleAction::Rotate),
        ] {
            let (reply, changed) = state.handle(command, &policy, NOW + 1);
            assert_eq!(reply, declined(Declined::NotAllowed { action }));
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
        }
        // Rotation is off in seed-003 too.
        let seed_003 = seed_003();
        let (reply, _) = state.handle(rotate(&next, 0), &seed_003, NOW + 1);
        assert_eq!(
            reply,
            declined(Declined::NotAllowed {
                action: LifecycleAction::Rotate
            })
        );
        // Get and delete are always offered.
        let (reply, _) = state.handle(get(), &policy, NOW + 2);
        assert_eq!(key_of(&reply), &record);
        let (reply, changed) = state.handle(delete(), &policy, NOW + 3);
        assert!(matches!(reply, Reply::Deleted { .. }), "{reply:?}");
        assert!(changed.wiped);
    }

    // --- rotate ---------------------------------------------------------------------

    #[test]
    fn a_rotation_gives_a_new_secret_and_the_old_one_exactly_its_grace() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let next = new_secret(1);
        let grace = 90_000;
        let at = NOW + 1_000;
        let (reply, changed) = state.handle(rotate(&next, grace), &policy(), at);
        let mut rotated = record.clone();
        rotated.hint = next.hint.clone();
        rotated.version = record.version + 1;
        assert_ne!(rotated.hint, record.hint, "the hint shows the new secret");
        assert_eq!(
            reply,
            Reply::Rotated {
                record: rotated.clone(),
                last_used_at: None,
                usage: UsageTotals::default(),
                previous_valid_until: at + grace,
                retired: vec![RetiredSecret {
                    index_name: hash.index_name(),
                    valid_until: at + grace,
                }],
            }
        );
        assert_eq!(changed, ADMIN);
        assert_eq!(state.record.as_ref(), Some(&rotated));

        for t in [at, at + grace - 1] {
            for secret in [&next.hash, &hash] {
                let (reply, _) = state.handle(read_contacts(secret), &policy(), t);
                assert!(is_admitted(&reply), "{reply:?}");
            }
        }
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), at + grace);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
        let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), at + grace);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    #[test]
    fn a_rotation_with_no_grace_ends_the_old_secret_at_once() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let next = new_secret(2);
        let (reply, _) = state.handle(rotate(&next, 0), &policy(), NOW);
        let Reply::Rotated {
            previous_valid_until,
            retired,
            ..
        } = reply
        else {
            panic!("expected Rotated, got {reply:?}");
        };
        assert_eq!(previous_valid_until, NOW);
        assert_eq!(
            retired,
            [RetiredSecret {
                index_name: hash.index_name(),
                valid_until: NOW
            }]
        );
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
        let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW);
        assert!(is_admitted(&reply), "{reply:?}");
        // Only the new secret is kept.
        assert_eq!(state.secrets.len(), 1);
    }

    #[test]
    fn a_rotation_with_no_grace_ends_every_older_grace_too() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let (second, third) = (new_secret(3), new_secret(4));
        state.handle(rotate(&second, MS_PER_DAY), &policy(), NOW);
        // A compromised key: rotating again with no grace leaves only the newest secret.
        state.handle(rotate(&third, 0), &policy(), NOW + 1);
        for old in [&hash, &second.hash] {
            let (reply, _) = state.handle(read_contacts(old), &policy(), NOW + 1);
            assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
        }
        let (reply, _) = state.handle(read_contacts(&third.hash), &policy(), NOW + 1);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    #[test]
    fn the_grace_never_outlasts_the_keys_expiry() {
        let expires = NOW + 5_000;
        let body = format!(
            r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
            format_rfc3339(expires)
        );
        let Fixture { record, hash } = fixture(&body, 15);
        let mut state = created(&record, &hash);
        let next = new_secret(5);
        let (reply, _) = state.handle(rotate(&next, 60_000), &policy(), NOW);
        let Reply::Rotated {
            previous_valid_until,
            retired,
            ..
        } = reply
        else {
            panic!("expected Rotated, got {reply:?}");
        };
        assert_eq!(previous_valid_until, expires);
        assert_eq!(retired[0].valid_until, expires);
        assert_eq!(state.secrets[0].valid_until, Some(expires));
        // A grace that ends before the expiry is kept as asked.
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(rotate(&next, 4_000), &policy(), NOW);
        assert!(matches!(
            reply,
            Reply::Rotated { previous_valid_until, .. } if previous_valid_until == NOW + 4_000
        ));
    }

    #[test]
    fn no_more_than_max_live_secrets_work_at_once() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let mut issued = vec![hash];
        for round in 0..8u32 {
            // Far enough apart that the checks below never fill a minute.
            let at = NOW + u64::from(round) * 61_000;
            let live_before: Vec<IndexName> = state
                .secrets
                .iter()
                .filter(|s| s.is_live(at))
                .map(|s| s.hash.index_name())
                .collect();
            let next = new_secret(round + 10);
            let (reply, changed) = state.handle(rotate(&next, MS_PER_DAY), &policy(), at);
            assert_eq!(changed, ADMIN);
            let Reply::Rotated { retired, .. } = reply else {
                panic!("expected Rotated, got {reply:?}");
            };
            // Every secret that worked before is named, so its index entry can be dropped.
            let named: Vec<IndexName> = retired.iter().map(|r| r.index_name.clone()).collect();
            assert_eq!(named, live_before, "round {round}");
            if live_before.len() == MAX_LIVE_SECRETS {
                assert_eq!(retired[0].valid_until, at, "the oldest grace ends now");
            }
            assert_eq!(
                retired.last().map(|r| r.valid_until),
                Some(at + MS_PER_DAY),
                "the secret just replaced gets its full grace"
            );
            issued.push(next.hash);

            let working: Vec<usize> = (0..issued.len())
                .filter(|&i| is_admitted(&state.handle(read_contacts(&issued[i]), &policy(), at).0))
                .collect();
            let newest: Vec<usize> =
                (issued.len().saturating_sub(MAX_LIVE_SECRETS)..issued.len()).collect();
            assert_eq!(working, newest, "round {round}");
            assert!(
                state.secrets.len() <= MAX_LIVE_SECRETS,
                "storage stays bounded"
            );
        }
    }

    #[test]
    fn a_rotation_never_resets_a_quota_or_the_usage() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
            16,
        );
        let mut state = created(&record, &hash);
        for at in [NOW, NOW + 100] {
            assert!(is_admitted(
                &state.handle(read_contacts(&hash), &policy(), at).0
            ));
        }
        let counters = state.counters.clone();
        let history = state.history.clone();
        let next = new_secret(6);
        let (reply, changed) = state.handle(rotate(&next, 0), &policy(), NOW + 200);
        let Reply::Rotated {
            last_used_at,
            usage,
            ..
        } = reply
        else {
            panic!("expected Rotated, got {reply:?}");
        };
        assert_eq!(last_used_at, Some(NOW + 100));
        assert_eq!(usage.last_24h, 2);
        assert_eq!(changed, ADMIN);
        assert_eq!(state.counters, counters);
        assert_eq!(state.history, history);

        // The minute is still full for the new secret.
        let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW + 300);
        assert!(
            matches!(
                refusal_of(&reply).0,
                Refusal::Throttled {
                    window: Window::Minute,
                    ..
                }
            ),
            "{reply:?}"
        );
        let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW + 60_000);
        assert!(is_admitted(&reply), "{reply:?}");
        let (reply, _) = state.handle(get(), &policy(), NOW + 60_001);
        let Reply::Key {
            last_used_at,
            usage,
            ..
        } = reply
        else {
            panic!("expected a key, got {reply:?}");
        };
        assert_eq!(last_used_at, Some(NOW + 60_000));
        assert_eq!(usage.last_24h, 3);
    }

    #[test]
    fn only_an_active_key_can_be_rotated() {
        let expires = NOW + 5_000;
        let body = format!(
            r#"{{"name": "Temp", "scopes": ["contacts:read"], "expires_at": "{}"}}"#,
            format_rfc3339(expires)
        );
        let Fixture { record, hash } = fixture(&body, 17);
        let next = new_secret(7);

        let mut revoked = created(&record, &hash);
        revoked.handle(revoke(), &policy(), NOW);
        let mut expired = created(&record, &hash);
        for (mut state, at, status) in [
            (revoked, NOW + 1, Status::Revoked),
            (expired.clone(), expires, Status::Expired),
        ] {
            let before = state.clone();
            let (reply, changed) = state.handle(rotate(&next, 1_000), &policy(), at);
            assert_eq!(reply, declined(Declined::NotActive { status }));
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
            let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), at);
            assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
        }
        // One millisecond before its expiry the key is still active.
        let (reply, _) = expired.handle(rotate(&next, 1_000), &policy(), expires - 1);
        assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
    }

    // --- delete ---------------------------------------------------------------------

    #[test]
    fn delete_wipes_everything_and_names_every_index_entry() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(read_contacts(&hash), &policy(), NOW);
        let (second, third) = (new_secret(8), new_secret(9));
        state.handle(rotate(&second, MS_PER_DAY), &policy(), NOW + 1);
        state.handle(rotate(&third, MS_PER_DAY), &policy(), NOW + 2);
        state.handle(read_contacts(&third.hash), &policy(), NOW + HOUR_MS);
        assert!(!state.history.eq(&UsageHistory::default()));

        let (reply, changed) = state.handle(delete(), &policy(), NOW + HOUR_MS + 1);
        let Reply::Deleted { id, index_names } = reply else {
            panic!("expected Deleted, got {reply:?}");
        };
        assert_eq!(id, record.id);
        for live in [&hash, &second.hash, &third.hash] {
            assert!(
                index_names.contains(&live.index_name()),
                "{index_names:?} misses a live secret"
            );
        }
        assert_eq!(
            changed,
            Changed {
                wiped: true,
                directory: DirectorySync::Now,
                ..NOTHING
            }
        );
        assert_eq!(state, KeyState::default());

        // The id now answers like one that never existed.
        for secret in [&hash, &second.hash, &third.hash] {
            let (reply, changed) =
                state.handle(read_contacts(secret), &policy(), NOW + HOUR_MS + 2);
            assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
            assert_eq!(changed, NOTHING);
        }
        for command in lifecycle_commands(&Actor::Root) {
            assert_eq!(
                state.handle(command, &policy(), NOW + HOUR_MS + 3),
                (declined(Declined::NotFound), NOTHING)
            );
        }
        assert_eq!(state, KeyState::default());
    }

    #[test]
    fn a_revoked_or_expired_key_can_be_deleted() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        state.handle(revoke(), &policy(), NOW);
        let (reply, changed) = state.handle(delete(), &policy(), NOW + 1);
        assert_eq!(
            reply,
            Reply::Deleted {
                id: record.id.clone(),
                index_names: vec![hash.index_name()]
            }
        );
        assert!(changed.wiped);
        let mut expiring = record.clone();
        expiring.expires_at = Some(NOW + 1);
        let mut state = created(&expiring, &hash);
        let (reply, _) = state.handle(delete(), &policy(), NOW + 2);
        assert!(matches!(reply, Reply::Deleted { .. }), "{reply:?}");
        assert_eq!(state, KeyState::default());
    }

    // --- who asks: keys acting on keys ------------------------------------------------

    /// A key in workspace `acme` for the actor tests.
    /// A key of workspace `acme` that the [`key_actor`] created.
    fn acme_key(scopes: &str, seed: u8) -> Fixture {
        let mut made = fixture(
            &format!(
                r#"{{"name": "Acme", "scopes": {scopes}, "workspace": "acme", "limits": {{"per_minute": 10, "per_day": 1000}}}}"#
            ),
            seed,
        );
        made.record.created_by = Some(Principal::Key {
            key_id: manager_id(),
        });
        made
    }

    #[test]
    fn a_key_from_another_workspace_finds_nothing_and_changes_nothing() {
        let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 50);
        let outsider = key_actor("other", &["admin"], limits(1_000, 100_000));
        for revoked_first in [false, true] {
            let mut state = created(&record, &hash);
            if revoked_first {
                state.handle(revoke(), &policy(), NOW);
            }
            let before = state.clone();
            for command in lifecycle_commands(&outsider) {
                let label = format!("{command:?}");
                // Even where the policy turns the operation off, the answer is the same.
                for policy in [policy(), seed_001()] {
                    let (reply, changed) = state.handle(command.clone(), &policy, NOW + 5);
                    assert_eq!(reply, declined(Declined::NotFound), "{label}");
                    assert_eq!(changed, NOTHING, "{label}");
                    assert_eq!(state, before, "{label}");
                }
            }
        }
        // A key of the same workspace does find it.
        let insider = key_actor("acme", &["api_keys:read"], limits(10, 1000));
        let mut state = created(&record, &hash);
        let (reply, _) = state.handle(Command::Get { actor: insider }, &policy(), NOW);
        assert_eq!(key_of(&reply), &record);
    }

    #[test]
    fn an_actor_cannot_edit_scopes_beyond_its_own() {
        let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 51);
        let actor = key_actor(
            "acme",
            &["api_keys:write", "contacts:write", "tags:read"],
            limits(60, 10_000),
        );
        let mut state = created(&record, &hash);
        let before = state.clone();
        let beyond = KeyEdit {
            scopes: Some(vec![
                "contacts:read".into(),
                "email:send".into(),
                "tags:write".into(),
            ]),
            ..KeyEdit::default()
        };
        let (reply, changed) = state.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: actor.clone(),
                edit: beyond,
            },
            &policy(),
            NOW,
        );
        assert_eq!(
            reply,
            declined(Declined::Overreach(Overreach::Scopes {
                scopes: vec!["email:send".into(), "tags:write".into()]
            }))
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);

        let within = KeyEdit {
            scopes: Some(vec!["contacts:write".into(), "tags:read".into()]),
            ..KeyEdit::default()
        };
        let (reply, changed) = state.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor,
                edit: within,
            },
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).scopes, ["contacts:write", "tags:read"]);
        assert_eq!(changed, ADMIN);
    }

    #[test]
    fn an_actor_cannot_raise_limits_above_its_own() {
        let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 52);
        let actor = key_actor(
            "acme",
            &["api_keys:write", "contacts:read"],
            limits(60, 10_000),
        );
        let mut state = created(&record, &hash);
        let before = state.clone();
        for (asked, overreach) in [
            (
                Some(limits(61, 100)),
                Overreach::Limit {
                    window: Window::Minute,
                    own: 60,
                },
            ),
            (
                Some(limits(10, 10_001)),
                Overreach::Limit {
                    window: Window::Day,
                    own: 10_000,
                },
            ),
            // Back to the policy's defaults (120 a minute) is more than the actor's 60.
            (
                None,
                Overreach::Limit {
                    window: Window::Minute,
                    own: 60,
                },
            ),
        ] {
            let (reply, changed) = state.handle(
                Command::Edit {
                    webhook_secret: fresh_webhook_secret(),
                    actor: actor.clone(),
                    edit: KeyEdit {
                        limits: Some(match asked {
                            Some(wanted) => LimitsEdit::Set {
                                per_minute: Some(u64::from(wanted.per_minute.get())),
                                per_day: Some(u64::from(wanted.per_day.get())),
                            },
                            None => LimitsEdit::PolicyDefaults,
                        }),
                        ..KeyEdit::default()
                    },
                },
                &policy(),
                NOW,
            );
            assert_eq!(reply, declined(Declined::Overreach(overreach)), "{asked:?}");
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
        }
        let (reply, changed) = state.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor,
                edit: KeyEdit {
                    limits: Some(LimitsEdit::Set {
                        per_minute: Some(60),
                        per_day: Some(10_000),
                    }),
                    ..KeyEdit::default()
                },
            },
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).limits, Some(limits(60, 10_000)));
        assert_eq!(changed, ADMIN);
    }

    #[test]
    fn an_expiring_actor_cannot_lift_an_expiry() {
        let Fixture { mut record, hash } = acme_key(r#"["contacts:read"]"#, 53);
        record.expires_at = Some(NOW + 1_000);
        let Actor::Key { mut grantee } = key_actor(
            "acme",
            &["api_keys:write", "contacts:read"],
            limits(60, 10_000),
        ) else {
            unreachable!()
        };
        grantee.expires_at = Some(NOW + 5_000);
        let actor = Actor::Key { grantee };
        let mut state = created(&record, &hash);
        let before = state.clone();
        let (reply, changed) = state.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor,
                edit: KeyEdit {
                    expires_at: Some(None),
                    ..KeyEdit::default()
                },
            },
            &policy(),
            NOW,
        );
        assert_eq!(
            reply,
            declined(Declined::Overreach(Overreach::Expiry { own: NOW + 5_000 }))
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    #[test]
    fn a_key_holding_more_than_the_actor_cannot_be_rotated_or_reactivated_by_it() {
        let Fixture { record, hash } = acme_key(r#"["contacts:delete", "email:send"]"#, 54);
        let actor = key_actor(
            "acme",
            &["api_keys:delete", "contacts:read"],
            limits(60, 10_000),
        );
        let overreach = declined(Declined::Overreach(Overreach::Scopes {
            scopes: vec!["contacts:delete".into(), "email:send".into()],
        }));
        let next = new_secret(54);

        let mut state = created(&record, &hash);
        let before = state.clone();
        let (reply, changed) = state.handle(
            Command::Rotate {
                actor: actor.clone(),
                secret: next.hash.clone(),
                hint: next.hint.clone(),
                grace_ms: 0,
            },
            &policy(),
            NOW,
        );
        assert_eq!(reply, overreach);
        assert_eq!(changed, NOTHING);
        assert_eq!(
            state, before,
            "the old secret still works, the new one does not"
        );

        // Its own revocation, so only the grants stand in the way of undoing it.
        let revoke_as_actor = Command::Revoke {
            actor: actor.clone(),
        };
        state.handle(revoke_as_actor, &policy(), NOW + 1);
        let before = state.clone();
        let (reply, changed) = state.handle(Command::Activate { actor }, &policy(), NOW + 2);
        assert_eq!(reply, overreach);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
    }

    #[test]
    fn a_weaker_key_may_revoke_and_delete_a_stronger_one_in_its_workspace() {
        let Fixture { record, hash } = acme_key(r#"["admin"]"#, 55);
        let actor = key_actor("acme", &["api_keys:delete"], limits(1, 1));
        let mut state = created(&record, &hash);
        let (reply, changed) = state.handle(
            Command::Revoke {
                actor: actor.clone(),
            },
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).revoked_at, Some(NOW));
        assert_eq!(changed, ADMIN);
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 1);
        assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
        let (reply, changed) = state.handle(Command::Delete { actor }, &policy(), NOW + 2);
        assert!(matches!(reply, Reply::Deleted { .. }), "{reply:?}");
        assert!(changed.wiped);
    }

    #[test]
    fn within_its_own_grants_an_actor_may_edit_rotate_and_reactivate() {
        let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 56);
        let actor = key_actor(
            "acme",
            &["api_keys:delete", "contacts:write"],
            limits(60, 10_000),
        );
        let mut state = created(&record, &hash);
        let next = new_secret(56);
        let (reply, changed) = state.handle(
            Command::Rotate {
                actor: actor.clone(),
                secret: next.hash.clone(),
                hint: next.hint.clone(),
                grace_ms: 0,
            },
            &policy(),
            NOW,
        );
        assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
        assert_eq!(changed, ADMIN);
        let revoke_as_actor = Command::Revoke {
            actor: actor.clone(),
        };
        state.handle(revoke_as_actor, &policy(), NOW + 1);
        let (reply, changed) = state.handle(
            Command::Activate {
                actor: actor.clone(),
            },
            &policy(),
            NOW + 2,
        );
        assert_eq!(key_of(&reply).revoked_at, None);
        assert_eq!(changed, ADMIN);
        let (reply, _) = state.handle(read_contacts(&next.hash), &policy(), NOW + 3);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    // --- usage and the directory ----------------------------------------------------

    #[test]
    fn usage_counts_admitted_requests_only() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 2, "per_day": 100}}"#,
            18,
        );
        let stranger = reader().hash;
        let mut state = created(&record, &hash);
        for (command, at) in [
            (read_contacts(&hash), NOW),
            (read_contacts(&hash), NOW + 1),
            // Throttled, refused for scope, unknown: none of these is usage.
            (read_contacts(&hash), NOW + 2),
            (admit(&hash, "contacts", Action::Write), NOW + 3),
            (read_contacts(&stranger), NOW + 4),
            (read_contacts(&hash), NOW + 2 * HOUR_MS),
        ] {
            state.handle(command, &policy(), at);
        }
        let usage_at = |state: &mut KeyState, at: u64| match state.handle(get(), &policy(), at).0 {
            Reply::Key { usage, .. } => usage,
            other => panic!("expected a key, got {other:?}"),
        };
        let all = UsageTotals {
            last_24h: 3,
            last_7d: 3,
            last_30d: 3,
        };
        assert_eq!(usage_at(&mut state, NOW + 2 * HOUR_MS), all);
        // Hour by hour: a day later only the request two hours in is within 24 hours.
        assert_eq!(
            usage_at(&mut state, NOW + 25 * HOUR_MS),
            UsageTotals { last_24h: 1, ..all }
        );
        assert_eq!(
            usage_at(&mut state, NOW + 31 * MS_PER_DAY),
            UsageTotals::default()
        );
    }

    #[test]
    fn the_usage_history_is_written_exactly_when_the_hour_rolls_over() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        let next_hour = (NOW / HOUR_MS + 1) * HOUR_MS;
        for (at, rolls_over) in [
            // The first hour opens; nothing has finished yet.
            (NOW, false),
            (NOW + 1, false),
            (next_hour - 1, false),
            (next_hour, true),
            (next_hour + 5, false),
            (next_hour + 3 * HOUR_MS, true),
        ] {
            let history = state.history.clone();
            let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
            assert!(is_admitted(&reply), "{reply:?}");
            assert_eq!(changed.history, rolls_over, "at {at}");
            // Never a changed history that is not written.
            assert!(changed.history || state.history == history, "at {at}");
        }
        assert_eq!(
            state.history,
            serde_json::from_value::<UsageHistory>(json!([
                {"hour": NOW / HOUR_MS, "count": 3},
                {"hour": NOW / HOUR_MS + 1, "count": 2},
            ]))
            .unwrap()
        );
        assert_eq!(
            state.counters.this_hour,
            Some(HourCount {
                hour: NOW / HOUR_MS + 4,
                count: 1
            })
        );
    }

    #[test]
    fn last_use_reaches_the_directory_at_first_admit_then_at_most_once_a_minute() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record, &hash);
        for (at, expected) in [
            (NOW, DirectorySync::Soon),
            (NOW + 1, DirectorySync::None),
            (NOW + LAST_USED_SYNC_MS - 1, DirectorySync::None),
            (NOW + LAST_USED_SYNC_MS, DirectorySync::Soon),
            (NOW + LAST_USED_SYNC_MS + 1, DirectorySync::None),
            (NOW + 200_000, DirectorySync::Soon),
        ] {
            let (reply, changed) = state.handle(read_contacts(&hash), &policy(), at);
            assert!(is_admitted(&reply), "{reply:?}");
            assert_eq!(changed.directory, expected, "at {at}");
        }
        // A refusal sends nothing, and does not move the clock.
        let (_, changed) = state.handle(
            admit(&hash, "contacts", Action::Write),
            &policy(),
            NOW + 300_000,
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state.last_used_synced_at, Some(NOW + 200_000));
        // After a restart (the sync time is in memory only) the next admit sends again.
        state.last_used_synced_at = None;
        let (_, changed) = state.handle(read_contacts(&hash), &policy(), NOW + 300_001);
        assert_eq!(changed.directory, DirectorySync::Soon);
    }

    #[test]
    fn every_admin_change_reaches_the_directory_now_and_reads_never() {
        let Fixture { record, hash } = reader();
        let mut state = KeyState::default();
        let rename = KeyEdit {
            name: Some("Renamed".into()),
            ..KeyEdit::default()
        };
        let next = new_secret(19);
        for (label, command, expected) in [
            ("create", create(&record, &hash), DirectorySync::Now),
            ("get", get(), DirectorySync::None),
            ("edit", edit(rename.clone()), DirectorySync::Now),
            ("same edit", edit(rename), DirectorySync::None),
            ("revoke", revoke(), DirectorySync::Now),
            ("revoke again", revoke(), DirectorySync::None),
            ("activate", activate(), DirectorySync::Now),
            ("activate again", activate(), DirectorySync::None),
            ("rotate", rotate(&next, 0), DirectorySync::Now),
            ("delete", delete(), DirectorySync::Now),
            ("delete again", delete(), DirectorySync::None),
        ] {
            let (_, changed) = state.handle(command, &policy(), NOW);
            assert_eq!(changed.directory, expected, "{label}");
            assert_eq!(
                changed.record,
                expected == DirectorySync::Now && label != "delete",
                "{label}"
            );
        }
    }

    // --- the public view ------------------------------------------------------------

    #[test]
    fn key_object_has_exactly_the_documented_fields_and_never_the_hash() {
        let body = format!(
            r#"{{"name": "Full", "scopes": ["contacts:read", "email:send"], "workspace": "acme",
                "expires_at": "{}", "limits": {{"per_minute": 10, "per_day": 1000}},
                "metadata": {{"team": "growth"}}, "rejection_webhook": "https://hooks.example.com/r",
                "environment": "test"}}"#,
            format_rfc3339(NOW + MS_PER_DAY)
        );
        let Fixture { record, hash } = fixture(&body, 10);
        let object = key_object(&record, Some(NOW + 1_000), &policy(), NOW + 2_000);

        let fields: BTreeSet<&str> = object
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let documented: BTreeSet<&str> = [
            "id",
            "name",
            "hint",
            "workspace",
            "scopes",
            "status",
            "environment",
            "created_at",
            "expires_at",
            "last_used_at",
            "limits",
            "metadata",
            "rejection_webhook",
            "revoked_at",
            "revoked_by",
            "created_by",
        ]
        .into_iter()
        .collect();
        assert_eq!(fields, documented);

        let text = serde_json::to_string(&object).unwrap();
        let hex = &hash.index_name()[3..];
        assert_eq!(hex.len(), 64);
        assert!(!text.contains(hex), "the hash leaked: {text}");
        assert!(!text.contains("key_hash"));
        assert!(!text.contains("secret"));

        assert_eq!(object["id"], json!(record.id.as_str()));
        assert_eq!(object["name"], "Full");
        assert_eq!(object["hint"], json!(record.hint));
        assert!(record.hint.starts_with("kg_test_…"));
        assert_eq!(object["workspace"], "acme");
        assert_eq!(object["scopes"], json!(["contacts:read", "email:send"]));
        assert_eq!(object["status"], "active");
        assert_eq!(object["environment"], "test");
        assert_eq!(object["created_at"], json!(format_rfc3339(NOW)));
        assert_eq!(
            object["expires_at"],
            json!(format_rfc3339(NOW + MS_PER_DAY))
        );
        assert_eq!(object["revoked_at"], Value::Null);
        assert_eq!(object["last_used_at"], json!(format_rfc3339(NOW + 1_000)));
        assert_eq!(object["limits"]["per_minute"], 10);
        assert_eq!(object["limits"]["per_day"], 1000);
        assert_eq!(object["limits"]["source"], "key");
        assert_eq!(object["metadata"], json!({"team": "growth"}));
        assert_eq!(object["rejection_webhook"], "https://hooks.example.com/r");
    }

    #[test]
    fn key_object_shows_status_and_policy_limits() {
        let Fixture { record, .. } = reader();
        let object = key_object(&record, None, &policy(), NOW);
        assert_eq!(object["status"], "active");
        assert_eq!(object["expires_at"], Value::Null);
        assert_eq!(object["last_used_at"], Value::Null);
        assert_eq!(object["rejection_webhook"], Value::Null);
        assert_eq!(object["metadata"], json!({}));
        assert_eq!(object["workspace"], "default");
        assert_eq!(object["environment"], "live");
        assert_eq!(
            object["limits"],
            json!({"per_minute": 120, "per_day": 50000, "source": "policy"})
        );

        let mut revoked = record.clone();
        revoked.revoked_at = Some(NOW + 1_000);
        let object = key_object(&revoked, None, &policy(), NOW + 2_000);
        assert_eq!(object["status"], "revoked");
        assert_eq!(object["revoked_at"], json!(format_rfc3339(NOW + 1_000)));

        let mut expiring = record;
        expiring.expires_at = Some(NOW + 1_000);
        assert_eq!(
            key_object(&expiring, None, &policy(), NOW + 1_000)["status"],
            "expired"
        );
        assert_eq!(
            key_object(&expiring, None, &policy(), NOW + 999)["status"],
            "active"
        );
    }

    // --- serde across the Durable Object boundary -------------------------------------

    fn round_trip_command(command: &Command) {
        let json = serde_json::to_value(command).unwrap();
        let back: Command = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
    }

    fn round_trip_reply(reply: &Reply) {
        let text = serde_json::to_string(reply).unwrap();
        let back: Reply = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, reply, "{text}");
    }

    /// An edit that sets every field.
    fn edit_of_every_field() -> KeyEdit {
        let mut metadata = Map::new();
        metadata.insert("big".into(), json!(u64::MAX));
        metadata.insert("f".into(), json!(0.1));
        metadata.insert("deep".into(), json!({"a": [null, true, "é\n"]}));
        KeyEdit {
            name: Some("Renamed".into()),
            scopes: Some(vec!["contacts:read".into(), "tags:write".into()]),
            limits: Some(LimitsEdit::Set {
                per_minute: Some(3),
                per_day: Some(30),
            }),
            expires_at: Some(Some(NOW + MS_PER_DAY)),
            metadata: Some(metadata),
            rejection_webhook: Some(Some("https://hooks.example.com/r?t=1".into())),
        }
    }

    #[test]
    fn commands_round_trip_through_json() {
        let body = format!(
            r#"{{"name": "Full", "scopes": ["contacts:read"], "expires_at": "{}",
                "limits": {{"per_minute": 10, "per_day": 1000}},
                "metadata": {{"n": 1.5, "big": 18446744073709551615, "neg": -3, "deep": {{"a": [null, true, "x"]}}}},
                "rejection_webhook": "https://hooks.example.com/r", "environment": "test"}}"#,
            format_rfc3339(NOW + MS_PER_DAY)
        );
        let Fixture { record, hash } = fixture(&body, 11);
        round_trip_command(&create(&record, &hash));
        for action in Action::ALL {
            round_trip_command(&admit(&hash, "contacts", action));
        }
        let acting = key_actor("acme", &["api_keys:write"], limits(60, 10_000));
        for actor in [Actor::Root, acting] {
            for command in lifecycle_commands(&actor) {
                round_trip_command(&command);
            }
            for change in [edit_of_every_field(), KeyEdit::default()] {
                round_trip_command(&Command::Edit {
                    webhook_secret: fresh_webhook_secret(),
                    actor: actor.clone(),
                    edit: change,
                });
            }
        }

        assert_eq!(
            serde_json::to_value(get()).unwrap(),
            json!({"op": "get", "actor": {"kind": "root"}})
        );
        // A created record survives the trip exactly, and so does its secret.
        let json = serde_json::to_string(&create(&record, &hash)).unwrap();
        let Command::Create {
            record: back,
            secret,
            ..
        } = serde_json::from_str(&json).unwrap()
        else {
            panic!("not a create: {json}");
        };
        assert_eq!(*back, record);
        assert!(secret.matches(&hash));
        let json = serde_json::to_string(&admit(&hash, "email", Action::Send)).unwrap();
        let Command::Admit {
            key_hash,
            resource,
            action,
            queueing: None,
        } = serde_json::from_str(&json).unwrap()
        else {
            panic!("not an admit: {json}");
        };
        assert!(key_hash.matches(&hash));
        assert_eq!((resource.as_str(), action), ("email", Action::Send));
        // A rotation's new secret, hint and grace survive too.
        let next = new_secret(11);
        let json = serde_json::to_string(&rotate(&next, 12_345)).unwrap();
        let Command::Rotate {
            actor,
            secret,
            hint,
            grace_ms,
        } = serde_json::from_str(&json).unwrap()
        else {
            panic!("not a rotate: {json}");
        };
        assert_eq!(actor, Actor::Root);
        assert!(secret.matches(&next.hash));
        assert_eq!((hint, grace_ms), (next.hint, 12_345));
    }

    #[test]
    fn a_key_edit_tells_absent_from_null_after_a_json_trip() {
        // Each clearable field absent, null, or set: every combination survives.
        let states = |set: Option<u64>| [None, Some(None), Some(set)];
        for limits_field in states(Some(7)) {
            for expires_at in states(Some(NOW + 1)) {
                for webhook in states(Some(9)) {
                    let change = KeyEdit {
                        limits: limits_field.map(|l| match l {
                            Some(n) => LimitsEdit::Set {
                                per_minute: Some(n),
                                per_day: None,
                            },
                            None => LimitsEdit::PolicyDefaults,
                        }),
                        expires_at,
                        rejection_webhook: webhook
                            .map(|w| w.map(|n| format!("https://hooks.example.com/{n}"))),
                        ..KeyEdit::default()
                    };
                    let text = serde_json::to_string(&change).unwrap();
                    let back: KeyEdit = serde_json::from_str(&text).unwrap();
                    assert_eq!(back, change, "{text}");
                    // And inside a whole command, as the Durable Object receives it.
                    let command = serde_json::to_string(&edit(change.clone())).unwrap();
                    let Command::Edit { edit: back, .. } = serde_json::from_str(&command).unwrap()
                    else {
                        panic!("not an edit: {command}");
                    };
                    assert_eq!(back, change, "{command}");
                }
            }
        }
        let clears = KeyEdit {
            limits: Some(LimitsEdit::PolicyDefaults),
            expires_at: Some(None),
            rejection_webhook: Some(None),
            ..KeyEdit::default()
        };
        assert_eq!(
            serde_json::to_value(&clears).unwrap(),
            json!({"limits": {"to": "policy_defaults"}, "expires_at": null, "rejection_webhook": null})
        );
        assert_eq!(serde_json::to_value(KeyEdit::default()).unwrap(), json!({}));
        let every = edit_of_every_field();
        let text = serde_json::to_string(&every).unwrap();
        assert_eq!(serde_json::from_str::<KeyEdit>(&text).unwrap(), every);
        // Clearing metadata is an empty object, not an absent field.
        let cleared = KeyEdit {
            metadata: Some(Map::new()),
            ..KeyEdit::default()
        };
        let text = serde_json::to_string(&cleared).unwrap();
        assert_eq!(serde_json::from_str::<KeyEdit>(&text).unwrap(), cleared);
    }

    #[test]
    fn replies_round_trip_through_json() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read", "contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10},
                "metadata": {"f": 0.1, "big": 18446744073709551615, "neg": -1, "s": "é\n", "a": [{"b": null}]}}"#,
            12,
        );
        let mut state = KeyState::default();
        let mut replies = vec![state.handle(create(&record, &hash), &policy(), NOW).0];
        let (second, third) = (new_secret(12), new_secret(13));
        for command in [
            read_contacts(&hash),
            read_contacts(&hash),
            admit(&hash, "contacts", Action::Write),
            admit(&hash, "contacts", Action::Delete),
            create(&record, &hash),
            get(),
            rotate(&second, 30_000),
            rotate(&third, 60_000),
            revoke(),
            read_contacts(&hash),
            rotate(&third, 0),
            activate(),
            delete(),
        ] {
            replies.push(state.handle(command, &policy(), NOW + 1).0);
        }
        replies.push(KeyState::default().handle(get(), &policy(), NOW).0);
        replies.push(
            KeyState::default()
                .handle(read_contacts(&hash), &policy(), NOW)
                .0,
        );
        let mut expiring = record.clone();
        expiring.expires_at = Some(NOW);
        replies.push(
            created(&expiring, &hash)
                .handle(read_contacts(&hash), &policy(), NOW)
                .0,
        );
        replies.push(Reply::Refused {
            refusal: Refusal::Throttled {
                window: Window::Day,
                retry_after_secs: 86_400,
            },
            limit_headers: vec![("Retry-After".into(), "1".into())],
        });
        let overreaches = [
            Overreach::Scopes {
                scopes: vec!["admin".into(), "contacts:delete".into()],
            },
            Overreach::Limit {
                window: Window::Day,
                own: 10,
            },
            Overreach::Expiry { own: NOW },
            Overreach::Environment,
            Overreach::Workspace { own: "acme".into() },
        ];
        let declines = LifecycleAction::ALL
            .map(|action| Declined::NotAllowed { action })
            .into_iter()
            .chain(
                [Status::Active, Status::Revoked, Status::Expired]
                    .map(|status| Declined::NotActive { status }),
            )
            .chain(overreaches.map(Declined::Overreach))
            .chain([Declined::NotFound]);
        replies.extend(declines.map(declined));

        let outcomes: BTreeSet<String> = replies
            .iter()
            .map(|r| serde_json::to_value(r).unwrap()["outcome"].to_string())
            .collect();
        assert_eq!(outcomes.len(), 7, "every Reply variant is exercised");
        let reasons: BTreeSet<String> = replies
            .iter()
            .filter_map(|r| match r {
                Reply::Declined { declined } => {
                    Some(serde_json::to_value(declined).unwrap()["reason"].to_string())
                }
                _ => None,
            })
            .collect();
        assert_eq!(reasons.len(), 4, "every Declined variant is exercised");
        for reply in &replies {
            round_trip_reply(reply);
        }
        assert_eq!(
            serde_json::to_value(declined(Declined::NotAllowed {
                action: LifecycleAction::Reactivate
            }))
            .unwrap(),
            json!({"outcome": "declined", "declined": {"reason": "not_allowed", "action": "reactivate"}})
        );
    }

    #[test]
    fn metadata_numbers_survive_storage_exactly() {
        // Found by fuzzing: serde_json's default float parsing is not exact, so a number
        // in a key's metadata could change in its last digit each time the record was stored.
        let Fixture { mut record, .. } =
            fixture(r#"{"name": "Floats", "scopes": ["contacts:read"]}"#, 14);
        record.metadata = json!({"x": [8.88888888888889e43, 1.6666666666666665e53, 0.1]})
            .as_object()
            .cloned()
            .unwrap();
        let stored = serde_json::to_string(&record).unwrap();
        let read: KeyRecord = serde_json::from_str(&stored).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), stored);
        assert_eq!(read, record);
    }

    #[test]
    fn a_key_state_round_trips_through_its_stored_json() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Stored", "scopes": ["contacts:read"], "metadata": {"x": [1, 2.5, "y"]}}"#,
            13,
        );
        let mut state = created(&record, &hash);
        for i in 0..5 {
            state.handle(read_contacts(&hash), &policy(), NOW + i * 700);
        }
        state.handle(read_contacts(&hash), &policy(), NOW + 2 * HOUR_MS);
        let next = new_secret(13);
        state.handle(rotate(&next, MS_PER_DAY), &policy(), NOW + 2 * HOUR_MS);
        state.handle(revoke(), &policy(), NOW + 3 * HOUR_MS);
        assert_eq!(state.secrets.len(), 2);
        assert_ne!(state.history, UsageHistory::default());

        state.handle(
            edit(KeyEdit {
                rejection_webhook: Some(Some("https://hooks.example.com/r".into())),
                ..KeyEdit::default()
            }),
            &policy(),
            NOW + 3 * HOUR_MS,
        );
        assert!(!state.webhook_secrets.is_empty());

        // The five values the Durable Object stores, each as its own JSON.
        let record_json = serde_json::to_string(&state.record).unwrap();
        let secrets_json = serde_json::to_string(&state.secrets).unwrap();
        let webhook_secrets_json = serde_json::to_string(&state.webhook_secrets).unwrap();
        let counters_json = serde_json::to_string(&state.counters).unwrap();
        let history_json = serde_json::to_string(&state.history).unwrap();
        let restored = KeyState {
            record: serde_json::from_str(&record_json).unwrap(),
            secrets: serde_json::from_str(&secrets_json).unwrap(),
            webhook_secrets: serde_json::from_str(&webhook_secrets_json).unwrap(),
            counters: serde_json::from_str(&counters_json).unwrap(),
            history: serde_json::from_str(&history_json).unwrap(),
            last_used_synced_at: None,
        };
        assert_eq!(
            restored,
            KeyState {
                last_used_synced_at: None,
                ..state.clone()
            }
        );
        assert!(restored.secrets[0].hash.matches(&hash));
        assert!(restored.secrets[1].hash.matches(&next.hash));
        // Counters a fresh object never wrote deserialise to a full quota.
        assert_eq!(
            serde_json::from_str::<Counters>(r#"{"limiter": {}, "last_used_at": null}"#).unwrap(),
            Counters::default()
        );
    }

    // --- property: limits are exact, revocation is final until re-activated, rotation ----
    // --- moves the secret but never the quota, refusals change nothing -----------------

    #[derive(Clone, Debug)]
    enum Op {
        /// Admit with the key's current secret after `jump_ms`.
        Right {
            jump_ms: u64,
        },
        /// Admit with the secret the latest rotation replaced, after `jump_ms`.
        Previous {
            jump_ms: u64,
        },
        /// Admit with another key's hash after `jump_ms`.
        Wrong {
            jump_ms: u64,
        },
        Revoke {
            jump_ms: u64,
        },
        Activate {
            jump_ms: u64,
        },
        /// Rotate after `jump_ms`, giving the replaced secret `grace_ms`.
        Rotate {
            jump_ms: u64,
            grace_ms: u64,
        },
    }

    fn jump() -> impl Strategy<Value = u64> {
        prop_oneof![
            6 => Just(0u64),
            20 => 0u64..1_500,
            8 => 0u64..65_000,
            2 => 0u64..MS_PER_DAY,
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let grace = prop_oneof![Just(0u64), 0u64..5_000, 0u64..120_000];
        prop_oneof![
            40 => jump().prop_map(|jump_ms| Op::Right { jump_ms }),
            6 => jump().prop_map(|jump_ms| Op::Previous { jump_ms }),
            5 => jump().prop_map(|jump_ms| Op::Wrong { jump_ms }),
            1 => jump().prop_map(|jump_ms| Op::Revoke { jump_ms }),
            1 => jump().prop_map(|jump_ms| Op::Activate { jump_ms }),
            2 => (jump(), grace).prop_map(|(jump_ms, grace_ms)| Op::Rotate { jump_ms, grace_ms }),
        ]
    }

    /// Admits counted in the 60 s window ending at second `second`, and in the UTC day of `now`.
    fn in_windows(admitted: &[u64], now: u64) -> (u64, u64) {
        let second = now / 1_000;
        let in_minute = admitted
            .iter()
            .filter(|&&at| at / 1_000 + 60 > second && at / 1_000 <= second)
            .count() as u64;
        let in_day = admitted
            .iter()
            .filter(|&&at| at / MS_PER_DAY == now / MS_PER_DAY)
            .count() as u64;
        (in_minute, in_day)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn admits_never_exceed_either_window_and_stop_at_revoke(
            per_minute in 1u64..5,
            extra_per_day in 0u64..12,
            start_offset in 0u64..MS_PER_DAY,
            ops in proptest::collection::vec(op(), 1..120),
        ) {
            let per_day = per_minute + extra_per_day;
            let body = format!(
                r#"{{"name": "Prop", "scopes": ["contacts:read"], "limits": {{"per_minute": {per_minute}, "per_day": {per_day}}}}}"#
            );
            let Fixture { record, hash } = fixture(&body, 20);
            let wrong = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 21).hash;
            let policy = policy();
            // Start anywhere in a day, so windows straddle UTC midnight.
            let mut now = NOW / MS_PER_DAY * MS_PER_DAY + start_offset;
            let mut state = KeyState::default();
            state.handle(create(&record, &hash), &policy, now);

            // The model.
            let mut current = hash;
            let mut previous: Option<(KeyHash, u64)> = None;
            let mut rotations = 0u32;
            let mut revoked_at: Option<u64> = None;
            let mut admitted: Vec<u64> = Vec::new();
            let mut open_hour: Option<u64> = None;
            let mut synced_at: Option<u64> = None;
            for op in ops {
                let jump_ms = match op {
                    Op::Right { jump_ms }
                    | Op::Previous { jump_ms }
                    | Op::Wrong { jump_ms }
                    | Op::Revoke { jump_ms }
                    | Op::Activate { jump_ms }
                    | Op::Rotate { jump_ms, .. } => jump_ms,
                };
                now += jump_ms;
                let before = state.clone();
                match op {
                    Op::Revoke { .. } => {
                        let (reply, changed) = state.handle(revoke(), &policy, now);
                        // Idempotent: a second revoke keeps the first time and writes nothing.
                        prop_assert_eq!(changed, if revoked_at.is_some() { NOTHING } else { ADMIN });
                        let first = *revoked_at.get_or_insert(now);
                        prop_assert_eq!(key_of(&reply).revoked_at, Some(first));
                        prop_assert_eq!(&state.counters, &before.counters);
                    }
                    Op::Activate { .. } => {
                        let (reply, changed) = state.handle(activate(), &policy, now);
                        prop_assert_eq!(key_of(&reply).revoked_at, None);
                        prop_assert_eq!(changed, if revoked_at.is_some() { ADMIN } else { NOTHING });
                        prop_assert_eq!(&state.counters, &before.counters);
                        revoked_at = None;
                    }
                    Op::Rotate { grace_ms, .. } => {
                        rotations += 1;
                        let next = new_secret(rotations);
                        let (reply, changed) = state.handle(rotate(&next, grace_ms), &policy, now);
                        prop_assert_eq!(&state.counters, &before.counters, "a rotation moved the counters");
                        prop_assert_eq!(&state.history, &before.history);
                        if revoked_at.is_some() {
                            prop_assert_eq!(reply, declined(Declined::NotActive { status: Status::Revoked }));
                            prop_assert_eq!(changed, NOTHING);
                            prop_assert_eq!(&state, &before);
                        } else {
                            let Reply::Rotated { previous_valid_until, .. } = reply else {
                                return Err(TestCaseError::fail(format!("not rotated: {reply:?}")));
                            };
                            prop_assert_eq!(previous_valid_until, now + grace_ms);
                            prop_assert_eq!(changed, ADMIN);
                            previous = Some((std::mem::replace(&mut current, next.hash), now + grace_ms));
                        }
                    }
                    Op::Right { .. } | Op::Previous { .. } | Op::Wrong { .. } => {
                        let (presented, live) = match &op {
                            Op::Right { .. } => (current.clone(), true),
                            Op::Previous { .. } => match &previous {
                                Some((old, until)) => (old.clone(), now < *until),
                                None => continue,
                            },
                            _ => (wrong.clone(), false),
                        };
                        let (reply, changed) = state.handle(read_contacts(&presented), &policy, now);
                        match &reply {
                            Reply::Admitted { .. } => {
                                prop_assert!(live, "a dead secret admitted: {:?}", op);
                                prop_assert!(revoked_at.is_none(), "admitted after revoke");
                                let rolls_over = open_hour.is_some_and(|hour| now / HOUR_MS > hour);
                                let syncs = synced_at.is_none_or(|at| now >= at + LAST_USED_SYNC_MS);
                                prop_assert_eq!(changed, Changed {
                                    counters: true,
                                    history: rolls_over,
                                    directory: if syncs { DirectorySync::Soon } else { DirectorySync::None },
                                    ..NOTHING
                                });
                                open_hour = Some(now / HOUR_MS);
                                if syncs {
                                    synced_at = Some(now);
                                }
                                prop_assert_eq!(state.counters.last_used_at, Some(now));
                                prop_assert_eq!(&state.record, &before.record);
                                admitted.push(now);
                                // The reference: the admit just made fits both windows, checked naively.
                                let (in_minute, in_day) = in_windows(&admitted, now);
                                prop_assert!(in_minute <= per_minute, "{} admits in 60 s, limit {}", in_minute, per_minute);
                                prop_assert!(in_day <= per_day, "{} admits in a day, limit {}", in_day, per_day);
                            }
                            Reply::Refused { refusal, .. } => {
                                prop_assert_eq!(changed, NOTHING);
                                prop_assert_eq!(&state, &before, "a refusal changed the state");
                                let expected = if !live {
                                    matches!(refusal, Refusal::Unknown)
                                } else if revoked_at.is_some() {
                                    matches!(refusal, Refusal::Revoked)
                                } else {
                                    // Exact: a refusal of a live key means one window really was full.
                                    let (in_minute, in_day) = in_windows(&admitted, now);
                                    prop_assert!(
                                        in_minute >= per_minute || in_day >= per_day,
                                        "refused with room: {} in minute, {} in day", in_minute, in_day
                                    );
                                    matches!(refusal, Refusal::Throttled { .. })
                                };
                                prop_assert!(expected, "{:?} for {:?}", refusal, op);
                            }
                            _ => prop_assert!(false, "unexpected {:?} for {:?}", reply, op),
                        }
                    }
                }
                prop_assert!(state.secrets.len() <= MAX_LIVE_SECRETS);
            }

            // Every 60 s window (by second) and every UTC day, checked over the whole run.
            for &end in &admitted {
                let end_sec = end / 1_000;
                for last in [end_sec, end_sec + 59] {
                    let in_window = admitted
                        .iter()
                        .filter(|&&at| at / 1_000 <= last && at / 1_000 + 60 > last)
                        .count() as u64;
                    prop_assert!(in_window <= per_minute);
                }
                let same_day = admitted
                    .iter()
                    .filter(|&&at| at / MS_PER_DAY == end / MS_PER_DAY)
                    .count() as u64;
                prop_assert!(same_day <= per_day);
            }
            // Usage counts exactly the admitted requests, hour by hour.
            let (reply, _) = state.handle(get(), &policy, now);
            let Reply::Key { usage, last_used_at, .. } = reply else {
                return Err(TestCaseError::fail(format!("not a key: {reply:?}")));
            };
            let hour = now / HOUR_MS;
            let within = |hours: u64| admitted.iter().filter(|&&at| at / HOUR_MS + hours > hour).count() as u64;
            prop_assert_eq!(usage, UsageTotals { last_24h: within(24), last_7d: within(7 * 24), last_30d: within(30 * 24) });
            prop_assert_eq!(last_used_at, admitted.last().copied());
        }
    }

    // --- who may undo what: creators, revokers, the secret behind a queued request ----

    #[test]
    fn only_the_creator_or_the_root_token_edits_or_rotates_a_key() {
        // Made by the root token, within the manager's grants: still not the manager's.
        let Fixture { record, hash } = fixture(
            r#"{"name": "Peer", "scopes": ["contacts:read"], "workspace": "acme", "limits": {"per_minute": 10, "per_day": 1000}}"#,
            60,
        );
        let manager = key_actor(
            "acme",
            &["api_keys:write", "contacts:write"],
            limits(60, 10_000),
        );
        let next = new_secret(60);
        let mut state = created(&record, &hash);
        let before = state.clone();
        for command in [
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: manager.clone(),
                edit: KeyEdit {
                    scopes: Some(vec!["contacts:read".into()]),
                    ..KeyEdit::default()
                },
            },
            Command::Rotate {
                actor: manager.clone(),
                secret: next.hash.clone(),
                hint: next.hint.clone(),
                grace_ms: 0,
            },
        ] {
            let (reply, changed) = state.handle(command, &policy(), NOW);
            assert_eq!(reply, declined(Declined::Stronger(Stronger::NotCreator)));
            assert_eq!(changed, NOTHING);
            assert_eq!(state, before);
        }
        // The root token may; so may the creator.
        let (reply, _) = state.handle(rotate(&next, 0), &policy(), NOW);
        assert!(matches!(reply, Reply::Rotated { .. }), "{reply:?}");
        let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 61);
        let mut own = created(&record, &hash);
        let (reply, _) = own.handle(
            Command::Edit {
                webhook_secret: fresh_webhook_secret(),
                actor: manager,
                edit: KeyEdit {
                    name: Some("Renamed".into()),
                    ..KeyEdit::default()
                },
            },
            &policy(),
            NOW,
        );
        assert_eq!(key_of(&reply).name, "Renamed");
    }

    #[test]
    fn a_revocation_records_its_revoker_and_only_an_equal_undoes_it() {
        let Fixture { record, hash } = acme_key(r#"["contacts:read"]"#, 62);
        let manager = key_actor(
            "acme",
            &["api_keys:delete", "contacts:read"],
            limits(60, 10_000),
        );
        let mut state = created(&record, &hash);
        // The root token's revocation: the manager may not undo it.
        let (reply, _) = state.handle(revoke(), &policy(), NOW);
        assert_eq!(key_of(&reply).revoked_by, Some(Principal::Root));
        let before = state.clone();
        let undo = Command::Activate {
            actor: manager.clone(),
        };
        let (reply, changed) = state.handle(undo.clone(), &policy(), NOW + 1);
        assert_eq!(
            reply,
            declined(Declined::Stronger(Stronger::RevokedByOther))
        );
        assert_eq!((changed, &state), (NOTHING, &before));
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 2);
        assert_eq!(refusal_of(&reply).0, &Refusal::Revoked);
        // A revocation stored before revokers were recorded counts as the root token's.
        if let Some(record) = state.record.as_mut() {
            record.revoked_by = None;
        }
        let (reply, _) = state.handle(undo.clone(), &policy(), NOW + 3);
        assert_eq!(
            reply,
            declined(Declined::Stronger(Stronger::RevokedByOther))
        );
        // The root token undoes it; then the manager's own revocation it may undo.
        let (reply, _) = state.handle(activate(), &policy(), NOW + 4);
        assert_eq!(key_of(&reply).revoked_by, None);
        let (reply, _) = state.handle(
            Command::Revoke {
                actor: manager.clone(),
            },
            &policy(),
            NOW + 5,
        );
        assert_eq!(key_of(&reply).revoked_by, Some(manager.principal()));
        let (reply, changed) = state.handle(undo, &policy(), NOW + 6);
        assert_eq!((key_of(&reply).revoked_at, changed), (None, ADMIN));
        let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + 7);
        assert!(is_admitted(&reply), "{reply:?}");
    }

    /// The serial an admit from the data plane reports for the secret `hash`.
    fn queued_serial(state: &mut KeyState, hash: &KeyHash, now: u64) -> u64 {
        let command = admit_queueable(hash, "contacts", Action::Write, None);
        match state.handle(command, &policy(), now).0 {
            Reply::Queued { secret, .. } => secret,
            other => panic!("not queued: {other:?}"),
        }
    }

    fn recheck_with(
        state: &mut KeyState,
        secret: Option<u64>,
        now: u64,
    ) -> Result<(), SubmitterFailure> {
        let command = Command::Recheck {
            resource: "contacts".into(),
            action: Action::Write,
            secret,
        };
        match state.handle(command, &policy(), now) {
            (Reply::Rechecked { standing }, _) => standing.map(|_| ()),
            (other, _) => panic!("not a recheck answer: {other:?}"),
        }
    }

    #[test]
    fn a_request_queued_by_a_secret_that_no_longer_works_is_not_approvable() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:write-approval"]}"#,
            63,
        );
        let mut state = created(&record, &hash);
        let first = queued_serial(&mut state, &hash, NOW);
        assert_eq!(recheck_with(&mut state, Some(first), NOW), Ok(()));
        // Rotated with a grace: the old secret, and what it queued, still work until it ends.
        let next = new_secret(64);
        state.handle(rotate(&next, 1_000), &policy(), NOW + 1);
        let second = queued_serial(&mut state, &next.hash, NOW + 2);
        assert_ne!(first, second);
        assert_eq!(recheck_with(&mut state, Some(first), NOW + 999), Ok(()));
        assert_eq!(
            recheck_with(&mut state, Some(first), NOW + 1_001),
            Err(SubmitterFailure::SecretRetired)
        );
        // Approvals stored before serials existed are checked as before.
        assert_eq!(recheck_with(&mut state, None, NOW + 1_001), Ok(()));
        // A revoke and a re-activation retire what every secret queued before.
        assert_eq!(recheck_with(&mut state, Some(second), NOW + 1_002), Ok(()));
        state.handle(revoke(), &policy(), NOW + 1_003);
        state.handle(activate(), &policy(), NOW + 1_004);
        assert_eq!(
            recheck_with(&mut state, Some(second), NOW + 1_005),
            Err(SubmitterFailure::SecretRetired)
        );
        // The secret itself works again, under a serial nothing was queued with.
        let third = queued_serial(&mut state, &next.hash, NOW + 1_006);
        assert!(third > second);
        assert_eq!(recheck_with(&mut state, Some(third), NOW + 1_007), Ok(()));
    }

    #[test]
    fn stored_records_and_secrets_from_before_load_with_unknown_creator_and_fresh_serials() {
        let Fixture { record, hash } = reader();
        let mut json = serde_json::to_value(&record).expect("serializes");
        if let Some(fields) = json.as_object_mut() {
            fields.remove("created_by");
            fields.remove("revoked_by");
        }
        let old: KeyRecord = serde_json::from_value(json).expect("an old record loads");
        assert_eq!((old.created_by, old.revoked_by), (None, None));

        let next = new_secret(65);
        let stored = json!([
            {"hash": hash, "valid_until": NOW + 10},
            {"hash": next.hash, "valid_until": null},
        ]);
        let mut secrets: Vec<Secret> = serde_json::from_value(stored).expect("old secrets load");
        assert!(secrets.iter().all(|s| s.serial == 0));
        number_secrets(&mut secrets);
        assert_eq!(secrets.iter().map(|s| s.serial).collect::<Vec<_>>(), [1, 2]);
        // Numbered once, they keep their serials.
        let numbered = secrets.clone();
        number_secrets(&mut secrets);
        assert_eq!(secrets, numbered);
    }
}
