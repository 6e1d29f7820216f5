//! KPIs (SPEC 2.6) over a bounded window `[from, to)`, globally, per
//! service or per owner team, with optional day or week buckets, and the
//! drill-down of every figure to the incidents, changes, alerts and action
//! items (with the instants and log positions) that produced it.
//!
//! Computed from the compact facts of [`crate::models::kpi_facts`] alone:
//! a caller clones them under the read models' lock (cheap, shared
//! collections) and computes outside it. Durations are in seconds.
//!
//! ## Layout
//! - [`window`]: the bounded window ([`KpiWindow`]).
//! - [`scope`]: what a question covers, with the owner team at the time.
//! - `rules`: the per-incident and per-change rules every figure uses.
//! - [`figures`]: the figures of one window; [`availability`]: per service.
//! - [`contributors`]: the drill-down.

pub mod availability;
pub mod contributors;
pub mod figures;
mod rules;
pub mod scope;
pub mod window;

use opsledger_domain::Timestamp;

use crate::models::kpi_facts::KpiFacts;
use figures::Ctx;

pub use availability::ServiceAvailability;
pub use contributors::{kpi_contributors, Contributor, KpiMetric, NamedStamp};
pub use figures::{KpiFigures, PatchDiscipline, SeverityCounts};
pub use rules::{ack_sla_ms, RECURRENCE_WINDOW_MS};
pub use scope::{KpiScope, ScopeError};
pub use window::{KpiWindow, KpiWindowError, MAX_BUCKETS, MAX_WINDOW_DAYS};

/// The version of the KPI definitions (README "KPI definitions", changelog there).
pub const DEFINITIONS_VERSION: u32 = 2;

/// A KPI question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KpiQuery {
    /// The bounded window and its buckets.
    pub window: KpiWindow,
    /// What it covers.
    pub scope: KpiScope,
    /// The current time: ongoing impact ends here, unacknowledged time is
    /// measured to here, open action items are counted at `min(to, now)`.
    pub now: Timestamp,
}

/// One bucket of a KPI report.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiBucket {
    /// The bucket's figures (its `from`/`to` are the bucket bounds).
    pub figures: KpiFigures,
}

/// The answer to a [`KpiQuery`].
#[derive(Clone, Debug, PartialEq)]
pub struct KpiReport {
    /// The version of the definitions the figures follow ([`DEFINITIONS_VERSION`]).
    pub definitions_version: u32,
    /// The figures over the whole window.
    pub totals: KpiFigures,
    /// The figures per bucket (empty without buckets).
    pub buckets: Vec<KpiBucket>,
}

/// Computes the KPIs of `query` from the KPI facts.
pub fn kpi_report(facts: &KpiFacts, query: &KpiQuery) -> Result<KpiReport, ScopeError> {
    let scope = scope::Scope::resolve(facts, &query.scope)?;
    let ctx = Ctx::new(facts, scope, query.now.millis());
    let window = &query.window;
    let totals = ctx.figures(window.from(), window.to());
    let buckets = window
        .buckets()
        .into_iter()
        .map(|(from, to)| KpiBucket {
            figures: ctx.figures(from, to),
        })
        .collect();
    Ok(KpiReport {
        definitions_version: DEFINITIONS_VERSION,
        totals,
        buckets,
    })
}
