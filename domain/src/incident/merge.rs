//! Merging a duplicate incident into a target: a rule over both states.

use super::command::IncidentCommand;
use super::state::IncidentState;
use crate::context::Context;
use crate::ids::IncidentId;
use crate::{Aggregate, DomainError};

/// Checks that `duplicate` may be merged into `target` by `ctx`'s actor:
/// the duplicate accepts `MergeInto` and the target accepts `AbsorbDuplicate`.
/// Both sides are decided (purely) before either is written, so a refused
/// merge leaves both incidents unchanged.
pub fn check_merge(
    duplicate: &IncidentState,
    target: &IncidentState,
    target_id: IncidentId,
    duplicate_id: IncidentId,
    ctx: &Context,
) -> Result<(), DomainError> {
    let none = super::DeclarationFacts::default;
    duplicate.decide(
        IncidentCommand::MergeInto { target: target_id },
        none(),
        ctx,
    )?;
    target.decide(
        IncidentCommand::AbsorbDuplicate {
            duplicate: duplicate_id,
        },
        none(),
        ctx,
    )?;
    Ok(())
}
