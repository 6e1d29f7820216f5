//! The GraphQL client of the audit tools: the few queries they send.

use anyhow::{anyhow, bail, Context as _};
use opsledger_transparency::{ConsistencyProof, InclusionProof};
use serde_json::{json, Value};

use super::Remote;

/// A server to fetch checkpoints and proofs from.
pub struct AuditClient {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
}

impl AuditClient {
    /// The client for `remote` if it names a --url.
    pub fn optional(remote: &Remote) -> anyhow::Result<Option<AuditClient>> {
        remote
            .url
            .as_ref()
            .map(|_| AuditClient::new(remote))
            .transpose()
    }

    /// The client for `remote` (its --url is required).
    pub fn new(remote: &Remote) -> anyhow::Result<AuditClient> {
        let url = remote
            .url
            .as_deref()
            .ok_or_else(|| anyhow!("give --url (or the files to check)"))?;
        Ok(AuditClient {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            endpoint: format!("{}/graphql", url.trim_end_matches('/')),
            token: remote.token.clone(),
        })
    }

    async fn query(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .post(&self.endpoint)
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let body: Value = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.endpoint))?
            .json()
            .await
            .with_context(|| format!("{} did not answer JSON", self.endpoint))?;
        if let Some(error) = body["errors"].get(0) {
            bail!(
                "{} answered {}: {}",
                self.endpoint,
                error["extensions"]["code"].as_str().unwrap_or("an error"),
                error["message"].as_str().unwrap_or("")
            );
        }
        Ok(body["data"].clone())
    }

    /// The newest checkpoint note, or the one signed at `size`.
    pub async fn checkpoint(&self, size: Option<u64>) -> anyhow::Result<String> {
        let data = self
            .query(
                "query($s: Int) { checkpoint(treeSize: $s) { note } }",
                json!({"s": size}),
            )
            .await?;
        data["checkpoint"]["note"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no checkpoint in the answer"))
    }

    /// The inclusion proof of `position` in the tree of `size`.
    pub async fn inclusion_proof(
        &self,
        position: u64,
        size: u64,
    ) -> anyhow::Result<InclusionProof> {
        let data = self
            .query(
                "query($p: Int!, $s: Int) { inclusionProof(position: $p, treeSize: $s) { leafIndex treeSize record auditPath } }",
                json!({"p": position, "s": size}),
            )
            .await?;
        Ok(serde_json::from_value(data["inclusionProof"].clone())?)
    }

    /// The consistency proof from `from` to `to`.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> anyhow::Result<ConsistencyProof> {
        let data = self
            .query(
                "query($f: Int!, $t: Int) { consistencyProof(fromSize: $f, toSize: $t) { fromSize toSize path } }",
                json!({"f": from, "t": to}),
            )
            .await?;
        Ok(serde_json::from_value(data["consistencyProof"].clone())?)
    }

    /// The leaf hashes of positions `start..end`, fetched in pages.
    pub async fn leaf_hashes(&self, start: u64, end: u64) -> anyhow::Result<Vec<[u8; 32]>> {
        const PAGE: u64 = 10_000;
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let count = PAGE.min(end - at);
            let data = self
                .query(
                    "query($s: Int!, $c: Int!) { leafHashes(start: $s, count: $c) }",
                    json!({"s": at, "c": count}),
                )
                .await?;
            let page = data["leafHashes"]
                .as_array()
                .ok_or_else(|| anyhow!("no leafHashes in the answer"))?;
            if page.len() as u64 != count {
                bail!("asked for {count} leaf hashes, got {}", page.len());
            }
            for h in page {
                let h = h
                    .as_str()
                    .and_then(opsledger_transparency::checkpoint::unhex32)
                    .ok_or_else(|| anyhow!("a leaf hash is not 32 bytes of hex"))?;
                out.push(h);
            }
            at += count;
        }
        Ok(out)
    }
}
