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

/// Where a key of this deployment, or a portal session token, appears outside
/// `Authorization`, if it does: in the path, the query, or another header. Such a request
/// would carry the secret to the origin and into its logs, so it is refused, whichever
/// secret it is.
fn key_outside_authorization(shape: &RequestShape) -> Option<String> {
    let secret_in = |bytes: &[u8]| {
        crate::key::contains_key_shape(bytes, shape.key_prefix)
            || crate::session::contains_token_shape(bytes)
    };
    let holds_key = |text: &str| {
        secret_in(text.as_bytes()) || secret_in(&percent::decode_form(text.as_bytes()))
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
mod tests;
