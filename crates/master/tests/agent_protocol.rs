#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
//! The agent protocol's HTTP edge over real loopback: a SUBSCRIBE in the current protocol
//! version registers; one from an agent of another version (the old shape with the fields
//! beside `type`, or a newer version) is refused with a 400 that names both versions.

use std::time::Duration;

use corral_api::internal::{
    AgentCall, AgentEnvelope, MasterEnvelope, MasterMessage, AGENT_ENDPOINT, PROTOCOL_VERSION,
};
use corral_api::v1;
use corral_master::{start, MasterFlags, RunningMaster};
use serde_json::json;

async fn master() -> (RunningMaster, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = MasterFlags::defaults();
    flags.port = 0;
    flags.work_dir = dir.path().to_path_buf();
    let m = start(flags).await.unwrap();
    let base = format!("http://{}{AGENT_ENDPOINT}", m.addr);
    (m, base, dir)
}

fn subscribe(version: u32) -> AgentEnvelope {
    AgentEnvelope {
        version,
        epoch: 0,
        agent_id: None,
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: v1::AgentInfo {
                hostname: "h1".into(),
                ..Default::default()
            },
            agent_version: "test".into(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![],
            checkpointed_resources: vec![],
        },
    }
}

async fn post(base: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(base)
        .header("Content-Type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_current_agent_registers_and_others_are_told_the_version() {
    let (_m, base, _dir) = master().await;

    // The current version: 200 and a REGISTERED record first on the stream.
    let mut resp = post(
        &base,
        serde_json::to_vec(&subscribe(PROTOCOL_VERSION)).unwrap(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut buf = Vec::new();
    let registered = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buf.extend_from_slice(&chunk);
        let Some(nl) = buf.iter().position(|b| *b == b'\n') else {
            continue;
        };
        let len: usize = std::str::from_utf8(&buf[..nl]).unwrap().parse().unwrap();
        if buf.len() >= nl + 1 + len {
            break serde_json::from_slice::<MasterEnvelope>(&buf[nl + 1..nl + 1 + len]).unwrap();
        }
    };
    assert!(
        matches!(registered.message, MasterMessage::Registered { .. }),
        "{registered:?}"
    );

    // An agent of protocol version 1: the fields were beside `type`.
    let old = json!({
        "version": 1,
        "epoch": 0,
        "call": {"type": "SUBSCRIBE", "agent_info": {"hostname": "h2"}, "agent_version": "old"},
    });
    let resp = post(&base, old.to_string().into_bytes()).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("version 1") && text.contains(&format!("speaks {PROTOCOL_VERSION}")),
        "{text}"
    );

    // A newer agent whose body happens to decode.
    let newer = serde_json::to_vec(&subscribe(PROTOCOL_VERSION + 1)).unwrap();
    let resp = post(&base, newer).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(&format!("version {}", PROTOCOL_VERSION + 1)),
        "{text}"
    );

    // Same version, broken body: the parse error.
    let resp = post(&base, b"{\"version\":2,".to_vec()).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("Failed to parse agent call"), "{text}");
}
