use std::fmt;

/// Why a request or a webhook that claims to come from keygate is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeader(&'static str),
    /// A header holds a value no keygate could have sent (bad timestamp, newline, an older
    /// signature version, ...).
    MalformedHeader(&'static str),
    /// The method, host or request target holds a line break: no request keygate signed
    /// does, and the canonical string separates its fields with them.
    MalformedRequestLine,
    /// Older or newer than the tolerance allows: possibly a replay.
    StaleTimestamp {
        age_secs: i64,
    },
    BadSignature,
    /// The headers are keygate's, but the body is not the one keygate signed.
    BodyMismatch,
}

impl VerifyError {
    /// A stable name for the failure, the same in every verifier: the test vectors'
    /// `expect.error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::MalformedRequestLine => "malformed_request_line",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::BadSignature => "bad_signature",
            Self::BodyMismatch => "body_mismatch",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(h) => write!(f, "missing header {h}"),
            Self::MalformedHeader(h) => write!(f, "malformed header {h}"),
            Self::MalformedRequestLine => f.write_str("line break in the request line"),
            Self::StaleTimestamp { age_secs } => {
                write!(
                    f,
                    "timestamp is {age_secs}s away from now, outside the tolerance"
                )
            }
            Self::BadSignature => f.write_str("signature does not match"),
            Self::BodyMismatch => f.write_str("body does not match its signed digest"),
        }
    }
}

impl std::error::Error for VerifyError {}
