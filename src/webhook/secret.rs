//! A rejection webhook's signing secrets: each key with a `rejection_webhook` has its own,
//! so one tenant's receiver can never sign a notice another tenant's would accept.
//!
//! keygate draws a secret when a key's webhook is set or changed and shows it once, in
//! that answer. It is kept as is, not hashed, because signing needs it (an HMAC key), and
//! only in the key's Durable Object, beside the key's secrets' hashes: never in the key
//! record (which the key directory copies), an approval, a response after the first, or
//! `Debug`. A rotation keeps the previous secret signing for a grace period, so a receiver
//! can switch without missing a notice: deliveries then carry both signatures.

use crate::identity::SigningSecret;
use crate::key::base62_fixed;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
pub const WEBHOOK_SECRET_RANDOM_BYTES: usize = 32;
/// 43 base62 digits hold 256 bits.
const WEBHOOK_SECRET_DIGITS: usize = 43;
/// A rotation never leaves more than this many secrets signing at once: the new one and
/// the one before it. Rotating again ends the older grace at once.
pub const MAX_LIVE_WEBHOOK_SECRETS: usize = 2;

/// `whsec_` and 43 base62 characters. The whole text, prefix included, is the HMAC key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    pub fn generate(random: &[u8; WEBHOOK_SECRET_RANDOM_BYTES]) -> WebhookSecret {
        WebhookSecret(format!(
            "{WEBHOOK_SECRET_PREFIX}{}",
            base62_fixed(random, WEBHOOK_SECRET_DIGITS)
        ))
    }

    /// The text to show once, in the answer that issued it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn signing_secret(&self) -> SigningSecret {
        SigningSecret::new(self.0.as_bytes().to_vec())
    }
}

/// One secret and, once rotated out, when it stops signing (exclusive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookSigner {
    pub secret: WebhookSecret,
    pub valid_until: Option<u64>,
}

impl WebhookSigner {
    fn is_live(&self, now_ms: u64) -> bool {
        self.valid_until.is_none_or(|until| now_ms < until)
    }
}

/// A key's webhook signing secrets, oldest first; the last is the current one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecrets(Vec<WebhookSigner>);

impl WebhookSecrets {
    /// Only `secret`, for a receiver that is new: nothing before it may sign for it.
    pub fn issue(secret: WebhookSecret) -> WebhookSecrets {
        WebhookSecrets(vec![WebhookSigner {
            secret,
            valid_until: None,
        }])
    }

    /// None: the key has no webhook, or one set before keys had their own secrets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Makes `fresh` the current secret; the others sign for `grace_ms` more (never past
    /// an earlier end), at most [`MAX_LIVE_WEBHOOK_SECRETS`] at once. Returns when the
    /// previous current secret stops signing.
    pub fn rotate(&mut self, fresh: WebhookSecret, grace_ms: u64, now_ms: u64) -> u64 {
        let previous_valid_until = now_ms.saturating_add(grace_ms);
        self.0.retain(|old| old.is_live(now_ms));
        for old in &mut self.0 {
            let until = old.valid_until.unwrap_or(previous_valid_until);
            old.valid_until = Some(until.min(previous_valid_until));
        }
        let excess = self.0.len().saturating_sub(MAX_LIVE_WEBHOOK_SECRETS - 1);
        self.0.drain(..excess);
        self.0.retain(|old| old.is_live(now_ms));
        self.0.push(WebhookSigner {
            secret: fresh,
            valid_until: None,
        });
        previous_valid_until
    }

    /// The secrets that sign a delivery made at `now_ms`, the current one first.
    pub fn live(&self, now_ms: u64) -> Vec<WebhookSecret> {
        self.0
            .iter()
            .rev()
            .filter(|signer| signer.is_live(now_ms))
            .map(|signer| signer.secret.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_900_000_000_000;

    fn secret(seed: u8) -> WebhookSecret {
        WebhookSecret::generate(&[seed; WEBHOOK_SECRET_RANDOM_BYTES])
    }

    #[test]
    fn a_secret_is_recognisable_and_never_debugged() {
        let text = secret(7).expose().to_string();
        assert!(text.starts_with("whsec_") && text.len() == 6 + 43, "{text}");
        assert!(text[6..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(secret(7), secret(8));
        let debugged = format!("{:?}", WebhookSecrets::issue(secret(7)));
        assert!(!debugged.contains(&text[6..]), "{debugged}");
        assert!(debugged.contains("<redacted>"));
        // Stored as the plain string: signing needs it.
        assert_eq!(serde_json::to_value(secret(7)).unwrap(), text.as_str());
    }

    #[test]
    fn rotation_keeps_the_previous_secret_for_the_grace_only() {
        let mut secrets = WebhookSecrets::issue(secret(1));
        assert_eq!(secrets.live(NOW), vec![secret(1)]);
        assert_eq!(secrets.rotate(secret(2), 60_000, NOW), NOW + 60_000);
        assert_eq!(secrets.live(NOW), vec![secret(2), secret(1)]);
        assert_eq!(secrets.live(NOW + 59_999), vec![secret(2), secret(1)]);
        assert_eq!(secrets.live(NOW + 60_000), vec![secret(2)]);
        // Rotating again within the grace ends the oldest at once: two at most.
        secrets.rotate(secret(3), 60_000, NOW + 1);
        assert_eq!(secrets.live(NOW + 1), vec![secret(3), secret(2)]);
        // Grace 0: the previous secret stops now.
        secrets.rotate(secret(4), 0, NOW + 2);
        assert_eq!(secrets.live(NOW + 2), vec![secret(4)]);
    }

    proptest! {
        #[test]
        fn rotations_keep_one_current_and_at_most_two_live(
            steps in prop::collection::vec((0u64..100_000, 0u64..50_000), 1..12),
        ) {
            let mut secrets = WebhookSecrets::issue(secret(0));
            let mut now = NOW;
            for (i, (grace, wait)) in steps.into_iter().enumerate() {
                now += wait;
                let fresh = secret(i as u8 + 1);
                secrets.rotate(fresh.clone(), grace, now);
                let live = secrets.live(now);
                prop_assert_eq!(live.first(), Some(&fresh));
                prop_assert!(live.len() <= MAX_LIVE_WEBHOOK_SECRETS);
                prop_assert!(secrets.0.len() <= MAX_LIVE_WEBHOOK_SECRETS);
                prop_assert!(secrets.live(now + grace).len() == 1);
            }
        }
    }
}
