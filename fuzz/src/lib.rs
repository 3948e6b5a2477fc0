//! What the fuzz targets share: the demo policy, splitting an input into parts, and the
//! storage round trip every Durable Object value must survive.

use keygate::policy::Policy;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::OnceLock;

/// A fixed "now" (2030-03-17T17:46:40Z) for targets that do not fuzz the clock.
pub const NOW_MS: u64 = 1_900_000_000_000;

/// The policy the tests use, parsed once per process.
pub fn demo_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::from_toml(include_str!("../../policies/demo.toml")).expect("the demo policy loads")
    })
}

/// Splits an input at 0xFF bytes, which never occur in UTF-8, so each part can be any
/// string (JSON included) and the corpus files stay readable.
pub fn parts(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == 0xff).collect()
}

/// Reads stored JSON the way the edge does (`serde_json::from_str` of the stored string)
/// and checks that what was read is written back and read again unchanged, so a value
/// never drifts across Durable Object restarts.
pub fn stored<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let text = std::str::from_utf8(bytes).ok()?;
    let value: T = serde_json::from_str(text).ok()?;
    assert_round_trips(&value);
    Some(value)
}

/// Serialise, deserialise, serialise again: both writes must be the same bytes.
pub fn assert_round_trips<T: Serialize + DeserializeOwned>(value: &T) {
    let written = serde_json::to_string(value).expect("a stored value serialises");
    let back: T = serde_json::from_str(&written).expect("what keygate writes, it reads back");
    let again = serde_json::to_string(&back).expect("a stored value serialises");
    assert_eq!(
        written, again,
        "a stored value changed across a write and a read"
    );
}

/// One round of percent-decoding, as an origin's URL parser does it (bytes; `%` followed
/// by anything but two hex digits stays as is). Written apart from keygate's own decoder,
/// so the targets check it against something else.
pub fn percent_decode_once(text: &[u8]) -> Vec<u8> {
    decode(text, false)
}

/// As [`percent_decode_once`], with `+` as a space: a form field or query parameter.
pub fn percent_decode_form(text: &[u8]) -> Vec<u8> {
    decode(text, true)
}

fn decode(text: &[u8], plus_is_space: bool) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' && i + 2 < text.len() {
            if let (Some(h), Some(l)) = (hex(text[i + 1]), hex(text[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && text[i] == b'+' {
            b' '
        } else {
            text[i]
        });
        i += 1;
    }
    out
}
