//! The scope table: which resource and action a request needs, and whether a key's scopes allow it.
//!
//! An operator writes a policy file (TOML) that declares **resources**, each of a **kind**
//! that fixes its levels, and **routes** that map a method and path to a resource and an
//! action. [`Policy::from_toml`] validates the whole file once at load; after that,
//! [`Policy::route`] and [`Policy::decide`] are pure lookups that cannot fail.
//!
//! ```
//! use keygate::policy::{Access, Policy};
//!
//! let policy = Policy::from_toml(r#"
//!     [[resources]]
//!     name = "contacts"
//!     kind = "ladder"
//!
//!     [[routes]]
//!     method = "POST"
//!     path = "/v1/contacts"
//!     resource = "contacts"
//!     action = "write"
//! "#).unwrap();
//!
//! let target = policy.route("POST", "/v1/contacts").unwrap();
//! let agent = vec!["contacts:write-approval".to_string()];
//! assert_eq!(policy.decide(&agent, &target), Access::NeedsApproval);
//! assert_eq!(policy.route("POST", "/v1/contacts/"), None); // strict: unmapped, default deny
//! ```
//!
//! # Kinds and levels
//!
//! | kind | levels, low → high | actions |
//! |---|---|---|
//! | `ladder` | read < write-approval < write < delete-approval < delete | read, write, delete |
//! | `communication` | read < send-approval < send | read, send |
//! | `ai` | use-approval < use | use |
//! | `read_write` | read < write | read, write |
//! | `independent` | read, write (unordered: write does not imply read) | read, write |
//! | `read_only` | read | read |
//!
//! In an ordered kind a level includes every level below it. A key's grant on a resource is
//! the union of what all its scopes give there; scopes the policy does not know give nothing,
//! because a policy may change after a key was made.
//!
//! # Routes
//!
//! The **first** route in file order whose method and path match wins. A `GET` route also
//! matches `HEAD`; `*` matches any method. Paths are compared segment by segment: `{name}`
//! matches one non-empty segment, a final `*` matches zero or more remaining segments, and
//! a trailing slash is significant (`/contacts/` does not match `/contacts`).
//!
//! # Method overrides in bodies
//!
//! keygate refuses a `_method` field in the first 64 KiB of every body (see
//! [`crate::ambiguity::check_body`]). The top-level `origin_reads_body_overrides` says
//! whether the origin may act on such a field. It defaults to `true`, the safe assumption
//! (Rails, Laravel, Symfony, Sinatra and Express's method-override all do): a form,
//! multipart or JSON body keygate cannot read whole is refused. An operator whose origin
//! ignores `_method` in bodies sets `false` to have such bodies forwarded past the scan.
//!
//! # Key lifecycle
//!
//! Products disagree on what may happen to a key once it exists, so the optional
//! `[lifecycle]` table says which operations the admin API offers. Create, list, get and
//! delete are always offered; each field below defaults to `true`.
//!
//! | field | offers |
//! |---|---|
//! | `edit` | `PATCH` a key's name, scopes, limits, expiry, metadata and webhook |
//! | `revoke` | revoking a key: it answers 401 from the next request on |
//! | `reactivate` | undoing a revoke |
//! | `rotate` | a new secret for the same key, the old one valid for a grace period |
//!
//! Switching one off is a promise to the people holding keys: with `edit = false` a key's
//! grant is fixed for its life (to change it, create a new key and revoke the old one); with
//! `reactivate = false` a revoke is final, so a revoked key in the audit list stays dead.
//! `reactivate = true` with `revoke = false` is refused: there would be nothing to re-activate.
//! [`Policy::allows`] answers for one [`LifecycleAction`].
//!
//! # Approval queue
//!
//! A key holding exactly `<action>-approval` on a route's resource is queued for a human
//! ([`Access::NeedsApproval`]). The optional `[approvals]` table sets `max_body_bytes` (a
//! queued body's limit, 1 to 1 MiB, default 1 MiB), `expire_after_seconds` (how long an
//! approval waits, default 7 days), `webhook_retry_seconds` (how long a failed rejection
//! webhook is retried, default 1 day), the caps on what may wait at once
//! ([`crate::queue::QueueCaps`]): `max_pending_per_key` (1 to 10,000, default 100),
//! `max_pending_per_workspace` (1 to 100,000, default 1,000) and
//! `max_pending_bytes_per_workspace` (1 to 1 GiB, default 64 MiB), and `retain_decided_seconds` (how long a decided, failed or expired
//! approval is kept before it is purged, 1 second to 365 days, default 30 days). Who may
//! review the queue is the `approvals` resource: `approvals:read` lists and shows,
//! `approvals:write` approves and rejects.
//!
//! # Plans
//!
//! What a workspace may do can depend on its subscription. `[[plans]]` declares each plan a
//! workspace can be on ([`Plan`]), and the top-level `default_plan` (required with plans,
//! refused without) the plan of every workspace never put on one, or put on a plan the
//! policy no longer declares ([`Policy::plan_for`]). A policy without plans checks nothing
//! of the sort.
//!
//! | field | meaning |
//! |---|---|
//! | `name` | 1 to 64 of `a-z`, `0-9`, `_`, `-`; unique |
//! | `api_access` | whether the plan's keys may call the API, and be created (default `true`) |
//! | `resources` | the declared resources the plan offers, each once; left out: all of them |
//! | `limits` | `per_minute`, `per_day` for keys on the plan that follow the defaults; a window left out is the policy's `[limits]` |
//! | `max_limits` | `per_minute`, `per_day`: the most any key of a workspace on the plan may be given; a window left out is not bounded |
//!
//! The limits take the ranges `[limits]` takes, and a plan's `limits` may not exceed its
//! `max_limits`. A scope on a resource the plan does not offer is listed by
//! [`Policy::scopes_not_in_plan`]; coarse scopes are not, their reach is cut at admission.
//!
//! # Default scopes and coarse-only policies
//!
//! `default_scopes = [...]` is what a key created without `scopes` gets: at least one scope,
//! each one the policy offers, once. `fine_scopes = false` (default `true`) offers only the
//! `coarse_scopes`, which it then needs: a resource-level scope such as `contacts:read` is
//! unknown, so refused at create and edit, and grants nothing to a key that holds it from
//! before.
//!
//! # Errors
//!
//! Validation collects **every** problem in the file, so an operator fixes them in one pass:
//! top-level settings (`fine_scopes` with them), then `limits`, `lifecycle`, `groups`,
//! `resources`, `routes`, `plans`, `default_plan` and `default_scopes`, each in file order. Each names its location, e.g. `routes[3].action`. TOML syntax errors
//! (and unknown or mistyped fields: every table denies unknown fields) stop at the first and
//! carry toml's line and column; a `[lifecycle]` value that is not a boolean is an ordinary
//! problem, e.g. `lifecycle.edit: must be true or false, got the string "no"`. A file that
//! nests tables, arrays and dotted keys deeper than 32 levels is refused before the TOML
//! parser reads it (toml's deserialiser recurses once per level).
//! `keygate policy check` ([`lint::check`]) reports every syntax error it can find, and what
//! loads but would not work as written (a route no request reaches); [`diff::diff`] says
//! what a new policy does to existing keys.
//!
//! # Where each form is read
//!
//! The Worker reads only the compiled form ([`Policy::from_compiled`]): the file's tables as
//! JSON, made at deploy time by `keygate policy compile` ([`compile`]) and validated again
//! on load by the same rules. The TOML reader, the checker and the diff (`from_toml`,
//! `lint`, `diff`, and `syntax.rs` and `region.rs` under them) are built only for the CLI
//! and the tests, which keeps a TOML parser out of the Worker.
//!
//! # Files
//!
//! `scope.rs` holds the model (kinds, levels, actions, what a scope grants), `routes.rs` the
//! route patterns and their matching, `settings.rs` the lifecycle and approval-queue
//! settings, `plans.rs` the plans and their validation, `file.rs` the file's shape as serde
//! reads it, `load.rs` its validation into a [`Policy`], `compiled.rs` the compiled form,
//! `errors.rs` what a refusal reports, `describe.rs` the JSON view; this file, [`Policy`]
//! and its lookups.

mod compiled;
mod describe;
#[cfg(not(target_arch = "wasm32"))]
pub mod diff;
mod errors;
mod file;
#[cfg(not(target_arch = "wasm32"))]
pub mod lint;
mod load;
mod plans;
#[cfg(not(target_arch = "wasm32"))]
mod region;
mod routes;
mod scope;
mod settings;
#[cfg(not(target_arch = "wasm32"))]
mod syntax;

#[cfg(not(target_arch = "wasm32"))]
pub use compiled::compile;
pub use errors::{PolicyError, PolicyProblem};
pub use plans::Plan;
pub use scope::{Access, Action, Kind, RouteTarget, UnknownScopes};
pub use settings::{ApprovalSettings, LifecycleAction, MAX_QUEUED_BODY_BYTES};

use crate::cors::CorsSettings;
use crate::lease::{Enforcement, LeaseTime};
use crate::limits::Limits;
use crate::portal::PortalSettings;
use routes::Route;
use scope::{CoarseScope, Group, LevelSet, Resource, ScopeGrant, Verdict};
use settings::Lifecycle;
use std::collections::BTreeMap;

/// A validated policy: the scope table in force.
#[derive(Clone, Debug)]
pub struct Policy {
    key_prefix: String,
    unmapped_route_status: u16,
    origin_reads_body_overrides: bool,
    limits: Limits,
    enforcement: Enforcement,
    lease_time: LeaseTime,
    lifecycle: Lifecycle,
    approvals: ApprovalSettings,
    credential_header: Option<String>,
    cors: Option<CorsSettings>,
    problem_type_base: Option<String>,
    portal: PortalSettings,
    coarse_scopes: Vec<CoarseScope>,
    groups: Vec<Group>,
    resources: Vec<Resource>,
    resource_index: BTreeMap<String, usize>,
    routes: Vec<Route>,
    scope_grants: BTreeMap<String, ScopeGrant>,
    valid_scopes: Vec<String>,
    fine_scopes: bool,
    default_scopes: Vec<String>,
    plans: Vec<Plan>,
    /// An index into `plans`; `None` exactly when there are no plans.
    default_plan: Option<usize>,
}

impl Policy {
    /// The prefix of every key this deployment issues, e.g. `kg`.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The limits a key gets when it is created without its own.
    pub fn default_limits(&self) -> Limits {
        self.limits
    }

    /// How keys without an enforcement of their own have their limits enforced.
    pub fn enforcement(&self) -> Enforcement {
        self.enforcement
    }

    /// How long a lease lasts, for keys in lease mode (`[limits] lease_seconds`).
    pub fn lease_time(&self) -> LeaseTime {
        self.lease_time
    }

    /// Whether this deployment offers `action` on keys (the `[lifecycle]` table).
    pub fn allows(&self, action: LifecycleAction) -> bool {
        self.lifecycle.allows(action)
    }

    /// The approval queue's settings (the `[approvals]` table).
    pub fn approvals(&self) -> ApprovalSettings {
        self.approvals
    }

    /// Whether the origin acts on a `_method` field in a body (Rails, Laravel, Symfony with
    /// overrides on): then a form, multipart or JSON body longer than keygate scans is
    /// refused rather than forwarded unchecked.
    pub fn origin_reads_body_overrides(&self) -> bool {
        self.origin_reads_body_overrides
    }

    /// The one header besides `Authorization` that may carry a key (`[credentials]
    /// header`), as written; `None` unless the policy names one.
    pub fn credential_header(&self) -> Option<&str> {
        self.credential_header.as_deref()
    }

    /// Cross-origin requests from browsers (the `[cors]` table); `None`: CORS is off.
    pub fn cors(&self) -> Option<&CorsSettings> {
        self.cors.as_ref()
    }

    /// The base a data-plane problem's `type` is this plus its `code` under (`[problems]
    /// type_base`); `None` keeps `urn:keygate:problem:<code>`.
    pub fn problem_type_base(&self) -> Option<&str> {
        self.problem_type_base.as_deref()
    }

    /// The portal page's branding and who may frame it (the `[portal]` table, or its
    /// defaults).
    pub fn portal(&self) -> &PortalSettings {
        &self.portal
    }

    /// The status for a request no route matches: 404 or 403.
    pub fn unmapped_route_status(&self) -> u16 {
        self.unmapped_route_status
    }

    /// The target of the first route, in file order, that matches `method` and `path`
    /// (`path` without the query string). `None` means unmapped: deny.
    ///
    /// Security: an ambiguous path ([`crate::ambiguity::path_ambiguity`]: dot segments,
    /// encoded separators, `;` parameters, `//`, ...) never matches. An origin that
    /// normalises or decodes it could resolve it to a different resource than the one we
    /// authorised. (The gateway refuses such paths with a 400 before routing; this is the
    /// backstop.)
    pub fn route(&self, method: &str, path: &str) -> Option<RouteTarget> {
        if crate::ambiguity::path_ambiguity(path).is_some() {
            return None;
        }
        self.routes
            .iter()
            .find(|route| route.method.matches(method) && route.matches_path(path))
            .map(|route| RouteTarget {
                resource: route.resource.clone(),
                action: route.action,
            })
    }

    /// Whether a key holding `scopes` may do `target`. Allocates only to name the missing
    /// scope when denying: `<resource>:<action>`, or with `fine_scopes = false` the
    /// narrowest coarse scope that would do (`write:all`, `admin`).
    pub fn decide(&self, scopes: &[String], target: &RouteTarget) -> Access {
        let resource = self.resource_by_name(&target.resource);
        let verdict = match resource {
            Some((index, resource)) => resource
                .kind
                .judge(target.action, self.held_levels(scopes, index, resource)),
            // A target from another policy version: nothing here grants it.
            None => Verdict::Denied,
        };
        match verdict {
            Verdict::Allowed => Access::Allowed,
            Verdict::NeedsApproval => Access::NeedsApproval,
            Verdict::Denied if !self.fine_scopes => Access::Denied {
                required_scope: resource
                    .and_then(|(_, resource)| self.coarse_scope_for(resource, target.action))
                    .map_or_else(
                        || format!("{}:{}", target.resource, target.action.as_str()),
                        |coarse| coarse.as_str().to_string(),
                    ),
                // No key can hold an approval level where only coarse scopes are offered.
                approval_scope: None,
            },
            Verdict::Denied => Access::Denied {
                required_scope: format!("{}:{}", target.resource, target.action.as_str()),
                approval_scope: resource
                    .and_then(|(_, resource)| {
                        resource.kind.level_index(target.action.approval_level())
                    })
                    .map(|_| format!("{}:{}", target.resource, target.action.approval_level())),
            },
        }
    }

    /// The narrowest offered coarse scope that allows `action` on `resource`: what a
    /// refusal names where resource-level scopes are not offered (`write:all` for a write).
    fn coarse_scope_for(&self, resource: &Resource, action: Action) -> Option<CoarseScope> {
        [
            CoarseScope::ReadAll,
            CoarseScope::WriteAll,
            CoarseScope::Admin,
        ]
        .into_iter()
        .filter(|coarse| self.offers(*coarse))
        .find(|coarse| resource.kind.judge(action, coarse.grant_on(resource)) == Verdict::Allowed)
    }

    /// `Ok` when every scope is one this policy offers; otherwise the unknown ones (each
    /// once, in the order given) and the full list of valid ones.
    pub fn check_scopes(&self, scopes: &[String]) -> Result<(), UnknownScopes> {
        let mut unknown: Vec<String> = Vec::new();
        for scope in scopes {
            if !self.scope_grants.contains_key(scope.as_str()) && !unknown.contains(scope) {
                unknown.push(scope.clone());
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(UnknownScopes {
                unknown,
                valid: self.valid_scopes(),
            })
        }
    }

    /// Every scope string this policy offers: each resource's levels in declaration order,
    /// then the coarse scopes in the order the file lists them.
    pub fn valid_scopes(&self) -> Vec<String> {
        self.valid_scopes.clone()
    }

    /// Whether `requested` gives nothing beyond what `held` gives, so a key holding `held`
    /// may hand out `requested`. Unknown scopes give nothing. A coarse scope can only be
    /// handed out by a key that holds it (or `admin`), even if `held` happens to cover
    /// every resource today: a coarse scope also reaches resources added to the policy later.
    pub fn grants_within(&self, requested: &[String], held: &[String]) -> bool {
        let holds_literally = |scope: &str| held.iter().any(|h| h == scope);
        let coarse_ok = requested
            .iter()
            .all(|scope| match self.scope_grants.get(scope.as_str()) {
                Some(ScopeGrant::Coarse(coarse)) => {
                    holds_literally(coarse.as_str())
                        || (self.offers(CoarseScope::Admin)
                            && holds_literally(CoarseScope::Admin.as_str()))
                }
                _ => true,
            });
        coarse_ok
            && self.resources.iter().enumerate().all(|(index, resource)| {
                self.held_levels(requested, index, resource)
                    .is_subset_of(self.held_levels(held, index, resource))
            })
    }

    fn resource_by_name(&self, name: &str) -> Option<(usize, &Resource)> {
        let index = *self.resource_index.get(name)?;
        self.resources.get(index).map(|resource| (index, resource))
    }

    fn offers(&self, coarse: CoarseScope) -> bool {
        self.coarse_scopes.contains(&coarse)
    }

    /// The union of what every scope gives on one resource.
    fn held_levels(&self, scopes: &[String], index: usize, resource: &Resource) -> LevelSet {
        scopes.iter().fold(LevelSet::EMPTY, |held, scope| {
            match self.scope_grants.get(scope.as_str()) {
                Some(ScopeGrant::OnResource {
                    resource: granted,
                    levels,
                }) if *granted == index => held.union(*levels),
                Some(ScopeGrant::Coarse(coarse)) => held.union(coarse.grant_on(resource)),
                _ => held,
            }
        })
    }
}

#[cfg(test)]
mod tests;
