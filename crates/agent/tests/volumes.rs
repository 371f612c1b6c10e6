//! Checkpointed resources and persistent volumes with the real agent (real processes, real
//! files) against the fake master: a volume's data outlives the tasks and sandboxes that used
//! it, and a restarted agent reports its checkpointed resources.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::{self, TaskState};
use serde_json::{json, Value as Json};
use support::{
    run_command_task, run_custom_task, start_agent, start_agent_with, FakeMaster, AGENT_ID,
};

const ROLE: &str = "eng/web";

fn reserved_cpus() -> v1::Resource {
    serde_json::from_value(json!({
        "name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0},
        "reservations": [{"type": "DYNAMIC", "role": ROLE, "principal": "ops"}]
    }))
    .unwrap()
}

fn volume() -> v1::Resource {
    serde_json::from_value(json!({
        "name": "disk", "type": "SCALAR", "scalar": {"value": 128.0},
        "reservations": [{"type": "DYNAMIC", "role": ROLE, "principal": "ops"}],
        "disk": {"persistence": {"id": "vol1", "principal": "ops"},
                 "volume": {"mode": "RW", "container_path": "data"}}
    }))
    .unwrap()
}

/// The volume as a task holds it (allocated to the role).
fn allocated_volume() -> v1::Resource {
    let mut volume = volume();
    volume.allocation_info = Some(v1::resource::AllocationInfo {
        role: Some(ROLE.into()),
    });
    volume
}

fn with_volume(message: MasterMessage) -> MasterMessage {
    let MasterMessage::RunTask {
        framework,
        executor,
        mut task,
    } = message
    else {
        unreachable!()
    };
    task.resources.push(allocated_volume());
    MasterMessage::RunTask {
        framework,
        executor,
        task,
    }
}

fn volume_dir(work: &Path) -> PathBuf {
    work.join("volumes/roles/eng%2Fweb/vol1")
}

fn sandbox(work: &Path, executor_id: &str) -> PathBuf {
    work.join(format!(
        "slaves/{AGENT_ID}/frameworks/F/executors/{executor_id}/runs/latest"
    ))
}

async fn next_update(master: &mut FakeMaster, task_id: &str) -> v1::TaskStatus {
    master
        .next_call(|call| match call {
            AgentCall::StatusUpdate { status, .. } if status.task_id.value == task_id => {
                Some(status.clone())
            }
            _ => None,
        })
        .await
}

async fn eventually(mut probe: impl FnMut() -> bool) {
    for _ in 0..400 {
        if probe() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_data_outlives_tasks_and_sandboxes_and_the_agent_restart() {
    let work = tempfile::tempdir().unwrap();
    let set = vec![reserved_cpus(), volume()];
    let script = vec![
        MasterMessage::CheckpointResources {
            resources: set.clone(),
        },
        with_volume(run_custom_task(
            "t1",
            "e1",
            "echo persisted > data/msg.txt && ls -l > listing.txt",
        )),
    ];
    let mut master = FakeMaster::start(script).await;
    let agent = start_agent(&master, work.path()).await;
    let first = master
        .next_call(|call| match call {
            AgentCall::Subscribe {
                checkpointed_resources,
                ..
            } => Some(checkpointed_resources.clone()),
            _ => None,
        })
        .await;
    assert!(first.is_empty(), "a new agent has nothing checkpointed");

    // The first task writes through `data` (its executor then exits without subscribing, so
    // the agent reports the task failed: that is the harness, not the volume).
    let status = next_update(&mut master, "t1").await;
    assert_eq!(status.state(), TaskState::TaskFailed);
    let file = volume_dir(work.path()).join("msg.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "persisted\n");
    let link = sandbox(work.path(), "e1").join("data");
    assert_eq!(std::fs::read_link(&link).unwrap(), volume_dir(work.path()));

    // A second task, in another executor, reads it back.
    let reader = with_volume(run_custom_task("t2", "e2", "cat data/msg.txt"));
    master.send(reader).await;
    let status = next_update(&mut master, "t2").await;
    assert_eq!(status.state(), TaskState::TaskFailed);
    let stdout = std::fs::read_to_string(sandbox(work.path(), "e2").join("stdout")).unwrap();
    assert_eq!(stdout, "persisted\n");

    // /state shows the reservation, the volume and where it lives.
    let state: Json = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{}/state", agent.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reserved = state["reserved_resources_full"][ROLE].as_array().unwrap();
    assert!(reserved
        .iter()
        .any(|r| r["disk"]["persistence"]["id"] == "vol1"));
    assert!(reserved.iter().any(|r| r["name"] == "cpus"));
    assert_eq!(state["reserved_resources"][ROLE]["disk"], 128.0);
    assert_eq!(state["unreserved_resources"]["disk"], 2048.0 - 128.0);
    assert_eq!(
        state["checkpointed_resources_full"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        state["volume_root"],
        work.path().join("volumes").display().to_string()
    );
    assert_eq!(
        state["persistent_volumes"][0]["path"],
        volume_dir(work.path()).display().to_string()
    );

    // Both executors are gone; removing their sandboxes leaves the data alone.
    agent.shutdown().await;
    std::fs::remove_dir_all(work.path().join("slaves")).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "persisted\n");

    // A restarted agent reports the checkpointed set when it subscribes.
    let agent = start_agent(&master, work.path()).await;
    let reported = master
        .next_call(|call| match call {
            AgentCall::Subscribe {
                checkpointed_resources,
                ..
            } => Some(checkpointed_resources.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reported, set);

    // DESTROY: the volume leaves the set and its directory goes; the reservation stays.
    master
        .send(MasterMessage::CheckpointResources {
            resources: vec![reserved_cpus()],
        })
        .await;
    eventually(|| !volume_dir(work.path()).exists()).await;
    agent.shutdown().await;
    let agent = start_agent(&master, work.path()).await;
    let reported = master
        .next_call(|call| match call {
            AgentCall::Subscribe {
                checkpointed_resources,
                ..
            } => Some(checkpointed_resources.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reported, vec![reserved_cpus()]);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_checkpoint_file_stops_the_agent_from_starting() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("meta/resources/checkpointed.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, r#"{"version":1,"resources":[{"name":"disk","#).unwrap();
    let master = FakeMaster::start(Vec::new()).await;
    let flags = corral_agent::AgentFlags::try_parse_from([
        "agent".to_string(),
        format!("--master=127.0.0.1:{}", master.addr.port()),
        "--port=0".to_string(),
        format!("--work_dir={}", work.path().display()),
    ])
    .unwrap();
    let error = corral_agent::start(flags).await.unwrap_err().to_string();
    assert!(error.contains("checkpointed.json"), "{error}");
}

/// Acknowledges the task's updates until a terminal one, which it returns.
async fn finished(master: &mut FakeMaster, task_id: &str) -> v1::TaskStatus {
    loop {
        let status = next_update(master, task_id).await;
        master
            .send(MasterMessage::StatusUpdateAcknowledgement {
                framework_id: v1::FrameworkId { value: "F".into() },
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            })
            .await;
        if !matches!(
            status.state(),
            TaskState::TaskStarting | TaskState::TaskRunning
        ) {
            return status;
        }
    }
}

/// The same with the real command executor (`corral executor`), when `CORRAL_BIN` names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_tasks_share_a_volume() {
    let Ok(binary) = std::env::var("CORRAL_BIN") else {
        eprintln!("skipped: set CORRAL_BIN to the corral binary to run this test");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let script = vec![
        MasterMessage::CheckpointResources {
            resources: vec![volume()],
        },
        with_volume(run_command_task("w", "echo $MESOS_SANDBOX > data/from-w")),
    ];
    let mut master = FakeMaster::start(script).await;
    let agent = start_agent_with(&master, work.path(), &binary).await;
    let status = finished(&mut master, "w").await;
    assert_eq!(status.state(), TaskState::TaskFinished, "{status:?}");
    master
        .send(with_volume(run_command_task("r", "cat data/from-w")))
        .await;
    let status = finished(&mut master, "r").await;
    assert_eq!(status.state(), TaskState::TaskFinished, "{status:?}");
    let written = std::fs::read_to_string(volume_dir(work.path()).join("from-w")).unwrap();
    let stdout = std::fs::read_to_string(sandbox(work.path(), "r").join("stdout")).unwrap();
    assert!(stdout.contains(written.trim()), "{stdout}");
    assert!(
        written.contains("/executors/w/runs/"),
        "MESOS_SANDBOX: {written}"
    );
    agent.shutdown().await;
}
