//! Time on the wire (RFC 3339, UTC, whole seconds) and in the database (Unix milliseconds).

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2026-01-15T10:30:00Z`.
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z_and_parses_back() {
        let ms = 1_768_473_000_000;
        assert_eq!(format_ms(ms), "2026-01-15T10:30:00Z");
        assert_eq!(parse_rfc3339("2026-01-15T10:30:00Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-01-15T11:30:00+01:00"), Some(ms));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
