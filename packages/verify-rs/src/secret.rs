use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// A secret keygate shares with an origin or a webhook receiver: the HMAC-SHA256 key.
/// `Debug` redacts it.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    pub fn new(bytes: Vec<u8>) -> SigningSecret {
        SigningSecret(bytes)
    }

    /// HMAC-SHA256 under this secret of `parts`, one after the other.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_redacted() {
        let debugged = format!("{:?}", SigningSecret::new(b"origin-shared".to_vec()));
        assert!(!debugged.contains("origin-shared"), "{debugged}");
    }
}
