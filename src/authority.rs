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
    pub environment: Environment,
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
    fn admit(
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
        match policy.decide(&record.scopes, &target) {
            Access::Allowed => {}
            Access::NeedsApproval => {
                // The scope that would allow it outright; the approval level is held already.
                let required_scope = format!("{}:{}", target.resource, target.action.as_str());
                return refuse(
                    Refusal::ApprovalRequired { required_scope },
                    peek_headers(&self.counters),
                );
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
                    environment: record.environment,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::parse_create;
    use crate::key::{hash_key, ApiKey, HashingSecret, KEY_ID_RANDOM_BYTES, KEY_RANDOM_BYTES};
    use crate::timestamp::{format_rfc3339, MS_PER_DAY};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// 2030-03-17T17:46:40Z: mid-day, so a test's first minute never crosses UTC midnight.
    const NOW: u64 = 1_900_000_000_000;

    fn policy() -> Policy {
        Policy::from_toml(include_str!("../policies/demo.toml")).expect("demo policy parses")
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
        let policy = policy();
        let new_key = parse_create(body.as_bytes(), &policy, NOW, true).expect("valid body");
        let key = ApiKey::generate("kg", new_key.environment, &[seed; KEY_RANDOM_BYTES]);
        let hash = hash_key(&secret(), &key);
        let id = KeyId::generate(&[seed; KEY_ID_RANDOM_BYTES]);
        let record = new_key.into_record(id, &key, hash.clone(), NOW);
        Fixture { record, hash }
    }

    fn reader() -> Fixture {
        fixture(
            r#"{"name": "Reporting script", "scopes": ["contacts:read"]}"#,
            1,
        )
    }

    /// A state holding `record`, created at `NOW`.
    fn created(record: &KeyRecord) -> KeyState {
        let mut state = KeyState::default();
        let (reply, _) = state.handle(create(record), &policy(), NOW);
        assert!(matches!(reply, Reply::Key { .. }), "{reply:?}");
        state
    }

    fn create(record: &KeyRecord) -> Command {
        Command::Create {
            record: Box::new(record.clone()),
        }
    }

    fn admit(hash: &KeyHash, resource: &str, action: Action) -> Command {
        Command::Admit {
            key_hash: hash.clone(),
            resource: resource.to_string(),
            action,
        }
    }

    fn read_contacts(hash: &KeyHash) -> Command {
        admit(hash, "contacts", Action::Read)
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

    const NOTHING: Changed = Changed {
        record: false,
        counters: false,
    };

    // --- create -----------------------------------------------------------------------

    #[test]
    fn create_on_empty_state_stores_record_and_fresh_counters() {
        let Fixture { record, .. } = reader();
        let mut state = KeyState::default();
        let (reply, changed) = state.handle(create(&record), &policy(), NOW);
        assert_eq!(
            reply,
            Reply::Key {
                record: record.clone(),
                last_used_at: None
            }
        );
        assert_eq!(
            changed,
            Changed {
                record: true,
                counters: true
            }
        );
        assert_eq!(state.record.as_ref(), Some(&record));
        assert_eq!(state.counters, Counters::default());
    }

    #[test]
    fn create_twice_is_already_exists_and_changes_nothing() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record);
        state.handle(read_contacts(&hash), &policy(), NOW);
        let before = state.clone();
        let other = fixture(r#"{"name": "Intruder", "scopes": ["admin"]}"#, 2).record;
        let (reply, changed) = state.handle(create(&other), &policy(), NOW + 1);
        assert_eq!(reply, Reply::AlreadyExists);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, before);
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
        let Fixture { record, .. } = reader();
        let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
        let mut state = created(&record);
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
        let Fixture { record, .. } = reader();
        let stranger = fixture(r#"{"name": "Other", "scopes": ["contacts:read"]}"#, 9).hash;
        let mut state = created(&record);
        state.handle(Command::Revoke, &policy(), NOW);
        let (reply, _) = state.handle(read_contacts(&stranger), &policy(), NOW + 1);
        assert_eq!(refusal_of(&reply).0, &Refusal::Unknown);
    }

    #[test]
    fn admit_on_a_revoked_key_is_revoked_without_limit_headers() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record);
        state.handle(Command::Revoke, &policy(), NOW + 10);
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
        let mut state = created(&record);

        let (reply, _) = state.handle(read_contacts(&hash), &policy(), expires - 1);
        assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
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
        let mut state = created(&record);
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
                    required_scope: format!("{resource}:{}", action.as_str())
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
    fn an_approval_level_asks_for_approval_and_is_not_counted() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Agent", "scopes": ["contacts:write-approval", "email:send-approval", "ai:use-approval"]}"#,
            4,
        );
        let mut state = created(&record);
        for (resource, action) in [
            ("contacts", Action::Write),
            ("email", Action::Send),
            ("ai", Action::Use),
        ] {
            let (reply, changed) = state.handle(admit(&hash, resource, action), &policy(), NOW);
            let (refusal, headers) = refusal_of(&reply);
            assert_eq!(
                refusal,
                &Refusal::ApprovalRequired {
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
        assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
    }

    // --- admit: allowed and throttled ------------------------------------------------

    #[test]
    fn an_allowed_request_names_the_grantee_and_is_counted() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Zapier", "scopes": ["contacts:write", "tags:read"], "workspace": "acme"}"#,
            5,
        );
        let mut state = created(&record);
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
            }
        );
        assert_limit_headers_present(&limit_headers);
        assert_eq!(header(&limit_headers, "X-RateLimit-Remaining"), Some("119"));
        assert_eq!(
            header(&limit_headers, "RateLimit-Policy"),
            Some(r#""minute";q=120;w=60, "day";q=50000;w=86400"#)
        );
        assert_eq!(
            changed,
            Changed {
                record: false,
                counters: true
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
    fn per_key_limits_replace_the_policy_defaults() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read"], "limits": {"per_minute": 3, "per_day": 7}}"#,
            6,
        );
        let mut state = created(&record);
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
        let mut state = created(&record);
        for at in [NOW, NOW + 500] {
            let (reply, _) = state.handle(read_contacts(&hash), &policy(), at);
            assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
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
        assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
    }

    #[test]
    fn a_throttled_day_waits_until_utc_midnight() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Daily", "scopes": ["contacts:read"], "limits": {"per_minute": 5, "per_day": 5}}"#,
            8,
        );
        let mut state = created(&record);
        for i in 0..5 {
            let (reply, _) = state.handle(read_contacts(&hash), &policy(), NOW + i * 120_000);
            assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
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
        assert!(matches!(reply, Reply::Admitted { .. }), "{reply:?}");
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
                required_scope: "contacts:write".into()
            }),
            GatewayError::InsufficientScope {
                required_scope: "contacts:write".into()
            }
        );
        assert_eq!(
            GatewayError::from(Refusal::ApprovalRequired {
                required_scope: "email:send".into()
            }),
            GatewayError::ApprovalQueueUnavailable {
                required_scope: "email:send".into()
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

    // --- revoke and get -------------------------------------------------------------

    #[test]
    fn revoke_sets_revoked_at_once_and_bumps_the_version() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record);
        state.handle(read_contacts(&hash), &policy(), NOW + 5);

        let (reply, changed) = state.handle(Command::Revoke, &policy(), NOW + 10);
        let mut revoked = record.clone();
        revoked.revoked_at = Some(NOW + 10);
        revoked.version = record.version + 1;
        assert_eq!(
            reply,
            Reply::Key {
                record: revoked.clone(),
                last_used_at: Some(NOW + 5)
            }
        );
        assert_eq!(
            changed,
            Changed {
                record: true,
                counters: false
            }
        );
        assert_eq!(state.record.as_ref(), Some(&revoked));

        let (reply, changed) = state.handle(Command::Revoke, &policy(), NOW + 20);
        assert_eq!(
            reply,
            Reply::Key {
                record: revoked.clone(),
                last_used_at: Some(NOW + 5)
            }
        );
        assert_eq!(changed, NOTHING);
        assert_eq!(state.record.as_ref(), Some(&revoked));
    }

    #[test]
    fn revoke_on_an_empty_state_is_not_found() {
        let mut state = KeyState::default();
        let (reply, changed) = state.handle(Command::Revoke, &policy(), NOW);
        assert_eq!(reply, Reply::NotFound);
        assert_eq!(changed, NOTHING);
        assert_eq!(state, KeyState::default());
    }

    #[test]
    fn get_returns_the_record_and_last_use() {
        let Fixture { record, hash } = reader();
        let mut state = created(&record);
        let (reply, changed) = state.handle(Command::Get, &policy(), NOW);
        assert_eq!(
            reply,
            Reply::Key {
                record: record.clone(),
                last_used_at: None
            }
        );
        assert_eq!(changed, NOTHING);
        state.handle(read_contacts(&hash), &policy(), NOW + 42);
        let (reply, changed) = state.handle(Command::Get, &policy(), NOW + 50);
        assert_eq!(
            reply,
            Reply::Key {
                record,
                last_used_at: Some(NOW + 42)
            }
        );
        assert_eq!(changed, NOTHING);
    }

    #[test]
    fn get_on_an_empty_state_is_not_found() {
        let mut state = KeyState::default();
        assert_eq!(
            state.handle(Command::Get, &policy(), NOW),
            (Reply::NotFound, NOTHING)
        );
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
        ]
        .into_iter()
        .collect();
        assert_eq!(fields, documented);

        let text = serde_json::to_string(&object).unwrap();
        let hex = &hash.index_name()[3..];
        assert_eq!(hex.len(), 64);
        assert!(!text.contains(hex), "the hash leaked: {text}");
        assert!(!text.contains("key_hash"));

        assert_eq!(object["id"], serde_json::json!(record.id.as_str()));
        assert_eq!(object["name"], "Full");
        assert_eq!(object["hint"], serde_json::json!(record.hint));
        assert!(record.hint.starts_with("kg_test_…"));
        assert_eq!(object["workspace"], "acme");
        assert_eq!(
            object["scopes"],
            serde_json::json!(["contacts:read", "email:send"])
        );
        assert_eq!(object["status"], "active");
        assert_eq!(object["environment"], "test");
        assert_eq!(object["created_at"], serde_json::json!(format_rfc3339(NOW)));
        assert_eq!(
            object["expires_at"],
            serde_json::json!(format_rfc3339(NOW + MS_PER_DAY))
        );
        assert_eq!(object["revoked_at"], Value::Null);
        assert_eq!(
            object["last_used_at"],
            serde_json::json!(format_rfc3339(NOW + 1_000))
        );
        assert_eq!(object["limits"]["per_minute"], 10);
        assert_eq!(object["limits"]["per_day"], 1000);
        assert_eq!(object["limits"]["source"], "key");
        assert_eq!(object["metadata"], serde_json::json!({"team": "growth"}));
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
        assert_eq!(object["metadata"], serde_json::json!({}));
        assert_eq!(object["workspace"], "default");
        assert_eq!(object["environment"], "live");
        assert_eq!(
            object["limits"],
            serde_json::json!({"per_minute": 120, "per_day": 50000, "source": "policy"})
        );

        let mut revoked = record.clone();
        revoked.revoked_at = Some(NOW + 1_000);
        let object = key_object(&revoked, None, &policy(), NOW + 2_000);
        assert_eq!(object["status"], "revoked");
        assert_eq!(
            object["revoked_at"],
            serde_json::json!(format_rfc3339(NOW + 1_000))
        );

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
        round_trip_command(&create(&record));
        for action in Action::ALL {
            round_trip_command(&admit(&hash, "contacts", action));
        }
        round_trip_command(&Command::Get);
        round_trip_command(&Command::Revoke);

        assert_eq!(
            serde_json::to_value(Command::Get).unwrap(),
            serde_json::json!({"op": "get"})
        );
        // A created record survives the trip exactly, hash included.
        let json = serde_json::to_string(&create(&record)).unwrap();
        let Command::Create { record: back } = serde_json::from_str(&json).unwrap() else {
            panic!("not a create: {json}");
        };
        assert_eq!(*back, record);
        assert!(back.key_hash.matches(&hash));
        let json = serde_json::to_string(&admit(&hash, "email", Action::Send)).unwrap();
        let Command::Admit {
            key_hash,
            resource,
            action,
        } = serde_json::from_str(&json).unwrap()
        else {
            panic!("not an admit: {json}");
        };
        assert!(key_hash.matches(&hash));
        assert_eq!((resource.as_str(), action), ("email", Action::Send));
    }

    #[test]
    fn replies_round_trip_through_json() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Small", "scopes": ["contacts:read", "contacts:write-approval"], "limits": {"per_minute": 1, "per_day": 10},
                "metadata": {"f": 0.1, "big": 18446744073709551615, "neg": -1, "s": "é\n", "a": [{"b": null}]}}"#,
            12,
        );
        let mut state = KeyState::default();
        let mut replies = vec![state.handle(create(&record), &policy(), NOW).0];
        for command in [
            read_contacts(&hash),
            read_contacts(&hash),
            admit(&hash, "contacts", Action::Write),
            admit(&hash, "contacts", Action::Delete),
            create(&record),
            Command::Get,
            Command::Revoke,
            read_contacts(&hash),
        ] {
            replies.push(state.handle(command, &policy(), NOW + 1).0);
        }
        replies.push(KeyState::default().handle(Command::Get, &policy(), NOW).0);
        replies.push(
            KeyState::default()
                .handle(read_contacts(&hash), &policy(), NOW)
                .0,
        );
        let mut expiring = record.clone();
        expiring.expires_at = Some(NOW);
        replies.push(
            created(&expiring)
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

        let outcomes: BTreeSet<String> = replies
            .iter()
            .map(|r| serde_json::to_value(r).unwrap()["outcome"].to_string())
            .collect();
        assert_eq!(outcomes.len(), 5, "every Reply variant is exercised");
        for reply in &replies {
            round_trip_reply(reply);
        }
    }

    #[test]
    fn a_key_state_round_trips_through_its_stored_json() {
        let Fixture { record, hash } = fixture(
            r#"{"name": "Stored", "scopes": ["contacts:read"], "metadata": {"x": [1, 2.5, "y"]}}"#,
            13,
        );
        let mut state = created(&record);
        for i in 0..5 {
            state.handle(read_contacts(&hash), &policy(), NOW + i * 700);
        }
        state.handle(Command::Revoke, &policy(), NOW + 9_000);

        let record_json = serde_json::to_string(&state.record).unwrap();
        let counters_json = serde_json::to_string(&state.counters).unwrap();
        let restored = KeyState {
            record: serde_json::from_str(&record_json).unwrap(),
            counters: serde_json::from_str(&counters_json).unwrap(),
        };
        assert_eq!(restored, state);
        assert!(restored.record.as_ref().unwrap().key_hash.matches(&hash));
        // Counters a fresh object never wrote deserialise to a full quota.
        assert_eq!(
            serde_json::from_str::<Counters>(r#"{"limiter": {}, "last_used_at": null}"#).unwrap(),
            Counters::default()
        );
    }

    // --- property: limits are exact, revocation is final, refusals change nothing ------

    #[derive(Clone, Debug)]
    enum Op {
        /// Admit with the key's own hash after `jump_ms`.
        Right { jump_ms: u64 },
        /// Admit with another key's hash after `jump_ms`.
        Wrong { jump_ms: u64 },
        /// Revoke after `jump_ms`.
        Revoke { jump_ms: u64 },
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
        prop_oneof![
            40 => jump().prop_map(|jump_ms| Op::Right { jump_ms }),
            5 => jump().prop_map(|jump_ms| Op::Wrong { jump_ms }),
            1 => jump().prop_map(|jump_ms| Op::Revoke { jump_ms }),
        ]
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
            state.handle(create(&record), &policy, now);

            let mut admitted: Vec<u64> = Vec::new();
            let mut revoked = false;
            for op in ops {
                let (jump_ms, command) = match &op {
                    Op::Right { jump_ms } => (*jump_ms, read_contacts(&hash)),
                    Op::Wrong { jump_ms } => (*jump_ms, read_contacts(&wrong)),
                    Op::Revoke { jump_ms } => (*jump_ms, Command::Revoke),
                };
                now += jump_ms;
                let counters_before = state.counters.clone();
                let record_before = state.record.clone();
                let (reply, changed) = state.handle(command, &policy, now);
                match (&op, &reply) {
                    (Op::Revoke { .. }, Reply::Key { record, .. }) => {
                        prop_assert!(record.revoked_at.is_some());
                        prop_assert_eq!(changed.record, !revoked);
                        prop_assert!(!changed.counters);
                        prop_assert_eq!(&state.counters, &counters_before);
                        revoked = true;
                    }
                    (Op::Right { .. }, Reply::Admitted { .. }) => {
                        prop_assert!(!revoked, "admitted after revoke");
                        prop_assert_eq!(changed, Changed { record: false, counters: true });
                        prop_assert_eq!(state.counters.last_used_at, Some(now));
                        prop_assert_eq!(&state.record, &record_before);
                        admitted.push(now);
                    }
                    (Op::Right { .. } | Op::Wrong { .. }, Reply::Refused { refusal, .. }) => {
                        prop_assert_eq!(changed, NOTHING);
                        prop_assert_eq!(&state.counters, &counters_before, "a refusal changed counters");
                        prop_assert_eq!(&state.record, &record_before);
                        let expected = match op {
                            Op::Wrong { .. } => matches!(refusal, Refusal::Unknown),
                            _ if revoked => matches!(refusal, Refusal::Revoked),
                            _ => matches!(refusal, Refusal::Throttled { .. }),
                        };
                        prop_assert!(expected, "{:?} after {:?}", refusal, op);
                    }
                    _ => prop_assert!(false, "unexpected {:?} for {:?}", reply, op),
                }
                if let Reply::Admitted { .. } = reply {
                    // The reference: the admit just made fits both windows, checked naively.
                    let second = now / 1_000;
                    let in_minute = admitted
                        .iter()
                        .filter(|&&at| at / 1_000 + 60 > second && at / 1_000 <= second)
                        .count() as u64;
                    let in_day = admitted
                        .iter()
                        .filter(|&&at| at / MS_PER_DAY == now / MS_PER_DAY)
                        .count() as u64;
                    prop_assert!(in_minute <= per_minute, "{} admits in 60 s, limit {}", in_minute, per_minute);
                    prop_assert!(in_day <= per_day, "{} admits in a day, limit {}", in_day, per_day);
                } else if let (Op::Right { .. }, false) = (&op, revoked) {
                    // Exact: a refusal of the live key means one window really was full.
                    let second = now / 1_000;
                    let in_minute = admitted
                        .iter()
                        .filter(|&&at| at / 1_000 + 60 > second)
                        .count() as u64;
                    let in_day = admitted
                        .iter()
                        .filter(|&&at| at / MS_PER_DAY == now / MS_PER_DAY)
                        .count() as u64;
                    prop_assert!(
                        in_minute >= per_minute || in_day >= per_day,
                        "refused with room: {} in minute, {} in day", in_minute, in_day
                    );
                }
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
        }
    }
}
