//! Host names as the runtime's URL parser reads them, where the Worker's own parser cannot.
//!
//! The `url` crate in this build has no Unicode tables (Cargo.toml, `idna_adapter`): it
//! refuses a host that is not ASCII, and passes an ASCII `xn--` (Punycode) label unchecked,
//! where the runtime's parser decodes it and refuses it unless it is a valid international
//! label. [`punycode_labels_decode`] refuses the labels that cannot be one.
//!
//! ```
//! use keygate::hostname::punycode_labels_decode;
//! assert!(punycode_labels_decode("xn--bcher-kva.example")); // bücher.example
//! assert!(!punycode_labels_decode("xn--a.com")); // decodes to a control character
//! assert!(punycode_labels_decode("api.example.com"));
//! ```

/// Whether every `xn--` label of `host` decodes to what could be an international label:
/// not empty, not plain ASCII, no control character. The runtime also checks a decoded
/// label against Unicode's tables (UTS 46); a label that passes here and fails there makes
/// `fetch` fail, it never reaches another host.
pub fn punycode_labels_decode(host: &str) -> bool {
    host.split('.').all(|label| {
        let encoded = label
            .get(..4)
            .filter(|prefix| prefix.eq_ignore_ascii_case("xn--"))
            .and_then(|_| label.get(4..));
        let Some(encoded) = encoded else {
            return true;
        };
        idna::punycode::decode_to_string(encoded).is_some_and(|decoded| {
            !decoded.is_empty() && !decoded.is_ascii() && !decoded.chars().any(char::is_control)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn labels_that_decode_to_no_international_label_are_refused() {
        for host in [
            "xn--a.com",
            "a.xn--.com",
            "xn--abc-.example",
            "XN--9.example",
            "xn--zz",
        ] {
            assert!(!punycode_labels_decode(host), "{host}");
        }
        for host in [
            "xn--ls8h.la",
            "XN--BCHER-KVA.example",
            "xn-a.example",
            "localhost",
            "[::1]",
            "",
        ] {
            assert!(punycode_labels_decode(host), "{host}");
        }
    }

    proptest! {
        #[test]
        fn any_host_is_judged_without_panicking(host in "\\PC{0,40}") {
            let _ = punycode_labels_decode(&host);
        }
    }
}
