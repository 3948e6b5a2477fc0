//! The approval queue: requests a key may make only with a human's approval.
//!
//! A key whose grant on a resource is exactly an `<action>-approval` level does not reach
//! the origin: keygate stores the request (an [`Approval`]) and answers 202. A reviewer
//! (the root token, or a key holding `approvals:write` in the same workspace) approves it,
//! and keygate then sends it to the origin once, or rejects it, and keygate tells the key's
//! rejection webhook.

use crate::key::base62_fixed;
use serde::{Deserialize, Serialize};
use std::fmt;

const ID_PREFIX: &str = "apr_";
const ID_CHARS: usize = 22;
/// Random bytes behind an approval id: 128 bits, like a key id.
pub const APPROVAL_ID_RANDOM_BYTES: usize = 16;

/// An approval's public identifier, e.g. `apr_3x9…` (22 base62 characters after `apr_`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovalId(String);

impl ApprovalId {
    pub fn generate(random: &[u8; APPROVAL_ID_RANDOM_BYTES]) -> ApprovalId {
        ApprovalId(format!("{ID_PREFIX}{}", base62_fixed(random, ID_CHARS)))
    }

    /// Accepts only ids this module could have made, so a path segment never reaches
    /// storage unchecked.
    pub fn parse(text: &str) -> Option<ApprovalId> {
        let body = text.strip_prefix(ID_PREFIX)?;
        (body.len() == ID_CHARS && body.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| ApprovalId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_in_their_own_shape() {
        let id = ApprovalId::generate(&[0xab; APPROVAL_ID_RANDOM_BYTES]);
        assert!(id.as_str().starts_with("apr_"));
        assert_eq!(id.as_str().len(), 4 + 22);
        assert_eq!(ApprovalId::parse(id.as_str()), Some(id.clone()));
        for bad in [
            "",
            "apr_",
            "key_AAAAAAAAAAAAAAAAAAAAAA",
            "apr_AAAAAAAAAAAAAAAAAAAAA",
            "apr_AAAAAAAAAAAAAAAAAAAAAAA",
            "apr_AAAAAAAAAAAAAAAAAAAAA-",
        ] {
            assert_eq!(ApprovalId::parse(bad), None, "{bad}");
        }
    }
}
