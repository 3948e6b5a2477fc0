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
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsTable {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
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

/// The `[cors]` table as `GET /policy` shows it.
#[derive(Debug, serde::Serialize)]
pub struct CorsDescription<'a> {
    allowed_origins: Vec<&'a str>,
    allowed_methods: &'a [String],
    allowed_headers: &'a [String],
    exposed_headers: &'a [String],
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
    pub fn describe(&self) -> CorsDescription<'_> {
        CorsDescription {
            allowed_origins: match &self.origins {
                AllowedOrigins::Any => vec!["*"],
                AllowedOrigins::Listed(listed) => listed.iter().map(String::as_str).collect(),
            },
            allowed_methods: &self.methods,
            allowed_headers: &self.headers,
            exposed_headers: &self.exposed,
            max_age_seconds: self.max_age_seconds,
        }
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
mod tests;
