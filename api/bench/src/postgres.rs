//! A throwaway PostgreSQL cluster (Debian's server binaries) on loopback in a temp
//! directory, with fsync and synchronous_commit on, and the event-append workload.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{bail, Context};
use opsledger_storage::bench::{drive_writers, AppendFigures, PAYLOAD_BYTES};
use tokio_postgres::{Client, NoTls, Statement};

/// Where Debian installs the server binaries (`/usr/lib/postgresql/<major>/bin`).
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// The database user the cluster is created with.
const BENCH_USER: &str = "bench";
/// The OS user that runs the server when the benchmark runs as root.
const OS_USER_WHEN_ROOT: &str = "postgres";

/// The events table: global identity position, unique (stream, version) for the
/// expected-version check, unique command id for idempotency (like opsledger's).
const SCHEMA: &str = "CREATE TABLE events (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    event_id UUID NOT NULL,
    type_name TEXT NOT NULL,
    schema_version SMALLINT NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    command_id TEXT NOT NULL UNIQUE,
    correlation_id UUID NOT NULL,
    payload BYTEA NOT NULL,
    UNIQUE (stream_id, version)
)";

/// One append: insert version `expected + 1`; the unique constraint rejects a stale expectation.
const INSERT: &str = "INSERT INTO events (stream_id, version, event_id, type_name, schema_version,
    recorded_at_ms, actor, command_id, correlation_id, payload)
    VALUES ($1, $2, $3::text::uuid, 'BenchEventRecorded', 1, $4, 'bench', $5, $6::text::uuid, $7)";

/// A running throwaway cluster; stopped (and its directory removed) on drop.
pub struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// The major version, e.g. "15".
    pub version: String,
    _root: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<major>/bin` holding `initdb` and `pg_ctl`.
pub fn find_server_bin() -> anyhow::Result<(PathBuf, String)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_PG_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((major, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((major, bin)) => Ok((bin, major.to_string())),
        None => bail!(
            "PostgreSQL server binaries not found under {DEBIAN_PG_ROOT}/*/bin; \
             install them with `apt-get install postgresql` to run `bench peers`"
        ),
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command that runs `program` as the cluster's OS user (postgres refuses root).
fn pg_command(program: &Path) -> Command {
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", OS_USER_WHEN_ROOT, "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl PgCluster {
    /// initdb a new cluster in a temp directory and start it on loopback.
    pub fn start() -> anyhow::Result<Self> {
        let (bin, version) = find_server_bin()?;
        let root = tempfile::Builder::new().prefix("opsledger-pg-").tempdir()?;
        let data = root.path().join("data");
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.arg(format!("{OS_USER_WHEN_ROOT}:")).arg(root.path());
            run(chown, "chown of the cluster directory")?;
        }
        let mut initdb = pg_command(&bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            BENCH_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let port = free_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={} \
             -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
             -c wal_sync_method=fdatasync -c max_connections=200 -c shared_buffers=128MB",
            root.path().display()
        );
        let mut pg_ctl = pg_command(&bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(root.path().join("server.log"))
            .args(["-w", "-o", &options, "start"]);
        run(pg_ctl, "pg_ctl start")?;
        Ok(PgCluster {
            bin,
            data,
            port,
            version,
            _root: root,
        })
    }

    /// A new connection to the cluster's `postgres` database.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let config = format!(
            "host=127.0.0.1 port={} user={BENCH_USER} dbname=postgres",
            self.port
        );
        let (client, connection) = tokio_postgres::connect(&config, NoTls)
            .await
            .context("cannot connect to the benchmark's PostgreSQL")?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "benchmark PostgreSQL connection ended");
            }
        });
        Ok(client)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut pg_ctl = pg_command(&self.bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]);
        if let Err(e) = run(pg_ctl, "pg_ctl stop") {
            eprintln!("warning: {e:#}");
        }
    }
}

/// One writer's connection, its prepared insert and its stream's last version.
struct PgWriter {
    client: Client,
    insert: Statement,
    stream_id: String,
    last_version: Option<i64>,
}

/// `events` one-event appends (fresh table) from `writers` connections, each on its own
/// stream; each append is one autocommit INSERT (durable at commit: fsync + synchronous_commit).
pub async fn postgres_appends(
    cluster: &PgCluster,
    writers: usize,
    events: u64,
) -> anyhow::Result<AppendFigures> {
    let admin = cluster.connect().await?;
    admin
        .batch_execute(&format!("DROP TABLE IF EXISTS events; {SCHEMA}"))
        .await
        .context("cannot create the events table")?;
    let mut pool = Vec::with_capacity(writers);
    for writer in 0..writers {
        let client = cluster.connect().await?;
        let insert = client.prepare(INSERT).await?;
        pool.push(Arc::new(tokio::sync::Mutex::new(PgWriter {
            client,
            insert,
            stream_id: format!("bench-{writer}"),
            last_version: None,
        })));
    }
    let payload = Arc::new(vec![0x5Au8; PAYLOAD_BYTES]);
    drive_writers(writers, events, move |writer| {
        let slot = pool[writer].clone();
        let payload = payload.clone();
        async move {
            let mut w = slot.lock().await;
            let version = w.last_version.map_or(0, |v| v + 1);
            let event_id = ulid::Ulid::new();
            let correlation_id = ulid::Ulid::new();
            let command_id = ulid::Ulid::new().to_string();
            let w = &mut *w;
            w.client
                .execute(
                    &w.insert,
                    &[
                        &w.stream_id,
                        &version,
                        &uuid_text(event_id),
                        &1_700_000_000_000i64,
                        &command_id,
                        &uuid_text(correlation_id),
                        &payload.as_slice(),
                    ],
                )
                .await
                .context("PostgreSQL append failed")?;
            w.last_version = Some(version);
            Ok::<(), anyhow::Error>(())
        }
    })
    .await
}

/// A ULID's 16 bytes in UUID text form.
fn uuid_text(id: ulid::Ulid) -> String {
    let hex: String = id.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_has_the_8_4_4_4_12_shape() {
        let text = uuid_text(ulid::Ulid::from_parts(0, 1));
        assert_eq!(text, "00000000-0000-0000-0000-000000000001");
    }
}
