use super::*;
use crate::freeze::{FreezeFact, FreezeScope};
use crate::service::Tier;
use crate::testing::{check_replay, ctx, given};
use proptest::prelude::*;
use ulid::Ulid;

const T0: i64 = 10_000;

fn change_id() -> ChangeId {
    ChangeId::new(Ulid::from_parts(1, 1))
}
fn other_change() -> ChangeId {
    ChangeId::new(Ulid::from_parts(1, 2))
}
fn svc(n: u64) -> ServiceId {
    ServiceId::new(Ulid::from_parts(2, n.into()))
}
fn freeze_id() -> FreezeId {
    FreezeId::new(Ulid::from_parts(3, 1))
}
fn window(start: i64, end: i64) -> TimeWindow {
    TimeWindow::new(Timestamp(start), Timestamp(end))
}
fn manager() -> Context {
    ctx(T0, "requester")
}
fn approver(name: &str) -> Context {
    ctx(T0, name)
}
fn actor(name: &str) -> Actor {
    Actor(name.into())
}

/// A command with the facts the tests' caller passes along.
#[derive(Clone, Debug)]
struct Cmd(ChangeCommand, ChangeFacts);

impl From<ChangeCommand> for Cmd {
    fn from(command: ChangeCommand) -> Self {
        Cmd(command, ChangeFacts::default())
    }
}

/// Decides `command` (with its facts) on the state folded from `events`.
fn when(
    events: &[ChangeEvent],
    command: impl Into<Cmd>,
    ctx: &Context,
) -> Result<Vec<ChangeEvent>, DomainError> {
    let Cmd(command, facts) = command.into();
    crate::testing::when::<ChangeState>(events, command, facts, ctx)
}

/// The facts of a request on service 1 of `tier`.
fn tier_facts(tier: u8) -> ChangeFacts {
    ChangeFacts {
        services: vec![ServiceFact {
            id: svc(1),
            tier: Tier::new(tier).unwrap_or(Tier::THREE),
        }],
        ..ChangeFacts::default()
    }
}

/// A request of `change_type` on service 1 of `tier`, with its facts.
fn request(change_type: ChangeType, tier: u8) -> Cmd {
    Cmd(
        ChangeCommand::Request(request_cmd(change_type)),
        tier_facts(tier),
    )
}

fn request_cmd(change_type: ChangeType) -> RequestChange {
    RequestChange {
        id: change_id(),
        change_type,
        category: ChangeCategory::Patch,
        title: "Patch openssl".into(),
        description: "CVE fix".into(),
        services: vec![svc(1)],
        window: window(20_000, 30_000),
        implementation_plan: "apt upgrade".into(),
        rollback_plan: "apt downgrade".into(),
        validation_steps: vec!["curl health".into()],
    }
}

/// The event a request of `change_type` on one service of `tier` produces.
fn requested(change_type: ChangeType, tier: u8) -> ChangeEvent {
    match when(&[], request(change_type, tier), &manager()) {
        Ok(mut events) => events.remove(0),
        Err(e) => panic!("request failed: {e:?}"),
    }
}
fn submitted() -> ChangeEvent {
    ChangeEvent::Submitted(ChangeSubmitted {
        by: actor("requester"),
        at: Timestamp(T0),
    })
}
fn granted(by: &str, granted: u8, required: u8) -> ChangeEvent {
    ChangeEvent::ApprovalGranted(ChangeApprovalGranted {
        by: actor(by),
        at: Timestamp(T0),
        comment: "ok".into(),
        granted,
        required,
    })
}
fn approved(approvers: &[&str], retroactive: bool) -> ChangeEvent {
    ChangeEvent::Approved(ChangeApproved {
        at: Timestamp(T0),
        approvers: approvers.iter().map(|a| actor(a)).collect(),
        pre_approved: false,
        retroactive,
    })
}
fn scheduled() -> ChangeEvent {
    ChangeEvent::Scheduled(ChangeScheduled {
        by: actor("requester"),
        at: Timestamp(T0),
        window: window(20_000, 30_000),
        conflicts: vec![],
        freezes_overridden: vec![],
    })
}
fn started() -> ChangeEvent {
    ChangeEvent::Started(ChangeStarted {
        by: actor("requester"),
        at: Timestamp(T0),
    })
}
fn result(passed: bool) -> ValidationResult {
    ValidationResult {
        step: "curl health".into(),
        passed,
        notes: String::new(),
    }
}
fn validated(passed: bool) -> ChangeEvent {
    ChangeEvent::ValidationRecorded(ChangeValidationRecorded {
        by: actor("requester"),
        at: Timestamp(T0),
        results: vec![result(passed)],
        all_passed: passed,
    })
}
/// A low-risk normal change (tier 3), approved by "alice".
fn approved_normal() -> Vec<ChangeEvent> {
    vec![
        requested(ChangeType::Normal, 3),
        submitted(),
        granted("alice", 1, 1),
        approved(&["alice"], false),
    ]
}
fn approve() -> ChangeCommand {
    ChangeCommand::Approve {
        comment: "ok".into(),
    }
}
fn schedule(freezes: Vec<FreezeFact>, others: Vec<ChangeWindowFact>) -> Cmd {
    let command = ChangeCommand::Schedule(ScheduleChange {
        window: window(20_000, 30_000),
    });
    let facts = ChangeFacts {
        active_freezes: freezes,
        overlapping_changes: others,
        ..ChangeFacts::default()
    };
    Cmd(command, facts)
}
fn global_freeze() -> FreezeFact {
    FreezeFact {
        id: freeze_id(),
        window: window(25_000, 40_000),
        scope: FreezeScope::Global,
    }
}

// ---- request and risk ----

#[test]
fn request_records_type_category_services_window_and_risk() {
    assert_eq!(
        when(&[], request(ChangeType::Normal, 1), &manager()),
        Ok(vec![ChangeEvent::Requested(ChangeRequested {
            id: change_id(),
            change_type: ChangeType::Normal,
            category: ChangeCategory::Patch,
            title: "Patch openssl".into(),
            description: "CVE fix".into(),
            services: vec![svc(1)],
            window: window(20_000, 30_000),
            implementation_plan: "apt upgrade".into(),
            rollback_plan: "apt downgrade".into(),
            validation_steps: vec!["curl health".into()],
            risk: RiskLevel::Medium,
            risk_points: 3,
            required_approvals: 2,
            requested_by: actor("requester"),
            at: Timestamp(T0),
        })])
    );
}

#[test]
fn request_window_must_end_after_it_starts() {
    let mut cmd = request_cmd(ChangeType::Normal);
    cmd.window = window(30_000, 20_000);
    assert_eq!(
        when(
            &[],
            Cmd(ChangeCommand::Request(cmd), tier_facts(3)),
            &manager()
        ),
        Err(ChangeError::WindowEndsBeforeStart.into())
    );
}

#[test]
fn request_needs_a_service() {
    let mut cmd = request_cmd(ChangeType::Normal);
    cmd.services.clear();
    assert_eq!(
        when(
            &[],
            Cmd(ChangeCommand::Request(cmd), tier_facts(3)),
            &manager()
        ),
        Err(ChangeError::NoServices.into())
    );
}

#[test]
fn request_rejects_a_service_named_twice() {
    let mut cmd = request_cmd(ChangeType::Normal);
    cmd.services.push(svc(1));
    assert_eq!(
        when(
            &[],
            Cmd(ChangeCommand::Request(cmd), tier_facts(3)),
            &manager()
        ),
        Err(ChangeError::DuplicateService(svc(1)).into())
    );
}

#[test]
fn request_needs_the_tier_of_every_service() {
    let mut cmd = request_cmd(ChangeType::Normal);
    cmd.services.push(svc(2));
    assert_eq!(
        when(
            &[],
            Cmd(ChangeCommand::Request(cmd), tier_facts(3)),
            &manager()
        ),
        Err(ChangeError::UnknownServiceTier(svc(2)).into())
    );
}

#[test]
fn request_needs_a_rollback_plan() {
    let mut cmd = request_cmd(ChangeType::Normal);
    cmd.rollback_plan = " ".into();
    assert_eq!(
        when(
            &[],
            Cmd(ChangeCommand::Request(cmd), tier_facts(3)),
            &manager()
        ),
        Err(DomainError::Invalid {
            field: "rollback_plan",
            reason: "must not be empty"
        })
    );
}

#[test]
fn change_cannot_be_requested_twice() {
    assert_eq!(
        when(
            &[requested(ChangeType::Normal, 3)],
            request(ChangeType::Normal, 3),
            &manager()
        ),
        Err(ChangeError::AlreadyRequested.into())
    );
}

#[test]
fn commands_on_an_unknown_change_are_not_found() {
    assert_eq!(
        when(&[], ChangeCommand::Submit, &manager()),
        Err(ChangeError::NotFound.into())
    );
}

// ---- submit and approvals ----

#[test]
fn standard_change_is_approved_at_submit() {
    assert_eq!(
        when(
            &[requested(ChangeType::Standard, 3)],
            ChangeCommand::Submit,
            &manager()
        ),
        Ok(vec![
            submitted(),
            ChangeEvent::Approved(ChangeApproved {
                at: Timestamp(T0),
                approvers: vec![],
                pre_approved: true,
                retroactive: false,
            })
        ])
    );
}

#[test]
fn normal_change_waits_for_approval_at_submit() {
    let state = given::<ChangeState>(&[requested(ChangeType::Normal, 3), submitted()]);
    assert_eq!(state.status, ChangeStatus::Submitted);
    assert_eq!(
        when(
            &[requested(ChangeType::Normal, 3)],
            ChangeCommand::Submit,
            &manager()
        ),
        Ok(vec![submitted()])
    );
}

#[test]
fn only_a_draft_can_be_submitted() {
    assert_eq!(
        when(
            &[requested(ChangeType::Normal, 3), submitted()],
            ChangeCommand::Submit,
            &manager()
        ),
        Err(ChangeError::NotDraft(ChangeStatus::Submitted).into())
    );
}

#[test]
fn low_risk_normal_change_needs_one_approval() {
    let given_events = [requested(ChangeType::Normal, 3), submitted()];
    assert_eq!(
        when(&given_events, approve(), &approver("alice")),
        Ok(vec![granted("alice", 1, 1), approved(&["alice"], false)])
    );
    assert_eq!(
        given::<ChangeState>(&approved_normal()).status,
        ChangeStatus::Approved
    );
}

#[test]
fn medium_risk_normal_change_needs_two_distinct_approvers() {
    let given_events = [requested(ChangeType::Normal, 2), submitted()];
    assert_eq!(
        when(&given_events, approve(), &approver("alice")),
        Ok(vec![granted("alice", 1, 2)])
    );
    let after_one = [
        requested(ChangeType::Normal, 2),
        submitted(),
        granted("alice", 1, 2),
    ];
    assert_eq!(
        given::<ChangeState>(&after_one).status,
        ChangeStatus::Submitted
    );
    assert_eq!(
        when(&after_one, approve(), &approver("bob")),
        Ok(vec![
            granted("bob", 2, 2),
            approved(&["alice", "bob"], false)
        ])
    );
}

#[test]
fn same_approver_twice_does_not_count_twice() {
    let after_one = [
        requested(ChangeType::Normal, 2),
        submitted(),
        granted("alice", 1, 2),
    ];
    assert_eq!(
        when(&after_one, approve(), &approver("alice")),
        Err(ChangeError::DuplicateApproval.into())
    );
}

#[test]
fn requester_can_never_approve_their_own_change() {
    let given_events = [requested(ChangeType::Normal, 3), submitted()];
    let requester = ctx(T0, "requester");
    assert_eq!(
        when(&given_events, approve(), &requester),
        Err(ChangeError::RequesterCannotApprove.into())
    );
}

#[test]
fn any_rejection_rejects() {
    let after_one = [
        requested(ChangeType::Normal, 2),
        submitted(),
        granted("alice", 1, 2),
    ];
    let rejected = ChangeEvent::Rejected(ChangeRejected {
        by: actor("bob"),
        at: Timestamp(T0),
        reason: "too risky".into(),
    });
    assert_eq!(
        when(
            &after_one,
            ChangeCommand::Reject {
                reason: "too risky".into()
            },
            &approver("bob")
        ),
        Ok(vec![rejected.clone()])
    );
    let mut all = after_one.to_vec();
    all.push(rejected);
    assert_eq!(given::<ChangeState>(&all).status, ChangeStatus::Rejected);
    assert_eq!(
        when(&all, approve(), &approver("carol")),
        Err(ChangeError::NotAwaitingApproval(ChangeStatus::Rejected).into())
    );
}

#[test]
fn approving_a_draft_is_not_awaiting_approval() {
    assert_eq!(
        when(
            &[requested(ChangeType::Normal, 3)],
            approve(),
            &approver("alice")
        ),
        Err(ChangeError::NotAwaitingApproval(ChangeStatus::Draft).into())
    );
}

#[test]
fn emergency_change_needs_one_approval_even_when_high_risk() {
    let given_events = [requested(ChangeType::Emergency, 1), submitted()];
    assert_eq!(
        when(&given_events, approve(), &approver("alice")),
        Ok(vec![granted("alice", 1, 1), approved(&["alice"], false)])
    );
}

#[test]
fn emergency_change_may_be_approved_after_it_started() {
    let given_events = [
        requested(ChangeType::Emergency, 1),
        submitted(),
        scheduled(),
        started(),
    ];
    assert_eq!(
        when(&given_events, approve(), &approver("alice")),
        Ok(vec![granted("alice", 1, 1), approved(&["alice"], true)])
    );
    let mut all = given_events.to_vec();
    all.extend([granted("alice", 1, 1), approved(&["alice"], true)]);
    let state = given::<ChangeState>(&all);
    assert_eq!(
        (state.status, state.approved),
        (ChangeStatus::InProgress, true)
    );
}

#[test]
fn normal_change_cannot_be_approved_after_it_started() {
    let mut events = approved_normal();
    events.extend([scheduled(), started()]);
    assert_eq!(
        when(&events, approve(), &approver("bob")),
        Err(ChangeError::NotAwaitingApproval(ChangeStatus::InProgress).into())
    );
}

// ---- scheduling ----

#[test]
fn approved_change_is_scheduled_with_its_window() {
    assert_eq!(
        when(&approved_normal(), schedule(vec![], vec![]), &manager()),
        Ok(vec![scheduled()])
    );
}

#[test]
fn unapproved_normal_change_cannot_be_scheduled() {
    assert_eq!(
        when(
            &[requested(ChangeType::Normal, 3), submitted()],
            schedule(vec![], vec![]),
            &manager()
        ),
        Err(ChangeError::NotSchedulable(ChangeStatus::Submitted).into())
    );
}

#[test]
fn scheduling_into_an_active_freeze_is_rejected() {
    assert_eq!(
        when(
            &approved_normal(),
            schedule(vec![global_freeze()], vec![]),
            &manager()
        ),
        Err(ChangeError::ScheduledInFreeze(freeze_id()).into())
    );
}

#[test]
fn scheduling_into_a_freeze_of_one_of_its_services_is_rejected() {
    let mut freeze = global_freeze();
    freeze.scope = FreezeScope::Services(vec![svc(9), svc(1)]);
    assert_eq!(
        when(
            &approved_normal(),
            schedule(vec![freeze], vec![]),
            &manager()
        ),
        Err(ChangeError::ScheduledInFreeze(freeze_id()).into())
    );
}

#[test]
fn freeze_of_other_services_or_other_times_does_not_block() {
    let mut other_service = global_freeze();
    other_service.scope = FreezeScope::Services(vec![svc(9)]);
    let mut later = global_freeze();
    later.window = window(30_000, 40_000);
    assert_eq!(
        when(
            &approved_normal(),
            schedule(vec![other_service, later], vec![]),
            &manager()
        ),
        Ok(vec![scheduled()])
    );
}

#[test]
fn emergency_change_may_be_scheduled_into_a_freeze_before_approval() {
    let given_events = [requested(ChangeType::Emergency, 1), submitted()];
    assert_eq!(
        when(
            &given_events,
            schedule(vec![global_freeze()], vec![]),
            &manager()
        ),
        Ok(vec![ChangeEvent::Scheduled(ChangeScheduled {
            by: actor("requester"),
            at: Timestamp(T0),
            window: window(20_000, 30_000),
            conflicts: vec![],
            freezes_overridden: vec![freeze_id()],
        })])
    );
}

#[test]
fn overlapping_windows_on_a_service_are_reported_as_conflicts() {
    let others = vec![
        ChangeWindowFact {
            id: other_change(),
            services: vec![svc(1), svc(5)],
            window: window(29_000, 35_000),
        },
        // Touches only at the edge: [30000, ..) does not overlap [20000, 30000).
        ChangeWindowFact {
            id: ChangeId::new(Ulid::from_parts(1, 3)),
            services: vec![svc(1)],
            window: window(30_000, 35_000),
        },
        // Overlaps in time on another service.
        ChangeWindowFact {
            id: ChangeId::new(Ulid::from_parts(1, 4)),
            services: vec![svc(5)],
            window: window(20_000, 35_000),
        },
        // The change itself is never its own conflict.
        ChangeWindowFact {
            id: change_id(),
            services: vec![svc(1)],
            window: window(20_000, 30_000),
        },
    ];
    assert_eq!(
        when(&approved_normal(), schedule(vec![], others), &manager()),
        Ok(vec![ChangeEvent::Scheduled(ChangeScheduled {
            by: actor("requester"),
            at: Timestamp(T0),
            window: window(20_000, 30_000),
            conflicts: vec![ChangeConflict {
                change: other_change(),
                window: window(29_000, 35_000),
                services: vec![svc(1)],
            }],
            freezes_overridden: vec![],
        })])
    );
}

#[test]
fn schedule_window_must_end_after_it_starts() {
    let cmd = ChangeCommand::Schedule(ScheduleChange {
        window: window(5, 5),
    });
    assert_eq!(
        when(&approved_normal(), cmd, &manager()),
        Err(ChangeError::WindowEndsBeforeStart.into())
    );
}

// ---- implementation, validation, outcome ----

#[test]
fn only_a_scheduled_change_can_start() {
    assert_eq!(
        when(&approved_normal(), ChangeCommand::Start, &manager()),
        Err(ChangeError::NotScheduled(ChangeStatus::Approved).into())
    );
    let mut events = approved_normal();
    events.push(scheduled());
    assert_eq!(
        when(&events, ChangeCommand::Start, &manager()),
        Ok(vec![started()])
    );
}

#[test]
fn validation_moves_in_progress_to_validating_with_results() {
    let mut events = approved_normal();
    events.extend([scheduled(), started()]);
    let cmd = ChangeCommand::RecordValidation {
        results: vec![result(false)],
    };
    assert_eq!(when(&events, cmd, &manager()), Ok(vec![validated(false)]));
    events.push(validated(false));
    let state = given::<ChangeState>(&events);
    assert_eq!(
        (state.status, state.validation),
        (ChangeStatus::Validating, vec![result(false)])
    );
}

#[test]
fn validation_needs_results() {
    let mut events = approved_normal();
    events.extend([scheduled(), started()]);
    assert_eq!(
        when(
            &events,
            ChangeCommand::RecordValidation { results: vec![] },
            &manager()
        ),
        Err(ChangeError::NoValidationResults.into())
    );
}

#[test]
fn completion_requires_validation_first() {
    let mut events = approved_normal();
    events.extend([scheduled(), started()]);
    assert_eq!(
        when(
            &events,
            ChangeCommand::Complete {
                summary: "done".into()
            },
            &manager()
        ),
        Err(ChangeError::NotValidating(ChangeStatus::InProgress).into())
    );
}

#[test]
fn completion_requires_every_validation_result_passed() {
    let mut events = approved_normal();
    events.extend([scheduled(), started(), validated(false)]);
    assert_eq!(
        when(
            &events,
            ChangeCommand::Complete {
                summary: "done".into()
            },
            &manager()
        ),
        Err(ChangeError::ValidationNotPassed.into())
    );
}

#[test]
fn validated_change_completes() {
    let mut events = approved_normal();
    events.extend([scheduled(), started(), validated(true)]);
    let completed = ChangeEvent::Completed(ChangeCompleted {
        by: actor("requester"),
        at: Timestamp(T0),
        summary: "done".into(),
    });
    assert_eq!(
        when(
            &events,
            ChangeCommand::Complete {
                summary: "done".into()
            },
            &manager()
        ),
        Ok(vec![completed.clone()])
    );
    events.push(completed);
    let state = given::<ChangeState>(&events);
    assert_eq!(
        (state.status, state.closed_at),
        (ChangeStatus::Completed, Some(Timestamp(T0)))
    );
}

#[test]
fn change_under_way_can_fail_or_roll_back() {
    let mut events = approved_normal();
    events.extend([scheduled(), started()]);
    assert_eq!(
        when(
            &events,
            ChangeCommand::Fail {
                reason: "boom".into()
            },
            &manager()
        ),
        Ok(vec![ChangeEvent::Failed(ChangeFailed {
            by: actor("requester"),
            at: Timestamp(T0),
            reason: "boom".into(),
        })])
    );
    events.push(validated(false));
    assert_eq!(
        when(
            &events,
            ChangeCommand::RollBack {
                reason: "boom".into()
            },
            &manager()
        ),
        Ok(vec![ChangeEvent::RolledBack(ChangeRolledBack {
            by: actor("requester"),
            at: Timestamp(T0),
            reason: "boom".into(),
        })])
    );
}

#[test]
fn change_not_under_way_cannot_fail() {
    assert_eq!(
        when(
            &approved_normal(),
            ChangeCommand::RollBack { reason: "x".into() },
            &manager()
        ),
        Err(ChangeError::NotUnderway(ChangeStatus::Approved).into())
    );
}

// ---- cancel ----

#[test]
fn change_can_be_cancelled_before_it_starts() {
    let mut events = approved_normal();
    events.push(scheduled());
    assert_eq!(
        when(
            &events,
            ChangeCommand::Cancel {
                reason: "moved".into()
            },
            &manager()
        ),
        Ok(vec![ChangeEvent::Cancelled(ChangeCancelled {
            by: actor("requester"),
            at: Timestamp(T0),
            reason: "moved".into(),
            from: ChangeStatus::Scheduled,
        })])
    );
}

#[test]
fn change_cannot_be_cancelled_once_in_progress() {
    let mut events = approved_normal();
    events.extend([scheduled(), started()]);
    assert_eq!(
        when(
            &events,
            ChangeCommand::Cancel { reason: "x".into() },
            &manager()
        ),
        Err(ChangeError::NotCancellable(ChangeStatus::InProgress).into())
    );
}

#[test]
fn type_names_are_the_struct_names() {
    assert_eq!(
        requested(ChangeType::Normal, 3).type_name(),
        "ChangeRequested"
    );
    assert_eq!(approved(&[], false).type_name(), "ChangeApproved");
    assert_eq!(validated(true).type_name(), "ChangeValidationRecorded");
    assert_eq!(validated(true).schema_version(), 1);
}

// ---- property: replay ----

fn arb_type() -> impl Strategy<Value = ChangeType> {
    prop_oneof![
        Just(ChangeType::Standard),
        Just(ChangeType::Normal),
        Just(ChangeType::Emergency)
    ]
}

fn arb_command() -> impl Strategy<Value = Cmd> {
    let plain = prop_oneof![
        Just(ChangeCommand::Submit),
        Just(approve()),
        Just(ChangeCommand::Reject {
            reason: "no".into()
        }),
        Just(ChangeCommand::Start),
        any::<bool>().prop_map(|p| ChangeCommand::RecordValidation {
            results: vec![result(p)]
        }),
        Just(ChangeCommand::Complete {
            summary: "s".into()
        }),
        Just(ChangeCommand::Fail { reason: "f".into() }),
        Just(ChangeCommand::RollBack { reason: "r".into() }),
        Just(ChangeCommand::Cancel { reason: "c".into() }),
    ];
    prop_oneof![
        (arb_type(), 1u8..=3).prop_map(|(t, tier)| request(t, tier)),
        any::<bool>().prop_map(|frozen| {
            let freezes = if frozen {
                vec![global_freeze()]
            } else {
                vec![]
            };
            schedule(freezes, vec![])
        }),
        plain.prop_map(Cmd::from),
    ]
}

fn arb_ctx() -> impl Strategy<Value = Context> {
    let names = prop_oneof![Just("requester"), Just("alice"), Just("bob")];
    (names, 0i64..100_000).prop_map(|(n, t)| ctx(t, n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn replaying_change_events_rebuilds_the_same_state(
        steps in prop::collection::vec((arb_command(), arb_ctx()), 0..24)
    ) {
        let steps = steps.into_iter().map(|(Cmd(c, f), ctx)| (c, f, ctx)).collect();
        prop_assert_eq!(check_replay::<ChangeState>(steps, |s| s.version), Ok(()));
    }
}
