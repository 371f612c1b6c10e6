//! Agent recovery with the real POSIX launcher: an agent dies without shutting down (its
//! runtime is dropped, as `kill -9` would leave things), a new agent on the same work
//! directory re-adopts the executor's container through the containerizer, waits
//! `--executor_reregistration_timeout` for it, then destroys it — the re-adopted process is
//! really killed — and reports its task failed once, re-registering under the old agent id.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::{self, task_status::Reason, TaskState};
use support::{run_custom_task, FakeMaster, AGENT_ID};

fn flags(master: &FakeMaster, work_dir: &std::path::Path) -> corral_agent::AgentFlags {
    corral_agent::AgentFlags::try_parse_from([
        "agent".to_string(),
        format!("--master=127.0.0.1:{}", master.addr.port()),
        "--port=0".to_string(),
        format!("--work_dir={}", work_dir.display()),
        "--resources=cpus:2;mem:1024;disk:2048;ports:[31000-31010]".to_string(),
        "--status_update_retry_interval=300ms".to_string(),
        "--executor_reregistration_timeout=1secs".to_string(),
        "--executor_binary=/bin/false".to_string(),
    ])
    .unwrap()
}

/// The pid recorded in the only `run.info` under `meta/`, once there is one.
fn checkpointed_pid(work_dir: &std::path::Path) -> Option<u32> {
    let mut stack = vec![work_dir.join("meta")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "run.info") {
                let json: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
                return json["pid"].as_u64().map(|p| p as u32);
            }
        }
    }
    None
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            !state.is_some_and(|r| r.starts_with('Z') || r.starts_with('X'))
        })
        .unwrap_or(false)
}

#[test]
fn a_dead_agents_executor_is_readopted_and_destroyed_when_it_does_not_reregister() {
    let work = tempfile::tempdir().unwrap();
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut task = run_custom_task("t1", "e1", "exec sleep 1000");
    if let MasterMessage::RunTask { framework, .. } = &mut task {
        framework.checkpoint = Some(true);
    }
    let mut master = main.block_on(FakeMaster::start(vec![task]));

    // The first agent launches the executor, then dies with its runtime.
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let agent = first
        .block_on(corral_agent::start(flags(&master, work.path())))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = checkpointed_pid(work.path()) {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the executor's pid was never checkpointed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(alive(pid));
    std::mem::forget(agent); // no graceful shutdown: nothing is destroyed
    first.shutdown_background();
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid), "the executor must outlive its agent");

    main.block_on(async {
        // Drain what the first agent said.
        while master.calls.try_recv().is_ok() {}
        let second = corral_agent::start(flags(&master, work.path()))
            .await
            .unwrap();
        // It re-registers with its old id and reports the recovered task.
        let (agent_info, tasks) = master
            .next_call(|call| match call {
                AgentCall::Subscribe {
                    agent_info, tasks, ..
                } => Some((agent_info.clone(), tasks.clone())),
                _ => None,
            })
            .await;
        assert_eq!(agent_info.id.unwrap().value, AGENT_ID);
        assert!(tasks.iter().any(|t| t.task_id.value == "t1"), "{tasks:?}");
        // The executor never re-subscribed: destroyed (its process is really gone) and its
        // task failed once.
        let status = master
            .next_call(|call| match call {
                AgentCall::StatusUpdate { status, .. } if status.task_id.value == "t1" => {
                    Some(status.clone())
                }
                _ => None,
            })
            .await;
        assert_eq!(status.state(), TaskState::TaskFailed, "{status:?}");
        assert_eq!(status.reason(), Reason::ExecutorReregistrationTimeout);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) {
            assert!(
                Instant::now() < deadline,
                "the re-adopted process was not killed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        master
            .send(MasterMessage::StatusUpdateAcknowledgement {
                framework_id: v1::FrameworkId { value: "F".into() },
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            })
            .await;
        // Everything was acknowledged: the run is marked completed, so a later start
        // recovers nothing.
        let meta = corral_agent::meta::MetaDir::new(work.path());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = corral_agent::meta::read_state(&meta, true).unwrap();
            if state.frameworks.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "{:?}", state.frameworks);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        second.shutdown().await;
    });
}
