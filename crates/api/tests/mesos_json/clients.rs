//! Golden JSON from the clients (§7): pymesos, mesoshttp, executor-side calls and events.

use super::*;

/// pymesos's one-task script: the TaskInfo dict it builds, inside the ACCEPT it sends
/// (`driver.launchTasks(o["id"], [task], {"refuse_seconds": 5})`).
const PYMESOS_ACCEPT: &str = r#"{
  "type": "ACCEPT",
  "framework_id": {"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-0000"},
  "accept": {
    "offer_ids": [{"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-O7"}],
    "operations": [{
      "type": "LAUNCH",
      "launch": {"task_infos": [
        {"task_id": {"value": "4a9b7c1e-2222-4333-8444-555566667777"},
         "agent_id": {"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-S0"},
         "name": "hello",
         "command": {"value": "echo hello", "shell": true},
         "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                       {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}
      ]}
    }],
    "filters": {"refuse_seconds": 5}
  }
}"#;

/// The TaskInfo of [`PYMESOS_ACCEPT`] (also used by the deviation tests).
pub(super) fn hello_task() -> v1::TaskInfo {
    v1::TaskInfo {
        name: "hello".to_string(),
        task_id: task_id("4a9b7c1e-2222-4333-8444-555566667777"),
        agent_id: agent_id(),
        resources: vec![scalar("cpus", 0.1), scalar("mem", 32.0)],
        command: Some(shell_command("echo hello")),
        ..Default::default()
    }
}

#[test]
fn pymesos_accept_with_task_info_dict() {
    let call: scheduler::Call = decode(PYMESOS_ACCEPT);
    assert_eq!(call.r#type(), scheduler::call::Type::Accept);
    assert_eq!(call.framework_id, Some(framework_id()));
    let accept = call.accept.expect("accept");
    assert_eq!(accept.offer_ids, vec![offer_id(7)]);
    assert_eq!(accept.filters, Some(filters(5.0)));
    assert_eq!(accept.operations.len(), 1);
    let op = &accept.operations[0];
    assert_eq!(op.r#type(), v1::offer::operation::Type::Launch);
    assert_eq!(
        op.launch.as_ref().expect("launch").task_infos,
        vec![hello_task()]
    );
}

/// mesoshttp's `Offer.accept()` adds `slave_id` to each TaskInfo; it must be ignored. Its
/// TaskInfo has no `shell` (so the default, true, applies).
#[test]
fn mesoshttp_task_info_with_slave_id() {
    let text = r#"{"name": "hello", "task_id": {"value": "4a9b7c1e-2222-4333-8444-555566667777"},
                   "agent_id": {"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-S0"},
                   "slave_id": {"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-S0"},
                   "command": {"value": "echo hello"},
                   "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                                 {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}"#;
    let task: v1::TaskInfo = decode(text);
    let mut expected = hello_task();
    expected.command = Some(v1::CommandInfo {
        value: Some("echo hello".to_string()),
        ..Default::default()
    });
    assert_eq!(task, expected);
    assert!(
        task.command.as_ref().expect("command").shell(),
        "shell defaults to true"
    );
    assert!(!encode(&task).contains("slave_id"));
}

/// pymesos's SUBSCRIBE (it defaults `failover_timeout` to 100 and adds GPU_RESOURCES).
#[test]
fn pymesos_subscribe() {
    let text = r#"{"type": "SUBSCRIBE",
                   "subscribe": {"framework_info": {"user": "alice", "name": "smoke",
                                                    "failover_timeout": 100,
                                                    "capabilities": [{"type": "GPU_RESOURCES"}]}}}"#;
    let call: scheduler::Call = decode(text);
    assert_eq!(call.r#type(), scheduler::call::Type::Subscribe);
    assert_eq!(call.framework_id, None);
    let info = call.subscribe.expect("subscribe").framework_info;
    assert_eq!(info.user, "alice");
    assert_eq!(info.name, "smoke");
    assert_eq!(info.failover_timeout, Some(100.0));
    assert_eq!(
        info.capabilities,
        vec![capability(
            v1::framework_info::capability::Type::GpuResources
        )]
    );
    assert_eq!(info.id, None);
}

/// mesoshttp's SUBSCRIBE: default user `root`, empty hostname and webui_url, and a
/// `subscribe.credentials` key that is not a real field. Re-subscribing sets both ids.
#[test]
fn mesoshttp_subscribe() {
    let text = r#"{"type": "SUBSCRIBE",
                   "framework_id": {"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-0000"},
                   "subscribe": {
                     "framework_info": {"user": "root", "name": "smoke", "hostname": "", "webui_url": "",
                                        "id": {"value": "7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-0000"},
                                        "role": "*", "failover_timeout": 3600, "principal": "p",
                                        "capabilities": [{"type": "MULTI_ROLE"}]},
                     "credentials": {"principal": "p", "secret": "s"}}}"#;
    let call: scheduler::Call = decode(text);
    let info = call.subscribe.expect("subscribe").framework_info;
    assert_eq!(info.user, "root");
    assert_eq!(info.hostname.as_deref(), Some(""));
    assert_eq!(info.webui_url.as_deref(), Some(""));
    assert_eq!(info.id, Some(framework_id()));
    assert_eq!(call.framework_id, Some(framework_id()));
    assert_eq!(info.principal.as_deref(), Some("p"));
}

/// The reference's UPDATE event: the uuid decodes to its 16 bytes and is written back the same.
#[test]
fn update_event_with_reference_uuid() {
    let text = r#"{"type":"UPDATE","update":{"status":{
        "task_id":{"value":"4a9b7c1e"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR",
        "agent_id":{"value":"7f3c2a8e-5b1d-4c9e-a0f2-3d4e5f6a7b8c-S0"},
        "executor_id":{"value":"4a9b7c1e"},"timestamp":1700000000.5,
        "uuid":"ex7g5Uh8TG6VsY62GCHBng==","container_status":{"container_id":{"value":"c1"},
        "network_infos":[{"ip_addresses":[{"ip_address":"10.0.0.5"}]}],"executor_pid":123}}}}"#;
    let event: scheduler::Event = decode(text);
    assert_eq!(event.r#type(), scheduler::event::Type::Update);
    let status = event.update.clone().expect("update").status;
    assert_eq!(status.uuid.as_deref(), Some(&UUID_BYTES[..]));
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.source(), v1::task_status::Source::Executor);
    assert_eq!(status.timestamp, Some(1_700_000_000.5));
    let cs = status.container_status.as_ref().expect("container_status");
    assert_eq!(cs.executor_pid, Some(123));
    assert_eq!(
        cs.network_infos[0].ip_addresses[0].ip_address.as_deref(),
        Some("10.0.0.5")
    );

    let out = to_json(&event);
    assert_eq!(out["type"], "UPDATE");
    assert_eq!(out["update"]["status"]["uuid"], UUID_B64);
    assert_eq!(out["update"]["status"]["state"], "TASK_RUNNING");
    assert_eq!(out["update"]["status"]["source"], "SOURCE_EXECUTOR");
}

/// pymesos's implicit acknowledgement copies `status.agent_id`, `status.task_id` and
/// `status.uuid` from the UPDATE.
#[test]
fn acknowledge_call() {
    let text = r#"{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},
                   "acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},
                                  "uuid":"ex7g5Uh8TG6VsY62GCHBng=="}}"#;
    let call: scheduler::Call = decode(text);
    let ack = call.acknowledge.expect("acknowledge");
    assert_eq!(ack.uuid, UUID_BYTES.to_vec());
    assert_eq!(ack.task_id, task_id("t"));
}

/// pymesos bug: the implicit ACKNOWLEDGE_OPERATION_STATUS copies the whole OperationStatus, so
/// `uuid` arrives as `{"value": b64}`. Both that and the plain string are accepted.
#[test]
fn pymesos_acknowledge_operation_status_quirk() {
    for uuid in [
        r#"{"value":"ex7g5Uh8TG6VsY62GCHBng=="}"#,
        r#""ex7g5Uh8TG6VsY62GCHBng==""#,
    ] {
        let text = format!(
            r#"{{"type":"ACKNOWLEDGE_OPERATION_STATUS","framework_id":{{"value":"f"}},
                 "acknowledge_operation_status":{{"agent_id":{{"value":"a"}},
                   "operation_id":{{"value":"op1"}},"uuid":{uuid}}}}}"#
        );
        let call: scheduler::Call = decode(&text);
        let ack = call.acknowledge_operation_status.expect("payload");
        assert_eq!(ack.uuid, UUID_BYTES.to_vec(), "uuid form {uuid}");
        assert_eq!(ack.operation_id, operation_id("op1"));
        // It is written back in Mesos's form, a plain string.
        assert_eq!(to_json(&ack)["uuid"], UUID_B64);
    }
}

/// The executor side of pymesos: UPDATE with an integer timestamp, a base64 uuid, the source,
/// and no agent_id/executor_id in the status.
#[test]
fn pymesos_executor_update() {
    let text = r#"{"type":"UPDATE","executor_id":{"value":"e1"},"framework_id":{"value":"f1"},
                   "update":{"status":{"task_id":{"value":"t1"},"state":"TASK_RUNNING",
                                       "timestamp":1700000000,"uuid":"ex7g5Uh8TG6VsY62GCHBng==",
                                       "source":"SOURCE_EXECUTOR"}}}"#;
    let call: executor::Call = decode(text);
    assert_eq!(call.r#type(), executor::call::Type::Update);
    assert_eq!(call.executor_id, executor_id("e1"));
    let status = call.update.expect("update").status;
    assert_eq!(status.timestamp, Some(1_700_000_000.0));
    assert_eq!(status.uuid, Some(UUID_BYTES.to_vec()));
    assert_eq!(status.agent_id, None);
}

/// Executor SUBSCRIBE with unacknowledged tasks and updates, MESSAGE with data.
#[test]
fn executor_subscribe_and_message() {
    let text = r#"{"type":"SUBSCRIBE","executor_id":{"value":"e1"},"framework_id":{"value":"f1"},
                   "subscribe":{"unacknowledged_tasks":[{"name":"t","task_id":{"value":"t1"},
                                                         "agent_id":{"value":"a1"}}],
                                "unacknowledged_updates":[{"status":{"task_id":{"value":"t1"},
                                                           "state":"TASK_STARTING",
                                                           "uuid":"ex7g5Uh8TG6VsY62GCHBng=="}}]}}"#;
    let call: executor::Call = decode(text);
    let sub = call.subscribe.expect("subscribe");
    assert_eq!(sub.unacknowledged_tasks[0].name, "t");
    assert_eq!(
        sub.unacknowledged_updates[0].status.state(),
        v1::TaskState::TaskStarting
    );

    let message: executor::Call = decode(
        r#"{"type":"MESSAGE","executor_id":{"value":"e1"},"framework_id":{"value":"f1"},"message":{"data":"aGVsbG8="}}"#,
    );
    assert_eq!(message.message.expect("message").data, b"hello".to_vec());
}

/// Executor events as the agent writes them: pymesos checks `executor_info.executor_id` and
/// `framework_info.id` on SUBSCRIBED, and decodes ACKNOWLEDGED's uuid from base64.
#[test]
fn executor_events_shape() {
    let events = executor_events();
    let subscribed = to_json(
        &events
            .iter()
            .find(|(n, _)| *n == "SUBSCRIBED")
            .expect("row")
            .1,
    );
    assert_eq!(subscribed["type"], "SUBSCRIBED");
    assert_eq!(
        subscribed["subscribed"]["executor_info"]["executor_id"],
        json!({"value": "exec-web-1"})
    );
    assert_eq!(
        subscribed["subscribed"]["framework_info"]["id"]["value"],
        framework_id().value
    );
    assert_eq!(subscribed["subscribed"]["agent_info"]["port"], 5051);
    assert_eq!(subscribed["subscribed"]["executor_info"]["type"], "CUSTOM");

    let acknowledged = to_json(
        &events
            .iter()
            .find(|(n, _)| *n == "ACKNOWLEDGED")
            .expect("row")
            .1,
    );
    assert_eq!(acknowledged["acknowledged"]["uuid"], UUID_B64);

    let shutdown = &events
        .iter()
        .find(|(n, _)| *n == "SHUTDOWN")
        .expect("row")
        .1;
    assert_eq!(encode(shutdown), r#"{"type":"SHUTDOWN"}"#);
}
