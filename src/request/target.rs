//! The parts of a request's URL the gateway reads, split from the runtime's own serialisation
//! of it. The runtime has parsed and normalised the URL already (WHATWG), and a serialised
//! URL serialises to itself when parsed again, so splitting it gives what parsing it again
//! would, without the parse (which cost 5 % of an isolate's CPU per request: BENCHMARKS.md).

/// A request URL's scheme, path and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// In lower case, as serialised.
    pub scheme: &'a str,
    /// Starts with `/`.
    pub path: &'a str,
    /// After `?`, up to any `#`: `Some("")` for a bare `?`, as the client sent it.
    pub query: Option<&'a str>,
}

impl<'a> RequestTarget<'a> {
    /// Splits a serialised http(s) URL, `scheme://authority/path?query#fragment`. `None` for
    /// text the runtime would not have serialised so (no `://`, or no path after the
    /// authority): a URL the runtime hands over always has both.
    pub fn split(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        // The authority ends at the first `/`, `?` or `#`: a serialised userinfo or host
        // has each of them percent-encoded.
        let path_and_query = &rest[rest.find(['/', '?'])?..];
        if !path_and_query.starts_with('/') {
            return None;
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        Some(RequestTarget {
            scheme,
            path,
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_url_splits_into_scheme_path_and_query() {
        let split = |url| RequestTarget::split(url).expect("a serialised URL");
        assert_eq!(
            split("https://api.example.com/v1/contacts?page=2#top"),
            RequestTarget {
                scheme: "https",
                path: "/v1/contacts",
                query: Some("page=2"),
            }
        );
        assert_eq!(split("http://127.0.0.1:8787/").path, "/");
        assert_eq!(split("http://127.0.0.1:8787/").query, None);
        assert_eq!(split("http://a/x?").query, Some(""));
        assert_eq!(split("http://a/x?q=a?b/c").query, Some("q=a?b/c"));
        assert_eq!(split("http://u:p%2F%3F@a/x").path, "/x");
        assert_eq!(split("http://[::1]:80/x#y?z").query, None);
    }

    #[test]
    fn text_that_is_not_a_serialised_url_does_not_split() {
        for text in ["", "/v1/contacts", "https:/a/b", "http://a", "http://a?q=1"] {
            assert_eq!(RequestTarget::split(text), None, "{text:?}");
        }
    }

    /// Any text a client might put in a request line, within reason.
    fn piece() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9/?#%.@:;=&+ \\[\\]\\\\|^`{}~'\"<>é-]{0,24}")
            .expect("a valid regex")
    }

    proptest! {
        /// What the Worker relied on before: the `url` crate's parse of the runtime's URL.
        #[test]
        fn splitting_a_serialised_url_gives_what_parsing_it_gives(
            scheme in prop_oneof![Just("http"), Just("https"), Just("HTTPS")],
            userinfo in proptest::option::of(piece()),
            host in prop_oneof![Just("api.example.com"), Just("127.0.0.1:8787"), Just("[::1]")],
            path in piece(),
            query in proptest::option::of(piece()),
            fragment in proptest::option::of(piece()),
        ) {
            let mut text = format!("{scheme}://");
            if let Some(userinfo) = userinfo {
                // Kept inside the authority: in an http(s) URL a backslash ends it as `/` does.
                text.push_str(&userinfo.replace(['/', '?', '#', '@', '\\'], "x"));
                text.push('@');
            }
            text.push_str(host);
            text.push('/');
            text.push_str(&path);
            if let Some(query) = query {
                text.push('?');
                text.push_str(&query);
            }
            if let Some(fragment) = fragment {
                text.push('#');
                text.push_str(&fragment);
            }
            if let Ok(parsed) = url::Url::parse(&text) {
                let serialised = parsed.as_str();
                let split = RequestTarget::split(serialised).expect("a serialised URL splits");
                prop_assert_eq!(split.scheme, parsed.scheme());
                prop_assert_eq!(split.path, parsed.path());
                prop_assert_eq!(split.query, parsed.query());
            }
        }
    }
}
