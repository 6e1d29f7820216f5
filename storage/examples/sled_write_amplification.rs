//! How many bytes sled 0.34 writes to its log per group commit, by key family.
//!
//! Plain sled (no opsledger code), 300 groups of what one 64-writer group commit
//! of `opsledger bench storage` writes: ~19 KiB of records as segments, 64 stream
//! index keys (one per stream) and 64 command keys (ULID strings), as layout 2 wrote
//! them, or one index chunk of ~6.5 KB (layout 3, what this build writes). Each group is
//! one `apply_batch` and one `flush`; the figure is the byte count sled's flush
//! reports. Run: `cargo run --release -p opsledger-storage --example sled_write_amplification`.

use std::time::Instant;

/// Groups written per family.
const GROUPS: u64 = 300;
/// Record bytes of one 64-writer group (64 records of ~300 bytes).
const GROUP_RECORD_BYTES: usize = 19 * 1024;

fn main() {
    println!(
        "{:<34} {:>10} {:>14} {:>14}",
        "family (per group)", "KB/group", "apply ms", "apply+flush ms"
    );
    measure("segments of 6 KiB", &|b, g| segments(b, g, 6 * 1024));
    measure("segments of 1 KiB", &|b, g| segments(b, g, 1024));
    measure("64 stream index keys", &|b, g| stream_keys(b, g));
    measure("64 command keys", &|b, _| command_keys(b));
    measure("segments + stream index keys", &|b, g| {
        segments(b, g, 6 * 1024);
        stream_keys(b, g);
    });
    measure("segments + stream + command keys", &|b, g| {
        segments(b, g, 6 * 1024);
        stream_keys(b, g);
        command_keys(b);
    });
    measure("segments + one index chunk (now)", &|b, g| {
        segments(b, g, 6 * 1024);
        index_chunk(b, g);
    });
}

/// One index chunk for 64 appends (~100 bytes each: ids, version, count, digest).
fn index_chunk(batch: &mut sled::Batch, group: u64) {
    let mut key = b"x/".to_vec();
    key.extend_from_slice(&(group * 64).to_be_bytes());
    batch.insert(key, vec![0x3C; 64 * 100]);
}

/// A group's records as segments of `size` bytes, keyed by first position.
fn segments(batch: &mut sled::Batch, group: u64, size: usize) {
    for i in 0..(GROUP_RECORD_BYTES / size) as u64 {
        let mut key = b"g/".to_vec();
        key.extend_from_slice(&(group * 64 + i).to_be_bytes());
        batch.insert(key, vec![0x5A; size]);
    }
}

/// One stream index key (stream, version) -> position for each of 64 streams.
fn stream_keys(batch: &mut sled::Batch, group: u64) {
    for stream in 0..64u64 {
        let mut key = format!("s/bench-{stream}\0").into_bytes();
        key.extend_from_slice(&group.to_be_bytes());
        batch.insert(key, &(group * 64 + stream).to_be_bytes());
    }
}

/// 64 command keys (ULID strings) with a ~60-byte record each.
fn command_keys(batch: &mut sled::Batch) {
    for _ in 0..64 {
        batch.insert(
            format!("c/{}", ulid::Ulid::new()).into_bytes(),
            vec![7u8; 60],
        );
    }
}

/// Writes `GROUPS` groups built by `group` into a fresh sled and prints the figures.
fn measure(name: &str, group: &dyn Fn(&mut sled::Batch, u64)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(64 << 20)
        .flush_every_ms(None)
        .open()
        .expect("open sled");
    let mut bytes = 0usize;
    let mut apply_secs = 0.0;
    let started = Instant::now();
    for g in 0..GROUPS {
        let mut batch = sled::Batch::default();
        group(&mut batch, g);
        let applying = Instant::now();
        db.apply_batch(batch).expect("apply");
        apply_secs += applying.elapsed().as_secs_f64();
        bytes += db.flush().expect("flush");
    }
    let per_group = |secs: f64| secs * 1e3 / GROUPS as f64;
    println!(
        "{name:<34} {:>10.1} {:>14.3} {:>14.3}",
        bytes as f64 / GROUPS as f64 / 1024.0,
        per_group(apply_secs),
        per_group(started.elapsed().as_secs_f64())
    );
}
