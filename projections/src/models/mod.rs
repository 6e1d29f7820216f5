//! The read models of opsledger, folded together as one projection
//! ([`ReadModels`]) so every query sees one consistent log position.

pub mod audit;
pub mod changes;
pub mod incidents;
pub mod kpi_facts;
pub mod reviews;
pub mod services;

use opsledger_domain::alert::AlertGroupEvent;
use opsledger_domain::incident::IncidentEvent;
use opsledger_domain::review::ReviewEvent;
use opsledger_domain::{ChangeId, DomainEvent, IncidentId, ReviewId};
use serde::{Deserialize, Serialize};

use opsledger_storage::codec::{decode_payload, encode_payload};
use opsledger_storage::CodecError;

use crate::error::ApplyError;
use crate::projection::{EventMeta, Projection};

use audit::AuditIndex;
use changes::ChangesModel;
use incidents::IncidentsModel;
use kpi_facts::{AlertFact, AlertFactKind, KpiFacts, Stamp};
use reviews::ReviewsModel;
use services::ServicesModel;

/// Every read model: services, incidents (and alert groups), changes (and
/// freezes), reviews, KPI facts and audit indexes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadModels {
    /// Services and the dependency graph.
    pub services: ServicesModel,
    /// Incidents and alert groups.
    pub incidents: IncidentsModel,
    /// Changes and freeze windows.
    pub changes: ChangesModel,
    /// Post-incident reviews and action items.
    pub reviews: ReviewsModel,
    /// Compact facts for KPIs.
    pub kpi: KpiFacts,
    /// Audit indexes.
    pub audit: AuditIndex,
}

impl Projection for ReadModels {
    const NAME: &'static str = "read_models";
    const SNAPSHOT_VERSION: u8 = 4;

    /// One part per read model (the audit index in several), so no encoding
    /// of the whole state is ever in memory at once.
    fn encode_parts(
        &self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), crate::ProjectionError>,
    ) -> Result<(), crate::ProjectionError> {
        sink(&encode_payload(&self.services)?)?;
        sink(&encode_payload(&self.incidents)?)?;
        sink(&encode_payload(&self.changes)?)?;
        sink(&encode_payload(&self.reviews)?)?;
        sink(&encode_payload(&self.kpi)?)?;
        self.audit.encode_parts(sink)
    }

    fn decode_parts(parts: &[&[u8]]) -> Result<Self, CodecError> {
        let [services, incidents, changes, reviews, kpi, audit @ ..] = parts else {
            return Err(CodecError::Decode(format!(
                "expected at least 6 snapshot parts, found {}",
                parts.len()
            )));
        };
        // Two halves of about equal size decode on two threads: start-up from a snapshot
        // is mostly this decoding (and the page faults of the memory it fills).
        let (mine, theirs) = std::thread::scope(|scope| {
            let theirs = scope.spawn(|| -> Result<_, CodecError> {
                Ok((
                    decode_payload(incidents)?,
                    decode_payload(changes)?,
                    decode_payload(reviews)?,
                ))
            });
            let mine = (|| -> Result<_, CodecError> {
                Ok((
                    decode_payload(services)?,
                    decode_payload(kpi)?,
                    AuditIndex::decode_parts(audit)?,
                ))
            })();
            (mine, theirs.join())
        });
        let (services, kpi, audit) = mine?;
        let (incidents, changes, reviews) = theirs
            .map_err(|_| CodecError::Decode("a snapshot decoding thread panicked".into()))??;
        Ok(ReadModels {
            services,
            incidents,
            changes,
            reviews,
            kpi,
            audit,
        })
    }

    fn apply(&mut self, meta: &EventMeta<'_>, event: &DomainEvent) -> Result<(), ApplyError> {
        self.audit.record(meta);
        match event {
            DomainEvent::Service(e) => {
                self.services.apply(meta, e)?;
                self.kpi.apply_service(meta.position, e);
                Ok(())
            }
            DomainEvent::AlertGroup(e) => self.apply_alert(meta, e),
            DomainEvent::Incident(e) => self.apply_incident(meta, e),
            DomainEvent::Change(e) => {
                self.changes.apply(meta, e)?;
                if let Some(id) = ChangeId::from_stream_id(meta.stream_id) {
                    self.kpi.apply_change(id, meta.position, e);
                }
                Ok(())
            }
            DomainEvent::Freeze(e) => self.changes.apply_freeze(meta, e),
            DomainEvent::Review(e) => self.apply_review(meta, e),
        }
    }
}

impl ReadModels {
    fn apply_incident(
        &mut self,
        meta: &EventMeta<'_>,
        event: &IncidentEvent,
    ) -> Result<(), ApplyError> {
        self.incidents.apply(meta, event)?;
        let id = IncidentId::from_stream_id(meta.stream_id)
            .ok_or_else(|| ApplyError::BadStreamId(meta.stream_id.to_owned()))?;
        self.kpi.apply_incident(id, meta.position, event);
        if let IncidentEvent::CauseChangeLinked(e) = event {
            self.changes.link_cause(id, e.change, e.previous);
            let at = Stamp::new(e.at.millis(), meta.position);
            self.kpi.link_cause(id, e.change, e.previous, at);
        }
        Ok(())
    }

    fn apply_review(
        &mut self,
        meta: &EventMeta<'_>,
        event: &ReviewEvent,
    ) -> Result<(), ApplyError> {
        if let Some((incident, review)) = self.reviews.apply(meta, event)? {
            self.incidents.link_review(incident, review);
        }
        let incident = ReviewId::from_stream_id(meta.stream_id)
            .and_then(|id| self.reviews.get(id))
            .map(|r| r.incident);
        let Some(incident) = incident else {
            return Ok(());
        };
        let at = |t: opsledger_domain::Timestamp| Stamp::new(t.millis(), meta.position);
        match event {
            ReviewEvent::Published(e) => self.kpi.review_published(incident, at(e.at)),
            ReviewEvent::ActionItemAdded(e) => {
                self.kpi
                    .action_item_added(e.id, incident, e.due.millis(), at(e.at))
            }
            ReviewEvent::ActionItemCompleted(e) => self.kpi.action_item_completed(e.id, at(e.at)),
            _ => {}
        }
        Ok(())
    }

    fn apply_alert(
        &mut self,
        meta: &EventMeta<'_>,
        event: &AlertGroupEvent,
    ) -> Result<(), ApplyError> {
        self.incidents.apply_alert(meta, event)?;
        let fact = |at: opsledger_domain::Timestamp, service, kind| AlertFact {
            at: Stamp::new(at.millis(), meta.position),
            service,
            kind,
        };
        let recorded = match event {
            AlertGroupEvent::Received(e) => Some(fact(
                e.alert.received_at,
                e.alert.group.service,
                AlertFactKind::Received,
            )),
            AlertGroupEvent::Attached(e) if e.suppressed => {
                let service = self.group_service(meta)?;
                Some(fact(e.at, service, AlertFactKind::Suppressed))
            }
            AlertGroupEvent::IncidentOpened(e) => {
                let service = self.group_service(meta)?;
                Some(fact(e.at, service, AlertFactKind::OpenedIncident))
            }
            AlertGroupEvent::IncidentOpenedV2(e) => {
                let service = self.group_service(meta)?;
                Some(fact(e.at, service, AlertFactKind::OpenedIncident))
            }
            _ => None,
        };
        if let Some(f) = recorded {
            self.kpi.record_alert(f);
        }
        Ok(())
    }

    fn group_service(
        &self,
        meta: &EventMeta<'_>,
    ) -> Result<opsledger_domain::ServiceId, ApplyError> {
        self.incidents
            .alert_groups_by_stream(meta.stream_id)
            .map(|g| g.key.service)
            .ok_or_else(|| ApplyError::UnknownEntity {
                kind: "alert group",
                stream_id: meta.stream_id.to_owned(),
            })
    }
}
