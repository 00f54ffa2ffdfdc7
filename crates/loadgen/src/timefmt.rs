//! Timestamp formatting (RFC 3339 / Python `isoformat`) without a date-time dependency.

const NANOS_PER_SECOND: u64 = 1_000_000_000;
const SECONDS_PER_DAY: u64 = 86_400;

/// Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// <https://howardhinnant.github.io/date_algorithms.html#civil_from_days>).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    nanos: u64,
}

fn parts(unix_nano: u64) -> Parts {
    let secs = unix_nano / NANOS_PER_SECOND;
    let nanos = unix_nano % NANOS_PER_SECOND;
    let days = (secs / SECONDS_PER_DAY) as i64;
    let rem = secs % SECONDS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        nanos,
    }
}

/// `2023-03-05T00:00:00.123456789Z` (RFC 3339 with nanoseconds, as Go's `RFC3339Nano`
/// without trimming zeros).
pub fn rfc3339_nanos(unix_nano: u64) -> String {
    let p = parts(unix_nano);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.nanos
    )
}

/// `2023-03-05T00:00:00.123456+00:00`, what Python's
/// `datetime.now(timezone.utc).astimezone().isoformat()` prints in a UTC container.
pub fn python_isoformat_utc(unix_nano: u64) -> String {
    let p = parts(unix_nano);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        p.year,
        p.month,
        p.day,
        p.hour,
        p.minute,
        p.second,
        p.nanos / 1000
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // 2023-03-05T00:00:00Z = 1677974400 s.
        let t = 1_677_974_400 * NANOS_PER_SECOND + 123_456_789;
        assert_eq!(rfc3339_nanos(t), "2023-03-05T00:00:00.123456789Z");
        assert_eq!(python_isoformat_utc(t), "2023-03-05T00:00:00.123456+00:00");
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        // 2024-02-29T23:59:59Z = 1709251199 s (leap day).
        assert_eq!(
            rfc3339_nanos(1_709_251_199 * NANOS_PER_SECOND),
            "2024-02-29T23:59:59.000000000Z"
        );
    }
}
