//! Spot checks that the protobuf encoding uses Mesos's field numbers, wire types and proto2
//! conventions (required fields always written, repeated scalars unpacked), so that a C++ Mesos
//! peer or a protobuf client reads Corral's bytes and vice versa.

mod common;

use common::*;
use corral_api::v1;
use corral_api::v1::{executor, scheduler};
use prost::Message;

// ---------------------------------------------------------------------------------------------
// A minimal wire-format reader, to look at top-level fields regardless of their order.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Wire {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Fixed32([u8; 4]),
}

fn read_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[*pos];
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint too long");
}

/// The top-level `(field number, value)` pairs of an encoded message, in wire order.
fn fields(buf: &[u8]) -> Vec<(u32, Wire)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos);
        let tag = u32::try_from(key >> 3).expect("tag fits");
        let wire = match key & 7 {
            0 => Wire::Varint(read_varint(buf, &mut pos)),
            1 => {
                let v = buf[pos..pos + 8].try_into().expect("8 bytes");
                pos += 8;
                Wire::Fixed64(v)
            }
            2 => {
                let len = usize::try_from(read_varint(buf, &mut pos)).expect("len fits");
                let v = buf[pos..pos + len].to_vec();
                pos += len;
                Wire::Bytes(v)
            }
            5 => {
                let v = buf[pos..pos + 4].try_into().expect("4 bytes");
                pos += 4;
                Wire::Fixed32(v)
            }
            other => panic!("unexpected wire type {other}"),
        };
        out.push((tag, wire));
    }
    out
}

/// The single field with number `tag` (panics if absent or repeated).
fn field(buf: &[u8], tag: u32) -> Wire {
    let mut found: Vec<Wire> = fields(buf)
        .into_iter()
        .filter(|(t, _)| *t == tag)
        .map(|(_, w)| w)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "field {tag} occurs {} times in {buf:02x?}",
        found.len()
    );
    found.remove(0)
}

fn tags(buf: &[u8]) -> Vec<u32> {
    fields(buf).into_iter().map(|(t, _)| t).collect()
}

fn bytes_of(w: Wire) -> Vec<u8> {
    match w {
        Wire::Bytes(b) => b,
        other => panic!("expected a length-delimited field, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Exact bytes of small messages
// ---------------------------------------------------------------------------------------------

#[test]
fn scheduler_call_type_is_tag_2() {
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::Subscribe as i32),
        ..Default::default()
    };
    assert_eq!(call.encode_to_vec(), [0x10, 0x01]);
    let call = scheduler::Call {
        r#type: Some(scheduler::call::Type::UpdateFramework as i32),
        ..Default::default()
    };
    assert_eq!(call.encode_to_vec(), [0x10, 17]);
}

#[test]
fn scheduler_call_framework_id_is_tag_1() {
    let call = scheduler::Call {
        framework_id: Some(v1::FrameworkId {
            value: "f".to_string(),
        }),
        ..Default::default()
    };
    assert_eq!(call.encode_to_vec(), [0x0a, 0x03, 0x0a, 0x01, b'f']);
}

#[test]
fn scheduler_event_heartbeat() {
    let e = scheduler::Event {
        r#type: Some(scheduler::event::Type::Heartbeat as i32),
        ..Default::default()
    };
    assert_eq!(e.encode_to_vec(), [0x08, 0x08]);
    // And Mesos's bytes decode to it.
    assert_eq!(
        scheduler::Event::decode(&[0x08u8, 0x08][..]).expect("decodes"),
        e
    );
}

#[test]
fn executor_call_message_data_is_tag_2() {
    let m = executor::call::Message {
        data: b"hi".to_vec(),
    };
    assert_eq!(m.encode_to_vec(), [0x12, 0x02, b'h', b'i']);
}

#[test]
fn task_status_minimal_with_uuid() {
    let status = v1::TaskStatus {
        task_id: task_id("t"),
        state: v1::TaskState::TaskRunning as i32,
        uuid: Some(UUID_BYTES.to_vec()),
        ..Default::default()
    };
    let mut expected = vec![0x0a, 0x03, 0x0a, 0x01, b't', 0x10, 0x01, 0x5a, 0x10];
    expected.extend_from_slice(&UUID_BYTES);
    assert_eq!(status.encode_to_vec(), expected);
}

#[test]
fn framework_info_roles_is_tag_12() {
    let info = v1::FrameworkInfo {
        user: "u".to_string(),
        name: "n".to_string(),
        roles: vec!["a".to_string(), "b".to_string()],
        ..Default::default()
    };
    assert_eq!(
        info.encode_to_vec(),
        [0x0a, 0x01, b'u', 0x12, 0x01, b'n', 0x62, 0x01, b'a', 0x62, 0x01, b'b']
    );
}

#[test]
fn task_info_limits_is_map_tag_15() {
    let mut info = v1::TaskInfo {
        name: "t".to_string(),
        task_id: task_id("t"),
        agent_id: v1::AgentId {
            value: "a".to_string(),
        },
        ..Default::default()
    };
    info.limits
        .insert("cpus".to_string(), v1::value::Scalar { value: 2.0 });
    let buf = info.encode_to_vec();
    assert_eq!(tags(&buf), [1, 2, 3, 15]);
    // Map entry: key (1) = "cpus", value (2) = Value.Scalar { value (1, fixed64) = 2.0 }.
    let mut entry = vec![0x0a, 0x04, b'c', b'p', b'u', b's', 0x12, 0x09, 0x09];
    entry.extend_from_slice(&2.0f64.to_le_bytes());
    assert_eq!(bytes_of(field(&buf, 15)), entry);
    assert_eq!(
        &buf[buf.len() - entry.len() - 2..buf.len() - entry.len()],
        [0x7a, 0x11]
    );
}

// ---------------------------------------------------------------------------------------------
// Field numbers of the key messages
// ---------------------------------------------------------------------------------------------

#[test]
fn task_status_field_numbers() {
    let buf = task_status().encode_to_vec();
    let mut got = tags(&buf);
    got.sort_unstable();
    assert_eq!(
        got,
        (1..=16).collect::<Vec<u32>>(),
        "TaskStatus uses tags 1..=16, each once"
    );
    assert_eq!(field(&buf, 2), Wire::Varint(1), "state TASK_RUNNING");
    assert_eq!(field(&buf, 9), Wire::Varint(2), "source SOURCE_EXECUTOR");
    assert_eq!(
        field(&buf, 10),
        Wire::Varint(29),
        "reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    );
    assert_eq!(
        field(&buf, 6),
        Wire::Fixed64(1_700_000_123.456_789f64.to_le_bytes()),
        "timestamp double"
    );
    assert_eq!(bytes_of(field(&buf, 11)), UUID_BYTES, "uuid");
    assert_eq!(bytes_of(field(&buf, 3)), b"\x00status\xff", "data");
    assert_eq!(field(&buf, 8), Wire::Varint(1), "healthy");
    assert_eq!(
        bytes_of(field(&buf, 5)),
        v1::AgentId {
            value: agent_id().value
        }
        .encode_to_vec(),
        "agent_id"
    );
    assert_eq!(
        bytes_of(field(&buf, 7)),
        executor_id("exec-web-1").encode_to_vec(),
        "executor_id"
    );
    assert_eq!(
        bytes_of(field(&buf, 14)),
        v1::TimeInfo {
            nanoseconds: 1_700_000_000_123_456_789
        }
        .encode_to_vec(),
        "unreachable_time"
    );
}

#[test]
fn offer_field_numbers() {
    let o = offer(7);
    let buf = o.encode_to_vec();
    assert_eq!(
        bytes_of(field(&buf, 10)),
        o.allocation_info.as_ref().expect("set").encode_to_vec(),
        "allocation_info"
    );
    assert_eq!(bytes_of(field(&buf, 10)), [0x0a, 0x03, b'w', b'e', b'b']);
    assert_eq!(bytes_of(field(&buf, 4)), b"agent1.example.com", "hostname");
    assert_eq!(bytes_of(field(&buf, 8)), agent_url().encode_to_vec(), "url");
    assert_eq!(
        bytes_of(field(&buf, 11)),
        domain().encode_to_vec(),
        "domain"
    );
    assert_eq!(
        bytes_of(field(&buf, 9)),
        unavailability().encode_to_vec(),
        "unavailability"
    );
    let count = |t: u32| tags(&buf).iter().filter(|&&x| x == t).count();
    assert_eq!(count(5), o.resources.len(), "resources");
    assert_eq!(count(7), o.attributes.len(), "attributes");
    assert_eq!(count(6), 1, "executor_ids");
}

#[test]
fn resource_field_numbers() {
    let mut r = reserved(scalar("cpus", 1.5), "web");
    r.provider_id = Some(provider_id());
    r = allocated(r, "web");
    r.revocable = Some(v1::resource::RevocableInfo {});
    let buf = r.encode_to_vec();
    assert_eq!(bytes_of(field(&buf, 1)), b"cpus", "name");
    assert_eq!(
        field(&buf, 2),
        Wire::Varint(0),
        "type SCALAR (0) is written: it is required"
    );
    let mut scalar = vec![0x09];
    scalar.extend_from_slice(&1.5f64.to_le_bytes());
    assert_eq!(bytes_of(field(&buf, 3)), scalar, "scalar");
    assert_eq!(
        bytes_of(field(&buf, 11)),
        [0x0a, 0x03, b'w', b'e', b'b'],
        "allocation_info"
    );
    assert_eq!(
        bytes_of(field(&buf, 12)),
        provider_id().encode_to_vec(),
        "provider_id"
    );
    assert_eq!(
        bytes_of(field(&buf, 9)),
        Vec::<u8>::new(),
        "revocable: an empty message"
    );
    let reservations: Vec<Vec<u8>> = fields(&buf)
        .into_iter()
        .filter(|(t, _)| *t == 13)
        .map(|(_, w)| bytes_of(w))
        .collect();
    assert_eq!(
        reservations.len(),
        2,
        "reservations (13), one field per element"
    );
    // ReservationInfo: type is tag 4, role tag 3, principal tag 1, labels tag 2.
    assert_eq!(reservations[0], [0x1a, 0x03, b'w', b'e', b'b', 0x20, 0x01]);
    let inner = &reservations[1];
    assert_eq!(field(inner, 4), Wire::Varint(2), "DYNAMIC");
    assert_eq!(bytes_of(field(inner, 1)), b"ops");
    assert_eq!(bytes_of(field(inner, 3)), b"web/sub");

    let ports = ranges("ports", &[(31000, 32000)]);
    let buf = ports.encode_to_vec();
    assert_eq!(field(&buf, 2), Wire::Varint(1), "RANGES");
    // Ranges { range (1): Range { begin (1), end (2) } }.
    assert_eq!(
        bytes_of(field(&buf, 4)),
        [0x0a, 0x08, 0x08, 0x98, 0xf2, 0x01, 0x10, 0x80, 0xfa, 0x01]
    );
    let disks = set("disks", &["sda"]);
    assert_eq!(
        bytes_of(field(&disks.encode_to_vec(), 5)),
        [0x0a, 0x03, b's', b'd', b'a'],
        "set (5)"
    );
}

#[test]
fn task_info_field_numbers() {
    let t = task_info("web");
    let buf = t.encode_to_vec();
    let expect = [
        (1, "name"),
        (2, "task_id"),
        (3, "agent_id"),
        (4, "resources"),
        (7, "command"),
        (9, "container"),
        (8, "health_check"),
        (13, "check"),
        (12, "kill_policy"),
        (6, "data"),
        (10, "labels"),
        (11, "discovery"),
        (14, "max_completion_time"),
        (15, "limits"),
    ];
    let present = tags(&buf);
    for (tag, name) in expect {
        assert!(
            present.contains(&tag),
            "{name} ({tag}) missing: {present:?}"
        );
    }
    assert!(!present.contains(&5), "no executor on a command task");
    assert_eq!(
        bytes_of(field(&buf, 6)),
        [0, 1, 2, 0xfe, 0xff, b'{', b'"'],
        "data"
    );
    assert_eq!(bytes_of(field(&buf, 12)), kill_policy().encode_to_vec());
    // KillPolicy { grace_period (1): DurationInfo { nanoseconds (1) = 3e9 } }.
    assert_eq!(
        kill_policy().encode_to_vec(),
        [0x0a, 0x06, 0x08, 0x80, 0xbc, 0xc1, 0x96, 0x0b]
    );
}

#[test]
fn scheduler_call_payload_field_numbers() {
    let expected = [
        ("SUBSCRIBE", 3),
        ("ACCEPT", 4),
        ("DECLINE", 5),
        ("ACCEPT_INVERSE_OFFERS", 13),
        ("DECLINE_INVERSE_OFFERS", 14),
        ("REVIVE", 15),
        ("KILL", 6),
        ("SHUTDOWN", 7),
        ("ACKNOWLEDGE", 8),
        ("ACKNOWLEDGE_OPERATION_STATUS", 17),
        ("RECONCILE", 9),
        ("RECONCILE_OPERATIONS", 18),
        ("MESSAGE", 10),
        ("REQUEST", 11),
        ("SUPPRESS", 16),
        ("UPDATE_FRAMEWORK", 19),
    ];
    for (name, call) in scheduler_calls() {
        let buf = call.encode_to_vec();
        let mut got = tags(&buf);
        got.sort_unstable();
        let payload: Vec<u32> = expected
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .collect();
        let mut want = vec![1, 2];
        want.extend(payload);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn acknowledge_operation_status_uses_a_two_byte_key() {
    let call = scheduler::Call {
        acknowledge_operation_status: Some(scheduler::call::AcknowledgeOperationStatus {
            agent_id: None,
            resource_provider_id: None,
            uuid: vec![7],
            operation_id: operation_id("o"),
        }),
        ..Default::default()
    };
    // Tag 17, wire type 2: key 138 = varint [0x8a, 0x01]. Inside: uuid (3), operation_id (4).
    assert_eq!(
        call.encode_to_vec(),
        [0x8a, 0x01, 0x08, 0x1a, 0x01, 0x07, 0x22, 0x03, 0x0a, 0x01, b'o']
    );
}

#[test]
fn scheduler_event_payload_field_numbers() {
    let expected = [
        ("SUBSCRIBED", 2),
        ("OFFERS", 3),
        ("INVERSE_OFFERS", 9),
        ("RESCIND", 4),
        ("RESCIND_INVERSE_OFFER", 10),
        ("UPDATE", 5),
        ("UPDATE_OPERATION_STATUS", 11),
        ("MESSAGE", 6),
        ("FAILURE", 7),
        ("ERROR", 8),
    ];
    for (name, event) in scheduler_events() {
        let buf = event.encode_to_vec();
        let mut want = vec![1];
        want.extend(expected.iter().filter(|(n, _)| *n == name).map(|(_, t)| *t));
        let mut got = tags(&buf);
        got.sort_unstable();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn executor_call_and_event_field_numbers() {
    let calls = [
        ("SUBSCRIBE", Some(4)),
        ("UPDATE", Some(5)),
        ("MESSAGE", Some(6)),
        ("HEARTBEAT", None),
    ];
    for (name, call) in executor_calls() {
        let buf = call.encode_to_vec();
        let mut want = vec![1, 2, 3];
        want.extend(
            calls
                .iter()
                .filter(|(n, _)| *n == name)
                .filter_map(|(_, t)| *t),
        );
        let mut got = tags(&buf);
        got.sort_unstable();
        assert_eq!(got, want, "executor Call {name}");
    }
    let events = [
        ("SUBSCRIBED", Some(2)),
        ("ACKNOWLEDGED", Some(3)),
        ("LAUNCH", Some(4)),
        ("LAUNCH_GROUP", Some(8)),
        ("KILL", Some(5)),
        ("MESSAGE", Some(6)),
        ("ERROR", Some(7)),
        ("SHUTDOWN", None),
        ("HEARTBEAT", None),
    ];
    for (name, event) in executor_events() {
        let buf = event.encode_to_vec();
        let mut want = vec![1];
        want.extend(
            events
                .iter()
                .filter(|(n, _)| *n == name)
                .filter_map(|(_, t)| *t),
        );
        let mut got = tags(&buf);
        got.sort_unstable();
        assert_eq!(got, want, "executor Event {name}");
    }
    // Event.Acknowledged: task_id (1), uuid (2).
    let ack = executor::event::Acknowledged {
        task_id: task_id("t"),
        uuid: vec![9],
    };
    assert_eq!(
        ack.encode_to_vec(),
        [0x0a, 0x03, 0x0a, 0x01, b't', 0x12, 0x01, 0x09]
    );
}

#[test]
fn offer_operation_field_numbers() {
    let op = v1::offer::Operation {
        r#type: Some(v1::offer::operation::Type::LaunchGroup as i32),
        id: Some(operation_id("x")),
        launch_group: Some(v1::offer::operation::LaunchGroup {
            executor: v1::ExecutorInfo {
                executor_id: executor_id("e"),
                ..Default::default()
            },
            task_group: v1::TaskGroupInfo::default(),
        }),
        ..Default::default()
    };
    let buf = op.encode_to_vec();
    assert_eq!(field(&buf, 1), Wire::Varint(6), "LAUNCH_GROUP = 6");
    assert_eq!(bytes_of(field(&buf, 12)), [0x0a, 0x01, b'x'], "id (12)");
    // LaunchGroup { executor (1): { executor_id (1) }, task_group (2): {} }.
    assert_eq!(
        bytes_of(field(&buf, 7)),
        [0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'e', 0x12, 0x00]
    );
}

#[test]
fn framework_and_master_info_field_numbers() {
    let buf = framework_info().encode_to_vec();
    assert_eq!(
        field(&buf, 4),
        Wire::Fixed64(604_800.0f64.to_le_bytes()),
        "failover_timeout"
    );
    assert_eq!(field(&buf, 5), Wire::Varint(1), "checkpoint");
    assert_eq!(
        bytes_of(field(&buf, 3)),
        framework_id().encode_to_vec(),
        "id"
    );
    assert_eq!(
        bytes_of(field(&buf, 9)),
        b"http://scheduler1.example.com:8080/",
        "webui_url"
    );
    let caps: Vec<Vec<u8>> = fields(&buf)
        .into_iter()
        .filter(|(t, _)| *t == 10)
        .map(|(_, w)| bytes_of(w))
        .collect();
    assert_eq!(caps[0], [0x08, 0x06], "capabilities (10): MULTI_ROLE = 6");
    assert!(tags(&buf).contains(&13), "offer_filters (13)");

    let buf = master_info().encode_to_vec();
    assert_eq!(
        field(&buf, 2),
        Wire::Varint(16_777_343),
        "ip is a uint32 varint"
    );
    assert_eq!(field(&buf, 3), Wire::Varint(5050), "port");
    assert_eq!(bytes_of(field(&buf, 6)), b"1.11.0", "version");
}

// ---------------------------------------------------------------------------------------------
// proto2 conventions
// ---------------------------------------------------------------------------------------------

/// proto2 readers (Mesos's C++) reject a message whose required fields are missing, so a
/// required field holding the zero value must still be on the wire.
#[test]
fn required_fields_are_written_even_when_zero() {
    let status = v1::TaskStatus {
        task_id: task_id(""),
        state: v1::TaskState::TaskStarting as i32,
        ..Default::default()
    };
    assert_eq!(status.encode_to_vec(), [0x0a, 0x02, 0x0a, 0x00, 0x10, 0x00]);
    let scalar = v1::value::Scalar { value: 0.0 };
    assert_eq!(scalar.encode_to_vec(), [0x09, 0, 0, 0, 0, 0, 0, 0, 0]);
    let range = v1::value::Range { begin: 0, end: 0 };
    assert_eq!(range.encode_to_vec(), [0x08, 0x00, 0x10, 0x00]);
    let ack = scheduler::call::Acknowledge {
        agent_id: v1::AgentId::default(),
        task_id: task_id(""),
        uuid: vec![],
    };
    assert_eq!(
        ack.encode_to_vec(),
        [0x0a, 0x02, 0x0a, 0x00, 0x12, 0x02, 0x0a, 0x00, 0x1a, 0x00]
    );
}

/// An optional field is written when set (even to its default) and omitted when unset.
#[test]
fn optional_fields_are_written_only_when_set() {
    assert_eq!(v1::CommandInfo::default().encode_to_vec(), Vec::<u8>::new());
    let shell = v1::CommandInfo {
        shell: Some(true),
        ..Default::default()
    };
    assert_eq!(shell.encode_to_vec(), [0x30, 0x01], "shell is tag 6");
    let no_shell = v1::CommandInfo {
        shell: Some(false),
        ..Default::default()
    };
    assert_eq!(no_shell.encode_to_vec(), [0x30, 0x00]);
    let filters = v1::Filters {
        refuse_seconds: Some(5.0),
    };
    let mut expected = vec![0x09];
    expected.extend_from_slice(&5.0f64.to_le_bytes());
    assert_eq!(filters.encode_to_vec(), expected);
}

/// proto2 repeated scalars are not packed: one key per element, as Mesos writes them.
#[test]
fn repeated_scalars_are_unpacked() {
    let http = v1::health_check::HttpCheckInfo {
        port: 80,
        statuses: vec![200, 204],
        ..Default::default()
    };
    assert_eq!(
        http.encode_to_vec(),
        [0x08, 0x50, 0x20, 0xc8, 0x01, 0x20, 0xcc, 0x01]
    );
    let caps = v1::CapabilityInfo {
        capabilities: vec![
            v1::capability_info::Capability::Chown as i32,
            v1::capability_info::Capability::Kill as i32,
        ],
    };
    assert_eq!(caps.encode_to_vec(), [0x08, 0xe8, 0x07, 0x08, 0xed, 0x07]);
    // A packed encoding (as a proto3-minded peer might send) is still read.
    let packed = [0x08, 0x50, 0x22, 0x04, 0xc8, 0x01, 0xcc, 0x01];
    assert_eq!(
        v1::health_check::HttpCheckInfo::decode(&packed[..]).expect("decodes"),
        http
    );
}

#[test]
fn negative_int32_is_a_ten_byte_varint() {
    let failure = scheduler::event::Failure {
        status: Some(-1),
        ..Default::default()
    };
    assert_eq!(
        failure.encode_to_vec(),
        [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
    );
}

#[test]
fn unknown_fields_and_enum_values_are_tolerated() {
    // A HEARTBEAT event followed by an unknown varint field 99 and an unknown string field 100.
    let bytes = [0x08, 0x08, 0x98, 0x06, 0x01, 0xa2, 0x06, 0x02, b'h', b'i'];
    let e = scheduler::Event::decode(&bytes[..]).expect("decodes");
    assert_eq!(e.r#type(), scheduler::event::Type::Heartbeat);

    // An enum number this build does not know survives a protobuf round trip.
    let status = v1::TaskStatus {
        task_id: task_id("t"),
        state: 99,
        reason: Some(1000),
        ..Default::default()
    };
    assert_eq!(
        v1::TaskStatus::decode(status.encode_to_vec().as_slice()).expect("decodes"),
        status
    );
}
