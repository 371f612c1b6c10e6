//! `value == decode(encode(value))` in JSON and in protobuf, for every scheduler and executor
//! Call and Event type (richly populated, see `common`), for the key standalone messages, and
//! (JSON only) for every message of Corral's internal master↔agent protocol.

mod common;

use std::collections::BTreeSet;
use std::fmt::Debug;

use common::*;
use corral_api::enums;
use corral_api::internal::{
    AgentCall, AgentEnvelope, MasterEnvelope, MasterMessage, AGENT_ENDPOINT, PROTOCOL_VERSION,
};
use corral_api::json::EnumNames;
use corral_api::v1;
use prost::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Round-trips every `(type name, message)` row in both encodings and checks that the JSON
/// carries the type name and, for types with a payload, the lowercase payload key. Also checks
/// that re-encoding the decoded JSON gives the same text (the encoding is deterministic).
fn check_table<T>(rows: &[(&'static str, T)], payload_less: &[&str]) -> Vec<String>
where
    T: Message + Default + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let mut problems = Vec::new();
    for (i, (name, value)) in rows.iter().enumerate() {
        let label = format!("row {i} ({name})");
        problems.extend(check_both(&label, value));

        let json = to_json(value);
        if json["type"] != *name {
            problems.push(format!(
                "{label}: JSON \"type\" is {}, expected \"{name}\"",
                json["type"]
            ));
        }
        let key = name.to_lowercase();
        if !payload_less.contains(name) && json.get(&key).is_none() {
            problems.push(format!(
                "{label}: JSON lacks the payload key \"{key}\": {json}"
            ));
        }

        let text = serde_json::to_string(value).expect("encodes");
        if let Ok(back) = serde_json::from_str::<T>(&text) {
            let again = serde_json::to_string(&back).expect("encodes");
            if again != text {
                problems.push(format!(
                    "{label}: JSON not stable\n  first:  {text}\n  second: {again}"
                ));
            }
        }
    }
    problems
}

/// Every value name of the enum `M` except UNKNOWN must label at least one row.
fn assert_covers<M: EnumNames, T>(rows: &[(&'static str, T)]) {
    let have: BTreeSet<&str> = rows.iter().map(|(n, _)| *n).collect();
    let missing: Vec<&str> = M::VALUES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| *n != "UNKNOWN" && !have.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} has no round-trip row for {missing:?}",
        M::NAME
    );
}

// ---------------------------------------------------------------------------------------------
// Scheduler API
// ---------------------------------------------------------------------------------------------

#[test]
fn every_scheduler_call_type_has_a_row() {
    assert_covers::<enums::Emesos_v1_scheduler_Call_Type, _>(&scheduler_calls());
}

#[test]
fn accept_rows_cover_launch_launch_group_and_reserve() {
    let ops: BTreeSet<i32> = scheduler_calls()
        .into_iter()
        .filter_map(|(_, c)| c.accept)
        .flat_map(|a| a.operations)
        .filter_map(|o| o.r#type)
        .collect();
    for name in [
        "LAUNCH",
        "LAUNCH_GROUP",
        "RESERVE",
        "UNRESERVE",
        "CREATE",
        "DESTROY",
    ] {
        let n = enums::Emesos_v1_Offer_Operation_Type::number_of(name).expect("known operation");
        assert!(ops.contains(&n), "no ACCEPT row with a {name} operation");
    }
}

#[test]
fn scheduler_calls_roundtrip() {
    assert_no_problems(&check_table(&scheduler_calls(), &["TEARDOWN"]));
}

#[test]
fn every_scheduler_event_type_has_a_row() {
    assert_covers::<enums::Emesos_v1_scheduler_Event_Type, _>(&scheduler_events());
}

#[test]
fn scheduler_events_roundtrip() {
    assert_no_problems(&check_table(&scheduler_events(), &["HEARTBEAT"]));
}

// ---------------------------------------------------------------------------------------------
// Executor API
// ---------------------------------------------------------------------------------------------

#[test]
fn every_executor_call_type_has_a_row() {
    assert_covers::<enums::Emesos_v1_executor_Call_Type, _>(&executor_calls());
}

#[test]
fn executor_calls_roundtrip() {
    assert_no_problems(&check_table(&executor_calls(), &["HEARTBEAT"]));
}

#[test]
fn every_executor_event_type_has_a_row() {
    assert_covers::<enums::Emesos_v1_executor_Event_Type, _>(&executor_events());
}

#[test]
fn executor_events_roundtrip() {
    assert_no_problems(&check_table(&executor_events(), &["SHUTDOWN", "HEARTBEAT"]));
}

// ---------------------------------------------------------------------------------------------
// Standalone messages
// ---------------------------------------------------------------------------------------------

#[test]
fn key_messages_roundtrip() {
    let mut problems = Vec::new();
    problems.extend(check_both("FrameworkInfo", &framework_info()));
    problems.extend(check_both("MasterInfo", &master_info()));
    problems.extend(check_both("AgentInfo", &agent_info()));
    problems.extend(check_both("Offer", &offer(1)));
    problems.extend(check_both("InverseOffer", &inverse_offer(2)));
    problems.extend(check_both("TaskInfo (command, Docker)", &task_info("web")));
    problems.extend(check_both(
        "TaskInfo (group, Mesos)",
        &group_task("pod.web"),
    ));
    problems.extend(check_both("TaskGroupInfo", &task_group()));
    problems.extend(check_both("TaskStatus", &task_status()));
    problems.extend(check_both("Task", &task("web")));
    problems.extend(check_both("ExecutorInfo (CUSTOM)", &custom_executor()));
    problems.extend(check_both("ExecutorInfo (DEFAULT)", &default_executor()));
    problems.extend(check_both("ContainerInfo (DOCKER)", &docker_container()));
    problems.extend(check_both("ContainerInfo (MESOS)", &mesos_container()));
    problems.extend(check_both("CommandInfo", &command_info()));
    problems.extend(check_both("HealthCheck", &health_check()));
    problems.extend(check_both("OperationStatus", &operation_status()));
    problems.extend(check_both("OfferConstraints", &offer_constraints()));
    for (i, r) in offer_resources("web").iter().enumerate() {
        problems.extend(check_both(&format!("Resource #{i} ({})", r.name), r));
    }
    let op = v1::Operation {
        framework_id: Some(framework_id()),
        agent_id: Some(agent_id()),
        info: scheduler_calls()
            .into_iter()
            .find_map(|(_, c)| {
                c.accept
                    .and_then(|a| a.operations.into_iter().find(|o| o.reserve.is_some()))
            })
            .expect("a RESERVE row"),
        latest_status: operation_status(),
        statuses: vec![operation_status()],
        uuid: v1::Uuid {
            value: uuid_bytes(),
        },
    };
    problems.extend(check_both("Operation", &op));
    assert_no_problems(&problems);
}

/// Edge values that a codec may mangle: empty strings and bytes, zero and negative numbers,
/// extreme integers, non-ASCII text, control characters.
#[test]
fn edge_values_roundtrip() {
    let mut status = v1::TaskStatus {
        task_id: task_id(""),
        state: v1::TaskState::TaskStarting as i32, // number 0: must survive both encodings
        message: Some(String::new()),
        source: Some(v1::task_status::Source::Master as i32), // number 0 as well
        reason: Some(v1::task_status::Reason::CommandExecutorFailed as i32), // 0
        data: Some(Vec::new()),
        timestamp: Some(0.0),
        uuid: Some(vec![0; 16]),
        healthy: Some(false),
        ..Default::default()
    };
    let mut problems = check_both("TaskStatus with zero values", &status);
    status.message = Some("tab\t nl\n nul\u{0} quote\" backslash\\ emoji 🚀 cjk 任务".to_string());
    status.timestamp = Some(-0.25); // see mesos_json.rs for doubles that lose precision
    status.unreachable_time = Some(v1::TimeInfo {
        nanoseconds: i64::MIN,
    });
    problems.extend(check_both("TaskStatus with odd text and extremes", &status));

    let r = ranges("ports", &[(0, 0), (1, u64::MAX)]);
    problems.extend(check_both("Resource with u64::MAX range", &r));
    let d = v1::DurationInfo {
        nanoseconds: i64::MAX,
    };
    problems.extend(check_both("DurationInfo i64::MAX", &d));
    let f = v1::scheduler::event::Failure {
        agent_id: None,
        executor_id: None,
        status: Some(i32::MIN),
    };
    problems.extend(check_both("Failure with i32::MIN", &f));
    assert_no_problems(&problems);
}

// ---------------------------------------------------------------------------------------------
// Corral's internal master↔agent protocol (JSON only)
// ---------------------------------------------------------------------------------------------

/// Exhaustive on purpose: a new variant fails to compile here until it gets a row below.
fn master_message_name(m: &MasterMessage) -> &'static str {
    match m {
        MasterMessage::Registered { .. } => "REGISTERED",
        MasterMessage::Ping { .. } => "PING",
        MasterMessage::RunTask { .. } => "RUN_TASK",
        MasterMessage::RunTaskGroup { .. } => "RUN_TASK_GROUP",
        MasterMessage::KillTask { .. } => "KILL_TASK",
        MasterMessage::ShutdownExecutor { .. } => "SHUTDOWN_EXECUTOR",
        MasterMessage::ShutdownFramework { .. } => "SHUTDOWN_FRAMEWORK",
        MasterMessage::StatusUpdateAcknowledgement { .. } => "STATUS_UPDATE_ACKNOWLEDGEMENT",
        MasterMessage::FrameworkMessage { .. } => "FRAMEWORK_MESSAGE",
        MasterMessage::CheckpointResources { .. } => "CHECKPOINT_RESOURCES",
        MasterMessage::Shutdown { .. } => "SHUTDOWN",
    }
}
const MASTER_MESSAGE_COUNT: usize = 11;

/// Exhaustive on purpose, like [`master_message_name`].
fn agent_call_name(c: &AgentCall) -> &'static str {
    match c {
        AgentCall::Subscribe { .. } => "SUBSCRIBE",
        AgentCall::Pong { .. } => "PONG",
        AgentCall::StatusUpdate { .. } => "STATUS_UPDATE",
        AgentCall::ExitedExecutor { .. } => "EXITED_EXECUTOR",
        AgentCall::ExecutorMessage { .. } => "EXECUTOR_MESSAGE",
    }
}
const AGENT_CALL_COUNT: usize = 5;

fn master_messages() -> Vec<MasterMessage> {
    let mut command_task = task_info("web");
    command_task.container = None;
    vec![
        MasterMessage::Registered {
            agent_id: agent_id(),
            stream_id: "5b0f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b".to_string(),
            master_id: MASTER_ID.to_string(),
            ping_interval_secs: 15.0,
        },
        MasterMessage::Ping { seq: u64::MAX },
        MasterMessage::Shutdown {
            message: "Agent has been marked gone by the operator".to_string(),
        },
        MasterMessage::RunTask {
            framework: framework_info(),
            executor: None,
            task: command_task,
        },
        MasterMessage::RunTask {
            framework: framework_info(),
            executor: Some(custom_executor()),
            task: {
                let mut t = task_info("worker");
                t.command = None;
                t.executor = Some(custom_executor());
                t
            },
        },
        MasterMessage::RunTaskGroup {
            framework: framework_info(),
            executor: default_executor(),
            task_group: task_group(),
        },
        MasterMessage::KillTask {
            framework_id: framework_id(),
            task_id: task_id("web.0b5e4a3c"),
            kill_policy: Some(kill_policy()),
        },
        MasterMessage::KillTask {
            framework_id: framework_id(),
            task_id: task_id("web.1"),
            kill_policy: None,
        },
        MasterMessage::ShutdownExecutor {
            framework_id: framework_id(),
            executor_id: executor_id("exec-web-1"),
        },
        MasterMessage::ShutdownFramework {
            framework_id: framework_id(),
        },
        MasterMessage::StatusUpdateAcknowledgement {
            framework_id: framework_id(),
            task_id: task_id("web.0b5e4a3c"),
            uuid: uuid_bytes(),
        },
        MasterMessage::FrameworkMessage {
            framework_id: framework_id(),
            executor_id: executor_id("exec-web-1"),
            data: b"\x00\x01to executor\xff".to_vec(),
        },
        MasterMessage::CheckpointResources {
            resources: vec![
                reserved(scalar("cpus", 2.0), "web"),
                persistent_volume("web"),
            ],
        },
    ]
}

fn agent_calls() -> Vec<AgentCall> {
    vec![
        AgentCall::Subscribe {
            agent_info: v1::AgentInfo {
                id: None,
                ..agent_info()
            },
            agent_version: "0.1.0".to_string(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![],
            checkpointed_resources: vec![],
        },
        AgentCall::Subscribe {
            agent_info: agent_info(),
            agent_version: "0.1.0".to_string(),
            frameworks: vec![framework_info()],
            executors: vec![custom_executor(), default_executor()],
            tasks: vec![task("web"), task("worker")],
            checkpointed_resources: vec![persistent_volume("web")],
        },
        AgentCall::Pong { seq: 42 },
        AgentCall::StatusUpdate {
            framework_id: framework_id(),
            status: task_status(),
            latest_state: Some("TASK_FINISHED".to_string()),
        },
        AgentCall::StatusUpdate {
            framework_id: framework_id(),
            status: task_status(),
            latest_state: None,
        },
        AgentCall::ExitedExecutor {
            framework_id: framework_id(),
            executor_id: executor_id("exec-web-1"),
            status: 128 + 9,
        },
        AgentCall::ExecutorMessage {
            framework_id: framework_id(),
            executor_id: executor_id("exec-web-1"),
            data: b"\x00\x01to scheduler\xff".to_vec(),
        },
    ]
}

#[test]
fn internal_tables_cover_every_variant() {
    let masters: BTreeSet<&str> = master_messages().iter().map(master_message_name).collect();
    assert_eq!(
        masters.len(),
        MASTER_MESSAGE_COUNT,
        "MasterMessage rows: {masters:?}"
    );
    let agents: BTreeSet<&str> = agent_calls().iter().map(agent_call_name).collect();
    assert_eq!(agents.len(), AGENT_CALL_COUNT, "AgentCall rows: {agents:?}");
}

#[test]
fn internal_master_messages_roundtrip_json() {
    let mut problems = Vec::new();
    for (i, message) in master_messages().into_iter().enumerate() {
        let name = master_message_name(&message);
        let envelope = MasterEnvelope {
            version: PROTOCOL_VERSION,
            epoch: 7 + i as u64,
            message,
        };
        let json = to_json(&envelope);
        if json["message"]["type"] != name {
            problems.push(format!("{name}: tag is {}", json["message"]["type"]));
        }
        match json_roundtrip(&envelope) {
            Ok(back) if back == envelope => {}
            Ok(back) => problems.push(format!(
                "{name}: changed\n  before: {envelope:?}\n  after:  {back:?}"
            )),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    assert_no_problems(&problems);
}

#[test]
fn internal_agent_calls_roundtrip_json() {
    let mut problems = Vec::new();
    for (i, call) in agent_calls().into_iter().enumerate() {
        let name = agent_call_name(&call);
        let subscribe = matches!(call, AgentCall::Subscribe { .. });
        let envelope = AgentEnvelope {
            version: PROTOCOL_VERSION,
            epoch: if subscribe { 0 } else { u64::MAX - i as u64 },
            agent_id: (!subscribe).then(agent_id),
            stream_id: (!subscribe).then(|| "5b0f6a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b".to_string()),
            call,
        };
        let json = to_json(&envelope);
        if json["call"]["type"] != name {
            problems.push(format!("{name}: tag is {}", json["call"]["type"]));
        }
        match json_roundtrip(&envelope) {
            Ok(back) if back == envelope => {}
            Ok(back) => problems.push(format!(
                "{name}: changed\n  before: {envelope:?}\n  after:  {back:?}"
            )),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    assert_no_problems(&problems);
}

/// The internal protocol's bytes use the same padded base64 as the Mesos types, and the
/// envelope's optional fields are omitted when unset.
#[test]
fn internal_json_shape() {
    let ack = MasterEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 3,
        message: MasterMessage::StatusUpdateAcknowledgement {
            framework_id: framework_id(),
            task_id: task_id("t1"),
            uuid: uuid_bytes(),
        },
    };
    let json = to_json(&ack);
    assert_eq!(json["message"]["body"]["uuid"], UUID_B64);
    assert_eq!(json["version"], PROTOCOL_VERSION);

    let subscribe = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: None,
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: v1::AgentInfo {
                hostname: "a1".to_string(),
                ..Default::default()
            },
            agent_version: "0.1.0".to_string(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![],
            checkpointed_resources: vec![],
        },
    };
    assert_eq!(
        serde_json::to_string(&subscribe).expect("encodes"),
        r#"{"version":2,"epoch":0,"call":{"type":"SUBSCRIBE","body":{"agent_info":{"hostname":"a1"},"agent_version":"0.1.0"}}}"#
    );
    assert!(AGENT_ENDPOINT.starts_with("/internal/"));
}
