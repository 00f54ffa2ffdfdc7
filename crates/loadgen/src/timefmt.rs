//! Timestamp formatting: RFC 3339 and Python's `isoformat`, as the official clients send them.

fn utc(unix_nano: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_nanos(i64::try_from(unix_nano).unwrap_or(i64::MAX))
}

/// `2023-03-05T00:00:00.123456789Z` (RFC 3339 with nanoseconds, as Go's `RFC3339Nano`
/// without trimming zeros).
pub fn rfc3339_nanos(unix_nano: u64) -> String {
    utc(unix_nano).format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// `2023-03-05T00:00:00.123456+00:00`, what Python's
/// `datetime.now(timezone.utc).astimezone().isoformat()` prints in a UTC container.
pub fn python_isoformat_utc(unix_nano: u64) -> String {
    utc(unix_nano)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NANOS_PER_SECOND: u64 = 1_000_000_000;

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
