//! The per-key authority: what the key's Durable Object knows and decides, as pure code.
//!
//! Each key has one Durable Object. It is single-threaded and strongly consistent, so it
//! is the authority on the key's status, scopes and counts; Workers KV is only the index
//! from a key's hash to its id. A request is admitted by one call, [`KeyState::handle`]
//! with [`Command::Admit`], which checks the presented hash, the status and expiry, the
//! scope and both limit windows together — so a revoke or an edit is in force for the very
//! next request, and a limit can never be overshot by concurrent requests.

use crate::key::{Environment, KeyHash, KeyId};
use crate::limits::{self, LimiterState, Limits, Window};
use crate::policy::{Access, Action, Policy, RouteTarget};
use crate::problem::GatewayError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A key as its authority stores it. Holds the key's hash, so it is never rendered as is:
/// [`key_object`] is the public view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: KeyId,
    pub name: String,
    /// Prefix and last four characters of the secret, e.g. `kg_live_…a1B2`.
    pub hint: String,
    pub workspace: String,
    pub scopes: Vec<String>,
    pub environment: Environment,
    pub created_at: u64,
    pub expires_at: Option<u64>,
    pub revoked_at: Option<u64>,
    /// Per-key limits; `None` follows the policy's defaults, even when they change.
    pub limits: Option<Limits>,
    pub metadata: Map<String, Value>,
    pub rejection_webhook: Option<String>,
    pub key_hash: KeyHash,
    /// Bumped by every change, so caches can tell a stale copy.
    pub version: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Revoked,
    Expired,
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
}

/// What changes on every admitted request; stored apart from the record so the hot path
/// writes one small value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub limiter: LimiterState,
    pub last_used_at: Option<u64>,
}

/// Requests to a key's authority (the body of the Durable Object call).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Create {
        record: Box<KeyRecord>,
    },
    Admit {
        key_hash: KeyHash,
        resource: String,
        action: Action,
    },
    Get,
    Revoke,
}

/// Who a request is made by, once admitted: what the identity headers carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grantee {
    pub key_id: KeyId,
    pub key_name: String,
    pub workspace: String,
    pub scopes: Vec<String>,
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
    },
    ApprovalRequired {
        required_scope: String,
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
            Refusal::Scope { required_scope } => GatewayError::InsufficientScope { required_scope },
            Refusal::ApprovalRequired { required_scope } => {
                GatewayError::ApprovalQueueUnavailable { required_scope }
            }
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

/// Rate-limit headers as name/value pairs, ready for any response.
pub type LimitHeaders = Vec<(String, String)>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reply {
    Admitted {
        grantee: Grantee,
        limit_headers: LimitHeaders,
    },
    /// `limit_headers` is empty when the key itself was refused (no limit state to show).
    Refused {
        refusal: Refusal,
        limit_headers: LimitHeaders,
    },
    Key {
        record: KeyRecord,
        last_used_at: Option<u64>,
    },
    NotFound,
    AlreadyExists,
}

/// Which stored values a command changed, so the Durable Object writes only those.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    pub record: bool,
    pub counters: bool,
}

/// Everything one key's Durable Object holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyState {
    pub record: Option<KeyRecord>,
    pub counters: Counters,
}

impl KeyState {
    pub fn handle(&mut self, command: Command, policy: &Policy, now_ms: u64) -> (Reply, Changed) {
        match command {
            Command::Create { record } => self.create(*record),
            Command::Admit {
                key_hash,
                resource,
                action,
            } => self.admit(&key_hash, RouteTarget { resource, action }, policy, now_ms),
            Command::Get => match &self.record {
                Some(record) => (
                    Reply::Key {
                        record: record.clone(),
                        last_used_at: self.counters.last_used_at,
                    },
                    Changed::default(),
                ),
                None => (Reply::NotFound, Changed::default()),
            },
            Command::Revoke => self.revoke(now_ms),
        }
    }

    fn create(&mut self, record: KeyRecord) -> (Reply, Changed) {
        if self.record.is_some() {
            return (Reply::AlreadyExists, Changed::default());
        }
        self.record = Some(record.clone());
        self.counters = Counters::default();
        (
            Reply::Key {
                record,
                last_used_at: None,
            },
            Changed {
                record: true,
                counters: true,
            },
        )
    }

    /// Status, then scope, then limits: a refused key learns nothing about its limits, a
    /// refused scope is not counted, and a throttled request is not counted either.
    pub fn admit(
        &mut self,
        presented: &KeyHash,
        target: RouteTarget,
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
        // KV may still map an old hash to this id; the authority decides which hash is live.
        if !record.key_hash.matches(presented) {
            return refuse(Refusal::Unknown, Vec::new());
        }
        match record.status(now_ms) {
            Status::Active => {}
            Status::Revoked => return refuse(Refusal::Revoked, Vec::new()),
            Status::Expired => return refuse(Refusal::Expired, Vec::new()),
        }
        let limits = record.effective_limits(policy);
        let peek_headers =
            |counters: &Counters| headers_of(&limits::peek(&counters.limiter, &limits, now_ms));
        let required_scope = format!("{}:{}", target.resource, target.action.as_str());
        match policy.decide(&record.scopes, &target) {
            Access::Allowed => {}
            Access::NeedsApproval => {
                return refuse(
                    Refusal::ApprovalRequired { required_scope },
                    peek_headers(&self.counters),
                )
            }
            Access::Denied { required_scope } => {
                return refuse(
                    Refusal::Scope { required_scope },
                    peek_headers(&self.counters),
                )
            }
        }
        match limits::check_and_count(&mut self.counters.limiter, &limits, now_ms) {
            Ok(quota) => {
                self.counters.last_used_at = Some(now_ms);
                let grantee = Grantee {
                    key_id: record.id.clone(),
                    key_name: record.name.clone(),
                    workspace: record.workspace.clone(),
                    scopes: record.scopes.clone(),
                };
                (
                    Reply::Admitted {
                        grantee,
                        limit_headers: headers_of(&quota),
                    },
                    Changed {
                        record: false,
                        counters: true,
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

    /// Idempotent: revoking a revoked key keeps the first revocation time.
    fn revoke(&mut self, now_ms: u64) -> (Reply, Changed) {
        let Some(record) = &mut self.record else {
            return (Reply::NotFound, Changed::default());
        };
        let changed = record.revoked_at.is_none();
        if changed {
            record.revoked_at = Some(now_ms);
            record.version = record.version.saturating_add(1);
        }
        (
            Reply::Key {
                record: record.clone(),
                last_used_at: self.counters.last_used_at,
            },
            Changed {
                record: changed,
                counters: false,
            },
        )
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

/// The public view of a key: every field the admin API shows, and never the hash.
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
        "last_used_at": last_used_at.map(format_rfc3339),
        "limits": {
            "per_minute": limits.per_minute.get(),
            "per_day": limits.per_day.get(),
            "source": if record.limits.is_some() { "key" } else { "policy" },
        },
        "metadata": record.metadata,
        "rejection_webhook": record.rejection_webhook,
    })
}
