//! How the CLI ends.

/// How the CLI ends; [`Exit::code`] is the process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Done,
    /// The gateway answered with a refusal (or the policy file is invalid, or `policy diff`
    /// found changes that affect existing keys).
    Refused,
    /// The command line is wrong; nothing was sent.
    Usage,
    /// No answer, or an answer that is not the admin API's JSON.
    Unreachable,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Refused => 1,
            Exit::Usage => 2,
            Exit::Unreachable => 3,
        }
    }
}
