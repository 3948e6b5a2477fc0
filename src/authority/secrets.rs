//! A key's secrets, by their hashes: the current one and those a rotation retired.

use crate::key::KeyHash;
use serde::{Deserialize, Serialize};

/// One secret of a key, by its hash. The current secret has no end; a rotated-out one
/// works until `valid_until` (exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    pub hash: KeyHash,
    pub valid_until: Option<u64>,
    /// Names the secret without revealing anything of it, so a queued request can say which
    /// secret sent it ([`super::Command::Recheck`]). Unique among the key's secrets; 0 in secrets
    /// stored before serials existed, which [`number_secrets`] makes unique on load.
    #[serde(default)]
    pub serial: u64,
}

impl Secret {
    pub(super) fn is_live(&self, now_ms: u64) -> bool {
        self.valid_until.is_none_or(|until| now_ms < until)
    }
}

/// Gives secrets stored before serials existed (all 0) serials of their own, by their
/// stored order; secrets that already have distinct serials are left as they are. The
/// same stored list always gets the same serials, so this may run on every load.
pub fn number_secrets(secrets: &mut [Secret]) {
    let mut seen = std::collections::BTreeSet::new();
    if secrets.iter().all(|secret| seen.insert(secret.serial)) {
        return;
    }
    for (serial, secret) in (1..).zip(secrets.iter_mut()) {
        secret.serial = serial;
    }
}

/// A rotation never leaves more than this many secrets working at once; rotating again
/// ends the oldest grace period at once.
pub const MAX_LIVE_SECRETS: usize = 3;
