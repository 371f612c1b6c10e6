//! Corral's master↔agent protocol on the wire: the tag-first shape, decoding through
//! [`decode_agent_envelope`]/[`decode_master_envelope`], and a clear error for a peer of
//! another protocol version (old or new).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use corral_api::internal::{
    decode_agent_envelope, decode_master_envelope, AgentCall, AgentEnvelope, DecodeError,
    MasterEnvelope, MasterMessage, PROTOCOL_VERSION,
};
use corral_api::v1;
use serde_json::json;

fn pong(seq: u64) -> AgentEnvelope {
    AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 7,
        agent_id: Some(v1::AgentId { value: "a1".into() }),
        stream_id: Some("s1".into()),
        call: AgentCall::Pong { seq },
    }
}

fn subscribe() -> AgentEnvelope {
    let task = v1::Task {
        name: "t".into(),
        task_id: v1::TaskId { value: "t1".into() },
        framework_id: v1::FrameworkId { value: "f1".into() },
        agent_id: v1::AgentId { value: "a1".into() },
        state: v1::TaskState::TaskRunning as i32,
        status_update_uuid: Some(vec![1; 16]),
        ..Default::default()
    };
    AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: Some(v1::AgentId { value: "a1".into() }),
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: v1::AgentInfo {
                hostname: "h".into(),
                id: Some(v1::AgentId { value: "a1".into() }),
                ..Default::default()
            },
            agent_version: "test".into(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![task],
            checkpointed_resources: vec![],
        },
    }
}

/// The variant's name comes first and its fields sit under `body`, so a reader never has to
/// buffer the call to find out what it is.
#[test]
fn calls_and_messages_are_tag_first() {
    let text = serde_json::to_string(&pong(3)).unwrap();
    assert!(
        text.contains(r#""call":{"type":"PONG","body":{"seq":3}}"#),
        "{text}"
    );
    let text = serde_json::to_string(&subscribe()).unwrap();
    let call = &text[text.find(r#""call":"#).unwrap()..];
    assert!(
        call.starts_with(r#""call":{"type":"SUBSCRIBE","body":{"agent_info":"#),
        "{call}"
    );
    let ping = MasterEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 1,
        message: MasterMessage::Ping { seq: 9 },
    };
    let text = serde_json::to_string(&ping).unwrap();
    assert!(
        text.ends_with(r#""message":{"type":"PING","body":{"seq":9}}}"#),
        "{text}"
    );
}

#[test]
fn decode_roundtrips_both_directions() {
    for envelope in [pong(u64::MAX), subscribe()] {
        let body = serde_json::to_vec(&envelope).unwrap();
        assert_eq!(decode_agent_envelope(&body).unwrap(), envelope);
    }
    let ack = MasterEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 4,
        message: MasterMessage::StatusUpdateAcknowledgement {
            framework_id: v1::FrameworkId { value: "f1".into() },
            task_id: v1::TaskId { value: "t1".into() },
            uuid: vec![7; 16],
        },
    };
    let body = serde_json::to_vec(&ack).unwrap();
    assert_eq!(decode_master_envelope(&body).unwrap(), ack);
}

/// A hand-written body with `body` before `type` still decodes (only slower).
#[test]
fn body_before_type_still_decodes() {
    let text = json!({
        "version": PROTOCOL_VERSION,
        "epoch": 7,
        "agent_id": {"value": "a1"},
        "stream_id": "s1",
        "call": {"body": {"seq": 5}, "type": "PONG"},
    })
    .to_string();
    assert!(text.find("body").unwrap() < text.find("PONG").unwrap());
    assert_eq!(decode_agent_envelope(text.as_bytes()).unwrap(), pong(5));
}

/// An agent of protocol version 1 (fields beside `type`) gets an error naming both versions,
/// not a confusing complaint about a missing field.
#[test]
fn an_old_peer_is_told_its_version() {
    let v1_subscribe = json!({
        "version": 1,
        "epoch": 0,
        "call": {"type": "SUBSCRIBE", "agent_info": {"hostname": "h"}, "agent_version": "0.1"},
    })
    .to_string();
    let error = decode_agent_envelope(v1_subscribe.as_bytes()).unwrap_err();
    assert!(
        matches!(error, DecodeError::Version { theirs: 1 }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("version 1") && text.contains(&format!("speaks {PROTOCOL_VERSION}")),
        "{text}"
    );

    let v1_ping = json!({"version": 1, "epoch": 3, "message": {"type": "PING", "seq": 1}});
    let error = decode_master_envelope(v1_ping.to_string().as_bytes()).unwrap_err();
    assert!(
        matches!(error, DecodeError::Version { theirs: 1 }),
        "{error:?}"
    );
}

/// A newer peer whose body happens to decode is still refused by version.
#[test]
fn a_newer_peer_is_refused_even_if_its_body_decodes() {
    let mut envelope = pong(1);
    envelope.version = PROTOCOL_VERSION + 1;
    let body = serde_json::to_vec(&envelope).unwrap();
    let error = decode_agent_envelope(&body).unwrap_err();
    assert!(
        matches!(error, DecodeError::Version { theirs } if theirs == PROTOCOL_VERSION + 1),
        "{error:?}"
    );
}

/// Same version, bad shape: the JSON error itself (naming what is wrong), never a panic.
#[test]
fn bad_bodies_get_clear_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "EOF"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1,2]", "AgentEnvelope"),
        (
            br#"{"version":2,"epoch":0,"call":{"type":"NOPE","body":{}}}"#,
            "NOPE",
        ),
        (br#"{"version":2,"epoch":0,"call":{"type":"PONG"}}"#, "body"),
        (
            br#"{"version":2,"epoch":0,"call":{"type":"PONG","body":{"seq":"x"}}}"#,
            "expected u64",
        ),
    ];
    for (body, expected) in cases {
        let error = decode_agent_envelope(body).unwrap_err();
        assert!(
            !matches!(error, DecodeError::Version { .. }),
            "{body:?}: {error:?}"
        );
        assert!(
            error.to_string().contains(expected),
            "{}: {error}",
            String::from_utf8_lossy(body)
        );
    }
}

/// The Mesos JSON rules still hold inside the protocol after the decoder changes: enums by
/// name or number (unknown optional ones dropped, unknown required ones named in the error),
/// bytes as base64 or pymesos's `{"value": …}`.
#[test]
fn enums_and_bytes_keep_the_mesos_json_rules() {
    let status = |state: serde_json::Value, uuid: serde_json::Value| json!({"task_id": {"value": "t"}, "state": state, "uuid": uuid, "source": "NO_SUCH"});
    let by_name: v1::TaskStatus =
        serde_json::from_value(status(json!("TASK_RUNNING"), json!("AQID"))).unwrap();
    assert_eq!(by_name.state, v1::TaskState::TaskRunning as i32);
    assert_eq!(by_name.uuid.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(by_name.source, None, "an unknown optional enum is dropped");

    let by_number: v1::TaskStatus = serde_json::from_value(status(
        json!(v1::TaskState::TaskFailed as i32),
        json!({"value": "AQID"}),
    ))
    .unwrap();
    assert_eq!(by_number.state, v1::TaskState::TaskFailed as i32);
    assert_eq!(by_number.uuid.as_deref(), Some(&[1u8, 2, 3][..]));

    let error = serde_json::from_value::<v1::TaskStatus>(status(json!("TASK_NOPE"), json!("AQID")))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("TASK_NOPE") && error.contains("TaskState"),
        "{error}"
    );
    let error = serde_json::from_value::<v1::TaskStatus>(status(json!(1_u64 << 40), json!("AQID")))
        .unwrap_err()
        .to_string();
    assert!(error.contains("out of range"), "{error}");
    let error =
        serde_json::from_value::<v1::TaskStatus>(status(json!("TASK_RUNNING"), json!("!!")))
            .unwrap_err()
            .to_string();
    assert!(error.contains("base64"), "{error}");
}
