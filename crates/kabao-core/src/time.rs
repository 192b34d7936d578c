//! Points in time as integer milliseconds since the Unix epoch.
//! Core never reads a clock: callers pass `now`, so rules with deadlines are deterministic under test.

use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// This instant plus a number of seconds (saturating).
    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }
    /// Whole days from `earlier` to `self` (0 if `earlier` is later).
    pub fn days_since(self, earlier: Timestamp) -> i64 {
        (self.0.saturating_sub(earlier.0)).max(0) / 86_400_000
    }
}

/// The moment as `YYYY-MM-DD HH:MM:SS` in China time (UTC+8), as Chinese users and Chinese gateways read it.
pub fn china_time(at: Timestamp) -> String {
    let secs = at.millis().div_euclid(1000) + 8 * 3600;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}
