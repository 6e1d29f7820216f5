//! The per-incident and per-change rules behind the figures, in one place
//! so a figure ([`super::figures`]) and its drill-down
//! ([`super::contributors`]) can never disagree.

use std::collections::BTreeMap;

use opsledger_domain::alert::AlertGroupKey;
use opsledger_domain::incident::Severity;
use opsledger_domain::time::{MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE};
use opsledger_domain::IncidentId;

use crate::models::kpi_facts::{ChangeFact, ChangeOutcome, IncidentFact, KpiFacts, Stamp};

/// How far back a resolved incident makes a new one recurring.
pub const RECURRENCE_WINDOW_MS: i64 = 30 * MS_PER_DAY;

/// The acknowledge SLA of a severity (SEV1 5 min, SEV2 15 min, SEV3 1 h, SEV4 4 h), in ms.
pub fn ack_sla_ms(severity: Severity) -> i64 {
    match severity {
        Severity::Sev1 => 5 * MS_PER_MINUTE,
        Severity::Sev2 => 15 * MS_PER_MINUTE,
        Severity::Sev3 => MS_PER_HOUR,
        Severity::Sev4 => 4 * MS_PER_HOUR,
    }
}

/// Whether `t` lies in `[from, to)`.
pub(crate) fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

/// Milliseconds as seconds.
pub(crate) fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The (latest) resolution, if it falls in `[from, to)`: the MTTx population.
pub(crate) fn resolved_within(i: &IncidentFact, from: i64, to: i64) -> Option<Stamp> {
    i.resolved.filter(|r| within(r.at, from, to))
}

/// How an incident fared against its acknowledge SLA.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AckSla {
    /// The declared severity, whose SLA applies.
    pub severity: Severity,
    /// The end of the unacknowledged time: the first of the first
    /// acknowledgement, the first resolution and `now` (`None` = now).
    pub until: Option<Stamp>,
    /// Unacknowledged time, ms.
    pub unacknowledged_ms: i64,
    /// Whether it exceeded the SLA.
    pub breached: bool,
}

/// The acknowledge SLA of `i` measured from detection to the first of its first
/// acknowledgement, its first resolution and `now`: a later reopen changes nothing.
pub(crate) fn ack_sla(i: &IncidentFact, now: i64) -> AckSla {
    let until = [i.acknowledged, i.first_resolved]
        .into_iter()
        .flatten()
        .filter(|s| s.at <= now)
        .min();
    let end = until.map_or(now, |s| s.at);
    let severity = i.declared_severity();
    let unacknowledged_ms = end - i.detected_at;
    AckSla {
        severity,
        until,
        unacknowledged_ms,
        breached: unacknowledged_ms > ack_sla_ms(severity),
    }
}

/// First resolutions of the (unmerged) incidents of each fingerprint, sorted,
/// built once per question.
pub(crate) struct Resolutions<'a>(BTreeMap<&'a AlertGroupKey, Vec<(Stamp, IncidentId)>>);

impl<'a> Resolutions<'a> {
    pub(crate) fn of(facts: &'a KpiFacts) -> Self {
        let mut out: BTreeMap<&AlertGroupKey, Vec<(Stamp, IncidentId)>> = BTreeMap::new();
        for (id, i) in facts.incidents.iter() {
            if let (Some(key), Some(resolved), false) = (&i.fingerprint, i.first_resolved, i.merged)
            {
                out.entry(key).or_default().push((resolved, *id));
            }
        }
        for list in out.values_mut() {
            list.sort_unstable();
        }
        Resolutions(out)
    }

    /// The latest other incident of `i`'s fingerprint first resolved in the
    /// 30 days before `i`'s detection, if any (what makes `i` recurring).
    pub(crate) fn recurrence_of(
        &self,
        id: IncidentId,
        i: &IncidentFact,
    ) -> Option<(IncidentId, Stamp)> {
        let list = self.0.get(i.fingerprint.as_ref()?)?;
        let since = i.detected_at - RECURRENCE_WINDOW_MS;
        let start = list.partition_point(|(r, _)| r.at < since);
        list[start..]
            .iter()
            .take_while(|(r, _)| r.at < i.detected_at)
            .filter(|(_, other)| *other != id)
            .last()
            .map(|(r, other)| (*other, *r))
    }
}

/// Time to restore (mitigated, else resolved, minus started), ms, with the instant used.
pub(crate) fn restore(i: &IncidentFact, resolved: Stamp) -> (i64, Stamp) {
    let end = i.mitigated.unwrap_or(resolved);
    (end.at - i.started_at, end)
}

/// The smallest RTO (seconds, 0 = none) of the impacted services at incident time, if any has one.
pub(crate) fn tightest_rto_secs(facts: &KpiFacts, i: &IncidentFact) -> Option<u64> {
    i.services
        .iter()
        .filter_map(|s| facts.services.get(s))
        .map(|s| s.profile_at(i.declared.at).rto_secs)
        .filter(|rto| *rto > 0)
        .min()
}

/// Whether time to restore exceeded the RTO of an impacted service.
pub(crate) fn breached_rto(facts: &KpiFacts, i: &IncidentFact, resolved: Stamp) -> bool {
    let (ms, _) = restore(i, resolved);
    tightest_rto_secs(facts, i).is_some_and(|rto| ms > (rto as i64).saturating_mul(1000))
}

/// Whether a review is required: SEV1 or SEV2 when resolved.
pub(crate) fn review_required(i: &IncidentFact, resolved: Stamp) -> bool {
    i.severity_at(resolved.at) <= Severity::Sev2
}

/// A failed change in the DORA sense: failed, rolled back, or completed and
/// named as an incident's cause.
pub(crate) fn dora_failed(c: &ChangeFact, outcome: ChangeOutcome) -> bool {
    match outcome {
        ChangeOutcome::Failed | ChangeOutcome::RolledBack => true,
        ChangeOutcome::Completed => !c.caused.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsledger_domain::change::ChangeCategory;

    fn incident(severity: Severity, detected: i64) -> IncidentFact {
        IncidentFact {
            severities: vec![(Stamp::new(detected, 1), severity)],
            services: Vec::new(),
            fingerprint: None,
            declared: Stamp::new(detected, 1),
            started_at: detected,
            detected_at: detected,
            acknowledged: None,
            first_resolved: None,
            mitigated: None,
            resolved: None,
            merged: false,
            review_published: None,
            levels: Vec::new(),
            segments: Vec::new(),
        }
    }

    #[test]
    fn ack_sla_ends_at_the_first_resolution_when_it_precedes_any_acknowledgement() {
        let mut i = incident(Severity::Sev1, 0);
        i.first_resolved = Some(Stamp::new(2 * MS_PER_MINUTE, 2));
        // Reopened (latest resolution cleared) and acknowledged an hour later.
        i.acknowledged = Some(Stamp::new(MS_PER_HOUR, 4));
        let sla = ack_sla(&i, 10 * MS_PER_HOUR);
        assert_eq!(sla.until, Some(Stamp::new(2 * MS_PER_MINUTE, 2)));
        assert!(!sla.breached);
    }

    #[test]
    fn ack_sla_of_an_unacknowledged_open_incident_runs_to_now() {
        let i = incident(Severity::Sev3, 0);
        assert!(!ack_sla(&i, MS_PER_HOUR).breached);
        let late = ack_sla(&i, MS_PER_HOUR + 1);
        assert_eq!((late.until, late.breached), (None, true));
    }

    #[test]
    fn ack_sla_uses_the_declared_severity() {
        let mut i = incident(Severity::Sev3, 0);
        i.severities
            .push((Stamp::new(MS_PER_MINUTE, 2), Severity::Sev1));
        i.acknowledged = Some(Stamp::new(30 * MS_PER_MINUTE, 3));
        let sla = ack_sla(&i, MS_PER_HOUR);
        assert_eq!((sla.severity, sla.breached), (Severity::Sev3, false));
        assert_eq!(i.severity_at(30 * MS_PER_MINUTE), Severity::Sev1);
    }

    #[test]
    fn a_dora_failure_is_a_failed_rolled_back_or_incident_causing_change() {
        let mut c = ChangeFact {
            services: Vec::new(),
            category: ChangeCategory::Release,
            ended: None,
            caused: Vec::new(),
        };
        assert!(dora_failed(&c, ChangeOutcome::Failed));
        assert!(dora_failed(&c, ChangeOutcome::RolledBack));
        assert!(!dora_failed(&c, ChangeOutcome::Completed));
        c.caused.push((
            IncidentId::new(ulid::Ulid::from_parts(1, 1)),
            Stamp::new(5, 5),
        ));
        assert!(dora_failed(&c, ChangeOutcome::Completed));
    }
}
