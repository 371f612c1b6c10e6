//! Encoding: names, enums, bytes, omissions, order.

use super::*;

#[test]
fn encoded_events_are_compact_mesos_json() {
    let subscribed = scheduler::Event {
        r#type: Some(scheduler::event::Type::Subscribed as i32),
        subscribed: Some(scheduler::event::Subscribed {
            framework_id: v1::FrameworkId {
                value: "M-0000".to_string(),
            },
            heartbeat_interval_seconds: Some(15.0),
            master_info: Some(v1::MasterInfo {
                id: "M".to_string(),
                ip: 16_777_343,
                port: 5050,
                pid: Some("master@127.0.0.1:5050".to_string()),
                version: Some("1.11.0".to_string()),
                address: Some(v1::Address {
                    hostname: None,
                    ip: Some("127.0.0.1".to_string()),
                    port: 5050,
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    assert_eq!(
        encode(&subscribed),
        concat!(
            r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"M-0000"},"heartbeat_interval_seconds":15.0,"#,
            r#""master_info":{"id":"M","ip":16777343,"port":5050,"pid":"master@127.0.0.1:5050","version":"1.11.0","#,
            r#""address":{"ip":"127.0.0.1","port":5050}}}}"#
        )
    );

    let heartbeat = scheduler::Event {
        r#type: Some(scheduler::event::Type::Heartbeat as i32),
        ..Default::default()
    };
    assert_eq!(encode(&heartbeat), r#"{"type":"HEARTBEAT"}"#);

    let error = scheduler::Event {
        r#type: Some(scheduler::event::Type::Error as i32),
        error: Some(scheduler::event::Error {
            message: "Framework has been removed".to_string(),
        }),
        ..Default::default()
    };
    assert_eq!(
        encode(&error),
        r#"{"type":"ERROR","error":{"message":"Framework has been removed"}}"#
    );

    let update = scheduler::Event {
        r#type: Some(scheduler::event::Type::Update as i32),
        update: Some(scheduler::event::Update {
            status: v1::TaskStatus {
                task_id: task_id("t1"),
                state: v1::TaskState::TaskRunning as i32,
                source: Some(v1::task_status::Source::Executor as i32),
                agent_id: Some(v1::AgentId {
                    value: "M-S0".to_string(),
                }),
                timestamp: Some(1_700_000_000.5),
                uuid: Some(UUID_BYTES.to_vec()),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    assert_eq!(
        encode(&update),
        concat!(
            r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t1"},"state":"TASK_RUNNING","#,
            r#""source":"SOURCE_EXECUTOR","agent_id":{"value":"M-S0"},"timestamp":1700000000.5,"#,
            r#""uuid":"ex7g5Uh8TG6VsY62GCHBng=="}}}"#
        )
    );

    // Records go into RecordIO frames: no raw newline anywhere, even for the richest events.
    for (name, event) in scheduler_events() {
        assert!(!encode(&event).contains('\n'), "{name} contains a newline");
    }
}

/// Corral's choice: unset optional fields are omitted. (Mesos's `jsonify` additionally writes
/// unset optional fields that declare a non-deprecated default, e.g. `checkpoint: false`; every
/// client checked reads those through its own defaults, and the getters give the same values.)
#[test]
fn unset_optional_and_empty_repeated_fields_are_omitted() {
    let info = v1::FrameworkInfo {
        user: "u".to_string(),
        name: "n".to_string(),
        ..Default::default()
    };
    assert_eq!(encode(&info), r#"{"user":"u","name":"n"}"#);
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Teardown as i32),
        ..Default::default()
    };
    assert_eq!(encode(&call), r#"{"type":"TEARDOWN"}"#);
    let offers = scheduler::event::Offers { offers: vec![] };
    assert_eq!(encode(&offers), "{}");
    // Required fields are always written, even when they hold the zero value.
    let status = v1::TaskStatus {
        task_id: task_id(""),
        state: v1::TaskState::TaskStarting as i32,
        ..Default::default()
    };
    assert_eq!(
        encode(&status),
        r#"{"task_id":{"value":""},"state":"TASK_STARTING"}"#
    );
    let r = scalar("cpus", 0.0);
    assert_eq!(
        encode(&r),
        r#"{"name":"cpus","type":"SCALAR","scalar":{"value":0.0}}"#
    );
}

#[test]
fn keys_follow_proto_declaration_order() {
    let json = encode(&task_status());
    let order = [
        "task_id",
        "state",
        "message",
        "source",
        "reason",
        "data",
        "agent_id",
        "executor_id",
        "timestamp",
        "uuid",
        "healthy",
        "check_status",
        "labels",
        "container_status",
        "unreachable_time",
        "limitation",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| {
            json.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing from {json}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order: {json}"
    );

    // Call: framework_id (1) before type (2) before the payloads, as in scheduler.proto.
    let (_, ack) = scheduler_calls()
        .into_iter()
        .find(|(n, _)| *n == "ACKNOWLEDGE")
        .expect("row");
    let json = encode(&ack);
    assert!(
        json.starts_with(r#"{"framework_id":"#)
            && json.contains(r#","type":"ACKNOWLEDGE","acknowledge":"#),
        "{json}"
    );
}

#[test]
fn bytes_are_standard_padded_base64() {
    let message = scheduler::event::Message {
        agent_id: agent_id(),
        executor_id: executor_id("e"),
        data: vec![0xfb, 0xff, 0xbf], // "+/+/" in the standard alphabet, "-_-_" in the URL-safe one
    };
    assert_eq!(to_json(&message)["data"], "+/+/");
    let padded = scheduler::event::Message {
        data: vec![0xfb, 0xff],
        ..message.clone()
    };
    assert_eq!(to_json(&padded)["data"], "+/8=");
    let empty = scheduler::event::Message {
        data: vec![],
        ..message
    };
    assert_eq!(to_json(&empty)["data"], "");

    // A 16-byte uuid is 24 characters on the wire.
    let status = task_status();
    assert_eq!(to_json(&status)["uuid"].as_str().map(str::len), Some(24));
}

#[test]
fn invalid_base64_is_an_error() {
    let call = |uuid: &str| {
        format!(
            r#"{{"type":"ACKNOWLEDGE","acknowledge":{{"agent_id":{{"value":"a"}},"task_id":{{"value":"t"}},"uuid":"{uuid}"}}}}"#
        )
    };
    assert_mentions(
        &decode_err::<scheduler::Call>(&call("not base64!")),
        &["base64"],
    );
    // URL-safe alphabet is not Mesos's.
    assert_mentions(&decode_err::<scheduler::Call>(&call("-_-_")), &["base64"]);
    assert_eq!(
        decode::<scheduler::Call>(&call("+/+/"))
            .acknowledge
            .expect("ack")
            .uuid,
        vec![0xfb, 0xff, 0xbf]
    );
}

#[test]
fn enum_values_are_written_as_names() {
    let mut problems = Vec::new();
    let mut check = |what: &str, got: &serde_json::Value, want: &str| {
        if got != want {
            problems.push(format!("{what}: {got} != \"{want}\""));
        }
    };
    let (_, accept) = scheduler_calls()
        .into_iter()
        .find(|(n, _)| *n == "ACCEPT")
        .expect("row");
    let json = to_json(&accept);
    let op = &json["accept"]["operations"][0];
    check("operation type", &op["type"], "LAUNCH");
    let task = &op["launch"]["task_infos"][0];
    check("resource type", &task["resources"][0]["type"], "SCALAR");
    check("ranges type", &task["resources"][2]["type"], "RANGES");
    check("container type", &task["container"]["type"], "DOCKER");
    check(
        "docker network",
        &task["container"]["docker"]["network"],
        "BRIDGE",
    );
    check("health check type", &task["health_check"]["type"], "HTTP");
    check(
        "health check protocol",
        &task["health_check"]["http"]["protocol"],
        "IPv4",
    );
    check("check type", &task["check"]["type"], "COMMAND");
    check(
        "env var type",
        &task["command"]["environment"]["variables"][1]["type"],
        "SECRET",
    );
    check(
        "secret type",
        &task["command"]["environment"]["variables"][1]["secret"]["type"],
        "REFERENCE",
    );
    check(
        "discovery visibility",
        &task["discovery"]["visibility"],
        "CLUSTER",
    );
    check(
        "port visibility",
        &task["discovery"]["ports"]["ports"][0]["visibility"],
        "EXTERNAL",
    );
    let json = to_json(&framework_info());
    check("capability", &json["capabilities"][0]["type"], "MULTI_ROLE");
    let json = to_json(&mesos_container());
    check("volume mode", &json["volumes"][0]["mode"], "RW");
    check(
        "volume source",
        &json["volumes"][1]["source"]["type"],
        "SANDBOX_PATH",
    );
    check(
        "sandbox path type",
        &json["volumes"][1]["source"]["sandbox_path"]["type"],
        "PARENT",
    );
    check(
        "mount propagation",
        &json["volumes"][3]["source"]["host_path"]["mount_propagation"]["mode"],
        "BIDIRECTIONAL",
    );
    check("image type", &json["mesos"]["image"]["type"], "DOCKER");
    check(
        "ip protocol",
        &json["network_infos"][0]["ip_addresses"][0]["protocol"],
        "IPv6",
    );
    check("ipc mode", &json["linux_info"]["ipc_mode"], "PRIVATE");
    check(
        "capability list",
        &json["linux_info"]["bounding_capabilities"]["capabilities"][0],
        "NET_BIND_SERVICE",
    );
    check(
        "rlimit",
        &json["rlimit_info"]["rlimits"][0]["type"],
        "RLMT_NOFILE",
    );
    let json = to_json(&operation_status());
    check("operation state", &json["state"], "OPERATION_FINISHED");
    check(
        "reservation type",
        &json["converted_resources"][0]["reservations"][0]["type"],
        "STATIC",
    );
    let json = to_json(&persistent_volume("web"));
    check("disk source type", &json["disk"]["source"]["type"], "MOUNT");
    assert_no_problems(&problems);
}

/// An enum number the peer does not know (e.g. a newer Mesos over protobuf) is written as a
/// number rather than dropped or mislabelled.
#[test]
fn unknown_enum_number_is_written_as_a_number() {
    let status = v1::TaskStatus {
        task_id: task_id("t"),
        state: 99,
        source: Some(42),
        ..Default::default()
    };
    let json = to_json(&status);
    assert_eq!(json["state"], 99);
    assert_eq!(json["source"], 42);
}
