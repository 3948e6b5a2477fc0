//! Presented keys and ids: a parsed key is exactly the text presented, and every key
//! keygate generates parses back (and stops parsing after any one-byte change).
#![no_main]

use keygate::approval::ApprovalId;
use keygate::key::{parse, ApiKey, Environment, KeyFormatError, KeyId, KEY_RANDOM_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for prefix in ["kg", "tp"] {
            if let Ok(parsed) = parse(text, prefix) {
                assert_eq!(parsed.key.expose(), text);
                let expected = format!("{prefix}_{}_", parsed.environment.as_str());
                assert!(text.starts_with(&expected));
                assert!(parsed.key.hint().starts_with(&expected));
            }
        }
        if let Some(id) = KeyId::parse(text) {
            assert_eq!(id.as_str(), text);
        }
        if let Some(id) = ApprovalId::parse(text) {
            assert_eq!(id.as_str(), text);
        }
    }
    // Generated keys: the first bytes are the randomness, the next pick a byte to change.
    if let Some((random, rest)) = data.split_first_chunk::<KEY_RANDOM_BYTES>() {
        let environment = match rest.first() {
            Some(b) if b & 1 == 1 => Environment::Test,
            _ => Environment::Live,
        };
        let key = ApiKey::generate("kg", environment, random);
        let parsed = parse(key.expose(), "kg").expect("a generated key parses");
        assert_eq!(parsed.environment, environment);
        if let [_, position, replacement, ..] = rest {
            let mut changed = key.expose().as_bytes().to_vec();
            let at = usize::from(*position) % changed.len();
            changed[at] = *replacement;
            if let Ok(changed) = String::from_utf8(changed) {
                if changed != key.expose() {
                    let refused = parse(&changed, "kg").expect_err("a changed key is refused");
                    assert!(matches!(
                        refused,
                        KeyFormatError::Malformed | KeyFormatError::ChecksumMismatch
                    ));
                }
            }
        }
    }
});
