//! Given/when/then tests of the service rules, plus a property test.

use super::*;
use crate::testing;
use proptest::prelude::*;
use ulid::Ulid;

fn sid(n: u128) -> ServiceId {
    ServiceId::new(Ulid(n))
}

fn admin() -> Context {
    Context::new(Timestamp(1_000), "alice")
}

fn profile(name: &str, deps: Vec<ServiceId>) -> ServiceProfile {
    ServiceProfile {
        name: name.to_string(),
        owner_team: "payments".to_string(),
        tier: Tier::ONE,
        description: "takes money".to_string(),
        runbook_url: Some("https://runbooks/checkout".to_string()),
        dependencies: deps,
        slo_target: SloTarget(999_000),
        rto_secs: 900,
        rpo_secs: 60,
        escalation_policy: EscalationPolicy {
            levels: vec![EscalationLevel {
                target: "oncall-payments".to_string(),
                ack_timeout_secs: 300,
            }],
        },
    }
}

fn register(id: ServiceId, profile: ServiceProfile) -> ServiceCommand {
    ServiceCommand::Register(RegisterService { id, profile })
}

fn no_facts() -> CatalogFacts {
    CatalogFacts::default()
}

fn given(events: &[ServiceEvent]) -> ServiceState {
    events
        .iter()
        .fold(ServiceState::default(), |s, e| s.evolve(e))
}

fn registered(id: ServiceId) -> ServiceEvent {
    ServiceEvent::Registered(ServiceRegistered {
        id,
        profile: profile("checkout", vec![]),
        by: Actor("alice".into()),
        at: Timestamp(1_000),
    })
}

fn retired(id: ServiceId) -> ServiceEvent {
    ServiceEvent::Retired(ServiceRetired {
        id,
        reason: "replaced".into(),
        by: Actor("alice".into()),
        at: Timestamp(1_000),
    })
}

#[test]
fn register_emits_registered_with_sorted_unique_dependencies() {
    let cmd = register(sid(1), profile("checkout", vec![sid(3), sid(2), sid(3)]));
    let events = given(&[]).decide(cmd, no_facts(), &admin()).unwrap();
    assert_eq!(
        events,
        vec![ServiceEvent::Registered(ServiceRegistered {
            id: sid(1),
            profile: profile("checkout", vec![sid(2), sid(3)]),
            by: Actor("alice".into()),
            at: Timestamp(1_000),
        })]
    );
}

#[test]
fn register_twice_is_rejected() {
    let err = given(&[registered(sid(1))]).decide(
        register(sid(1), profile("x", vec![])),
        no_facts(),
        &admin(),
    );
    assert_eq!(err, Err(ServiceError::AlreadyRegistered.into()));
}

#[test]
fn unique_name_taken_is_rejected() {
    let (cmd, facts) = (
        ServiceCommand::Register(RegisterService {
            id: sid(1),
            profile: profile("checkout", vec![]),
        }),
        CatalogFacts {
            name_taken: true,
            dependency_graph: DependencyGraph::new(),
        },
    );
    assert_eq!(
        given(&[]).decide(cmd, facts, &admin()),
        Err(ServiceError::NameTaken.into())
    );
}

#[test]
fn invalid_profile_fields_are_rejected() {
    type Mutation = Box<dyn Fn(&mut ServiceProfile)>;
    let cases: Vec<(Mutation, ServiceError)> = vec![
        (Box::new(|p| p.name = "  ".into()), ServiceError::EmptyName),
        (
            Box::new(|p| p.name = "n".repeat(MAX_NAME_CHARS + 1)),
            ServiceError::NameTooLong,
        ),
        (
            Box::new(|p| p.owner_team = String::new()),
            ServiceError::EmptyOwnerTeam,
        ),
        (Box::new(|p| p.tier = Tier(4)), ServiceError::InvalidTier),
        (
            Box::new(|p| p.slo_target = SloTarget(0)),
            ServiceError::InvalidSloTarget,
        ),
        (
            Box::new(|p| p.escalation_policy.levels[0].ack_timeout_secs = 0),
            ServiceError::InvalidEscalationLevel,
        ),
    ];
    for (mutate, expected) in cases {
        let mut p = profile("checkout", vec![]);
        mutate(&mut p);
        assert_eq!(
            given(&[]).decide(register(sid(1), p), no_facts(), &admin()),
            Err(expected.clone().into())
        );
    }
}

#[test]
fn dependency_cycle_is_rejected() {
    // 2 -> 3 -> 1 already; registering 1 -> 2 closes the cycle.
    let graph = DependencyGraph::from([(sid(2), vec![sid(3)]), (sid(3), vec![sid(1)])]);
    let (cmd, facts) = (
        ServiceCommand::Register(RegisterService {
            id: sid(1),
            profile: profile("checkout", vec![sid(2)]),
        }),
        CatalogFacts {
            name_taken: false,
            dependency_graph: graph,
        },
    );
    assert_eq!(
        given(&[]).decide(cmd, facts, &admin()),
        Err(ServiceError::DependencyCycle.into())
    );
}

#[test]
fn dependency_on_itself_is_a_cycle() {
    let cmd = register(sid(1), profile("checkout", vec![sid(1)]));
    assert_eq!(
        given(&[]).decide(cmd, no_facts(), &admin()),
        Err(ServiceError::DependencyCycle.into())
    );
}

#[test]
fn dependency_dag_with_shared_leaf_is_accepted() {
    let graph = DependencyGraph::from([
        (sid(2), vec![sid(4)]),
        (sid(3), vec![sid(4)]),
        (sid(4), vec![]),
    ]);
    assert!(!creates_cycle(sid(1), &[sid(2), sid(3)], &graph));
}

#[test]
fn update_replaces_the_profile() {
    let (cmd, facts) = (
        ServiceCommand::Update(UpdateService {
            profile: profile("checkout-v2", vec![]),
        }),
        CatalogFacts {
            name_taken: false,
            dependency_graph: DependencyGraph::new(),
        },
    );
    let events = given(&[registered(sid(1))])
        .decide(cmd, facts, &admin())
        .unwrap();
    assert_eq!(
        events,
        vec![ServiceEvent::Updated(ServiceUpdated {
            id: sid(1),
            profile: profile("checkout-v2", vec![]),
            by: Actor("alice".into()),
            at: Timestamp(1_000),
        })]
    );
}

#[test]
fn update_of_unregistered_service_is_rejected() {
    let (cmd, facts) = (
        ServiceCommand::Update(UpdateService {
            profile: profile("x", vec![]),
        }),
        CatalogFacts {
            name_taken: false,
            dependency_graph: DependencyGraph::new(),
        },
    );
    assert_eq!(
        given(&[]).decide(cmd, facts, &admin()),
        Err(ServiceError::NotRegistered.into())
    );
}

#[test]
fn update_introducing_cycle_is_rejected() {
    let graph = DependencyGraph::from([(sid(2), vec![sid(1)])]);
    let (cmd, facts) = (
        ServiceCommand::Update(UpdateService {
            profile: profile("checkout", vec![sid(2)]),
        }),
        CatalogFacts {
            name_taken: false,
            dependency_graph: graph,
        },
    );
    let state = given(&[registered(sid(1))]);
    assert_eq!(
        state.decide(cmd, facts, &admin()),
        Err(ServiceError::DependencyCycle.into())
    );
}

#[test]
fn retire_emits_retired_and_blocks_further_changes() {
    let state = given(&[registered(sid(1))]);
    let cmd = ServiceCommand::Retire(RetireService {
        reason: "replaced".into(),
    });
    assert_eq!(
        state.decide(cmd.clone(), no_facts(), &admin()),
        Ok(vec![retired(sid(1))])
    );
    let state = given(&[registered(sid(1)), retired(sid(1))]);
    assert!(state.is_retired());
    assert_eq!(
        state.decide(cmd, no_facts(), &admin()),
        Err(ServiceError::Retired.into())
    );
}

#[test]
fn slo_target_parses_percentages_exactly() {
    assert_eq!(SloTarget::from_percent(99.9), Some(SloTarget(999_000)));
    assert_eq!(SloTarget::from_percent(99.99), Some(SloTarget(999_900)));
    assert_eq!(SloTarget::from_percent(0.0), None);
    assert_eq!(SloTarget::from_percent(100.5), None);
    assert_eq!(SloTarget::from_percent(f64::NAN), None);
    assert_eq!(Tier::new(0), None);
    assert_eq!(Tier::new(2), Some(Tier::TWO));
}

fn taken(name_taken: bool) -> CatalogFacts {
    CatalogFacts {
        name_taken,
        dependency_graph: DependencyGraph::new(),
    }
}

fn arb_command() -> impl Strategy<Value = (ServiceCommand, CatalogFacts)> {
    let name = prop_oneof![Just("a"), Just("b"), Just("")];
    prop_oneof![
        (1u128..4, name.clone(), any::<bool>()).prop_map(|(id, n, t)| {
            let profile = profile(n, vec![sid(id + 1)]);
            (
                ServiceCommand::Register(RegisterService {
                    id: sid(id),
                    profile,
                }),
                taken(t),
            )
        }),
        (name, any::<bool>()).prop_map(|(n, t)| {
            let profile = profile(n, vec![]);
            (ServiceCommand::Update(UpdateService { profile }), taken(t))
        }),
        Just((
            ServiceCommand::Retire(RetireService { reason: "r".into() }),
            no_facts()
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn folding_decided_events_is_consistent(cmds in proptest::collection::vec(arb_command(), 0..12)) {
        let steps = cmds
            .into_iter()
            .enumerate()
            .map(|(i, (cmd, facts))| (cmd, facts, Context::new(Timestamp(i as i64), "alice")))
            .collect();
        prop_assert_eq!(testing::check_replay::<ServiceState>(steps, |s| s.version), Ok(()));
    }
}
