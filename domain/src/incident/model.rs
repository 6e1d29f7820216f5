//! The incident vocabulary: severity, impact, lifecycle status, and the
//! facts about impacted services that a declaration carries.

use crate::ids::ServiceId;
use crate::service::{EscalationPolicy, Tier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How bad an incident is; `Sev1` is the worst (orders first).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Severity {
    /// Critical: a tier-1 service is down.
    Sev1,
    /// Major.
    Sev2,
    /// Minor.
    Sev3,
    /// Low (the default of an undeclared state).
    #[default]
    Sev4,
}

impl Severity {
    /// The severity derived from a service's tier and its impact level.
    ///
    /// | tier | major outage | partial outage | degraded |
    /// |------|--------------|----------------|----------|
    /// | 1    | SEV1         | SEV2           | SEV3     |
    /// | 2    | SEV2         | SEV3           | SEV3     |
    /// | 3    | SEV3         | SEV4           | SEV4     |
    ///
    /// An out-of-range tier is treated as tier 3.
    pub fn derive(tier: Tier, impact: ImpactLevel) -> Severity {
        use ImpactLevel::{Degraded, MajorOutage, PartialOutage};
        match (tier.get(), impact) {
            (1, MajorOutage) => Severity::Sev1,
            (1, PartialOutage) | (2, MajorOutage) => Severity::Sev2,
            (1, Degraded) | (2, _) | (_, MajorOutage) => Severity::Sev3,
            (_, PartialOutage | Degraded) => Severity::Sev4,
        }
    }

    /// The worst derived severity over several impacted services
    /// (`Sev4` when there are none).
    pub fn derive_worst(impacts: impl IntoIterator<Item = (Tier, ImpactLevel)>) -> Severity {
        impacts
            .into_iter()
            .map(|(tier, level)| Severity::derive(tier, level))
            .min()
            .unwrap_or(Severity::Sev4)
    }

    /// The wire name (`SEV1`..`SEV4`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }
}

/// How a service is affected; orders from mildest to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ImpactLevel {
    /// Slower or partly failing.
    Degraded,
    /// Down for some users or features.
    PartialOutage,
    /// Down.
    MajorOutage,
}

/// The incident lifecycle, in order: a move is forward iff the target orders later.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum IncidentStatus {
    /// Declared, nobody has acknowledged it yet.
    #[default]
    Triggered,
    /// Someone owns it.
    Acknowledged,
    /// Looking for the cause.
    Investigating,
    /// The cause is known.
    Identified,
    /// A fix is in place (entering it records the mitigation time).
    Monitoring,
    /// Over; may be reopened.
    Resolved,
    /// Final.
    Closed,
}

/// The working stages an incident can be advanced to by [`super::IncidentCommand::Advance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// See [`IncidentStatus::Investigating`].
    Investigating,
    /// See [`IncidentStatus::Identified`].
    Identified,
    /// See [`IncidentStatus::Monitoring`].
    Monitoring,
}

impl Stage {
    /// The status this stage stands for.
    pub fn status(self) -> IncidentStatus {
        match self {
            Stage::Investigating => IncidentStatus::Investigating,
            Stage::Identified => IncidentStatus::Identified,
            Stage::Monitoring => IncidentStatus::Monitoring,
        }
    }
}

/// Who may read a status update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visibility {
    /// Responders only.
    Internal,
    /// Also shown on the public status page.
    Public,
}

/// One impacted service and how badly (as recorded in events and state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceImpact {
    /// The service.
    pub service: ServiceId,
    /// How it is affected.
    pub level: ImpactLevel,
}

/// What the caller read from a service's stream for a declaration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceFacts {
    /// The service's tier.
    pub tier: Tier,
    /// Whether the service is retired (blocks new incidents).
    pub retired: bool,
    /// The service's escalation policy.
    pub escalation_policy: EscalationPolicy,
}

/// What the caller read for an incident command: the facts about every
/// service a declaration names (the other commands take the default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeclarationFacts {
    /// The facts of each impacted service, by service.
    pub services: BTreeMap<ServiceId, ServiceFacts>,
}

impl DeclarationFacts {
    /// The facts of one service.
    pub fn of(service: ServiceId, facts: ServiceFacts) -> Self {
        DeclarationFacts {
            services: BTreeMap::from([(service, facts)]),
        }
    }

    /// The facts of `service`, if the caller passed them.
    pub fn service(&self, service: ServiceId) -> Option<&ServiceFacts> {
        self.services.get(&service)
    }
}
