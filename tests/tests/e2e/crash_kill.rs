//! Crash safety: a child process appends in a loop and prints every acknowledged
//! append; we SIGKILL it at random moments (some during the store's open), reopen
//! the store and check that every acknowledged event is there, positions are
//! gap-free and the hash chain verifies.
//!
//! Seed: set `OPSLEDGER_CRASH_SEED` to replay a run (the seed is printed).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use opsledger_storage::{EventStore, SledEventStore, StoreConfig};

const CYCLES: u64 = 40;

/// A tiny xorshift generator: enough randomness for kill timing, no extra dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// An acknowledged append as the child printed it.
struct Ack {
    first: u64,
    last: u64,
    command_id: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    Some(Ack {
        first: parts.next()?.parse().ok()?,
        last: parts.next()?.parse().ok()?,
        command_id: parts.next()?.to_owned(),
    })
}

fn spawn_child(dir: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_appender"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Wait for the child to print `wanted`, keeping every line seen.
fn wait_for(rx: &mpsc::Receiver<String>, wanted: &str, seen: &mut Vec<String>) {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("waiting for {wanted}: {e}"));
        let done = line == wanted;
        seen.push(line);
        if done {
            return;
        }
    }
}

/// Reopen the store and check every acknowledged append, gap-free positions and the chain.
async fn check_store(dir: &Path, acks: &[Ack]) -> u64 {
    let store = SledEventStore::open(dir, StoreConfig::default())
        .await
        .unwrap();
    let mut events = Vec::new();
    loop {
        let page = store.read_all(events.len() as u64, 4096).await.unwrap();
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64, "positions must be gap-free");
    }
    assert_eq!(store.head_position(), (events.len() as u64).checked_sub(1));
    for ack in acks {
        for p in ack.first..=ack.last {
            let event = events
                .get(p as usize)
                .unwrap_or_else(|| panic!("acknowledged position {p} is missing"));
            assert_eq!(
                event.command_id, ack.command_id,
                "position {p} holds another command"
            );
        }
    }
    let report = store.verify().await.unwrap();
    assert_eq!(
        report.first_bad_position, None,
        "verify: {:?}",
        report.reason
    );
    assert_eq!(report.events_verified, events.len() as u64);
    store.flush_and_stop().await.unwrap();
    events.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_loses_an_acknowledged_append() {
    let seed = std::env::var("OPSLEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    println!("OPSLEDGER_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acks = Vec::new();
    let mut killed_during_open = 0;
    for cycle in 0..CYCLES {
        let (mut child, rx) = spawn_child(dir.path());
        let mut seen = Vec::new();
        if cycle % 3 == 1 {
            // Kill while the store opens (sled writes its snapshot then).
            wait_for(&rx, "OPENING", &mut seen);
            std::thread::sleep(Duration::from_micros(rng.below(4000)));
        } else {
            wait_for(&rx, "OPENED", &mut seen);
            std::thread::sleep(Duration::from_millis(10 + rng.below(150)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        seen.extend(rx.iter()); // everything it printed before dying
        if !seen.iter().any(|l| l == "OPENED") {
            killed_during_open += 1;
        }
        acks.extend(seen.iter().filter_map(|l| parse_ack(l)));
        let total = check_store(dir.path(), &acks).await;
        assert!(total >= acks.iter().map(|a| a.last + 1).max().unwrap_or(0));
    }
    println!(
        "{CYCLES} kill cycles, {killed_during_open} during open, {} acknowledged appends checked",
        acks.len()
    );
}
