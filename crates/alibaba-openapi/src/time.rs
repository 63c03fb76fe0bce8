//! UTC timestamps in the one format Alibaba's RPC APIs use
//! (`yyyy-MM-ddTHH:mm:ssZ`), without a date-time dependency.

/// Formats milliseconds since the UNIX epoch as `yyyy-MM-ddTHH:mm:ssZ`
/// (fraction dropped, as the gateways reject fractional seconds).
pub fn format_iso8601_utc(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Parses `yyyy-MM-ddTHH:mm:ss[.fraction]Z` (as in STS and metadata
/// `Expiration`) into milliseconds since the UNIX epoch.
pub fn parse_iso8601_utc(text: &str) -> Option<i64> {
    let text = text.trim();
    let body = text.strip_suffix('Z')?;
    let (date, time) = body.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let (time, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut time_parts = time.splitn(3, ':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second: i64 = time_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let millis: i64 = if fraction.is_empty() {
        0
    } else {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        format!("{fraction:0<3}")[..3].parse().ok()?
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_iso8601_utc(0), "1970-01-01T00:00:00Z");
        // The pair documented for SLB: 2024-11-21T06:04:25Z <-> 1732169065000.
        assert_eq!(format_iso8601_utc(1_732_169_065_999), "2024-11-21T06:04:25Z");
        assert_eq!(format_iso8601_utc(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parses_what_it_formats_and_fractions() {
        assert_eq!(parse_iso8601_utc("2024-11-21T06:04:25Z"), Some(1_732_169_065_000));
        assert_eq!(parse_iso8601_utc("2024-11-21T06:04:25.5Z"), Some(1_732_169_065_500));
        for ms in [0, 951_782_400_000, 1_736_929_800_000, 4_102_444_800_000] {
            assert_eq!(parse_iso8601_utc(&format_iso8601_utc(ms)), Some(ms));
        }
        assert_eq!(parse_iso8601_utc("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso8601_utc("2024-11-21 06:04:25"), None);
    }
}
