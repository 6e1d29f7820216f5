//! The raw durability limits opsledger is compared with: plain sled with a flush +
//! fdatasync after every N inserts, and a plain append-only file with group commit.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::{drive_writers, AppendFigures};
use opsledger_storage::error::StoreError;
use opsledger_storage::layout;

/// Bytes per raw record (the size of an opsledger record in the benchmarks).
pub const RAW_RECORD_BYTES: usize = 300;

/// Plain sled inserts of ~300-byte values with flush + fdatasync after every `group` inserts.
pub fn raw_sled_inserts(dir: &Path, inserts: u64, group: u64) -> Result<f64, StoreError> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(64 * 1024 * 1024)
        .flush_every_ms(None)
        .open()?;
    let data_file = File::open(dir.join(layout::SLED_DATA_FILE))?;
    let value = vec![0x5A; RAW_RECORD_BYTES];
    let started = Instant::now();
    for i in 0..inserts {
        db.insert(i.to_be_bytes(), value.as_slice())?;
        if (i + 1) % group.max(1) == 0 || i + 1 == inserts {
            db.flush()?;
            data_file.sync_data()?;
        }
    }
    Ok(inserts as f64 / started.elapsed().as_secs_f64())
}

/// A record waiting for the group commit, and who to tell once it is on disk.
type Pending = (Vec<u8>, oneshot::Sender<Result<(), String>>);

/// `events` ~300-byte appends to a plain file from `writers` concurrent tasks: they
/// queue, and one thread writes every queued record and fdatasyncs once per group,
/// answering each writer only after the fdatasync covering its record.
pub async fn raw_file_group_commit(
    dir: &Path,
    writers: usize,
    events: u64,
) -> Result<AppendFigures, StoreError> {
    std::fs::create_dir_all(dir)?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("append.log"))?;
    let (tx, rx) = mpsc::unbounded_channel::<Pending>();
    let committer = std::thread::Builder::new()
        .name("raw-group-commit".into())
        .spawn(move || group_commit(file, rx))?;
    let tx = Arc::new(tx);
    let figures = drive_writers(writers, events, move |writer| {
        let tx = tx.clone();
        async move {
            let (done_tx, done_rx) = oneshot::channel();
            let record = vec![writer as u8; RAW_RECORD_BYTES];
            let gone = || StoreError::Io(Arc::new(std::io::Error::other("committer ended")));
            tx.send((record, done_tx)).map_err(|_| gone())?;
            done_rx
                .await
                .map_err(|_| gone())?
                .map_err(|e| StoreError::Io(Arc::new(std::io::Error::other(e))))
        }
    })
    .await;
    // The last sender went with the closure: the committer drains and ends.
    let _ = tokio::task::spawn_blocking(move || committer.join()).await;
    figures
}

/// Write and fdatasync queued records in groups until every sender is gone.
fn group_commit(mut file: File, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut buffer = Vec::new();
    let mut waiting = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some((record, done)) = next.take() {
            buffer.extend_from_slice(&record);
            waiting.push(done);
            next = rx.try_recv().ok();
        }
        let result = file
            .write_all(&buffer)
            .and_then(|()| file.sync_data())
            .map_err(|e| e.to_string());
        buffer.clear();
        for done in waiting.drain(..) {
            let _ = done.send(result.clone());
        }
    }
}
