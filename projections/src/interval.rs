//! Half-open millisecond intervals: clipping to a window and measuring a
//! union without double counting overlaps.

/// A half-open interval `[start, end)` in UTC milliseconds.
pub type Interval = (i64, i64);

/// Clips `intervals` to `window`, merges overlapping or touching ones and
/// returns the disjoint result sorted by start. Empty intervals vanish.
pub fn union_within(intervals: &[Interval], window: Interval) -> Vec<Interval> {
    let mut clipped: Vec<Interval> = intervals
        .iter()
        .map(|&(s, e)| (s.max(window.0), e.min(window.1)))
        .filter(|&(s, e)| e > s)
        .collect();
    clipped.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(clipped.len());
    for (s, e) in clipped {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Total length of the union of `intervals` clipped to `window`.
pub fn union_length_within(intervals: &[Interval], window: Interval) -> i64 {
    union_within(intervals, window)
        .iter()
        .map(|(s, e)| e - s)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_intervals_are_counted_once() {
        assert_eq!(union_length_within(&[(0, 10), (5, 15)], (0, 100)), 15);
    }

    #[test]
    fn intervals_are_clipped_to_the_window() {
        assert_eq!(
            union_within(&[(-5, 5), (95, 200)], (0, 100)),
            vec![(0, 5), (95, 100)]
        );
    }

    #[test]
    fn touching_intervals_merge_and_disjoint_ones_stay_apart() {
        assert_eq!(
            union_within(&[(20, 30), (0, 10), (10, 12)], (0, 100)),
            vec![(0, 12), (20, 30)]
        );
    }

    #[test]
    fn empty_and_outside_intervals_vanish() {
        assert_eq!(
            union_length_within(&[(5, 5), (200, 300), (-9, -1)], (0, 100)),
            0
        );
    }

    #[test]
    fn contained_interval_adds_nothing() {
        assert_eq!(union_length_within(&[(0, 50), (10, 20)], (0, 100)), 50);
    }
}
