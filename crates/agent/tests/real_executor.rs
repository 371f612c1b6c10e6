//! The agent with the real built-in command executor (`corral executor`). The `corral` binary
//! is built by another crate, so this test runs only when `CORRAL_BIN` names it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::{self, TaskState};
use support::{run_command_task, start_agent_with, FakeMaster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_task_runs_through_the_command_executor() {
    let Ok(binary) = std::env::var("CORRAL_BIN") else {
        eprintln!("skipped: set CORRAL_BIN to the corral binary to run this test");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut master = FakeMaster::start(vec![run_command_task("t1", "echo hi; exit 3")]).await;
    let agent = start_agent_with(&master, work.path(), &binary).await;

    // Every update is acknowledged as a scheduler would; collect the states.
    let mut states = Vec::new();
    while !states.last().is_some_and(|s: &TaskState| {
        s.as_str_name() != "TASK_STARTING" && s.as_str_name() != "TASK_RUNNING"
    }) {
        let status = master
            .next_call(|call| match call {
                AgentCall::StatusUpdate { status, .. } => Some(status.clone()),
                _ => None,
            })
            .await;
        if states.last() != Some(&status.state()) {
            states.push(status.state());
        }
        master
            .send(MasterMessage::StatusUpdateAcknowledgement {
                framework_id: v1::FrameworkId { value: "F".into() },
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            })
            .await;
        if status.state() == TaskState::TaskFailed {
            assert_eq!(
                status.source(),
                v1::task_status::Source::Executor,
                "{status:?}"
            );
        }
    }
    eprintln!("states: {states:?}");
    assert_eq!(states.last(), Some(&TaskState::TaskFailed), "{states:?}");
    assert!(states.contains(&TaskState::TaskRunning), "{states:?}");

    let base = format!("http://{}", agent.addr);
    let stdout = reqwest::get(format!(
        "{base}/files/read?path=/frameworks/F/executors/t1/runs/latest/stdout&offset=0"
    ))
    .await
    .unwrap()
    .json::<serde_json::Value>()
    .await
    .unwrap();
    assert!(stdout["data"].as_str().unwrap().contains("hi"), "{stdout}");
    agent.shutdown().await;
}
