//! The portal page as the Worker serves it: what a path under `/_keygate/portal` asks for,
//! the policy's `[portal]` table (the page's branding and who may frame it), and the
//! headers every portal answer carries.
//!
//! The page is static files built from `portal/` (its HTML, and hashed scripts and
//! stylesheets under `assets/`) plus one JSON document of branding. It holds no secret and
//! takes none: the session token is the page's own business, sent by the page to the admin
//! API. So the portal reads no credential, no body and no storage, and never reaches the
//! origin; everything about an answer is decided here from the method, the path and the
//! policy.
//!
//! ```
//! use keygate::portal::{classify, PortalRefusal, PortalRequest};
//! assert_eq!(classify("GET", "/_keygate/portal"), Ok(PortalRequest::Redirect));
//! assert_eq!(classify("GET", "/_keygate/portal/"), Ok(PortalRequest::Page));
//! assert_eq!(classify("GET", "/_keygate/portal/assets/..%2fx.js"), Err(PortalRefusal::NotFound));
//! assert_eq!(classify("POST", "/_keygate/portal/"), Err(PortalRefusal::MethodNotAllowed));
//! ```

use serde::Serialize;

/// Every portal path starts with this; [`is_portal_path`] says which paths are the portal's.
pub const PORTAL_PREFIX: &str = "/_keygate/portal";
/// The page itself: its relative URLs (vite's `base`) resolve under it.
pub const PAGE_PATH: &str = "/_keygate/portal/";
/// The only methods the portal answers; any other is a 405 with this as `Allow`.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// The longest asset file name a path may ask for (vite's are `<name>-<hash>.<ext>`).
const MAX_ASSET_NAME_BYTES: usize = 128;
const MAX_TITLE_CHARS: usize = 80;
const MAX_URL_BYTES: usize = 2048;
const MAX_FRAME_ANCESTORS: usize = 16;
const MAX_HOST_BYTES: usize = 253;
const DEFAULT_TITLE: &str = "API keys";
const DEFAULT_ACCENT_COLOR: &str = "#2563eb";
/// A file named by its hash never changes: a year, and never revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The HTML and the branding change with a deploy or a policy: revalidated every time.
const REVALIDATE: &str = "no-cache";
const SELF_SOURCE: &str = "'self'";

/// Whether `path` is the portal's (the prefix itself or anything below it), not the data
/// plane's: `/_keygate/portalx` is not.
pub fn is_portal_path(path: &str) -> bool {
    path.strip_prefix(PORTAL_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What a portal request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortalRequest {
    /// The prefix without its slash: a 308 to [`PAGE_PATH`], where the page's relative
    /// URLs resolve.
    Redirect,
    /// The page's HTML (`/`, or `/index.html`).
    Page,
    /// A built script, stylesheet or image under `assets/`.
    Asset(Asset),
    /// The branding as JSON ([`PortalConfig`]).
    Config,
}

/// A file under the page's `assets/` directory, named strictly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    file: String,
    kind: AssetKind,
}

/// The kinds of file the page is built into; the only ones served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetKind {
    Script,
    Stylesheet,
    Svg,
    Png,
}

/// Why a portal request gets no file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalRefusal {
    /// No such file, or a path that is not one of the portal's exact forms.
    NotFound,
    /// Not `GET` or `HEAD` ([`ALLOWED_METHODS`]).
    MethodNotAllowed,
    /// The Worker was deployed without the built page (no static-assets binding).
    NotDeployed,
}

/// What `method` and `path` (as the URL parser left it, percent-encoding kept) ask of the
/// portal. `path` must be a portal path ([`is_portal_path`]); anything else is not found.
/// Every path below the prefix is exactly one of: the redirect, the page, one asset, the
/// branding, or not found — so an encoded dot, a doubled slash, a backslash or any byte
/// outside an asset name's alphabet can never name a file.
pub fn classify(method: &str, path: &str) -> Result<PortalRequest, PortalRefusal> {
    if method != "GET" && method != "HEAD" {
        return Err(PortalRefusal::MethodNotAllowed);
    }
    let rest = path
        .strip_prefix(PORTAL_PREFIX)
        .ok_or(PortalRefusal::NotFound)?;
    match rest {
        "" => Ok(PortalRequest::Redirect),
        "/" | "/index.html" => Ok(PortalRequest::Page),
        "/config" => Ok(PortalRequest::Config),
        _ => rest
            .strip_prefix("/assets/")
            .and_then(Asset::named)
            .map(PortalRequest::Asset)
            .ok_or(PortalRefusal::NotFound),
    }
}

impl Asset {
    /// `[A-Za-z0-9._-]{1,128}`, not starting with a dot (no `..`, no hidden file), ending
    /// in one of the page's file kinds.
    fn named(file: &str) -> Option<Asset> {
        let well_formed = !file.is_empty()
            && file.len() <= MAX_ASSET_NAME_BYTES
            && !file.starts_with('.')
            && !file.contains("..")
            && file
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !well_formed {
            return None;
        }
        let kind = match file.rsplit_once('.')?.1 {
            "js" => AssetKind::Script,
            "css" => AssetKind::Stylesheet,
            "svg" => AssetKind::Svg,
            "png" => AssetKind::Png,
            _ => return None,
        };
        Some(Asset {
            file: file.to_string(),
            kind,
        })
    }

    pub fn kind(&self) -> AssetKind {
        self.kind
    }
}

impl AssetKind {
    /// Whether the static-assets store's `Content-Type` is this kind's (parameters such as
    /// `charset` aside): a file that is not what its name says is not served.
    fn is_content_type(self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match self {
            AssetKind::Script => {
                essence == "text/javascript" || essence == "application/javascript"
            }
            AssetKind::Stylesheet => essence == "text/css",
            AssetKind::Svg => essence == "image/svg+xml",
            AssetKind::Png => essence == "image/png",
        }
    }
}

impl PortalRequest {
    /// The path to ask the static-assets store for (its root is `portal/dist`); `None` for
    /// what is answered without a file.
    pub fn asset_path(&self) -> Option<String> {
        match self {
            PortalRequest::Page => Some("/index.html".to_string()),
            PortalRequest::Asset(asset) => Some(format!("/assets/{}", asset.file)),
            PortalRequest::Redirect | PortalRequest::Config => None,
        }
    }

    /// The headers to answer a file with, given the store's status and headers, or not
    /// found. Of the store's headers only the ones describing the bytes are kept
    /// (`Content-Type`, `ETag`, `Last-Modified`, `Content-Length`); caching and the
    /// security headers are the portal's own.
    pub fn file_headers(
        &self,
        settings: &PortalSettings,
        status: u16,
        stored: &[(String, String)],
    ) -> Result<Vec<(String, String)>, PortalRefusal> {
        if status != 200 {
            return Err(PortalRefusal::NotFound);
        }
        let stored_value = |name: &str| {
            stored
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let (content_type, cache_control) = match self {
            PortalRequest::Page => ("text/html; charset=utf-8".to_string(), REVALIDATE),
            PortalRequest::Asset(asset) => {
                let content_type = stored_value("content-type")
                    .filter(|value| asset.kind.is_content_type(value))
                    .ok_or(PortalRefusal::NotFound)?;
                (content_type, IMMUTABLE)
            }
            PortalRequest::Redirect | PortalRequest::Config => return Err(PortalRefusal::NotFound),
        };
        let mut headers = vec![
            ("Content-Type".to_string(), content_type),
            ("Cache-Control".to_string(), cache_control.to_string()),
        ];
        for name in ["ETag", "Last-Modified", "Content-Length"] {
            if let Some(value) = stored_value(name) {
                headers.push((name.to_string(), value));
            }
        }
        headers.extend(
            settings
                .security_headers()
                .into_iter()
                .map(|(name, value)| (name.to_string(), value)),
        );
        Ok(headers)
    }
}

/// The headers of the branding document (besides the security headers).
pub fn config_headers() -> [(&'static str, &'static str); 2] {
    [
        ("Content-Type", "application/json"),
        ("Cache-Control", REVALIDATE),
    ]
}

/// The `[portal]` table as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalTable {
    pub title: Option<String>,
    pub accent_color: Option<String>,
    pub logo_url: Option<String>,
    pub billing_url: Option<String>,
    pub docs_url: Option<String>,
    pub frame_ancestors: Option<Vec<String>>,
}

/// A validated `[portal]` table (its defaults when the policy has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalSettings {
    title: String,
    accent_color: String,
    logo_url: Option<String>,
    billing_url: Option<String>,
    docs_url: Option<String>,
    /// `'self'` or `https://host[:port]` each; empty: no page may frame the portal.
    frame_ancestors: Vec<String>,
}

/// One problem in the `[portal]` table: the field (e.g. `frame_ancestors[1]`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalProblem {
    pub field: String,
    pub message: String,
}

/// The branding the page reads (`GET /_keygate/portal/config`); `null` where unset.
#[derive(Debug, Serialize)]
pub struct PortalConfig<'a> {
    title: &'a str,
    accent_color: &'a str,
    logo_url: Option<&'a str>,
    billing_url: Option<&'a str>,
    docs_url: Option<&'a str>,
}

/// The `[portal]` table as `GET /policy` shows it: the branding and who may frame the page.
#[derive(Debug, Serialize)]
pub struct PortalDescription<'a> {
    #[serde(flatten)]
    config: PortalConfig<'a>,
    frame_ancestors: &'a [String],
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            title: DEFAULT_TITLE.to_string(),
            accent_color: DEFAULT_ACCENT_COLOR.to_string(),
            logo_url: None,
            billing_url: None,
            docs_url: None,
            frame_ancestors: Vec::new(),
        }
    }
}

impl PortalSettings {
    /// Validates the table. Every problem is returned, not the first. What reaches a header
    /// (the logo's origin, the frame ancestors) is checked to the byte, so no value can
    /// close a directive of the Content-Security-Policy or add one.
    pub fn from_table(table: &PortalTable) -> Result<PortalSettings, Vec<PortalProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(PortalProblem {
                field: field.to_string(),
                message,
            })
        };
        let defaults = PortalSettings::default();

        let title = match &table.title {
            None => defaults.title,
            Some(title) => {
                if title.trim().is_empty()
                    || title.chars().count() > MAX_TITLE_CHARS
                    || title.chars().any(char::is_control)
                {
                    problem(
                        "title",
                        format!("{title:?} must be 1 to {MAX_TITLE_CHARS} characters, not only spaces, without control characters"),
                    );
                }
                title.clone()
            }
        };
        let accent_color = match &table.accent_color {
            None => defaults.accent_color,
            Some(color) => {
                if !is_hex_color(color) {
                    problem(
                        "accent_color",
                        format!("{color:?} must be a colour as #rrggbb, such as \"#2563eb\""),
                    );
                }
                color.clone()
            }
        };
        if let Some(url) = &table.logo_url {
            if !is_https_url(url, false) {
                problem(
                    "logo_url",
                    format!("{url:?} must be an https:// URL of at most {MAX_URL_BYTES} bytes, without user name, password or #fragment, such as \"https://example.com/logo.svg\""),
                );
            }
        }
        for (field, link) in [
            ("billing_url", &table.billing_url),
            ("docs_url", &table.docs_url),
        ] {
            if let Some(link) = link {
                if !is_https_url(link, true) && !is_site_path(link) {
                    problem(
                        field,
                        format!("{link:?} must be an https:// URL or a path starting with a single /, at most {MAX_URL_BYTES} bytes, without user name or password, such as \"https://example.com/billing\" or \"/billing\""),
                    );
                }
            }
        }
        let frame_ancestors = table.frame_ancestors.clone().unwrap_or_default();
        if frame_ancestors.len() > MAX_FRAME_ANCESTORS {
            problem(
                "frame_ancestors",
                format!(
                    "lists {} entries; at most {MAX_FRAME_ANCESTORS} may frame the page",
                    frame_ancestors.len()
                ),
            );
        }
        for (index, ancestor) in frame_ancestors.iter().enumerate() {
            let field = format!("frame_ancestors[{index}]");
            if ancestor != SELF_SOURCE && !is_https_origin(ancestor) {
                problem(
                    &field,
                    format!("{ancestor:?} must be an origin as https://host or https://host:port (no path, no wildcard), or \"'self'\""),
                );
            } else if frame_ancestors.iter().take(index).any(|a| a == ancestor) {
                problem(&field, format!("{ancestor:?} is listed twice"));
            }
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PortalSettings {
            title,
            accent_color,
            logo_url: table.logo_url.clone(),
            billing_url: table.billing_url.clone(),
            docs_url: table.docs_url.clone(),
            frame_ancestors,
        })
    }

    /// The branding the page reads.
    pub fn config(&self) -> PortalConfig<'_> {
        PortalConfig {
            title: &self.title,
            accent_color: &self.accent_color,
            logo_url: self.logo_url.as_deref(),
            billing_url: self.billing_url.as_deref(),
            docs_url: self.docs_url.as_deref(),
        }
    }

    pub fn describe(&self) -> PortalDescription<'_> {
        PortalDescription {
            config: self.config(),
            frame_ancestors: &self.frame_ancestors,
        }
    }

    /// The headers on every portal answer, refusals included: a strict
    /// Content-Security-Policy (the page's own files only, no inline script, the logo's
    /// origin for images, and Trusted Types: the page writes no string to an HTML or script
    /// sink, so a bug that would hand text from the API to `innerHTML` throws instead of
    /// parsing it), no referrer (the page's URL may still hold the session token in
    /// its fragment before the page removes it; a fragment is never sent, but nothing else
    /// needs to be either), no content sniffing, a browsing context of its own, and framing
    /// only where the policy allows it (`X-Frame-Options` too, for browsers without
    /// `frame-ancestors`, when nothing may).
    pub fn security_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Content-Security-Policy", self.content_security_policy()),
            ("Referrer-Policy", "no-referrer".to_string()),
            ("X-Content-Type-Options", "nosniff".to_string()),
            ("Cross-Origin-Opener-Policy", "same-origin".to_string()),
        ];
        if self.frame_ancestors.is_empty() {
            headers.push(("X-Frame-Options", "DENY".to_string()));
        }
        headers
    }

    fn content_security_policy(&self) -> String {
        let img = match self.logo_url.as_deref().and_then(url_origin) {
            Some(origin) => format!("{SELF_SOURCE} {origin}"),
            None => SELF_SOURCE.to_string(),
        };
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_string()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'; frame-ancestors {ancestors}"
        )
    }
}

/// `#rrggbb`, hex digits in either case.
fn is_hex_color(color: &str) -> bool {
    color
        .strip_prefix('#')
        .is_some_and(|hex| hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `https://host[:port]` exactly: a DNS name of letters, digits and `-` in dot-separated
/// labels, the last not a number, and a port of 1 to 65535 without a leading zero.
fn is_https_origin(origin: &str) -> bool {
    origin
        .strip_prefix("https://")
        .is_some_and(is_host_and_port)
}

fn is_host_and_port(authority: &str) -> bool {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= MAX_HOST_BYTES
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !host.rsplit('.').next().is_some_and(is_number_label);
    let port_ok = port.is_none_or(|port| {
        !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|n| n > 0)
    });
    host_ok && port_ok
}

/// A label the WHATWG URL parser reads as a number (decimal, or `0x` hex): a host ending
/// in one is parsed as an IPv4 address, so `https://a.0` fails to parse and
/// `https://1.2.3` goes to 1.2.0.3, not where the check read.
fn is_number_label(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Bytes a URL's path, query and fragment may hold as written: RFC 3986's unreserved and
/// reserved characters and `%` (no space, quote, angle bracket, backslash or control).
fn is_url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// An `https://` URL: an origin as [`is_https_origin`] takes it (so no user name or
/// password), then nothing or a path (and query) of URL bytes; a `#fragment` only where
/// `fragment_allowed`.
fn is_https_url(url: &str, fragment_allowed: bool) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    url.len() <= MAX_URL_BYTES
        && is_host_and_port(authority)
        && tail.bytes().all(is_url_byte)
        && (fragment_allowed || !tail.contains('#'))
}

/// A path on the page's own site: one `/` then URL bytes (never `//`, which a browser
/// reads as another host).
fn is_site_path(path: &str) -> bool {
    path.len() <= MAX_URL_BYTES
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(is_url_byte)
}

/// `https://host[:port]` of a URL [`is_https_url`] accepted.
fn url_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.get(.."https://".len() + end)
}

#[cfg(test)]
mod tests;
