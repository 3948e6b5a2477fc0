//! Requests whose meaning could differ between keygate and the origin, refused before routing.
//!
//! keygate authorises and signs the request it sees. An origin may act on another one if it
//! normalises or decodes the path differently — Tomcat and Jetty drop `;params` before they
//! resolve `..`, some stacks decode twice, many collapse `//` — or if it lets a header or a
//! query parameter override the method or path (`X-HTTP-Method-Override`, `X-Original-URL`,
//! `?_method=DELETE`). Rather than guess which meaning the origin picks, keygate refuses.
//!
//! ```
//! use keygate::ambiguity::{path_ambiguity, override_in_request};
//! assert_eq!(path_ambiguity("/v1/contacts/42"), None);
//! assert!(path_ambiguity("/v1/analytics/..;/settings").is_some());
//! assert!(override_in_request(["accept", "x-http-method-override"], None).is_some());
//! ```

use crate::methods::FORWARDABLE_METHODS;
use crate::percent;
use std::borrow::Cow;

/// Headers some frameworks (Symfony, Express method-override, IIS URL Rewrite) read as
/// the request's real method or path.
const OVERRIDE_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-original-uri",
    "x-envoy-original-path",
    "x-rewrite-url",
];

/// The field Rails (Rack::MethodOverride), Laravel, Symfony, Sinatra and Express's
/// method-override read as the method, from the query or a form or JSON body.
const OVERRIDE_FIELD: &[u8] = b"_method";

/// How much of a body keygate reads to look for a method override. The body is still
/// streamed to the origin; only this prefix is held, and only while it is checked.
pub const BODY_SCAN_BYTES: usize = 64 * 1024;

/// Why a request's shape is refused before it is routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ambiguity {
    /// Not one of the standard methods keygate forwards faithfully.
    MethodNotSupported,
    /// A path the origin could read as a different path ([`path_ambiguity`]'s reason).
    Path { reason: &'static str },
    /// A method or path override, named as the request spelled it.
    Override { what: String },
    /// A key of this deployment where it would travel on to the origin.
    KeyInRequest { place: String },
    /// A GET or HEAD request with a body.
    BodyNotAllowed,
    /// A body keygate could not read whole, for an origin that reads overrides in bodies.
    BodyNotScannable { max_bytes: u64 },
}

/// What keygate checks about a request before routing it, in one place.
pub struct RequestShape<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub has_body: bool,
    /// The deployment's key prefix: a key anywhere but `Authorization` (and the
    /// credential header) is refused.
    pub key_prefix: &'a str,
    /// The policy's `[credentials] header`, where a key may travel too (`None`: only
    /// `Authorization`). Exactly that name, in any case: another spelling (`X_API_Key`)
    /// is another header to HTTP and is not read for a key, so a key in it is refused.
    pub credential_header: Option<&'a str>,
}

/// Everything keygate checks about a request's shape before routing it: the method, the
/// path, method/path overrides in headers and the query, a key where it would travel on,
/// and a body where none can be sent. The body's own overrides are [`check_body`]'s.
pub fn check_request(shape: &RequestShape) -> Result<(), Ambiguity> {
    if !FORWARDABLE_METHODS.contains(&shape.method) {
        return Err(Ambiguity::MethodNotSupported);
    }
    if let Some(reason) = path_ambiguity(shape.path) {
        return Err(Ambiguity::Path { reason });
    }
    let header_names = shape.headers.iter().map(|(name, _)| name.as_str());
    if let Some(what) = override_in_request(header_names, shape.query) {
        return Err(Ambiguity::Override { what });
    }
    if let Some(place) = key_outside_authorization(shape) {
        return Err(Ambiguity::KeyInRequest { place });
    }
    if shape.has_body && (shape.method == "GET" || shape.method == "HEAD") {
        return Err(Ambiguity::BodyNotAllowed);
    }
    Ok(())
}

/// What makes a path ambiguous, for the refusal's detail; `None` when it is plain.
pub fn path_ambiguity(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let contains = |needle: &str| lower.contains(needle);
    if path.bytes().any(is_control) || has_encoded_control(path.as_bytes()) {
        Some("a control character")
    } else if contains("\\") || contains("%5c") {
        Some("a backslash")
    } else if contains("%2f") {
        Some("an encoded slash")
    } else if contains(";") || contains("%3b") {
        Some("a `;` path parameter")
    } else if hides_an_escape(path) {
        Some("a double-encoded character")
    } else if path.split('/').any(is_dot_segment) {
        Some("a `.` or `..` segment")
    } else if has_empty_segment(path) {
        Some("an empty segment (`//`)")
    } else {
        None
    }
}

/// C0 controls and DEL: CR and LF split headers, others confuse logs and parsers.
fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

/// `%00`–`%1F` or `%7F`, in either case of hex.
fn has_encoded_control(bytes: &[u8]) -> bool {
    (0..bytes.len()).any(|at| percent::escaped_byte(bytes, at).is_some_and(is_control))
}

/// Escapes of a dot or a separator: harmless as text, but what the next decoding turns
/// into one (escaped controls are [`has_encoded_control`]'s).
const HIDING_ESCAPES: [&[u8]; 4] = [b"%2e", b"%2f", b"%5c", b"%3b"];

/// Origins behind a proxy may decode a path twice (the proxy, then the framework), so what
/// one decoding leaves must hold no escape the checks above refuse. Every spelling counts:
/// `%252e` and `%25%32%65` both decode to `%2e`. Two decodings are looked at, one more than
/// any stack is known to do.
fn hides_an_escape(path: &str) -> bool {
    let once = percent::decode(path.as_bytes());
    let twice = percent::decode(&once).into_owned();
    [once.into_owned(), twice].iter().any(|decoded| {
        let lower = decoded.to_ascii_lowercase();
        has_encoded_control(&lower)
            || HIDING_ESCAPES
                .iter()
                .any(|escape| lower.windows(escape.len()).any(|w| w == *escape))
    })
}

/// `.` and `..` in any of the spellings URL parsers treat alike (WHATWG: `%2e` is a dot).
pub fn is_dot_segment(segment: &str) -> bool {
    const DOT_SPELLINGS: [&str; 6] = [".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"];
    DOT_SPELLINGS
        .iter()
        .any(|spelling| segment.eq_ignore_ascii_case(spelling))
}

/// `//` anywhere but a trailing slash: origins that collapse it see another path.
fn has_empty_segment(path: &str) -> bool {
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    !inner.is_empty() && inner.split('/').any(str::is_empty)
}

/// The first method or path override the request carries: a header (by its name as sent)
/// or a query field the origin reads as `_method`. Header names compare with `_` (or any
/// other byte but a letter or digit) as `-`, since CGI-style servers read those spellings
/// as the same variable.
pub fn override_in_request<'a>(
    header_names: impl IntoIterator<Item = &'a str>,
    query: Option<&str>,
) -> Option<String> {
    if let Some(name) = header_names.into_iter().find(|name| {
        let normalized = normalize_header_name(name);
        OVERRIDE_HEADERS.contains(&normalized.as_str())
    }) {
        return Some(format!("the `{name}` header"));
    }
    form_has_override(query?.as_bytes()).then(|| "a `_method` query parameter".to_string())
}

/// Lower case, every byte but a letter or digit as `-`: the spelling that CGI, WSGI and
/// Rack servers cannot tell apart (lighttpd, like Apache 2.2, turns each of them into the
/// `_` of `HTTP_X_HTTP_METHOD_OVERRIDE`).
pub fn normalize_header_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Whether a field name, as sent, is `_method` to some origin: percent-decoded once (`+`
/// as a space), then read as PHP does (leading spaces dropped, `.` and ` ` become `_`, an
/// array suffix like `_method[]` names the same field) and as Rack 2 does (leading `[`
/// and `]` dropped, a `]` ends the name: `[_method]` is `_method`), in any case.
pub fn is_override_name(raw: &[u8]) -> bool {
    let decoded = percent::decode_form(raw);
    spells_override(&decoded)
}

fn spells_override(name: &[u8]) -> bool {
    let start = name
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(name.len());
    let name = name.get(start..).unwrap_or_default();
    let is_bracket = |b: &u8| *b == b'[' || *b == b']';
    let start = name
        .iter()
        .position(|b| !is_bracket(b))
        .unwrap_or(name.len());
    let name = name.get(start..).unwrap_or_default();
    let end = name
        .iter()
        .position(|b| is_bracket(b) || *b == 0)
        .unwrap_or(name.len());
    let base = name.get(..end).unwrap_or_default();
    base.len() == OVERRIDE_FIELD.len()
        && base.iter().zip(OVERRIDE_FIELD).all(|(&byte, &wanted)| {
            let mangled = if byte == b'.' || byte == b' ' {
                b'_'
            } else {
                byte
            };
            mangled.to_ascii_lowercase() == wanted
        })
}

/// Whether `application/x-www-form-urlencoded` text (a query or a form body) has a
/// top-level field the origin reads as `_method`. Fields split on `&` and, as Rack does,
/// on `;`.
pub fn form_has_override(form: &[u8]) -> bool {
    form.split(|&b| b == b'&' || b == b';').any(|field| {
        let name = field.split(|&b| b == b'=').next().unwrap_or_default();
        is_override_name(name)
    })
}

/// How an origin's framework would parse a body, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/x-www-form-urlencoded`, or no type at all (Rack parses a typeless
    /// POST as a form).
    Form,
    Multipart,
    Json,
    /// Anything else; frameworks do not read parameters from it.
    Other,
}

impl BodyKind {
    /// The media type ends at the first `;`, `,` or space, as Rack (`;`, `,`) and PHP
    /// (`;`, `,`, ` `) end it: `application/x-www-form-urlencoded,a+json` is a form to both.
    pub fn of(content_type: Option<&str>) -> BodyKind {
        let media_type = content_type
            .map(str::trim_start)
            .and_then(|value| {
                value
                    .split(|c: char| c == ';' || c == ',' || c.is_ascii_whitespace())
                    .next()
            })
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match media_type.as_str() {
            "" | "application/x-www-form-urlencoded" => BodyKind::Form,
            "application/json" | "text/json" => BodyKind::Json,
            media if media.starts_with("multipart/") => BodyKind::Multipart,
            media if media.ends_with("+json") => BodyKind::Json,
            _ => BodyKind::Other,
        }
    }
}

/// The first `_method` field in (the first [`BODY_SCAN_BYTES`] of) a body, as its
/// framework would read it: form fields, multipart part names, a JSON object's top-level
/// members. A body of any other type is read as a form, and a body of any type that starts
/// with `{` as JSON too, since some origins parse bodies whatever their declared type
/// (Laravel reads JSON from any type containing `/json` or `+json`, parameters included).
pub fn override_in_body(content_type: Option<&str>, prefix: &[u8]) -> Option<&'static str> {
    let kind = BodyKind::of(content_type);
    let found = match kind {
        BodyKind::Multipart => multipart_has_override(prefix) || json_has_override(prefix),
        BodyKind::Json => json_has_override(prefix),
        BodyKind::Form | BodyKind::Other => form_has_override(prefix) || json_has_override(prefix),
    };
    found.then_some(match kind {
        BodyKind::Multipart => "a `_method` part in the multipart body",
        BodyKind::Json => "a `_method` member in the JSON body",
        BodyKind::Form | BodyKind::Other => "a `_method` field in the body",
    })
}

/// What keygate read of a request body to check it.
pub struct BodyPrefix<'a> {
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    /// At most [`BODY_SCAN_BYTES`] of the body.
    pub bytes: &'a [u8],
    /// Whether `bytes` is the whole body.
    pub complete: bool,
}

/// A request body's verdict. An override in what keygate can read is refused. An origin
/// that reads overrides from bodies (`origin_reads_body_overrides` in the policy) is not
/// given a form, multipart, JSON or typeless body keygate could not read whole: longer
/// than the scan, or compressed (Express's body parsers inflate gzip and deflate).
pub fn check_body(body: &BodyPrefix, origin_reads_body_overrides: bool) -> Result<(), Ambiguity> {
    let readable = match body.content_encoding.map(str::trim) {
        None | Some("") => readable_text(body.bytes, body.content_type),
        Some(coding) if coding.eq_ignore_ascii_case("identity") => {
            readable_text(body.bytes, body.content_type)
        }
        Some(_) => None,
    };
    if let Some(what) = readable
        .as_ref()
        .and_then(|(text, _)| override_in_body(body.content_type, text))
    {
        return Err(Ambiguity::Override {
            what: what.to_string(),
        });
    }
    let read_whole =
        body.complete && readable.is_some_and(|(_, as_the_origin_reads_it)| as_the_origin_reads_it);
    let may_carry_override = BodyKind::of(body.content_type) != BodyKind::Other;
    if !read_whole && origin_reads_body_overrides && may_carry_override {
        return Err(Ambiguity::BodyNotScannable {
            max_bytes: BODY_SCAN_BYTES as u64,
        });
    }
    Ok(())
}

/// The body as ASCII-compatible text, the way a lenient parser would read it: UTF-16
/// (by its BOM, its declared charset, or the NULs of ASCII in UTF-16) transcoded to UTF-8,
/// a UTF-8 BOM dropped; and whether that is what the origin reads. It may not be when the
/// body declares a charset that does not spell ASCII as ASCII (body-parser decodes every
/// `utf-*` with iconv-lite, and in UTF-7 `+AF8-` is `_`) or two charsets that differ: such
/// a body is still scanned as ASCII (Rack ignores the charset) but counts as unread.
/// `None` for what keygate does not read at all: UTF-32.
fn readable_text<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Option<(Cow<'a, [u8]>, bool)> {
    let declared = declared_charset(content_type);
    let charset = declared.clone().unwrap_or_default();
    let utf32 = charset.starts_with("utf-32")
        || bytes.starts_with(&[0, 0, 0xfe, 0xff])
        || bytes.starts_with(&[0xff, 0xfe, 0, 0]);
    if utf32 {
        return None;
    }
    let big_endian = match (bytes.first(), bytes.get(1)) {
        (Some(0xfe), Some(0xff)) => Some(true),
        (Some(0xff), Some(0xfe)) => Some(false),
        (Some(0), Some(second)) if *second != 0 => Some(true),
        (Some(first), Some(0)) if *first != 0 => Some(false),
        _ if charset == "utf-16le" => Some(false),
        _ if charset.starts_with("utf-16") => Some(true),
        _ => None,
    };
    let Some(big_endian) = big_endian else {
        let as_the_origin_reads_it = declared.as_deref().is_some_and(is_ascii_compatible);
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        return Some((Cow::Borrowed(text), as_the_origin_reads_it));
    };
    let units = bytes.chunks_exact(2).map(|pair| match pair {
        [a, b] if big_endian => u16::from_be_bytes([*a, *b]),
        [a, b] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    });
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    Some((Cow::Owned(text.into_bytes()), true))
}

/// The `charset` a `Content-Type` declares, lower case and unquoted (`""` for none), read
/// as the `content-type` package reads parameters (spaces around `=`, quoted strings with
/// `\` escapes). `None` when it declares two that differ: parsers disagree on which wins.
fn declared_charset(content_type: Option<&str>) -> Option<String> {
    let Some(value) = content_type else {
        return Some(String::new());
    };
    let mut charsets = split_parameters(value.as_bytes())
        .into_iter()
        .skip(1)
        .filter_map(|parameter| {
            let eq = parameter.iter().position(|&b| b == b'=')?;
            let key = trim(parameter.get(..eq)?);
            let raw = trim(parameter.get(eq + 1..)?);
            key.eq_ignore_ascii_case(b"charset")
                .then(|| String::from_utf8_lossy(&unquote(raw)).to_ascii_lowercase())
        });
    let first = charsets.next().unwrap_or_default();
    charsets.all(|other| other == first).then_some(first)
}

/// Charsets in which the bytes keygate looks for are the ASCII bytes it reads.
fn is_ascii_compatible(charset: &str) -> bool {
    matches!(
        charset,
        "" | "utf-8" | "utf8" | "us-ascii" | "ascii" | "latin1" | "windows-1252"
    ) || charset
        .strip_prefix("iso-8859-")
        .is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Part names as the lenient parsers find them: each `Content-Disposition` line (with any
/// folded continuation lines joined to it) read properly; each line holding
/// `Content-Disposition:` anywhere read as Rack 2 reads it (its pattern is neither
/// anchored nor aware of quotes); and each `Content-ID:`, which Rack takes as the name of
/// a part without one.
fn multipart_has_override(body: &[u8]) -> bool {
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    lines.iter().enumerate().any(|(at, line)| {
        let folded_lines = lines
            .iter()
            .skip(at + 1)
            .take_while(|next| next.first().is_some_and(|b| *b == b' ' || *b == b'\t'));
        let proper =
            strip_prefix_ignoring_case(line, b"content-disposition:").is_some_and(|value| {
                let mut value = value.to_vec();
                for folded in folded_lines {
                    value.extend_from_slice(folded);
                }
                disposition_names(&value).iter().any(|n| spells_override(n))
            });
        let rack = after_ignoring_case(line, b"content-disposition:")
            .is_some_and(rack_disposition_has_override);
        let content_id = after_ignoring_case(line, b"content-id:").is_some_and(|value| {
            let end = value
                .iter()
                .position(|&b| b == b'\r')
                .unwrap_or(value.len());
            spells_override(trim(value.get(..end).unwrap_or_default()))
        });
        proper || rack || content_id
    })
}

/// What follows the first case-insensitive occurrence of `needle` in `line`.
fn after_ignoring_case<'a>(line: &'a [u8], needle: &[u8]) -> Option<&'a [u8]> {
    (0..line.len()).find_map(|at| strip_prefix_ignoring_case(line.get(at..)?, needle))
}

/// Whether Rack 2's `/Content-Disposition:.*;\s*name=(VALUE)/` can find `_method` in what
/// follows `Content-Disposition:`: after any `;` (inside a quoted string or not) and
/// optional whitespace, a `name=` with a quoted string or a token.
fn rack_disposition_has_override(value: &[u8]) -> bool {
    value
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b';')
        .filter_map(|(at, _)| {
            let rest = value.get(at + 1..).unwrap_or_default();
            let start = rest
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            strip_prefix_ignoring_case(rest.get(start..).unwrap_or_default(), b"name=")
        })
        .any(|raw| match raw.strip_prefix(b"\"") {
            Some(quoted) => spells_override(&rack_quoted_name_start(quoted)),
            None => {
                let end = raw
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || b"()<>,;:\\\"/[]?=".contains(b))
                    .unwrap_or(raw.len());
                spells_override(raw.get(..end).unwrap_or_default())
            }
        })
}

/// The start of a quoted name as Rack reads it (it ends at a `"` not after a `\`; `\x` is
/// `x`), past any leading whitespace and brackets (Rack 2 drops leading brackets), and
/// only as long as [`spells_override`] needs: a name's cost is bounded by its own bytes,
/// so a line of many `;name="` stays linear.
fn rack_quoted_name_start(quoted: &[u8]) -> Vec<u8> {
    let mut start = Vec::new();
    let mut previous = b'"';
    let mut escaped = false;
    for &byte in quoted {
        if byte == b'"' && previous != b'\\' {
            break;
        }
        previous = byte;
        if !escaped && byte == b'\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        let leading =
            start.is_empty() && (byte.is_ascii_whitespace() || byte == b'[' || byte == b']');
        if !leading {
            start.push(byte);
        }
        if start.len() > OVERRIDE_FIELD.len() {
            break;
        }
    }
    start
}

fn strip_prefix_ignoring_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| bytes.get(prefix.len()..).unwrap_or_default())
}

/// The `name` (and RFC 5987 `name*`) parameters of a `Content-Disposition` value.
fn disposition_names(value: &[u8]) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    for parameter in split_parameters(value) {
        let Some(eq) = parameter.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, raw) = (trim(&parameter[..eq]), trim(&parameter[eq + 1..]));
        if key.eq_ignore_ascii_case(b"name") {
            names.push(unquote(raw));
        } else if key.eq_ignore_ascii_case(b"name*") {
            // charset'language'percent-encoded
            let encoded = raw.rsplit(|&b| b == b'\'').next().unwrap_or(raw);
            names.push(percent::decode(encoded).into_owned());
        }
    }
    names
}

/// Splits on `;` outside quoted strings.
fn split_parameters(value: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, &byte) in value.iter().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                parts.push(&value[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |at| at + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// A quoted-string's content with its `\` escapes undone, or a token as it is.
fn unquote(raw: &[u8]) -> Vec<u8> {
    let Some(inner) = raw.strip_prefix(b"\"") else {
        return raw.to_vec();
    };
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &byte in inner {
        if !escaped && byte == b'\\' {
            escaped = true;
        } else {
            out.push(byte);
            escaped = false;
        }
    }
    out
}

/// Whether a JSON object's top-level members, as far as `body` goes, include `_method`.
/// Lenient like the parsers it stands in for: a cut-off or invalid body is read up to the
/// point where it stops making sense.
fn json_has_override(body: &[u8]) -> bool {
    let mut json = JsonScanner { bytes: body, at: 0 };
    json.skip_whitespace();
    if !json.eat(b'{') {
        return false;
    }
    loop {
        json.skip_whitespace();
        let Some(name) = json.string() else {
            return false;
        };
        if spells_override(&name) {
            return true;
        }
        json.skip_whitespace();
        if !json.eat(b':') || !json.skip_value() {
            return false;
        }
        json.skip_whitespace();
        if !json.eat(b',') {
            return false;
        }
    }
}

struct JsonScanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl JsonScanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        self.at += usize::from(matched);
        matched
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// A string's decoded bytes (`\uXXXX` included, lone surrogates as U+FFFD).
    fn string(&mut self) -> Option<Vec<u8>> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        let mut units: Vec<u16> = Vec::new();
        loop {
            let byte = self.peek()?;
            self.at += 1;
            if byte == b'\\' && self.eat(b'u') {
                let hex = self.bytes.get(self.at..self.at + 4)?;
                let unit = hex.iter().try_fold(0u16, |unit, &digit| {
                    Some(unit << 4 | u16::from(percent::hex_value(digit)?))
                })?;
                units.push(unit);
                self.at += 4;
                continue;
            }
            flush_utf16(&mut units, &mut out);
            match byte {
                b'"' => return Some(out),
                b'\\' => {
                    let escape = self.peek()?;
                    self.at += 1;
                    out.push(match escape {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        other => other,
                    });
                }
                _ => out.push(byte),
            }
        }
    }

    /// Skips one value (scalar, string, or nested object/array); stops before the `,` or
    /// closing bracket after it. `false` when the body ends first.
    fn skip_value(&mut self) -> bool {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return false,
                Some(b'"') => {
                    if self.string().is_none() {
                        return false;
                    }
                }
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.at += 1;
                }
                Some(b'}' | b']') if depth == 0 => return true,
                Some(b'}' | b']') => {
                    depth -= 1;
                    self.at += 1;
                }
                Some(b',') if depth == 0 => return true,
                Some(_) => self.at += 1,
            }
        }
    }
}

fn flush_utf16(units: &mut Vec<u16>, out: &mut Vec<u8>) {
    for decoded in char::decode_utf16(units.drain(..)) {
        let mut buffer = [0u8; 4];
        let c = decoded.unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
    }
}

/// Where a key of this deployment appears outside `Authorization`, if it does: in the path,
/// the query, or another header. Such a request would carry the secret to the origin and
/// into its logs, so it is refused, whichever key it is.
fn key_outside_authorization(shape: &RequestShape) -> Option<String> {
    let holds_key = |text: &str| {
        crate::key::contains_key_shape(text.as_bytes(), shape.key_prefix)
            || crate::key::contains_key_shape(
                &percent::decode_form(text.as_bytes()),
                shape.key_prefix,
            )
    };
    if holds_key(shape.path) {
        return Some("the path".to_string());
    }
    if shape.query.is_some_and(holds_key) {
        return Some("the query string".to_string());
    }
    let carries_credentials = |name: &str| {
        name.eq_ignore_ascii_case("authorization")
            || shape
                .credential_header
                .is_some_and(|credential| name.eq_ignore_ascii_case(credential))
    };
    shape
        .headers
        .iter()
        .filter(|(name, _)| !carries_credentials(name))
        // A name too: lower-cased by the platform, it still leaks most of the key, and
        // the public checksum lets the rest be recovered offline.
        .find(|(name, value)| holds_key(name) || holds_key(value))
        .map(|(name, _)| format!("the `{name}` header"))
}

#[cfg(test)]
mod tests {
    use super::*;
    // The wire codes a refusal gets, so each case reads as a client sees it.
    use crate::problem::GatewayError;
    use proptest::prelude::*;

    const PREFIX: &str = "kg";

    fn check(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &[(&str, &str)],
        has_body: bool,
    ) -> Result<(), &'static str> {
        check_with(method, path, query, headers, has_body, None)
    }

    fn check_with(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &[(&str, &str)],
        has_body: bool,
        credential_header: Option<&str>,
    ) -> Result<(), &'static str> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        check_request(&RequestShape {
            method,
            path,
            query,
            headers: &headers,
            has_body,
            key_prefix: PREFIX,
            credential_header,
        })
        .map_err(|e| GatewayError::from(e).code())
    }

    /// A key-shaped string (the checksum is not checked by the exposure rule).
    const KEY: &str = "kg_live_1I30QbdVftBjciVLa2q1ye2p2fnIUOiI13gdIkv";

    #[test]
    fn check_request_refuses_each_kind_of_confusion() {
        let ok = check(
            "GET",
            "/v1/contacts",
            Some("page=2"),
            &[("accept", "*/*")],
            false,
        );
        assert_eq!(ok, Ok(()));
        assert_eq!(
            check("PROPFIND", "/v1", None, &[], false),
            Err("method_not_supported")
        );
        assert_eq!(
            check("get", "/v1", None, &[], false),
            Err("method_not_supported")
        );
        assert_eq!(
            check("GET", "/v1/a;b", None, &[], false),
            Err("path_ambiguous")
        );
        assert_eq!(
            check(
                "POST",
                "/v1",
                None,
                &[("X-HTTP-Method-Override", "DELETE")],
                true
            ),
            Err("override_not_allowed")
        );
        assert_eq!(
            check("POST", "/v1", Some("_method=DELETE"), &[], true),
            Err("override_not_allowed")
        );
        assert_eq!(
            check("GET", "/v1", None, &[], true),
            Err("body_not_allowed")
        );
        assert_eq!(
            check("HEAD", "/v1", None, &[], true),
            Err("body_not_allowed")
        );
        assert_eq!(check("DELETE", "/v1/contacts/1", None, &[], true), Ok(()));
    }

    #[test]
    fn a_key_anywhere_but_authorization_is_refused() {
        let bearer = format!("Bearer {KEY}");
        assert_eq!(
            check(
                "GET",
                "/v1/contacts",
                None,
                &[("Authorization", &bearer)],
                false
            ),
            Ok(())
        );
        let in_query = format!("api_key={KEY}");
        let encoded = format!("api_key={}", KEY.replace('_', "%5F"));
        let in_path = format!("/v1/contacts/{KEY}");
        for (path, query, headers) in [
            ("/v1/contacts", Some(in_query.as_str()), vec![]),
            ("/v1/contacts", Some(encoded.as_str()), vec![]),
            (in_path.as_str(), None, vec![]),
            ("/v1/contacts", None, vec![("X-Api-Key", KEY)]),
            ("/v1/contacts", None, vec![("Cookie", in_query.as_str())]),
        ] {
            let result = check("GET", path, query, &headers, false);
            assert_eq!(
                result,
                Err("key_in_request"),
                "{path} {query:?} {headers:?}"
            );
        }
        // Another prefix, or too short to be a key, is not a key of this deployment.
        let other = KEY.replacen("kg_", "xx_", 1);
        assert_eq!(
            check("GET", "/v1", Some(&format!("k={other}")), &[], false),
            Ok(())
        );
        let short = &KEY[..KEY.len() - 1];
        assert_eq!(
            check("GET", "/v1", Some(&format!("k={short}")), &[], false),
            Ok(())
        );
    }

    #[test]
    fn plain_paths_pass() {
        for path in [
            "/",
            "/v1/contacts",
            "/v1/contacts/42",
            "/v1/contacts/",
            "/v1/files/a%20b",
            "/v1/x%25y",
            "/v1/a.b/c..d/.e",
            "/v1/a%20b%7e%80",
            "/v1/100%",
            "/v1/%2",
        ] {
            assert_eq!(path_ambiguity(path), None, "{path}");
        }
    }

    #[test]
    fn each_ambiguity_is_named() {
        let cases = [
            ("/v1/a\\b", "backslash"),
            ("/v1/a%5Cb", "backslash"),
            ("/v1/a%2fb", "encoded slash"),
            ("/v1/a%00", "control"),
            ("/v1/contacts/x%0d%0aX-Injected:1", "control"),
            ("/v1/a%0A", "control"),
            ("/v1/a%09b", "control"),
            ("/v1/a%1B", "control"),
            ("/v1/a%1f", "control"),
            ("/v1/a%7f", "control"),
            ("/v1/a%7F", "control"),
            ("/v1/analytics/..;/settings", "`;`"),
            ("/v1/analytics/..%3B/settings", "`;`"),
            ("/v1/contacts;jsessionid=1", "`;`"),
            ("/v1/a%252e%252e/b", "double-encoded"),
            ("/v1/a%252fb", "double-encoded"),
            // Found by fuzzing: each character of `%2e` encoded on its own.
            ("/v1/%25%32%65%25%32%65/admin", "double-encoded"),
            ("/v1/%25%32%66etc", "double-encoded"),
            ("/v1/%2525%32%65", "double-encoded"),
            ("/v1/./contacts", "`.`"),
            ("/v1/%2e%2E/contacts", "`.`"),
            ("/v1//settings", "empty segment"),
            ("//v1/settings", "empty segment"),
        ];
        for (path, expected) in cases {
            let reason = path_ambiguity(path).unwrap_or_else(|| panic!("{path} passed"));
            assert!(reason.contains(expected), "{path}: {reason}");
        }
    }

    #[test]
    fn override_headers_are_found_in_any_spelling() {
        for name in [
            "X-HTTP-Method-Override",
            "x-http-method",
            "X-Method-Override",
            "X-Original-URL",
            "x-rewrite-url",
            "X-Original-URI",
            "x-envoy-original-path",
            "X_HTTP_Method_Override",
        ] {
            let found =
                override_in_request(["accept", name], None).unwrap_or_else(|| panic!("{name}"));
            assert!(found.contains(name));
        }
        assert_eq!(
            override_in_request(["accept", "x-http-methods"], None),
            None
        );
    }

    #[test]
    fn method_override_query_parameter_is_found_in_every_spelling() {
        for query in [
            "_method=DELETE",
            "a=1&_method=put",
            "a=1;_method=put",
            "_METHOD=x",
            "%5Fmethod=DELETE",
            "_%6Dethod=DELETE",
            "%5F%6D%65%74%68%6F%64=DELETE",
            "%5f%6d%65%74%68%6f%64=DELETE",
            ".method=DELETE",
            "%20_method=DELETE",
            "+.method=DELETE",
            "_method[]=DELETE",
            "_method[x]=DELETE",
            "_method",
        ] {
            assert!(override_in_request([], Some(query)).is_some(), "{query}");
        }
        for query in [
            "method=DELETE",
            "a=_method",
            "x_method=1",
            "_methods=1",
            "_method_is_a_word=1",
            // PHP drops leading spaces: this is `method`.
            "+method=DELETE",
            "%255Fmethod=1",
            "",
        ] {
            assert_eq!(override_in_request([], Some(query)), None, "{query}");
        }
    }

    fn body_override(content_type: Option<&str>, body: &str) -> Option<&'static str> {
        override_in_body(content_type, body.as_bytes())
    }

    #[test]
    fn form_bodies_with_a_method_field_are_found() {
        let form = Some("application/x-www-form-urlencoded; charset=utf-8");
        for body in [
            "_method=DELETE",
            "name=x&_method=DELETE",
            "name=x&%5Fmethod=DELETE",
            "name=x&.method=DELETE",
            "_method[]=DELETE",
        ] {
            assert!(body_override(form, body).is_some(), "{body}");
            // Rack parses a typeless body as a form.
            assert!(body_override(None, body).is_some(), "{body}");
        }
        for body in [
            "name=_method_is_a_word",
            "note=_method%3DDELETE",
            "a=1&b=2",
            "",
        ] {
            assert_eq!(body_override(form, body), None, "{body}");
        }
    }

    #[test]
    fn multipart_parts_named_method_are_found() {
        let multipart = Some("multipart/form-data; boundary=XyZ");
        let part = |disposition: &str| {
            format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\n{disposition}\r\n\r\nDELETE\r\n--XyZ--\r\n"
            )
        };
        for disposition in [
            "Content-Disposition: form-data; name=\"_method\"",
            "content-disposition: form-data; name=_method",
            "CONTENT-DISPOSITION: form-data;name=\"_METHOD\"",
            "Content-Disposition: form-data; filename=\"x;y\"; name=\"_method\"",
            "Content-Disposition: form-data; name*=utf-8''%5Fmethod",
            "Content-Disposition: form-data; name=\"_method[]\"",
            "Content-Disposition: form-data;\r\n name=\"_method\"",
        ] {
            assert!(
                body_override(multipart, &part(disposition)).is_some(),
                "{disposition}"
            );
        }
        for disposition in [
            "Content-Disposition: form-data; name=\"_method_is_a_word\"",
            "Content-Disposition: form-data; name=\"note\"; filename=\"_method\"",
        ] {
            assert_eq!(
                body_override(multipart, &part(disposition)),
                None,
                "{disposition}"
            );
        }
    }

    #[test]
    fn json_objects_with_a_top_level_method_member_are_found() {
        let json = Some("application/json");
        for body in [
            r#"{"_method":"DELETE"}"#,
            r#" { "name": "x", "_method" : "DELETE" }"#,
            r#"{"a":{"b":[1,{"c":"}"}]},"_method":"DELETE"}"#,
            r#"{"_\u006dethod":"DELETE"}"#,
            r#"{"_METHOD":"DELETE"}"#,
            // Cut off after the member: the part keygate read already holds it.
            r#"{"_method":"DELETE","rest":"#,
        ] {
            assert!(body_override(json, body).is_some(), "{body}");
            assert!(
                body_override(Some("application/vnd.api+json"), body).is_some(),
                "{body}"
            );
            // Some origins parse JSON whatever the declared type.
            assert!(body_override(Some("text/plain"), body).is_some(), "{body}");
        }
        for body in [
            r#"{"name":"_method"}"#,
            r#"{"nested":{"_method":"DELETE"}}"#,
            r#"[{"_method":"DELETE"}]"#,
            r#"{"note":"a&_method=DELETE"}"#,
            r#"{"_method_is_a_word":1}"#,
            "not json",
        ] {
            assert_eq!(body_override(json, body), None, "{body}");
        }
    }

    fn body_verdict(
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        bytes: &[u8],
        complete: bool,
        origin_reads_body_overrides: bool,
    ) -> Result<(), &'static str> {
        let body = BodyPrefix {
            content_type,
            content_encoding,
            bytes,
            complete,
        };
        check_body(&body, origin_reads_body_overrides).map_err(|e| GatewayError::from(e).code())
    }

    #[test]
    fn a_body_keygate_cannot_read_whole_is_refused_only_where_the_origin_reads_overrides() {
        let form = Some("application/x-www-form-urlencoded");
        assert_eq!(body_verdict(form, None, b"a=1", false, false), Ok(()));
        assert_eq!(
            body_verdict(form, None, b"a=1", false, true),
            Err("body_not_scannable")
        );
        assert_eq!(body_verdict(form, None, b"a=1", true, true), Ok(()));
        // Compressed: what it says cannot be read, so it counts as unread.
        assert_eq!(
            body_verdict(form, Some("gzip"), b"\x1f\x8b", true, false),
            Ok(())
        );
        assert_eq!(
            body_verdict(form, Some("gzip"), b"\x1f\x8b", true, true),
            Err("body_not_scannable")
        );
        assert_eq!(
            body_verdict(form, Some("identity"), b"a=1", true, true),
            Ok(())
        );
        // Types no framework reads parameters from are forwarded, scanned or not.
        assert_eq!(
            body_verdict(Some("image/png"), None, b"\x89PNG", false, true),
            Ok(())
        );
        assert_eq!(
            body_verdict(form, None, b"_method=PUT", true, false),
            Err("override_not_allowed")
        );
    }

    #[test]
    fn utf16_json_is_read_as_its_parsers_read_it() {
        let json = r#"{"_method":"DELETE"}"#;
        let utf16 = |big_endian: bool, bom: bool| -> Vec<u8> {
            let mut units: Vec<u16> = json.encode_utf16().collect();
            if bom {
                units.insert(0, 0xfeff);
            }
            units
                .iter()
                .flat_map(|u| {
                    if big_endian {
                        u.to_be_bytes()
                    } else {
                        u.to_le_bytes()
                    }
                })
                .collect()
        };
        for (big_endian, bom) in [(true, true), (false, true), (true, false), (false, false)] {
            let bytes = utf16(big_endian, bom);
            let verdict = body_verdict(
                Some("application/json; charset=utf-16"),
                None,
                &bytes,
                true,
                false,
            );
            assert_eq!(verdict, Err("override_not_allowed"), "{big_endian} {bom}");
        }
        let with_bom = [b"\xef\xbb\xbf".as_slice(), json.as_bytes()].concat();
        assert_eq!(
            body_verdict(Some("application/json"), None, &with_bom, true, false),
            Err("override_not_allowed")
        );
        // UTF-32 is not read: refused where the origin reads overrides.
        let utf32 = [&[0u8, 0, 0xfe, 0xff][..], b"\0\0\0{"].concat();
        assert_eq!(
            body_verdict(Some("application/json"), None, &utf32, true, false),
            Ok(())
        );
        assert_eq!(
            body_verdict(Some("application/json"), None, &utf32, true, true),
            Err("body_not_scannable")
        );
    }

    #[test]
    fn rack_2_brackets_around_a_method_name_are_found() {
        // Rack 2.2's normalize_params drops leading `[`/`]` and the `]`s after the key:
        // `[_method]` and `_method]` are params["_method"].
        for name in [
            "[_method]",
            "]_method",
            "_method]",
            "[[_method]]",
            "%5B_method%5D",
        ] {
            let field = format!("{name}=DELETE");
            assert!(override_in_request([], Some(&field)).is_some(), "{field}");
            assert!(
                body_override(Some("application/x-www-form-urlencoded"), &field).is_some(),
                "{field}"
            );
        }
    }

    #[test]
    fn the_media_type_ends_where_rack_and_php_end_it() {
        // Rack splits the type on `;` or `,`, PHP on `;`, `,` or a space: both read these
        // as forms, whatever follows.
        for content_type in [
            "application/x-www-form-urlencoded,application/vnd.api+json",
            "application/x-www-form-urlencoded , a+json",
            "application/x-www-form-urlencoded a+json",
        ] {
            assert!(
                body_override(Some(content_type), "_method=DELETE").is_some(),
                "{content_type}"
            );
        }
        // Laravel reads this as JSON: its type check looks for `+json` anywhere.
        let multipart = Some("multipart/form-data; boundary=a+json");
        assert!(body_override(multipart, r#"{"_method":"DELETE"}"#).is_some());
    }

    #[test]
    fn multipart_names_are_found_where_rack_finds_them() {
        let multipart = Some("multipart/form-data; boundary=XyZ");
        let part = |headers: &str| format!("--XyZ\r\n{headers}\r\n\r\nDELETE\r\n--XyZ--\r\n");
        for headers in [
            // Rack names a part without a disposition name by its Content-ID.
            "Content-ID: _method",
            "content-id:_method",
            // Rack's `Content-Disposition:.*;\s*name=` is neither anchored nor quote-aware.
            "X-Note: Content-Disposition: form-data; name=_method",
            "Content-Disposition: form-data; name=\"a\"; x=\"; name=_method\"",
            "X-Note: a\rContent-Disposition: form-data; name=\"_method\"",
        ] {
            assert!(
                body_override(multipart, &part(headers)).is_some(),
                "{headers}"
            );
        }
        for headers in [
            "Content-Disposition: form-data; name=\"a\"; filename=\"_method\"",
            "Content-Disposition: form-data; name=\"a\"\r\nContent-ID: <_method@x>",
        ] {
            assert_eq!(body_override(multipart, &part(headers)), None, "{headers}");
        }
    }

    #[test]
    fn a_charset_keygate_does_not_read_counts_as_unread() {
        // body-parser decodes any `utf-*` charset with iconv-lite: in UTF-7 `+AF8-` is `_`.
        let body = br#"{"+AF8-method":"DELETE"}"#;
        for content_type in [
            "application/json; charset=utf-7",
            "application/json; charset = utf-7",
            "application/json; charset=\"utf\\-7\"",
            // The `content-type` package keeps the last of two.
            "application/json; charset=utf-8; charset=utf-7",
        ] {
            assert_eq!(
                body_verdict(Some(content_type), None, body, true, true),
                Err("body_not_scannable"),
                "{content_type}"
            );
        }
        // Still scanned as ASCII, as Rack (which ignores the charset) reads it.
        assert_eq!(
            body_verdict(
                Some("application/x-www-form-urlencoded; charset=utf-7"),
                None,
                b"_method=DELETE",
                true,
                false
            ),
            Err("override_not_allowed")
        );
        for charset in [
            "utf-8",
            "UTF-8",
            "\"utf-8\"",
            "us-ascii",
            "iso-8859-1",
            "latin1",
        ] {
            let content_type = format!("application/json; charset={charset}");
            assert_eq!(
                body_verdict(Some(&content_type), None, b"{}", true, true),
                Ok(()),
                "{charset}"
            );
        }
    }

    #[test]
    fn a_key_is_allowed_in_exactly_the_configured_credential_header() {
        let with_header = |name: &str, value: &str| {
            check_with(
                "GET",
                "/v1/contacts",
                None,
                &[(name, value)],
                false,
                Some("X-API-Key"),
            )
        };
        for name in ["X-API-Key", "x-api-key", "X-Api-KEY"] {
            assert_eq!(with_header(name, KEY), Ok(()), "{name}");
        }
        // Another spelling is another header to HTTP, though a CGI origin reads it as
        // `HTTP_X_API_KEY`: keygate does not read a key there, so one there is refused.
        for name in [
            "X_API_Key",
            "X.API.Key",
            "X-API-Key2",
            "Authorization-X-API-Key",
            "X-API-Key-Id",
        ] {
            assert_eq!(with_header(name, KEY), Err("key_in_request"), "{name}");
        }
        // The exemption is for the value, not the place: a key in the path or query is
        // still refused.
        let in_path = format!("/v1/contacts/{KEY}");
        assert_eq!(
            check_with(
                "GET",
                &in_path,
                None,
                &[("X-API-Key", KEY)],
                false,
                Some("X-API-Key")
            ),
            Err("key_in_request")
        );
        // Without the setting, the header is like any other.
        assert_eq!(
            check("GET", "/v1/contacts", None, &[("X-API-Key", KEY)], false),
            Err("key_in_request")
        );
    }

    #[test]
    fn a_key_in_a_header_name_is_refused() {
        let name = KEY.to_ascii_lowercase();
        assert_eq!(
            check("GET", "/v1/contacts", None, &[(&name, "1")], false),
            Err("key_in_request")
        );
    }

    #[test]
    fn override_headers_are_found_with_any_separator() {
        // lighttpd (and Apache 2.2) give CGI every non-alphanumeric byte of a name as `_`.
        for name in [
            "X.HTTP.Method.Override",
            "x+http+method+override",
            "X~Original~URL",
        ] {
            assert!(override_in_request([name], None).is_some(), "{name}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(path in "\\PC{0,60}", query in "\\PC{0,40}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = path_ambiguity(&path);
            let _ = override_in_request([path.as_str()], Some(&query));
            for content_type in ["application/json", "multipart/form-data", "text/plain"] {
                let _ = override_in_body(Some(content_type), &body);
            }
        }

        #[test]
        fn any_encoded_control_character_is_refused(byte in 0u8..0x20, upper in any::<bool>()) {
            let escape = if upper { format!("%{byte:02X}") } else { format!("%{byte:02x}") };
            prop_assert_eq!(path_ambiguity(&format!("/v1/a{escape}b")), Some("a control character"));
        }

        #[test]
        fn a_method_field_is_found_wherever_it_stands_in_a_form(
            before in proptest::collection::vec("[a-z]{1,6}=[a-z0-9]{0,6}", 0..5),
            after in proptest::collection::vec("[a-z]{1,6}=[a-z0-9]{0,6}", 0..5),
        ) {
            let body = [before, vec!["_method=DELETE".to_string()], after].concat().join("&");
            prop_assert!(override_in_body(Some("application/x-www-form-urlencoded"), body.as_bytes()).is_some());
            let query = body.clone();
            prop_assert!(override_in_request([], Some(&query)).is_some());
        }

        #[test]
        fn a_json_member_is_found_among_any_others(
            members in proptest::collection::vec(("[a-z]{1,6}", "[a-z0-9 ]{0,8}"), 0..6),
            at in 0usize..6,
        ) {
            let mut fields: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\": \"{v}\"")).collect();
            fields.insert(at.min(fields.len()), "\"_method\": \"DELETE\"".to_string());
            let body = format!("{{{}}}", fields.join(", "));
            prop_assert!(override_in_body(Some("application/json"), body.as_bytes()).is_some(), "{}", body);
        }

        #[test]
        fn a_path_with_a_semicolon_or_double_slash_is_never_plain(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
            let with_param = format!("/{a};x/{b}");
            let with_empty = format!("/{a}//{b}");
            prop_assert!(path_ambiguity(&with_param).is_some());
            prop_assert!(path_ambiguity(&with_empty).is_some());
        }
    }
}
