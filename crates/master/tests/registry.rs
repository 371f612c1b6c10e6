#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
//! The registry across real master restarts (redb on disk, in-process masters over loopback
//! HTTP), and fail-stop on a registry write failure.

use std::sync::Arc;
use std::time::Duration;

use corral_api::internal::{
    AgentCall, AgentEnvelope, MasterEnvelope, MasterMessage, PROTOCOL_VERSION,
};
use corral_api::v1;
use corral_master::{start, MasterFlags, RunningMaster};
use serde_json::Value;

fn flags(dir: &std::path::Path, timeout: &str) -> MasterFlags {
    let mut flags = MasterFlags::defaults();
    flags.port = 0;
    flags.work_dir = dir.to_path_buf();
    flags.agent_reregister_timeout = timeout.into();
    flags
}

fn agent_info(id: Option<&str>) -> v1::AgentInfo {
    let resources: corral_resources::Resources = "cpus:2;mem:512".parse().unwrap();
    v1::AgentInfo {
        hostname: "127.0.0.1".into(),
        port: Some(5051),
        resources: resources.to_proto(),
        id: id.map(|v| v1::AgentId { value: v.into() }),
        ..Default::default()
    }
}

/// SUBSCRIBE an agent; returns the open session response and the first message.
async fn agent_subscribe(base: &str, id: Option<&str>) -> (reqwest::Response, MasterMessage) {
    let envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: id.map(|v| v1::AgentId { value: v.into() }),
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: agent_info(id),
            agent_version: "test".into(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![],
            checkpointed_resources: vec![],
        },
    };
    let mut resp = reqwest::Client::new()
        .post(format!("{base}{}", corral_api::internal::AGENT_ENDPOINT))
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&envelope).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "agent SUBSCRIBE");
    let mut buf = Vec::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buf.extend_from_slice(&chunk);
        if let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let len: usize = std::str::from_utf8(&buf[..nl]).unwrap().parse().unwrap();
            if buf.len() >= nl + 1 + len {
                let env: MasterEnvelope =
                    serde_json::from_slice(&buf[nl + 1..nl + 1 + len]).unwrap();
                return (resp, env.message);
            }
        }
    }
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::get(format!("{base}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn ids(list: &Value, pointer: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.pointer(pointer).unwrap().as_str().unwrap().to_string())
        .collect()
}

async fn registry(base: &str) -> (Vec<String>, Vec<String>) {
    let r = get(base, "/registrar(1)/registry").await;
    (
        ids(&r["slaves"]["slaves"], "/info/id/value"),
        ids(&r["unreachable"]["slaves"], "/id/value"),
    )
}

async fn running(flags: MasterFlags) -> (RunningMaster, String) {
    let m = start(flags).await.unwrap();
    let base = format!("http://{}", m.addr);
    (m, base)
}

#[tokio::test]
async fn an_admitted_agent_is_recovered_after_a_restart_and_reregisters() {
    let dir = tempfile::tempdir().unwrap();
    let (m, base) = running(flags(dir.path(), "10mins")).await;
    let (session, first) = agent_subscribe(&base, None).await;
    let MasterMessage::Registered { agent_id, .. } = first else {
        panic!("expected REGISTERED, got {first:?}");
    };
    let id = agent_id.value;
    assert_eq!(registry(&base).await.0, vec![id.clone()]);
    drop(session);
    m.shutdown().await;
    assert!(dir.path().join("registry.redb").exists());

    let (m, base) = running(flags(dir.path(), "10mins")).await;
    let state = get(&base, "/state").await;
    assert_eq!(ids(&state["recovered_slaves"], "/id"), vec![id.clone()]);
    assert!(state["slaves"].as_array().unwrap().is_empty());

    let (_session, first) = agent_subscribe(&base, Some(&id)).await;
    assert!(
        matches!(first, MasterMessage::Registered { .. }),
        "{first:?}"
    );
    let state = get(&base, "/state").await;
    assert!(state["recovered_slaves"].as_array().unwrap().is_empty());
    assert_eq!(ids(&state["slaves"], "/id"), vec![id.clone()]);
    assert_eq!(registry(&base).await, (vec![id], vec![]));
    m.shutdown().await;
}

#[tokio::test]
async fn a_missing_agent_is_marked_unreachable_durably_and_may_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let (m, base) = running(flags(dir.path(), "300ms")).await;
    let (session, first) = agent_subscribe(&base, None).await;
    let MasterMessage::Registered { agent_id, .. } = first else {
        panic!("expected REGISTERED, got {first:?}");
    };
    let id = agent_id.value;
    drop(session);
    m.shutdown().await;

    let (m, base) = running(flags(dir.path(), "300ms")).await;
    let mut marked = false;
    for _ in 0..200 {
        if registry(&base).await == (vec![], vec![id.clone()]) {
            marked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        marked,
        "agent not marked unreachable: {:?}",
        registry(&base).await
    );
    m.shutdown().await;

    // Durable: the next master knows it as unreachable, and lets it back in.
    let (m, base) = running(flags(dir.path(), "300ms")).await;
    assert_eq!(registry(&base).await, (vec![], vec![id.clone()]));
    assert!(get(&base, "/state").await["recovered_slaves"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_session, first) = agent_subscribe(&base, Some(&id)).await;
    assert!(
        matches!(first, MasterMessage::Registered { .. }),
        "{first:?}"
    );
    assert_eq!(registry(&base).await, (vec![id], vec![]));
    m.shutdown().await;
}

#[tokio::test]
async fn the_in_memory_registry_forgets_agents() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = flags(dir.path(), "10mins");
    f.registry = "in_memory".into();
    let (m, base) = running(f.clone()).await;
    let (session, _) = agent_subscribe(&base, None).await;
    drop(session);
    m.shutdown().await;
    let (m, base) = running(f).await;
    assert!(get(&base, "/state").await["recovered_slaves"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!dir.path().join("registry.redb").exists());
    m.shutdown().await;
}

/// A store whose writes fail (a full disk, a lost ZooKeeper quorum).
struct FailingStore;

impl corral_store::Store for FailingStore {
    fn get(&self, _: &str) -> Result<Option<corral_store::Versioned>, corral_store::StoreError> {
        Ok(None)
    }
    fn put(&self, key: &str, _: &[u8], _: Option<u64>) -> Result<u64, corral_store::StoreError> {
        Err(corral_store::StoreError::Io {
            key: key.into(),
            source: std::io::Error::other("disk full"),
        })
    }
    fn delete(&self, _: &str, _: u64) -> Result<(), corral_store::StoreError> {
        Ok(())
    }
    fn keys(&self, _: &str) -> Result<Vec<String>, corral_store::StoreError> {
        Ok(vec![])
    }
}

#[tokio::test]
async fn a_failed_admission_write_stops_the_master_and_never_registers_the_agent() {
    use corral_master::clock::{Clock, ManualClock};
    use corral_master::core::{CoreConfig, MasterCore};
    use corral_master::registry::Registry;
    use corral_master::runtime::{Command, FatalAction, Runtime, Timers};

    let clock = Arc::new(ManualClock::at(1000.0));
    let core = MasterCore::new(
        CoreConfig::default(),
        v1::MasterInfo {
            id: "M".into(),
            ..Default::default()
        },
        1,
        Box::new(corral_master::allocator::first::FirstFitAllocator::new()),
        clock.now(),
    );
    let timers = Timers {
        heartbeat: Duration::from_secs(60),
        agent_ping: Duration::from_secs(60),
        tick: Duration::from_secs(60),
    };
    let (runtime, commands) = Runtime::new(core, clock, timers);
    let runtime = runtime
        .with_registry(Registry::new(Arc::new(FailingStore)))
        .on_fatal(FatalAction::Stop);
    let actor = tokio::spawn(runtime.run());

    let (messages, mut received) = tokio::sync::mpsc::channel(16);
    let (reply, _verdict) = tokio::sync::oneshot::channel();
    let envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: None,
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: agent_info(None),
            agent_version: "test".into(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![],
            checkpointed_resources: vec![],
        },
    };
    commands
        .send(Command::AgentSubscribe {
            envelope,
            messages,
            reply,
        })
        .await
        .unwrap();
    // The stream ends without REGISTERED, and the actor has stopped.
    let got = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .unwrap();
    assert!(got.is_none(), "a message was sent: {got:?}");
    tokio::time::timeout(Duration::from_secs(5), actor)
        .await
        .unwrap()
        .unwrap();
    assert!(commands
        .send(Command::Query(Box::new(|_, _| {})))
        .await
        .is_err());
}

/// Measurement, not a check: one durable admission (a redb transaction) per agent.
/// `cargo test -p corral-master --test registry -- --ignored --nocapture`
#[test]
#[ignore]
fn admission_write_latency_on_redb() {
    use corral_master::registry::{AgentRecord, AgentState, Registry, RegistryWrite};
    let dir = tempfile::tempdir().unwrap();
    let store = corral_master::registry::open_local_store("redb", dir.path()).unwrap();
    let mut registry = Registry::new(store);
    let n = 500;
    let started = std::time::Instant::now();
    for i in 0..n {
        registry
            .apply(&RegistryWrite::Agent(AgentRecord {
                info: agent_info(Some(&format!("M-S{i}"))),
                state: AgentState::Admitted,
            }))
            .unwrap();
    }
    let per = started.elapsed() / n;
    println!("redb admission write: {per:?} per agent ({n} agents)");
}
