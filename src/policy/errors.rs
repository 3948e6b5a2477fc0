//! What a refused policy file reports: every problem with where it is ([`PolicyProblem`]),
//! or the first syntax error ([`PolicyError`]); and the list validation collects them in.

use std::fmt;

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

#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<PolicyProblem>);

impl Problems {
    pub(super) fn add(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyProblem {
            location: location.into(),
            message: message.into(),
        });
    }
}
