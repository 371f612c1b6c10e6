//! Reservations and persistent volumes, through ACCEPT and through the operator.

use super::*;
use v1::offer::operation;

fn dyn_reserved(mut r: v1::Resource, role: &str) -> v1::Resource {
    r.reservations.push(v1::resource::ReservationInfo {
        r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
        role: Some(role.into()),
        principal: None,
        labels: None,
    });
    r
}

fn volume(id: &str, role: &str) -> v1::Resource {
    let mut r = dyn_reserved(scalar("disk", 100.0), role);
    r.disk = Some(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: id.into(),
            principal: None,
        }),
        volume: Some(v1::Volume {
            container_path: "data".into(),
            mode: v1::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    });
    r
}

fn op(kind: operation::Type) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

#[allow(deprecated)] // the legacy single `role` is what most frameworks still send
fn subscribe_in(core: &mut MasterCore, name: &str, role: &str) -> String {
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: name.into(),
        role: Some(role.into()),
        ..Default::default()
    };
    core.subscribe(
        call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        &format!("s-{name}"),
        T0,
    )
    .expect("subscribe")
    .framework_id
}

#[test]
fn reserve_create_launch_then_the_volume_is_reoffered_only_to_its_role() {
    let mut c = core();
    let db = subscribe_in(&mut c, "db", "db");
    let agent = add_agent(&mut c, "cpus:4;mem:1024;disk:1000");
    c.take_effects();
    c.allocate(T0);
    let offer = offers(&c.take_effects(), &db).pop().expect("offer to db");

    let mut reserve = op(operation::Type::Reserve);
    reserve.reserve = Some(operation::Reserve {
        source: vec![],
        resources: vec![dyn_reserved(scalar("disk", 100.0), "db")],
    });
    let mut create = op(operation::Type::Create);
    create.create = Some(operation::Create {
        volumes: vec![volume("v1", "db")],
    });
    let mut launch = op(operation::Type::Launch);
    launch.launch = Some(operation::Launch {
        task_infos: vec![task(
            "writer",
            &agent,
            vec![scalar("cpus", 1.0), volume("v1", "db")],
        )],
    });
    let call = Call {
        framework_id: Some(v1::FrameworkId { value: db.clone() }),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![reserve, create, launch],
            filters: Some(v1::Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    };
    c.scheduler_call(&db, call, T0).unwrap();
    let msgs = to_agent(&c.take_effects());
    let checkpoints: Vec<&Vec<v1::Resource>> = msgs
        .iter()
        .filter_map(|m| match m {
            MasterMessage::CheckpointResources { resources } => Some(resources),
            _ => None,
        })
        .collect();
    assert_eq!(
        checkpoints.len(),
        2,
        "one checkpoint per operation: {msgs:?}"
    );
    assert!(checkpoints[1].iter().any(|r| r
        .disk
        .as_ref()
        .and_then(|d| d.persistence.as_ref())
        .is_some()));
    assert!(
        msgs.iter()
            .any(|m| matches!(m, MasterMessage::RunTask { .. })),
        "the task using the volume launches"
    );

    // The task ends; the volume comes back to role db and never goes to another role.
    let other = subscribe_in(&mut c, "other", "other");
    let status = v1::TaskStatus {
        task_id: v1::TaskId {
            value: "writer".into(),
        },
        state: TaskState::TaskFinished as i32,
        uuid: Some(vec![3; 16]),
        ..Default::default()
    };
    agent_call(
        &mut c,
        &agent,
        AgentCall::StatusUpdate {
            framework_id: v1::FrameworkId { value: db.clone() },
            status,
            latest_state: None,
        },
        T0 + 1.0,
    )
    .unwrap();
    c.take_effects();
    let mut seen_by_db = false;
    for step in 0..4 {
        let now = T0 + 2.0 + f64::from(step) * 10.0;
        c.allocate(now);
        let effects = c.take_effects();
        for o in offers(&effects, &other) {
            let r = Resources::from_proto(&o.resources).unwrap();
            assert!(
                r.iter().all(|x| x.reservation_role() != Some("db")),
                "role 'other' got db's resources: {r}"
            );
        }
        for o in offers(&effects, &db) {
            let r = Resources::from_proto(&o.resources).unwrap();
            seen_by_db |= r.iter().any(|x| x.is_persistent_volume());
            let decline = Call {
                framework_id: Some(v1::FrameworkId { value: db.clone() }),
                r#type: Some(call::Type::Decline as i32),
                decline: Some(call::Decline {
                    offer_ids: vec![o.id.clone()],
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(1.0),
                    }),
                }),
                ..Default::default()
            };
            c.scheduler_call(&db, decline, now).unwrap();
        }
        for o in offers(&effects, &other) {
            let decline = Call {
                framework_id: Some(v1::FrameworkId {
                    value: other.clone(),
                }),
                r#type: Some(call::Type::Decline as i32),
                decline: Some(call::Decline {
                    offer_ids: vec![o.id.clone()],
                    filters: Some(v1::Filters {
                        refuse_seconds: Some(1.0),
                    }),
                }),
                ..Default::default()
            };
            c.scheduler_call(&other, decline, now).unwrap();
        }
    }
    assert!(seen_by_db, "the volume is re-offered to its role");
    let total = &c.agents[&agent].total;
    assert_eq!(
        total.scalar_total("disk"),
        1000.0,
        "quantities are unchanged by reshaping"
    );
}

#[test]
fn operator_reserve_needs_free_resources_and_a_known_agent() {
    let mut c = core();
    let agent = add_agent(&mut c, "cpus:2;mem:512");
    let ok = super::super::ops::reserve(&[dyn_reserved(scalar("cpus", 1.0), "db")], None, None);
    c.operator_operation(&agent, ok, T0).unwrap();
    assert!(matches!(
        to_agent(&c.take_effects()).last(),
        Some(MasterMessage::CheckpointResources { .. })
    ));
    let too_much =
        super::super::ops::reserve(&[dyn_reserved(scalar("cpus", 5.0), "db")], None, None);
    assert!(matches!(
        c.operator_operation(&agent, too_much, T0),
        Err(super::super::ops::OpError::Conflict(_))
    ));
    let unknown =
        super::super::ops::reserve(&[dyn_reserved(scalar("cpus", 1.0), "db")], None, None);
    assert!(matches!(
        c.operator_operation("nope", unknown, T0),
        Err(super::super::ops::OpError::UnknownAgent(_))
    ));
}
