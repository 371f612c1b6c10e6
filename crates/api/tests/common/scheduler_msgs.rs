//! One realistic scheduler Call and Event of every type.

use super::*;

fn call(t: scheduler::call::Type) -> scheduler::Call {
    scheduler::Call {
        framework_id: Some(framework_id()),
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// One realistic call of every scheduler Call type (ACCEPT three times: LAUNCH, LAUNCH_GROUP
/// and RESERVE), labelled by the type name.
pub fn scheduler_calls() -> Vec<(&'static str, scheduler::Call)> {
    use scheduler::call::{self as c, Type as T};
    use v1::offer::operation::{self as op, Type as Op};

    let mut subscribe = call(T::Subscribe);
    subscribe.subscribe = Some(c::Subscribe {
        framework_info: framework_info(),
        suppressed_roles: vec!["batch/etl".to_string()],
        offer_constraints: Some(offer_constraints()),
    });

    let teardown = call(T::Teardown);

    let mut launch = call(T::Accept);
    launch.accept = Some(c::Accept {
        offer_ids: vec![offer_id(7), offer_id(8)],
        operations: vec![v1::offer::Operation {
            r#type: Some(Op::Launch as i32),
            launch: Some(op::Launch {
                task_infos: vec![task_info("web"), {
                    let mut t = task_info("worker");
                    t.command = None;
                    t.container = None;
                    t.executor = Some(custom_executor());
                    t
                }],
            }),
            ..Default::default()
        }],
        filters: Some(filters(10.0)),
    });

    let mut launch_group = call(T::Accept);
    launch_group.accept = Some(c::Accept {
        offer_ids: vec![offer_id(9)],
        operations: vec![v1::offer::Operation {
            r#type: Some(Op::LaunchGroup as i32),
            launch_group: Some(op::LaunchGroup {
                executor: default_executor(),
                task_group: task_group(),
            }),
            ..Default::default()
        }],
        filters: None,
    });

    let mut reserve = call(T::Accept);
    reserve.accept = Some(c::Accept {
        offer_ids: vec![offer_id(10)],
        operations: vec![
            v1::offer::Operation {
                r#type: Some(Op::Reserve as i32),
                id: Some(operation_id("reserve-1")),
                reserve: Some(op::Reserve {
                    source: vec![allocated(scalar("cpus", 1.0), "web")],
                    resources: vec![allocated(reserved(scalar("cpus", 1.0), "web"), "web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::Create as i32),
                id: Some(operation_id("create-1")),
                create: Some(op::Create {
                    volumes: vec![persistent_volume("web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::GrowVolume as i32),
                grow_volume: Some(op::GrowVolume {
                    volume: persistent_volume("web"),
                    addition: allocated(reserved(scalar("disk", 512.0), "web"), "web"),
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::ShrinkVolume as i32),
                shrink_volume: Some(op::ShrinkVolume {
                    volume: persistent_volume("web"),
                    subtract: v1::value::Scalar { value: 256.0 },
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::CreateDisk as i32),
                create_disk: Some(op::CreateDisk {
                    source: scalar("disk", 100.0),
                    target_type: v1::resource::disk_info::source::Type::Block as i32,
                    target_profile: Some("fast".to_string()),
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::Unreserve as i32),
                unreserve: Some(op::Unreserve {
                    resources: vec![reserved(scalar("mem", 64.0), "web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::Destroy as i32),
                destroy: Some(op::Destroy {
                    volumes: vec![persistent_volume("web")],
                }),
                ..Default::default()
            },
            v1::offer::Operation {
                r#type: Some(Op::DestroyDisk as i32),
                destroy_disk: Some(op::DestroyDisk {
                    source: scalar("disk", 100.0),
                }),
                ..Default::default()
            },
        ],
        filters: Some(filters(0.0)),
    });

    let mut decline = call(T::Decline);
    decline.decline = Some(c::Decline {
        offer_ids: vec![offer_id(11), offer_id(12)],
        filters: Some(filters(31_536_000.0)),
    });

    let mut accept_inverse = call(T::AcceptInverseOffers);
    accept_inverse.accept_inverse_offers = Some(c::AcceptInverseOffers {
        inverse_offer_ids: vec![offer_id(13)],
        filters: Some(filters(1.5)),
    });

    let mut decline_inverse = call(T::DeclineInverseOffers);
    decline_inverse.decline_inverse_offers = Some(c::DeclineInverseOffers {
        inverse_offer_ids: vec![offer_id(14)],
        filters: Some(filters(2.0)),
    });

    let mut revive = call(T::Revive);
    revive.revive = Some(c::Revive {
        roles: vec!["web".to_string(), "batch/etl".to_string()],
    });

    let mut suppress = call(T::Suppress);
    suppress.suppress = Some(c::Suppress {
        roles: vec!["batch/etl".to_string()],
    });

    let mut kill = call(T::Kill);
    kill.kill = Some(c::Kill {
        task_id: task_id("web.0b5e4a3c"),
        agent_id: Some(agent_id()),
        kill_policy: Some(kill_policy()),
    });

    let mut shutdown = call(T::Shutdown);
    shutdown.shutdown = Some(c::Shutdown {
        executor_id: executor_id("exec-web-1"),
        agent_id: agent_id(),
    });

    let mut acknowledge = call(T::Acknowledge);
    acknowledge.acknowledge = Some(c::Acknowledge {
        agent_id: agent_id(),
        task_id: task_id("web.0b5e4a3c"),
        uuid: uuid_bytes(),
    });

    let mut acknowledge_op = call(T::AcknowledgeOperationStatus);
    acknowledge_op.acknowledge_operation_status = Some(c::AcknowledgeOperationStatus {
        agent_id: Some(agent_id()),
        resource_provider_id: Some(provider_id()),
        uuid: uuid_bytes(),
        operation_id: operation_id("reserve-1"),
    });

    let mut reconcile = call(T::Reconcile);
    reconcile.reconcile = Some(c::Reconcile {
        tasks: vec![
            c::reconcile::Task {
                task_id: task_id("web.0b5e4a3c"),
                agent_id: Some(agent_id()),
            },
            c::reconcile::Task {
                task_id: task_id("lost-task"),
                agent_id: None,
            },
        ],
    });

    let mut reconcile_ops = call(T::ReconcileOperations);
    reconcile_ops.reconcile_operations = Some(c::ReconcileOperations {
        operations: vec![c::reconcile_operations::Operation {
            operation_id: operation_id("reserve-1"),
            agent_id: Some(agent_id()),
            resource_provider_id: Some(provider_id()),
        }],
    });

    let mut message = call(T::Message);
    message.message = Some(c::Message {
        agent_id: agent_id(),
        executor_id: executor_id("exec-web-1"),
        data: b"\x00\x01hello executor\xfe\xff".to_vec(),
    });

    let mut request = call(T::Request);
    request.request = Some(c::Request {
        requests: vec![v1::Request {
            agent_id: Some(agent_id()),
            resources: vec![scalar("cpus", 4.0)],
        }],
    });

    let mut update_framework = call(T::UpdateFramework);
    update_framework.update_framework = Some(c::UpdateFramework {
        framework_info: framework_info(),
        suppressed_roles: vec!["web".to_string()],
        offer_constraints: Some(offer_constraints()),
    });

    vec![
        ("SUBSCRIBE", subscribe),
        ("TEARDOWN", teardown),
        ("ACCEPT", launch),
        ("ACCEPT", launch_group),
        ("ACCEPT", reserve),
        ("DECLINE", decline),
        ("ACCEPT_INVERSE_OFFERS", accept_inverse),
        ("DECLINE_INVERSE_OFFERS", decline_inverse),
        ("REVIVE", revive),
        ("SUPPRESS", suppress),
        ("KILL", kill),
        ("SHUTDOWN", shutdown),
        ("ACKNOWLEDGE", acknowledge),
        ("ACKNOWLEDGE_OPERATION_STATUS", acknowledge_op),
        ("RECONCILE", reconcile),
        ("RECONCILE_OPERATIONS", reconcile_ops),
        ("MESSAGE", message),
        ("REQUEST", request),
        ("UPDATE_FRAMEWORK", update_framework),
    ]
}

fn event(t: scheduler::event::Type) -> scheduler::Event {
    scheduler::Event {
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// One realistic event of every scheduler Event type.
pub fn scheduler_events() -> Vec<(&'static str, scheduler::Event)> {
    use scheduler::event::{self as e, Type as T};

    let mut subscribed = event(T::Subscribed);
    subscribed.subscribed = Some(e::Subscribed {
        framework_id: framework_id(),
        heartbeat_interval_seconds: Some(15.0),
        master_info: Some(master_info()),
    });

    let mut offers = event(T::Offers);
    offers.offers = Some(e::Offers {
        offers: vec![offer(7), offer(8)],
    });

    let mut inverse_offers = event(T::InverseOffers);
    inverse_offers.inverse_offers = Some(e::InverseOffers {
        inverse_offers: vec![inverse_offer(13)],
    });

    let mut rescind = event(T::Rescind);
    rescind.rescind = Some(e::Rescind {
        offer_id: offer_id(7),
    });

    let mut rescind_inverse = event(T::RescindInverseOffer);
    rescind_inverse.rescind_inverse_offer = Some(e::RescindInverseOffer {
        inverse_offer_id: offer_id(13),
    });

    let mut update = event(T::Update);
    update.update = Some(e::Update {
        status: task_status(),
    });

    let mut update_op = event(T::UpdateOperationStatus);
    update_op.update_operation_status = Some(e::UpdateOperationStatus {
        status: operation_status(),
    });

    let mut message = event(T::Message);
    message.message = Some(e::Message {
        agent_id: agent_id(),
        executor_id: executor_id("exec-web-1"),
        data: b"\x00\x01hello scheduler\xfe\xff".to_vec(),
    });

    let mut failure = event(T::Failure);
    failure.failure = Some(e::Failure {
        agent_id: Some(agent_id()),
        executor_id: Some(executor_id("exec-web-1")),
        status: Some(137),
    });

    let mut error = event(T::Error);
    error.error = Some(e::Error {
        message: "Framework has been removed".to_string(),
    });

    let heartbeat = event(T::Heartbeat);

    vec![
        ("SUBSCRIBED", subscribed),
        ("OFFERS", offers),
        ("INVERSE_OFFERS", inverse_offers),
        ("RESCIND", rescind),
        ("RESCIND_INVERSE_OFFER", rescind_inverse),
        ("UPDATE", update),
        ("UPDATE_OPERATION_STATUS", update_op),
        ("MESSAGE", message),
        ("FAILURE", failure),
        ("ERROR", error),
        ("HEARTBEAT", heartbeat),
    ]
}
