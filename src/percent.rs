//! Percent-decoding the way origins do it: once, and leniently.
//!
//! A `%` not followed by two hex digits stays as it is (what WHATWG URL parsers, Rack, PHP
//! and Werkzeug all do), so what keygate checks is what the origin will read.
//!
//! ```
//! use keygate::percent::{decode, decode_form};
//! assert_eq!(&*decode(b"_%6Dethod"), b"_method");
//! assert_eq!(&*decode(b"100%"), b"100%");
//! assert_eq!(&*decode_form(b"a+b%2Bc"), b"a b+c");
//! ```

use percent_encoding::percent_decode;
use std::borrow::Cow;

/// Decodes `%XX` escapes (either case of hex) once.
pub fn decode(bytes: &[u8]) -> Cow<'_, [u8]> {
    percent_decode(bytes).into()
}

/// As [`decode`], and `+` is a space: `application/x-www-form-urlencoded` names and values.
pub fn decode_form(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.contains(&b'+') {
        return decode(bytes);
    }
    // Spaces first, so an escaped `%2B` stays a plus.
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    Cow::Owned(percent_decode(&spaced).collect())
}

/// The byte a `%XX` escape starting at `at` stands for, if it is one.
pub fn escaped_byte(bytes: &[u8], at: usize) -> Option<u8> {
    match bytes.get(at..at + 3)? {
        [b'%', high, low] => Some(hex_value(*high)? << 4 | hex_value(*low)?),
        _ => None,
    }
}

/// A hex digit's value, either case.
pub fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_escapes_once_in_either_case() {
        assert_eq!(&*decode(b"%5F%6d%65%74%68%6F%64"), b"_method");
        assert_eq!(&*decode(b"%255F"), b"%5F");
        assert_eq!(&*decode(b"%0d%0A"), b"\r\n");
    }

    #[test]
    fn leaves_what_is_not_an_escape() {
        for text in [&b"%"[..], b"%4", b"%zz", b"%+5", b"%-1", b"a%", b"%%41"] {
            let expected: &[u8] = if text == b"%%41" { b"%A" } else { text };
            assert_eq!(
                &*decode(text),
                expected,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        assert_eq!(&*decode(b"a+b"), b"a+b");
        assert!(matches!(decode(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_form_plus_is_a_space_and_an_escaped_one_a_plus() {
        assert_eq!(&*decode_form(b"+%2B%2b+"), b" ++ ");
        assert_eq!(&*decode_form(b"%+41+%"), b"% 41 %");
        assert!(matches!(decode_form(b"plain"), Cow::Borrowed(_)));
    }

    /// The rule as the module states it, byte by byte: what the crate must do exactly.
    fn model(bytes: &[u8], plus_is_space: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&byte) = bytes.get(i) {
            if let Some(decoded) = escaped_byte(bytes, i) {
                out.push(decoded);
                i += 3;
            } else {
                out.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                i += 1;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn decodes_exactly_as_the_rule_says(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'%'), Just(b'+'), Just(b'a'), Just(b'F'), Just(b'0'), Just(b'g'), any::<u8>()],
                0..24,
            )
        ) {
            prop_assert_eq!(decode(&bytes).into_owned(), model(&bytes, false));
            prop_assert_eq!(decode_form(&bytes).into_owned(), model(&bytes, true));
        }

        #[test]
        fn decoding_an_encoding_gives_the_bytes_back(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded: String = bytes.iter().map(|b| format!("%{b:02x}")).collect();
            prop_assert_eq!(decode(encoded.as_bytes()).into_owned(), bytes);
        }

        #[test]
        fn never_longer_than_the_input(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(decode_form(&bytes).len() <= bytes.len());
        }
    }
}
