use super::*;
use crate::context::Actor;
use crate::testing::{check_replay, ctx, given};
use proptest::prelude::*;
use ulid::Ulid;

const T0: i64 = 50_000;

fn review_id() -> ReviewId {
    ReviewId::new(Ulid::from_parts(1, 1))
}
fn incident_id() -> IncidentId {
    IncidentId::new(Ulid::from_parts(2, 1))
}
fn item_id(n: u64) -> ActionItemId {
    ActionItemId::new(Ulid::from_parts(3, n.into()))
}
fn responder() -> Context {
    ctx(T0, "rita")
}
fn rita() -> Actor {
    Actor("rita".into())
}
fn entry(at: i64, text: &str) -> TimelineEntry {
    TimelineEntry {
        at: Timestamp(at),
        actor: Actor("ops".into()),
        kind: "IncidentNoteAdded".into(),
        text: text.into(),
    }
}
fn facts(status: IncidentStatus) -> IncidentFacts {
    IncidentFacts {
        id: incident_id(),
        status,
        severity: Severity::Sev1,
        timeline: vec![
            entry(300, "resolved"),
            entry(100, "declared"),
            entry(200, "acked"),
        ],
    }
}
/// A command with the facts the tests' caller passes along.
#[derive(Clone, Debug)]
struct Cmd(ReviewCommand, ReviewFacts);

impl From<ReviewCommand> for Cmd {
    fn from(command: ReviewCommand) -> Self {
        Cmd(command, ReviewFacts::default())
    }
}

/// Decides `command` (with its facts) on the state folded from `events`.
fn when(
    events: &[ReviewEvent],
    command: impl Into<Cmd>,
    ctx: &Context,
) -> Result<Vec<ReviewEvent>, DomainError> {
    let Cmd(command, facts) = command.into();
    crate::testing::when::<ReviewState>(events, command, facts, ctx)
}

fn create(status: IncidentStatus) -> Cmd {
    let command = ReviewCommand::Create {
        id: review_id(),
        incident: incident_id(),
    };
    let facts = ReviewFacts {
        incident: Some(facts(status)),
    };
    Cmd(command, facts)
}
fn created() -> ReviewEvent {
    ReviewEvent::Created(ReviewCreated {
        id: review_id(),
        incident: incident_id(),
        severity: Severity::Sev1,
        incident_status: IncidentStatus::Resolved,
        timeline: vec![
            entry(100, "declared"),
            entry(200, "acked"),
            entry(300, "resolved"),
        ],
        by: rita(),
        at: Timestamp(T0),
    })
}
fn edited(content: SectionContent) -> ReviewEvent {
    ReviewEvent::SectionEdited(ReviewSectionEdited {
        content,
        by: rita(),
        at: Timestamp(T0),
    })
}
fn all_sections() -> Vec<SectionContent> {
    vec![
        SectionContent::Summary("db failover".into()),
        SectionContent::CustomerImpact("checkout down 20 min".into()),
        SectionContent::RootCause("disk full".into()),
        SectionContent::ContributingFactors(vec![ContributingFactor {
            category: FactorCategory::MonitoringGap,
            description: "no disk alert".into(),
        }]),
        SectionContent::WhatWentWell("fast failover".into()),
        SectionContent::LessonsLearned("alert on disk".into()),
    ]
}
fn submitted() -> ReviewEvent {
    ReviewEvent::Submitted(ReviewSubmitted {
        by: rita(),
        at: Timestamp(T0),
    })
}
fn published() -> ReviewEvent {
    ReviewEvent::Published(ReviewPublished {
        by: rita(),
        at: Timestamp(T0),
    })
}
/// A created review with every section written, submitted and published.
fn published_review() -> Vec<ReviewEvent> {
    let mut events = vec![created()];
    events.extend(all_sections().into_iter().map(edited));
    events.extend([submitted(), published()]);
    events
}
fn add_item(n: u64) -> ReviewCommand {
    ReviewCommand::AddActionItem {
        id: item_id(n),
        title: "add disk alert".into(),
        owner: "team-db".into(),
        due: Timestamp(T0 + 1_000),
    }
}
fn item_added(n: u64) -> ReviewEvent {
    ReviewEvent::ActionItemAdded(ReviewActionItemAdded {
        id: item_id(n),
        title: "add disk alert".into(),
        owner: "team-db".into(),
        due: Timestamp(T0 + 1_000),
        by: rita(),
        at: Timestamp(T0),
    })
}
fn item_completed(n: u64) -> ReviewEvent {
    ReviewEvent::ActionItemCompleted(ReviewActionItemCompleted {
        id: item_id(n),
        by: rita(),
        at: Timestamp(T0),
    })
}

#[test]
fn review_of_a_resolved_incident_generates_a_sorted_timeline() {
    assert_eq!(
        when(&[], create(IncidentStatus::Resolved), &responder()),
        Ok(vec![created()])
    );
}

#[test]
fn review_of_a_closed_incident_is_allowed() {
    let events = when(&[], create(IncidentStatus::Closed), &responder());
    assert_eq!(events.map(|e| e.len()), Ok(1));
}

#[test]
fn review_needs_a_resolved_incident() {
    assert_eq!(
        when(&[], create(IncidentStatus::Monitoring), &responder()),
        Err(ReviewError::IncidentNotResolved(IncidentStatus::Monitoring).into())
    );
}

#[test]
fn review_cannot_be_created_twice() {
    assert_eq!(
        when(&[created()], create(IncidentStatus::Resolved), &responder()),
        Err(ReviewError::AlreadyCreated.into())
    );
}

#[test]
fn review_needs_the_facts_of_the_incident_it_names() {
    let create = ReviewCommand::Create {
        id: review_id(),
        incident: incident_id(),
    };
    assert_eq!(
        when(&[], create.clone(), &responder()),
        Err(ReviewError::UnknownIncident(incident_id()).into())
    );
    let mut other = facts(IncidentStatus::Resolved);
    other.id = IncidentId::new(Ulid::from_parts(2, 9));
    let facts = ReviewFacts {
        incident: Some(other),
    };
    assert_eq!(
        when(&[], Cmd(create, facts), &responder()),
        Err(ReviewError::UnknownIncident(incident_id()).into())
    );
}

#[test]
fn commands_on_an_unknown_review_are_not_found() {
    assert_eq!(
        when(&[], ReviewCommand::Submit, &responder()),
        Err(ReviewError::NotFound.into())
    );
}

#[test]
fn editing_a_section_records_its_content() {
    let content = SectionContent::RootCause("disk full".into());
    assert_eq!(
        when(
            &[created()],
            ReviewCommand::EditSection(content.clone()),
            &responder()
        ),
        Ok(vec![edited(content)])
    );
    let state = given::<ReviewState>(&[created(), edited(SectionContent::RootCause("x".into()))]);
    assert_eq!(state.sections.root_cause, "x");
}

#[test]
fn sections_can_be_edited_while_in_review() {
    let content = SectionContent::Summary("better".into());
    assert_eq!(
        when(
            &[created(), submitted()],
            ReviewCommand::EditSection(content.clone()),
            &responder()
        ),
        Ok(vec![edited(content)])
    );
}

#[test]
fn sections_cannot_be_edited_after_publishing() {
    assert_eq!(
        when(
            &published_review(),
            ReviewCommand::EditSection(SectionContent::Summary("late".into())),
            &responder()
        ),
        Err(ReviewError::AlreadyPublished.into())
    );
}

#[test]
fn only_a_draft_can_be_submitted() {
    assert_eq!(
        when(&[created()], ReviewCommand::Submit, &responder()),
        Ok(vec![submitted()])
    );
    assert_eq!(
        when(
            &[created(), submitted()],
            ReviewCommand::Submit,
            &responder()
        ),
        Err(ReviewError::NotDraft(ReviewStatus::InReview).into())
    );
}

#[test]
fn publishing_needs_the_review_in_review() {
    assert_eq!(
        when(&[created()], ReviewCommand::Publish, &responder()),
        Err(ReviewError::NotInReview(ReviewStatus::Draft).into())
    );
}

#[test]
fn publishing_requires_all_sections_filled_and_names_the_missing_one() {
    let mut events = vec![created()];
    events.extend(
        all_sections()
            .into_iter()
            .filter(|c| c.section() != ReviewSection::ContributingFactors)
            .map(edited),
    );
    events.push(submitted());
    assert_eq!(
        when(&events, ReviewCommand::Publish, &responder()),
        Err(ReviewError::SectionMissing(ReviewSection::ContributingFactors).into())
    );
    events.push(edited(SectionContent::Summary("  ".into())));
    assert_eq!(
        when(&events, ReviewCommand::Publish, &responder()),
        Err(ReviewError::SectionMissing(ReviewSection::Summary).into())
    );
}

#[test]
fn complete_review_is_published() {
    let mut events = published_review();
    let publish = events.pop();
    assert_eq!(
        when(&events, ReviewCommand::Publish, &responder()).ok(),
        publish.map(|p| vec![p])
    );
    let state = given::<ReviewState>(&published_review());
    assert_eq!(
        (state.status, state.published_at),
        (ReviewStatus::Published, Some(Timestamp(T0)))
    );
}

#[test]
fn action_item_is_added_open() {
    assert_eq!(
        when(&[created()], add_item(1), &responder()),
        Ok(vec![item_added(1)])
    );
    let state = given::<ReviewState>(&[created(), item_added(1)]);
    assert_eq!(
        state.action_items,
        vec![ActionItem {
            id: item_id(1),
            title: "add disk alert".into(),
            owner: "team-db".into(),
            due: Timestamp(T0 + 1_000),
            status: ActionItemStatus::Open,
            completed_at: None,
        }]
    );
}

#[test]
fn action_item_ids_are_unique() {
    assert_eq!(
        when(&[created(), item_added(1)], add_item(1), &responder()),
        Err(ReviewError::DuplicateActionItem(item_id(1)).into())
    );
}

#[test]
fn action_item_needs_an_owner() {
    let cmd = ReviewCommand::AddActionItem {
        id: item_id(1),
        title: "t".into(),
        owner: "".into(),
        due: Timestamp(T0),
    };
    assert_eq!(
        when(&[created()], cmd, &responder()),
        Err(DomainError::Invalid {
            field: "owner",
            reason: "must not be empty"
        })
    );
}

#[test]
fn action_items_can_be_added_and_completed_after_publishing() {
    let mut events = published_review();
    assert_eq!(
        when(&events, add_item(2), &responder()),
        Ok(vec![item_added(2)])
    );
    events.push(item_added(2));
    let complete = ReviewCommand::CompleteActionItem { id: item_id(2) };
    assert_eq!(
        when(&events, complete, &responder()),
        Ok(vec![item_completed(2)])
    );
    events.push(item_completed(2));
    let item = given::<ReviewState>(&events).action_items.remove(0);
    assert_eq!(
        (item.status, item.completed_at),
        (ActionItemStatus::Done, Some(Timestamp(T0)))
    );
}

#[test]
fn completing_an_unknown_action_item_is_an_error() {
    assert_eq!(
        when(
            &[created()],
            ReviewCommand::CompleteActionItem { id: item_id(9) },
            &responder()
        ),
        Err(ReviewError::UnknownActionItem(item_id(9)).into())
    );
}

#[test]
fn completing_an_action_item_twice_is_an_error() {
    assert_eq!(
        when(
            &[created(), item_added(1), item_completed(1)],
            ReviewCommand::CompleteActionItem { id: item_id(1) },
            &responder()
        ),
        Err(ReviewError::ActionItemAlreadyDone(item_id(1)).into())
    );
}

#[test]
fn type_names_are_the_struct_names() {
    assert_eq!(created().type_name(), "ReviewCreated");
    assert_eq!(item_completed(1).type_name(), "ReviewActionItemCompleted");
    assert_eq!(published().schema_version(), 1);
}

fn arb_command() -> impl Strategy<Value = Cmd> {
    let section = (0usize..6, any::<bool>()).prop_map(|(i, blank)| {
        let mut content = all_sections().remove(i);
        if blank {
            content = match content {
                SectionContent::ContributingFactors(_) => {
                    SectionContent::ContributingFactors(vec![])
                }
                _ => SectionContent::Summary(String::new()),
            };
        }
        Cmd::from(ReviewCommand::EditSection(content))
    });
    prop_oneof![
        any::<bool>().prop_map(|resolved| create(if resolved {
            IncidentStatus::Resolved
        } else {
            IncidentStatus::Investigating
        })),
        section,
        (0u64..3).prop_map(|n| Cmd::from(add_item(n))),
        (0u64..3).prop_map(|n| Cmd::from(ReviewCommand::CompleteActionItem { id: item_id(n) })),
        Just(Cmd::from(ReviewCommand::Submit)),
        Just(Cmd::from(ReviewCommand::Publish)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn replaying_review_events_rebuilds_the_same_state(
        cmds in prop::collection::vec((arb_command(), 0i64..100_000), 0..24)
    ) {
        let steps = cmds.into_iter().map(|(Cmd(c, f), t)| (c, f, ctx(t, "rita"))).collect();
        prop_assert_eq!(check_replay::<ReviewState>(steps, |s| s.version), Ok(()));
    }
}
