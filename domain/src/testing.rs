//! Test-only helpers for given/when/then tests of any [`Aggregate`] and the
//! replay property (rebuilt state == incrementally built state).

use crate::{Aggregate, Context, DomainError, Timestamp};

/// The state folded from `events` (the "given").
pub fn given<A: Aggregate>(events: &[A::Event]) -> A {
    events.iter().fold(A::default(), |s, e| s.evolve(e))
}

/// Decides `command` with `facts` on the state folded from `events` (the "when").
pub fn when<A: Aggregate>(
    events: &[A::Event],
    command: A::Command,
    facts: A::Facts,
    ctx: &Context,
) -> Result<Vec<A::Event>, DomainError> {
    given::<A>(events).decide(command, facts, ctx)
}

/// A context for `actor` at `now` ms.
pub fn ctx(now: i64, actor: &str) -> Context {
    Context::new(Timestamp(now), actor)
}

/// Runs `steps` against a fresh aggregate, checking after each accepted
/// command that the version grew by the number of events, and at the end
/// that the state rebuilt from every produced event equals the incremental one.
pub fn check_replay<A: Aggregate>(
    steps: Vec<(A::Command, A::Facts, Context)>,
    version_of: fn(&A) -> u64,
) -> Result<(), String> {
    let mut state = A::default();
    let mut log: Vec<A::Event> = Vec::new();
    for (command, facts, ctx) in steps {
        let before = version_of(&state);
        if let Ok(events) = state.decide(command, facts, &ctx) {
            for e in &events {
                state = state.clone().evolve(e);
            }
            let after = version_of(&state);
            if after != before + events.len() as u64 {
                return Err(format!(
                    "version {before} -> {after} after {} events",
                    events.len()
                ));
            }
            log.extend(events);
        }
    }
    let rebuilt = given::<A>(&log);
    if rebuilt != state {
        return Err(format!("rebuilt {rebuilt:?} != incremental {state:?}"));
    }
    Ok(())
}
