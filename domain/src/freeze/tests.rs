use super::*;
use crate::testing::{check_replay, ctx, when};
use proptest::prelude::*;
use ulid::Ulid;

const START: i64 = 1_000;
const END: i64 = 5_000;

fn freeze_id() -> FreezeId {
    FreezeId::new(Ulid::from_parts(1, 1))
}

fn manager() -> Context {
    ctx(100, "cm")
}

fn window(start: i64, end: i64) -> TimeWindow {
    TimeWindow::new(Timestamp(start), Timestamp(end))
}

fn create_cmd(scope: FreezeScope) -> FreezeCommand {
    FreezeCommand::Create(CreateFreeze {
        id: freeze_id(),
        window: window(START, END),
        scope,
        reason: "quarter end".into(),
    })
}

fn created() -> FreezeEvent {
    FreezeEvent::Created(FreezeCreated {
        id: freeze_id(),
        window: window(START, END),
        scope: FreezeScope::Global,
        reason: "quarter end".into(),
        by: Actor("cm".into()),
        at: Timestamp(100),
    })
}

fn cancel_cmd() -> FreezeCommand {
    FreezeCommand::Cancel(CancelFreeze {
        reason: "release moved".into(),
    })
}

#[test]
fn create_freeze_records_window_scope_and_reason() {
    assert_eq!(
        when::<FreezeState>(&[], create_cmd(FreezeScope::Global), (), &manager()),
        Ok(vec![created()])
    );
}

#[test]
fn freeze_window_must_end_after_it_starts() {
    let cmd = FreezeCommand::Create(CreateFreeze {
        id: freeze_id(),
        window: window(END, END),
        scope: FreezeScope::Global,
        reason: "x".into(),
    });
    assert_eq!(
        when::<FreezeState>(&[], cmd, (), &manager()),
        Err(FreezeError::WindowEndsBeforeStart.into())
    );
}

#[test]
fn per_service_freeze_needs_a_service() {
    assert_eq!(
        when::<FreezeState>(
            &[],
            create_cmd(FreezeScope::Services(vec![])),
            (),
            &manager()
        ),
        Err(FreezeError::NoServices.into())
    );
}

#[test]
fn freeze_needs_a_reason() {
    let cmd = FreezeCommand::Create(CreateFreeze {
        id: freeze_id(),
        window: window(START, END),
        scope: FreezeScope::Global,
        reason: "  ".into(),
    });
    assert_eq!(
        when::<FreezeState>(&[], cmd, (), &manager()),
        Err(DomainError::Invalid {
            field: "reason",
            reason: "must not be empty"
        })
    );
}

#[test]
fn freeze_cannot_be_created_twice() {
    assert_eq!(
        when::<FreezeState>(
            &[created()],
            create_cmd(FreezeScope::Global),
            (),
            &manager()
        ),
        Err(FreezeError::AlreadyCreated.into())
    );
}

#[test]
fn cancel_freeze_records_who_and_why() {
    assert_eq!(
        when::<FreezeState>(&[created()], cancel_cmd(), (), &manager()),
        Ok(vec![FreezeEvent::Cancelled(FreezeCancelled {
            by: Actor("cm".into()),
            at: Timestamp(100),
            reason: "release moved".into(),
        })])
    );
}

#[test]
fn cancel_twice_is_an_error() {
    let cancelled = FreezeEvent::Cancelled(FreezeCancelled {
        by: Actor("cm".into()),
        at: Timestamp(100),
        reason: "x".into(),
    });
    assert_eq!(
        when::<FreezeState>(&[created(), cancelled], cancel_cmd(), (), &manager()),
        Err(FreezeError::AlreadyCancelled.into())
    );
}

#[test]
fn cancel_unknown_freeze_is_not_found() {
    assert_eq!(
        when::<FreezeState>(&[], cancel_cmd(), (), &manager()),
        Err(FreezeError::NotFound.into())
    );
}

#[test]
fn active_fact_is_gone_after_cancel() {
    let state = crate::testing::given::<FreezeState>(&[created()]);
    assert_eq!(
        state.active_fact(),
        Some(FreezeFact {
            id: freeze_id(),
            window: window(START, END),
            scope: FreezeScope::Global
        })
    );
    let cancelled = state.evolve(&FreezeEvent::Cancelled(FreezeCancelled {
        by: Actor("cm".into()),
        at: Timestamp(1),
        reason: "x".into(),
    }));
    assert_eq!(cancelled.active_fact(), None);
}

#[test]
fn service_freeze_blocks_only_overlapping_changes_on_its_services() {
    let a = ServiceId::new(Ulid::from_parts(2, 1));
    let b = ServiceId::new(Ulid::from_parts(2, 2));
    let fact = FreezeFact {
        id: freeze_id(),
        window: window(START, END),
        scope: FreezeScope::Services(vec![a]),
    };
    assert!(fact.blocks(&window(END - 1, END + 10), &[b, a]));
    assert!(!fact.blocks(&window(END, END + 10), &[a]));
    assert!(!fact.blocks(&window(START, END), &[b]));
}

fn arb_command() -> impl Strategy<Value = FreezeCommand> {
    prop_oneof![
        (0i64..10, 0i64..10, any::<bool>()).prop_map(|(s, e, global)| {
            FreezeCommand::Create(CreateFreeze {
                id: freeze_id(),
                window: window(s, e),
                scope: if global {
                    FreezeScope::Global
                } else {
                    FreezeScope::Services(vec![ServiceId::new(Ulid::from_parts(2, 1))])
                },
                reason: "r".into(),
            })
        }),
        Just(cancel_cmd()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn replaying_freeze_events_rebuilds_the_same_state(
        cmds in prop::collection::vec(arb_command(), 0..8)
    ) {
        let steps = cmds
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, (), ctx(i as i64, "cm")))
            .collect();
        prop_assert_eq!(check_replay::<FreezeState>(steps, |s| s.version), Ok(()));
    }
}
