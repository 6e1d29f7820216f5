//! The escalation engine: a background task that pages the next level of every
//! unacknowledged incident whose acknowledge deadline passed (CheckEscalation as
//! a system actor, at the injected clock's time).

use super::stream::Loaded;
use super::{AppCommand, AppError, AppService, CommandMeta};
use crate::Principal;
use opsledger_domain::incident::{IncidentCommand, IncidentState, IncidentStatus};
use opsledger_domain::{IncidentId, Role};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The actor recorded on automatic escalations.
pub const ESCALATION_ACTOR: &str = "escalation-engine";

/// How often the engine looks for due escalations in production.
pub const DEFAULT_TICK: Duration = Duration::from_secs(5);

/// The system principal the engine acts as.
pub fn escalation_principal() -> Principal {
    Principal::new(ESCALATION_ACTOR, vec![Role::Responder])
}

/// Sends CheckEscalation to every triggered incident whose deadline is due; returns how many escalated.
pub async fn check_escalations(app: &AppService) -> Result<usize, AppError> {
    let now = app.clock().now();
    let triggered: Vec<IncidentId> = app.projections().read(|m| {
        m.incidents
            .active()
            .filter(|i| i.status == IncidentStatus::Triggered && i.merged_into.is_none())
            .map(|i| i.id)
            .collect()
    });
    let who = escalation_principal();
    let mut escalated = 0;
    for id in triggered {
        let loaded: Loaded<IncidentState> = app.load(&id.stream_id()).await?;
        let Some(deadline) = loaded.state.escalation_deadline() else {
            continue;
        };
        if deadline > now {
            continue;
        }
        // One key per level: a repeated check of the same level is idempotent.
        let key = format!("escalate:{id}:{}", loaded.state.escalation_level + 1);
        let outcome = app
            .execute(
                &who,
                CommandMeta::keyed(key),
                AppCommand::Incident {
                    id,
                    intent: IncidentCommand::CheckEscalation,
                },
            )
            .await;
        match outcome {
            Ok(done) if done.events_written > 0 => escalated += 1,
            Ok(_) | Err(AppError::Domain(_)) | Err(AppError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(escalated)
}

/// Runs [`check_escalations`] every `tick` until `stop` turns true.
pub fn spawn_escalation_engine(
    app: Arc<AppService>,
    tick: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    if let Err(err) = check_escalations(&app).await {
                        tracing::warn!(error = %err, "escalation check failed");
                    }
                }
                () = stopped(&mut stop) => break,
            }
        }
    })
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
