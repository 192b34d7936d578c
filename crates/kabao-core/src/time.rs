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
