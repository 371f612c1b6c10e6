//! Scheduler calls and events (§1.3, §1.4): every payload's shape.

use super::*;

#[test]
fn scheduler_call_payload_shapes() {
    let revive: scheduler::Call = decode(
        r#"{"type":"REVIVE","framework_id":{"value":"f"},"revive":{"roles":["web","batch"]}}"#,
    );
    assert_eq!(revive.revive.expect("revive").roles, vec!["web", "batch"]);

    // REVIVE and SUPPRESS may come without payload (all roles).
    let suppress: scheduler::Call = decode(r#"{"type":"SUPPRESS","framework_id":{"value":"f"}}"#);
    assert_eq!(suppress.r#type(), scheduler::call::Type::Suppress);
    assert_eq!(suppress.suppress, None);

    let kill: scheduler::Call = decode(
        r#"{"type":"KILL","framework_id":{"value":"f"},"kill":{"task_id":{"value":"t"},"agent_id":{"value":"a"},
            "kill_policy":{"grace_period":{"nanoseconds":3000000000}}}}"#,
    );
    assert_eq!(kill.kill.expect("kill").kill_policy, Some(kill_policy()));

    let shutdown: scheduler::Call = decode(
        r#"{"type":"SHUTDOWN","framework_id":{"value":"f"},"shutdown":{"executor_id":{"value":"e"},"agent_id":{"value":"a"}}}"#,
    );
    assert_eq!(
        shutdown.shutdown.expect("shutdown").executor_id,
        executor_id("e")
    );

    let reconcile: scheduler::Call = decode(
        r#"{"type":"RECONCILE","framework_id":{"value":"f"},"reconcile":{"tasks":[{"task_id":{"value":"t1"}},
            {"task_id":{"value":"t2"},"agent_id":{"value":"a"}}]}}"#,
    );
    let tasks = reconcile.reconcile.expect("reconcile").tasks;
    assert_eq!(
        (tasks[0].agent_id.clone(), tasks[1].agent_id.clone()),
        (None, Some(v1::AgentId { value: "a".into() }))
    );

    // Implicit reconciliation: an empty payload.
    let implicit: scheduler::Call =
        decode(r#"{"type":"RECONCILE","framework_id":{"value":"f"},"reconcile":{}}"#);
    assert!(implicit.reconcile.expect("reconcile").tasks.is_empty());

    let reconcile_ops: scheduler::Call = decode(
        r#"{"type":"RECONCILE_OPERATIONS","framework_id":{"value":"f"},
            "reconcile_operations":{"operations":[{"operation_id":{"value":"op1"},"agent_id":{"value":"a"},
            "resource_provider_id":{"value":"rp"}}]}}"#,
    );
    assert_eq!(
        reconcile_ops
            .reconcile_operations
            .expect("payload")
            .operations[0]
            .operation_id,
        operation_id("op1")
    );

    let message: scheduler::Call = decode(
        r#"{"type":"MESSAGE","framework_id":{"value":"f"},"message":{"agent_id":{"value":"a"},
            "executor_id":{"value":"e"},"data":"aGVsbG8="}}"#,
    );
    assert_eq!(message.message.expect("message").data, b"hello".to_vec());

    let request: scheduler::Call = decode(
        r#"{"type":"REQUEST","framework_id":{"value":"f"},"request":{"requests":[{"agent_id":{"value":"a"},
            "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}]}}"#,
    );
    assert_eq!(
        request.request.expect("request").requests[0].resources,
        vec![scalar("cpus", 1.0)]
    );

    let decline: scheduler::Call = decode(
        r#"{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":[{"value":"o1"}],"filters":{"refuse_seconds":60}}}"#,
    );
    assert_eq!(
        decline.decline.expect("decline").filters,
        Some(filters(60.0))
    );

    let inverse: scheduler::Call = decode(
        r#"{"type":"ACCEPT_INVERSE_OFFERS","framework_id":{"value":"f"},"accept_inverse_offers":{"inverse_offer_ids":[{"value":"o1"}]}}"#,
    );
    assert_eq!(
        inverse
            .accept_inverse_offers
            .expect("payload")
            .inverse_offer_ids[0]
            .value,
        "o1"
    );

    let update: scheduler::Call = decode(
        r#"{"type":"UPDATE_FRAMEWORK","framework_id":{"value":"f"},"update_framework":{"framework_info":{"user":"u","name":"n",
            "id":{"value":"f"}},"suppressed_roles":["web"]}}"#,
    );
    assert_eq!(
        update.update_framework.expect("payload").suppressed_roles,
        vec!["web"]
    );

    let teardown: scheduler::Call = decode(r#"{"type":"TEARDOWN","framework_id":{"value":"f"}}"#);
    assert_eq!(teardown.r#type(), scheduler::call::Type::Teardown);
}

#[test]
fn scheduler_event_payload_shapes() {
    let subscribed: scheduler::Event = decode(
        r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"},"heartbeat_interval_seconds":15.0,
            "master_info":{"id":"m","ip":16777343,"port":5050,"version":"1.11.0"}}}"#,
    );
    let s = subscribed.subscribed.expect("subscribed");
    assert_eq!(s.heartbeat_interval_seconds, Some(15.0));
    assert_eq!(
        s.master_info.expect("master_info").version.as_deref(),
        Some("1.11.0")
    );

    let inverse: scheduler::Event = decode(
        r#"{"type":"INVERSE_OFFERS","inverse_offers":{"inverse_offers":[{"id":{"value":"o"},
            "url":{"scheme":"http","address":{"ip":"10.0.0.5","port":5051}},
            "framework_id":{"value":"f"},"agent_id":{"value":"a"},
            "unavailability":{"start":{"nanoseconds":1700000000000000000},"duration":{"nanoseconds":3600000000000}},
            "resources":[]}]}}"#,
    );
    let io = &inverse.inverse_offers.expect("payload").inverse_offers[0];
    assert_eq!(io.unavailability, unavailability());

    let rescind: scheduler::Event =
        decode(r#"{"type":"RESCIND","rescind":{"offer_id":{"value":"o7"}}}"#);
    assert_eq!(rescind.rescind.expect("rescind").offer_id.value, "o7");

    let rescind_inverse: scheduler::Event = decode(
        r#"{"type":"RESCIND_INVERSE_OFFER","rescind_inverse_offer":{"inverse_offer_id":{"value":"o8"}}}"#,
    );
    assert_eq!(
        rescind_inverse
            .rescind_inverse_offer
            .expect("payload")
            .inverse_offer_id
            .value,
        "o8"
    );

    let op: scheduler::Event = decode(
        r#"{"type":"UPDATE_OPERATION_STATUS","update_operation_status":{"status":{"operation_id":{"value":"op1"},
            "state":"OPERATION_FINISHED","message":"ok","uuid":{"value":"ex7g5Uh8TG6VsY62GCHBng=="},
            "agent_id":{"value":"a"},"resource_provider_id":{"value":"rp"}}}}"#,
    );
    let status = op.update_operation_status.expect("payload").status;
    assert_eq!(status.state(), v1::OperationState::OperationFinished);
    assert_eq!(
        status.uuid,
        Some(v1::Uuid {
            value: UUID_BYTES.to_vec()
        })
    );

    let failure: scheduler::Event = decode(
        r#"{"type":"FAILURE","failure":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"status":137}}"#,
    );
    assert_eq!(failure.failure.expect("failure").status, Some(137));

    let lost_agent: scheduler::Event =
        decode(r#"{"type":"FAILURE","failure":{"agent_id":{"value":"a"}}}"#);
    assert_eq!(lost_agent.failure.expect("failure").executor_id, None);

    let error: scheduler::Event =
        decode(r#"{"type":"ERROR","error":{"message":"Framework has been removed"}}"#);
    assert_eq!(
        error.error.expect("error").message,
        "Framework has been removed"
    );

    let heartbeat: scheduler::Event = decode(r#"{"type":"HEARTBEAT"}"#);
    assert_eq!(heartbeat.r#type(), scheduler::event::Type::Heartbeat);
}
