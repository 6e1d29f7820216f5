//! Summary statistics of durations: mean, median and 90th percentile.

use serde::{Deserialize, Serialize};

/// Mean, median and p90 of a sample (all `None` for an empty sample).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many values the sample holds.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Median: the middle value, or the mean of the two middle values.
    pub median: Option<f64>,
    /// 90th percentile by the nearest-rank method (the `ceil(0.9 n)`-th smallest value).
    pub p90: Option<f64>,
}

impl Summary {
    /// Summarises `values` (order does not matter).
    pub fn of(values: &[f64]) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let sum: f64 = sorted.iter().sum();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        // Nearest rank: the smallest value with at least 90 % of the sample at or below it.
        let rank = (n * 9).div_ceil(10).max(1);
        Summary {
            count: n as u64,
            mean: Some(sum / n as f64),
            median: Some(median),
            p90: Some(sorted[rank - 1]),
        }
    }
}

/// `numerator / denominator`, or `None` when the denominator is zero.
pub fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sample_has_no_figures() {
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn odd_sample_median_is_the_middle_value_and_p90_is_nearest_rank() {
        let s = Summary::of(&[5.0, 1.0, 3.0]);
        assert_eq!(s.count, 3);
        assert_eq!(s.mean, Some(3.0));
        assert_eq!(s.median, Some(3.0));
        assert_eq!(s.p90, Some(5.0));
    }

    #[test]
    fn even_sample_median_is_the_mean_of_the_two_middle_values() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = Summary::of(&values);
        assert_eq!(s.mean, Some(5.5));
        assert_eq!(s.median, Some(5.5));
        assert_eq!(s.p90, Some(9.0));
    }

    #[test]
    fn ratio_of_zero_denominator_is_none() {
        assert_eq!(ratio(1, 0), None);
        assert_eq!(ratio(1, 4), Some(0.25));
    }
}
