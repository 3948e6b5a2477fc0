//! Time as keygate stores it (Unix milliseconds) and shows it (RFC 3339, UTC, seconds).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const MS_PER_SECOND: u64 = 1_000;
pub const MS_PER_DAY: u64 = 86_400_000;

/// Parses an RFC 3339 timestamp with any offset into Unix milliseconds.
/// Times before 1970 are refused: nothing keygate stores can be that old.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 timestamp ({e}), e.g. 2030-01-31T23:59:59Z"))?;
    let ms = parsed.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| "must not be before 1970-01-01T00:00:00Z".to_string())
}

/// Formats Unix milliseconds as RFC 3339 in UTC with whole seconds, e.g. `2030-01-31T23:59:59Z`.
pub fn format_rfc3339(ms: u64) -> String {
    let seconds = i64::try_from(ms / MS_PER_SECOND).unwrap_or(i64::MAX);
    match OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        // Only reachable for times past year 9999, which validation never lets in.
        Err(_) => "9999-12-31T23:59:59Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_whole_seconds() {
        let ms = parse_rfc3339("2030-01-31T23:59:59Z").unwrap();
        assert_eq!(ms, 1_896_134_399_000);
        assert_eq!(format_rfc3339(ms), "2030-01-31T23:59:59Z");
    }

    #[test]
    fn honours_offsets() {
        assert_eq!(
            parse_rfc3339("2030-02-01T01:59:59+02:00").unwrap(),
            parse_rfc3339("2030-01-31T23:59:59Z").unwrap()
        );
    }

    #[test]
    fn refuses_garbage_and_pre_epoch() {
        assert!(parse_rfc3339("tomorrow").unwrap_err().contains("RFC 3339"));
        assert!(parse_rfc3339("2030-01-31").is_err());
        assert!(parse_rfc3339("1969-12-31T23:59:59Z")
            .unwrap_err()
            .contains("1970"));
    }
}
