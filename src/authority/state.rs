//! The authority itself: everything one key's Durable Object holds, and the one step
//! ([`KeyState::handle`]) that answers each command.

use super::edit::{KeyEdit, LimitsEdit};
use super::protocol::{
    Changed, Command, DirectorySync, LimitHeaders, Queueing, Reply, RetiredSecret, WebhookSigners,
};
use super::refusal::{Declined, Refusal, SubmitterFailure};
use super::secrets::{Secret, MAX_LIVE_SECRETS};
use crate::delegation::Actor;
use crate::entitlement;
use crate::key::KeyHash;
use crate::lease::{self, Enforcement, LeaseAsk, NoLease, Tuning, Unused};
use crate::limits::{self, LimiterState};
use crate::policy::{Access, LifecycleAction, Policy, RouteTarget};
use crate::record::{Grantee, KeyRecord, Status};
use crate::usage::{self, HourCount, UsageHistory};
use crate::webhook::secret::{WebhookSecret, WebhookSecrets};
use crate::workspace::PlanAssignment;
use serde::{Deserialize, Serialize};

/// What an admit's caller can take instead of a plain admission.
#[derive(Clone, Copy, Default)]
struct Takes<'a> {
    /// A place in the approval queue, for a key holding only the approval level.
    queueing: Option<Queueing>,
    /// A lease, for a key in lease mode.
    lease: Option<&'a LeaseAsk>,
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
            Command::AdoptPlan { assignment } => self.adopt_plan(assignment),
            Command::Admit {
                key_hash,
                resource,
                action,
                queueing,
            } => Ok(self.admit(
                &key_hash,
                Some(RouteTarget { resource, action }),
                None,
                Takes {
                    queueing,
                    lease: None,
                },
                policy,
                now_ms,
            )),
            Command::Lease {
                key_hash,
                resource,
                action,
                queueing,
                ask,
            } => Ok(self.admit(
                &key_hash,
                Some(RouteTarget { resource, action }),
                None,
                Takes {
                    queueing,
                    lease: Some(&ask),
                },
                policy,
                now_ms,
            )),
            Command::HandBack { returned } => Ok(self.hand_back(&returned, now_ms)),
            Command::Identify { key_hash, offered } => {
                Ok(self.admit(&key_hash, None, offered, Takes::default(), policy, now_ms))
            }
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

    /// Keeps a newer plan assignment of the key's workspace. The directory, where it came
    /// from, gets the record's new version in the background (only the limits it shows in
    /// lists depend on it).
    pub fn adopt_plan(&mut self, assignment: PlanAssignment) -> Result<(Reply, Changed), Declined> {
        let record = self.record.as_mut().ok_or(Declined::NotFound)?;
        let newer = record.plan.is_superseded_by(&assignment);
        if newer {
            record.plan = assignment;
            record.version += 1;
        }
        let reply = Reply::PlanAdopted {
            assignment: record.plan.clone(),
        };
        let changed = Changed {
            record: newer,
            directory: match newer {
                true => DirectorySync::Soon,
                false => DirectorySync::None,
            },
            ..Changed::default()
        };
        Ok((reply, changed))
    }

    /// Status, then plan, then scope, then limits: a refused key learns nothing about its
    /// limits, a refused plan or scope is not counted, and a throttled request is not
    /// counted either. `offered` is a call the plan must offer whose grant is judged
    /// elsewhere (`target`'s is judged here).
    fn admit(
        &mut self,
        presented: &KeyHash,
        target: Option<RouteTarget>,
        offered: Option<RouteTarget>,
        takes: Takes<'_>,
        policy: &Policy,
        now_ms: u64,
    ) -> (Reply, Changed) {
        let Takes {
            queueing,
            lease: ask,
        } = takes;
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
        let Some((presented_serial, presented_until)) = self
            .secrets
            .iter()
            .find(|secret| secret.hash.matches(presented) && secret.is_live(now_ms))
            .map(|secret| (secret.serial, secret.valid_until))
        else {
            return refuse(Refusal::Unknown, Vec::new());
        };
        match record.status(now_ms) {
            Status::Active => {}
            Status::Revoked => return refuse(Refusal::Revoked, Vec::new()),
            Status::Expired => return refuse(Refusal::Expired, Vec::new()),
        }
        let plan = entitlement::key_plan(record, policy);
        let limits = entitlement::effective_limits(record.limits, plan, policy);
        let peek_headers =
            |counters: &Counters| headers_of(&limits::peek(&counters.limiter, &limits, now_ms));
        // The workspace's plan before the key's own scopes: what the plan does not offer,
        // no scope can give.
        if let Err(refusal) =
            entitlement::admits(plan, target.as_ref().or(offered.as_ref()), policy)
        {
            return refuse(Refusal::Plan(refusal), peek_headers(&self.counters));
        }
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
        // Lease mode lends leases for requests that go to the origin; a queued request is
        // counted exactly, like every request of a key in exact mode.
        let lease_mode = ask.is_some()
            && !queued
            && record.enforcement(policy.enforcement()) == Enforcement::Lease;
        if let Some(ask) = ask {
            unrecord_usage(&mut self.counters.this_hour, &ask.returned);
        }
        let counted = match ask {
            Some(ask) if lease_mode => {
                // No lease outlives the key, nor the secret presented (a rotation's grace).
                let not_after_ms = match (record.expires_at, presented_until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let granted = lease::grant(
                    &mut self.counters.limiter,
                    &limits,
                    policy.lease_time(),
                    ask,
                    not_after_ms,
                    now_ms,
                    &Tuning::DEFAULT,
                );
                match granted {
                    Ok(lease) => Ok((lease.count.get(), lease.quota, Some(lease.terms()))),
                    Err(NoLease::Throttled(throttled)) => Err(throttled),
                    Err(NoLease::KeyExpired) => return refuse(Refusal::Expired, Vec::new()),
                }
            }
            _ => {
                // A key in exact mode (or a queued request) still takes back what an
                // isolate's earlier leases did not use (the key's mode may have changed).
                if let Some(ask) = ask {
                    lease::take_back(&mut self.counters.limiter, &ask.returned, now_ms);
                }
                limits::check_and_count(&mut self.counters.limiter, &limits, now_ms)
                    .map(|quota| (1, quota, None))
            }
        };
        match counted {
            Ok((count, quota, lease)) => {
                self.counters.last_used_at = Some(now_ms);
                let history = usage::record_many(
                    &mut self.counters.this_hour,
                    &mut self.history,
                    now_ms,
                    u64::from(count),
                );
                let directory = match self.last_used_synced_at {
                    Some(at) if now_ms < at.saturating_add(LAST_USED_SYNC_MS) => {
                        DirectorySync::None
                    }
                    _ => {
                        self.last_used_synced_at = Some(now_ms);
                        DirectorySync::Soon
                    }
                };
                let mut grantee = record.grantee(limits);
                // The identity the origin is told, and what a managing key hands out: only
                // what the plan offers (a downgrade leaves the record's scopes as given).
                entitlement::keep_offered(&mut grantee.scopes, plan, policy);
                let limit_headers = headers_of(&quota);
                (
                    match (queued, lease) {
                        (true, _) => Reply::Queued {
                            grantee,
                            limit_headers,
                            secret: presented_serial,
                        },
                        (false, Some(lease)) => Reply::Leased {
                            grantee,
                            limit_headers,
                            lease,
                            lease_ms: policy.lease_time().ms(),
                        },
                        (false, None) => Reply::Admitted {
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
            // On a 429 the resets shown must not point earlier than Retry-After. What the
            // ask handed back was taken back all the same.
            Err(throttled) => (
                Reply::Refused {
                    refusal: Refusal::Throttled {
                        window: throttled.window,
                        retry_after_secs: throttled.retry_after_secs,
                    },
                    limit_headers: owned(limits::throttled_rate_limit_headers(&throttled)),
                },
                Changed {
                    counters: ask.is_some_and(|ask| !ask.returned.is_empty()),
                    ..Changed::default()
                },
            ),
        }
    }

    /// Takes back what an isolate's leases left unused ([`Command::HandBack`]).
    fn hand_back(&mut self, returned: &[Unused], now_ms: u64) -> (Reply, Changed) {
        lease::take_back(&mut self.counters.limiter, returned, now_ms);
        unrecord_usage(&mut self.counters.this_hour, returned);
        (
            Reply::HandedBack,
            Changed {
                counters: !returned.is_empty(),
                ..Changed::default()
            },
        )
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
        let plan = entitlement::key_plan(record, policy);
        if entitlement::admits(plan, Some(target), policy).is_err() {
            let plan = plan.map(|plan| plan.name().to_string()).unwrap_or_default();
            return Err(SubmitterFailure::PlanLost { plan });
        }
        match policy.decide(&record.scopes, target) {
            Access::Allowed | Access::NeedsApproval => {
                Ok(record.grantee(entitlement::key_limits(record, policy)))
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
        // Only what the edit changes must fit the plan: renaming a key that a downgrade
        // left with more than its plan offers is still a rename.
        let (sets_scopes, sets_limits) = (edit.scopes.is_some(), edit.limits.is_some());
        self.change_record(actor, policy, now_ms, |record| {
            edit.apply_to(record, policy)?;
            if resets_limits {
                actor.pin_limits(record, policy);
            }
            let scopes: &[String] = if sets_scopes { &record.scopes } else { &[] };
            let limits = record.limits.filter(|_| sets_limits);
            entitlement::fits(
                scopes,
                limits,
                entitlement::key_plan(record, policy),
                policy,
            )
            .map_err(Declined::Plan)
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

/// Early 0.1.0 builds stored a key's one secret hash inside its record. Returns that hash
/// from a stored record's JSON, so the Durable Object can adopt it as the key's current
/// secret; `None` for a record in today's form. Goes in 0.2.0, which reads only today's.
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

/// A lease's unused requests were never made: out of the usage hour they were counted in,
/// while it is the one being counted (as many as [`lease::take_back`] reads).
fn unrecord_usage(this_hour: &mut Option<HourCount>, returned: &[Unused]) {
    for unused in returned.iter().take(lease::MAX_RETURNED) {
        let at_ms = unused.second.saturating_mul(1_000);
        usage::unrecord(this_hour, at_ms, u64::from(unused.count));
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
