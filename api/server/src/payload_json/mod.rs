//! Event payloads as JSON: the one place that renders a stored domain event for people and
//! programs (GraphQL `LogEvent.payload`, the `events` subscription, `opsledger export`).
//!
//! A payload is the decoded [`DomainEvent`] through serde: enum variants as externally
//! tagged objects (`{"Incident":{"Declared":{...}}}`), timestamps as UTC milliseconds, and
//! every id as its 26-character ULID text, exactly the string the GraphQL API shows for it
//! (`Incident.id`, `Service.id`, ...; see `opsledger_domain::ids::id_serde`).
//! Exports of format 1 (before 2026-12-02) held ids as 128-bit JSON integers;
//! [`format1`] reproduces that text so `import` can still check those files byte for byte.

mod format1;

use opsledger_domain::DomainEvent;
use opsledger_storage::export::{ExportFormat, RenderPayload};
use opsledger_storage::{decode_payload, RecordedEvent};

/// The domain event stored in `record`, if its payload decodes.
fn decoded(record: &RecordedEvent) -> Option<DomainEvent> {
    match decode_payload::<DomainEvent>(&record.payload) {
        Ok(event) => Some(event),
        Err(err) => {
            tracing::warn!(position = record.position, type_name = %record.type_name, %err,
                "an event payload does not decode as a domain event; rendered as null");
            None
        }
    }
}

/// The payload of `record` as a JSON value (`None` if it does not decode as a domain event).
pub fn payload_value(record: &RecordedEvent) -> Option<serde_json::Value> {
    let event = decoded(record)?;
    Some(serde_json::to_value(&event).expect("a domain event is representable as JSON"))
}

/// The payload of `record` as JSON text, ids as ULID text (`None` if it does not decode).
pub fn payload_text(record: &RecordedEvent) -> Option<String> {
    let event = decoded(record)?;
    Some(serde_json::to_string(&event).expect("a domain event is representable as JSON"))
}

/// Renders domain-event payloads for `export` and checks them on `import`, in every export
/// format this build reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct DomainPayloads;

impl RenderPayload for DomainPayloads {
    fn render(&self, record: &RecordedEvent, format: ExportFormat) -> Option<String> {
        match format {
            ExportFormat::V1 => format1::payload_text(&decoded(record)?),
            ExportFormat::V2 => payload_text(record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsledger_domain::service::{ServiceEvent, ServiceRetired};
    use opsledger_domain::{Actor, ServiceId, Timestamp};
    use opsledger_storage::encode_payload;
    use ulid::Ulid;

    fn record_of(event: &DomainEvent) -> RecordedEvent {
        RecordedEvent {
            position: 7,
            stream_id: "incident-x".into(),
            stream_version: 0,
            event_id: Ulid::nil(),
            type_name: event.type_name().into(),
            schema_version: event.schema_version(),
            recorded_at_ms: 0,
            actor: "rita".into(),
            command_id: "c".into(),
            correlation_id: Ulid::nil(),
            causation_id: None,
            payload: encode_payload(event).unwrap(),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn retired(id: ServiceId) -> DomainEvent {
        DomainEvent::Service(ServiceEvent::Retired(ServiceRetired {
            id,
            reason: "merged into checkout".into(),
            by: Actor("rita".into()),
            at: Timestamp::from_millis(1_735_689_600_000),
        }))
    }

    #[test]
    fn ids_render_as_the_ulid_text_the_api_shows() {
        let id = ServiceId::new(Ulid::from_parts(1_735_689_600_000, 100));
        let record = record_of(&retired(id));
        let value = payload_value(&record).expect("renders");
        assert_eq!(value["Service"]["Retired"]["id"], id.to_string());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&payload_text(&record).unwrap()).unwrap(),
            value
        );
    }

    #[test]
    fn format_1_renders_ids_as_128_bit_integers() {
        let id = ServiceId::new(Ulid::from_parts(1_735_689_600_000, 100));
        let record = record_of(&retired(id));
        let text = DomainPayloads.render(&record, ExportFormat::V1).unwrap();
        assert!(text.contains(&format!("\"id\":{}", id.0 .0)), "{text}");
        let current = DomainPayloads.render(&record, ExportFormat::V2).unwrap();
        assert!(current.contains(&format!("\"id\":\"{id}\"")), "{current}");
    }

    #[test]
    fn a_payload_that_does_not_decode_renders_as_none() {
        let mut record = record_of(&retired(ServiceId::new(Ulid::nil())));
        record.payload = vec![0xff, 0x00];
        assert_eq!(payload_value(&record), None);
        assert_eq!(DomainPayloads.render(&record, ExportFormat::V1), None);
    }
}
