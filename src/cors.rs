//! Cross-origin requests from browsers: the policy's `[cors]` table, and what keygate
//! answers a preflight and adds to every other response.
//!
//! A browser calling the API from another site's page sends the key in `Authorization`,
//! which is not a CORS-safelisted header, so every real call is preceded by a preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`). The preflight carries no
//! key: keygate answers it itself, from the policy alone, without calling the origin or
//! counting anything. Every other response — the origin's and keygate's own refusals, which
//! a script needs to read to show the error — carries `Access-Control-Allow-Origin` when
//! the request's `Origin` is allowed.
//!
//! keygate never sends `Access-Control-Allow-Credentials`: a bearer key is a header the
//! script sets, not a credential in the Fetch standard's sense (cookies, HTTP
//! authentication). Without it a browser refuses to expose a credentialed answer, and it
//! fails the preflight of a credentialed request, so another site cannot make a visitor's
//! browser carry the visitor's cookies through keygate to the origin. That is also why `*`
//! is a safe value for the allowed origins.
//!
//! ```
//! use keygate::cors::{CorsTable, CorsSettings, Preflight};
//! let cors = CorsSettings::from_table(&CorsTable {
//!     allowed_origins: vec!["https://app.example.com".into()],
//!     ..CorsTable::default()
//! }, None).unwrap();
//! let ok = cors.preflight("https://app.example.com", "DELETE", Some("authorization"));
//! assert!(matches!(ok, Preflight::Allowed(_)));
//! let no = cors.preflight("https://evil.example", "DELETE", Some("authorization"));
//! assert!(matches!(no, Preflight::Refused(_)));
//! ```

use crate::methods::FORWARDABLE_METHODS;
use std::fmt;

/// At most this many allowed origins, and this many names in each header list of the
/// policy: the lists are compared on every cross-origin request.
pub const MAX_ORIGINS: usize = 100;
pub const MAX_HEADER_NAMES: usize = 50;
/// A preflight's `Access-Control-Request-Headers` is read only up to this many bytes and
/// names; a longer one is refused, never parsed further.
pub const MAX_REQUEST_HEADERS_BYTES: usize = 4096;
pub const MAX_REQUEST_HEADER_NAMES: usize = 64;
const MAX_HEADER_NAME_CHARS: usize = 64;
const MAX_ORIGIN_CHARS: usize = 255;
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 600;
/// Browsers cap the preflight cache anyway (Chromium at 2 hours, Firefox at 24).
pub const MAX_MAX_AGE_SECONDS: u64 = 86_400;

/// The methods a preflight may ask for unless the policy lists its own: those keygate
/// forwards, but `OPTIONS` (a browser never preflights a preflight).
const DEFAULT_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Request headers always allowed: the key's header, and the CORS-safelisted ones, which a
/// browser lists in a preflight only when their value is unusual (`Content-Type:
/// application/json` is).
const ALWAYS_ALLOWED_HEADERS: [&str; 5] = [
    "authorization",
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

/// keygate's own response headers a script may read: the limit state, the request id
/// (to quote in a support ticket), the 401's challenge and a queued request's `Location`.
pub const KEYGATE_EXPOSED_HEADERS: [&str; 9] = [
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Keygate-Request-Id",
    "WWW-Authenticate",
    "Location",
];

/// The `[cors]` table as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsTable {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Option<Vec<String>>,
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    /// Signed and wide, so a negative value gets the policy's message rather than serde's.
    pub max_age_seconds: Option<i64>,
}

/// Which origins may read responses.
#[derive(Clone, Debug, PartialEq, Eq)]
enum AllowedOrigins {
    /// `*`: any page may call the API with a key it holds.
    Any,
    /// Exact serialised origins (`https://app.example.com`, `http://localhost:3000`).
    Listed(Vec<String>),
}

/// A validated `[cors]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsSettings {
    origins: AllowedOrigins,
    methods: Vec<String>,
    /// Lower case: the always-allowed ones, the credential header, then the policy's.
    headers: Vec<String>,
    /// keygate's own, then the policy's (as written).
    exposed: Vec<String>,
    max_age_seconds: u64,
}

/// One problem in the `[cors]` table: the field (e.g. `allowed_origins[2]`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsProblem {
    pub field: String,
    pub message: String,
}

/// Why a preflight gets no permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreflightRefusal {
    Origin,
    Method,
    Headers,
}

impl fmt::Display for PreflightRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PreflightRefusal::Origin => "the page's origin is not allowed to call this API",
            PreflightRefusal::Method => "the requested method is not allowed cross-origin",
            PreflightRefusal::Headers => "a requested header is not allowed cross-origin",
        })
    }
}

/// A preflight's answer: the headers of a 204, or why none are given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preflight {
    Allowed(Vec<(&'static str, String)>),
    Refused(PreflightRefusal),
}

/// The origin and the method asked for, when a request is a CORS preflight (Fetch: an
/// `OPTIONS` with `Origin` and `Access-Control-Request-Method`). Any other `OPTIONS` is an
/// ordinary request, with a key like any other.
pub fn preflight_of<'a>(
    method: &str,
    origin: Option<&'a str>,
    request_method: Option<&'a str>,
) -> Option<(&'a str, &'a str)> {
    (method == "OPTIONS").then_some(())?;
    Some((origin?, request_method?))
}

/// Whether a response header is one CORS gives meaning to. An origin's own are dropped
/// where keygate answers for CORS, so one answer speaks for it.
pub fn is_cors_response_header(name: &str) -> bool {
    name.len() > "access-control-".len()
        && name
            .get(.."access-control-".len())
            .is_some_and(|start| start.eq_ignore_ascii_case("access-control-"))
}

impl CorsSettings {
    /// Validates the table; `credential_header` (the policy's optional key header) is
    /// allowed in preflights like `Authorization`. Every problem is returned, not the first.
    pub fn from_table(
        table: &CorsTable,
        credential_header: Option<&str>,
    ) -> Result<CorsSettings, Vec<CorsProblem>> {
        let mut problems = Vec::new();
        let mut problem =
            |field: String, message: String| problems.push(CorsProblem { field, message });

        let origins = if table.allowed_origins.iter().any(|o| o == "*") {
            if table.allowed_origins.len() > 1 {
                problem(
                    "allowed_origins".into(),
                    "\"*\" allows every origin, so it must be the only entry".into(),
                );
            }
            AllowedOrigins::Any
        } else {
            if table.allowed_origins.is_empty() {
                problem(
                    "allowed_origins".into(),
                    "must list at least one origin (or \"*\"): without it [cors] allows nothing; remove the table to leave CORS off".into(),
                );
            }
            if table.allowed_origins.len() > MAX_ORIGINS {
                problem(
                    "allowed_origins".into(),
                    format!("at most {MAX_ORIGINS} origins"),
                );
            }
            for (position, origin) in table.allowed_origins.iter().enumerate() {
                let field = format!("allowed_origins[{position}]");
                if let Err(message) = check_origin(origin) {
                    problem(field, message);
                } else if table
                    .allowed_origins
                    .iter()
                    .take(position)
                    .any(|o| o == origin)
                {
                    problem(field, format!("{origin:?} is listed twice"));
                }
            }
            AllowedOrigins::Listed(table.allowed_origins.clone())
        };

        let methods = match &table.allowed_methods {
            None => DEFAULT_METHODS.iter().map(|m| m.to_string()).collect(),
            Some(listed) => {
                if listed.is_empty() {
                    problem(
                        "allowed_methods".into(),
                        "must list at least one method".into(),
                    );
                }
                for (position, method) in listed.iter().enumerate() {
                    let field = format!("allowed_methods[{position}]");
                    if !FORWARDABLE_METHODS.contains(&method.as_str()) {
                        problem(
                            field,
                            format!(
                                "{method:?} is not a method keygate forwards ({}; upper case, as browsers send them)",
                                FORWARDABLE_METHODS.join(", ")
                            ),
                        );
                    } else if listed.iter().take(position).any(|m| m == method) {
                        problem(field, format!("{method:?} is listed twice"));
                    }
                }
                listed.clone()
            }
        };

        let mut headers: Vec<String> = ALWAYS_ALLOWED_HEADERS
            .iter()
            .map(|h| h.to_string())
            .collect();
        if let Some(name) = credential_header {
            headers.push(name.to_ascii_lowercase());
        }
        check_header_list("allowed_headers", &table.allowed_headers, &mut problem);
        for name in &table.allowed_headers {
            let lower = name.to_ascii_lowercase();
            if !headers.contains(&lower) {
                headers.push(lower);
            }
        }

        check_header_list("exposed_headers", &table.exposed_headers, &mut problem);
        let mut exposed: Vec<String> = KEYGATE_EXPOSED_HEADERS
            .iter()
            .map(|h| h.to_string())
            .collect();
        for name in &table.exposed_headers {
            if !exposed.iter().any(|e| e.eq_ignore_ascii_case(name)) {
                exposed.push(name.clone());
            }
        }

        let max_age_seconds = match table.max_age_seconds {
            None => DEFAULT_MAX_AGE_SECONDS,
            Some(seconds) => match u64::try_from(seconds) {
                Ok(seconds) if seconds <= MAX_MAX_AGE_SECONDS => seconds,
                _ => {
                    problem(
                        "max_age_seconds".into(),
                        format!("must be between 0 and {MAX_MAX_AGE_SECONDS}, got {seconds}"),
                    );
                    DEFAULT_MAX_AGE_SECONDS
                }
            },
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CorsSettings {
            origins,
            methods,
            headers,
            exposed,
            max_age_seconds,
        })
    }

    /// Whether responses to a page of `origin` may be read by it.
    pub fn allows_origin(&self, origin: &str) -> bool {
        match &self.origins {
            AllowedOrigins::Any => true,
            // Browsers serialise an origin one way (lower case, default port left out), so
            // an exact comparison is the right one; `null` can never be listed.
            AllowedOrigins::Listed(listed) => listed.iter().any(|allowed| allowed == origin),
        }
    }

    /// The answer to a preflight from `origin` asking for `method` and the comma-separated
    /// `request_headers`. Allowed: the 204's headers, naming every allowed method and
    /// header (not echoing the request), so the answer is the same for every preflight of
    /// an origin and caches well.
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        request_headers: Option<&str>,
    ) -> Preflight {
        if !self.allows_origin(origin) {
            return Preflight::Refused(PreflightRefusal::Origin);
        }
        // Methods are case-sensitive (Fetch normalises only the six standard ones; a
        // script's `patch` stays lower case and is not `PATCH`).
        if !self.methods.iter().any(|allowed| allowed == method) {
            return Preflight::Refused(PreflightRefusal::Method);
        }
        if let Some(list) = request_headers {
            if !self.allows_request_headers(list) {
                return Preflight::Refused(PreflightRefusal::Headers);
            }
        }
        let mut headers = self.allow_origin(origin);
        headers.push(("Access-Control-Allow-Methods", self.methods.join(", ")));
        headers.push(("Access-Control-Allow-Headers", self.headers.join(", ")));
        headers.push(("Access-Control-Max-Age", self.max_age_seconds.to_string()));
        Preflight::Allowed(headers)
    }

    /// The headers a preflight answer varies on, allowed or not: a cache must not serve
    /// one origin's answer to another.
    pub fn preflight_vary() -> (&'static str, String) {
        (
            "Vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".into(),
        )
    }

    /// The CORS headers of any other response to a request with `origin` (none when it
    /// sent no `Origin` or one not allowed; `Vary: Origin` whenever the answer depends on it).
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = match origin {
            Some(origin) if self.allows_origin(origin) => {
                let mut headers = self.allow_origin(origin);
                headers.push(("Access-Control-Expose-Headers", self.exposed.join(", ")));
                headers
            }
            _ => Vec::new(),
        };
        if let AllowedOrigins::Listed(_) = self.origins {
            headers.push(("Vary", "Origin".into()));
        }
        headers
    }

    /// A response's headers with keygate's CORS headers in place of any the origin set:
    /// keygate owns CORS for the API, so the origin's own `Access-Control-*` would only
    /// contradict it (or allow what the policy does not). `Vary` is added to, not replaced.
    pub fn apply(
        &self,
        origin: Option<&str>,
        response_headers: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = response_headers
            .into_iter()
            .filter(|(name, _)| !is_cors_response_header(name))
            .collect();
        headers.extend(
            self.response_headers(origin)
                .into_iter()
                .map(|(name, value)| (name.to_string(), value)),
        );
        headers
    }

    /// What `GET /policy` shows of the table.
    pub fn describe(&self) -> serde_json::Value {
        let origins: Vec<&str> = match &self.origins {
            AllowedOrigins::Any => vec!["*"],
            AllowedOrigins::Listed(listed) => listed.iter().map(String::as_str).collect(),
        };
        serde_json::json!({
            "allowed_origins": origins,
            "allowed_methods": self.methods,
            "allowed_headers": self.headers,
            "exposed_headers": self.exposed,
            "max_age_seconds": self.max_age_seconds,
        })
    }

    fn allow_origin(&self, origin: &str) -> Vec<(&'static str, String)> {
        let value = match self.origins {
            AllowedOrigins::Any => "*".to_string(),
            AllowedOrigins::Listed(_) => origin.to_string(),
        };
        vec![("Access-Control-Allow-Origin", value)]
    }

    /// Every name in `Access-Control-Request-Headers` is allowed: read bounded (at most
    /// [`MAX_REQUEST_HEADERS_BYTES`] and [`MAX_REQUEST_HEADER_NAMES`]; more is a refusal),
    /// names compared in lower case, empty items skipped as list syntax allows.
    fn allows_request_headers(&self, list: &str) -> bool {
        if list.len() > MAX_REQUEST_HEADERS_BYTES {
            return false;
        }
        let mut names = list
            .split(',')
            .map(|item| item.trim_matches([' ', '\t']))
            .filter(|item| !item.is_empty());
        let mut seen = 0;
        names.all(|name| {
            seen += 1;
            seen <= MAX_REQUEST_HEADER_NAMES
                && self
                    .headers
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(name))
        })
    }
}

/// An origin as browsers serialise it: `scheme://host[:port]`, lower case, no path, no
/// trailing slash, no default port.
fn check_origin(origin: &str) -> Result<(), String> {
    let explain = |what: &str| {
        format!("{origin:?} {what}; write an origin as the browser sends it, e.g. \"https://app.example.com\" or \"http://localhost:3000\"")
    };
    if origin.len() > MAX_ORIGIN_CHARS {
        return Err(format!("is longer than {MAX_ORIGIN_CHARS} characters"));
    }
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| explain("has no scheme"))?;
    if scheme != "https" && scheme != "http" {
        return Err(explain("must start with https:// or http://"));
    }
    // `[v6]:port` keeps its colons inside the brackets.
    let (host, port) = match rest.strip_prefix('[').and_then(|v6| v6.split_once(']')) {
        Some((address, after)) => (
            Some(address),
            after
                .strip_prefix(':')
                .or(Some(after).filter(|a| !a.is_empty())),
        ),
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (Some(host).filter(|h| is_host_name(h)), Some(port)),
            None => (Some(rest).filter(|h| is_host_name(h)), None),
        },
    };
    let host_ok = match (host, rest.starts_with('[')) {
        (Some(address), true) => {
            !address.is_empty()
                && address.bytes().all(|b| {
                    b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':' || b == b'.'
                })
        }
        (Some(_), false) => true,
        (None, _) => false,
    };
    if !host_ok {
        return Err(explain(
            "must be a lower-case host with no path, query or trailing slash",
        ));
    }
    if let Some(port) = port {
        let default = if scheme == "https" { "443" } else { "80" };
        let valid = port.parse::<u16>().is_ok_and(|p| p > 0) && !port.starts_with('0');
        if !valid {
            return Err(explain("has a port that is not 1 to 65535"));
        }
        if port == default {
            return Err(explain(
                "names the scheme's default port, which browsers leave out",
            ));
        }
    }
    Ok(())
}

/// A DNS name or IPv4 address in lower case.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// Each name a token of letters, digits and `-` (no `*`: a wildcard does not cover
/// `Authorization`, and a list says exactly what is allowed), at most
/// [`MAX_HEADER_NAMES`] of them.
fn check_header_list(field: &str, names: &[String], problem: &mut impl FnMut(String, String)) {
    if names.len() > MAX_HEADER_NAMES {
        problem(field.into(), format!("at most {MAX_HEADER_NAMES} names"));
    }
    for (position, name) in names.iter().enumerate() {
        if !is_plain_header_name(name) {
            problem(
                format!("{field}[{position}]"),
                format!("{name:?} must be a header name of letters, digits and single `-` (at most {MAX_HEADER_NAME_CHARS} characters), such as \"Idempotency-Key\""),
            );
        }
    }
}

/// `^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`, at most 64 characters: an HTTP token that every
/// server, CGI and WSGI included, reads as the same name.
pub fn is_plain_header_name(name: &str) -> bool {
    name.len() <= MAX_HEADER_NAME_CHARS
        && !name.is_empty()
        && name
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(table: CorsTable) -> CorsSettings {
        CorsSettings::from_table(&table, Some("X-API-Key")).expect("valid table")
    }

    fn listed() -> CorsSettings {
        settings(CorsTable {
            allowed_origins: vec![
                "https://app.example.com".into(),
                "http://localhost:3000".into(),
            ],
            allowed_headers: vec!["Idempotency-Key".into()],
            exposed_headers: vec!["ETag".into()],
            ..CorsTable::default()
        })
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_allowed_preflight_names_every_allowed_method_and_header() {
        let Preflight::Allowed(headers) = listed().preflight(
            "https://app.example.com",
            "DELETE",
            Some("authorization,content-type,idempotency-key,x-api-key"),
        ) else {
            panic!("allowed")
        };
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            header(&headers, "access-control-allow-methods"),
            Some("GET, HEAD, POST, PUT, PATCH, DELETE")
        );
        assert_eq!(
            header(&headers, "access-control-allow-headers"),
            Some("authorization, accept, accept-language, content-language, content-type, x-api-key, idempotency-key")
        );
        assert_eq!(header(&headers, "access-control-max-age"), Some("600"));
        assert_eq!(header(&headers, "access-control-allow-credentials"), None);
    }

    #[test]
    fn a_preflight_is_refused_for_the_origin_the_method_or_a_header() {
        let cors = listed();
        let refused = |origin, method, headers| match cors.preflight(origin, method, headers) {
            Preflight::Refused(why) => Some(why),
            Preflight::Allowed(_) => None,
        };
        let app = "https://app.example.com";
        assert_eq!(
            refused("https://evil.example", "GET", None),
            Some(PreflightRefusal::Origin)
        );
        // Exact: another scheme, port or a trailing slash is another origin.
        assert_eq!(
            refused("http://app.example.com", "GET", None),
            Some(PreflightRefusal::Origin)
        );
        assert_eq!(
            refused("https://app.example.com:8443", "GET", None),
            Some(PreflightRefusal::Origin)
        );
        assert_eq!(
            refused("https://app.example.com/", "GET", None),
            Some(PreflightRefusal::Origin)
        );
        assert_eq!(refused("null", "GET", None), Some(PreflightRefusal::Origin));
        assert_eq!(
            refused(app, "OPTIONS", None),
            Some(PreflightRefusal::Method)
        );
        assert_eq!(refused(app, "patch", None), Some(PreflightRefusal::Method));
        assert_eq!(refused(app, "TRACE", None), Some(PreflightRefusal::Method));
        assert_eq!(
            refused(app, "GET", Some("authorization, x-other")),
            Some(PreflightRefusal::Headers)
        );
        assert_eq!(
            refused(app, "GET", Some("cookie")),
            Some(PreflightRefusal::Headers)
        );
        assert_eq!(
            refused(app, "GET", Some(" Authorization ,, Content-Type ")),
            None
        );
        assert_eq!(refused("http://localhost:3000", "PUT", Some("")), None);
    }

    #[test]
    fn request_headers_are_read_bounded() {
        let cors = listed();
        let app = "https://app.example.com";
        let many = vec!["authorization"; MAX_REQUEST_HEADER_NAMES].join(",");
        assert!(matches!(
            cors.preflight(app, "GET", Some(&many)),
            Preflight::Allowed(_)
        ));
        let too_many = format!("{many},accept");
        assert_eq!(
            cors.preflight(app, "GET", Some(&too_many)),
            Preflight::Refused(PreflightRefusal::Headers)
        );
        let long = format!("authorization{}", ",".repeat(MAX_REQUEST_HEADERS_BYTES));
        assert_eq!(
            cors.preflight(app, "GET", Some(&long)),
            Preflight::Refused(PreflightRefusal::Headers)
        );
    }

    #[test]
    fn other_responses_carry_the_origin_and_exposed_headers_only_when_allowed() {
        let cors = listed();
        let allowed = cors.response_headers(Some("https://app.example.com"));
        assert_eq!(
            header(&allowed, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        let exposed = header(&allowed, "access-control-expose-headers").unwrap();
        for name in KEYGATE_EXPOSED_HEADERS.iter().chain(&["ETag"]) {
            assert!(
                exposed.split(", ").any(|e| e == *name),
                "{name} in {exposed}"
            );
        }
        assert_eq!(header(&allowed, "vary"), Some("Origin"));
        for origin in [None, Some("https://evil.example")] {
            assert_eq!(
                cors.response_headers(origin),
                vec![("Vary", "Origin".to_string())]
            );
        }
    }

    #[test]
    fn any_origin_answers_star_and_does_not_vary() {
        let cors = settings(CorsTable {
            allowed_origins: vec!["*".into()],
            ..CorsTable::default()
        });
        let headers = cors.response_headers(Some("https://anyone.example"));
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&headers, "vary"), None);
        assert!(cors.response_headers(None).is_empty());
        let Preflight::Allowed(preflight) = cors.preflight("null", "POST", Some("authorization"))
        else {
            panic!("any origin")
        };
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn the_origins_own_cors_headers_are_replaced_and_vary_is_kept() {
        let response = vec![
            ("access-control-allow-origin".to_string(), "*".to_string()),
            (
                "Access-Control-Allow-Credentials".to_string(),
                "true".to_string(),
            ),
            ("vary".to_string(), "Accept-Encoding".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let out = listed().apply(Some("https://app.example.com"), response);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "vary",
                "content-type",
                "Access-Control-Allow-Origin",
                "Access-Control-Expose-Headers",
                "Vary"
            ]
        );
        assert_eq!(out[2].1, "https://app.example.com");
        assert!(listed()
            .apply(
                Some("https://evil.example"),
                vec![("Access-Control-Allow-Origin".into(), "*".into())]
            )
            .iter()
            .all(|(name, _)| !is_cors_response_header(name)));
    }

    #[test]
    fn only_an_options_with_origin_and_request_method_is_a_preflight() {
        let origin = Some("https://a.example");
        assert_eq!(
            preflight_of("OPTIONS", origin, Some("GET")),
            Some(("https://a.example", "GET"))
        );
        assert_eq!(preflight_of("OPTIONS", origin, None), None);
        assert_eq!(preflight_of("OPTIONS", None, Some("GET")), None);
        assert_eq!(preflight_of("GET", origin, Some("GET")), None);
    }

    #[test]
    fn the_table_is_validated_with_every_problem_named() {
        let problems = CorsSettings::from_table(
            &CorsTable {
                allowed_origins: vec![
                    "https://app.example.com/".into(),
                    "https://APP.example.com".into(),
                    "app.example.com".into(),
                    "https://app.example.com:443".into(),
                    "ftp://files.example".into(),
                    "null".into(),
                    "http://localhost:3000".into(),
                    "http://localhost:3000".into(),
                ],
                allowed_methods: Some(vec![
                    "GET".into(),
                    "get".into(),
                    "TRACE".into(),
                    "GET".into(),
                ]),
                allowed_headers: vec!["X_Custom".into(), "*".into(), "Ok-Name".into()],
                exposed_headers: vec!["".into()],
                max_age_seconds: Some(-1),
            },
            None,
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "allowed_origins[0]",
                "allowed_origins[1]",
                "allowed_origins[2]",
                "allowed_origins[3]",
                "allowed_origins[4]",
                "allowed_origins[5]",
                "allowed_origins[7]",
                "allowed_methods[1]",
                "allowed_methods[2]",
                "allowed_methods[3]",
                "allowed_headers[0]",
                "allowed_headers[1]",
                "exposed_headers[0]",
                "max_age_seconds",
            ]
        );
        let star = CorsSettings::from_table(
            &CorsTable {
                allowed_origins: vec!["*".into(), "https://a.example".into()],
                ..CorsTable::default()
            },
            None,
        )
        .unwrap_err();
        assert_eq!(star[0].field, "allowed_origins");
        let empty = CorsSettings::from_table(&CorsTable::default(), None).unwrap_err();
        assert_eq!(empty[0].field, "allowed_origins");
        for origin in [
            "https://[::1]:8443",
            "http://127.0.0.1:8787",
            "https://a-b.example.co.uk",
        ] {
            let table = CorsTable {
                allowed_origins: vec![origin.into()],
                ..CorsTable::default()
            };
            assert!(CorsSettings::from_table(&table, None).is_ok(), "{origin}");
        }
    }

    #[test]
    fn the_policy_lists_are_bounded() {
        let table = CorsTable {
            allowed_origins: (0..=MAX_ORIGINS)
                .map(|i| format!("https://a{i}.example"))
                .collect(),
            allowed_headers: (0..=MAX_HEADER_NAMES).map(|i| format!("X-H{i}")).collect(),
            exposed_headers: (0..=MAX_HEADER_NAMES).map(|i| format!("X-E{i}")).collect(),
            ..CorsTable::default()
        };
        let fields: Vec<String> = CorsSettings::from_table(&table, None)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            ["allowed_origins", "allowed_headers", "exposed_headers"]
        );
    }

    proptest! {
        /// The preflight decision against a naive reading of the rules: allowed exactly
        /// when the origin is listed, the method listed, and every non-empty trimmed name
        /// of a bounded list is allowed in any case.
        #[test]
        fn a_preflight_is_allowed_exactly_by_the_rules(
            origin in prop::sample::select(vec!["https://app.example.com", "http://localhost:3000", "https://evil.example", "null", ""]),
            method in prop::sample::select(vec!["GET", "POST", "DELETE", "OPTIONS", "patch", "TRACE"]),
            names in prop::collection::vec(prop::sample::select(vec!["Authorization", "content-type", "X-API-KEY", "idempotency-key", "cookie", "x-other", "", " "]), 0..70),
        ) {
            let cors = listed();
            let list = names.join(",");
            let answer = cors.preflight(origin, method, Some(&list));
            let origin_ok = ["https://app.example.com", "http://localhost:3000"].contains(&origin);
            let method_ok = DEFAULT_METHODS.contains(&method);
            let present: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
            let headers_ok = present.len() <= MAX_REQUEST_HEADER_NAMES
                && present.iter().all(|n| !["cookie", "x-other"].contains(&n.to_ascii_lowercase().as_str()));
            prop_assert_eq!(matches!(answer, Preflight::Allowed(_)), origin_ok && method_ok && headers_ok);
            if let Preflight::Allowed(headers) = answer {
                prop_assert_eq!(header(&headers, "access-control-allow-origin"), Some(origin));
            }
        }

        /// Whatever the origin answered, what reaches the client has exactly keygate's
        /// CORS headers, and every other header as it was, in order.
        #[test]
        fn apply_keeps_every_other_header_and_only_keygates_cors(
            names in prop::collection::vec("(access-control-[a-z-]{1,12}|[a-z]{1,10}|Vary)", 0..8),
            allowed in any::<bool>(),
        ) {
            let response: Vec<(String, String)> = names.iter().map(|n| (n.clone(), "v".into())).collect();
            let origin = if allowed { "https://app.example.com" } else { "https://evil.example" };
            let out = listed().apply(Some(origin), response.clone());
            let kept: Vec<&(String, String)> = response.iter().filter(|(n, _)| !is_cors_response_header(n)).collect();
            prop_assert_eq!(out.iter().take(kept.len()).collect::<Vec<_>>(), kept.clone());
            let added: Vec<&str> = out[kept.len()..].iter().map(|(n, _)| n.as_str()).collect();
            if allowed {
                prop_assert_eq!(added, vec!["Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"]);
            } else {
                prop_assert_eq!(added, vec!["Vary"]);
            }
        }
    }
}
