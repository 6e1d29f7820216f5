//! One test per rule of the role table, and the table's coverage.

use super::*;
use opsledger_domain::alert::{AlertGroupKey, IngestAlert};
use opsledger_domain::change::{RequestChange, ScheduleChange, ValidationResult};
use opsledger_domain::freeze::{CancelFreeze, CreateFreeze, FreezeScope};
use opsledger_domain::incident::{DeclareIncident, ImpactLevel, Severity, Stage, Visibility};
use opsledger_domain::review::SectionContent;
use opsledger_domain::service::{
    EscalationPolicy, RegisterService, RetireService, ServiceProfile, SloTarget, Tier,
    UpdateService,
};
use opsledger_domain::text::{BoundedText, Note, Reason, StatusMessage, Summary};
use opsledger_domain::{
    ActionItemId, Actor, ChangeId, FreezeId, IncidentId, ReviewId, ServiceId, TimeWindow, Timestamp,
};
use opsledger_storage::Ulid;

const ALL_ROLES: [Role; 5] = [
    Role::Viewer,
    Role::Responder,
    Role::Approver,
    Role::ChangeManager,
    Role::Admin,
];

fn who(role: Role) -> Principal {
    Principal::new(role.as_str(), vec![role])
}

fn service_id() -> ServiceId {
    ServiceId::new(Ulid(1))
}
fn incident_id() -> IncidentId {
    IncidentId::new(Ulid(2))
}
fn change_id() -> ChangeId {
    ChangeId::new(Ulid(3))
}
fn freeze_id() -> FreezeId {
    FreezeId::new(Ulid(4))
}
fn review_id() -> ReviewId {
    ReviewId::new(Ulid(5))
}
fn window() -> TimeWindow {
    TimeWindow::new(Timestamp(1), Timestamp(2))
}

fn profile() -> ServiceProfile {
    ServiceProfile {
        name: "checkout".into(),
        owner_team: "payments".into(),
        tier: Tier::ONE,
        description: String::new(),
        runbook_url: None,
        dependencies: vec![],
        slo_target: SloTarget(999_000),
        rto_secs: 0,
        rpo_secs: 0,
        escalation_policy: EscalationPolicy::default(),
    }
}

fn service(intent: ServiceCommand) -> AppCommand {
    AppCommand::Service {
        id: service_id(),
        intent,
    }
}
fn incident(intent: IncidentCommand) -> AppCommand {
    AppCommand::Incident {
        id: incident_id(),
        intent,
    }
}
fn change(intent: ChangeCommand) -> AppCommand {
    AppCommand::Change {
        id: change_id(),
        intent,
    }
}
fn freeze(intent: FreezeCommand) -> AppCommand {
    AppCommand::Freeze {
        id: freeze_id(),
        intent,
    }
}
fn review(intent: ReviewCommand) -> AppCommand {
    AppCommand::Review {
        id: review_id(),
        intent,
    }
}

fn declare() -> AppCommand {
    incident(IncidentCommand::Declare(DeclareIncident {
        id: incident_id(),
        title: "down".into(),
        description: String::new(),
        severity: None,
        impacts: vec![],
        started_at: None,
        detected_at: None,
        alert_group: None,
    }))
}

fn ingest() -> AppCommand {
    AppCommand::IngestAlert(IngestAlert {
        group: AlertGroupKey {
            service: service_id(),
            dedup_key: "cpu".into(),
        },
        source: "test".into(),
        summary: "cpu high".into(),
        severity_hint: None,
        labels: vec![],
        started_at: None,
        firing: true,
        impact: ImpactLevel::Degraded,
        new_incident_id: incident_id(),
    })
}

fn request_change() -> AppCommand {
    change(ChangeCommand::Request(RequestChange {
        id: change_id(),
        change_type: Default::default(),
        category: Default::default(),
        title: "patch".into(),
        description: String::new(),
        services: vec![service_id()],
        window: window(),
        implementation_plan: "do".into(),
        rollback_plan: "undo".into(),
        validation_steps: vec![],
    }))
}

/// One command of every operation (every intent of every aggregate).
fn every_operation() -> Vec<AppCommand> {
    let reason = || Reason::parse("r").expect("bounded");
    let person = || Actor("pat".into());
    vec![
        service(ServiceCommand::Register(RegisterService {
            id: service_id(),
            profile: profile(),
        })),
        service(ServiceCommand::Update(UpdateService { profile: profile() })),
        service(ServiceCommand::Retire(RetireService { reason: "r".into() })),
        declare(),
        incident(IncidentCommand::Acknowledge),
        incident(IncidentCommand::Advance {
            to: Stage::Investigating,
        }),
        incident(IncidentCommand::AssignCommander {
            commander: person(),
        }),
        incident(IncidentCommand::AddResponder {
            responder: person(),
        }),
        incident(IncidentCommand::RemoveResponder {
            responder: person(),
        }),
        incident(IncidentCommand::Escalate),
        incident(IncidentCommand::CheckEscalation),
        incident(IncidentCommand::ChangeSeverity { to: Severity::Sev1 }),
        incident(IncidentCommand::UpdateImpact {
            service: service_id(),
            level: ImpactLevel::Degraded,
        }),
        incident(IncidentCommand::AddNote {
            text: Note::parse("n").expect("bounded"),
        }),
        incident(IncidentCommand::PostStatusUpdate {
            visibility: Visibility::Internal,
            message: StatusMessage::parse("m").expect("bounded"),
        }),
        incident(IncidentCommand::LinkCauseChange {
            change: change_id(),
        }),
        incident(IncidentCommand::LinkAlertGroup {
            group: AlertGroupKey {
                service: service_id(),
                dedup_key: "cpu".into(),
            },
        }),
        incident(IncidentCommand::MergeInto {
            target: incident_id(),
        }),
        incident(IncidentCommand::AbsorbDuplicate {
            duplicate: incident_id(),
        }),
        incident(IncidentCommand::Resolve {
            summary: Summary::parse("s").expect("bounded"),
        }),
        incident(IncidentCommand::Close),
        incident(IncidentCommand::UndoDuplicateMerge {
            duplicate: incident_id(),
            reason: "r".into(),
        }),
        incident(IncidentCommand::Reopen { reason: reason() }),
        AppCommand::MergeIncident {
            duplicate: incident_id(),
            target: IncidentId::new(Ulid(9)),
        },
        ingest(),
        request_change(),
        change(ChangeCommand::Submit),
        change(ChangeCommand::Approve {
            comment: String::new(),
        }),
        change(ChangeCommand::Reject { reason: "r".into() }),
        change(ChangeCommand::Schedule(ScheduleChange { window: window() })),
        change(ChangeCommand::Start),
        change(ChangeCommand::RecordValidation {
            results: vec![ValidationResult {
                step: "s".into(),
                passed: true,
                notes: String::new(),
            }],
        }),
        change(ChangeCommand::Complete {
            summary: String::new(),
        }),
        change(ChangeCommand::Fail { reason: "r".into() }),
        change(ChangeCommand::RollBack { reason: "r".into() }),
        change(ChangeCommand::Cancel { reason: "r".into() }),
        freeze(FreezeCommand::Create(CreateFreeze {
            id: freeze_id(),
            window: window(),
            scope: FreezeScope::Global,
            reason: "r".into(),
        })),
        freeze(FreezeCommand::Cancel(CancelFreeze { reason: "r".into() })),
        review(ReviewCommand::Create {
            id: review_id(),
            incident: incident_id(),
        }),
        review(ReviewCommand::EditSection(SectionContent::Summary(
            "s".into(),
        ))),
        review(ReviewCommand::AddActionItem {
            id: ActionItemId::new(Ulid(6)),
            title: "t".into(),
            owner: "o".into(),
            due: Timestamp(1),
        }),
        review(ReviewCommand::CompleteActionItem {
            id: ActionItemId::new(Ulid(6)),
        }),
        review(ReviewCommand::Submit),
        review(ReviewCommand::Publish),
    ]
}

/// The roles among [`ALL_ROLES`] that may issue `command`.
fn allowed(command: &AppCommand) -> Vec<Role> {
    ALL_ROLES
        .into_iter()
        .filter(|role| authorize(&who(*role), Operation::Command(command)).is_ok())
        .collect()
}

#[test]
fn every_operation_has_a_role_and_no_operation_is_open_to_a_viewer() {
    let operations = every_operation();
    // One sample per intent variant: 3 service, 20 incident, merge, ingest,
    // 11 change, 2 freeze, 6 review.
    assert_eq!(operations.len(), 3 + 20 + 1 + 1 + 11 + 2 + 6);
    for command in &operations {
        let role = required_role(command);
        assert_ne!(role, Role::Viewer, "{command:?} needs more than viewer");
        assert!(allowed(command).contains(&role), "{command:?}");
    }
}

#[test]
fn admin_may_do_every_operation() {
    for command in every_operation() {
        assert!(
            authorize(&who(Role::Admin), Operation::Command(&command)).is_ok(),
            "{command:?}"
        );
    }
    assert!(authorize(&who(Role::Admin), Operation::OnlineBackup).is_ok());
    assert!(authorize(&who(Role::Admin), Operation::AlertWebhook).is_ok());
}

#[test]
fn a_viewer_may_not_declare_an_incident() {
    let refused = authorize(&who(Role::Viewer), Operation::Command(&declare()));
    assert!(matches!(
        refused,
        Err(AppError::Forbidden {
            role: Role::Responder,
            ..
        })
    ));
}

#[test]
fn a_viewer_may_do_no_operation() {
    for command in every_operation() {
        assert!(
            authorize(&who(Role::Viewer), Operation::Command(&command)).is_err(),
            "{command:?}"
        );
    }
    assert!(authorize(&who(Role::Viewer), Operation::AlertWebhook).is_err());
    assert!(authorize(&who(Role::Viewer), Operation::OnlineBackup).is_err());
}

#[test]
fn a_principal_without_roles_may_do_nothing() {
    let nobody = Principal::new("nobody", vec![]);
    for command in every_operation() {
        assert!(authorize(&nobody, Operation::Command(&command)).is_err());
    }
}

#[test]
fn only_an_admin_may_register_update_or_retire_a_service() {
    for command in every_operation() {
        if matches!(command, AppCommand::Service { .. }) {
            assert_eq!(allowed(&command), vec![Role::Admin], "{command:?}");
        }
    }
}

#[test]
fn only_a_responder_may_work_an_incident_or_ingest_an_alert() {
    for command in every_operation() {
        if matches!(
            command,
            AppCommand::Incident { .. }
                | AppCommand::MergeIncident { .. }
                | AppCommand::IngestAlert(_)
        ) {
            assert_eq!(
                allowed(&command),
                vec![Role::Responder, Role::Admin],
                "{command:?}"
            );
        }
    }
}

#[test]
fn only_a_responder_may_write_a_review() {
    for command in every_operation() {
        if matches!(command, AppCommand::Review { .. }) {
            assert_eq!(
                allowed(&command),
                vec![Role::Responder, Role::Admin],
                "{command:?}"
            );
        }
    }
}

#[test]
fn only_an_approver_may_approve_a_change() {
    let approve = change(ChangeCommand::Approve {
        comment: String::new(),
    });
    assert_eq!(allowed(&approve), vec![Role::Approver, Role::Admin]);
}

#[test]
fn only_an_approver_may_reject_a_change() {
    let reject = change(ChangeCommand::Reject { reason: "r".into() });
    assert_eq!(allowed(&reject), vec![Role::Approver, Role::Admin]);
}

#[test]
fn a_change_manager_may_not_approve_a_change() {
    let approve = change(ChangeCommand::Approve {
        comment: String::new(),
    });
    assert!(authorize(&who(Role::ChangeManager), Operation::Command(&approve)).is_err());
}

#[test]
fn only_a_change_manager_may_request_schedule_and_run_a_change() {
    for command in every_operation() {
        let AppCommand::Change { intent, .. } = &command else {
            continue;
        };
        if matches!(
            intent,
            ChangeCommand::Approve { .. } | ChangeCommand::Reject { .. }
        ) {
            continue;
        }
        assert_eq!(
            allowed(&command),
            vec![Role::ChangeManager, Role::Admin],
            "{command:?}"
        );
    }
    assert!(authorize(&who(Role::Approver), Operation::Command(&request_change())).is_err());
}

#[test]
fn only_a_change_manager_may_create_or_cancel_a_freeze() {
    for command in every_operation() {
        if matches!(command, AppCommand::Freeze { .. }) {
            assert_eq!(
                allowed(&command),
                vec![Role::ChangeManager, Role::Admin],
                "{command:?}"
            );
        }
    }
}

#[test]
fn only_an_admin_may_take_an_online_backup() {
    for role in ALL_ROLES {
        let allowed = authorize(&who(role), Operation::OnlineBackup).is_ok();
        assert_eq!(allowed, role == Role::Admin, "{role:?}");
    }
}

#[test]
fn the_alert_webhook_needs_what_ingesting_an_alert_needs() {
    assert_eq!(
        Operation::AlertWebhook.required_role(),
        required_role(&ingest())
    );
}

#[test]
fn a_refusal_names_the_actor_and_the_missing_role() {
    let refused = authorize(&who(Role::Responder), Operation::Command(&request_change()));
    match refused {
        Err(AppError::Forbidden { actor, role }) => {
            assert_eq!((actor.as_str(), role), ("responder", Role::ChangeManager));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn holding_several_roles_grants_each() {
    let both = Principal::new("pat", vec![Role::Responder, Role::Approver]);
    let approve = change(ChangeCommand::Approve {
        comment: String::new(),
    });
    assert!(authorize(&both, Operation::Command(&declare())).is_ok());
    assert!(authorize(&both, Operation::Command(&approve)).is_ok());
    assert!(authorize(&both, Operation::Command(&request_change())).is_err());
}

#[test]
fn every_role_may_read_and_a_principal_without_roles_may_not() {
    for role in ALL_ROLES {
        assert!(authorize(&who(role), Operation::Read).is_ok(), "{role:?}");
    }
    let nobody = Principal::new("nora", vec![]);
    assert!(matches!(
        authorize(&nobody, Operation::Read),
        Err(AppError::Forbidden {
            role: Role::Viewer,
            ..
        })
    ));
}
