//! The window of a KPI question and its bounds: a [`KpiWindow`] can only be
//! made through [`KpiWindow::new`], which refuses an empty window, one
//! longer than [`MAX_WINDOW_DAYS`] and one cut into more than
//! [`MAX_BUCKETS`] buckets, so no KPI computation is ever unbounded.

use opsledger_domain::time::MS_PER_DAY;
use opsledger_domain::Timestamp;

use crate::bucket::{buckets, BucketSize};

/// The longest window, in days: ten calendar years (with their at most three leap days).
pub const MAX_WINDOW_DAYS: i64 = 3653;

/// The most buckets one report may have (a year and a month of days, seven and a half years of weeks).
pub const MAX_BUCKETS: u64 = 400;

/// Why a window was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KpiWindowError {
    /// `to` is not after `from`.
    #[error("`to` must be after `from`")]
    Empty,
    /// The window is longer than [`MAX_WINDOW_DAYS`].
    #[error(
        "a KPI window spans at most {MAX_WINDOW_DAYS} days (10 years); this one spans {days} days"
    )]
    TooLong {
        /// Its length in whole days (rounded up).
        days: i64,
    },
    /// The window has more than [`MAX_BUCKETS`] buckets of the asked size.
    #[error(
        "a KPI report has at most {MAX_BUCKETS} buckets; this window has {buckets} {} buckets",
        .size.name()
    )]
    TooManyBuckets {
        /// How many buckets the window would have.
        buckets: u64,
        /// The asked bucket size.
        size: BucketSize,
    },
}

/// A bounded window `[from, to)` (UTC ms) with its optional bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KpiWindow {
    from: i64,
    to: i64,
    bucket: Option<BucketSize>,
}

impl KpiWindow {
    /// The window `[from, to)` in buckets of `bucket`, if within the bounds.
    pub fn new(
        from: Timestamp,
        to: Timestamp,
        bucket: Option<BucketSize>,
    ) -> Result<Self, KpiWindowError> {
        let (from, to) = (from.millis(), to.millis());
        if to <= from {
            return Err(KpiWindowError::Empty);
        }
        let length = i128::from(to) - i128::from(from);
        if length > i128::from(MAX_WINDOW_DAYS * MS_PER_DAY) {
            let days = (length + i128::from(MS_PER_DAY) - 1) / i128::from(MS_PER_DAY);
            return Err(KpiWindowError::TooLong {
                days: i64::try_from(days).unwrap_or(i64::MAX),
            });
        }
        if let Some(size) = bucket {
            let count = bucket_count(from, to, size);
            if count > MAX_BUCKETS {
                return Err(KpiWindowError::TooManyBuckets {
                    buckets: count,
                    size,
                });
            }
        }
        Ok(KpiWindow { from, to, bucket })
    }

    /// Start (UTC ms, inclusive).
    pub fn from(&self) -> i64 {
        self.from
    }

    /// End (UTC ms, exclusive).
    pub fn to(&self) -> i64 {
        self.to
    }

    /// The bucket size, if any.
    pub fn bucket(&self) -> Option<BucketSize> {
        self.bucket
    }

    /// The buckets (empty without a bucket size), each clipped to the window.
    pub fn buckets(&self) -> Vec<(i64, i64)> {
        self.bucket
            .map(|size| buckets(self.from, self.to, size))
            .unwrap_or_default()
    }
}

/// How many calendar buckets of `size` cover `[from, to)` (`to > from`), without listing them.
fn bucket_count(from: i64, to: i64, size: BucketSize) -> u64 {
    let first = i128::from(size.floor(from));
    let last = i128::from(size.floor(to - 1));
    let count = (last - first) / i128::from(size.length_ms()) + 1;
    u64::try_from(count).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = MS_PER_DAY;
    // 2024-01-01 00:00 UTC, a Monday.
    const T0: i64 = 1_704_067_200_000;

    fn window(from: i64, to: i64, bucket: Option<BucketSize>) -> Result<KpiWindow, KpiWindowError> {
        KpiWindow::new(Timestamp(from), Timestamp(to), bucket)
    }

    #[test]
    fn an_empty_window_is_refused() {
        assert_eq!(window(T0, T0, None), Err(KpiWindowError::Empty));
        assert_eq!(window(T0, T0 - 1, None), Err(KpiWindowError::Empty));
    }

    #[test]
    fn a_window_of_ten_years_is_allowed_and_one_day_more_is_refused() {
        assert!(window(T0, T0 + MAX_WINDOW_DAYS * DAY, None).is_ok());
        assert_eq!(
            window(T0, T0 + MAX_WINDOW_DAYS * DAY + 1, None),
            Err(KpiWindowError::TooLong {
                days: MAX_WINDOW_DAYS + 1
            })
        );
    }

    #[test]
    fn the_widest_timestamps_do_not_overflow() {
        assert!(matches!(
            window(i64::MIN, i64::MAX, Some(BucketSize::Day)),
            Err(KpiWindowError::TooLong { .. })
        ));
    }

    #[test]
    fn four_hundred_buckets_are_allowed_and_four_hundred_and_one_refused() {
        let ok = window(T0, T0 + 400 * DAY, Some(BucketSize::Day)).unwrap();
        assert_eq!(ok.buckets().len(), 400);
        assert_eq!(
            window(T0, T0 + 400 * DAY + 1, Some(BucketSize::Day)),
            Err(KpiWindowError::TooManyBuckets {
                buckets: 401,
                size: BucketSize::Day
            })
        );
        assert!(window(T0, T0 + 400 * 7 * DAY, Some(BucketSize::Week)).is_ok());
    }

    #[test]
    fn the_bucket_count_matches_the_buckets_listed() {
        for (from, to) in [
            (T0 + 5, T0 + 9 * DAY + 3),
            (T0 - 3 * DAY - 7, T0 + 40 * DAY),
            (T0, T0 + 1),
        ] {
            for size in [BucketSize::Day, BucketSize::Week] {
                assert_eq!(
                    bucket_count(from, to, size),
                    buckets(from, to, size).len() as u64,
                    "{from}..{to} {size:?}"
                );
            }
        }
    }
}
