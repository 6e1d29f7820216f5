//! The Merkle log (issue 17): signed checkpoints, inclusion and consistency proofs,
//! the leaf hashes a monitor keeps, and the `checkpoints` subscription.
//!
//! Roles: `checkpoint` and `transparencyLog` (a signed tree head says nothing about
//! the content) need any token (viewer); the proofs, leaf hashes and the subscription
//! hand out raw records and need the `auditor` role (admin holds it too).
//! Hashes and record bytes are lowercase hex; the checkpoint note is the C2SP text.

use crate::app::Operation;
use crate::auth::authorize;
use crate::error::ApiError;
use async_graphql::{Context, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use opsledger_transparency::checkpoint::hex;
use opsledger_transparency::history::StoredCheckpoint;
use opsledger_transparency::{Transparency, TransparencyError};

/// At most this many leaf hashes per `leafHashes` call.
pub const MAX_LEAF_HASHES: u64 = 10_000;

/// A signed checkpoint (tree head) of the log.
#[derive(SimpleObject, Clone, Debug)]
pub struct Checkpoint {
    /// The log's origin (first line of the note; the key's name).
    pub origin: String,
    /// How many events the tree covers (positions 0 .. treeSize-1).
    pub tree_size: u64,
    /// The RFC 9162 root hash (hex).
    pub root_hash: String,
    /// The BLAKE3 chain hash of the event at treeSize-1 (hex; zeros for the empty tree).
    pub chain_head: String,
    /// The whole signed note (C2SP tlog-checkpoint text, blank line, signature lines):
    /// what `opsledger audit` verifies.
    pub note: String,
}

impl From<StoredCheckpoint> for Checkpoint {
    fn from(c: StoredCheckpoint) -> Self {
        Checkpoint {
            origin: c.head.origin,
            tree_size: c.head.size,
            root_hash: hex(&c.head.root),
            chain_head: hex(&c.head.chain_head),
            note: c.note,
        }
    }
}

/// A proof that the event at `leafIndex` is in the tree of `treeSize` events.
#[derive(SimpleObject, Clone, Debug)]
pub struct InclusionProof {
    /// The leaf index: the event's log position.
    pub leaf_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The stored record bytes at that position (hex): the leaf is SHA-256(0x00 ‖ record).
    pub record: String,
    /// The audit path (RFC 9162 §2.1.3), from the leaf's sibling up (hex hashes).
    pub audit_path: Vec<String>,
}

/// A proof that the tree of `toSize` events extends the tree of `fromSize` events.
#[derive(SimpleObject, Clone, Debug)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from_size: u64,
    /// The newer tree size.
    pub to_size: u64,
    /// The consistency proof (RFC 9162 §2.1.4; hex hashes).
    pub path: Vec<String>,
}

/// The log's identity and state.
#[derive(SimpleObject, Clone, Debug)]
pub struct TransparencyLog {
    /// The origin its checkpoints carry.
    pub origin: String,
    /// Its public verifier key (C2SP signed-note vkey): pin it in `opsledger audit`.
    pub verifier_key: String,
    /// Events the tree covers now (it follows the log asynchronously).
    pub tree_size: u64,
    /// Checkpoints signed so far.
    pub checkpoint_count: u64,
    /// What the start-up check found wrong (a log that no longer matches an earlier
    /// checkpoint, a truncated log, a damaged tree file); empty when all agree.
    pub disagreements: Vec<String>,
}

fn transparency<'a>(ctx: &Context<'a>) -> Result<&'a Transparency, ApiError> {
    ctx.data_opt::<Transparency>().ok_or(ApiError::Unavailable)
}

/// The wire error for a transparency error.
pub fn api_error(e: TransparencyError) -> ApiError {
    match e {
        TransparencyError::OutOfRange(reason) => ApiError::validation("treeSize", reason),
        TransparencyError::NoCheckpoint(size) => ApiError::NotFound {
            what: "checkpoint",
            id: size.to_string(),
        },
        TransparencyError::NotReady { .. } => ApiError::Unavailable,
        other => ApiError::internal(other),
    }
}

fn latest_size(log: &Transparency) -> Result<u64, ApiError> {
    log.latest_checkpoint()
        .map(|c| c.head.size)
        .ok_or(ApiError::Unavailable)
}

/// The Merkle log's queries.
#[derive(Default)]
pub struct TransparencyQuery;

#[Object]
impl TransparencyQuery {
    /// The checkpoint signed at `treeSize`, or the newest when absent (role viewer;
    /// NOT_FOUND if none was signed at that size).
    async fn checkpoint(
        &self,
        ctx: &Context<'_>,
        tree_size: Option<u64>,
    ) -> async_graphql::Result<Checkpoint> {
        authorize(ctx, Operation::Read)?;
        let log = transparency(ctx)?;
        let found = match tree_size {
            Some(size) => log.checkpoint_at(size).map_err(api_error)?,
            None => log.latest_checkpoint().ok_or(ApiError::Unavailable)?,
        };
        Ok(found.into())
    }

    /// The log's origin, verifier key and state (role viewer).
    async fn transparency_log(&self, ctx: &Context<'_>) -> async_graphql::Result<TransparencyLog> {
        authorize(ctx, Operation::Read)?;
        let log = transparency(ctx)?;
        Ok(TransparencyLog {
            origin: log.origin().to_owned(),
            verifier_key: log.verifier_key().to_owned(),
            tree_size: log.tree_size(),
            checkpoint_count: log.checkpoint_count() as u64,
            disagreements: log.status().disagreements,
        })
    }

    /// The inclusion proof of the event at `position` in the tree of `treeSize` events
    /// (default: the newest checkpoint's size), with the record bytes (role auditor).
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        position: u64,
        tree_size: Option<u64>,
    ) -> async_graphql::Result<InclusionProof> {
        authorize(ctx, Operation::AuditProof)?;
        let log = transparency(ctx)?;
        let size = match tree_size {
            Some(size) => size,
            None => latest_size(log)?,
        };
        let p = log
            .inclusion_proof(position, size)
            .await
            .map_err(api_error)?;
        Ok(InclusionProof {
            leaf_index: p.leaf_index,
            tree_size: p.tree_size,
            record: p.record,
            audit_path: p.audit_path,
        })
    }

    /// The consistency proof from the tree of `fromSize` events to the tree of `toSize`
    /// (default: the newest checkpoint's size) (role auditor).
    async fn consistency_proof(
        &self,
        ctx: &Context<'_>,
        from_size: u64,
        to_size: Option<u64>,
    ) -> async_graphql::Result<ConsistencyProof> {
        authorize(ctx, Operation::AuditProof)?;
        let log = transparency(ctx)?;
        let to = match to_size {
            Some(size) => size,
            None => latest_size(log)?,
        };
        let p = log
            .consistency_proof(from_size, to)
            .await
            .map_err(api_error)?;
        Ok(ConsistencyProof {
            from_size: p.from_size,
            to_size: p.to_size,
            path: p.path,
        })
    }

    /// The leaf hashes of positions `start .. start+count-1` (hex; count at most 10,000),
    /// what a monitor keeps to locate a fork (role auditor).
    async fn leaf_hashes(
        &self,
        ctx: &Context<'_>,
        start: u64,
        count: u64,
    ) -> async_graphql::Result<Vec<String>> {
        authorize(ctx, Operation::AuditProof)?;
        if count > MAX_LEAF_HASHES {
            return Err(ApiError::limit(format!(
                "at most {MAX_LEAF_HASHES} leaf hashes per call (count)"
            ))
            .into());
        }
        let log = transparency(ctx)?;
        if start.saturating_add(count) > log.tree_size() {
            return Err(ApiError::validation(
                "count",
                format!("the tree has {} leaves", log.tree_size()),
            )
            .into());
        }
        let hashes = log.leaf_hashes(start, count).await.map_err(api_error)?;
        Ok(hashes.iter().map(|h| hex(h)).collect())
    }
}

/// The Merkle log's subscription.
#[derive(Default)]
pub struct TransparencySubscription;

#[Subscription]
impl TransparencySubscription {
    /// Every checkpoint signed from now on, in order (role auditor).
    async fn checkpoints(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = Checkpoint>> {
        authorize(ctx, Operation::AuditProof)?;
        let log = transparency(ctx)?;
        Ok(log.subscribe_checkpoints().map(Checkpoint::from))
    }
}
