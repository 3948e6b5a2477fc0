//! Workspaces: the customer accounts keys belong to, and the plan each one is on.
//!
//! A workspace is named by the provider (`acme`, `team-42`); keygate learns of one when its
//! first key is made, a plan is set for it, or a portal session is minted for it. Which
//! plan it is on lives in the key directory, the one place every key of a workspace is
//! listed; each key's Durable Object keeps a copy ([`PlanAssignment`]) so that admission
//! stays one call. The copy is numbered, so an older assignment never replaces a newer one.

use crate::page::ListedId;
use serde::{Deserialize, Serialize};

/// The workspace a key gets when neither the create body nor the acting key names one.
pub const DEFAULT_WORKSPACE: &str = "default";
pub const MAX_WORKSPACE_CHARS: usize = 64;

/// A workspace's name: 1 to 64 letters, digits, `_`, `.` or `-`, starting with a letter or
/// digit. One spelling per workspace: names are compared byte for byte (so `Acme` and
/// `acme` are two workspaces) and nothing percent-decodes them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceName(String);

impl WorkspaceName {
    pub fn parse(text: &str) -> Option<WorkspaceName> {
        let valid = (1..=MAX_WORKSPACE_CHARS).contains(&text.len())
            && text
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        valid.then(|| WorkspaceName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`DEFAULT_WORKSPACE`], the workspace of a key that names none.
    pub fn default_workspace() -> WorkspaceName {
        WorkspaceName(DEFAULT_WORKSPACE.to_string())
    }

    /// The rule, for error messages.
    pub fn rule() -> String {
        format!("1 to {MAX_WORKSPACE_CHARS} characters of letters, digits, `_`, `.` or `-`, starting with a letter or digit")
    }
}

impl TryFrom<String> for WorkspaceName {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        WorkspaceName::parse(&text).ok_or_else(|| format!("a workspace name is {}", Self::rule()))
    }
}

impl From<WorkspaceName> for String {
    fn from(name: WorkspaceName) -> String {
        name.0
    }
}

impl ListedId for WorkspaceName {
    fn parse(text: &str) -> Option<Self> {
        WorkspaceName::parse(text)
    }
    fn as_str(&self) -> &str {
        WorkspaceName::as_str(self)
    }
}

/// Which plan a workspace is on, as set: `plan` is `None` until the root token sets one
/// (the workspace is then on the policy's `default_plan`). `version` counts the changes, so
/// a key's copy can tell an older assignment from a newer one; 0 is "never set".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAssignment {
    pub plan: Option<String>,
    pub version: u64,
}

impl PlanAssignment {
    /// Whether `other` should replace this copy: it is a later change.
    pub fn is_superseded_by(&self, other: &PlanAssignment) -> bool {
        other.version > self.version
    }
}

/// A workspace as the directory holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceName,
    pub assignment: PlanAssignment,
    /// When keygate first learnt of the workspace.
    pub created_at: u64,
    /// When its plan was last set; `None` while it was never set.
    pub plan_set_at: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_follow_the_rule() {
        for good in ["acme", "a", "Team-42", "a.b_c-d", &"x".repeat(64)] {
            assert!(WorkspaceName::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "-acme",
            ".x",
            "a b",
            "a/b",
            "%61cme",
            "é",
            &"x".repeat(65),
        ] {
            assert!(WorkspaceName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_default_workspace_is_a_valid_name() {
        assert_eq!(
            WorkspaceName::parse(DEFAULT_WORKSPACE),
            Some(WorkspaceName::default_workspace())
        );
    }

    #[test]
    fn a_name_reads_back_only_when_valid() {
        let name: WorkspaceName = serde_json::from_str("\"acme\"").expect("valid");
        assert_eq!(name.as_str(), "acme");
        assert!(serde_json::from_str::<WorkspaceName>("\"a/b\"").is_err());
        assert_eq!(serde_json::to_string(&name).expect("writes"), "\"acme\"");
    }

    #[test]
    fn only_a_later_assignment_supersedes() {
        let current = PlanAssignment {
            plan: Some("pro".into()),
            version: 3,
        };
        let older = PlanAssignment {
            plan: Some("free".into()),
            version: 2,
        };
        let newer = PlanAssignment {
            plan: None,
            version: 4,
        };
        assert!(!current.is_superseded_by(&older));
        assert!(!current.is_superseded_by(&current.clone()));
        assert!(current.is_superseded_by(&newer));
    }

    proptest! {
        #[test]
        fn parsed_names_are_one_url_segment(text in "\\PC{0,70}") {
            if let Some(name) = WorkspaceName::parse(&text) {
                prop_assert!(!name.as_str().contains(['/', '%', '?', '#']));
                prop_assert_eq!(name.as_str(), text.as_str());
            }
        }
    }
}
