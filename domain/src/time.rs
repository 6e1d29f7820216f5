//! Time as plain data: UTC milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// A UTC instant in milliseconds since the Unix epoch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(pub i64);

/// Milliseconds in one second.
pub const MS_PER_SECOND: i64 = 1_000;
/// Milliseconds in one minute.
pub const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
/// Milliseconds in one hour.
pub const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
/// Milliseconds in one day.
pub const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// How far in the future (relative to `Context::now`) a client-supplied
/// "it already happened" instant may lie: 5 minutes of clock skew. Such an
/// instant within the skew is recorded as `now`; beyond it the command is refused.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * MS_PER_MINUTE;

/// The earliest instant a client may send: 1970-01-01T00:00:00.000Z.
pub const MIN_ACCEPTED: Timestamp = Timestamp(0);
/// The latest instant a client may send: 9999-12-31T23:59:59.999Z.
pub const MAX_ACCEPTED: Timestamp = Timestamp(253_402_300_799_999);

impl Timestamp {
    /// Whether the instant lies in [`MIN_ACCEPTED`]..=[`MAX_ACCEPTED`].
    pub fn is_accepted(self) -> bool {
        (MIN_ACCEPTED..=MAX_ACCEPTED).contains(&self)
    }

    /// Whether the instant lies more than [`MAX_CLOCK_SKEW_MS`] after `now`.
    pub fn is_beyond_skew(self, now: Timestamp) -> bool {
        self.millis_since(now) > MAX_CLOCK_SKEW_MS
    }

    /// The instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus `ms` milliseconds (saturating).
    pub const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        self.plus_millis(secs.saturating_mul(MS_PER_SECOND))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// A half-open interval of time `[start, end)`.
///
/// Fields are public plain data (it travels inside events); use
/// [`TimeWindow::is_valid`] to check `end > start` before accepting one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct TimeWindow {
    /// The first instant inside the window.
    pub start: Timestamp,
    /// The first instant after the window.
    pub end: Timestamp,
}

impl TimeWindow {
    /// The window `[start, end)` (not validated: see [`TimeWindow::is_valid`]).
    pub const fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeWindow { start, end }
    }

    /// Whether the window is non-empty (`end > start`).
    pub fn is_valid(&self) -> bool {
        self.end > self.start
    }

    /// Whether the two half-open windows share at least one instant.
    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `at` lies inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    fn w(start: i64, end: i64) -> TimeWindow {
        TimeWindow::new(Timestamp(start), Timestamp(end))
    }

    #[test]
    fn half_open_windows_touching_at_the_edge_do_not_overlap() {
        assert!(!w(0, 10).overlaps(&w(10, 20)));
        assert!(w(0, 11).overlaps(&w(10, 20)));
        assert!(w(12, 13).overlaps(&w(10, 20)));
        assert!(w(10, 20).contains(Timestamp(10)));
        assert!(!w(10, 20).contains(Timestamp(20)));
        assert!(!w(5, 5).is_valid());
    }
}
