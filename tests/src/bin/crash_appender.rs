//! Crash-test helper: opens the event store in the given directory and appends
//! forever from several tasks, printing one line per acknowledged append:
//! `ACK <first_position> <last_position> <command_id>`. It prints `OPENING`
//! just before opening the store and `OPENED` after, so a test can kill it
//! during the open. Killed with SIGKILL by `tests/tests/e2e/crash_kill.rs`.

use std::io::Write;

use opsledger_storage::{
    AppendRequest, Direction, EventStore, ExpectedVersion, NewEvent, SledEventStore, StoreConfig,
    Ulid,
};

const WRITERS: usize = 4;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the test is gone: nothing useful to do but stop.
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: crash_appender <dir>"))?;
    say("OPENING");
    let store = std::sync::Arc::new(SledEventStore::open(&dir, StoreConfig::default()).await?);
    say("OPENED");
    let pid = std::process::id();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move { append_forever(&store, pid, w).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Append 1-3 events at a time to stream `w<writer>` with exact expected versions.
async fn append_forever(store: &SledEventStore, pid: u32, writer: usize) -> anyhow::Result<()> {
    let stream_id = format!("w{writer}");
    let last = store
        .read_stream(&stream_id, u64::MAX, Direction::Backward, 1)
        .await?;
    let mut expected = last.first().map_or(ExpectedVersion::NoStream, |e| {
        ExpectedVersion::Exact(e.stream_version)
    });
    for n in 0u64.. {
        let command_id = format!("{pid}-{writer}-{n}");
        let events = (0..=(n % 3))
            .map(|i| NewEvent {
                event_id: Ulid::new(),
                type_name: "CrashTested".into(),
                schema_version: 1,
                payload: format!("{command_id}/{i}").into_bytes(),
            })
            .collect();
        let req = AppendRequest {
            stream_id: stream_id.clone(),
            expected,
            command_id: command_id.clone(),
            actor: "crash_appender".into(),
            correlation_id: Ulid::new(),
            causation_id: None,
            recorded_at_ms: 0,
            events,
        };
        let outcome = store.append(req).await?;
        say(&format!(
            "ACK {} {} {command_id}",
            outcome.first_position, outcome.last_position
        ));
        expected = ExpectedVersion::Exact(outcome.stream_version);
    }
    Ok(())
}
