//! Where a rejection webhook may point: what the platform's `fetch` would reach, read the
//! way it reads it.
//!
//! A URL's host is read with a WHATWG URL parser (the `url` crate), the standard the
//! Workers runtime's `fetch` follows, so a host that the runtime turns into an address
//! (`2130706433`, `0x7f.1`, `127.1`, `0177.0.0.1`, `::ffff:7f00:1`) is judged as that
//! address, not as the text it was written as. A host that is not ASCII is refused: the
//! build has no Unicode tables to map it as the runtime would (full-width digits are an
//! address there), so an international name is written in its `xn--` form. An address in a private, shared,
//! link-local (cloud metadata), loopback or otherwise non-public range is refused;
//! loopback only while HTTPS-only is off, for local testing.
//!
//! ```
//! use keygate::webhook::address::{receiver_host, ReceiverHost};
//! assert_eq!(receiver_host("https://hooks.example.com/r"), Ok(ReceiverHost::Name));
//! assert_eq!(receiver_host("http://0x7f.1:8787/r"), Ok(ReceiverHost::Loopback));
//! assert!(matches!(receiver_host("https://169.254.169.254/"), Ok(ReceiverHost::Forbidden(_))));
//! ```
//!
//! A host *name* is accepted whatever it resolves to: a Worker cannot see the address its
//! `fetch` connects to, so a name that resolves (or re-resolves) to a private address is out
//! of reach of this check; on Cloudflare such a fetch leaves from Cloudflare's network, not
//! from inside the receiver's.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What a webhook URL's host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiverHost {
    /// A DNS name (not an address, not `localhost`).
    Name,
    /// A public address.
    PublicAddress,
    /// `localhost` or a loopback address: only for local testing.
    Loopback,
    /// An address no webhook may point at; says which range, for the error message.
    Forbidden(&'static str),
}

/// Reads `url`'s host as `fetch` would; `Err` when it is not a URL with a host.
pub fn receiver_host(url: &str) -> Result<ReceiverHost, String> {
    // No Unicode tables in the build (Cargo.toml, idna_adapter) to map such a host with;
    // refused before the parser, whose stub mapping asserts it is never given one.
    if !authority_is_ascii(url) {
        return Err(NOT_ASCII.into());
    }
    let parsed = url::Url::parse(url).map_err(|e| match e {
        url::ParseError::IdnaError => NOT_ASCII.into(),
        _ => format!("is not a valid URL ({e})"),
    })?;
    match parsed.host() {
        Some(url::Host::Domain(name)) if !crate::hostname::punycode_labels_decode(name) => {
            Err("has a host with an xn-- label that is no international name".into())
        }
        Some(url::Host::Domain(name)) => Ok(name_kind(name)),
        Some(url::Host::Ipv4(ip)) => Ok(ipv4_kind(ip)),
        Some(url::Host::Ipv6(ip)) => Ok(ipv6_kind(ip)),
        None => Err("must name a host".into()),
    }
}

const NOT_ASCII: &str =
    "has a host that is not ASCII; write an international name in its xn-- form";

/// Whether the part of `url` a WHATWG parser reads as user info, host and port is ASCII,
/// percent-escapes decoded (the parser decodes them before mapping the host). Generous in
/// what it counts: everything after the scheme's `:` and any slashes up to the first `/`,
/// `\`, `?` or `#`.
fn authority_is_ascii(url: &str) -> bool {
    let Some((_, rest)) = url.split_once(':') else {
        return true; // no scheme: the parser refuses it before reading a host
    };
    let rest = rest.trim_start_matches(['/', '\\']);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    percent_encoding::percent_decode_str(authority).all(|byte| byte.is_ascii())
}

/// `localhost` and its subdomains always mean this machine (RFC 6761).
fn name_kind(name: &str) -> ReceiverHost {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    match name == "localhost" || name.ends_with(".localhost") {
        true => ReceiverHost::Loopback,
        false => ReceiverHost::Name,
    }
}

/// IPv4 ranges no webhook may reach, besides loopback (127.0.0.0/8).
const FORBIDDEN_V4: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "the \"this host\" range 0.0.0.0/8"),
    ([10, 0, 0, 0], 8, "a private address (10.0.0.0/8)"),
    (
        [100, 64, 0, 0],
        10,
        "a shared carrier-grade NAT address (100.64.0.0/10)",
    ),
    (
        [169, 254, 0, 0],
        16,
        "a link-local address (169.254.0.0/16, where cloud metadata services answer)",
    ),
    ([172, 16, 0, 0], 12, "a private address (172.16.0.0/12)"),
    (
        [192, 0, 0, 0],
        24,
        "an IETF protocol address (192.0.0.0/24)",
    ),
    ([192, 168, 0, 0], 16, "a private address (192.168.0.0/16)"),
    (
        [198, 18, 0, 0],
        15,
        "a benchmarking address (198.18.0.0/15)",
    ),
    ([224, 0, 0, 0], 4, "a multicast address (224.0.0.0/4)"),
    (
        [240, 0, 0, 0],
        4,
        "a reserved or broadcast address (240.0.0.0/4)",
    ),
];

fn ipv4_kind(ip: Ipv4Addr) -> ReceiverHost {
    if ip.is_loopback() {
        return ReceiverHost::Loopback;
    }
    let bits = u32::from(ip);
    FORBIDDEN_V4
        .iter()
        .find(|(net, len, _)| within(bits, u32::from(Ipv4Addr::from(*net)), *len))
        .map_or(ReceiverHost::PublicAddress, |(_, _, what)| {
            ReceiverHost::Forbidden(what)
        })
}

/// IPv6 ranges no webhook may reach, besides `::1` and those that embed an IPv4 address.
const FORBIDDEN_V6: &[(u128, u8, &str)] = &[
    (0, 128, "the unspecified address (::)"),
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        "a local-use NAT64 address (64:ff9b:1::/48)",
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        "a discard-only address (100::/64)",
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        "a unique-local (private) address (fc00::/7)",
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        "a link-local address (fe80::/10)",
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        "a site-local address (fec0::/10)",
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        "a multicast address (ff00::/8)",
    ),
];

/// Prefixes whose last 32 bits are an IPv4 address that traffic ends up at: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated) and NAT64 (`64:ff9b::/96`).
const EMBEDS_V4: &[u128] = &[
    0x0000_0000_0000_0000_0000_ffff_0000_0000,
    0,
    0x0064_ff9b_0000_0000_0000_0000_0000_0000,
];

fn ipv6_kind(ip: Ipv6Addr) -> ReceiverHost {
    let bits = u128::from(ip);
    if ip == Ipv6Addr::LOCALHOST {
        return ReceiverHost::Loopback;
    }
    if let Some((_, _, what)) = FORBIDDEN_V6
        .iter()
        .find(|(net, len, _)| within128(bits, *net, *len))
    {
        return ReceiverHost::Forbidden(what);
    }
    if EMBEDS_V4.iter().any(|net| within128(bits, *net, 96)) {
        // The low 32 bits, exactly: truncation is the point.
        return ipv4_kind(Ipv4Addr::from(bits as u32));
    }
    ReceiverHost::PublicAddress
}

fn within(bits: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn within128(bits: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

/// A webhook URL as key objects show it: without its query (which often holds the
/// receiver's token), marked `?…` when there was one. Never fails: text that is not a URL
/// loses everything after the first `?` too.
pub fn redacted(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind(url: &str) -> ReceiverHost {
        receiver_host(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn forbidden(url: &str) -> bool {
        matches!(kind(url), ReceiverHost::Forbidden(_))
    }

    #[test]
    fn a_host_that_is_not_ascii_is_refused_and_its_xn_form_is_a_name() {
        // Full-width digits are 127.0.0.1 to a parser with Unicode tables; refused here.
        for url in ["http://１２７.０.０.１/", "https://bücher.example/hook"] {
            assert_eq!(
                receiver_host(url),
                Err(
                    "has a host that is not ASCII; write an international name in its xn-- form"
                        .into()
                ),
                "{url}"
            );
        }
        assert_eq!(
            kind("https://xn--bcher-kva.example/hook"),
            ReceiverHost::Name
        );
        assert_eq!(
            receiver_host("https://xn--a.example/hook"),
            Err("has a host with an xn-- label that is no international name".into())
        );
        // Escaped, after a backslash, in user info, without slashes: the same host.
        for url in [
            "https://%F0%91%8E%B7A.example/",
            "https://%FF.example/",
            "https:\\\\Aé.example/",
            "https://user:pässword@example.com/",
            "https:Aé.example/",
        ] {
            assert_eq!(receiver_host(url), Err(NOT_ASCII.into()), "{url}");
        }
        // Outside the host it is the path's business.
        assert_eq!(kind("https://example.com/bücher?q=é#ü"), ReceiverHost::Name);
    }

    proptest! {
        /// ASCII hosts around `xn--` labels, in any case: classified or refused, never a
        /// panic in the stub IDNA mapping (which asserts it never sees upper case).
        #[test]
        fn ascii_hosts_with_punycode_labels_never_panic(
            labels in prop::collection::vec("(xn--|XN--)?[A-Za-z0-9-]{0,12}", 1..4),
            escaped in any::<bool>(),
        ) {
            let host = labels.join(".");
            let host = if escaped { host.replace('A', "%41").replace('x', "%78") } else { host };
            let _ = receiver_host(&format!("https://{host}/"));
        }
    }

    #[test]
    fn every_private_link_local_and_metadata_range_is_forbidden() {
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://169.254.0.1/",
            "https://10.0.0.1/",
            "https://10.255.255.255/",
            "https://172.16.0.1/",
            "https://172.31.255.255/",
            "https://192.168.0.1/",
            "https://192.168.255.255/",
            "https://100.64.0.1/",
            "https://100.127.255.255/",
            "https://0.0.0.0/",
            "https://0.1.2.3/",
            "https://192.0.0.1/",
            "https://198.18.0.1/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://240.0.0.1/",
            "https://[fc00::1]/",
            "https://[fd12:3456:789a::1]/",
            "https://[fe80::1]/",
            "https://[febf::1]/",
            "https://[fec0::1]/",
            "https://[ff02::1]/",
            "https://[::]/",
            "https://[100::1]/",
            "https://[64:ff9b:1::1]/",
        ] {
            assert!(forbidden(url), "{url} allowed");
        }
    }

    #[test]
    fn the_edges_of_each_range_are_public() {
        for url in [
            "https://9.255.255.255/",
            "https://11.0.0.0/",
            "https://172.15.255.255/",
            "https://172.32.0.0/",
            "https://192.167.255.255/",
            "https://192.169.0.0/",
            "https://100.63.255.255/",
            "https://100.128.0.0/",
            "https://169.253.255.255/",
            "https://169.255.0.0/",
            "https://1.1.1.1/",
            "https://223.255.255.255/",
            "https://[2606:4700::1111]/",
            "https://[fbff::1]/",
            "https://[fe00::1]/",
            "https://[::ffff:8.8.8.8]/",
            "https://[64:ff9b::808:808]/",
        ] {
            assert_eq!(kind(url), ReceiverHost::PublicAddress, "{url}");
        }
    }

    #[test]
    fn loopback_in_every_spelling_the_url_parser_accepts() {
        for url in [
            "http://127.0.0.1/",
            "http://127.255.255.254/",
            "http://127.1/",
            "http://127.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.1/",
            "http://0X7F.0.0.1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.0.0.1./",
            "http://[::1]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::127.0.0.1]/",
            "http://localhost/",
            "http://LOCALHOST:8787/",
            "http://localhost./",
            "http://api.localhost/",
        ] {
            assert_eq!(kind(url), ReceiverHost::Loopback, "{url}");
        }
    }

    #[test]
    fn odd_spellings_of_private_addresses_are_forbidden_too() {
        for url in [
            "https://0xa9fea9fe/",          // 169.254.169.254
            "https://2852039166/",          // 169.254.169.254
            "https://0251.0376.0251.0376/", // 169.254.169.254 in octal
            "https://169.254.43518/",       // 169.254.169.254, the last part filling two bytes
            "https://10.1/",
            "https://0xc0.0xa8.1.1/", // 192.168.1.1
            "https://0/",             // 0.0.0.0
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[::ffff:192.168.1.1]/",
            "https://[::ffff:0.0.0.0]/",
            "https://[::10.0.0.1]/",
            "https://[64:ff9b::169.254.169.254]/",
        ] {
            assert!(forbidden(url), "{url} allowed: {:?}", kind(url));
        }
    }

    #[test]
    fn names_are_names_whatever_they_look_like() {
        for url in [
            "https://hooks.example.com/r",
            "https://127.0.0.1.nip.io/",
            "https://10.0.0.1.example.com/",
            "https://localhost.example.com/",
            "https://0x7f.example/",
        ] {
            assert_eq!(kind(url), ReceiverHost::Name, "{url}");
        }
        // A name ending in a number must be an address, or it is no URL at all.
        assert!(receiver_host("https://example.0x/").is_err());
        assert!(receiver_host("https://256.0.0.1/").is_err());
    }

    #[test]
    fn queries_are_hidden_when_shown() {
        assert_eq!(
            redacted("https://hooks.example.com/r?token=s3cret&v=2"),
            "https://hooks.example.com/r?…"
        );
        assert_eq!(
            redacted("https://hooks.example.com/r?"),
            "https://hooks.example.com/r?…"
        );
        assert_eq!(
            redacted("https://hooks.example.com/r"),
            "https://hooks.example.com/r"
        );
    }

    proptest! {
        #[test]
        fn every_ipv4_address_is_judged_as_fetch_reads_it(bits in any::<u32>()) {
            let ip = Ipv4Addr::from(bits);
            let dotted = kind(&format!("https://{ip}/"));
            // The same address as one number, in hex, and IPv4-mapped: the same verdict.
            prop_assert_eq!(kind(&format!("https://{bits}/")), dotted);
            prop_assert_eq!(kind(&format!("https://{bits:#x}/")), dotted);
            prop_assert_eq!(kind(&format!("https://[::ffff:{ip}]/")), dotted);
            let [a, b, c, d] = ip.octets();
            // Octal first part, the last two bytes as one number.
            let low = u16::from(c) << 8 | u16::from(d);
            prop_assert_eq!(kind(&format!("https://0{a:o}.{b}.{low}/")), dotted);
            // A naive reference: the ranges written out by their octets.
            let forbidden = a == 0
                || a == 10
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 168)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 224;
            match dotted {
                ReceiverHost::Loopback => prop_assert_eq!(a, 127),
                ReceiverHost::Forbidden(_) => prop_assert!(forbidden && a != 127),
                ReceiverHost::PublicAddress => prop_assert!(!forbidden && a != 127),
                ReceiverHost::Name => prop_assert!(false, "{} read as a name", ip),
            }
        }

        #[test]
        fn any_text_is_classified_or_refused_without_panicking(text in "\\PC{0,40}") {
            let _ = receiver_host(&format!("https://{text}/"));
            let _ = receiver_host(&text);
            let shown = redacted(&text);
            prop_assert!(!shown.contains('?') || shown.ends_with("?…"));
        }
    }
}
