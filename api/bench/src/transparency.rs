//! The transparency-log benchmark (library part of `opsledger bench transparency`,
//! issue 17): what the Merkle tree over the log costs, in one run.
//!
//! 1. Building the tree from scratch for N events: (a) hashing and tree maintenance
//!    alone over N encoded ~300-byte records held in memory (the records of the storage
//!    bench, built as [`RecordedEvent`]s and encoded with [`encode_record`]; encoding is
//!    timed apart), (b) [`build_tree`] over a real sled store of N events read from disk.
//! 2. Inclusion and consistency proofs at N events from the in-memory tree: their size,
//!    the time to produce them and the time to verify them (raw `tlog_tiles` checks and
//!    the crate's API form, hex and all).
//! 3. Signing and verifying a checkpoint (ed25519, strict).
//! 4. Durable appends with a [`Transparency`] following the store against appends
//!    without one, alternating in the same process, with the tree's lag at the end of
//!    each run and how long it took to catch up.
//!
//! Everything runs on fresh temporary directories (removed afterwards).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tlog_tiles::{check_record, check_tree, Hash};
use ulid::Ulid;

use opsledger_storage::chain::{chain_hash, GENESIS_HASH};
use opsledger_storage::codec::{encode_envelope_body, encode_record};
use opsledger_storage::event::{ExpectedVersion, RecordedEvent};
use opsledger_storage::sled_store::{SledEventStore, StoreConfig};
use opsledger_storage::store::EventStore;
use opsledger_transparency::checkpoint::{hex, TreeHead};
use opsledger_transparency::keys::LogKey;
use opsledger_transparency::proof::hex_path;
use opsledger_transparency::service::build_tree;
use opsledger_transparency::tree::{leaf_hash, TreeHashes};
use opsledger_transparency::{
    verify_checkpoint, verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof,
    Transparency, TransparencyConfig,
};

use crate::storage::{bench_request, opsledger_appends, percentile_ms, PAYLOAD_BYTES};

/// Events in the tree of parts 1-3 by default.
pub const DEFAULT_EVENTS: u64 = 1_000_000;
/// Appends per run of part 4 by default.
pub const DEFAULT_APPEND_EVENTS: u64 = 100_000;
/// Concurrent writers of part 4 by default.
pub const DEFAULT_WRITERS: usize = 64;
/// Runs with and runs without the tree in part 4 by default (alternating).
pub const DEFAULT_ROUNDS: usize = 5;
/// Proofs, verifications, signatures timed one by one by default.
pub const DEFAULT_SAMPLES: usize = 10_000;
/// Events between checkpoints of the following log by default: a node's own default
/// (`TransparencyConfig::new`, 1,000).
pub fn default_checkpoint_every() -> u64 {
    TransparencyConfig::new(".", ORIGIN).every_events
}
/// Events per append when filling the sled store of part 1b.
pub const SETUP_APPEND_EVENTS: usize = 500;
/// Streams the sled store of part 1b is spread over (one append goes to one stream).
const SETUP_STREAMS: u64 = 64;
/// Records encoded at a time before their leaves are timed (part 1a).
const CHUNK_EVENTS: u64 = 65_536;
/// The log origin the benchmark signs for.
const ORIGIN: &str = "opsledger.bench/log";
/// How often the lag sampler of part 4 looks at the tree.
const LAG_SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransparencyBenchOptions {
    /// Events in the tree (parts 1-3).
    pub events: u64,
    /// Appends per run of part 4.
    pub append_events: u64,
    /// Concurrent writers in part 4 (each on its own stream).
    pub writers: usize,
    /// Runs with the tree and runs without it in part 4 (alternating: with, without, ...).
    pub rounds: usize,
    /// Proofs, verifications, signatures timed (each).
    pub samples: usize,
    /// Events between the checkpoints the following log signs in part 4 (it also signs
    /// one when it starts, one after 10 s without, and one on shutdown).
    pub checkpoint_every: u64,
}

impl Default for TransparencyBenchOptions {
    fn default() -> Self {
        TransparencyBenchOptions {
            events: DEFAULT_EVENTS,
            append_events: DEFAULT_APPEND_EVENTS,
            writers: DEFAULT_WRITERS,
            rounds: DEFAULT_ROUNDS,
            samples: DEFAULT_SAMPLES,
            checkpoint_every: default_checkpoint_every(),
        }
    }
}

/// One tree built from scratch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeBuild {
    /// Leaves in the built tree.
    pub tree_size: u64,
    /// Seconds the build took.
    pub seconds: f64,
    /// Leaves added per second.
    pub events_per_s: f64,
    /// Hashes the tree stores (about two per leaf).
    pub stored_hashes: u64,
    /// Stored hashes × 32 bytes, MB (10^6 bytes).
    pub tree_mb: f64,
}

impl TreeBuild {
    fn of(tree: &TreeHashes, elapsed: Duration) -> Self {
        let stored = tree.stored().len() as u64;
        let seconds = elapsed.as_secs_f64();
        TreeBuild {
            tree_size: tree.size(),
            seconds,
            events_per_s: tree.size() as f64 / seconds.max(1e-9),
            stored_hashes: stored,
            tree_mb: (stored * 32) as f64 / 1e6,
        }
    }
}

/// Part 1a: hashing and tree maintenance over encoded records in memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryBuild {
    /// `push_leaf(leaf_hash(record))` for every record, timed alone.
    pub build: TreeBuild,
    /// Average encoded record, bytes.
    pub record_bytes_avg: f64,
    /// Seconds spent encoding the records with `encode_record` (not in `build`; the
    /// follower of a running node pays it too, once per event).
    pub encode_seconds: f64,
}

/// Part 1b: `build_tree` over a sled store on disk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskBuild {
    /// `build_tree(&store)`: `read_all` pages of 4096, decode, re-encode, hash, tree.
    pub build: TreeBuild,
    /// How the store was created.
    pub setup: String,
    /// Seconds the store took to create.
    pub setup_seconds: f64,
    /// The store's files on disk, MB.
    pub log_mb: f64,
}

/// Part 2: one kind of proof at the tree's full size, over many random picks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProofFigures {
    /// Size of the tree the proofs were made from.
    pub tree_size: u64,
    /// Proofs made and verified.
    pub samples: usize,
    /// The first pick, as text (e.g. "leaf 123 of 1000000", "391 -> 77110").
    pub example: String,
    /// Hashes in the first pick's proof.
    pub example_hashes: usize,
    /// Fewest hashes in a proof.
    pub hashes_min: usize,
    /// Median hashes in a proof.
    pub hashes_median: usize,
    /// Most hashes in a proof.
    pub hashes_max: usize,
    /// Median proof bytes (hashes × 32).
    pub path_bytes_median: usize,
    /// Average record bytes an inclusion proof carries along (0 for consistency proofs).
    pub record_bytes: usize,
    /// Median size of the API's JSON form (hex hashes and record), bytes.
    pub json_bytes_median: usize,
    /// Median time to produce a proof from the in-memory tree, µs.
    pub prove_p50_us: f64,
    /// 99th percentile of the same, µs.
    pub prove_p99_us: f64,
    /// Median time to check a proof with `tlog_tiles::check_record` / `check_tree`
    /// (the inclusion check hashes the record's leaf first), µs.
    pub verify_p50_us: f64,
    /// Median time of the crate's `verify_inclusion` / `verify_consistency` on the API
    /// form (hex decoding included), µs.
    pub verify_api_p50_us: f64,
}

/// Part 3: checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointFigures {
    /// Signatures and verifications timed (each).
    pub samples: usize,
    /// Bytes of the signed note.
    pub note_bytes: usize,
    /// Median `TreeHead::sign` (checkpoint text + ed25519 signature), µs.
    pub sign_p50_us: f64,
    /// 99th percentile of the same, µs.
    pub sign_p99_us: f64,
    /// Median `verify_checkpoint` (key and note parsing, ed25519 `verify_strict`), µs.
    pub verify_p50_us: f64,
    /// 99th percentile of the same, µs.
    pub verify_p99_us: f64,
}

/// Part 4: one append run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppendRun {
    /// A `Transparency` followed the store during the run.
    pub with_tree: bool,
    /// Appends committed (one event each).
    pub appends: u64,
    /// Durable appends per second.
    pub appends_per_s: f64,
    /// Median append latency, ms.
    pub p50_ms: f64,
    /// 99th percentile append latency, ms.
    pub p99_ms: f64,
    /// Appends the writer committed per group (per flush + fdatasync).
    pub appends_per_group: f64,
    /// CPU time of the whole process per append while appending, µs (user + system,
    /// from /proc/self/stat at 10 ms resolution; `None` where it cannot be read).
    pub cpu_us_per_append: Option<f64>,
    /// Log head minus tree size when the last append returned (runs with the tree).
    pub tree_lag_at_end: Option<u64>,
    /// Largest head minus tree size seen by a sampler every 5 ms during the run.
    pub tree_lag_max_sampled: Option<u64>,
    /// From the last append's return until the tree covered the whole log, ms.
    pub catch_up_ms: Option<f64>,
    /// The tree's size once caught up (equals the log's head).
    pub tree_size_after: Option<u64>,
    /// Checkpoints the log signed during the run (one at size 0 at its start).
    pub checkpoints: Option<usize>,
}

/// Part 4: appends with the tree against appends without, alternating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppendComparison {
    /// Concurrent writers (each on its own stream, exact expected versions).
    pub writers: usize,
    /// Events between the following log's checkpoints.
    pub checkpoint_every: u64,
    /// Appends per run.
    pub appends_per_run: u64,
    /// Every run in the order it ran (with, without, with, without, ...).
    pub runs: Vec<AppendRun>,
    /// Median appends/s of the runs with the tree.
    pub median_with_per_s: f64,
    /// Median appends/s of the runs without it.
    pub median_without_per_s: f64,
    /// with / without of each pair of consecutive runs.
    pub pair_ratios: Vec<f64>,
    /// The median of `pair_ratios`.
    pub median_ratio: f64,
    /// What the tree costs: (1 - median ratio) × 100, percent.
    pub cost_percent: f64,
}

/// The benchmark's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransparencyBenchReport {
    /// Events in the tree of parts 1-3.
    pub events: u64,
    /// Part 1a.
    pub build_in_memory: MemoryBuild,
    /// Part 1b.
    pub build_from_sled: DiskBuild,
    /// Part 2, inclusion proofs of random leaves in the tree of `events` leaves.
    pub inclusion: ProofFigures,
    /// Part 2, consistency proofs between random sizes up to `events`.
    pub consistency: ProofFigures,
    /// Part 3.
    pub checkpoint: CheckpointFigures,
    /// Part 4.
    pub appends: AppendComparison,
    /// Seconds the whole benchmark took (setup included).
    pub total_seconds: f64,
}

/// Run the whole benchmark on temporary directories (removed afterwards).
pub async fn run_transparency_bench(
    opts: TransparencyBenchOptions,
) -> anyhow::Result<TransparencyBenchReport> {
    let started = Instant::now();
    let events = opts.events.max(2);
    let samples = opts.samples.max(1);
    let root = tempfile::Builder::new()
        .prefix("opsledger-bench-tlog-")
        .tempdir()?;
    let mut rng = SplitMix64(0x5EED_7106 ^ events);

    // Part 1a, with the records of the leaves part 2 proves kept aside.
    let picks: Vec<u64> = (0..samples).map(|_| rng.below(events)).collect();
    let (tree, build_in_memory, kept, chain_head) = build_in_memory(events, &picks)?;

    // Part 2.
    let inclusion = inclusion_figures(&tree, &picks, &kept)?;
    let consistency = consistency_figures(&tree, samples, &mut rng)?;

    // Part 3.
    let head = TreeHead {
        origin: ORIGIN.into(),
        size: tree.size(),
        root: tree.root(tree.size())?.0,
        chain_head,
    };
    let checkpoint = checkpoint_figures(&head, samples)?;
    drop(tree);
    drop(kept);

    // Part 1b.
    let build_from_sled = build_from_sled(&root.path().join("build"), events).await?;

    // Part 4.
    let appends = compare_appends(root.path(), opts).await?;

    Ok(TransparencyBenchReport {
        events,
        build_in_memory,
        build_from_sled,
        inclusion,
        consistency,
        checkpoint,
        appends,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

/// A small deterministic generator for the random picks (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for picking leaves (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The record at `position` of the benchmark's log: what the storage bench appends
/// (`bench_request`: one ~300-byte event on stream `bench-{writer}`), chained to `prev`.
fn bench_record(position: u64, prev: [u8; 32]) -> anyhow::Result<RecordedEvent> {
    let mut event = RecordedEvent {
        position,
        stream_id: format!("bench-{}", position % DEFAULT_WRITERS as u64),
        stream_version: position / DEFAULT_WRITERS as u64,
        event_id: Ulid::new(),
        type_name: "BenchEventRecorded".into(),
        schema_version: 1,
        recorded_at_ms: 1_700_000_000_000,
        actor: "bench".into(),
        command_id: Ulid::new().to_string(),
        correlation_id: Ulid::new(),
        causation_id: None,
        payload: vec![0x5A; PAYLOAD_BYTES],
        prev_hash: prev,
        hash: [0; 32],
    };
    event.hash = chain_hash(&prev, &encode_envelope_body(&event)?);
    Ok(event)
}

/// Part 1a: N records built in chunks, encoded with `encode_record` (timed apart), then
/// `push_leaf(leaf_hash(record))` for each (timed). Returns the tree, the figures, the
/// encoded records of the leaves in `keep`, and the last record's chain hash.
#[allow(clippy::type_complexity)]
fn build_in_memory(
    events: u64,
    keep: &[u64],
) -> anyhow::Result<(TreeHashes, MemoryBuild, HashMap<u64, Vec<u8>>, [u8; 32])> {
    let mut wanted: Vec<u64> = keep.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut wanted = wanted.into_iter().peekable();
    let mut kept = HashMap::new();
    let mut tree = TreeHashes::new();
    let mut prev = GENESIS_HASH;
    let (mut hashing, mut encoding) = (Duration::ZERO, Duration::ZERO);
    let mut record_bytes = 0u64;
    let mut buffer: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut position = 0u64;
    while position < events {
        let chunk_end = (position + CHUNK_EVENTS).min(events);
        let mut chunk = Vec::with_capacity((chunk_end - position) as usize);
        for p in position..chunk_end {
            let event = bench_record(p, prev)?;
            prev = event.hash;
            chunk.push(event);
        }
        buffer.clear();
        ends.clear();
        let t = Instant::now();
        for event in &chunk {
            buffer.extend_from_slice(&encode_record(event)?);
            ends.push(buffer.len());
        }
        encoding += t.elapsed();
        drop(chunk);
        record_bytes += buffer.len() as u64;
        let t = Instant::now();
        let mut start = 0;
        for &end in &ends {
            tree.push_leaf(leaf_hash(&buffer[start..end]))?;
            start = end;
        }
        hashing += t.elapsed();
        let mut start = 0;
        for (p, &end) in (position..).zip(&ends) {
            if wanted.peek() == Some(&p) {
                wanted.next();
                kept.insert(p, buffer[start..end].to_vec());
            }
            start = end;
        }
        position = chunk_end;
    }
    let figures = MemoryBuild {
        build: TreeBuild::of(&tree, hashing),
        record_bytes_avg: record_bytes as f64 / events as f64,
        encode_seconds: encoding.as_secs_f64(),
    };
    Ok((tree, figures, kept, prev))
}

/// Part 1b: a sled store of `events` events made by batched appends, reopened, and
/// `build_tree` over it.
async fn build_from_sled(dir: &Path, events: u64) -> anyhow::Result<DiskBuild> {
    let setup_started = Instant::now();
    let store = SledEventStore::open(dir, StoreConfig::default()).await?;
    let mut written = 0u64;
    let mut appends = 0u64;
    while written < events {
        let n = SETUP_APPEND_EVENTS.min((events - written) as usize);
        let stream = format!("bench-{}", appends % SETUP_STREAMS);
        store
            .append(bench_request(&stream, ExpectedVersion::Any, n))
            .await?;
        written += n as u64;
        appends += 1;
    }
    store.flush_and_stop().await?;
    drop(store);
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let log_mb = dir_bytes(dir) as f64 / 1e6;

    let store = SledEventStore::open(dir, StoreConfig::default()).await?;
    let t = Instant::now();
    let tree = build_tree(&store).await?;
    let elapsed = t.elapsed();
    store.flush_and_stop().await?;
    anyhow::ensure!(
        tree.size() == events,
        "build_tree read {} events from a store of {events}",
        tree.size()
    );
    Ok(DiskBuild {
        build: TreeBuild::of(&tree, elapsed),
        setup: format!(
            "{appends} durable appends of up to {SETUP_APPEND_EVENTS} bench_request events each \
             (one after another, round robin over {SETUP_STREAMS} streams, StoreConfig::default()), \
             then closed and reopened (sled's cache cold, the OS page cache as the setup left it)"
        ),
        setup_seconds,
        log_mb,
    })
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Median and 99th percentile of `times`, µs.
fn p50_p99_us(times: &mut [Duration]) -> (f64, f64) {
    times.sort_unstable();
    (
        percentile_ms(times, 0.50) * 1e3,
        percentile_ms(times, 0.99) * 1e3,
    )
}

fn median_usize(values: &mut [usize]) -> usize {
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

fn median_f64(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn kept_record(records: &HashMap<u64, Vec<u8>>, index: u64) -> anyhow::Result<&[u8]> {
    records
        .get(&index)
        .map(Vec::as_slice)
        .ok_or_else(|| anyhow::anyhow!("the record of leaf {index} was not kept"))
}

/// Part 2, inclusion proofs of the leaves `picks` in the whole tree.
fn inclusion_figures(
    tree: &TreeHashes,
    picks: &[u64],
    records: &HashMap<u64, Vec<u8>>,
) -> anyhow::Result<ProofFigures> {
    let size = tree.size();
    let root = tree.root(size)?;
    let head = TreeHead {
        origin: ORIGIN.into(),
        size,
        root: root.0,
        chain_head: [0; 32],
    };
    let mut prove_times = Vec::with_capacity(picks.len());
    let mut proofs = Vec::with_capacity(picks.len());
    for &index in picks {
        let t = Instant::now();
        let proof = tree.inclusion_proof(index, size)?;
        prove_times.push(t.elapsed());
        proofs.push(proof);
    }
    let mut verify_times = Vec::with_capacity(picks.len());
    for (&index, proof) in picks.iter().zip(&proofs) {
        let data = kept_record(records, index)?;
        let t = Instant::now();
        let checked = check_record(proof, size, root, index, leaf_hash(data));
        verify_times.push(t.elapsed());
        checked.map_err(|e| anyhow::anyhow!("inclusion proof of leaf {index}: {e}"))?;
    }
    let mut api_times = Vec::with_capacity(picks.len());
    let mut json_bytes = Vec::with_capacity(picks.len());
    let mut record_bytes = 0usize;
    for (&index, proof) in picks.iter().zip(&proofs) {
        let data = kept_record(records, index)?;
        record_bytes += data.len();
        let api = InclusionProof {
            leaf_index: index,
            tree_size: size,
            record: hex(data),
            audit_path: hex_path(proof),
        };
        json_bytes.push(serde_json::to_vec(&api)?.len());
        let t = Instant::now();
        let checked = verify_inclusion(&api, &head);
        api_times.push(t.elapsed());
        checked?;
    }
    let mut hashes: Vec<usize> = proofs.iter().map(Vec::len).collect();
    let (prove_p50_us, prove_p99_us) = p50_p99_us(&mut prove_times);
    let hashes_median = median_usize(&mut hashes);
    Ok(ProofFigures {
        tree_size: size,
        samples: picks.len(),
        example: format!("leaf {} of {size}", picks[0]),
        example_hashes: proofs[0].len(),
        hashes_min: hashes[0],
        hashes_median,
        hashes_max: hashes[hashes.len() - 1],
        path_bytes_median: hashes_median * 32,
        record_bytes: record_bytes / picks.len(),
        json_bytes_median: median_usize(&mut json_bytes),
        prove_p50_us,
        prove_p99_us,
        verify_p50_us: p50_p99_us(&mut verify_times).0,
        verify_api_p50_us: p50_p99_us(&mut api_times).0,
    })
}

/// Part 2, consistency proofs between `samples` random pairs of sizes `1 <= from < to <= N`.
fn consistency_figures(
    tree: &TreeHashes,
    samples: usize,
    rng: &mut SplitMix64,
) -> anyhow::Result<ProofFigures> {
    let size = tree.size();
    let pairs: Vec<(u64, u64)> = (0..samples)
        .map(|_| {
            let a = 1 + rng.below(size);
            let mut b = 1 + rng.below(size);
            if a == b {
                b = if a == size { a - 1 } else { a + 1 };
            }
            (a.min(b), a.max(b))
        })
        .collect();
    let roots: Vec<(Hash, Hash)> = pairs
        .iter()
        .map(|&(from, to)| Ok((tree.root(from)?, tree.root(to)?)))
        .collect::<Result<_, opsledger_transparency::TransparencyError>>()?;
    let mut prove_times = Vec::with_capacity(samples);
    let mut proofs = Vec::with_capacity(samples);
    for &(from, to) in &pairs {
        let t = Instant::now();
        let proof = tree.consistency_proof(from, to)?;
        prove_times.push(t.elapsed());
        proofs.push(proof);
    }
    let mut verify_times = Vec::with_capacity(samples);
    for ((&(from, to), &(old, new)), proof) in pairs.iter().zip(&roots).zip(&proofs) {
        let t = Instant::now();
        let checked = check_tree(proof, to, new, from, old);
        verify_times.push(t.elapsed());
        checked.map_err(|e| anyhow::anyhow!("consistency proof {from} -> {to}: {e}"))?;
    }
    let mut api_times = Vec::with_capacity(samples);
    let mut json_bytes = Vec::with_capacity(samples);
    let head = |size: u64, root: Hash| TreeHead {
        origin: ORIGIN.into(),
        size,
        root: root.0,
        chain_head: [0; 32],
    };
    for ((&(from, to), &(old, new)), proof) in pairs.iter().zip(&roots).zip(&proofs) {
        let api = ConsistencyProof {
            from_size: from,
            to_size: to,
            path: hex_path(proof),
        };
        json_bytes.push(serde_json::to_vec(&api)?.len());
        let (old, new) = (head(from, old), head(to, new));
        let t = Instant::now();
        let checked = verify_consistency(&old, &new, &api);
        api_times.push(t.elapsed());
        checked?;
    }
    let mut hashes: Vec<usize> = proofs.iter().map(Vec::len).collect();
    let (prove_p50_us, prove_p99_us) = p50_p99_us(&mut prove_times);
    let hashes_median = median_usize(&mut hashes);
    Ok(ProofFigures {
        tree_size: size,
        samples,
        example: format!("{} -> {}", pairs[0].0, pairs[0].1),
        example_hashes: proofs[0].len(),
        hashes_min: hashes[0],
        hashes_median,
        hashes_max: hashes[hashes.len() - 1],
        path_bytes_median: hashes_median * 32,
        record_bytes: 0,
        json_bytes_median: median_usize(&mut json_bytes),
        prove_p50_us,
        prove_p99_us,
        verify_p50_us: p50_p99_us(&mut verify_times).0,
        verify_api_p50_us: p50_p99_us(&mut api_times).0,
    })
}

/// Part 3: sign the checkpoint of `head` and verify it, `samples` times each.
fn checkpoint_figures(head: &TreeHead, samples: usize) -> anyhow::Result<CheckpointFigures> {
    let (key, _) = LogKey::generate(ORIGIN)?;
    let mut sign_times = Vec::with_capacity(samples);
    let mut note = String::new();
    for _ in 0..samples {
        let t = Instant::now();
        note = head.sign(&key)?;
        sign_times.push(t.elapsed());
    }
    let mut verify_times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let verified = verify_checkpoint(&note, key.verifier_key());
        verify_times.push(t.elapsed());
        anyhow::ensure!(
            verified?.head == *head,
            "the checkpoint states another tree"
        );
    }
    let (sign_p50_us, sign_p99_us) = p50_p99_us(&mut sign_times);
    let (verify_p50_us, verify_p99_us) = p50_p99_us(&mut verify_times);
    Ok(CheckpointFigures {
        samples,
        note_bytes: note.len(),
        sign_p50_us,
        sign_p99_us,
        verify_p50_us,
        verify_p99_us,
    })
}

/// Part 4: `rounds` pairs of runs (with the tree, then without), each on a fresh store.
async fn compare_appends(
    root: &Path,
    opts: TransparencyBenchOptions,
) -> anyhow::Result<AppendComparison> {
    let writers = opts.writers.max(1);
    let rounds = opts.rounds.max(1);
    let events = opts.append_events.max(writers as u64);
    let mut runs = Vec::with_capacity(2 * rounds);
    for round in 0..rounds {
        for with_tree in [true, false] {
            let dir = root.join(format!(
                "appends-{round}-{}",
                if with_tree { "with" } else { "without" }
            ));
            let run = append_run(&dir, with_tree, writers, events, opts.checkpoint_every).await?;
            let _ = std::fs::remove_dir_all(&dir);
            runs.push(run);
        }
    }
    let per_s = |with: bool| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.with_tree == with)
            .map(|r| r.appends_per_s)
            .collect()
    };
    let pair_ratios: Vec<f64> = runs
        .chunks(2)
        .map(|pair| pair[0].appends_per_s / pair[1].appends_per_s)
        .collect();
    let median_ratio = median_f64(&pair_ratios);
    Ok(AppendComparison {
        writers,
        checkpoint_every: opts.checkpoint_every.max(1),
        appends_per_run: runs[0].appends,
        median_with_per_s: median_f64(&per_s(true)),
        median_without_per_s: median_f64(&per_s(false)),
        runs,
        pair_ratios,
        median_ratio,
        cost_percent: (1.0 - median_ratio) * 100.0,
    })
}

/// CPU seconds (user + system) of this process so far, from /proc/self/stat.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is field 3,
    // utime field 14 and stime field 15, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// One run of the storage bench's durable append workload (`opsledger_appends`) on a
/// fresh sled store, with or without a `Transparency` following it.
async fn append_run(
    dir: &Path,
    with_tree: bool,
    writers: usize,
    events: u64,
    checkpoint_every: u64,
) -> anyhow::Result<AppendRun> {
    let store = Arc::new(SledEventStore::open(dir.join("log"), StoreConfig::default()).await?);
    let tlog = if with_tree {
        let mut config = TransparencyConfig::new(dir.join("transparency"), ORIGIN);
        config.wait = Duration::from_secs(600);
        config.every_events = checkpoint_every.max(1);
        let dyn_store: Arc<dyn EventStore> = store.clone();
        let tlog = Transparency::start(dyn_store, config)?;
        // Its first checkpoint (the empty tree) is signed before the clock starts.
        while tlog.checkpoint_count() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Some(tlog)
    } else {
        None
    };

    // Samples head - tree size in both kinds of run, so both pay the sampler.
    let stop = Arc::new(AtomicBool::new(false));
    let max_lag = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, max_lag, store, tlog) =
            (stop.clone(), max_lag.clone(), store.clone(), tlog.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let head = store.head_position().map_or(0, |h| h + 1);
                let tree = tlog.as_ref().map_or(head, Transparency::tree_size);
                max_lag.fetch_max(head.saturating_sub(tree), Ordering::Relaxed);
                tokio::time::sleep(LAG_SAMPLE_EVERY).await;
            }
        })
    };

    let cpu_before = process_cpu_seconds();
    let figures = opsledger_appends(&store, writers, events).await?;
    let cpu_after = process_cpu_seconds();
    let head = store.head_position().map_or(0, |h| h + 1);
    let stats = store.writer_stats();
    let mut run = AppendRun {
        with_tree,
        appends: head,
        appends_per_s: figures.per_s,
        p50_ms: figures.p50_ms,
        p99_ms: figures.p99_ms,
        appends_per_group: stats.appends as f64 / stats.groups.max(1) as f64,
        cpu_us_per_append: cpu_before
            .zip(cpu_after)
            .map(|(before, after)| (after - before) * 1e6 / head.max(1) as f64),
        tree_lag_at_end: None,
        tree_lag_max_sampled: None,
        catch_up_ms: None,
        tree_size_after: None,
        checkpoints: None,
    };
    if let Some(tlog) = &tlog {
        let lag = head.saturating_sub(tlog.tree_size());
        let t = Instant::now();
        tlog.wait_for_size(head).await?;
        run.catch_up_ms = Some(t.elapsed().as_secs_f64() * 1e3);
        run.tree_lag_at_end = Some(lag);
        run.tree_size_after = Some(tlog.tree_size());
    }
    stop.store(true, Ordering::Relaxed);
    sampler.await?;
    if let Some(tlog) = tlog {
        run.tree_lag_max_sampled = Some(max_lag.load(Ordering::Relaxed));
        run.checkpoints = Some(tlog.checkpoint_count());
        tlog.shutdown().await;
    }
    store.flush_and_stop().await?;
    Ok(run)
}

fn opt<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

impl fmt::Display for TransparencyBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mem = &self.build_in_memory;
        let disk = &self.build_from_sled;
        writeln!(
            f,
            "transparency benchmark: Merkle tree (RFC 9162, tlog_tiles) over {} events \
             (~{:.0}-byte stored records, chain hashes included), {:.0} s in all",
            self.events, mem.record_bytes_avg, self.total_seconds
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "1. tree build from scratch      {:>10} {:>9} {:>12} {:>14} {:>9}",
            "leaves", "seconds", "events/s", "stored hashes", "tree MB"
        )?;
        for (name, b) in [
            ("in memory (hash + tree)", &mem.build),
            ("build_tree(&sled store)", &disk.build),
        ] {
            writeln!(
                f,
                "   {name:<28} {:>10} {:>9.2} {:>12.0} {:>14} {:>9.1}",
                b.tree_size, b.seconds, b.events_per_s, b.stored_hashes, b.tree_mb
            )?;
        }
        writeln!(
            f,
            "   in memory: push_leaf(leaf_hash(record)) timed alone over records encoded \
             beforehand with encode_record ({:.2} s for all, not counted)",
            mem.encode_seconds
        )?;
        writeln!(
            f,
            "   sled store ({:.0} MB on disk, made in {:.1} s): {}",
            disk.log_mb, disk.setup_seconds, disk.setup
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "2. proofs at tree size {} ({} random picks each)",
            self.inclusion.tree_size, self.inclusion.samples
        )?;
        writeln!(
            f,
            "   {:<12} {:>16} {:>11} {:>8} {:>6} {:>10} {:>10} {:>11} {:>15}",
            "",
            "hashes min/med/max",
            "path bytes",
            "+record",
            "JSON",
            "prove p50",
            "prove p99",
            "verify p50",
            "verify API p50"
        )?;
        for (name, p) in [
            ("inclusion", &self.inclusion),
            ("consistency", &self.consistency),
        ] {
            writeln!(
                f,
                "   {name:<12} {:>18} {:>11} {:>8} {:>6} {:>7.2} µs {:>7.2} µs {:>8.2} µs {:>12.2} µs",
                format!("{}/{}/{}", p.hashes_min, p.hashes_median, p.hashes_max),
                p.path_bytes_median,
                p.record_bytes,
                p.json_bytes_median,
                p.prove_p50_us,
                p.prove_p99_us,
                p.verify_p50_us,
                p.verify_api_p50_us
            )?;
        }
        writeln!(
            f,
            "   e.g. {} ({} hashes); consistency e.g. {} ({} hashes). verify = tlog_tiles \
             check_record (leaf hash included) / check_tree; verify API = verify_inclusion / \
             verify_consistency on the hex form",
            self.inclusion.example,
            self.inclusion.example_hashes,
            self.consistency.example,
            self.consistency.example_hashes
        )?;
        writeln!(f)?;
        let c = &self.checkpoint;
        writeln!(
            f,
            "3. checkpoint ({}-byte signed note, ed25519, {} each): sign p50 {:.1} µs (p99 {:.1}), \
             verify_checkpoint (strict) p50 {:.1} µs (p99 {:.1})",
            c.note_bytes, c.samples, c.sign_p50_us, c.sign_p99_us, c.verify_p50_us, c.verify_p99_us
        )?;
        writeln!(f)?;
        let a = &self.appends;
        writeln!(
            f,
            "4. durable appends, {} writers (own stream each, exact expected versions), {} per run, \
             fresh sled store per run; with = a Transparency following the store \
             (a checkpoint every {} events or 10 s)",
            a.writers, a.appends_per_run, a.checkpoint_every
        )?;
        writeln!(
            f,
            "   {:<4} {:<8} {:>10} {:>8} {:>8} {:>10} {:>10} {:>11} {:>9} {:>11} {:>11}",
            "run",
            "tree",
            "appends/s",
            "p50 ms",
            "p99 ms",
            "per group",
            "CPU µs/op",
            "lag at end",
            "max lag",
            "catch-up ms",
            "checkpoints"
        )?;
        for (i, r) in a.runs.iter().enumerate() {
            writeln!(
                f,
                "   {:<4} {:<8} {:>10.0} {:>8.2} {:>8.2} {:>10.1} {:>10} {:>11} {:>9} {:>11} {:>11}",
                i + 1,
                if r.with_tree { "with" } else { "without" },
                r.appends_per_s,
                r.p50_ms,
                r.p99_ms,
                r.appends_per_group,
                opt(r.cpu_us_per_append.map(|c| format!("{c:.1}"))),
                opt(r.tree_lag_at_end),
                opt(r.tree_lag_max_sampled),
                opt(r.catch_up_ms.map(|c| format!("{c:.1}"))),
                opt(r.checkpoints)
            )?;
        }
        let ratios: Vec<String> = a.pair_ratios.iter().map(|r| format!("{r:.3}")).collect();
        write!(
            f,
            "   median with {:.0}/s, without {:.0}/s; with/without per pair {}: median {:.3} \
             (tree maintenance costs {:.1} %)",
            a.median_with_per_s,
            a.median_without_per_s,
            ratios.join(", "),
            a.median_ratio,
            a.cost_percent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median_f64(&[3.0, 1.0, 2.0, 4.0]), 2.5);
        assert_eq!(median_f64(&[0.9, 1.1, 1.0]), 1.0);
    }

    #[test]
    fn the_default_checkpoint_interval_is_a_nodes() {
        assert_eq!(default_checkpoint_every(), 1_000);
    }

    #[test]
    fn picks_stay_below_the_bound() {
        let mut rng = SplitMix64(7);
        assert!((0..1000).all(|_| rng.below(10) < 10));
    }

    #[test]
    fn process_cpu_time_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_seconds().is_some());
        }
    }
}
