//! Calendar buckets of a window `[from, to)` in UTC milliseconds: days start
//! at 00:00 UTC, weeks on Monday 00:00 UTC.

use opsledger_domain::time::MS_PER_DAY;
use serde::{Deserialize, Serialize};

/// The width of a KPI bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BucketSize {
    /// One calendar day (UTC).
    Day,
    /// One ISO week, Monday 00:00 UTC to the next Monday.
    Week,
}

/// 1970-01-01 was a Thursday: the first Monday is four days later.
const FIRST_MONDAY_MS: i64 = 4 * MS_PER_DAY;
const MS_PER_WEEK: i64 = 7 * MS_PER_DAY;

impl BucketSize {
    /// The start of the bucket containing `t`.
    pub fn floor(self, t: i64) -> i64 {
        match self {
            BucketSize::Day => t - t.rem_euclid(MS_PER_DAY),
            BucketSize::Week => t - (t - FIRST_MONDAY_MS).rem_euclid(MS_PER_WEEK),
        }
    }

    /// The API name of the size (`DAY`, `WEEK`).
    pub fn name(self) -> &'static str {
        match self {
            BucketSize::Day => "DAY",
            BucketSize::Week => "WEEK",
        }
    }

    /// The length of one bucket in milliseconds.
    pub fn length_ms(self) -> i64 {
        match self {
            BucketSize::Day => MS_PER_DAY,
            BucketSize::Week => MS_PER_WEEK,
        }
    }
}

/// The calendar buckets covering `[from, to)`, each clipped to the window:
/// the first starts at `from`, the last ends at `to`. Empty if `to <= from`.
pub fn buckets(from: i64, to: i64, size: BucketSize) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = size.floor(start).saturating_add(size.length_ms()).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-01-01 00:00 UTC was a Monday.
    const MON_2024_01_01: i64 = 1_704_067_200_000;

    #[test]
    fn weeks_start_on_monday_midnight_utc() {
        assert_eq!(BucketSize::Week.floor(MON_2024_01_01), MON_2024_01_01);
        assert_eq!(
            BucketSize::Week.floor(MON_2024_01_01 + 6 * MS_PER_DAY + 5),
            MON_2024_01_01
        );
        assert_eq!(
            BucketSize::Week.floor(MON_2024_01_01 - 1),
            MON_2024_01_01 - MS_PER_WEEK
        );
    }

    #[test]
    fn day_buckets_are_clipped_to_the_window() {
        let from = MON_2024_01_01 + 3_600_000;
        let to = MON_2024_01_01 + 2 * MS_PER_DAY + 60_000;
        assert_eq!(
            buckets(from, to, BucketSize::Day),
            vec![
                (from, MON_2024_01_01 + MS_PER_DAY),
                (MON_2024_01_01 + MS_PER_DAY, MON_2024_01_01 + 2 * MS_PER_DAY),
                (MON_2024_01_01 + 2 * MS_PER_DAY, to),
            ]
        );
    }

    #[test]
    fn week_buckets_cover_the_window_exactly() {
        let from = MON_2024_01_01 + 2 * MS_PER_DAY; // Wednesday
        let to = MON_2024_01_01 + 15 * MS_PER_DAY; // Tuesday two weeks later
        assert_eq!(
            buckets(from, to, BucketSize::Week),
            vec![
                (from, MON_2024_01_01 + MS_PER_WEEK),
                (
                    MON_2024_01_01 + MS_PER_WEEK,
                    MON_2024_01_01 + 2 * MS_PER_WEEK
                ),
                (MON_2024_01_01 + 2 * MS_PER_WEEK, to),
            ]
        );
    }

    #[test]
    fn empty_window_has_no_buckets() {
        assert!(buckets(10, 10, BucketSize::Day).is_empty());
    }
}
