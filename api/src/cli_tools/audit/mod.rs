//! `opsledger audit ...`: the auditor's tools (README "Verifiable history"). Except
//! `key`, none needs the data directory: they check what a server hands out (fetched
//! over GraphQL from `--url`, or from files) against a pinned public key.
//!
//! Exit codes: 0 verified; 1 could not check (network, files, usage); 3 the log was
//! tampered with or is not the pinned log (bad signature, wrong origin or key, fork,
//! rollback, a proof that does not verify).

mod client;
mod cosign;
mod monitor;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

pub use client::AuditClient;

/// The `audit` subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Print the log's origin and public verifier key (generating the key if the data
    /// directory has none yet).
    Key(KeyArgs),
    /// Check one event: a checkpoint's signature, its inclusion proof and the record.
    VerifyEvent(VerifyEventArgs),
    /// Check the newest checkpoint against the last one accepted (consistency proof);
    /// non-zero exit on any fork or rollback. Run it from cron.
    Monitor(MonitorArgs),
    /// Recompute the tree from an `export` file and compare it with a signed checkpoint.
    VerifyExport(VerifyExportArgs),
    /// Witness: check a checkpoint's consistency with the last one this witness saw and
    /// add its cosignature (c2sp.org/tlog-cosignature).
    Cosign(CosignArgs),
}

/// Where a tool fetches from.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The server's base URL (e.g. http://127.0.0.1:8080); GraphQL is at URL/graphql.
    #[arg(long)]
    pub url: Option<String>,
    /// A bearer token with the auditor role (proofs need it).
    #[arg(long, env = "OPSLEDGER_TOKEN")]
    pub token: Option<String>,
}

/// Options of `audit key`.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Data directory (the key is DATA/transparency/log.key unless --log-key).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// The key file, if not the data directory's.
    #[arg(long)]
    pub log_key: Option<PathBuf>,
    /// The origin a newly generated key gets.
    #[arg(long)]
    pub log_origin: Option<String>,
}

/// Options of `audit verify-event`.
#[derive(Args, Debug)]
pub struct VerifyEventArgs {
    /// The log's verifier key (`name+id+base64`, or a file holding it), as `audit key` printed it.
    #[arg(long)]
    pub key: String,
    /// A file with the signed checkpoint note (default: fetch the newest from --url).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A file with the inclusion proof (the JSON of `inclusionProof`, bare or as a
    /// GraphQL response); default: fetch it from --url for --position.
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// The event's log position (with --url).
    #[arg(long)]
    pub position: Option<u64>,
    /// Where to fetch from.
    #[command(flatten)]
    pub remote: Remote,
}

/// Options of `audit monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// The log's verifier key (or a file holding it).
    #[arg(long)]
    pub key: String,
    /// Where the monitor keeps the last checkpoint it accepted and the leaf hashes it
    /// has verified (created on first run: trust on first use).
    #[arg(long)]
    pub state: PathBuf,
    /// Where to fetch from.
    #[command(flatten)]
    pub remote: Remote,
}

/// Options of `audit verify-export`.
#[derive(Args, Debug)]
pub struct VerifyExportArgs {
    /// The `opsledger export` file.
    #[arg(long)]
    pub file: PathBuf,
    /// The signed checkpoint note file.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The log's verifier key (or a file holding it).
    #[arg(long)]
    pub key: String,
}

/// Options of `audit cosign`.
#[derive(Args, Debug)]
pub struct CosignArgs {
    /// The log's verifier key (or a file holding it).
    #[arg(long)]
    pub key: String,
    /// The witness's private key file (generated, 0600, if missing).
    #[arg(long)]
    pub witness_key: PathBuf,
    /// The witness's name for a newly generated key (e.g. witness.example.com/w1).
    #[arg(long, default_value = "opsledger-witness")]
    pub witness_name: String,
    /// Where the witness keeps the last checkpoint it cosigned.
    #[arg(long)]
    pub state: PathBuf,
    /// The checkpoint note to cosign (default: fetch the newest from --url).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Write the cosigned note here (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to fetch from.
    #[command(flatten)]
    pub remote: Remote,
}

/// Why an audit failed: could not check (1), or found tampering (3).
#[derive(Debug)]
pub enum AuditFailure {
    /// Could not check (network, files, usage).
    Unchecked(anyhow::Error),
    /// The log is not what was pinned or accepted before.
    Tampered(String),
}

impl<E: Into<anyhow::Error>> From<E> for AuditFailure {
    fn from(e: E) -> Self {
        AuditFailure::Unchecked(e.into())
    }
}

/// A tamper finding.
pub fn tampered(why: impl std::fmt::Display) -> AuditFailure {
    AuditFailure::Tampered(why.to_string())
}

/// Run an `audit` subcommand.
pub async fn run_audit(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let result = match command {
        AuditCommand::Key(args) => verify::key(args),
        AuditCommand::VerifyEvent(args) => verify::verify_event(args).await,
        AuditCommand::Monitor(args) => monitor::monitor(args).await,
        AuditCommand::VerifyExport(args) => verify::verify_export(args),
        AuditCommand::Cosign(args) => cosign::cosign(args).await,
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(AuditFailure::Unchecked(e)) => Err(e),
        Err(AuditFailure::Tampered(why)) => {
            eprintln!("TAMPERED: {why}");
            Ok(ExitCode::from(3))
        }
    }
}

/// The checkpoint note from `file`, or else the newest from `client`.
pub async fn checkpoint_note(
    file: Option<&std::path::Path>,
    client: Option<&AuditClient>,
) -> anyhow::Result<String> {
    use anyhow::Context as _;
    match (file, client) {
        (Some(path), _) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        }
        (None, Some(client)) => client.checkpoint(None).await,
        (None, None) => anyhow::bail!("give --checkpoint FILE or --url"),
    }
}

/// A verifier key given inline or as a file holding it.
pub fn verifier_key_text(key: &str) -> anyhow::Result<String> {
    let path = std::path::Path::new(key);
    if path.is_file() {
        return Ok(std::fs::read_to_string(path)?.trim().to_owned());
    }
    Ok(key.trim().to_owned())
}
