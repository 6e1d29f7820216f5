//! Audit indexes: every event's envelope by stream, by actor, by type and
//! by time, with compact interned records (no payloads: fetch those from
//! the store by position when needed).

use std::collections::HashMap;

use opsledger_domain::Timestamp;
use opsledger_storage::codec::{decode_payload, encode_payload};
use opsledger_storage::CodecError;
use serde::{Deserialize, Serialize};

use crate::pagination::{paginate, Page, PageRequest};
use crate::projection::EventMeta;
use crate::ProjectionError;

/// Strings stored once, referred to by index.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl From<Vec<String>> for Interner {
    fn from(names: Vec<String>) -> Self {
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Interner { names, ids }
    }
}

impl From<Interner> for Vec<String> {
    fn from(i: Interner) -> Self {
        i.names
    }
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    position: u64,
    recorded_at: i64,
    stream_version: u64,
    stream: u32,
    actor: u32,
    type_name: u32,
}

/// One event's envelope in an audit answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Global log position.
    pub position: u64,
    /// Stream.
    pub stream_id: String,
    /// Version within the stream.
    pub stream_version: u64,
    /// Type name.
    pub type_name: String,
    /// Who did it.
    pub actor: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

/// Which events an audit query returns (all given filters must match).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this stream.
    pub stream_id: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this event type.
    pub type_name: Option<String>,
    /// Only events recorded at or after this instant.
    pub from: Option<Timestamp>,
    /// Only events recorded before this instant.
    pub to: Option<Timestamp>,
}

/// Records per snapshot part (so no encoding of every record is in memory at once).
const RECORDS_PER_PART: usize = 128 * 1024;

/// The audit indexes without their records (the first snapshot part).
#[derive(Serialize)]
struct IndexesRef<'a> {
    streams: &'a Interner,
    actors: &'a Interner,
    types: &'a Interner,
    by_stream: &'a Vec<Vec<u32>>,
    by_actor: &'a Vec<Vec<u32>>,
    by_type: &'a Vec<Vec<u32>>,
    time_monotonic: bool,
}

/// [`IndexesRef`] read back.
#[derive(Deserialize)]
struct Indexes {
    streams: Interner,
    actors: Interner,
    types: Interner,
    by_stream: Vec<Vec<u32>>,
    by_actor: Vec<Vec<u32>>,
    by_type: Vec<Vec<u32>>,
    time_monotonic: bool,
}

/// The audit indexes over every event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditIndex {
    records: Vec<Record>,
    streams: Interner,
    actors: Interner,
    types: Interner,
    by_stream: Vec<Vec<u32>>,
    by_actor: Vec<Vec<u32>>,
    by_type: Vec<Vec<u32>>,
    /// Whether `recorded_at` never decreased along the log (allows binary search by time).
    time_monotonic: bool,
}

/// The index list of `name`, if a name is given (empty if never seen).
fn lookup<'a>(
    interner: &Interner,
    index: &'a [Vec<u32>],
    name: &Option<String>,
) -> Option<&'a [u32]> {
    name.as_ref().map(|n| {
        interner
            .get(n)
            .and_then(|id| index.get(id as usize))
            .map_or(&[][..], Vec::as_slice)
    })
}

fn push_to(index: &mut Vec<Vec<u32>>, key: u32, record: u32) {
    let key = key as usize;
    if index.len() <= key {
        index.resize_with(key + 1, Vec::new);
    }
    index[key].push(record);
}

impl AuditIndex {
    /// Encodes the index as snapshot parts: the indexes, then the records in
    /// slices of [`RECORDS_PER_PART`].
    pub(crate) fn encode_parts(
        &self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), ProjectionError>,
    ) -> Result<(), ProjectionError> {
        sink(&encode_payload(&IndexesRef {
            streams: &self.streams,
            actors: &self.actors,
            types: &self.types,
            by_stream: &self.by_stream,
            by_actor: &self.by_actor,
            by_type: &self.by_type,
            time_monotonic: self.time_monotonic,
        })?)?;
        for slice in self.records.chunks(RECORDS_PER_PART) {
            sink(&encode_payload(&slice)?)?;
        }
        Ok(())
    }

    /// Rebuilds the index from the parts written by [`AuditIndex::encode_parts`].
    pub(crate) fn decode_parts(parts: &[&[u8]]) -> Result<Self, CodecError> {
        let Some((indexes, record_parts)) = parts.split_first() else {
            return Err(CodecError::Decode("audit snapshot without indexes".into()));
        };
        let i: Indexes = decode_payload(indexes)?;
        let mut records = Vec::new();
        for part in record_parts {
            records.extend(decode_payload::<Vec<Record>>(part)?);
        }
        Ok(AuditIndex {
            records,
            streams: i.streams,
            actors: i.actors,
            types: i.types,
            by_stream: i.by_stream,
            by_actor: i.by_actor,
            by_type: i.by_type,
            time_monotonic: i.time_monotonic,
        })
    }

    /// Records one event's envelope.
    pub fn record(&mut self, meta: &EventMeta<'_>) {
        let idx = self.records.len() as u32;
        let recorded_at = meta.recorded_at.millis();
        self.time_monotonic = match self.records.last() {
            None => true,
            Some(last) => self.time_monotonic && last.recorded_at <= recorded_at,
        };
        let stream = self.streams.intern(meta.stream_id);
        let actor = self.actors.intern(meta.actor);
        let type_name = self.types.intern(meta.type_name);
        push_to(&mut self.by_stream, stream, idx);
        push_to(&mut self.by_actor, actor, idx);
        push_to(&mut self.by_type, type_name, idx);
        self.records.push(Record {
            position: meta.position,
            recorded_at,
            stream_version: meta.stream_version,
            stream,
            actor,
            type_name,
        });
    }

    /// How many events are indexed.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no event is indexed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every distinct actor seen.
    pub fn actors(&self) -> &[String] {
        &self.actors.names
    }

    /// Every distinct event type seen.
    pub fn type_names(&self) -> &[String] {
        &self.types.names
    }

    fn entry(&self, r: &Record) -> AuditEntry {
        AuditEntry {
            position: r.position,
            stream_id: self.streams.name(r.stream).to_owned(),
            stream_version: r.stream_version,
            type_name: self.types.name(r.type_name).to_owned(),
            actor: self.actors.name(r.actor).to_owned(),
            recorded_at: Timestamp(r.recorded_at),
        }
    }

    /// A page of events matching `filter`, in log order.
    pub fn query(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, ProjectionError> {
        let stream = lookup(&self.streams, &self.by_stream, &filter.stream_id);
        let actor = lookup(&self.actors, &self.by_actor, &filter.actor);
        let type_name = lookup(&self.types, &self.by_type, &filter.type_name);
        let from = filter.from.map_or(i64::MIN, Timestamp::millis);
        let to = filter.to.map_or(i64::MAX, Timestamp::millis);
        let want = |name: &Option<String>, interner: &Interner, id: u32| {
            name.as_ref().is_none_or(|n| interner.name(id) == n)
        };
        let matches = |r: &&Record| {
            r.recorded_at >= from
                && r.recorded_at < to
                && want(&filter.stream_id, &self.streams, r.stream)
                && want(&filter.actor, &self.actors, r.actor)
                && want(&filter.type_name, &self.types, r.type_name)
        };
        // The most selective index drives the scan; the rest are filters.
        let candidates: Box<dyn Iterator<Item = &Record>> = match [stream, actor, type_name]
            .into_iter()
            .flatten()
            .min_by_key(|s| s.len())
        {
            Some(list) => Box::new(list.iter().filter_map(|&i| self.records.get(i as usize))),
            None if self.time_monotonic => {
                let lo = self.records.partition_point(|r| r.recorded_at < from);
                let hi = self.records.partition_point(|r| r.recorded_at < to);
                Box::new(self.records[lo..hi.max(lo)].iter())
            }
            None => Box::new(self.records.iter()),
        };
        let page = paginate(candidates.filter(matches), |r| r.position, false, page)?;
        Ok(page.map(|r| self.entry(r)))
    }
}
