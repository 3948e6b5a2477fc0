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
/// By hand rather than with `time`'s `Rfc3339` formatter: this one fixed shape is exact,
/// and the formatter made the Worker 1,354 bytes larger.
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
    fn formats_whole_seconds_in_utc_up_to_year_9999() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_999, "1970-01-01T00:00:01Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59Z"),
            // Past year 9999 (never stored) and past i64 seconds: the last second shown.
            (253_402_300_800_000, "9999-12-31T23:59:59Z"),
            (u64::MAX, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(format_rfc3339(ms), text, "{ms}");
        }
    }

    #[test]
    fn what_parses_and_what_is_refused() {
        for (text, ms) in [
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T00:00:00.999Z", 999),
            ("2030-01-31T23:59:59.123456789123Z", 1_896_134_399_123),
            ("2030-01-31t23:59:59z", 1_896_134_399_000),
            ("2030-01-31 23:59:59Z", 1_896_134_399_000),
            ("2030-01-31T23:59:59-00:00", 1_896_134_399_000),
            ("2016-12-31T23:59:60Z", 1_483_228_799_999),
            ("9999-12-31T23:59:59Z", 253_402_300_799_000),
        ] {
            assert_eq!(parse_rfc3339(text), Ok(ms), "{text}");
        }
        for text in [
            "2030-01-31T23:59:59",
            "2030-1-31T23:59:59Z",
            "2030-01-31T24:00:00Z",
            "2030-02-30T00:00:00Z",
            "2030-01-31T23:59:59.Z",
            "2030-01-31T23:59:59+0200",
            "2030-01-31T23:59:59+24:00",
            "+2030-01-31T23:59:59Z",
            " 2030-01-31T23:59:59Z",
            "2030-01-31T23:59:59Z ",
            "10000-01-01T00:00:00Z",
        ] {
            assert!(
                parse_rfc3339(text).unwrap_err().contains("RFC 3339"),
                "{text}"
            );
        }
        assert!(parse_rfc3339("1969-12-31T23:59:59.999Z")
            .unwrap_err()
            .contains("1970"));
    }

    proptest::proptest! {
        #[test]
        fn formatting_parses_back_to_the_whole_second(ms in 0u64..=253_402_300_799_999) {
            proptest::prop_assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Ok(ms / 1_000 * 1_000));
        }
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
