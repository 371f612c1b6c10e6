//! Input leniency and errors (§0): unknown fields, missing fields, enums, numbers, nulls.

use super::*;

#[test]
fn unknown_fields_are_ignored_everywhere() {
    let text = r#"{"type":"ACCEPT","framework_id":{"value":"f","extra":1},"not_a_field":[1,2,{"x":null}],
        "accept":{"offer_ids":[{"value":"o","nested_unknown":{"a":"b"}}],
                  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},
                      "agent_id":{"value":"a"},"slave_id":{"value":"a"},"future_field":true,
                      "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1,"unit":"cores"},"zzz":0}]}]}}],
                  "filters":{"refuse_seconds":1,"refuse_minutes":2}}}"#;
    let call: scheduler::Call = decode(text);
    let task = &call.accept.as_ref().expect("accept").operations[0]
        .launch
        .as_ref()
        .expect("launch")
        .task_infos[0];
    assert_eq!(task.resources, vec![scalar("cpus", 1.0)]);
    let out = encode(&call);
    for unknown in [
        "not_a_field",
        "nested_unknown",
        "slave_id",
        "future_field",
        "unit",
        "zzz",
        "refuse_minutes",
        "extra",
    ] {
        assert!(!out.contains(unknown), "{unknown} leaked into {out}");
    }
    let event: executor::Event = decode(r#"{"type":"HEARTBEAT","heartbeat":{},"whatever":"x"}"#);
    assert_eq!(event.r#type(), executor::event::Type::Heartbeat);
}

/// `None` if decoding `text` as `T` fails with an error naming `field`, else the problem.
fn missing_field_problem<T: DeserializeOwned + Debug>(text: &str, field: &str) -> Option<String> {
    match serde_json::from_str::<T>(text) {
        Ok(_) => Some(format!("accepted without `{field}`: {text}")),
        Err(e) if e.to_string().contains(&format!("`{field}`")) => None,
        Err(e) => Some(format!("error for missing `{field}` does not name it: {e}")),
    }
}

#[test]
fn missing_required_fields_are_errors_naming_the_field() {
    type Call = scheduler::Call;
    type ExecCall = executor::Call;
    let problems: Vec<String> = [
        missing_field_problem::<Call>(r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"fw"}}}"#, "user"),
        missing_field_problem::<Call>(r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"alice"}}}"#, "name"),
        missing_field_problem::<Call>(r#"{"type":"SUBSCRIBE","subscribe":{}}"#, "framework_info"),
        missing_field_problem::<Call>(
            r#"{"type":"ACCEPT","accept":{"operations":[{"type":"LAUNCH","launch":{"task_infos":[
                {"task_id":{"value":"t"},"agent_id":{"value":"a"}}]}}]}}"#,
            "name",
        ),
        missing_field_problem::<v1::TaskInfo>(r#"{"name":"t","task_id":{"value":"t"}}"#, "agent_id"),
        missing_field_problem::<Call>(
            r#"{"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"}}}"#,
            "uuid",
        ),
        missing_field_problem::<Call>(
            r#"{"type":"ACKNOWLEDGE_OPERATION_STATUS","acknowledge_operation_status":{"uuid":"AA=="}}"#,
            "operation_id",
        ),
        missing_field_problem::<Call>(r#"{"type":"KILL","kill":{"agent_id":{"value":"a"}}}"#, "task_id"),
        missing_field_problem::<v1::TaskStatus>(r#"{"task_id":{"value":"t"}}"#, "state"),
        missing_field_problem::<v1::Resource>(r#"{"name":"cpus","scalar":{"value":1}}"#, "type"),
        // Inside an element of a repeated field the element's own error is kept.
        missing_field_problem::<scheduler::event::Offers>(
            r#"{"offers":[{"id":{"value":"o"},"framework_id":{"value":"f"},"agent_id":{"value":"a"},"hostname":"h",
                "resources":[{"type":"SCALAR","scalar":{"value":1}}]}]}"#,
            "name",
        ),
        missing_field_problem::<v1::Offer>(
            r#"{"id":{"value":"o"},"framework_id":{"value":"f"},"agent_id":{"value":"a"}}"#,
            "hostname",
        ),
        missing_field_problem::<v1::MasterInfo>(r#"{"id":"m","port":5050}"#, "ip"),
        missing_field_problem::<ExecCall>(r#"{"type":"HEARTBEAT","framework_id":{"value":"f"}}"#, "executor_id"),
        missing_field_problem::<ExecCall>(
            r#"{"type":"MESSAGE","executor_id":{"value":"e"},"framework_id":{"value":"f"},"message":{}}"#,
            "data",
        ),
        missing_field_problem::<executor::Event>(
            r#"{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":"t"}}}"#,
            "uuid",
        ),
        missing_field_problem::<v1::ContainerInfo>(r#"{"type":"DOCKER","docker":{"network":"BRIDGE"}}"#, "image"),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_no_problems(&problems);
}

#[test]
fn unknown_enum_name_in_required_field_is_an_error_naming_the_enum() {
    let e = decode_err::<v1::TaskStatus>(r#"{"task_id":{"value":"t"},"state":"TASK_EXPLODED"}"#);
    assert_mentions(&e, &["TASK_EXPLODED", "mesos.v1.TaskState"]);
    let e = decode_err::<v1::Resource>(r#"{"name":"cpus","type":"SCALARS","scalar":{"value":1}}"#);
    assert_mentions(&e, &["SCALARS", "mesos.v1.Value.Type"]);
    let e = decode_err::<v1::ContainerInfo>(r#"{"type":"KUBERNETES"}"#);
    assert_mentions(&e, &["KUBERNETES", "mesos.v1.ContainerInfo.Type"]);
    let e = decode_err::<v1::Volume>(r#"{"container_path":"/x","mode":"RWX"}"#);
    assert_mentions(&e, &["RWX", "mesos.v1.Volume.Mode"]);
    // Nested inside a call, the message still names the enum.
    let e = decode_err::<scheduler::Event>(
        r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"RUNNING"}}}"#,
    );
    assert_mentions(&e, &["RUNNING", "mesos.v1.TaskState"]);
}

#[test]
fn unknown_enum_name_in_optional_field_is_dropped() {
    let status: v1::TaskStatus = decode(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","source":"SOURCE_SPACE","reason":"REASON_GREMLINS"}"#,
    );
    assert_eq!((status.source, status.reason), (None, None));
    assert_eq!(status.state(), v1::TaskState::TaskRunning);

    // An unknown call type leaves `type` unset (the master then rejects the call).
    let call: scheduler::Call = decode(r#"{"type":"LAUNCH_ROCKET","framework_id":{"value":"f"}}"#);
    assert_eq!(call.r#type, None);
    assert_eq!(call.r#type(), scheduler::call::Type::Unknown);

    // In a repeated message, the element stays and only its field is dropped.
    let info: v1::FrameworkInfo = decode(
        r#"{"user":"u","name":"n","capabilities":[{"type":"MULTI_ROLE"},{"type":"TIME_TRAVEL"}]}"#,
    );
    assert_eq!(info.capabilities.len(), 2);
    assert_eq!(info.capabilities[1].r#type, None);

    // In a repeated enum, the unknown value is dropped.
    let caps: v1::CapabilityInfo = decode(r#"{"capabilities":["CHOWN","FLY","KILL"]}"#);
    assert_eq!(
        caps.capabilities,
        vec![
            v1::capability_info::Capability::Chown as i32,
            v1::capability_info::Capability::Kill as i32,
        ]
    );

    // A dropped optional enum with a default reads back as the default.
    let docker: v1::container_info::DockerInfo = decode(r#"{"image":"nginx","network":"OVERLAY"}"#);
    assert_eq!(docker.network, None);
    assert_eq!(
        docker.network(),
        v1::container_info::docker_info::Network::Host
    );
}

#[test]
fn enum_numbers_are_accepted_on_input() {
    let status: v1::TaskStatus = decode(r#"{"task_id":{"value":"t"},"state":1,"source":2}"#);
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.source(), v1::task_status::Source::Executor);
    let e = decode_err::<v1::TaskStatus>(r#"{"task_id":{"value":"t"},"state":1000}"#);
    assert_mentions(&e, &["1000", "mesos.v1.TaskState"]);
}

#[test]
fn numbers_are_accepted_as_strings() {
    let info: v1::MasterInfo = decode(
        r#"{"id":"m","ip":"16777343","port":"5050","address":{"ip":"127.0.0.1","port":"5050"}}"#,
    );
    assert_eq!((info.ip, info.port), (16_777_343, 5050));
    assert_eq!(info.address.expect("address").port, 5050);

    let r: v1::Resource = decode(
        r#"{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":"31000","end":" 32000 "}]}}"#,
    );
    assert_eq!(r, ranges("ports", &[(31000, 32000)]));

    let cpus: v1::Resource = decode(r#"{"name":"cpus","type":"SCALAR","scalar":{"value":"1.5"}}"#);
    assert_eq!(cpus.scalar, Some(v1::value::Scalar { value: 1.5 }));

    let fw: v1::FrameworkInfo = decode(r#"{"user":"u","name":"n","failover_timeout":"604800"}"#);
    assert_eq!(fw.failover_timeout, Some(604_800.0));

    let status: v1::TaskStatus =
        decode(r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","timestamp":"1700000000.5"}"#);
    assert_eq!(status.timestamp, Some(1_700_000_000.5));

    let kp: v1::KillPolicy = decode(r#"{"grace_period":{"nanoseconds":"3000000000"}}"#);
    assert_eq!(kp, kill_policy());

    let failure: scheduler::event::Failure = decode(r#"{"status":"-9"}"#);
    assert_eq!(failure.status, Some(-9));

    let sub: scheduler::event::Subscribed =
        decode(r#"{"framework_id":{"value":"f"},"heartbeat_interval_seconds":"15"}"#);
    assert_eq!(sub.heartbeat_interval_seconds, Some(15.0));

    // Integral doubles are accepted for integer fields, and integers for doubles.
    let kp: v1::KillPolicy = decode(r#"{"grace_period":{"nanoseconds":3.0e9}}"#);
    assert_eq!(kp, kill_policy());
}

#[test]
fn bad_numbers_are_errors() {
    assert_mentions(
        &decode_err::<v1::MasterInfo>(r#"{"id":"m","ip":1,"port":"fifty"}"#),
        &["fifty"],
    );
    assert_mentions(
        &decode_err::<v1::MasterInfo>(r#"{"id":"m","ip":1,"port":4294967296}"#),
        &["out of range"],
    );
    assert_mentions(
        &decode_err::<v1::MasterInfo>(r#"{"id":"m","ip":-1,"port":5050}"#),
        &["out of range"],
    );
    decode_err::<v1::DurationInfo>(r#"{"nanoseconds":1.5}"#);
    decode_err::<v1::DurationInfo>(r#"{"nanoseconds":"1.5"}"#);
    decode_err::<v1::value::Scalar>(r#"{"value":"lots"}"#);
    decode_err::<v1::value::Scalar>(r#"{"value":true}"#);
}

#[test]
fn doubles_accept_infinity() {
    let fw: v1::FrameworkInfo = decode(r#"{"user":"u","name":"n","failover_timeout":"Infinity"}"#);
    assert_eq!(fw.failover_timeout, Some(f64::INFINITY));
    let f: v1::Filters = decode(r#"{"refuse_seconds":"Infinity"}"#);
    assert_eq!(f.refuse_seconds(), f64::INFINITY);
    let s: v1::value::Scalar = decode(r#"{"value":"-Infinity"}"#);
    assert_eq!(s.value, f64::NEG_INFINITY);
    let t: v1::TaskInfo = decode(
        r#"{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{"value":"Infinity"},"mem":{"value":"512"}}}"#,
    );
    assert_eq!(
        (t.limits["cpus"].value, t.limits["mem"].value),
        (f64::INFINITY, 512.0)
    );
    // Only doubles: an integer field does not take Infinity.
    decode_err::<v1::DurationInfo>(r#"{"nanoseconds":"Infinity"}"#);
}

#[test]
fn single_object_is_accepted_for_a_repeated_field() {
    let decline: scheduler::Call = decode(
        r#"{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":{"value":"o1"}}}"#,
    );
    assert_eq!(
        decline.decline.expect("decline").offer_ids,
        vec![v1::OfferId {
            value: "o1".to_string()
        }]
    );

    let accept: scheduler::Call = decode(
        r#"{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":{"value":"o1"},
            "operations":{"type":"LAUNCH","launch":{"task_infos":{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},
            "resources":{"name":"cpus","type":"SCALAR","scalar":{"value":1}}}}}}}"#,
    );
    let accept = accept.accept.expect("accept");
    let tasks = &accept.operations[0]
        .launch
        .as_ref()
        .expect("launch")
        .task_infos;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].resources, vec![scalar("cpus", 1.0)]);

    let reconcile: scheduler::Call = decode(
        r#"{"type":"RECONCILE","framework_id":{"value":"f"},"reconcile":{"tasks":{"task_id":{"value":"t"}}}}"#,
    );
    assert_eq!(reconcile.reconcile.expect("reconcile").tasks.len(), 1);

    let ranges: v1::value::Ranges = decode(r#"{"range":{"begin":1,"end":2}}"#);
    assert_eq!(ranges.range, vec![v1::value::Range { begin: 1, end: 2 }]);

    // Also a single scalar for a repeated number or enum.
    let http: v1::health_check::HttpCheckInfo = decode(r#"{"port":80,"statuses":200}"#);
    assert_eq!(http.statuses, vec![200]);
    let caps: v1::CapabilityInfo = decode(r#"{"capabilities":"CHOWN"}"#);
    assert_eq!(
        caps.capabilities,
        vec![v1::capability_info::Capability::Chown as i32]
    );
}

#[test]
fn null_clears_optional_and_repeated_message_fields() {
    let status: v1::TaskStatus = decode(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","message":null,"uuid":null,"timestamp":null,
            "source":null,"agent_id":null,"healthy":null}"#,
    );
    assert_eq!(
        status,
        v1::TaskStatus {
            task_id: task_id("t"),
            state: 1,
            ..Default::default()
        }
    );
    let offers: scheduler::event::Offers = decode(r#"{"offers":null}"#);
    assert!(offers.offers.is_empty());
    let accept: scheduler::call::Accept =
        decode(r#"{"offer_ids":null,"operations":null,"filters":null}"#);
    assert_eq!(accept, scheduler::call::Accept::default());
}

#[test]
fn proto_defaults_via_getters() {
    let cmd: v1::CommandInfo = decode(r#"{"value":"echo hi"}"#);
    assert_eq!(cmd.shell, None);
    assert!(cmd.shell(), "CommandInfo.shell defaults to true");

    let f: v1::Filters = decode("{}");
    assert_eq!(f.refuse_seconds(), 5.0);

    let fw: v1::FrameworkInfo = decode(r#"{"user":"u","name":"n"}"#);
    #[allow(deprecated)]
    let role = fw.role();
    assert_eq!(role, "*");
    assert_eq!(fw.failover_timeout(), 0.0);
    assert!(!fw.checkpoint());

    let r: v1::Resource = decode(r#"{"name":"cpus","type":"SCALAR","scalar":{"value":1}}"#);
    #[allow(deprecated)]
    let role = r.role();
    assert_eq!(role, "*");

    let hc: v1::HealthCheck = decode("{}");
    assert_eq!(
        (
            hc.delay_seconds(),
            hc.interval_seconds(),
            hc.timeout_seconds(),
            hc.consecutive_failures(),
            hc.grace_period_seconds()
        ),
        (15.0, 10.0, 20.0, 3, 10.0)
    );
    let check: v1::CheckInfo = decode("{}");
    assert_eq!(
        (
            check.delay_seconds(),
            check.interval_seconds(),
            check.timeout_seconds()
        ),
        (15.0, 10.0, 20.0)
    );

    let uri: v1::command_info::Uri = decode(r#"{"value":"http://x/f.tgz"}"#);
    assert!(uri.extract());
    assert!(!uri.executable());

    let agent: v1::AgentInfo = decode(r#"{"hostname":"a"}"#);
    assert_eq!(agent.port(), 5051);

    let image: v1::Image = decode(r#"{"type":"DOCKER","docker":{"name":"alpine"}}"#);
    assert!(image.cached());

    let var: v1::environment::Variable = decode(r#"{"name":"A","value":"b"}"#);
    assert_eq!(var.r#type(), v1::environment::variable::Type::Value);

    let ip: v1::network_info::IpAddress = decode(r#"{"ip_address":"10.0.0.5"}"#);
    assert_eq!(ip.protocol(), v1::network_info::Protocol::IPv4);

    let docker: v1::container_info::DockerInfo = decode(r#"{"image":"nginx"}"#);
    assert!(!docker.privileged());

    let linux: v1::LinuxInfo = decode("{}");
    assert!(linux.share_cgroups());

    let drain: v1::DrainConfig = decode("{}");
    assert!(!drain.mark_gone());
}
