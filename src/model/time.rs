//! Registry timestamps (RFC 3339, UTC) to milliseconds, and "42 s ago".

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `2026-01-15T10:30:00Z` (fractions and `+hh:mm` offsets too) into Unix ms.
pub fn parse_timestamp_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { s.get(range)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// How long ago `then_ms` was at `now_ms`, in the largest whole unit: `42 s ago`,
/// `5 min ago`, `3 h ago`, `2 d ago`. Clock skew into the future reads as `just now`.
pub fn relative_time(now_ms: i64, then_ms: i64) -> String {
    let seconds = (now_ms - then_ms) / 1_000;
    match seconds {
        s if s < 1 => "just now".to_owned(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3_600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3_600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// `2026-01-15 10:30:00 UTC`: the exact time, readable.
pub fn exact_time(rfc3339: &str) -> String {
    rfc3339
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
        .split('.')
        .next()
        .map(|s| format!("{s} UTC"))
        .unwrap_or_default()
}

/// "3 min ago (2026-01-15 10:30:00 UTC)", or a dash.
pub fn when(ts: Option<&str>, now_ms: i64) -> String {
    match ts {
        Some(ts) => match parse_timestamp_ms(ts) {
            Some(ms) => format!("{} ({})", relative_time(now_ms, ms), exact_time(ts)),
            None => ts.to_owned(),
        },
        None => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_timestamps() {
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp_ms("2026-01-15T10:30:00Z"),
            Some(1_768_473_000_000)
        );
        assert_eq!(
            parse_timestamp_ms("2026-01-15T10:30:00.25Z"),
            Some(1_768_473_000_250)
        );
        assert_eq!(
            parse_timestamp_ms("2026-01-15T11:30:00+01:00"),
            Some(1_768_473_000_000)
        );
        assert_eq!(
            parse_timestamp_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_timestamp_ms("yesterday"), None);
        assert_eq!(parse_timestamp_ms("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn relative_times_use_the_largest_whole_unit() {
        let now = 1_000_000_000;
        assert_eq!(relative_time(now, now + 5_000), "just now");
        assert_eq!(relative_time(now, now - 42_000), "42 s ago");
        assert_eq!(relative_time(now, now - 5 * 60_000), "5 min ago");
        assert_eq!(relative_time(now, now - 3 * 3_600_000), "3 h ago");
        assert_eq!(relative_time(now, now - 2 * 86_400_000), "2 d ago");
    }

    #[test]
    fn exact_times_read_as_utc() {
        assert_eq!(
            exact_time("2026-01-15T10:30:00Z"),
            "2026-01-15 10:30:00 UTC"
        );
    }
}
