//! Time as the seed's services print it: Python's `datetime.isoformat()` — microseconds
//! (omitted when exactly zero, as Python does) and a `+00:00` offset, or no offset for the
//! naive timestamps of the user feed — and the `[%Y-%b-%d %H:%M]` stamp of the request log.

use chrono::{DateTime, Utc};
use std::ops::{Add, Sub};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time, in microseconds since the Unix epoch (Python's datetime resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(i64);

/// A signed span of time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(i64);

impl Duration {
    pub const fn seconds(s: i64) -> Duration {
        Duration(s * 1_000_000)
    }
}

impl Instant {
    pub fn now() -> Instant {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Instant(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }

    pub const fn from_unix_micros(us: i64) -> Instant {
        Instant(us)
    }

    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch as a float (X-Ray's `start_time`).
    pub fn unix_seconds_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    pub fn unix_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    fn utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0))
    }
}

/// `datetime.now(timezone.utc).astimezone().isoformat()` in a UTC container.
pub fn iso(t: Instant) -> String {
    format!("{}+00:00", iso_naive(t))
}

/// `datetime.now().isoformat()`: naive, no offset.
pub fn iso_naive(t: Instant) -> String {
    let dt = t.utc();
    let micros = t.0.rem_euclid(1_000_000);
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 {
        base.to_string()
    } else {
        format!("{base}.{micros:06}")
    }
}

/// `strftime('[%Y-%b-%d %H:%M]')`, the stamp of the after-request log line.
pub fn log_stamp(t: Instant) -> String {
    t.utc().format("[%Y-%b-%d %H:%M]").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_isoformat() {
        let t = Instant::from_unix_micros(1_677_974_400_000_000);
        assert_eq!(iso(t), "2023-03-05T00:00:00+00:00");
        assert_eq!(iso_naive(t + Duration(42)), "2023-03-05T00:00:00.000042");
        assert_eq!(log_stamp(t), "[2023-Mar-05 00:00]");
    }
}
