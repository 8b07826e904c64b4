//! Timestamps as people read them: RFC 3339 in UTC, to the second.
//!
//! The state file and the JSON documents keep Unix milliseconds (the machine
//! form); the text, Markdown and HTML renderings show them through
//! [`rfc3339`].

use std::time::{Duration, UNIX_EPOCH};

/// The first millisecond of the year 10000, which RFC 3339 cannot write.
const YEAR_10000_MS: i64 = 253_402_300_800_000;

/// `2026-12-02T02:44:30Z` for Unix milliseconds.
///
/// A time RFC 3339 cannot write (before 1970 or after 9999, which only a
/// corrupted state file holds) is shown as its milliseconds instead, never a
/// panic.
pub fn rfc3339(unix_millis: i64) -> String {
    match u64::try_from(unix_millis) {
        Ok(ms) if unix_millis < YEAR_10000_MS => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        }
        _ => format!("{unix_millis} ms since the Unix epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_to_the_second() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_179_470_033), "2026-12-02T02:44:30Z");
        assert_eq!(rfc3339(YEAR_10000_MS - 1), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn out_of_range_times_are_shown_as_milliseconds() {
        assert_eq!(rfc3339(-1), "-1 ms since the Unix epoch");
        assert_eq!(
            rfc3339(YEAR_10000_MS),
            "253402300800000 ms since the Unix epoch"
        );
    }
}
