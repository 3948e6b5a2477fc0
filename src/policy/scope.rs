//! The scope model: resources of a [`Kind`], the levels a scope grants on them, and the
//! verdict on an [`Action`] (the rules are in the [module docs](super)).

use std::fmt;

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
    pub(super) fn approval_level(self) -> &'static str {
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

    pub(super) fn supports(self, action: Action) -> bool {
        self.actions().contains(&action)
    }

    pub(super) fn level_index(self, level: &str) -> Option<usize> {
        self.levels().iter().position(|name| *name == level)
    }

    /// What holding `level` gives: the level itself, plus everything below it if ordered.
    pub(super) fn grant_of_level(self, level: usize) -> LevelSet {
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
    pub(super) fn judge(self, action: Action, held: LevelSet) -> Verdict {
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

/// A set of a resource's levels, by index into [`Kind::levels`] (at most five).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct LevelSet(u8);

impl LevelSet {
    pub(super) const EMPTY: LevelSet = LevelSet(0);

    fn single(index: usize) -> LevelSet {
        let bit = u32::try_from(index)
            .ok()
            .and_then(|shift| 1u8.checked_shl(shift));
        LevelSet(bit.unwrap_or(0))
    }

    fn up_to(index: usize) -> LevelSet {
        (0..=index).fold(LevelSet::EMPTY, |set, i| set.union(LevelSet::single(i)))
    }

    pub(super) fn union(self, other: LevelSet) -> LevelSet {
        LevelSet(self.0 | other.0)
    }

    fn contains(self, index: usize) -> bool {
        let single = LevelSet::single(index);
        single.0 != 0 && self.0 & single.0 == single.0
    }

    pub(super) fn is_subset_of(self, other: LevelSet) -> bool {
        self.0 & !other.0 == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Allowed,
    NeedsApproval,
    Denied,
}

/// A scope that spans resources, offered only when the policy lists it in `coarse_scopes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CoarseScope {
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

    pub(super) fn as_str(self) -> &'static str {
        match self {
            CoarseScope::ReadAll => "read:all",
            CoarseScope::WriteAll => "write:all",
            CoarseScope::Admin => "admin",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<CoarseScope> {
        CoarseScope::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub(super) fn grant_on(self, resource: &Resource) -> LevelSet {
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
pub(super) enum ScopeGrant {
    OnResource { resource: usize, levels: LevelSet },
    Coarse(CoarseScope),
}

/// The resource and action a request needs, as the matching route names them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[derive(Clone, Debug)]
pub(super) struct Group {
    pub(super) name: String,
    pub(super) administrative: bool,
}

#[derive(Clone, Debug)]
pub(super) struct Resource {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) group: Option<String>,
    pub(super) administrative: bool,
    pub(super) description: Option<String>,
}
