//! Deciding one intent on one stream: load (through the aggregate cache), gather the
//! facts for the loaded state, decide, append with optimistic concurrency, and
//! re-decide after a lost race. Used by the command dispatch ([`crate::execute`])
//! and the workflow policies' follow-ups alike.

use super::stream::{append, AppendMeta, Loaded};
use super::{AppError, AppService, CommandMeta, Decided, MAX_ATTEMPTS};
use crate::Principal;
use opsledger_domain::{Aggregate, Context, Timestamp};
use opsledger_storage::Ulid;
use std::time::{Duration, Instant};

/// Whether a command needs its stream to exist (and what to call it when it does not).
#[derive(Clone, Copy)]
pub(crate) enum Existing {
    /// The command creates the stream.
    Creates,
    /// The stream must exist; NOT_FOUND names this kind.
    Required(&'static str),
}

/// Loads, decides `intent` with the `facts` gathered for the loaded state and
/// appends on one stream, re-deciding (facts gathered anew) after a lost race
/// (unless the client named the version it expects); decided at `at`, or the
/// clock's now.
// The arguments are the decision's inputs; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide<A: Aggregate>(
    app: &AppService,
    who: &Principal,
    meta: &CommandMeta,
    command_id: &str,
    stream_id: &str,
    existing: Existing,
    at: Option<Timestamp>,
    intent: &A::Command,
    facts: impl Fn(&A, &Context) -> Result<A::Facts, AppError>,
) -> Result<Decided<A>, AppError>
where
    A::Command: Clone,
{
    let correlation_id = Ulid::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let loaded: Loaded<A> = app.load(stream_id).await?;
        if let Existing::Required(what) = existing {
            if loaded.last_version.is_none() {
                return Err(AppError::not_found(what, stream_id));
            }
        }
        if let Some(expected) = meta.expected_version {
            if loaded.last_version != Some(expected) {
                return Err(AppError::Conflict {
                    stream_id: stream_id.to_string(),
                    expected: Some(expected),
                    actual: loaded.last_version,
                });
            }
        }
        let ctx = who.context(at.unwrap_or_else(|| app.clock.now()));
        let facts = facts(&loaded.state, &ctx)?;
        let events = loaded.state.decide(intent.clone(), facts, &ctx)?;
        if events.is_empty() {
            return Ok(Decided {
                events,
                outcome: None,
                stream_version: loaded.last_version,
            });
        }
        let started = Instant::now();
        let appended = append::<A>(
            app.store.as_ref(),
            AppendMeta {
                stream_id,
                expected: loaded.expected(),
                command_id,
                actor: who.actor.as_str(),
                correlation_id,
                recorded_at_ms: ctx.now.millis(),
            },
            &events,
        )
        .await;
        if let Some(metrics) = app.metrics.get() {
            metrics.observe_append(started.elapsed());
        }
        match appended {
            Ok(outcome) => {
                app.aggregate_cache
                    .remember_append(stream_id, &loaded, &events, &outcome);
                return Ok(Decided {
                    events,
                    stream_version: Some(outcome.stream_version),
                    outcome: Some(outcome),
                });
            }
            Err(AppError::Conflict { .. })
                if meta.expected_version.is_none() && attempt < MAX_ATTEMPTS =>
            {
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(other) => return Err(other),
        }
    }
}

/// A short, jittered pause before re-deciding after a lost race.
fn backoff(attempt: u32) -> Duration {
    let jitter = u64::from(Ulid::new().random() as u8 % 8);
    Duration::from_millis(u64::from(attempt.min(10)) + jitter)
}
