//! Where the admin API is, what to authenticate with, and how an answer fails to come back.

use super::answer::Reply;
use super::args::{self, Globals, Token};
use super::request::ApiRequest;
use crate::admin::ADMIN_PREFIX;
use crate::config::Origin;
use std::time::Duration;

/// Every request's deadline, connection and answer included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why no answer came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    Timeout,
    /// Could not connect or send (refused, DNS, TLS, …), with the cause.
    Failed(String),
    /// Connected, but the answer could not be read (not UTF-8, cut short, too large).
    Unreadable(String),
}

/// Sends one admin request. The real one is HTTP; tests substitute canned replies.
pub trait Transport {
    fn send(&mut self, request: &ApiRequest) -> Result<Reply, TransportError>;
}

/// Why the endpoint or the token cannot be used, with the usage line that says where they come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    pub usage: &'static str,
}

/// Where the admin API is and what to authenticate with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Scheme, authority and base path, without a trailing slash or the admin prefix.
    pub endpoint: String,
    pub token: Token,
    /// Plain `http://` to a host other than this machine: the token crosses the network in clear.
    pub plain_http_remote: bool,
}

/// The endpoint (`--endpoint`, else `$KEYGATE_ENDPOINT`, else the local dev gateway) and
/// the token (`--token`, else `$KEYGATE_TOKEN`), checked. Error messages never include the token.
pub fn connection(
    globals: &Globals,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Connection, UsageError> {
    let usage = "usage: keygate [--endpoint URL] [--token TOKEN] <command>";
    let set = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let (endpoint_text, source) = match (&globals.endpoint, set(env(args::ENDPOINT_VAR))) {
        (Some(flag), _) => (flag.clone(), "--endpoint"),
        (None, Some(var)) => (var, args::ENDPOINT_VAR),
        (None, None) => (args::DEFAULT_ENDPOINT.to_string(), "the default endpoint"),
    };
    let origin = Origin::parse(endpoint_text.trim()).map_err(|m| UsageError {
        message: format!("{source}: `{endpoint_text}` {m}, e.g. https://api.example.com"),
        usage,
    })?;
    // Accept the admin API's own URL too: it is what the README's curl lines show.
    let base = origin
        .base_path
        .strip_suffix(ADMIN_PREFIX)
        .unwrap_or(&origin.base_path);
    let endpoint = format!("{}{}", origin.scheme_and_authority, base);
    let token = match &globals.token {
        Some(token) => Some(token.expose().trim().to_string()),
        None => set(env(args::TOKEN_VAR)).map(|t| t.trim().to_string()),
    }
    .filter(|t| !t.is_empty())
    .ok_or_else(|| UsageError {
        message: format!(
            "no admin token: set {} (or pass --token) to the root token or a key with api_keys or approvals grants",
            args::TOKEN_VAR
        ),
        usage,
    })?;
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UsageError {
            message: "the admin token contains spaces or characters that cannot be sent in an HTTP header".into(),
            usage,
        });
    }
    Ok(Connection {
        plain_http_remote: endpoint.starts_with("http://") && !origin.is_loopback(),
        endpoint,
        token: Token::new(token),
    })
}
