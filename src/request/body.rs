//! The bounds a body is read with. The edge reads at most a bound's bytes and says whether
//! more came; these say what that means for the request.

use crate::problem::{BodyBound, FieldError, GatewayError};

/// A body the platform could not hand over (the client went away mid-body).
pub fn unreadable() -> GatewayError {
    GatewayError::InvalidBody {
        errors: vec![FieldError::new("body", "could not be read")],
    }
}

/// A body read with a bound of `max_bytes`: refused (413) when more came than that.
pub fn within(
    body: Vec<u8>,
    more: bool,
    max_bytes: u64,
    bound: BodyBound,
) -> Result<Vec<u8>, GatewayError> {
    match more {
        true => Err(GatewayError::PayloadTooLarge { max_bytes, bound }),
        false => Ok(body),
    }
}

/// The body length a `Content-Length` value declares, if it parses.
pub fn declared_length(content_length: Option<&str>) -> Option<usize> {
    content_length.and_then(|value| value.trim().parse().ok())
}

/// How many bytes to read for a bound of `max_bytes` (on a 32-bit platform, as many as fit).
pub fn read_limit(max_bytes: u64) -> usize {
    usize::try_from(max_bytes).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_past_its_bound_is_a_413_naming_the_bound() {
        assert_eq!(
            within(b"abc".to_vec(), false, 3, BodyBound::Queued),
            Ok(b"abc".to_vec())
        );
        let error = within(b"abc".to_vec(), true, 3, BodyBound::Queued).expect_err("too long");
        assert_eq!(error.to_problem("r").status, 413);
        assert_eq!(
            error,
            GatewayError::PayloadTooLarge {
                max_bytes: 3,
                bound: BodyBound::Queued
            }
        );
        assert_eq!(unreadable().to_problem("r").status, 400);
        assert_eq!(read_limit(1024), 1024);
    }

    #[test]
    fn a_declared_length_is_a_number_or_nothing() {
        assert_eq!(declared_length(Some("12")), Some(12));
        assert_eq!(declared_length(Some(" 12 ")), Some(12));
        for value in [None, Some(""), Some("-1"), Some("1e3"), Some("12, 12")] {
            assert_eq!(declared_length(value), None, "{value:?}");
        }
    }
}
