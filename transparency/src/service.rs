//! The transparency log of a running node: one task follows the event log (any
//! [`EventStore`] backend, through its subscription), grows the Merkle tree, keeps its
//! stored hashes beside the log and signs checkpoints; queries read proofs from it.
//!
//! At start the tree is rebuilt from the records and compared with the stored hashes
//! and with every checkpoint signed before: a disagreement (a rewritten or truncated
//! log, or a damaged tree file) is logged as an error and reported by [`Transparency::
//! status`]; the tree file is then rewritten from the log, and new checkpoints sign
//! what the log holds now, so an auditor's monitor sees the fork against the
//! checkpoints it kept. Appends never wait for the tree: it lags the log by a batch.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::{Stream, StreamExt};
use opsledger_storage::chain::GENESIS_HASH;
use opsledger_storage::codec::encode_record;
use opsledger_storage::{EventStore, RecordedEvent};
use tlog_tiles::Hash;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::checkpoint::TreeHead;
use crate::error::TransparencyError;
use crate::hash_file::HashFile;
use crate::history::{stored, History, StoredCheckpoint};
use crate::keys::LogKey;
use crate::proof::{hex_path, ConsistencyProof, InclusionProof};
use crate::tree::{leaf_hash, TreeHashes};

/// How a node's transparency log is set up.
#[derive(Clone, Debug)]
pub struct TransparencyConfig {
    /// Its directory (tree hashes, checkpoint history, and the key unless `key_path`).
    pub dir: PathBuf,
    /// The signing key file (default `<dir>/log.key`, generated on first start).
    pub key_path: Option<PathBuf>,
    /// The origin a new key is generated for (an existing key keeps its own).
    pub origin: String,
    /// Sign a checkpoint when the tree has grown by this many events…
    pub every_events: u64,
    /// …or when it has grown at all and this long has passed.
    pub every: Duration,
    /// How long a proof request waits for the tree to reach its size.
    pub wait: Duration,
}

impl TransparencyConfig {
    /// The defaults for `dir`: a checkpoint every 1,000 events or 10 s (if the log
    /// grew) and on shutdown; proofs wait up to 5 s for the tree.
    pub fn new(dir: impl Into<PathBuf>, origin: impl Into<String>) -> Self {
        TransparencyConfig {
            dir: dir.into(),
            key_path: None,
            origin: origin.into(),
            every_events: 1_000,
            every: Duration::from_secs(10),
            wait: Duration::from_secs(5),
        }
    }

    fn key_path(&self) -> PathBuf {
        self.key_path
            .clone()
            .unwrap_or_else(|| self.dir.join("log.key"))
    }
}

/// What the start-up verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The tree has caught up with the log as it was at start.
    pub caught_up: bool,
    /// Disagreements found (empty: the log agrees with every checkpoint signed before).
    pub disagreements: Vec<String>,
}

struct Shared {
    store: Arc<dyn EventStore>,
    key: LogKey,
    tree: RwLock<TreeHashes>,
    size: watch::Sender<u64>,
    checkpoints: RwLock<Vec<StoredCheckpoint>>,
    signed: watch::Sender<usize>,
    status: Mutex<Status>,
    wait: Duration,
}

/// The follower task and the switch that stops it.
type FollowerTask = (watch::Sender<bool>, JoinHandle<()>);

/// A node's transparency log (cheap to clone).
#[derive(Clone)]
pub struct Transparency {
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<FollowerTask>>>,
}

impl std::fmt::Debug for Transparency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transparency")
            .field("origin", &self.origin())
            .field("tree_size", &self.tree_size())
            .finish()
    }
}

impl Transparency {
    /// Open the transparency log of `store` and start following it.
    pub fn start(
        store: Arc<dyn EventStore>,
        config: TransparencyConfig,
    ) -> Result<Transparency, TransparencyError> {
        std::fs::create_dir_all(&config.dir).map_err(|e| TransparencyError::io(&config.dir, e))?;
        let key = LogKey::load_or_generate(&config.key_path(), &config.origin)?;
        let (history, checkpoints) = History::open(&config.dir.join("checkpoints.jsonl"))?;
        let (hash_file, on_disk) = HashFile::open(&config.dir.join("tree.hashes"))?;
        let shared = Arc::new(Shared {
            store,
            key,
            tree: RwLock::new(TreeHashes::new()),
            size: watch::channel(0).0,
            signed: watch::channel(checkpoints.len()).0,
            checkpoints: RwLock::new(checkpoints),
            status: Mutex::new(Status::default()),
            wait: config.wait,
        });
        let (stop, stopped) = watch::channel(false);
        let follower = Follower {
            shared: shared.clone(),
            hash_file,
            on_disk,
            history,
            last_chain_hash: GENESIS_HASH,
            signed_size: None,
            every_events: config.every_events.max(1),
        };
        let handle = tokio::spawn(follower.run(config.every, stopped));
        Ok(Transparency {
            shared,
            task: Arc::new(Mutex::new(Some((stop, handle)))),
        })
    }

    /// Catch up with the log's head, sign a last checkpoint and stop.
    pub async fn shutdown(&self) {
        let task = self.task.lock().expect("task lock").take();
        if let Some((stop, handle)) = task {
            stop.send_replace(true);
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "the transparency log ended abnormally");
            }
        }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        self.shared.key.origin()
    }

    /// The log's public verifier key.
    pub fn verifier_key(&self) -> &str {
        self.shared.key.verifier_key()
    }

    /// What the start-up verification found so far.
    pub fn status(&self) -> Status {
        self.shared.status.lock().expect("status lock").clone()
    }

    /// How many leaves the tree has now.
    pub fn tree_size(&self) -> u64 {
        *self.shared.size.borrow()
    }

    /// Wait until the tree has `size` leaves (up to the configured bound).
    /// A size beyond the log itself is refused at once (it cannot be reached by waiting).
    pub async fn wait_for_size(&self, size: u64) -> Result<(), TransparencyError> {
        let log_size = self.shared.store.head_position().map_or(0, |h| h + 1);
        if size > log_size {
            return Err(TransparencyError::OutOfRange(format!(
                "tree size {size} is larger than the log ({log_size} events)"
            )));
        }
        let mut rx = self.shared.size.subscribe();
        let reached = tokio::time::timeout(self.shared.wait, rx.wait_for(|&s| s >= size)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(TransparencyError::NotReady {
                have: self.tree_size(),
                want: size,
            }),
        }
    }

    /// The newest checkpoint, if one was signed.
    pub fn latest_checkpoint(&self) -> Option<StoredCheckpoint> {
        self.shared
            .checkpoints
            .read()
            .expect("checkpoints lock")
            .last()
            .cloned()
    }

    /// The newest checkpoint signed at tree size `size`.
    pub fn checkpoint_at(&self, size: u64) -> Result<StoredCheckpoint, TransparencyError> {
        self.shared
            .checkpoints
            .read()
            .expect("checkpoints lock")
            .iter()
            .rev()
            .find(|c| c.head.size == size)
            .cloned()
            .ok_or(TransparencyError::NoCheckpoint(size))
    }

    /// How many checkpoints were signed.
    pub fn checkpoint_count(&self) -> usize {
        *self.shared.signed.borrow()
    }

    /// Every checkpoint signed from now on, in order (none skipped for a slow reader).
    pub fn subscribe_checkpoints(&self) -> impl Stream<Item = StoredCheckpoint> + Send + 'static {
        let shared = self.shared.clone();
        let rx = shared.signed.subscribe();
        let from = *rx.borrow();
        futures::stream::unfold((shared, rx, from), |(shared, mut rx, next)| async move {
            loop {
                let now = *rx.borrow_and_update();
                if now > next {
                    let item = shared.checkpoints.read().expect("checkpoints lock")[next].clone();
                    return Some((item, (shared, rx, next + 1)));
                }
                rx.changed().await.ok()?;
            }
        })
    }

    /// The inclusion proof of the event at `position` in the tree of `tree_size` leaves,
    /// with its stored record bytes.
    pub async fn inclusion_proof(
        &self,
        position: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, TransparencyError> {
        self.wait_for_size(tree_size).await?;
        let path = self
            .shared
            .tree
            .read()
            .expect("tree lock")
            .inclusion_proof(position, tree_size)?;
        let record = self
            .shared
            .store
            .read_all(position, 1)
            .await?
            .into_iter()
            .next()
            .filter(|r| r.position == position)
            .ok_or_else(|| TransparencyError::OutOfRange(format!("no event at {position}")))?;
        let bytes = record_bytes(&record)?;
        Ok(InclusionProof {
            leaf_index: position,
            tree_size,
            record: crate::checkpoint::hex(&bytes),
            audit_path: hex_path(&path),
        })
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves.
    pub async fn consistency_proof(
        &self,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, TransparencyError> {
        self.wait_for_size(to).await?;
        let path = self
            .shared
            .tree
            .read()
            .expect("tree lock")
            .consistency_proof(from, to)?;
        Ok(ConsistencyProof {
            from_size: from,
            to_size: to,
            path: hex_path(&path),
        })
    }

    /// The leaf hashes of positions `start..start + count` (what a monitor keeps).
    pub async fn leaf_hashes(
        &self,
        start: u64,
        count: u64,
    ) -> Result<Vec<[u8; 32]>, TransparencyError> {
        let end = start.saturating_add(count);
        self.wait_for_size(end).await?;
        let tree = self.shared.tree.read().expect("tree lock");
        Ok((start..end)
            .filter_map(|i| tree.leaf(i).map(|h| h.0))
            .collect())
    }
}

/// The bytes of the record as stored: the leaf data of its position.
pub fn record_bytes(record: &RecordedEvent) -> Result<Vec<u8>, TransparencyError> {
    encode_record(record).map_err(|e| TransparencyError::malformed("record", e.to_string()))
}

/// The task that follows the log.
struct Follower {
    shared: Arc<Shared>,
    hash_file: HashFile,
    /// The stored hashes found at start, compared as the tree is rebuilt.
    on_disk: Vec<Hash>,
    history: History,
    last_chain_hash: [u8; 32],
    signed_size: Option<u64>,
    every_events: u64,
}

impl Follower {
    async fn run(mut self, every: Duration, mut stopped: watch::Receiver<bool>) {
        if let Err(e) = self.follow(every, &mut stopped).await {
            tracing::error!(error = %e, "the transparency log stopped following the event log");
        }
        if let Err(e) = self.sign_if_grown() {
            tracing::error!(error = %e, "cannot sign the last checkpoint");
        }
    }

    async fn follow(
        &mut self,
        every: Duration,
        stopped: &mut watch::Receiver<bool>,
    ) -> Result<(), TransparencyError> {
        let start_head = self.shared.store.head_position().map_or(0, |h| h + 1);
        self.signed_size = self
            .shared
            .checkpoints
            .read()
            .expect("lock")
            .last()
            .map(|c| c.head.size);
        let mut events = self.shared.store.subscribe(0).ready_chunks(1024);
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if start_head == 0 {
            self.caught_up()?;
        }
        let mut draining_to: Option<u64> = None;
        loop {
            if let Some(target) = draining_to {
                if self.size() >= target {
                    return Ok(());
                }
            }
            tokio::select! {
                batch = events.next() => {
                    let Some(batch) = batch else { return Ok(()) };
                    let before = self.size();
                    self.add(batch)?;
                    if before < start_head && self.size() >= start_head {
                        self.caught_up()?;
                    }
                    if self.size() - self.signed_size.unwrap_or(0) >= self.every_events {
                        self.sign_if_grown()?;
                    }
                }
                _ = ticker.tick() => {
                    if self.size() >= start_head {
                        self.sign_if_grown()?;
                    }
                }
                changed = stopped.changed(), if draining_to.is_none() => {
                    let _ = changed;
                    draining_to = Some(self.shared.store.head_position().map_or(0, |h| h + 1));
                }
            }
        }
    }

    fn size(&self) -> u64 {
        *self.shared.size.borrow()
    }

    /// Grow the tree by a batch of events: compare with the stored hashes found at start
    /// while they last, append to the file past them.
    fn add(
        &mut self,
        batch: Vec<Result<RecordedEvent, opsledger_storage::StoreError>>,
    ) -> Result<(), TransparencyError> {
        let mut fresh: Vec<Hash> = Vec::new();
        let mut tree = self.shared.tree.write().expect("tree lock");
        for event in batch {
            let event = event?;
            if event.position != tree.size() {
                return Err(TransparencyError::OutOfRange(format!(
                    "the log skipped from {} to {}",
                    tree.size(),
                    event.position
                )));
            }
            let first = tree.stored().len() as u64;
            let added = tree.push_leaf(leaf_hash(&record_bytes(&event)?))?.to_vec();
            self.last_chain_hash = event.hash;
            for (i, h) in (first..).zip(added) {
                if i < self.hash_file.len() {
                    if self.on_disk.get(i as usize) != Some(&h) {
                        let message = format!(
                            "the stored Merkle tree disagrees with the log at position {} \
                             (rewritten log or damaged tree file); rebuilding it from the log",
                            event.position
                        );
                        tracing::error!("{message}");
                        self.shared
                            .status
                            .lock()
                            .expect("status")
                            .disagreements
                            .push(message);
                        self.hash_file.truncate(i)?;
                        self.on_disk.clear();
                        fresh.push(h);
                    }
                } else {
                    fresh.push(h);
                }
            }
        }
        let size = tree.size();
        drop(tree);
        self.hash_file.append(&fresh)?;
        self.shared.size.send_replace(size);
        Ok(())
    }

    /// The tree holds the log as it was at start: check it against the file's length and
    /// every checkpoint signed before, then sign one if none covers it.
    fn caught_up(&mut self) -> Result<(), TransparencyError> {
        let tree_hashes = self.shared.tree.read().expect("tree lock").stored().len() as u64;
        let mut problems = Vec::new();
        if self.hash_file.len() > tree_hashes {
            problems.push(format!(
                "the stored Merkle tree holds more than the log ({} hashes, the log needs {}): \
                 the log was truncated or the tree belongs to another log",
                self.hash_file.len(),
                tree_hashes
            ));
            self.hash_file.truncate(tree_hashes)?;
        }
        self.on_disk = Vec::new();
        {
            let tree = self.shared.tree.read().expect("tree lock");
            for c in self.shared.checkpoints.read().expect("lock").iter() {
                if c.head.size > tree.size() {
                    problems.push(format!(
                        "rollback: a checkpoint was signed at tree size {}, the log now holds {} events",
                        c.head.size,
                        tree.size()
                    ));
                } else if tree.root(c.head.size)?.0 != c.head.root {
                    problems.push(format!(
                        "fork: the log no longer matches the checkpoint signed at tree size {}",
                        c.head.size
                    ));
                }
            }
        }
        for p in &problems {
            tracing::error!("{p}");
        }
        let disagree = !problems.is_empty();
        let mut status = self.shared.status.lock().expect("status");
        status.disagreements.extend(problems);
        status.caught_up = true;
        drop(status);
        // Never leave as newest a checkpoint the log disagrees with: sign what the log
        // holds now, so a monitor comparing with what it accepted sees the fork.
        if self.signed_size.is_none() || disagree {
            self.sign_at_current_size()?;
        }
        Ok(())
    }

    fn sign_if_grown(&mut self) -> Result<(), TransparencyError> {
        if self.signed_size != Some(self.size()) {
            self.sign_at_current_size()?;
        }
        Ok(())
    }

    fn sign_at_current_size(&mut self) -> Result<(), TransparencyError> {
        self.hash_file.sync()?;
        let (size, root) = {
            let tree = self.shared.tree.read().expect("tree lock");
            (tree.size(), tree.root(tree.size())?)
        };
        let head = TreeHead {
            origin: self.shared.key.origin().to_owned(),
            size,
            root: root.0,
            chain_head: self.last_chain_hash,
        };
        let checkpoint = stored(&head.sign(&self.shared.key)?)?;
        self.history.append(&checkpoint)?;
        let count = {
            let mut all = self.shared.checkpoints.write().expect("lock");
            all.push(checkpoint);
            all.len()
        };
        self.signed_size = Some(size);
        self.shared.signed.send_replace(count);
        Ok(())
    }
}

/// The tree of every record of `store` (for tools and benchmarks).
pub async fn build_tree(store: &dyn EventStore) -> Result<TreeHashes, TransparencyError> {
    let mut tree = TreeHashes::new();
    loop {
        let page = store.read_all(tree.size(), 4096).await?;
        if page.is_empty() {
            return Ok(tree);
        }
        for record in page {
            tree.push_leaf(leaf_hash(&record_bytes(&record)?))?;
        }
    }
}

/// Where a data directory keeps its transparency log.
pub fn transparency_dir(data: &Path) -> PathBuf {
    data.join("transparency")
}
