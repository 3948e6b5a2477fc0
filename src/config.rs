//! The deployment's settings, read from Worker variables and secrets and checked once.
//!
//! The policy is part of the build: `scripts/build.sh` checks the file `KEYGATE_POLICY_FILE`
//! names, compiles it (`keygate policy compile`) and bundles the compiled form into the
//! Worker (`build.rs`), because a Worker variable holds at most 5 KB and a deploy replaces
//! the variables. A `KEYGATE_POLICY` variable overrides the bundled policy (local runs and
//! tests pass a compiled policy that way).
//!
//! | variable | meaning |
//! |---|---|
//! | `KEYGATE_ORIGIN` | origin base URL, `https://host[:port][/base/path]`; `http://` only to a loopback host, or with `KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN` |
//! | `KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN` | `true` allows an `http://` origin that is not loopback; default `false` |
//! | `KEYGATE_POLICY` | optional: a compiled policy (what `keygate policy compile FILE` prints), used instead of the bundled policy; a policy file's TOML is refused |
//! | `KEYGATE_HASH_SECRET` | secret under which keys are hashed (≥ 32 characters) |
//! | `KEYGATE_SIGNING_SECRET` | secret shared with the origin for identity signatures (≥ 32 characters) |
//! | `KEYGATE_ROOT_TOKEN` | the admin API's root token (≥ 32 characters) |
//! | `KEYGATE_WEBHOOK_SECRET` | secret for deployment-level webhook receivers; signs only webhooks set before keys had their own secrets (≥ 32 characters) |
//! | `KEYGATE_HTTPS_ONLY` | `true` (default) or `false`; refuse plain-HTTP requests |
//! | `KEYGATE_ORIGIN_TIMEOUT_MS` | origin timeout, 1..=300000, default 30000 |
//!
//! A bad value is reported with the variable's name and what is wrong, never its value.
//! The four secrets must differ from one another: each protects something else (a webhook
//! receiver must never be able to sign for the origin, nor the origin to mint admin calls).

use crate::identity::SigningSecret;
use crate::key::HashingSecret;
use crate::policy::Policy;
use std::fmt;

pub const MIN_SECRET_CHARS: usize = 32;
const DEFAULT_ORIGIN_TIMEOUT_MS: u64 = 30_000;
const MAX_ORIGIN_TIMEOUT_MS: u64 = 300_000;

/// Where requests go: scheme and authority, and a base path every request path is appended to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `http://host:port` or `https://host`, no trailing slash.
    pub scheme_and_authority: String,
    /// The `Host` the origin will see: the host name, and the port unless it is the default.
    pub host: String,
    /// The host name alone, in lower case (a bracketed IPv6 literal stays bracketed).
    pub hostname: String,
    /// `""` or a path like `/api/v2` (no trailing slash).
    pub base_path: String,
}

impl Origin {
    /// Reads `http(s)://host[:port][/base/path]`: the host written with letters, digits, `.`
    /// and `-` or as an IPv6 literal, and the whole a URL fetch() can parse (WHATWG, the
    /// `url` crate), so `http://1.2.3.999`, `http://[zzz]` or a port `+80` are refused.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let (scheme, rest) = text
            .split_once("://")
            .filter(|(s, _)| *s == "http" || *s == "https")
            .ok_or("must start with http:// or https://")?;
        if rest.contains(['?', '#', ' ']) {
            return Err("must not contain a query, fragment or space".into());
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err("must not contain user info".into());
        }
        // The host as written, checked before the port so that a bad one is named as such.
        let written_host = match authority.starts_with('[') {
            true => match authority.find(']') {
                Some(end) => &authority[..=end],
                None => return Err("has an unclosed IPv6 address".into()),
            },
            false => authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host),
        };
        let after_host = &authority[written_host.len()..];
        if written_host.is_empty() || !hostname_chars_ok(written_host) {
            return Err(NO_HOST.into());
        }
        if !after_host.is_empty() && !after_host.starts_with(':') {
            return Err("has text after the IPv6 address".into());
        }
        // And fetch() must be able to parse it: it reads URLs the WHATWG way, as `url` does.
        url::Url::parse(text).map_err(|e| match e {
            url::ParseError::InvalidPort => BAD_PORT,
            _ => NO_HOST,
        })?;
        // Host names are case-insensitive, and fetch() sends them in lower case: the host
        // that gets signed must be the one the origin sees.
        let hostname = written_host.to_ascii_lowercase();
        // The `url` here has no Unicode tables to check an `xn--` label with; fetch() does.
        if !crate::hostname::punycode_labels_decode(&hostname) {
            return Err(NO_HOST.into());
        }
        // The URL parser took only digits; it leaves `h:` and `h:0` to refuse.
        let port = match after_host.strip_prefix(':') {
            None => None,
            Some(digits) => Some(
                digits
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or(BAD_PORT)?,
            ),
        };
        // fetch() omits a default port from `Host`; so must the host that gets signed.
        let default_port = if scheme == "https" { 443 } else { 80 };
        let host = match port {
            Some(port) if port != default_port => format!("{hostname}:{port}"),
            _ => hostname.clone(),
        };
        Ok(Origin {
            scheme_and_authority: format!("{scheme}://{host}"),
            hostname,
            host,
            base_path: path.trim_end_matches('/').to_string(),
        })
    }

    /// Whether requests to it travel unencrypted.
    pub fn is_plain_http(&self) -> bool {
        self.scheme_and_authority.starts_with("http://")
    }

    /// `localhost`, `[::1]` or an IPv4 address in 127.0.0.0/8 — not a name that merely starts with `127.`.
    pub fn is_loopback(&self) -> bool {
        self.hostname.eq_ignore_ascii_case("localhost")
            || self.hostname == "[::1]"
            || self
                .hostname
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The URL to fetch for a client's path and query (`path_and_query` starts with `/`).
    pub fn url_for(&self, path_and_query: &str) -> String {
        format!(
            "{}{}{}",
            self.scheme_and_authority, self.base_path, path_and_query
        )
    }
}

const NO_HOST: &str = "must name a host";
const BAD_PORT: &str = "must have a port from 1 to 65535 after `:`";

/// A host name as written: letters, digits, `.` and `-`, or a bracketed IPv6 literal.
fn hostname_chars_ok(hostname: &str) -> bool {
    hostname.starts_with('[')
        || hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// The root token. `Debug` redacts it.
#[derive(Clone)]
pub struct RootToken(String);

impl fmt::Debug for RootToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootToken(<redacted>)")
    }
}

impl RootToken {
    /// Constant-time comparison with a presented token. Comparing digests rather than the
    /// strings keeps even the token's length from showing in the timing.
    pub fn matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let expected = Sha256::digest(self.0.as_bytes());
        let given = Sha256::digest(presented.as_bytes());
        bool::from(expected.as_slice().ct_eq(given.as_slice()))
    }
}

/// Where the policy in force came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// The file compiled into the Worker at build time.
    Bundled,
    /// A `KEYGATE_POLICY` variable, overriding the bundled policy.
    Variable,
}

impl PolicySource {
    /// What `GET /policy` calls it: a secret named `KEYGATE_POLICY` outlives every deploy
    /// and rollback, so a smoke test must be able to see that the bundle is not in force.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::Bundled => "bundled",
            PolicySource::Variable => "variable",
        }
    }
}

#[derive(Debug)]
pub struct Config {
    pub origin: Origin,
    pub policy: Policy,
    pub policy_source: PolicySource,
    pub hash_secret: HashingSecret,
    pub signing_secret: SigningSecret,
    pub root_token: RootToken,
    /// For deployment-level webhook receivers (the coming events feed). Each key's
    /// rejection webhook has its own secret ([`crate::webhook::secret`]); this one signs
    /// only webhooks set before that, until their first rotation. Apart from
    /// `signing_secret`, so a webhook receiver can never forge identity headers for the origin.
    pub webhook_secret: SigningSecret,
    pub https_only: bool,
    pub origin_timeout_ms: u64,
}

/// A configuration problem, for the operator's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl Config {
    /// Reads every setting through `lookup` (name → value), so the Workers layer and the
    /// tests supply variables the same way. `bundled_policy` is the compiled policy bundled
    /// into the Worker (empty when none is); a non-blank `KEYGATE_POLICY` variable, also a
    /// compiled policy, is used instead.
    pub fn from_lookup(
        bundled_policy: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let required = |variable: &'static str| {
            lookup(variable)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError {
                    variable,
                    problem: "is not set".into(),
                })
        };
        let secret = |variable: &'static str| {
            let value = required(variable)?;
            if value.chars().count() < MIN_SECRET_CHARS {
                return Err(ConfigError {
                    variable,
                    problem: format!("must be at least {MIN_SECRET_CHARS} characters"),
                });
            }
            Ok(value)
        };
        let origin =
            Origin::parse(&required("KEYGATE_ORIGIN")?).map_err(|problem| ConfigError {
                variable: "KEYGATE_ORIGIN",
                problem,
            })?;
        let policy_variable = lookup("KEYGATE_POLICY").filter(|v| !v.trim().is_empty());
        let (policy_text, policy_source) = match &policy_variable {
            Some(text) => (text.as_str(), PolicySource::Variable),
            None => (bundled_policy, PolicySource::Bundled),
        };
        if policy_source == PolicySource::Bundled && bundled_policy.trim().is_empty() {
            // build.rs bundles what scripts/build.sh compiled; a wasm build without it has none.
            return Err(ConfigError {
                variable: "KEYGATE_POLICY_FILE",
                problem: "no policy is bundled: build with scripts/build.sh, which compiles the file KEYGATE_POLICY_FILE names".into(),
            });
        }
        let policy = Policy::from_compiled(policy_text).map_err(|e| match policy_source {
            PolicySource::Variable => ConfigError {
                variable: "KEYGATE_POLICY",
                problem: e.to_string(),
            },
            // scripts/build.sh compiles the file (which checks it) before bundling it, so
            // this takes a build that skipped it.
            PolicySource::Bundled => ConfigError {
                variable: "KEYGATE_POLICY_FILE",
                problem: format!("the bundled policy is invalid (build with scripts/build.sh, which compiles and checks it): {e}"),
            },
        })?;
        let flag = |variable: &'static str, default: bool| match lookup(variable)
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ConfigError {
                variable,
                problem: "must be `true` or `false`".into(),
            }),
        };
        let https_only = flag("KEYGATE_HTTPS_ONLY", true)?;
        // Identity headers and the body travel to the origin in the clear over http://, for
        // anyone on the path to read and replay; only loopback is safe without saying so.
        if origin.is_plain_http()
            && !origin.is_loopback()
            && !flag("KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN", false)?
        {
            return Err(ConfigError {
                variable: "KEYGATE_ORIGIN",
                problem: "is plain http:// to a host that is not loopback; use https://, or set \
                          KEYGATE_ALLOW_PLAIN_HTTP_ORIGIN=true if the path to it is private"
                    .into(),
            });
        }
        let origin_timeout_ms = match lookup("KEYGATE_ORIGIN_TIMEOUT_MS") {
            None => DEFAULT_ORIGIN_TIMEOUT_MS,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=MAX_ORIGIN_TIMEOUT_MS).contains(ms))
                .ok_or(ConfigError {
                    variable: "KEYGATE_ORIGIN_TIMEOUT_MS",
                    problem: format!(
                        "must be a whole number of milliseconds from 1 to {MAX_ORIGIN_TIMEOUT_MS}"
                    ),
                })?,
        };
        let hash_secret = secret("KEYGATE_HASH_SECRET")?;
        let signing_secret = secret("KEYGATE_SIGNING_SECRET")?;
        let root_token = secret("KEYGATE_ROOT_TOKEN")?;
        let webhook_secret = secret("KEYGATE_WEBHOOK_SECRET")?;
        let secrets = [
            ("KEYGATE_HASH_SECRET", &hash_secret),
            ("KEYGATE_SIGNING_SECRET", &signing_secret),
            ("KEYGATE_ROOT_TOKEN", &root_token),
            ("KEYGATE_WEBHOOK_SECRET", &webhook_secret),
        ];
        for (i, (first, a)) in secrets.iter().enumerate() {
            if let Some((second, _)) = secrets.iter().skip(i + 1).find(|(_, b)| a == b) {
                return Err(ConfigError {
                    variable: second,
                    problem: format!("must differ from {first}"),
                });
            }
        }
        Ok(Config {
            origin,
            policy,
            policy_source,
            hash_secret: HashingSecret::new(hash_secret.into_bytes()),
            signing_secret: SigningSecret::new(signing_secret.into_bytes()),
            root_token: RootToken(root_token),
            webhook_secret: SigningSecret::new(webhook_secret.into_bytes()),
            https_only,
            origin_timeout_ms,
        })
    }
}

#[cfg(test)]
mod tests;
