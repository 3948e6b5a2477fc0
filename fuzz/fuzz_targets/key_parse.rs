//! Presented keys and ids: a parsed key is exactly the text presented, and every key
//! keygate generates parses back (and stops parsing after any one-byte change).
#![no_main]

use keygate::approval::ApprovalId;
use keygate::key::{
    contains_key_shape, parse, ApiKey, Environment, KeyFormatError, KeyId, KEY_RANDOM_BYTES,
};
use keygate::queue::QueueShard;
use keygate::session::{contains_token_shape, SessionId, SessionToken};
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
            let shard = id.shard().expect("a valid approval id names its queue");
            assert_eq!(QueueShard::parse(shard.as_str()), Some(shard));
        }
        // "A key of another prefix" only for a whole key of the prefix it starts with.
        if matches!(parse(text, "kg"), Err(KeyFormatError::OtherPrefix)) {
            let (other, _) = text.split_once('_').expect("a key has a prefix");
            assert_ne!(other, "kg");
            assert!(parse(text, other).is_ok());
        }
        // A session token is exactly the text presented, is no key, and is found by the
        // key-in-request check.
        if let Some(token) = SessionToken::parse(text) {
            assert_eq!(token.expose(), text);
            assert!(text.starts_with("kgs_"));
            assert!(parse(text, "kg").is_err() && parse(text, "kgs").is_err());
            assert!(contains_token_shape(text.as_bytes()));
        }
        if let Some(id) = SessionId::parse(text) {
            assert_eq!(id.as_str(), text);
        }
        // Any text that parses as a key is found by the key-in-request check.
        if parse(text, "kg").is_ok() {
            assert!(contains_key_shape(text.as_bytes(), "kg"));
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
        // Wherever it is put, the key-in-request check finds it.
        let (before, after) = rest.split_at(rest.len() / 2);
        let embedded = [before, key.expose().as_bytes(), after].concat();
        assert!(contains_key_shape(&embedded, "kg"), "{embedded:?}");
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
