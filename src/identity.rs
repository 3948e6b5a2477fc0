//! Signed identity headers: what keygate tells the origin about a request, and how the
//! origin checks that keygate said it.
//!
//! The signature is HMAC-SHA256, under a secret keygate shares with the origin, over a
//! canonical string: one field per line, in a fixed order, each field free of newlines.
//!
//! ```
//! use keygate::identity::{sign, verify, Identity, RequestLine, SigningSecret};
//! let secret = SigningSecret::new(b"shared with the origin".to_vec());
//! let identity = Identity {
//!     key_id: "key_1".into(), key_name: "Zapier".into(), workspace: "acme".into(),
//!     environment: "live".into(), scopes: vec!["contacts:read".into()],
//!     request_id: "req_1".into(), approval_id: None, approved_by: None, timestamp: 1_900_000_000,
//! };
//! let line = RequestLine { method: "GET", host: "api.internal", path_and_query: "/v1/contacts?page=2" };
//! let headers = identity.headers(&sign(&secret, &line, &identity));
//! let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
//! let verified = verify(&secret, &line, header, 1_900_000_010, 300).unwrap();
//! assert_eq!(verified.key_id, "key_1");
//! ```

use crate::key::to_hex;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Every header in this prefix is keygate's: stripped from clients, set only by keygate.
pub const RESERVED_PREFIX: &str = "x-keygate-";

pub const KEY_ID: &str = "X-Keygate-Key-Id";
pub const KEY_NAME: &str = "X-Keygate-Key-Name";
pub const WORKSPACE: &str = "X-Keygate-Workspace";
pub const ENVIRONMENT: &str = "X-Keygate-Environment";
pub const SCOPES: &str = "X-Keygate-Scopes";
pub const REQUEST_ID: &str = "X-Keygate-Request-Id";
/// Only on a request a human approved (the approval queue); signed as empty otherwise.
pub const APPROVAL_ID: &str = "X-Keygate-Approval-Id";
/// Who approved it: `root`, or the approving key's id; signed as empty when not approved.
pub const APPROVED_BY: &str = "X-Keygate-Approved-By";
pub const TIMESTAMP: &str = "X-Keygate-Timestamp";
pub const SIGNATURE: &str = "X-Keygate-Signature";

/// Names the scheme in the canonical string and the signature, so a future scheme can
/// never be confused with this one.
/// V2 added the approver (`X-Keygate-Approved-By`) to the signed fields.
const SCHEME: &str = "KEYGATE-HMAC-SHA256-V2";
const SIGNATURE_PREFIX: &str = "v2=";

/// The secret shared with the origin. `Debug` redacts it.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    pub fn new(bytes: Vec<u8>) -> SigningSecret {
        SigningSecret(bytes)
    }

    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }
}

/// The request as the origin receives it.
#[derive(Clone, Copy, Debug)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    /// The `Host` the origin sees (the origin's own host and port).
    pub host: &'a str,
    /// The request target the origin sees, e.g. `/v1/contacts?page=2`.
    pub path_and_query: &'a str,
}

/// Who is calling, as keygate vouches for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub key_id: String,
    /// The key's display name, free text; percent-encoded on the wire.
    pub key_name: String,
    pub workspace: String,
    /// `live` or `test`, so an origin can keep test keys away from real data.
    pub environment: String,
    pub scopes: Vec<String>,
    pub request_id: String,
    /// The approval that released this request, if a human approved it.
    pub approval_id: Option<String>,
    /// Who approved it (`root` or a key id), alongside `approval_id`.
    pub approved_by: Option<String>,
    /// Unix seconds when keygate forwarded the request.
    pub timestamp: u64,
}

impl Identity {
    /// The headers to add to the origin request, the signature among them.
    pub fn headers(&self, signature: &str) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            (KEY_ID, self.key_id.clone()),
            (KEY_NAME, percent_encode(&self.key_name)),
            (WORKSPACE, self.workspace.clone()),
            (ENVIRONMENT, self.environment.clone()),
            (SCOPES, self.scopes.join(" ")),
            (REQUEST_ID, self.request_id.clone()),
            (TIMESTAMP, self.timestamp.to_string()),
            (SIGNATURE, signature.to_string()),
        ];
        if let Some(approval_id) = &self.approval_id {
            headers.push((APPROVAL_ID, approval_id.clone()));
        }
        if let Some(approved_by) = &self.approved_by {
            headers.push((APPROVED_BY, approved_by.clone()));
        }
        headers
    }
}

/// The exact bytes that are signed. Fields are the header values as sent, so the origin
/// can rebuild this string from what it receives.
fn canonical_string(line: &RequestLine, fields: &WireFields) -> String {
    [
        SCHEME,
        line.method,
        line.host,
        line.path_and_query,
        fields.key_id,
        fields.key_name,
        fields.workspace,
        fields.environment,
        fields.scopes,
        fields.request_id,
        fields.approval_id,
        fields.approved_by,
        fields.timestamp,
    ]
    .join("\n")
}

/// Identity fields exactly as they travel in headers.
struct WireFields<'a> {
    key_id: &'a str,
    key_name: &'a str,
    workspace: &'a str,
    environment: &'a str,
    scopes: &'a str,
    request_id: &'a str,
    /// Empty when the request was not approved by a human.
    approval_id: &'a str,
    /// Empty when the request was not approved by a human.
    approved_by: &'a str,
    timestamp: &'a str,
}

fn signature_over(secret: &SigningSecret, line: &RequestLine, fields: &WireFields) -> Vec<u8> {
    let mut mac = secret.mac();
    mac.update(canonical_string(line, fields).as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Signs `identity` for `line`; the result is the `X-Keygate-Signature` value.
pub fn sign(secret: &SigningSecret, line: &RequestLine, identity: &Identity) -> String {
    let key_name = percent_encode(&identity.key_name);
    let scopes = identity.scopes.join(" ");
    let timestamp = identity.timestamp.to_string();
    let fields = WireFields {
        key_id: &identity.key_id,
        key_name: &key_name,
        workspace: &identity.workspace,
        environment: &identity.environment,
        scopes: &scopes,
        request_id: &identity.request_id,
        approval_id: identity.approval_id.as_deref().unwrap_or(""),
        approved_by: identity.approved_by.as_deref().unwrap_or(""),
        timestamp: &timestamp,
    };
    let mac = signature_over(secret, line, &fields);
    format!("{SIGNATURE_PREFIX}{}", URL_SAFE_NO_PAD.encode(mac))
}

/// Why an origin should refuse a request that claims to come through keygate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeader(&'static str),
    /// A header holds a value no keygate could have sent (bad timestamp, newline, ...).
    MalformedHeader(&'static str),
    /// Older or newer than the tolerance allows: possibly a replay.
    StaleTimestamp {
        age_secs: i64,
    },
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(h) => write!(f, "missing header {h}"),
            Self::MalformedHeader(h) => write!(f, "malformed header {h}"),
            Self::StaleTimestamp { age_secs } => {
                write!(
                    f,
                    "timestamp is {age_secs}s away from now, outside the tolerance"
                )
            }
            Self::BadSignature => f.write_str("signature does not match"),
        }
    }
}

/// Checks keygate's headers on a request the origin received, in constant time, and that
/// the timestamp is within `tolerance_secs` of `now_secs` either way. `header` looks a
/// header up by name, case-insensitively.
pub fn verify<'h>(
    secret: &SigningSecret,
    line: &RequestLine,
    header: impl Fn(&str) -> Option<&'h str>,
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<Identity, VerifyError> {
    let optional = |name: &'static str| -> Result<Option<&'h str>, VerifyError> {
        match header(name) {
            Some(value) if value.contains(['\n', '\r']) => Err(VerifyError::MalformedHeader(name)),
            other => Ok(other),
        }
    };
    let get = |name: &'static str| optional(name)?.ok_or(VerifyError::MissingHeader(name));
    let fields = WireFields {
        key_id: get(KEY_ID)?,
        key_name: get(KEY_NAME)?,
        workspace: get(WORKSPACE)?,
        environment: get(ENVIRONMENT)?,
        scopes: get(SCOPES)?,
        request_id: get(REQUEST_ID)?,
        approval_id: optional(APPROVAL_ID)?.unwrap_or(""),
        approved_by: optional(APPROVED_BY)?.unwrap_or(""),
        timestamp: get(TIMESTAMP)?,
    };
    let expected = signature_over(secret, line, &fields);
    let timestamp = check_signed(
        &expected,
        get(SIGNATURE)?,
        SIGNATURE_PREFIX,
        fields.timestamp,
        now_secs,
        tolerance_secs,
    )?;
    Ok(Identity {
        key_id: fields.key_id.to_string(),
        key_name: percent_decode(fields.key_name),
        workspace: fields.workspace.to_string(),
        environment: fields.environment.to_string(),
        scopes: fields
            .scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        request_id: fields.request_id.to_string(),
        approval_id: Some(fields.approval_id)
            .filter(|id| !id.is_empty())
            .map(String::from),
        approved_by: Some(fields.approved_by)
            .filter(|by| !by.is_empty())
            .map(String::from),
        timestamp,
    })
}

/// Compares a presented `<prefix><base64url>` signature with `expected` in constant time,
/// then checks that `timestamp` is within `tolerance_secs` of `now_secs`; returns the
/// timestamp. Shared by the origin's identity check and the rejection webhook's.
pub(crate) fn check_signed(
    expected: &[u8],
    presented: &str,
    prefix: &str,
    timestamp: &str,
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<u64, VerifyError> {
    let presented = presented
        .strip_prefix(prefix)
        .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
        .ok_or(VerifyError::MalformedHeader(SIGNATURE))?;
    // Checked before the timestamp so an attacker learns nothing from which check failed.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected,
        presented.as_slice(),
    )) {
        return Err(VerifyError::BadSignature);
    }
    let timestamp: u64 = timestamp
        .parse()
        .map_err(|_| VerifyError::MalformedHeader(TIMESTAMP))?;
    let age_secs =
        i64::try_from(now_secs).unwrap_or(i64::MAX) - i64::try_from(timestamp).unwrap_or(i64::MAX);
    if age_secs.unsigned_abs() > tolerance_secs {
        return Err(VerifyError::StaleTimestamp { age_secs });
    }
    Ok(timestamp)
}

/// Header values must be visible ASCII; names are free text. Percent-encode every byte
/// outside printable ASCII, and `%` itself, so the encoding is reversible.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&to_hex(&[byte]).to_uppercase());
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes.get(i), bytes.get(i + 1..i + 3)) {
            (Some(b'%'), Some(hex)) => std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
            _ => None,
        };
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.extend(bytes.get(i).copied());
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> SigningSecret {
        SigningSecret::new(b"origin-shared-secret".to_vec())
    }

    fn identity() -> Identity {
        Identity {
            key_id: "key_abc".into(),
            key_name: "Claude Desktop — prod 100%".into(),
            workspace: "acme".into(),
            environment: "live".into(),
            scopes: vec!["contacts:read".into(), "email:send-approval".into()],
            request_id: "req_1".into(),
            approval_id: None,
            approved_by: None,
            timestamp: 1_900_000_000,
        }
    }

    const LINE: RequestLine<'static> = RequestLine {
        method: "POST",
        host: "api.internal:8443",
        path_and_query: "/v1/contacts?x=1",
    };

    fn headers_of(id: &Identity, sig: &str) -> Vec<(String, String)> {
        id.headers(sig)
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect()
    }

    fn lookup<'a>(headers: &'a [(String, String)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    #[test]
    fn round_trip_restores_identity() {
        let id = identity();
        let headers = headers_of(&id, &sign(&secret(), &LINE, &id));
        let verified = verify(&secret(), &LINE, lookup(&headers), 1_900_000_100, 300).unwrap();
        assert_eq!(verified, id);
    }

    #[test]
    fn names_travel_as_visible_ascii() {
        let headers = headers_of(&identity(), "sig");
        let name = &headers.iter().find(|(n, _)| n == KEY_NAME).unwrap().1;
        assert_eq!(name, "Claude Desktop %E2%80%94 prod 100%25");
    }

    #[test]
    fn any_tampered_field_or_line_fails() {
        let id = identity();
        let sig = sign(&secret(), &LINE, &id);
        let headers = headers_of(&id, &sig);
        for tampered_line in [
            RequestLine {
                method: "GET",
                ..LINE
            },
            RequestLine {
                host: "evil.example",
                ..LINE
            },
            RequestLine {
                path_and_query: "/v1/contacts?x=2",
                ..LINE
            },
        ] {
            assert_eq!(
                verify(
                    &secret(),
                    &tampered_line,
                    lookup(&headers),
                    1_900_000_000,
                    300
                ),
                Err(VerifyError::BadSignature)
            );
        }
        for (index, _) in headers
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| n != SIGNATURE)
        {
            let mut changed = headers.clone();
            changed[index].1.push('x');
            assert!(verify(&secret(), &LINE, lookup(&changed), 1_900_000_000, 300).is_err());
        }
        let other = SigningSecret::new(b"another".to_vec());
        assert_eq!(
            verify(&other, &LINE, lookup(&headers), 1_900_000_000, 300),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn the_approval_id_is_signed_when_present_and_cannot_be_added_or_removed() {
        let approved = Identity {
            approval_id: Some("apr_7".into()),
            approved_by: Some("root".into()),
            ..identity()
        };
        let headers = headers_of(&approved, &sign(&secret(), &LINE, &approved));
        let verified = verify(&secret(), &LINE, lookup(&headers), 1_900_000_000, 300).unwrap();
        assert_eq!(verified.approval_id.as_deref(), Some("apr_7"));
        assert_eq!(verified.approved_by.as_deref(), Some("root"));
        // Dropping either header from an approved request breaks the signature...
        for dropped in [APPROVAL_ID, APPROVED_BY] {
            let mut stripped = headers.clone();
            stripped.retain(|(n, _)| n != dropped);
            assert_eq!(
                verify(&secret(), &LINE, lookup(&stripped), 1_900_000_000, 300),
                Err(VerifyError::BadSignature),
                "{dropped}"
            );
        }
        // ...as does naming another approver...
        let mut other_approver = headers.clone();
        for (name, value) in other_approver.iter_mut() {
            if name == APPROVED_BY {
                *value = "key_someoneelse".into();
            }
        }
        assert_eq!(
            verify(
                &secret(),
                &LINE,
                lookup(&other_approver),
                1_900_000_000,
                300
            ),
            Err(VerifyError::BadSignature)
        );
        // ...and so does adding one to a request nobody approved.
        let plain = identity();
        let mut added = headers_of(&plain, &sign(&secret(), &LINE, &plain));
        added.push((APPROVAL_ID.to_string(), "apr_forged".into()));
        assert_eq!(
            verify(&secret(), &LINE, lookup(&added), 1_900_000_000, 300),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn stale_or_future_timestamps_fail() {
        let id = identity();
        let headers = headers_of(&id, &sign(&secret(), &LINE, &id));
        assert_eq!(
            verify(&secret(), &LINE, lookup(&headers), 1_900_000_301, 300),
            Err(VerifyError::StaleTimestamp { age_secs: 301 })
        );
        assert_eq!(
            verify(&secret(), &LINE, lookup(&headers), 1_899_999_000, 300),
            Err(VerifyError::StaleTimestamp { age_secs: -1000 })
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        let id = identity();
        let mut headers = headers_of(&id, &sign(&secret(), &LINE, &id));
        headers.retain(|(n, _)| n != WORKSPACE);
        assert_eq!(
            verify(&secret(), &LINE, lookup(&headers), 1_900_000_000, 300),
            Err(VerifyError::MissingHeader(WORKSPACE))
        );
        let garbage = headers_of(&id, "v2=***");
        let v1 = headers_of(&id, &sign(&secret(), &LINE, &id).replacen("v2=", "v1=", 1));
        assert_eq!(
            verify(&secret(), &LINE, lookup(&v1), 1_900_000_000, 300),
            Err(VerifyError::MalformedHeader(SIGNATURE))
        );
        assert_eq!(
            verify(&secret(), &LINE, lookup(&garbage), 1_900_000_000, 300),
            Err(VerifyError::MalformedHeader(SIGNATURE))
        );
    }

    #[test]
    fn secret_is_redacted() {
        assert!(!format!("{:?}", secret()).contains("origin-shared"));
    }

    proptest! {
        #[test]
        fn percent_encoding_round_trips(text in "\\PC{0,40}") {
            let encoded = percent_encode(&text);
            prop_assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)));
            prop_assert_eq!(percent_decode(&encoded), text);
        }

        #[test]
        fn signatures_round_trip_for_any_identity(
            name in "\\PC{0,30}", workspace in "[a-z0-9_-]{1,20}", ts in 0u64..4_000_000_000,
            scopes in proptest::collection::vec("[a-z_]{1,8}:[a-z-]{1,12}", 0..4),
            approval_id in proptest::option::of("apr_[A-Za-z0-9]{1,22}"),
            approved_by in proptest::option::of("root|key_[A-Za-z0-9]{22}"),
        ) {
            let id = Identity { key_name: name, workspace, scopes, approval_id, approved_by, timestamp: ts, ..identity() };
            let headers = headers_of(&id, &sign(&secret(), &LINE, &id));
            prop_assert_eq!(verify(&secret(), &LINE, lookup(&headers), ts, 0).unwrap(), id);
        }
    }
}
