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
//! # Errors
//!
//! Validation collects **every** problem in the file, so an operator fixes them in one pass:
//! top-level settings, then `limits`, `lifecycle`, `groups`, `resources` and `routes`, each
//! in file order. Each names its location, e.g. `routes[3].action`. TOML syntax errors
//! (and unknown or mistyped fields: every table denies unknown fields) stop at the first and
//! carry toml's line and column; a `[lifecycle]` value that is not a boolean is an ordinary
//! problem, e.g. `lifecycle.edit: must be true or false, got the string "no"`.
//! `keygate policy check` ([`lint::check`]) reports every syntax error it can find, and what
//! loads but would not work as written (a route no request reaches); [`diff::diff`] says
//! what a new policy does to existing keys.

pub mod diff;
pub mod lint;
mod region;
mod syntax;

use crate::cors::{CorsSettings, CorsTable};
use crate::limits::{Limits, LimitsError, MAX_PER_DAY, MAX_PER_MINUTE};
use crate::queue::QueueCaps;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;

const DEFAULT_KEY_PREFIX: &str = "kg";
const DEFAULT_UNMAPPED_ROUTE_STATUS: u16 = 404;
const DEFAULT_PER_MINUTE: u64 = 120;
const DEFAULT_PER_DAY: u64 = 50_000;
/// These would read like coarse scopes (`read:all`) or a verb, so no resource may take them.
const RESERVED_RESOURCE_NAMES: [&str; 4] = ["read", "write", "admin", "all"];
/// keygate serves its admin API under `/_keygate/`; a policy route there would never be reached.
const ADMIN_API_SEGMENT: &str = "_keygate";
const MAX_GROUP_NAME_CHARS: usize = 64;

/// What a route asks of a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Read,
    Write,
    Delete,
    Send,
    Use,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Send,
        Action::Use,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Send => "send",
            Action::Use => "use",
        }
    }

    /// The action spelled `name` (lowercase, as in scopes and policy files).
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
    }

    /// The level that lets a key do this action only through the approval queue.
    fn approval_level(self) -> &'static str {
        match self {
            Action::Read => "read-approval",
            Action::Write => "write-approval",
            Action::Delete => "delete-approval",
            Action::Send => "send-approval",
            Action::Use => "use-approval",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape of a resource's permissions: its levels and whether they are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Ladder,
    Communication,
    Ai,
    ReadWrite,
    Independent,
    ReadOnly,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Ladder,
        Kind::Communication,
        Kind::Ai,
        Kind::ReadWrite,
        Kind::Independent,
        Kind::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ladder => "ladder",
            Kind::Communication => "communication",
            Kind::Ai => "ai",
            Kind::ReadWrite => "read_write",
            Kind::Independent => "independent",
            Kind::ReadOnly => "read_only",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The levels, low to high for ordered kinds.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Kind::Ladder => &[
                "read",
                "write-approval",
                "write",
                "delete-approval",
                "delete",
            ],
            Kind::Communication => &["read", "send-approval", "send"],
            Kind::Ai => &["use-approval", "use"],
            Kind::ReadWrite | Kind::Independent => &["read", "write"],
            Kind::ReadOnly => &["read"],
        }
    }

    /// Whether a level includes every level below it. Only `independent` is unordered.
    pub fn is_ordered(self) -> bool {
        self != Kind::Independent
    }

    /// The actions a route on a resource of this kind may name.
    pub fn actions(self) -> &'static [Action] {
        match self {
            Kind::Ladder => &[Action::Read, Action::Write, Action::Delete],
            Kind::Communication => &[Action::Read, Action::Send],
            Kind::Ai => &[Action::Use],
            Kind::ReadWrite | Kind::Independent => &[Action::Read, Action::Write],
            Kind::ReadOnly => &[Action::Read],
        }
    }

    fn supports(self, action: Action) -> bool {
        self.actions().contains(&action)
    }

    fn level_index(self, level: &str) -> Option<usize> {
        self.levels().iter().position(|name| *name == level)
    }

    /// What holding `level` gives: the level itself, plus everything below it if ordered.
    fn grant_of_level(self, level: usize) -> LevelSet {
        if self.is_ordered() {
            LevelSet::up_to(level)
        } else {
            LevelSet::single(level)
        }
    }

    fn grant_of_named_level(self, level: &str) -> LevelSet {
        self.level_index(level)
            .map_or(LevelSet::EMPTY, |index| self.grant_of_level(index))
    }

    fn every_level(self) -> LevelSet {
        (0..self.levels().len()).fold(LevelSet::EMPTY, |set, index| {
            set.union(LevelSet::single(index))
        })
    }

    /// Because grants of ordered kinds are closed downwards, "effective level ≥ L" is
    /// simply "L is held", for ordered and unordered kinds alike.
    fn judge(self, action: Action, held: LevelSet) -> Verdict {
        let Some(action_level) = self.level_index(action.as_str()) else {
            return Verdict::Denied;
        };
        if held.contains(action_level) {
            return Verdict::Allowed;
        }
        match self.level_index(action.approval_level()) {
            Some(approval_level) if held.contains(approval_level) => Verdict::NeedsApproval,
            _ => Verdict::Denied,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Which of the optional lifecycle operations the deployment offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lifecycle {
    edit: bool,
    revoke: bool,
    reactivate: bool,
    rotate: bool,
}

impl Lifecycle {
    fn allows(self, action: LifecycleAction) -> bool {
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
const DEFAULT_EXPIRE_AFTER_SECONDS: u64 = 7 * 24 * 3600;
const MAX_EXPIRE_AFTER_SECONDS: u64 = 30 * 24 * 3600;
const DEFAULT_WEBHOOK_RETRY_SECONDS: u64 = 24 * 3600;
const MAX_WEBHOOK_RETRY_SECONDS: u64 = 7 * 24 * 3600;
// Defaults that one agent key at the default limits (120 a minute) reaches in about a
// minute; a reviewer clears some, or they expire, before it queues more.
const DEFAULT_MAX_PENDING_PER_KEY: u64 = 100;
const MAX_MAX_PENDING_PER_KEY: u64 = 10_000;
const DEFAULT_MAX_PENDING_PER_WORKSPACE: u64 = 1_000;
const MAX_MAX_PENDING_PER_WORKSPACE: u64 = 100_000;
const DEFAULT_MAX_PENDING_BYTES_PER_WORKSPACE: u64 = 64 * 1024 * 1024;
/// A tenth of a Durable Object's 10 GB, so the pending part of a shard stays small.
const MAX_MAX_PENDING_BYTES_PER_WORKSPACE: u64 = 1024 * 1024 * 1024;
const DEFAULT_RETAIN_DECIDED_SECONDS: u64 = 30 * 24 * 3600;
const MAX_RETAIN_DECIDED_SECONDS: u64 = 365 * 24 * 3600;

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

/// A set of a resource's levels, by index into [`Kind::levels`] (at most five).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LevelSet(u8);

impl LevelSet {
    const EMPTY: LevelSet = LevelSet(0);

    fn single(index: usize) -> LevelSet {
        let bit = u32::try_from(index)
            .ok()
            .and_then(|shift| 1u8.checked_shl(shift));
        LevelSet(bit.unwrap_or(0))
    }

    fn up_to(index: usize) -> LevelSet {
        (0..=index).fold(LevelSet::EMPTY, |set, i| set.union(LevelSet::single(i)))
    }

    fn union(self, other: LevelSet) -> LevelSet {
        LevelSet(self.0 | other.0)
    }

    fn contains(self, index: usize) -> bool {
        let single = LevelSet::single(index);
        single.0 != 0 && self.0 & single.0 == single.0
    }

    fn is_subset_of(self, other: LevelSet) -> bool {
        self.0 & !other.0 == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Allowed,
    NeedsApproval,
    Denied,
}

/// A scope that spans resources, offered only when the policy lists it in `coarse_scopes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CoarseScope {
    ReadAll,
    WriteAll,
    Admin,
}

impl CoarseScope {
    const ALL: [CoarseScope; 3] = [
        CoarseScope::ReadAll,
        CoarseScope::WriteAll,
        CoarseScope::Admin,
    ];

    fn as_str(self) -> &'static str {
        match self {
            CoarseScope::ReadAll => "read:all",
            CoarseScope::WriteAll => "write:all",
            CoarseScope::Admin => "admin",
        }
    }

    fn from_name(name: &str) -> Option<CoarseScope> {
        CoarseScope::ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn grant_on(self, resource: &Resource) -> LevelSet {
        match self {
            CoarseScope::ReadAll => resource.kind.grant_of_named_level("read"),
            // Administrative groups exist precisely so that a broad write grant stops at them.
            CoarseScope::WriteAll if resource.administrative => LevelSet::EMPTY,
            CoarseScope::WriteAll => resource.kind.grant_of_named_level("write"),
            CoarseScope::Admin => resource.kind.every_level(),
        }
    }
}

/// What one known scope string gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopeGrant {
    OnResource { resource: usize, levels: LevelSet },
    Coarse(CoarseScope),
}

/// The resource and action a request needs, as the matching route names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTarget {
    pub resource: String,
    pub action: Action,
}

/// The outcome of checking a key's scopes against a route's target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// The key holds the `<action>-approval` level: queue the request for a human.
    NeedsApproval,
    /// `required_scope` is `<resource>:<action>`, the scope the key would need;
    /// `approval_scope` the resource's `<action>-approval` level, where its kind has one
    /// (with it the request would be queued for a human).
    Denied {
        required_scope: String,
        approval_scope: Option<String>,
    },
}

/// Scope strings the policy does not offer, with the list of those it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScopes {
    pub unknown: Vec<String>,
    pub valid: Vec<String>,
}

impl fmt::Display for UnknownScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown scope(s) ")?;
        for (position, scope) in self.unknown.iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            // Debug quoting escapes anything odd a client sent.
            write!(f, "{scope:?}")?;
        }
        write!(f, "; valid scopes: {}", self.valid.join(", "))
    }
}

impl std::error::Error for UnknownScopes {}

/// One broken rule in a policy file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Where in the file, e.g. `routes[3].action` (indexes count from 0, in file order).
    pub location: String,
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why a policy file was refused. The `Display` text is meant for the operator as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// Not TOML, or not the policy's shape (unknown field, wrong type); toml's own message,
    /// which carries the line and column.
    Syntax(String),
    /// Well-formed, but breaking the rules: every problem, one per line.
    Invalid(Vec<PolicyProblem>),
}

impl PolicyError {
    /// The individual problems (empty for a syntax error).
    pub fn problems(&self) -> &[PolicyProblem] {
        match self {
            PolicyError::Syntax(_) => &[],
            PolicyError::Invalid(problems) => problems,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Syntax(message) => f.write_str(message.trim_end()),
            PolicyError::Invalid(problems) => {
                for (position, problem) in problems.iter().enumerate() {
                    if position > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PolicyError {}

#[derive(Clone, Debug)]
struct Group {
    name: String,
    administrative: bool,
}

#[derive(Clone, Debug)]
struct Resource {
    name: String,
    kind: Kind,
    group: Option<String>,
    administrative: bool,
    description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum MethodPattern {
    Any,
    Exact(String),
}

impl MethodPattern {
    fn matches(&self, method: &str) -> bool {
        match self {
            MethodPattern::Any => true,
            // HEAD is GET without the body, so it needs exactly what GET needs.
            MethodPattern::Exact(expected) => {
                expected == method || (expected == "GET" && method == "HEAD")
            }
        }
    }

    fn as_str(&self) -> &str {
        match self {
            MethodPattern::Any => "*",
            MethodPattern::Exact(method) => method,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: exactly one non-empty segment. The name is only documentation.
    Param,
    /// A final `*`: zero or more remaining segments.
    Rest,
}

#[derive(Clone, Debug)]
struct Route {
    method: MethodPattern,
    /// As written, for `describe()` and error messages.
    path: String,
    /// Split once at load so matching a request allocates nothing.
    segments: Vec<Segment>,
    resource: String,
    action: Action,
}

impl Route {
    fn matches_path(&self, request_path: &str) -> bool {
        let Some(after_root) = request_path.strip_prefix('/') else {
            return false;
        };
        let mut parts = after_root.split('/');
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                // Compared decoded: an origin that routes on the decoded path (Starlette,
                // Django, Flask) reads `%65xport` as `export`, so it must not match `{id}`
                // where the `export` route needs another scope.
                Segment::Literal(literal) => match parts.next() {
                    Some(part)
                        if crate::percent::decode(part.as_bytes())
                            == crate::percent::decode(literal.as_bytes()) => {}
                    _ => return false,
                },
                Segment::Param => match parts.next() {
                    Some(part) if !part.is_empty() => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

/// A validated policy: the scope table in force.
#[derive(Clone, Debug)]
pub struct Policy {
    key_prefix: String,
    unmapped_route_status: u16,
    origin_reads_body_overrides: bool,
    limits: Limits,
    lifecycle: Lifecycle,
    approvals: ApprovalSettings,
    credential_header: Option<String>,
    cors: Option<CorsSettings>,
    problem_type_base: Option<String>,
    coarse_scopes: Vec<CoarseScope>,
    groups: Vec<Group>,
    resources: Vec<Resource>,
    resource_index: BTreeMap<String, usize>,
    routes: Vec<Route>,
    scope_grants: BTreeMap<String, ScopeGrant>,
    valid_scopes: Vec<String>,
}

impl Policy {
    /// Parses and validates a policy file. See the module docs for the rules.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|error| PolicyError::Syntax(error.to_string()))?;
        build_policy(file)
    }

    /// The prefix of every key this deployment issues, e.g. `kg`.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The limits a key gets when it is created without its own.
    pub fn default_limits(&self) -> Limits {
        self.limits
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
    /// scope when denying.
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

    /// The body of `GET /_keygate/v1/policy`: the scope table in force.
    pub fn describe(&self) -> serde_json::Value {
        let resources: Vec<serde_json::Value> = self
            .resources
            .iter()
            .map(|resource| {
                json!({
                    "name": resource.name,
                    "kind": resource.kind.as_str(),
                    "levels": resource.kind.levels(),
                    "ordered": resource.kind.is_ordered(),
                    "actions": resource.kind.actions(),
                    "group": resource.group,
                    "administrative": resource.administrative,
                    "description": resource.description,
                })
            })
            .collect();
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|group| json!({"name": group.name, "administrative": group.administrative}))
            .collect();
        let routes: Vec<serde_json::Value> = self
            .routes
            .iter()
            .map(|route| {
                json!({
                    "method": route.method.as_str(),
                    "path": route.path,
                    "resource": route.resource,
                    "action": route.action.as_str(),
                })
            })
            .collect();
        let coarse_scopes: Vec<&str> = self.coarse_scopes.iter().map(|c| c.as_str()).collect();
        let lifecycle: serde_json::Map<String, serde_json::Value> = LifecycleAction::ALL
            .into_iter()
            .map(|action| (action.as_str().to_string(), json!(self.allows(action))))
            .collect();
        json!({
            "key_prefix": self.key_prefix,
            "unmapped_route_status": self.unmapped_route_status,
            "origin_reads_body_overrides": self.origin_reads_body_overrides,
            "groups": groups,
            "resources": resources,
            "routes": routes,
            "scopes": self.valid_scopes,
            "coarse_scopes": coarse_scopes,
            "limits": {
                "per_minute": self.limits.per_minute.get(),
                "per_day": self.limits.per_day.get(),
            },
            "lifecycle": lifecycle,
            "approvals": {
                "max_body_bytes": self.approvals.max_body_bytes,
                "expire_after_seconds": self.approvals.expire_after_ms / 1000,
                "webhook_retry_seconds": self.approvals.webhook_retry_ms / 1000,
                "max_pending_per_key": self.approvals.caps.max_pending_per_key,
                "max_pending_per_workspace": self.approvals.caps.max_pending_per_workspace,
                "max_pending_bytes_per_workspace": self.approvals.caps.max_pending_bytes_per_workspace,
                "retain_decided_seconds": self.approvals.retain_decided_ms / 1000,
            },
            "credentials": {"header": self.credential_header},
            "cors": self.cors.as_ref().map(CorsSettings::describe),
            "problems": {"type_base": self.problem_type_base},
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

// ---------------------------------------------------------------------------------------
// The file as written, before validation.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    key_prefix: Option<String>,
    // Wider than the accepted range so an out-of-range value gets our message, not serde's.
    unmapped_route_status: Option<i64>,
    #[serde(default = "assume_origin_reads_body_overrides")]
    origin_reads_body_overrides: bool,
    #[serde(default)]
    coarse_scopes: Vec<String>,
    limits: Option<LimitsTable>,
    lifecycle: Option<LifecycleTable>,
    approvals: Option<ApprovalsTable>,
    credentials: Option<CredentialsTable>,
    cors: Option<CorsTable>,
    problems: Option<ProblemsTable>,
    #[serde(default)]
    groups: Vec<GroupTable>,
    #[serde(default)]
    resources: Vec<ResourceTable>,
    #[serde(default)]
    routes: Vec<RouteTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsTable {
    per_minute: Option<i64>,
    per_day: Option<i64>,
}

// Any TOML value rather than `bool`, so `edit = "no"` gets a message naming the field
// among the other problems, not serde's type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleTable {
    edit: Option<toml::Value>,
    revoke: Option<toml::Value>,
    reactivate: Option<toml::Value>,
    rotate: Option<toml::Value>,
}

impl LifecycleTable {
    fn written(&self, action: LifecycleAction) -> Option<&toml::Value> {
        match action {
            LifecycleAction::Edit => self.edit.as_ref(),
            LifecycleAction::Revoke => self.revoke.as_ref(),
            LifecycleAction::Reactivate => self.reactivate.as_ref(),
            LifecycleAction::Rotate => self.rotate.as_ref(),
        }
    }
}

// Signed and wide, like the limits, so a negative value gets our message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalsTable {
    max_body_bytes: Option<i64>,
    expire_after_seconds: Option<i64>,
    webhook_retry_seconds: Option<i64>,
    max_pending_per_key: Option<i64>,
    max_pending_per_workspace: Option<i64>,
    max_pending_bytes_per_workspace: Option<i64>,
    retain_decided_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsTable {
    header: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProblemsTable {
    type_base: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupTable {
    name: String,
    #[serde(default)]
    administrative: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceTable {
    name: String,
    // Strings rather than enums so a wrong value gets a message listing the right ones.
    kind: String,
    group: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTable {
    method: String,
    path: String,
    resource: String,
    action: String,
}

#[derive(Default)]
struct Problems(Vec<PolicyProblem>);

impl Problems {
    fn add(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyProblem {
            location: location.into(),
            message: message.into(),
        });
    }
}

fn build_policy(file: PolicyFile) -> Result<Policy, PolicyError> {
    let mut problems = Problems::default();

    let key_prefix = file
        .key_prefix
        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_string());
    if !is_valid_key_prefix(&key_prefix) {
        problems.add(
            "key_prefix",
            format!(
                "{key_prefix:?} must be 2 to 10 characters: a lowercase letter, then lowercase letters or digits"
            ),
        );
    }

    let unmapped_route_status = match file.unmapped_route_status {
        None => DEFAULT_UNMAPPED_ROUTE_STATUS,
        Some(404) => 404,
        Some(403) => 403,
        Some(other) => {
            problems.add(
                "unmapped_route_status",
                format!("must be 404 or 403, got {other}"),
            );
            DEFAULT_UNMAPPED_ROUTE_STATUS
        }
    };

    let coarse_scopes = validate_coarse_scopes(&file.coarse_scopes, &mut problems);
    let limits = validate_limits(file.limits.as_ref(), &mut problems);
    let lifecycle = validate_lifecycle(file.lifecycle.as_ref(), &mut problems);
    let approvals = validate_approvals(file.approvals.as_ref(), &mut problems);
    let credential_header = validate_credential_header(file.credentials.as_ref(), &mut problems);
    let cors = file.cors.as_ref().and_then(|table| {
        CorsSettings::from_table(table, credential_header.as_deref())
            .map_err(|found| {
                for problem in found {
                    problems.add(format!("cors.{}", problem.field), problem.message);
                }
            })
            .ok()
    });
    let problem_type_base = validate_problem_type_base(file.problems.as_ref(), &mut problems);
    let groups = validate_groups(&file.groups, &mut problems);
    let (resources, resource_index) = validate_resources(&file.resources, &groups, &mut problems);
    let routes = validate_routes(&file.routes, &resources, &resource_index, &mut problems);

    // `limits` is `None` only when a problem was recorded for it.
    let limits = match limits {
        Some(limits) if problems.0.is_empty() => limits,
        _ => return Err(PolicyError::Invalid(problems.0)),
    };

    let mut scope_grants = BTreeMap::new();
    let mut valid_scopes = Vec::new();
    for (index, resource) in resources.iter().enumerate() {
        for (level_index, level) in resource.kind.levels().iter().enumerate() {
            let scope = format!("{}:{level}", resource.name);
            let levels = resource.kind.grant_of_level(level_index);
            scope_grants.insert(
                scope.clone(),
                ScopeGrant::OnResource {
                    resource: index,
                    levels,
                },
            );
            valid_scopes.push(scope);
        }
    }
    for coarse in &coarse_scopes {
        scope_grants.insert(coarse.as_str().to_string(), ScopeGrant::Coarse(*coarse));
        valid_scopes.push(coarse.as_str().to_string());
    }

    Ok(Policy {
        key_prefix,
        unmapped_route_status,
        origin_reads_body_overrides: file.origin_reads_body_overrides,
        limits,
        lifecycle,
        approvals,
        credential_header,
        cors,
        problem_type_base,
        coarse_scopes,
        groups,
        resources,
        resource_index,
        routes,
        scope_grants,
        valid_scopes,
    })
}

/// Names a credential header cannot take: those HTTP, the platform or keygate already
/// give a meaning to (so reading a key from them would change what they do, or hide a key
/// in what keygate keeps), and the method and path overrides keygate refuses. Compared in
/// lower case; the name itself is letters, digits and single `-`, so no other spelling
/// folds onto one of these.
const CREDENTIAL_HEADER_TAKEN: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "origin",
    "referer",
    "user-agent",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "range",
    "forwarded",
    "idempotency-key",
    "cdn-loop",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-original-uri",
    "x-envoy-original-path",
    "x-rewrite-url",
];
/// Families of names with the same standing: keygate's own, the platform's, the body's,
/// forwarding hops, what browsers set, CORS's, preconditions and content negotiation.
const CREDENTIAL_HEADER_TAKEN_PREFIXES: &[&str] = &[
    "x-keygate-",
    "cf-",
    "content-",
    "x-forwarded-",
    "proxy-",
    "sec-",
    "access-control-",
    "if-",
    "accept",
];

/// The `[credentials] header`: a plain header name ([`crate::cors::is_plain_header_name`])
/// not taken by anything else.
fn validate_credential_header(
    table: Option<&CredentialsTable>,
    problems: &mut Problems,
) -> Option<String> {
    let name = table?.header.as_ref()?;
    let lower = name.to_ascii_lowercase();
    if !crate::cors::is_plain_header_name(name) {
        problems.add(
            "credentials.header",
            format!("{name:?} must be a header name of letters, digits and single `-` (at most 64 characters), such as \"X-API-Key\""),
        );
        return None;
    }
    let taken = CREDENTIAL_HEADER_TAKEN.contains(&lower.as_str())
        || CREDENTIAL_HEADER_TAKEN_PREFIXES
            .iter()
            .any(|prefix| lower.starts_with(prefix));
    if taken {
        problems.add(
            "credentials.header",
            format!("{name:?} already means something to HTTP, the platform or keygate; choose a header of its own, such as \"X-API-Key\""),
        );
        return None;
    }
    Some(name.clone())
}

const MAX_TYPE_BASE_CHARS: usize = 200;

/// The `[problems] type_base`: an absolute `https://` (or `http://`) URL of URI
/// characters, to which a problem's `code` is appended as is.
fn validate_problem_type_base(
    table: Option<&ProblemsTable>,
    problems: &mut Problems,
) -> Option<String> {
    let base = table?.type_base.as_ref()?;
    let is_uri_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b);
    let after_scheme = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"));
    let valid = base.len() <= MAX_TYPE_BASE_CHARS
        && after_scheme.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && base.bytes().all(is_uri_char);
    if !valid {
        problems.add(
            "problems.type_base",
            format!("{base:?} must be an absolute https:// URL of at most {MAX_TYPE_BASE_CHARS} URI characters, such as \"https://docs.example.com/errors/\"; each problem's code is appended to it"),
        );
        return None;
    }
    Some(base.clone())
}

/// Unless the operator says otherwise, an origin may act on `_method` in a body.
fn assume_origin_reads_body_overrides() -> bool {
    true
}

/// `^[a-z][a-z0-9]{1,9}$`
fn is_valid_key_prefix(prefix: &str) -> bool {
    let mut bytes = prefix.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && (2..=10).contains(&prefix.len())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `^[a-z][a-z0-9_]{0,39}$`
fn is_valid_resource_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && name.len() <= 40
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`
fn is_valid_param_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_valid_method(method: &str) -> bool {
    method == "*"
        || (!method.is_empty()
            && method.len() <= 20
            && method.bytes().all(|b| b.is_ascii_uppercase()))
}

fn validate_coarse_scopes(listed: &[String], problems: &mut Problems) -> Vec<CoarseScope> {
    let mut offered = Vec::new();
    for (position, name) in listed.iter().enumerate() {
        let location = format!("coarse_scopes[{position}]");
        match CoarseScope::from_name(name) {
            None => problems.add(
                location,
                format!(
                    "{name:?} is not a coarse scope (coarse scopes: read:all, write:all, admin)"
                ),
            ),
            Some(coarse) if offered.contains(&coarse) => {
                problems.add(location, format!("{name:?} is listed twice"));
            }
            Some(coarse) => offered.push(coarse),
        }
    }
    offered
}

fn validate_limits(table: Option<&LimitsTable>, problems: &mut Problems) -> Option<Limits> {
    let per_minute = limit_value(
        table.and_then(|t| t.per_minute),
        DEFAULT_PER_MINUTE,
        "per_minute",
        MAX_PER_MINUTE,
        problems,
    );
    let per_day = limit_value(
        table.and_then(|t| t.per_day),
        DEFAULT_PER_DAY,
        "per_day",
        MAX_PER_DAY,
        problems,
    );
    Limits::new(per_minute?, per_day?)
        .map_err(|error: LimitsError| problems.add("limits", error.to_string()))
        .ok()
}

/// TOML integers are signed; a negative limit gets the same wording as an oversized one.
fn limit_value(
    written: Option<i64>,
    default: u64,
    field: &str,
    max: u32,
    problems: &mut Problems,
) -> Option<u64> {
    match written {
        None => Some(default),
        Some(value) => match u64::try_from(value) {
            Ok(value) => Some(value),
            Err(_) => {
                problems.add(
                    "limits",
                    format!("{field} must be between 1 and {max}, got {value}"),
                );
                None
            }
        },
    }
}

fn validate_lifecycle(table: Option<&LifecycleTable>, problems: &mut Problems) -> Lifecycle {
    // `None` where the value is not a boolean: that problem is recorded, so the policy is
    // refused and the `true` standing in for it below is never used.
    let edit = lifecycle_flag(table, LifecycleAction::Edit, problems);
    let revoke = lifecycle_flag(table, LifecycleAction::Revoke, problems);
    let reactivate = lifecycle_flag(table, LifecycleAction::Reactivate, problems);
    if revoke == Some(false) && reactivate == Some(true) {
        let message = if table.is_some_and(|t| t.reactivate.is_some()) {
            "cannot be true when revoke = false: re-activation undoes a revoke, so there is nothing to re-activate"
        } else {
            "defaults to true, but revoke = false leaves nothing to re-activate; set reactivate = false"
        };
        problems.add("lifecycle.reactivate", message);
    }
    let rotate = lifecycle_flag(table, LifecycleAction::Rotate, problems);
    Lifecycle {
        edit: edit.unwrap_or(true),
        revoke: revoke.unwrap_or(true),
        reactivate: reactivate.unwrap_or(true),
        rotate: rotate.unwrap_or(true),
    }
}

/// Whether `action` is offered; an absent table or field means it is.
fn lifecycle_flag(
    table: Option<&LifecycleTable>,
    action: LifecycleAction,
    problems: &mut Problems,
) -> Option<bool> {
    let value = match table.and_then(|t| t.written(action)) {
        None => return Some(true),
        Some(toml::Value::Boolean(offered)) => return Some(*offered),
        Some(toml::Value::String(text)) => format!("the string {text:?}"),
        Some(toml::Value::Integer(number)) => number.to_string(),
        Some(toml::Value::Float(number)) => number.to_string(),
        Some(toml::Value::Datetime(_)) => "a date-time".to_string(),
        Some(toml::Value::Array(_)) => "an array".to_string(),
        Some(toml::Value::Table(_)) => "a table".to_string(),
    };
    problems.add(
        format!("lifecycle.{action}"),
        format!("must be true or false, got {value}"),
    );
    None
}

fn validate_approvals(table: Option<&ApprovalsTable>, problems: &mut Problems) -> ApprovalSettings {
    let defaults = ApprovalSettings::default();
    let Some(table) = table else {
        return defaults;
    };
    // A value out of range is recorded as a problem, so the default standing in for it
    // is never used.
    let mut setting =
        |written: Option<i64>, field: &str, min: u64, max: u64, default: u64| match written {
            None => default,
            Some(value) => match u64::try_from(value) {
                Ok(value) if (min..=max).contains(&value) => value,
                _ => {
                    problems.add(
                        format!("approvals.{field}"),
                        format!("must be between {min} and {max}, got {value}"),
                    );
                    default
                }
            },
        };
    ApprovalSettings {
        max_body_bytes: setting(
            table.max_body_bytes,
            "max_body_bytes",
            1,
            MAX_QUEUED_BODY_BYTES,
            defaults.max_body_bytes,
        ),
        expire_after_ms: setting(
            table.expire_after_seconds,
            "expire_after_seconds",
            1,
            MAX_EXPIRE_AFTER_SECONDS,
            DEFAULT_EXPIRE_AFTER_SECONDS,
        ) * 1000,
        webhook_retry_ms: setting(
            table.webhook_retry_seconds,
            "webhook_retry_seconds",
            0,
            MAX_WEBHOOK_RETRY_SECONDS,
            DEFAULT_WEBHOOK_RETRY_SECONDS,
        ) * 1000,
        caps: QueueCaps {
            max_pending_per_key: setting(
                table.max_pending_per_key,
                "max_pending_per_key",
                1,
                MAX_MAX_PENDING_PER_KEY,
                DEFAULT_MAX_PENDING_PER_KEY,
            ),
            max_pending_per_workspace: setting(
                table.max_pending_per_workspace,
                "max_pending_per_workspace",
                1,
                MAX_MAX_PENDING_PER_WORKSPACE,
                DEFAULT_MAX_PENDING_PER_WORKSPACE,
            ),
            max_pending_bytes_per_workspace: setting(
                table.max_pending_bytes_per_workspace,
                "max_pending_bytes_per_workspace",
                1,
                MAX_MAX_PENDING_BYTES_PER_WORKSPACE,
                DEFAULT_MAX_PENDING_BYTES_PER_WORKSPACE,
            ),
        },
        retain_decided_ms: setting(
            table.retain_decided_seconds,
            "retain_decided_seconds",
            1,
            MAX_RETAIN_DECIDED_SECONDS,
            DEFAULT_RETAIN_DECIDED_SECONDS,
        ) * 1000,
    }
}

fn validate_groups(tables: &[GroupTable], problems: &mut Problems) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (position, table) in tables.iter().enumerate() {
        let location = format!("groups[{position}].name");
        let name = &table.name;
        if name.trim().is_empty()
            || name.chars().count() > MAX_GROUP_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            problems.add(
                location,
                format!(
                    "{name:?} must be 1 to {MAX_GROUP_NAME_CHARS} characters, not blank, without control characters"
                ),
            );
        } else if groups.iter().any(|group| group.name == *name) {
            problems.add(location, format!("{name:?} is declared twice"));
        } else {
            groups.push(Group {
                name: name.clone(),
                administrative: table.administrative,
            });
        }
    }
    groups
}

fn validate_resources(
    tables: &[ResourceTable],
    groups: &[Group],
    problems: &mut Problems,
) -> (Vec<Resource>, BTreeMap<String, usize>) {
    let mut resources: Vec<Resource> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (position, table) in tables.iter().enumerate() {
        let name = &table.name;
        let mut valid = true;
        let name_location = format!("resources[{position}].name");
        if !is_valid_resource_name(name) {
            problems.add(
                name_location,
                format!(
                    "{name:?} must be 1 to 40 characters: a lowercase letter, then lowercase letters, digits or underscores"
                ),
            );
            valid = false;
        } else if RESERVED_RESOURCE_NAMES.contains(&name.as_str()) {
            problems.add(
                name_location,
                format!("{name:?} is reserved (reserved names: read, write, admin, all)"),
            );
            valid = false;
        } else if index.contains_key(name) {
            problems.add(name_location, format!("{name:?} is declared twice"));
            valid = false;
        }

        let kind = Kind::from_name(&table.kind);
        if kind.is_none() {
            problems.add(
                format!("resources[{position}].kind"),
                format!(
                    "{:?} is not a kind (kinds: {})",
                    table.kind,
                    Kind::ALL.map(Kind::as_str).join(", ")
                ),
            );
        }

        let mut administrative = false;
        if let Some(group_name) = &table.group {
            match groups.iter().find(|group| group.name == *group_name) {
                Some(group) => administrative = group.administrative,
                None => {
                    let declared = if groups.is_empty() {
                        "no groups are declared".to_string()
                    } else {
                        let names: Vec<String> =
                            groups.iter().map(|g| format!("{:?}", g.name)).collect();
                        format!("groups: {}", names.join(", "))
                    };
                    problems.add(
                        format!("resources[{position}].group"),
                        format!("{group_name:?} is not a declared group ({declared})"),
                    );
                }
            }
        }

        if let (true, Some(kind)) = (valid, kind) {
            index.insert(name.clone(), resources.len());
            resources.push(Resource {
                name: name.clone(),
                kind,
                group: table.group.clone(),
                administrative,
                description: table.description.clone(),
            });
        }
    }
    (resources, index)
}

fn validate_routes(
    tables: &[RouteTable],
    resources: &[Resource],
    resource_index: &BTreeMap<String, usize>,
    problems: &mut Problems,
) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    // For the duplicate check: (method, segments) of each valid route, with its position.
    let mut seen: Vec<(usize, MethodPattern, Vec<Segment>)> = Vec::new();
    for (position, table) in tables.iter().enumerate() {
        let method = if is_valid_method(&table.method) {
            Some(if table.method == "*" {
                MethodPattern::Any
            } else {
                MethodPattern::Exact(table.method.clone())
            })
        } else {
            problems.add(
                format!("routes[{position}].method"),
                format!(
                    "{:?} must be an HTTP method in uppercase letters (e.g. \"GET\") or \"*\" for any method",
                    table.method
                ),
            );
            None
        };

        let segments = match parse_path_pattern(&table.path) {
            Ok(segments) => Some(segments),
            Err(message) => {
                problems.add(format!("routes[{position}].path"), message);
                None
            }
        };

        let resource = match resource_index
            .get(&table.resource)
            .and_then(|&i| resources.get(i))
        {
            Some(resource) => Some(resource),
            None => {
                let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
                let declared = if names.is_empty() {
                    "no valid resource is declared".to_string()
                } else {
                    format!("resources: {}", names.join(", "))
                };
                problems.add(
                    format!("routes[{position}].resource"),
                    format!(
                        "{:?} is not a declared resource ({declared})",
                        table.resource
                    ),
                );
                None
            }
        };

        let action = Action::from_name(&table.action);
        let action_location = format!("routes[{position}].action");
        match (action, resource) {
            (Some(action), Some(resource)) if !resource.kind.supports(action) => problems.add(
                action_location,
                unsupported_action_message(&table.action, resource),
            ),
            (None, Some(resource)) => problems.add(
                action_location,
                unsupported_action_message(&table.action, resource),
            ),
            (None, None) => problems.add(
                action_location,
                format!(
                    "{:?} is not an action (actions: {})",
                    table.action,
                    Action::ALL.map(Action::as_str).join(", ")
                ),
            ),
            _ => {}
        }

        let (Some(method), Some(segments), Some(resource), Some(action)) =
            (method, segments, resource, action)
        else {
            continue;
        };
        if !resource.kind.supports(action) {
            continue;
        }
        if let Some((first, _, _)) = seen.iter().find(|(_, m, s)| *m == method && *s == segments) {
            problems.add(
                format!("routes[{position}]"),
                format!(
                    "{} {:?} duplicates routes[{first}] (same method and path pattern)",
                    method.as_str(),
                    table.path
                ),
            );
            continue;
        }
        seen.push((position, method.clone(), segments.clone()));
        routes.push(Route {
            method,
            path: table.path.clone(),
            segments,
            resource: resource.name.clone(),
            action,
        });
    }
    routes
}

fn unsupported_action_message(action: &str, resource: &Resource) -> String {
    format!(
        "{action:?} is not an action of resource {:?} (kind {} supports: {})",
        resource.name,
        resource.kind.as_str(),
        resource
            .kind
            .actions()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Splits a route's path pattern into segments, or says what is wrong with it.
fn parse_path_pattern(path: &str) -> Result<Vec<Segment>, String> {
    let Some(after_root) = path.strip_prefix('/') else {
        return Err(format!("{path:?} must start with \"/\""));
    };
    if let Some(bad) = path.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{path:?} contains {bad:?}; use visible ASCII only and percent-encode anything else, as requests arrive encoded"
        ));
    }
    if path.contains(['?', '#']) {
        return Err(format!(
            "{path:?} must not contain \"?\" or \"#\": routes match the path only"
        ));
    }
    let raw_segments: Vec<&str> = after_root.split('/').collect();
    let last = raw_segments.len().saturating_sub(1);
    if raw_segments.first() == Some(&ADMIN_API_SEGMENT) {
        return Err(format!(
            "{path:?} is under \"/{ADMIN_API_SEGMENT}/\", which is reserved for keygate's admin API"
        ));
    }
    let mut param_names: Vec<&str> = Vec::new();
    let mut segments = Vec::with_capacity(raw_segments.len());
    for (position, raw) in raw_segments.iter().enumerate() {
        let raw = *raw;
        if raw == "*" {
            if position != last {
                return Err("\"*\" may only be the last segment".to_string());
            }
            segments.push(Segment::Rest);
        } else if raw.contains('*') {
            return Err(format!(
                "segment {raw:?} mixes \"*\" with text; \"*\" must be a whole segment"
            ));
        } else if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            if !is_valid_param_name(name) {
                return Err(format!(
                    "segment {raw:?} is not a valid parameter; write {{name}} with letters, digits or underscores"
                ));
            }
            if param_names.contains(&name) {
                return Err(format!("parameter {raw:?} appears twice"));
            }
            param_names.push(name);
            segments.push(Segment::Param);
        } else if raw.contains(['{', '}']) {
            return Err(format!(
                "segment {raw:?} mixes a parameter with text; a parameter must be a whole segment"
            ));
        } else if raw.is_empty() && position != last {
            return Err(format!("{path:?} has an empty segment (\"//\")"));
        } else if crate::ambiguity::is_dot_segment(raw) {
            return Err(format!(
                "segment {raw:?} is a dot segment; requests containing one are never routed"
            ));
        } else {
            segments.push(Segment::Literal(raw.to_string()));
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn load(text: &str) -> Policy {
        match Policy::from_toml(text) {
            Ok(policy) => policy,
            Err(error) => panic!("policy should load, got:\n{error}"),
        }
    }

    /// The displayed problems of a policy that must be refused.
    fn refusal(text: &str) -> String {
        match Policy::from_toml(text) {
            Ok(_) => panic!("policy should be refused:\n{text}"),
            Err(error) => error.to_string(),
        }
    }

    fn target(resource: &str, action: Action) -> RouteTarget {
        RouteTarget {
            resource: resource.to_string(),
            action,
        }
    }

    /// Denied, naming the scope, on a resource whose kind has no approval level for it.
    fn denied(scope: &str) -> Access {
        Access::Denied {
            required_scope: scope.to_string(),
            approval_scope: None,
        }
    }

    /// Denied, naming the scope and the approval level that would queue the request.
    fn denied_but_queueable(scope: &str) -> Access {
        Access::Denied {
            required_scope: scope.to_string(),
            approval_scope: Some(format!("{scope}-approval")),
        }
    }

    const ONE_OF_EACH_KIND: &str = r#"
        coarse_scopes = ["read:all", "write:all", "admin"]

        [[groups]]
        name = "Admin only"
        administrative = true

        [[groups]]
        name = "Everyday"

        [[resources]]
        name = "contacts"
        kind = "ladder"
        group = "Everyday"
        description = "People"

        [[resources]]
        name = "email"
        kind = "communication"

        [[resources]]
        name = "ai"
        kind = "ai"

        [[resources]]
        name = "modules"
        kind = "read_write"

        [[resources]]
        name = "calls"
        kind = "independent"

        [[resources]]
        name = "analytics"
        kind = "read_only"

        [[resources]]
        name = "settings"
        kind = "read_write"
        group = "Admin only"
    "#;

    // ----- parsing and defaults -------------------------------------------------------

    #[test]
    fn empty_file_gets_the_defaults() {
        let policy = load("");
        assert_eq!(policy.key_prefix(), "kg");
        assert_eq!(policy.unmapped_route_status(), 404);
        assert_eq!(policy.default_limits(), Limits::new(120, 50_000).unwrap());
        assert!(policy.valid_scopes().is_empty());
        assert_eq!(policy.route("GET", "/"), None);
    }

    #[test]
    fn top_level_settings_are_read() {
        let policy = load(
            r#"
            key_prefix = "tp9"
            unmapped_route_status = 403
            origin_reads_body_overrides = false
            [limits]
            per_minute = 10
            per_day = 1000
        "#,
        );
        assert_eq!(policy.key_prefix(), "tp9");
        assert_eq!(policy.unmapped_route_status(), 403);
        assert!(!policy.origin_reads_body_overrides());
        assert!(
            load("").origin_reads_body_overrides(),
            "assumed unless said"
        );
        assert_eq!(policy.default_limits(), Limits::new(10, 1000).unwrap());
    }

    #[test]
    fn limits_fields_default_one_at_a_time() {
        let policy = load("[limits]\nper_minute = 5\n");
        assert_eq!(policy.default_limits(), Limits::new(5, 50_000).unwrap());
    }

    #[test]
    fn valid_scopes_are_resource_levels_in_order_then_coarse_scopes() {
        let policy = load(ONE_OF_EACH_KIND);
        let valid = policy.valid_scopes();
        let expected: Vec<&str> = vec![
            "contacts:read",
            "contacts:write-approval",
            "contacts:write",
            "contacts:delete-approval",
            "contacts:delete",
            "email:read",
            "email:send-approval",
            "email:send",
            "ai:use-approval",
            "ai:use",
            "modules:read",
            "modules:write",
            "calls:read",
            "calls:write",
            "analytics:read",
            "settings:read",
            "settings:write",
            "read:all",
            "write:all",
            "admin",
        ];
        assert_eq!(valid, scopes(&expected));
    }

    #[test]
    fn describe_has_the_documented_shape() {
        let policy = load(&format!(
            "{ONE_OF_EACH_KIND}\n[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{{id}}\"\nresource = \"contacts\"\naction = \"read\"\n"
        ));
        let body = policy.describe();
        assert_eq!(body["key_prefix"], "kg");
        assert_eq!(body["unmapped_route_status"], 404);
        assert_eq!(body["limits"]["per_minute"], 120);
        assert_eq!(body["limits"]["per_day"], 50_000);
        assert_eq!(body["resources"][0]["name"], "contacts");
        assert_eq!(body["resources"][0]["kind"], "ladder");
        assert_eq!(body["resources"][0]["levels"][1], "write-approval");
        assert_eq!(body["resources"][0]["group"], "Everyday");
        assert_eq!(body["resources"][0]["description"], "People");
        assert_eq!(body["resources"][1]["group"], serde_json::Value::Null);
        assert_eq!(body["resources"][1]["description"], serde_json::Value::Null);
        assert_eq!(body["resources"][6]["administrative"], true);
        assert_eq!(
            body["routes"][0],
            json!({"method": "GET", "path": "/v1/contacts/{id}", "resource": "contacts", "action": "read"})
        );
        assert_eq!(
            body["scopes"].as_array().map(Vec::len),
            Some(policy.valid_scopes().len())
        );
        assert_eq!(
            body["coarse_scopes"],
            json!(["read:all", "write:all", "admin"])
        );
        assert_eq!(
            body["lifecycle"],
            json!({"edit": true, "revoke": true, "reactivate": true, "rotate": true})
        );
    }

    #[test]
    fn describe_shows_the_lifecycle_in_force() {
        let policy = load("[lifecycle]\nedit = false\nreactivate = false\n");
        assert_eq!(
            policy.describe()["lifecycle"],
            json!({"edit": false, "revoke": true, "reactivate": false, "rotate": true})
        );
    }

    /// Every optional table set, so each field of the description has a value.
    const EVERY_TABLE: &str = r#"
        key_prefix = "acme"
        unmapped_route_status = 403
        origin_reads_body_overrides = false
        coarse_scopes = ["admin", "read:all"]

        [limits]
        per_minute = 10
        per_day = 1000

        [lifecycle]
        edit = false
        reactivate = false

        [approvals]
        max_body_bytes = 4096
        expire_after_seconds = 3600
        webhook_retry_seconds = 60
        max_pending_per_key = 5
        max_pending_per_workspace = 50
        max_pending_bytes_per_workspace = 65536
        retain_decided_seconds = 86400

        [credentials]
        header = "X-API-Key"

        [cors]
        allowed_origins = ["https://app.example.com", "http://localhost:3000"]
        allowed_methods = ["GET", "POST"]
        allowed_headers = ["Idempotency-Key"]
        exposed_headers = ["ETag"]
        max_age_seconds = 600

        [problems]
        type_base = "https://docs.example.com/errors/"

        [[groups]]
        name = "Back office"
        administrative = true

        [[resources]]
        name = "contacts"
        kind = "ladder"
        description = "People and companies"

        [[resources]]
        name = "calls"
        kind = "independent"

        [[resources]]
        name = "billing"
        kind = "read_write"
        group = "Back office"

        [[routes]]
        method = "GET"
        path = "/v1/contacts/{id}"
        resource = "contacts"
        action = "read"

        [[routes]]
        method = "*"
        path = "/v1/calls/*"
        resource = "calls"
        action = "write"

        [[routes]]
        method = "DELETE"
        path = "/v1/billing/"
        resource = "billing"
        action = "write"
    "#;

    /// The description is what `GET /_keygate/v1/policy` serves and what `keygate policy
    /// check` and `policy diff` read: byte for byte, key order included, it stays as fixed here.
    #[test]
    fn describe_is_byte_for_byte_the_fixed_json() {
        let cases = [
            (
                "policies/demo.toml",
                include_str!("../../policies/demo.toml"),
                include_str!("tests/demo-description.json"),
            ),
            (
                "EVERY_TABLE",
                EVERY_TABLE,
                include_str!("tests/every-table-description.json"),
            ),
        ];
        for (name, text, expected) in cases {
            let described = load(text).describe();
            let pretty = serde_json::to_string_pretty(&described).unwrap();
            assert_eq!(pretty, expected.trim_end(), "{name}");
        }
    }

    // ----- lifecycle ------------------------------------------------------------------

    fn offered(policy: &Policy) -> Vec<&'static str> {
        LifecycleAction::ALL
            .into_iter()
            .filter(|action| policy.allows(*action))
            .map(LifecycleAction::as_str)
            .collect()
    }

    #[test]
    fn approval_settings_default_to_a_week_a_mebibyte_and_a_day_of_retries() {
        let defaults = load("").approvals();
        assert_eq!(defaults, ApprovalSettings::default());
        assert_eq!(defaults.max_body_bytes, 1_048_576);
        assert_eq!(defaults.expire_after_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(defaults.webhook_retry_ms, 24 * 3600 * 1000);
        let set = load(
            "[approvals]\nmax_body_bytes = 10\nexpire_after_seconds = 2\nwebhook_retry_seconds = 0\n",
        )
        .approvals();
        assert_eq!(
            set,
            ApprovalSettings {
                max_body_bytes: 10,
                expire_after_ms: 2_000,
                webhook_retry_ms: 0,
                ..ApprovalSettings::default()
            }
        );
        assert_eq!(
            load("[approvals]\nexpire_after_seconds = 60")
                .approvals()
                .max_body_bytes,
            1_048_576
        );
        let described = load("[approvals]\nexpire_after_seconds = 60").describe();
        assert_eq!(described["approvals"]["expire_after_seconds"], 60);
        assert_eq!(described["approvals"]["max_body_bytes"], 1_048_576);
    }

    #[test]
    fn queue_caps_and_retention_default_to_a_busy_minute_and_thirty_days() {
        let defaults = load("").approvals();
        assert_eq!(
            defaults.caps,
            QueueCaps {
                max_pending_per_key: 100,
                max_pending_per_workspace: 1_000,
                max_pending_bytes_per_workspace: 64 * 1024 * 1024,
            }
        );
        assert_eq!(defaults.retain_decided_ms, 30 * 24 * 3600 * 1000);
        let set = load(
            "[approvals]\nmax_body_bytes = 100\nmax_pending_per_key = 2\nmax_pending_per_workspace = 3\nmax_pending_bytes_per_workspace = 150\nretain_decided_seconds = 1\n",
        );
        assert_eq!(
            set.approvals().caps,
            QueueCaps {
                max_pending_per_key: 2,
                max_pending_per_workspace: 3,
                max_pending_bytes_per_workspace: 150,
            }
        );
        assert_eq!(set.approvals().retain_decided_ms, 1_000);
        let described = set.describe();
        assert_eq!(described["approvals"]["max_pending_per_key"], 2);
        assert_eq!(described["approvals"]["max_pending_per_workspace"], 3);
        assert_eq!(
            described["approvals"]["max_pending_bytes_per_workspace"],
            150
        );
        assert_eq!(described["approvals"]["retain_decided_seconds"], 1);
    }

    #[test]
    fn queue_caps_and_retention_out_of_range_are_refused() {
        let message = refusal(
            "[approvals]\nmax_pending_per_key = 0\nmax_pending_per_workspace = 100001\nmax_pending_bytes_per_workspace = 1073741825\nretain_decided_seconds = 0\n",
        );
        for expected in [
            "approvals.max_pending_per_key: must be between 1 and 10000, got 0",
            "approvals.max_pending_per_workspace: must be between 1 and 100000, got 100001",
            "approvals.max_pending_bytes_per_workspace: must be between 1 and 1073741824, got 1073741825",
            "approvals.retain_decided_seconds: must be between 1 and 31536000, got 0",
        ] {
            assert!(message.contains(expected), "{expected} in {message}");
        }
    }

    #[test]
    fn approval_settings_out_of_range_are_all_reported() {
        let message = refusal(
            "[approvals]\nmax_body_bytes = 1048577\nexpire_after_seconds = 0\nwebhook_retry_seconds = -1\n",
        );
        assert!(
            message
                .contains("approvals.max_body_bytes: must be between 1 and 1048576, got 1048577"),
            "{message}"
        );
        assert!(
            message
                .contains("approvals.expire_after_seconds: must be between 1 and 2592000, got 0"),
            "{message}"
        );
        assert!(
            message
                .contains("approvals.webhook_retry_seconds: must be between 0 and 604800, got -1"),
            "{message}"
        );
        let message = refusal("[approvals]\nmax_body = 10\n");
        assert!(message.contains("max_body"), "{message}");
    }

    #[test]
    fn lifecycle_actions_are_named_as_the_fields() {
        let names: Vec<&str> = LifecycleAction::ALL.map(LifecycleAction::as_str).to_vec();
        assert_eq!(names, ["edit", "revoke", "reactivate", "rotate"]);
        assert_eq!(LifecycleAction::Reactivate.to_string(), "reactivate");
    }

    #[test]
    fn lifecycle_offers_everything_by_default() {
        let all = ["edit", "revoke", "reactivate", "rotate"];
        assert_eq!(offered(&load("")), all);
        assert_eq!(offered(&load("[lifecycle]")), all);
        // Each absent field defaults on its own.
        assert_eq!(
            offered(&load("[lifecycle]\nrotate = false")),
            ["edit", "revoke", "reactivate"]
        );
        assert_eq!(
            offered(&load("lifecycle = { edit = false }")),
            ["revoke", "reactivate", "rotate"]
        );
    }

    #[test]
    fn lifecycle_fields_are_read() {
        let policy =
            load("[lifecycle]\nedit = false\nrevoke = true\nreactivate = false\nrotate = false\n");
        assert_eq!(offered(&policy), ["revoke"]);
        let policy =
            load("[lifecycle]\nedit = false\nrevoke = false\nreactivate = false\nrotate = false\n");
        assert_eq!(offered(&policy), Vec::<&str>::new());
        let policy =
            load("[lifecycle]\nedit = true\nrevoke = true\nreactivate = true\nrotate = true\n");
        assert_eq!(offered(&policy), ["edit", "revoke", "reactivate", "rotate"]);
    }

    #[test]
    fn lifecycle_refuses_unknown_fields_with_line_and_the_known_ones() {
        let message = refusal("[lifecycle]\nedit = true\nrevocation = false\n");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("unknown field `revocation`"), "{message}");
        assert!(
            message.contains("`edit`, `revoke`, `reactivate`, `rotate`"),
            "{message}"
        );
    }

    #[test]
    fn lifecycle_values_must_be_booleans() {
        let cases = [
            (
                "edit = \"no\"",
                "lifecycle.edit: must be true or false, got the string \"no\"",
            ),
            (
                "revoke = \"false\"",
                "lifecycle.revoke: must be true or false, got the string \"false\"",
            ),
            (
                "reactivate = 0",
                "lifecycle.reactivate: must be true or false, got 0",
            ),
            (
                "rotate = 1.5",
                "lifecycle.rotate: must be true or false, got 1.5",
            ),
            (
                "rotate = [true]",
                "lifecycle.rotate: must be true or false, got an array",
            ),
            (
                "rotate = { on = true }",
                "lifecycle.rotate: must be true or false, got a table",
            ),
            (
                "rotate = 2026-01-01",
                "lifecycle.rotate: must be true or false, got a date-time",
            ),
        ];
        for (field, expected) in cases {
            assert_eq!(refusal(&format!("[lifecycle]\n{field}\n")), expected);
        }
    }

    #[test]
    fn lifecycle_reports_every_bad_value_in_one_pass() {
        let message = refusal("[lifecycle]\nrotate = \"yes\"\nedit = 1\n");
        assert_eq!(
            message,
            "lifecycle.edit: must be true or false, got 1\nlifecycle.rotate: must be true or false, got the string \"yes\""
        );
    }

    #[test]
    fn reactivate_needs_revoke() {
        assert_eq!(
            refusal("[lifecycle]\nrevoke = false\nreactivate = true\n"),
            "lifecycle.reactivate: cannot be true when revoke = false: re-activation undoes a revoke, so there is nothing to re-activate"
        );
        // Left to its default, reactivate is true too: say so, and what to write.
        assert_eq!(
            refusal("[lifecycle]\nrevoke = false\n"),
            "lifecycle.reactivate: defaults to true, but revoke = false leaves nothing to re-activate; set reactivate = false"
        );
        let policy = load("[lifecycle]\nrevoke = false\nreactivate = false\n");
        assert_eq!(offered(&policy), ["edit", "rotate"]);
        // Revoking without re-activation is the common "a revoke is final" setting.
        let policy = load("[lifecycle]\nreactivate = false\n");
        assert_eq!(offered(&policy), ["edit", "revoke", "rotate"]);
    }

    #[test]
    fn reactivate_is_not_judged_against_an_invalid_revoke() {
        assert_eq!(
            refusal("[lifecycle]\nrevoke = \"off\"\nreactivate = true\n"),
            "lifecycle.revoke: must be true or false, got the string \"off\""
        );
    }

    #[test]
    fn action_serializes_lowercase_and_round_trips_by_name() {
        for action in Action::ALL {
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                json!(action.as_str())
            );
            assert_eq!(Action::from_name(action.as_str()), Some(action));
        }
        assert_eq!(Action::from_name("Read"), None);
    }

    // ----- validation errors ----------------------------------------------------------

    #[test]
    fn syntax_errors_pass_through_with_line_and_column() {
        let message = refusal("key_prefix = \n");
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn unknown_fields_are_refused_in_every_table() {
        for text in [
            "key_prefx = \"kg\"",
            "[limits]\nper_minutes = 1",
            "[[groups]]\nname = \"A\"\nadmin = true",
            "[[resources]]\nname = \"a1\"\nkind = \"ladder\"\ngroups = \"x\"",
            "[[routes]]\nmethod = \"GET\"\npath = \"/\"\nresource = \"a\"\naction = \"read\"\nscope = \"x\"",
            "[lifecycle]\ndisable = true",
            "[credentials]\nheaders = \"X-API-Key\"",
            "[cors]\norigins = [\"*\"]",
            "[problems]\nbase = \"https://x.example/\"",
        ] {
            let message = refusal(text);
            assert!(message.contains("unknown field"), "{text}: {message}");
        }
    }

    // ----- client settings ----------------------------------------------------------

    #[test]
    fn client_settings_are_off_by_default() {
        let policy = load("");
        assert_eq!(policy.credential_header(), None);
        assert_eq!(policy.cors(), None);
        assert_eq!(policy.problem_type_base(), None);
        let described = policy.describe();
        assert_eq!(described["credentials"], json!({"header": null}));
        assert_eq!(described["cors"], json!(null));
        assert_eq!(described["problems"], json!({"type_base": null}));
    }

    #[test]
    fn a_credential_header_is_a_plain_name_of_its_own() {
        for good in ["X-API-Key", "Api-Key", "apikey", "X-Auth-Token"] {
            let policy = load(&format!("[credentials]\nheader = {good:?}"));
            assert_eq!(policy.credential_header(), Some(good));
        }
        for bad in [
            "X_API_Key",
            "X API Key",
            "X-API-Key:",
            "-x",
            "x--y",
            "",
            "X.API.Key",
        ] {
            let message = refusal(&format!("[credentials]\nheader = {bad:?}"));
            assert!(
                message.starts_with("credentials.header: "),
                "{bad}: {message}"
            );
            assert!(message.contains("letters, digits"), "{bad}: {message}");
        }
        for taken in [
            "Authorization",
            "authorization",
            "Proxy-Authorization",
            "Host",
            "Cookie",
            "X-Keygate-Key",
            "X-Forwarded-For",
            "CF-Access-Token",
            "Content-Type",
            "Idempotency-Key",
            "X-HTTP-Method-Override",
            "Origin",
            "Access-Control-Request-Headers",
            "Sec-Fetch-Mode",
            "Accept",
            "If-Match",
        ] {
            let message = refusal(&format!("[credentials]\nheader = {taken:?}"));
            assert!(
                message.contains("already means something"),
                "{taken}: {message}"
            );
        }
        // The table may be left empty: no header.
        assert_eq!(load("[credentials]").credential_header(), None);
    }

    #[test]
    fn the_cors_table_is_validated_and_described() {
        let policy = load(
            r#"
            [credentials]
            header = "X-API-Key"

            [cors]
            allowed_origins = ["https://app.example.com"]
            allowed_methods = ["GET", "DELETE"]
            allowed_headers = ["Idempotency-Key"]
            exposed_headers = ["ETag"]
            max_age_seconds = 3600
            "#,
        );
        let described = policy.describe();
        assert_eq!(
            described["cors"]["allowed_origins"],
            json!(["https://app.example.com"])
        );
        assert_eq!(
            described["cors"]["allowed_methods"],
            json!(["GET", "DELETE"])
        );
        assert_eq!(described["cors"]["max_age_seconds"], json!(3600));
        let headers = described["cors"]["allowed_headers"].as_array().unwrap();
        assert!(headers.contains(&json!("x-api-key")), "{headers:?}");
        assert!(headers.contains(&json!("idempotency-key")), "{headers:?}");
        let message = refusal(
            r#"
            [cors]
            allowed_origins = ["https://app.example.com/", "*"]
            max_age_seconds = 100000
            "#,
        );
        assert_eq!(
            message,
            "cors.allowed_origins: \"*\" allows every origin, so it must be the only entry\n\
             cors.max_age_seconds: must be between 0 and 86400, got 100000"
        );
        assert!(
            refusal("[cors]").starts_with("cors.allowed_origins: must list at least one origin")
        );
    }

    #[test]
    fn a_problem_type_base_is_an_absolute_url() {
        for good in [
            "https://docs.example.com/errors/",
            "https://docs.example.com/errors#",
            "http://localhost:8080/e?code=",
        ] {
            let policy = load(&format!("[problems]\ntype_base = {good:?}"));
            assert_eq!(policy.problem_type_base(), Some(good));
        }
        for bad in [
            "docs.example.com/errors/",
            "https://",
            "https:///errors",
            "https://docs.example.com/a b/",
            "https://docs.example.com/\"x",
            "ftp://docs.example.com/",
            &format!("https://docs.example.com/{}", "a".repeat(200)),
        ] {
            let message = refusal(&format!("[problems]\ntype_base = {bad:?}"));
            assert!(
                message.starts_with("problems.type_base: "),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn key_prefix_must_be_short_lowercase() {
        for bad in ["k", "KG", "1kg", "kg_", "abcdefghijk", ""] {
            let message = refusal(&format!("key_prefix = {bad:?}"));
            assert!(message.starts_with("key_prefix: "), "{message}");
        }
        for good in ["kg", "tp", "a123456789"] {
            assert_eq!(load(&format!("key_prefix = {good:?}")).key_prefix(), good);
        }
    }

    #[test]
    fn unmapped_route_status_is_404_or_403() {
        let message = refusal("unmapped_route_status = 500");
        assert_eq!(
            message,
            "unmapped_route_status: must be 404 or 403, got 500"
        );
    }

    #[test]
    fn coarse_scopes_must_be_known_and_listed_once() {
        let message = refusal(r#"coarse_scopes = ["read:all", "write:any", "read:all"]"#);
        assert!(
            message.contains("coarse_scopes[1]: \"write:any\" is not a coarse scope"),
            "{message}"
        );
        assert!(
            message.contains("coarse_scopes[2]: \"read:all\" is listed twice"),
            "{message}"
        );
    }

    #[test]
    fn limits_reuse_the_limits_wording() {
        assert_eq!(
            refusal("[limits]\nper_minute = 500\nper_day = 100"),
            "limits: per_minute (500) must not exceed per_day (100)"
        );
        assert_eq!(
            refusal("[limits]\nper_minute = 0"),
            "limits: per_minute must be between 1 and 1000000, got 0"
        );
        assert_eq!(
            refusal("[limits]\nper_day = -3"),
            "limits: per_day must be between 1 and 1000000000, got -3"
        );
    }

    #[test]
    fn groups_must_be_named_once() {
        let message =
            refusal("[[groups]]\nname = \"A\"\n[[groups]]\nname = \"A\"\n[[groups]]\nname = \" \"");
        assert!(
            message.contains("groups[1].name: \"A\" is declared twice"),
            "{message}"
        );
        assert!(message.contains("groups[2].name: "), "{message}");
    }

    #[test]
    fn resource_names_follow_the_pattern_are_unique_and_not_reserved() {
        let message = refusal(
            r#"
            [[resources]]
            name = "contacts"
            kind = "ladder"
            [[resources]]
            name = "contacts"
            kind = "ladder"
            [[resources]]
            name = "Contacts"
            kind = "ladder"
            [[resources]]
            name = "admin"
            kind = "ladder"
            [[resources]]
            name = "a23456789012345678901234567890123456789012"
            kind = "ladder"
        "#,
        );
        assert!(
            message.contains("resources[1].name: \"contacts\" is declared twice"),
            "{message}"
        );
        assert!(
            message.contains("resources[2].name: \"Contacts\""),
            "{message}"
        );
        assert!(
            message.contains("resources[3].name: \"admin\" is reserved"),
            "{message}"
        );
        assert!(message.contains("resources[4].name: "), "{message}");
        assert_eq!(message.lines().count(), 4, "{message}");
    }

    #[test]
    fn resource_kind_and_group_must_exist() {
        let message = refusal(
            r#"
            [[groups]]
            name = "Admin only"
            [[resources]]
            name = "contacts"
            kind = "ladders"
            group = "Admins"
        "#,
        );
        assert!(
            message.contains("resources[0].kind: \"ladders\" is not a kind (kinds: ladder, communication, ai, read_write, independent, read_only)"),
            "{message}"
        );
        assert!(
            message.contains(
                "resources[0].group: \"Admins\" is not a declared group (groups: \"Admin only\")"
            ),
            "{message}"
        );
    }

    fn with_route(method: &str, path: &str, resource: &str, action: &str) -> String {
        format!(
            "{ONE_OF_EACH_KIND}\n[[routes]]\nmethod = {method:?}\npath = {path:?}\nresource = {resource:?}\naction = {action:?}\n"
        )
    }

    #[test]
    fn route_action_must_be_supported_by_the_kind() {
        assert_eq!(
            refusal(&with_route("POST", "/v1/contacts", "contacts", "send")),
            "routes[0].action: \"send\" is not an action of resource \"contacts\" (kind ladder supports: read, write, delete)"
        );
        assert_eq!(
            refusal(&with_route("POST", "/v1/analytics", "analytics", "write")),
            "routes[0].action: \"write\" is not an action of resource \"analytics\" (kind read_only supports: read)"
        );
        let message = refusal(&with_route("POST", "/v1/contacts", "contacts", "frob"));
        assert!(
            message.starts_with("routes[0].action: \"frob\""),
            "{message}"
        );
    }

    #[test]
    fn route_resource_must_be_declared() {
        let message = refusal(&with_route("GET", "/v1/contact", "contact", "read"));
        assert!(
            message.starts_with("routes[0].resource: \"contact\" is not a declared resource (resources: contacts, email,"),
            "{message}"
        );
        // The action cannot be checked against an unknown resource, only against the list.
        let message = refusal(&with_route("GET", "/v1/contact", "contact", "fetch"));
        assert!(
            message.contains("routes[0].action: \"fetch\" is not an action (actions: read, write, delete, send, use)"),
            "{message}"
        );
    }

    #[test]
    fn route_method_is_uppercase_token_or_star() {
        for bad in ["get", "", "G E T", "GET1"] {
            let message = refusal(&with_route(bad, "/v1/contacts", "contacts", "read"));
            assert!(
                message.starts_with("routes[0].method: "),
                "{bad}: {message}"
            );
        }
        load(&with_route("PROPFIND", "/v1/contacts", "contacts", "read"));
        load(&with_route("*", "/v1/contacts", "contacts", "read"));
    }

    #[test]
    fn route_path_errors_name_the_path() {
        let cases = [
            ("v1/contacts", "must start with \"/\""),
            ("/v1/*/contacts", "\"*\" may only be the last segment"),
            ("/v1/contacts*", "mixes \"*\" with text"),
            ("/v1/{id", "mixes a parameter with text"),
            ("/v1/{id}.json", "mixes a parameter with text"),
            ("/v1/{}", "is not a valid parameter"),
            ("/v1/{a-b}", "is not a valid parameter"),
            ("/v1/{id}/x/{id}", "appears twice"),
            ("/v1//contacts", "empty segment"),
            ("/v1/../contacts", "dot segment"),
            ("/v1/contacts?x=1", "must not contain \"?\""),
            ("/v1/con tacts", "visible ASCII"),
            ("/v1/contäcts", "visible ASCII"),
            ("/_keygate/v1/keys", "reserved for keygate's admin API"),
        ];
        for (path, expected) in cases {
            let message = refusal(&with_route("GET", path, "contacts", "read"));
            assert!(
                message.starts_with("routes[0].path: ") && message.contains(expected),
                "{path}: {message}"
            );
        }
        assert_eq!(
            refusal(&with_route("GET", "/v1/*/x", "contacts", "read")),
            "routes[0].path: \"*\" may only be the last segment"
        );
    }

    #[test]
    fn duplicate_routes_are_refused_even_with_other_param_names() {
        let text = format!(
            "{}\n[[routes]]\nmethod = \"GET\"\npath = \"/v1/contacts/{{contact}}\"\nresource = \"contacts\"\naction = \"write\"\n",
            with_route("GET", "/v1/contacts/{id}", "contacts", "read")
        );
        assert_eq!(
            refusal(&text),
            "routes[1]: GET \"/v1/contacts/{contact}\" duplicates routes[0] (same method and path pattern)"
        );
        // Same path, different method: fine.
        let text = format!(
            "{}\n[[routes]]\nmethod = \"*\"\npath = \"/v1/contacts/{{id}}\"\nresource = \"contacts\"\naction = \"write\"\n",
            with_route("GET", "/v1/contacts/{id}", "contacts", "read")
        );
        load(&text);
    }

    #[test]
    fn every_problem_is_reported_in_one_pass() {
        let message = refusal(
            r#"
            key_prefix = "X"
            unmapped_route_status = 200
            [lifecycle]
            revoke = false
            rotate = "no"
            [[resources]]
            name = "contacts"
            kind = "lader"
            [[routes]]
            method = "get"
            path = "nope"
            resource = "contacts"
            action = "read"
        "#,
        );
        let locations: Vec<&str> = message
            .lines()
            .filter_map(|line| line.split(':').next())
            .collect();
        assert_eq!(
            locations,
            [
                "key_prefix",
                "unmapped_route_status",
                "lifecycle.reactivate",
                "lifecycle.rotate",
                "resources[0].kind",
                "routes[0].method",
                "routes[0].path",
                "routes[0].resource"
            ]
        );
        match Policy::from_toml("key_prefix = \"X\"") {
            Err(error) => assert_eq!(error.problems().len(), 1),
            Ok(_) => panic!("should be refused"),
        }
    }

    // ----- route matching -------------------------------------------------------------

    const ROUTES: &str = r#"
        [[resources]]
        name = "contacts"
        kind = "ladder"
        [[resources]]
        name = "analytics"
        kind = "read_only"
        [[resources]]
        name = "fallback"
        kind = "read_write"

        [[routes]]
        method = "GET"
        path = "/v1/contacts"
        resource = "contacts"
        action = "read"

        [[routes]]
        method = "GET"
        path = "/v1/contacts/{id}"
        resource = "contacts"
        action = "read"

        [[routes]]
        method = "DELETE"
        path = "/v1/contacts/{id}"
        resource = "contacts"
        action = "delete"

        [[routes]]
        method = "GET"
        path = "/v1/analytics/*"
        resource = "analytics"
        action = "read"

        [[routes]]
        method = "*"
        path = "/v1/contacts/{id}/notes"
        resource = "contacts"
        action = "write"

        [[routes]]
        method = "GET"
        path = "/"
        resource = "analytics"
        action = "read"

        [[routes]]
        method = "GET"
        path = "/v1/shadowed/{x}"
        resource = "analytics"
        action = "read"

        [[routes]]
        method = "GET"
        path = "/v1/shadowed/special"
        resource = "contacts"
        action = "read"

        [[routes]]
        method = "*"
        path = "/v1/*"
        resource = "fallback"
        action = "write"
    "#;

    fn routed(policy: &Policy, method: &str, path: &str) -> Option<(String, Action)> {
        policy
            .route(method, path)
            .map(|target| (target.resource, target.action))
    }

    fn some(resource: &str, action: Action) -> Option<(String, Action)> {
        Some((resource.to_string(), action))
    }

    #[test]
    fn literal_and_param_segments() {
        let policy = load(ROUTES);
        assert_eq!(
            routed(&policy, "GET", "/v1/contacts"),
            some("contacts", Action::Read)
        );
        assert_eq!(
            routed(&policy, "GET", "/v1/contacts/42"),
            some("contacts", Action::Read)
        );
        assert_eq!(
            routed(&policy, "DELETE", "/v1/contacts/42"),
            some("contacts", Action::Delete)
        );
        assert_eq!(routed(&policy, "GET", "/"), some("analytics", Action::Read));
    }

    #[test]
    fn param_matches_exactly_one_non_empty_segment() {
        let policy = load(ROUTES);
        assert_eq!(
            routed(&policy, "DELETE", "/v1/contacts/"),
            some("fallback", Action::Write)
        );
        assert_eq!(
            routed(&policy, "DELETE", "/v1/contacts/1/2"),
            some("fallback", Action::Write)
        );
    }

    #[test]
    fn trailing_star_matches_zero_or_more_segments() {
        let policy = load(ROUTES);
        for path in [
            "/v1/analytics",
            "/v1/analytics/",
            "/v1/analytics/a",
            "/v1/analytics/a/b/c",
        ] {
            assert_eq!(
                routed(&policy, "GET", path),
                some("analytics", Action::Read),
                "{path}"
            );
        }
        assert_eq!(
            routed(&policy, "GET", "/v1/analyticsx"),
            some("fallback", Action::Write)
        );
    }

    #[test]
    fn head_uses_the_get_route_and_star_matches_any_method() {
        let policy = load(ROUTES);
        assert_eq!(
            routed(&policy, "HEAD", "/v1/contacts/7"),
            some("contacts", Action::Read)
        );
        for method in ["GET", "POST", "PURGE"] {
            assert_eq!(
                routed(&policy, method, "/v1/contacts/7/notes"),
                some("contacts", Action::Write),
                "{method}"
            );
        }
        // GET does not match a POST request; the catch-all takes it.
        assert_eq!(
            routed(&policy, "POST", "/v1/contacts"),
            some("fallback", Action::Write)
        );
        // Methods are case-sensitive, as in HTTP.
        assert_eq!(
            routed(&policy, "get", "/v1/analytics/x"),
            some("fallback", Action::Write)
        );
    }

    #[test]
    fn first_match_in_file_order_wins() {
        let policy = load(ROUTES);
        assert_eq!(
            routed(&policy, "GET", "/v1/shadowed/special"),
            some("analytics", Action::Read)
        );
    }

    #[test]
    fn trailing_slash_is_strict_and_unmapped_is_none() {
        let policy = load(&ROUTES.replace("path = \"/v1/*\"", "path = \"/v1/only\""));
        assert_eq!(routed(&policy, "GET", "/v1/contacts/"), None);
        assert_eq!(
            routed(&policy, "GET", "/v1/contacts"),
            some("contacts", Action::Read)
        );
        assert_eq!(routed(&policy, "GET", "/v2/contacts"), None);
        assert_eq!(routed(&policy, "GET", ""), None);
        assert_eq!(routed(&policy, "GET", "v1/contacts"), None);
        assert_eq!(routed(&policy, "GET", "//"), None);
    }

    #[test]
    fn an_escaped_literal_segment_routes_as_the_literal_a_decoding_origin_reads() {
        // Starlette, Django and Flask route on the decoded path: `/v1/contacts/%65xport` is
        // their `/v1/contacts/export`, so it must need what that route needs, not match `{id}`.
        let policy = load(
            r#"
            [[resources]]
            name = "contacts"
            kind = "ladder"
            [[resources]]
            name = "exports"
            kind = "read_only"

            [[routes]]
            method = "GET"
            path = "/v1/contacts/export"
            resource = "exports"
            action = "read"

            [[routes]]
            method = "GET"
            path = "/v1/contacts/{id}"
            resource = "contacts"
            action = "read"
        "#,
        );
        for path in [
            "/v1/contacts/export",
            "/v1/contacts/%65xport",
            "/v1/contacts/%65%78%70%6F%72%74",
            "/v1/%63ontacts/expor%74",
        ] {
            assert_eq!(
                routed(&policy, "GET", path),
                some("exports", Action::Read),
                "{path}"
            );
        }
        assert_eq!(
            routed(&policy, "GET", "/v1/contacts/%65xports"),
            some("contacts", Action::Read)
        );
    }

    #[test]
    fn ambiguous_paths_are_never_routed() {
        let policy = load(ROUTES);
        for path in [
            "/v1/analytics/../contacts",
            "/v1/analytics/./x",
            "/v1/analytics/%2e%2E/contacts",
            "/v1/analytics/.%2e",
            "/v1/contacts/a%2Fb",
            "/v1/contacts/a%5cb",
            "/v1/contacts/a\\b",
        ] {
            assert_eq!(routed(&policy, "GET", path), None, "{path}");
        }
        // Dots inside a segment are ordinary.
        assert_eq!(
            routed(&policy, "GET", "/v1/contacts/a.b"),
            some("contacts", Action::Read)
        );
    }

    // ----- decide ---------------------------------------------------------------------

    #[test]
    fn ladder_levels_include_everything_below() {
        let policy = load(ONE_OF_EACH_KIND);
        let read = target("contacts", Action::Read);
        let write = target("contacts", Action::Write);
        let delete = target("contacts", Action::Delete);
        let key = scopes(&["contacts:write-approval"]);
        assert_eq!(policy.decide(&key, &read), Access::Allowed);
        assert_eq!(policy.decide(&key, &write), Access::NeedsApproval);
        assert_eq!(
            policy.decide(&key, &delete),
            denied_but_queueable("contacts:delete")
        );
        let key = scopes(&["contacts:delete-approval"]);
        assert_eq!(policy.decide(&key, &write), Access::Allowed);
        assert_eq!(policy.decide(&key, &delete), Access::NeedsApproval);
        let key = scopes(&["contacts:delete"]);
        assert_eq!(policy.decide(&key, &delete), Access::Allowed);
        assert_eq!(policy.decide(&[], &read), denied("contacts:read"));
    }

    #[test]
    fn highest_of_several_scopes_counts() {
        let policy = load(ONE_OF_EACH_KIND);
        let key = scopes(&["contacts:read", "contacts:write", "contacts:write-approval"]);
        assert_eq!(
            policy.decide(&key, &target("contacts", Action::Write)),
            Access::Allowed
        );
    }

    #[test]
    fn communication_and_ai_ladders() {
        let policy = load(ONE_OF_EACH_KIND);
        let key = scopes(&["email:send-approval", "ai:use-approval"]);
        assert_eq!(
            policy.decide(&key, &target("email", Action::Read)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&key, &target("email", Action::Send)),
            Access::NeedsApproval
        );
        assert_eq!(
            policy.decide(&key, &target("ai", Action::Use)),
            Access::NeedsApproval
        );
        let key = scopes(&["email:send", "ai:use"]);
        assert_eq!(
            policy.decide(&key, &target("email", Action::Send)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&key, &target("ai", Action::Use)),
            Access::Allowed
        );
        let key = scopes(&["email:read"]);
        assert_eq!(
            policy.decide(&key, &target("email", Action::Send)),
            denied_but_queueable("email:send")
        );
    }

    #[test]
    fn read_write_write_includes_read() {
        let policy = load(ONE_OF_EACH_KIND);
        let key = scopes(&["modules:write"]);
        assert_eq!(
            policy.decide(&key, &target("modules", Action::Read)),
            Access::Allowed
        );
        let key = scopes(&["modules:read"]);
        assert_eq!(
            policy.decide(&key, &target("modules", Action::Write)),
            denied("modules:write")
        );
    }

    #[test]
    fn independent_write_does_not_include_read() {
        let policy = load(ONE_OF_EACH_KIND);
        let key = scopes(&["calls:write"]);
        assert_eq!(
            policy.decide(&key, &target("calls", Action::Write)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&key, &target("calls", Action::Read)),
            denied("calls:read")
        );
        let key = scopes(&["calls:read", "calls:write"]);
        assert_eq!(
            policy.decide(&key, &target("calls", Action::Read)),
            Access::Allowed
        );
    }

    #[test]
    fn read_only_has_only_read() {
        let policy = load(ONE_OF_EACH_KIND);
        let key = scopes(&["analytics:read"]);
        assert_eq!(
            policy.decide(&key, &target("analytics", Action::Read)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&key, &target("analytics", Action::Write)),
            denied("analytics:write")
        );
    }

    #[test]
    fn coarse_scopes_follow_the_kinds_and_groups() {
        let policy = load(ONE_OF_EACH_KIND);
        let read_all = scopes(&["read:all"]);
        assert_eq!(
            policy.decide(&read_all, &target("settings", Action::Read)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&read_all, &target("calls", Action::Read)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&read_all, &target("ai", Action::Use)),
            denied_but_queueable("ai:use")
        );

        let write_all = scopes(&["write:all"]);
        assert_eq!(
            policy.decide(&write_all, &target("contacts", Action::Read)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&write_all, &target("contacts", Action::Write)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&write_all, &target("contacts", Action::Delete)),
            denied_but_queueable("contacts:delete")
        );
        assert_eq!(
            policy.decide(&write_all, &target("calls", Action::Write)),
            Access::Allowed
        );
        assert_eq!(
            policy.decide(&write_all, &target("calls", Action::Read)),
            denied("calls:read")
        );
        assert_eq!(
            policy.decide(&write_all, &target("settings", Action::Write)),
            denied("settings:write")
        );
        assert_eq!(
            policy.decide(&write_all, &target("email", Action::Send)),
            denied_but_queueable("email:send")
        );

        let admin = scopes(&["admin"]);
        for resource in [
            "contacts",
            "email",
            "ai",
            "modules",
            "calls",
            "analytics",
            "settings",
        ] {
            let (_, kind) = policy
                .resource_by_name(resource)
                .map(|(i, r)| (i, r.kind))
                .unwrap();
            for &action in kind.actions() {
                assert_eq!(
                    policy.decide(&admin, &target(resource, action)),
                    Access::Allowed
                );
            }
        }
    }

    #[test]
    fn coarse_scopes_not_offered_grant_nothing() {
        let policy = load(
            &ONE_OF_EACH_KIND.replace(r#"coarse_scopes = ["read:all", "write:all", "admin"]"#, ""),
        );
        let key = scopes(&["admin", "read:all"]);
        assert_eq!(
            policy.decide(&key, &target("contacts", Action::Read)),
            denied("contacts:read")
        );
        assert!(policy.check_scopes(&key).is_err());
    }

    #[test]
    fn unknown_scopes_and_targets_grant_nothing() {
        let policy = load(ONE_OF_EACH_KIND);
        let key = scopes(&["contacts:superuser", "crm:read", "", "analytics:write"]);
        assert_eq!(
            policy.decide(&key, &target("contacts", Action::Read)),
            denied("contacts:read")
        );
        let key = scopes(&["admin"]);
        assert_eq!(
            policy.decide(&key, &target("deleted", Action::Read)),
            denied("deleted:read")
        );
        // A resource scope does not leak onto another resource.
        let key = scopes(&["calls:write"]);
        assert_eq!(
            policy.decide(&key, &target("modules", Action::Write)),
            denied("modules:write")
        );
    }

    #[test]
    fn check_scopes_lists_unknown_once_and_all_valid() {
        let policy = load(ONE_OF_EACH_KIND);
        assert_eq!(
            policy.check_scopes(&scopes(&["contacts:read", "admin"])),
            Ok(())
        );
        let error = policy
            .check_scopes(&scopes(&[
                "analytics:write",
                "contacts:read",
                "x\ny",
                "analytics:write",
            ]))
            .unwrap_err();
        assert_eq!(error.unknown, scopes(&["analytics:write", "x\ny"]));
        assert_eq!(error.valid, policy.valid_scopes());
        let message = error.to_string();
        assert!(
            message.starts_with("unknown scope(s) \"analytics:write\", \"x\\ny\"; valid scopes: contacts:read, contacts:write-approval,"),
            "{message}"
        );
        assert!(message.ends_with("read:all, write:all, admin"), "{message}");
    }

    #[test]
    fn grants_within_compares_effective_grants() {
        let policy = load(ONE_OF_EACH_KIND);
        let held = scopes(&["contacts:delete", "calls:write"]);
        assert!(policy.grants_within(&scopes(&["contacts:write-approval"]), &held));
        assert!(policy.grants_within(&scopes(&["contacts:delete", "calls:write"]), &held));
        assert!(!policy.grants_within(&scopes(&["calls:read"]), &held));
        assert!(!policy.grants_within(&scopes(&["email:read"]), &held));
        assert!(policy.grants_within(&scopes(&["read:all", "write:all"]), &scopes(&["admin"])));
        assert!(policy.grants_within(&scopes(&["contacts:delete"]), &scopes(&["admin"])));
        assert!(!policy.grants_within(&scopes(&["admin"]), &scopes(&["read:all", "write:all"])));
        assert!(!policy.grants_within(&scopes(&["read:all"]), &policy.valid_scopes()[..17]));
        assert!(policy.grants_within(&scopes(&["unknown:scope"]), &[]));
    }
}
