//! Alibaba's date formats that `alibaba_openapi` does not parse: zone-less
//! `YYYY-MM-DD HH:MM:SS` (CDN) and day-only `YYYY-MM-DD` (CAS lists).

use alibaba_openapi::parse_iso8601_utc;

/// A fixed offset from UTC, in seconds east.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    /// Alibaba's consoles show China time.
    pub const CHINA: UtcOffset = UtcOffset(8 * 3600);

    /// `UTC`, `Z`, `+08:00`, `-05:30`, `+0800`, `UTC+8`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let t = t.strip_prefix("UTC").or_else(|| t.strip_prefix("GMT")).unwrap_or(t);
        if t.is_empty() || t == "Z" {
            return Some(Self(0));
        }
        let (sign, rest) = match t.as_bytes()[0] {
            b'+' => (1, &t[1..]),
            b'-' => (-1, &t[1..]),
            _ => return None,
        };
        let (hours, minutes) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => (&rest[..2], &rest[2..]),
            None => (rest, "0"),
        };
        let hours: i32 = hours.parse().ok()?;
        let minutes: i32 = minutes.parse().ok()?;
        if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
            return None;
        }
        Some(Self(sign * (hours * 3600 + minutes * 60)))
    }
}

/// `YYYY-MM-DD HH:MM:SS` read in `offset`, as UNIX seconds.
pub fn parse_local_datetime(text: &str, offset: UtcOffset) -> Option<i64> {
    let (date, time) = text.trim().split_once(' ')?;
    let ms = parse_iso8601_utc(&format!("{date}T{}Z", time.trim()))?;
    Some(ms.div_euclid(1000) - i64::from(offset.0))
}

/// `YYYY-MM-DD` as UNIX seconds at 00:00 UTC of that day.
pub fn parse_day(text: &str) -> Option<i64> {
    let day = text.trim();
    if day.len() != 10 {
        return None;
    }
    parse_iso8601_utc(&format!("{day}T00:00:00Z")).map(|ms| ms.div_euclid(1000))
}

/// A timestamp that may be seconds or milliseconds (CAS `ListCloudResources`
/// documents seconds and shows milliseconds): read by magnitude.
pub fn seconds_by_magnitude(value: i64) -> i64 {
    if value.abs() >= 100_000_000_000 {
        value.div_euclid(1000)
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(UtcOffset::parse("+08:00"), Some(UtcOffset::CHINA));
        assert_eq!(UtcOffset::parse("UTC+8"), Some(UtcOffset::CHINA));
        assert_eq!(UtcOffset::parse("-0530"), Some(UtcOffset(-(5 * 3600 + 1800))));
        assert_eq!(UtcOffset::parse("UTC"), Some(UtcOffset(0)));
        assert_eq!(UtcOffset::parse("Asia/Shanghai"), None);
        assert_eq!(UtcOffset::parse("+25:00"), None);
    }

    #[test]
    fn cdn_strings_in_china_time() {
        // 2018-12-26 14:45:09 in UTC+8 is 06:45:09 UTC.
        let utc = parse_iso8601_utc("2018-12-26T06:45:09Z").unwrap() / 1000;
        assert_eq!(parse_local_datetime("2018-12-26 14:45:09", UtcOffset::CHINA), Some(utc));
        assert_eq!(parse_local_datetime("2018-12-26", UtcOffset::CHINA), None);
        assert_eq!(parse_day("2024-11-21"), Some(1_732_147_200));
        assert_eq!(seconds_by_magnitude(1_737_795_520_000), 1_737_795_520);
        assert_eq!(seconds_by_magnitude(1_737_795_520), 1_737_795_520);
    }
}
