//! API keys: their format, their checksum, and the hash that is all keygate stores.
//!
//! A key reads `<prefix>_<live|test>_<body><checksum>`, e.g. `kg_live_` followed by 39
//! base62 characters: 33 encode 192 random bits, the last 6 encode a CRC-32 of everything
//! before them. The checksum lets the gateway refuse a mistyped or made-up key without
//! touching storage, the way GitHub's token format does.
//!
//! ```
//! use keygate::key::{parse, ApiKey, Environment};
//! let key = ApiKey::generate("kg", Environment::Live, &[7u8; 24]);
//! assert!(parse(key.expose(), "kg").is_ok());
//! assert!(parse("kg_live_not-a-key", "kg").is_err());
//! ```

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random bytes in a key body: 192 bits, well above the 128 the format promises.
pub const KEY_RANDOM_BYTES: usize = 24;
/// 62^33 > 2^192, so 33 base62 characters hold 24 bytes without bias.
pub(crate) const BODY_CHARS: usize = 33;
/// 62^6 > 2^32, so 6 base62 characters hold a CRC-32.
pub(crate) const CHECKSUM_CHARS: usize = 6;
/// Random bytes in a key id; ids are public, they only need to be unique.
pub const KEY_ID_RANDOM_BYTES: usize = 16;
const ID_CHARS: usize = 22;
const ID_PREFIX: &str = "key_";

/// Which kind of traffic a key is for: `live` keys reach production data, `test` keys
/// never act on live keys or approvals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    fn from_str(text: &str) -> Option<Environment> {
        match text {
            "live" => Some(Environment::Live),
            "test" => Some(Environment::Test),
            _ => None,
        }
    }
}

/// A plain API key. It exists in memory only: shown once at creation, hashed on every
/// request, never stored, logged or printed (`Debug` redacts it).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    /// Builds a key from `KEY_RANDOM_BYTES` bytes of the platform's CSPRNG.
    pub fn generate(
        prefix: &str,
        environment: Environment,
        random: &[u8; KEY_RANDOM_BYTES],
    ) -> ApiKey {
        let mut key = format!("{prefix}_{}_", environment.as_str());
        key.push_str(&base62_fixed(random, BODY_CHARS));
        key.push_str(&checksum(&key));
        ApiKey(key)
    }

    /// The secret itself, for the one response that shows it and for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What lists show instead of the key: the prefix and the last 4 characters.
    pub fn hint(&self) -> String {
        hint_of(&self.0)
    }
}

fn hint_of(key: &str) -> String {
    let prefix_end = key.rfind('_').map_or(0, |i| i + 1);
    let tail_start = key.len().saturating_sub(4).max(prefix_end);
    format!(
        "{}…{}",
        key.get(..prefix_end).unwrap_or(""),
        key.get(tail_start..).unwrap_or("")
    )
}

/// Why a presented key was refused before any storage access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormatError {
    /// Wrong prefix, environment, length or alphabet.
    Malformed,
    /// A whole key, checksum and all, but under another prefix: issued before the policy's
    /// `key_prefix` changed (or by another deployment). Saying so reveals nothing: anyone
    /// can compute the public checksum, and the prefix is in every key.
    OtherPrefix,
    /// Well formed, but the checksum does not match: a typo or a made-up key.
    ChecksumMismatch,
}

/// A key that passed the format and checksum checks.
#[derive(Debug)]
pub struct ParsedKey {
    pub key: ApiKey,
    pub environment: Environment,
}

/// Checks a presented key's shape and checksum. Pure; touches no storage.
pub fn parse(text: &str, prefix: &str) -> Result<ParsedKey, KeyFormatError> {
    parse_with_prefix(text, prefix).map_err(|error| match text.split_once('_') {
        Some((other, _))
            if error == KeyFormatError::Malformed
                && other != prefix
                && is_key_prefix(other)
                && parse_with_prefix(text, other).is_ok() =>
        {
            KeyFormatError::OtherPrefix
        }
        _ => error,
    })
}

/// The policy's rule for a prefix: a lowercase letter, then 1 to 9 lowercase letters or digits.
fn is_key_prefix(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && (2..=10).contains(&text.len())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn parse_with_prefix(text: &str, prefix: &str) -> Result<ParsedKey, KeyFormatError> {
    let rest = text
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .ok_or(KeyFormatError::Malformed)?;
    let (environment, tail) = rest.split_once('_').ok_or(KeyFormatError::Malformed)?;
    let environment = Environment::from_str(environment).ok_or(KeyFormatError::Malformed)?;
    if tail.len() != BODY_CHARS + CHECKSUM_CHARS || !tail.bytes().all(is_base62) {
        return Err(KeyFormatError::Malformed);
    }
    if !checksum_matches(text) {
        return Err(KeyFormatError::ChecksumMismatch);
    }
    Ok(ParsedKey {
        key: ApiKey(text.to_string()),
        environment,
    })
}

/// The checksum that ends a token: a CRC-32 of everything before it, as
/// [`CHECKSUM_CHARS`] base62 digits. Keys and portal session tokens share it.
pub(crate) fn checksum(signed: &str) -> String {
    base62_fixed(
        &crc32fast::hash(signed.as_bytes()).to_be_bytes(),
        CHECKSUM_CHARS,
    )
}

/// Whether `text` ends in the checksum of the rest. `text` is ASCII (its caller checked
/// the alphabet), and one shorter than a checksum never matches.
pub(crate) fn checksum_matches(text: &str) -> bool {
    let Some(split) = text.len().checked_sub(CHECKSUM_CHARS) else {
        return false;
    };
    match (text.get(..split), text.get(split..)) {
        (Some(signed), Some(sum)) => sum == checksum(signed),
        _ => false,
    }
}

/// Whether `text` holds something shaped like a key with this prefix: the prefix, `_live_`
/// or `_test_`, then at least a key's 39 base62 characters. The checksum is not checked
/// on purpose: a key with one character wrong still gives most of a secret away.
pub fn contains_key_shape(text: &[u8], prefix: &str) -> bool {
    let prefix = prefix.as_bytes();
    if prefix.is_empty() {
        return false;
    }
    (0..text.len()).any(|at| {
        let Some(rest) = text.get(at..).and_then(|rest| rest.strip_prefix(prefix)) else {
            return false;
        };
        [Environment::Live, Environment::Test]
            .iter()
            .any(|environment| {
                let tail = rest
                    .strip_prefix(b"_")
                    .and_then(|r| r.strip_prefix(environment.as_str().as_bytes()))
                    .and_then(|r| r.strip_prefix(b"_"));
                tail.and_then(|tail| tail.get(..BODY_CHARS + CHECKSUM_CHARS))
                    .is_some_and(|chars| chars.iter().copied().all(is_base62))
            })
    })
}

/// The server-side secret under which keys are hashed (a Worker secret).
#[derive(Clone)]
pub struct HashingSecret(Vec<u8>);

impl fmt::Debug for HashingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashingSecret(<redacted>)")
    }
}

impl HashingSecret {
    pub fn new(bytes: Vec<u8>) -> HashingSecret {
        HashingSecret(bytes)
    }
}

/// The version of the hash scheme below. A new scheme gets a new number, so stored
/// records can be migrated lazily: look up under the new version, fall back to the old.
pub const HASH_VERSION: u8 = 1;

/// HMAC-SHA256 of a key under the [`HashingSecret`], hex-encoded: the only form of a key
/// that keygate stores. `Debug` redacts it; it is a secret's fingerprint.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHash {
    pub version: u8,
    hex: String,
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash(v{}, <redacted>)", self.version)
    }
}

/// A secret's name in the KV index, `h1:<hmac hex>`. It carries the hash, so its `Debug`
/// is redacted like [`KeyHash`]'s; read it with `as_str` (or through `Deref`) where KV needs it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IndexName(String);

impl IndexName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for IndexName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IndexName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndexName(<redacted>)")
    }
}

impl KeyHash {
    /// The Workers KV name under which the key's id is indexed.
    pub fn index_name(&self) -> IndexName {
        IndexName(format!("h{}:{}", self.version, self.hex))
    }

    /// Compares in constant time, so the comparison leaks nothing about a stored hash.
    pub fn matches(&self, other: &KeyHash) -> bool {
        use subtle::ConstantTimeEq;
        self.version == other.version && bool::from(self.hex.as_bytes().ct_eq(other.hex.as_bytes()))
    }
}

pub fn hash_key(secret: &HashingSecret, key: &ApiKey) -> KeyHash {
    KeyHash {
        version: HASH_VERSION,
        hex: secret.mac_hex(&[key.0.as_bytes()]),
    }
}

impl HashingSecret {
    /// HMAC-SHA256 under this secret of `parts` one after the other, hex-encoded. Other
    /// secrets hashed under it (portal session tokens) start with a label of their own,
    /// so no two kinds of secret can hash alike.
    pub(crate) fn mac_hex(&self, parts: &[&[u8]]) -> String {
        // new_from_slice only fails for fixed-size keys; HMAC takes any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        for part in parts {
            mac.update(part);
        }
        to_hex(&mac.finalize().into_bytes())
    }
}

/// A key's public identifier, e.g. `key_3x9…`: what admin URLs and identity headers use.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    pub fn generate(random: &[u8; KEY_ID_RANDOM_BYTES]) -> KeyId {
        KeyId(format!("{ID_PREFIX}{}", base62_fixed(random, ID_CHARS)))
    }

    /// Accepts only ids this module could have made, so a path segment never reaches storage unchecked.
    pub fn parse(text: &str) -> Option<KeyId> {
        let body = text.strip_prefix(ID_PREFIX)?;
        (body.len() == ID_CHARS && body.bytes().all(is_base62)).then(|| KeyId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Encodes a big-endian number as exactly `width` base62 digits (most significant first).
/// `width` must be large enough for the input; every caller passes a constant that is.
pub(crate) fn base62_fixed(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        // Long division of `number` by 62; the remainder is the next digit.
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        *slot = BASE62[remainder as usize];
    }
    String::from_utf8(digits).unwrap_or_default()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Both indexes are below 16 by construction.
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> ApiKey {
        ApiKey::generate("kg", Environment::Live, &[seed; KEY_RANDOM_BYTES])
    }

    #[test]
    fn key_shapes_are_found_anywhere_in_a_text() {
        let text = key(3).expose().to_string();
        for around in [
            text.clone(),
            format!("api_key={text}&x=1"),
            format!("/v1/{text}/x"),
            // A key with a typo, or followed by more characters, still gives it away.
            format!("{}X", &text[..text.len() - 1]),
            format!("{text}ZZ"),
        ] {
            assert!(contains_key_shape(around.as_bytes(), "kg"), "{around}");
        }
        let test_key = ApiKey::generate("kg", Environment::Test, &[4; KEY_RANDOM_BYTES]);
        assert!(contains_key_shape(test_key.expose().as_bytes(), "kg"));
        for other in [
            text[..text.len() - 1].to_string(),
            text.replacen("kg_", "tp_", 1),
            text.replacen("_live_", "_prod_", 1),
            "kg_live_".to_string(),
            String::new(),
        ] {
            assert!(!contains_key_shape(other.as_bytes(), "kg"), "{other}");
        }
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = key(1);
        let text = k.expose();
        assert!(text.starts_with("kg_live_"));
        assert_eq!(text.len(), "kg_live_".len() + BODY_CHARS + CHECKSUM_CHARS);
        let parsed = parse(text, "kg").unwrap();
        assert_eq!(parsed.environment, Environment::Live);
        let test_key = ApiKey::generate("tp", Environment::Test, &[9; KEY_RANDOM_BYTES]);
        assert!(test_key.expose().starts_with("tp_test_"));
        assert!(parse(test_key.expose(), "tp").is_ok());
    }

    #[test]
    fn different_randomness_gives_different_keys() {
        assert_ne!(key(1).expose(), key(2).expose());
    }

    #[test]
    fn refuses_wrong_prefix_environment_length_alphabet() {
        let good = key(3).expose().to_string();
        let cases = [
            good.replacen("kg_", "gk_", 1),
            good.replacen("_live_", "_prod_", 1),
            good[..good.len() - 1].to_string(),
            format!("{good}A"),
            good.replacen('_', "-", 1),
            format!("{}-{}", &good[..12], &good[13..]),
            String::new(),
            "kg_live_".to_string(),
        ];
        for bad in cases {
            assert_eq!(
                parse(&bad, "kg").unwrap_err(),
                KeyFormatError::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_whole_key_of_another_prefix_is_told_apart() {
        let old = ApiKey::generate("acme", Environment::Test, &[7; KEY_RANDOM_BYTES]);
        assert_eq!(
            parse(old.expose(), "kg").unwrap_err(),
            KeyFormatError::OtherPrefix
        );
        assert!(parse(old.expose(), "acme").is_ok());
        // Garbage under another prefix, or a key of it with a typo, is only malformed.
        let mut typo = old.expose().to_string();
        typo.replace_range(10..11, if &typo[10..11] == "a" { "b" } else { "a" });
        for bad in [
            typo,
            "acme_live_short".to_string(),
            old.expose().replacen("acme", "Acme", 1),
        ] {
            assert_eq!(
                parse(&bad, "kg").unwrap_err(),
                KeyFormatError::Malformed,
                "{bad}"
            );
        }
        // A key of this prefix never is.
        let own = key(8).expose().to_string();
        assert!(parse(&own, "kg").is_ok());
        assert_eq!(
            parse(&own[..own.len() - 1], "kg").unwrap_err(),
            KeyFormatError::Malformed
        );
    }

    #[test]
    fn a_single_typo_fails_the_checksum() {
        let good = key(4).expose().to_string();
        let mut bytes = good.clone().into_bytes();
        let i = "kg_live_".len() + 5;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert_eq!(
            parse(&typo, "kg").unwrap_err(),
            KeyFormatError::ChecksumMismatch
        );
    }

    #[test]
    fn hint_shows_prefix_and_last_four_only() {
        let k = key(5);
        let hint = k.hint();
        assert!(hint.starts_with("kg_live_…"));
        assert!(hint.ends_with(&k.expose()[k.expose().len() - 4..]));
        assert_eq!(hint.chars().count(), "kg_live_…".chars().count() + 4);
    }

    #[test]
    fn hashes_depend_on_secret_and_key_and_compare_in_constant_time() {
        let a = HashingSecret::new(b"secret-a".to_vec());
        let b = HashingSecret::new(b"secret-b".to_vec());
        let h1 = hash_key(&a, &key(6));
        assert!(h1.matches(&hash_key(&a, &key(6))));
        assert!(!h1.matches(&hash_key(&b, &key(6))));
        assert!(!h1.matches(&hash_key(&a, &key(7))));
        assert!(h1.index_name().starts_with("h1:"));
        assert_eq!(h1.index_name().len(), 3 + 64);
    }

    #[test]
    fn hash_matches_rfc_4231_style_hmac() {
        // HMAC-SHA256(key = "key", msg = "The quick brown fox jumps over the lazy dog")
        let secret = HashingSecret::new(b"key".to_vec());
        let fox = ApiKey("The quick brown fox jumps over the lazy dog".to_string());
        assert_eq!(
            hash_key(&secret, &fox).index_name().as_str(),
            "h1:f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let k = key(8);
        let secret = HashingSecret::new(b"hush".to_vec());
        let hash = hash_key(&secret, &k);
        let printed = format!(
            "{k:?} {secret:?} {hash:?} {:?}",
            parse(k.expose(), "kg").unwrap()
        );
        assert!(!printed.contains(k.expose()));
        assert!(!printed.contains("hush"));
        assert!(!printed.contains(&hash.index_name()[3..]));
    }

    #[test]
    fn key_ids_round_trip_and_refuse_anything_else() {
        let id = KeyId::generate(&[1; KEY_ID_RANDOM_BYTES]);
        assert_eq!(KeyId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(KeyId::parse("key_../../etc"), None);
        assert_eq!(KeyId::parse(&format!("{}x", id.as_str())), None);
        assert_eq!(KeyId::parse(""), None);
    }

    #[test]
    fn base62_is_exact_for_known_values() {
        assert_eq!(base62_fixed(&[0], 3), "000");
        assert_eq!(base62_fixed(&[61], 2), "0z");
        assert_eq!(base62_fixed(&[0, 62], 2), "10");
        assert_eq!(base62_fixed(&[0xff; 4], 6), "4gfFC3");
    }

    proptest! {
        #[test]
        fn every_generated_key_is_found_in_any_surrounding(seed in any::<[u8; KEY_RANDOM_BYTES]>(), before in "[ -~]{0,20}", after in "[ -~]{0,20}") {
            let key = ApiKey::generate("kg", Environment::Live, &seed);
            let text = format!("{before}{}{after}", key.expose());
            prop_assert!(contains_key_shape(text.as_bytes(), "kg"));
        }

        #[test]
        fn every_generated_key_parses(random in any::<[u8; KEY_RANDOM_BYTES]>(), test_env in any::<bool>()) {
            let env = if test_env { Environment::Test } else { Environment::Live };
            let k = ApiKey::generate("kg", env, &random);
            let parsed = parse(k.expose(), "kg").unwrap();
            prop_assert_eq!(parsed.environment, env);
        }

        #[test]
        fn any_single_character_change_is_refused(random in any::<[u8; KEY_RANDOM_BYTES]>(), pos in 0usize..47, replacement in "[0-9A-Za-z_-]") {
            let k = ApiKey::generate("kg", Environment::Live, &random);
            let text = k.expose();
            let pos = pos % text.len();
            let mut changed = text.to_string();
            changed.replace_range(pos..pos + 1, &replacement);
            prop_assume!(changed != text);
            prop_assert!(parse(&changed, "kg").is_err());
        }

        #[test]
        fn parse_never_panics(text in ".{0,80}") {
            let _ = parse(&text, "kg");
            let _ = KeyId::parse(&text);
        }
    }
}
