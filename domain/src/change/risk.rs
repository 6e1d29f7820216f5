//! The deterministic risk score of a change.
//!
//! Points are summed from four inputs:
//!
//! | input | points |
//! |---|---|
//! | type | emergency +2, normal +1, standard 0 |
//! | most critical service tier | tier 1 +2, tier 2 +1, tier 3 (or out of range) 0 |
//! | number of services | 3 or more +1 |
//! | recent failure rate of changes on those services (`failed / total`) | ≥ 20 % +2, ≥ 10 % +1, else (or no history) 0 |
//!
//! Level: **low** ≤ 1 point, **medium** 2–3 points, **high** ≥ 4 points.
//! The rate is compared with integer arithmetic (`failed * 100 >= 20 * total`),
//! so the score is exactly reproducible.
//!
//! Approvals required: standard 0 (pre-approved), emergency 1, normal 1 for
//! low risk and 2 for medium or high risk.

use super::ChangeType;
use serde::{Deserialize, Serialize};

/// The risk level of a change.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum RiskLevel {
    /// At most 1 point.
    #[default]
    Low,
    /// 2 or 3 points.
    Medium,
    /// 4 points or more.
    High,
}

/// Recent outcomes of changes on a change's services, as counts (deterministic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureHistory {
    /// Changes that failed or were rolled back (or caused an incident).
    pub failed: u32,
    /// Changes that finished (completed, failed or rolled back).
    pub total: u32,
}

/// The computed risk of a change: its points and level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    /// The summed points.
    pub points: u8,
    /// The level the points map to.
    pub level: RiskLevel,
}

/// Scores a change: `tiers` are the tiers (1 = most critical) of its services.
pub fn assess(change_type: ChangeType, tiers: &[u8], history: FailureHistory) -> Risk {
    let points = type_points(change_type)
        + tier_points(tiers)
        + breadth_points(tiers.len())
        + failure_points(history);
    Risk {
        points,
        level: level_of(points),
    }
}

/// Approvals a change needs before it is approved.
pub fn required_approvals(change_type: ChangeType, level: RiskLevel) -> u8 {
    match (change_type, level) {
        (ChangeType::Standard, _) => 0,
        (ChangeType::Emergency, _) => 1,
        (ChangeType::Normal, RiskLevel::Low) => 1,
        (ChangeType::Normal, _) => 2,
    }
}

fn type_points(change_type: ChangeType) -> u8 {
    match change_type {
        ChangeType::Emergency => 2,
        ChangeType::Normal => 1,
        ChangeType::Standard => 0,
    }
}

fn tier_points(tiers: &[u8]) -> u8 {
    let points = |tier: &u8| match tier {
        1 => 2,
        2 => 1,
        _ => 0,
    };
    tiers.iter().map(points).max().unwrap_or(0)
}

fn breadth_points(services: usize) -> u8 {
    u8::from(services >= 3)
}

fn failure_points(h: FailureHistory) -> u8 {
    let failed = u64::from(h.failed) * 100;
    let total = u64::from(h.total);
    if total == 0 {
        0
    } else if failed >= 20 * total {
        2
    } else if failed >= 10 * total {
        1
    } else {
        0
    }
}

fn level_of(points: u8) -> RiskLevel {
    match points {
        0..=1 => RiskLevel::Low,
        2..=3 => RiskLevel::Medium,
        _ => RiskLevel::High,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: FailureHistory = FailureHistory {
        failed: 0,
        total: 0,
    };

    #[test]
    fn standard_change_on_a_tier_3_service_is_low_risk() {
        assert_eq!(
            assess(ChangeType::Standard, &[3], NONE),
            Risk {
                points: 0,
                level: RiskLevel::Low
            }
        );
    }

    #[test]
    fn normal_change_on_a_tier_2_service_is_medium_risk() {
        assert_eq!(
            assess(ChangeType::Normal, &[2, 3], NONE),
            Risk {
                points: 2,
                level: RiskLevel::Medium
            }
        );
    }

    #[test]
    fn emergency_change_on_tier_1_is_high_risk() {
        assert_eq!(
            assess(ChangeType::Emergency, &[3, 1], NONE),
            Risk {
                points: 4,
                level: RiskLevel::High
            }
        );
    }

    #[test]
    fn out_of_range_tier_counts_as_tier_3_and_hides_no_tier_1() {
        assert_eq!(assess(ChangeType::Standard, &[0, 1], NONE).points, 2);
    }

    #[test]
    fn three_services_add_a_point() {
        assert_eq!(assess(ChangeType::Normal, &[3, 3, 3], NONE).points, 2);
    }

    #[test]
    fn failure_rate_thresholds_are_20_and_10_percent() {
        let rate = |failed, total| FailureHistory { failed, total };
        assert_eq!(assess(ChangeType::Standard, &[3], rate(2, 10)).points, 2);
        assert_eq!(assess(ChangeType::Standard, &[3], rate(1, 10)).points, 1);
        assert_eq!(assess(ChangeType::Standard, &[3], rate(9, 100)).points, 0);
    }

    #[test]
    fn approvals_depend_on_type_and_risk() {
        assert_eq!(required_approvals(ChangeType::Standard, RiskLevel::High), 0);
        assert_eq!(
            required_approvals(ChangeType::Emergency, RiskLevel::High),
            1
        );
        assert_eq!(required_approvals(ChangeType::Normal, RiskLevel::Low), 1);
        assert_eq!(required_approvals(ChangeType::Normal, RiskLevel::Medium), 2);
        assert_eq!(required_approvals(ChangeType::Normal, RiskLevel::High), 2);
    }
}
