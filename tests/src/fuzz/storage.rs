//! The storage decoders: envelope records (and the chain check over them), segments, index
//! chunks, command records and domain payloads, all fed the same bytes.
//!
//! Rule checked: each returns a typed error or a value, never panics or aborts, and a
//! decoded value survives its own round trip (encode it, decode that: the same value).

use opsledger_domain::DomainEvent;
use opsledger_storage::chain::{check_record, GENESIS_HASH};
use opsledger_storage::codec::{
    decode_command, decode_index_chunk, decode_payload, decode_record, encode_command,
    encode_index_chunk, encode_payload, encode_record, split_record,
};
use opsledger_storage::segment::{self, Segment};

/// The harness of the `storage_decoders` target.
pub fn storage_decoders(bytes: &[u8]) {
    record(bytes);
    segment(bytes);
    index_chunk(bytes);
    command(bytes);
    payload(bytes);
}

fn record(bytes: &[u8]) {
    if let Ok(parts) = split_record(bytes) {
        assert_eq!(
            parts.body.len() + 64,
            bytes.len(),
            "split_record lost bytes"
        );
    }
    let checked = check_record(bytes, 0, &GENESIS_HASH);
    let Ok(event) = decode_record(bytes) else {
        assert!(
            checked.is_err(),
            "check_record accepted an undecodable record"
        );
        return;
    };
    let again = encode_record(&event).expect("a decoded record encodes");
    assert_eq!(decode_record(&again), Ok(event), "record round trip");
}

fn segment(bytes: &[u8]) {
    let Ok(seg) = Segment::parse(bytes) else {
        return;
    };
    let records: Vec<&[u8]> = (0..seg.len())
        .map(|i| {
            let range = seg.record_range(i).expect("a range per record");
            let record = seg.record(i).expect("a record per index");
            assert_eq!(&bytes[range], record, "record {i} is not its range");
            record
        })
        .collect();
    assert_eq!(seg.record(seg.len()), None, "a record past the end");
    assert_eq!(
        seg.records().collect::<Vec<_>>(),
        records,
        "records() differs"
    );
    let encoded = segment::encode(records.iter().copied());
    let reparsed = Segment::parse(&encoded).expect("a re-encoded segment parses");
    assert_eq!(
        reparsed.records().collect::<Vec<_>>(),
        records,
        "segment round trip"
    );
    for record in records {
        let _ = decode_record(record);
    }
}

fn index_chunk(bytes: &[u8]) {
    let Ok(entries) = decode_index_chunk(bytes) else {
        return;
    };
    let again = encode_index_chunk(&entries).expect("a decoded chunk encodes");
    assert_eq!(
        decode_index_chunk(&again),
        Ok(entries),
        "index chunk round trip"
    );
}

fn command(bytes: &[u8]) {
    let Ok(record) = decode_command(bytes) else {
        return;
    };
    let again = encode_command(&record).expect("a decoded command encodes");
    assert_eq!(decode_command(&again), Ok(record), "command round trip");
}

fn payload(bytes: &[u8]) {
    let Ok(event) = decode_payload::<DomainEvent>(bytes) else {
        return;
    };
    let again = encode_payload(&event).expect("a decoded payload encodes");
    assert_eq!(
        decode_payload::<DomainEvent>(&again),
        Ok(event),
        "payload round trip"
    );
}
