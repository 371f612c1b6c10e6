//! The Docker executor against a real Docker engine (started by `scripts/docker-engine.sh`)
//! and an in-process fake agent: re-attaching to a container that already runs under the
//! task's name (the executor was restarted), collecting one that already ended, and running a
//! fresh one to the end.
//!
//! Needs root (dockerd); skipped with a message otherwise or when the engine cannot start.
#![allow(clippy::unwrap_used)] // test fixtures: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use corral_api::v1::container_info::{DockerInfo, Type as ContainerType};
use corral_api::v1::executor::{call, event, Call, Event};
use corral_api::v1::{
    CommandInfo, ContainerInfo, ExecutorId, FrameworkId, TaskId, TaskInfo, TaskState, TaskStatus,
};
use corral_client::{Endpoint, ExecutorEnv};
use corral_executor::docker::{run_with, DockerConfig};
use corral_http::{encode, Encoding};
use tokio::sync::mpsc;

mod support;
use support::ev;

const IMAGE: &str = "corral-test/busybox:latest";

// ------------------------------------------------------------- engine ----

struct Engine {
    root: PathBuf,
    script: PathBuf,
}

impl Engine {
    /// Starts the private engine, or `None` (with the reason printed) when it cannot run.
    fn start() -> Option<Engine> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: the Docker executor tests need root to run dockerd");
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/docker-engine.sh");
        let root = PathBuf::from(format!("/tmp/corral-rs-docker-{}", std::process::id()));
        let out = Command::new(&script)
            .arg("start")
            .arg(&root)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "SKIPPED: the Docker engine cannot start here: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(Engine { root, script })
    }

    fn socket(&self) -> PathBuf {
        self.root.join("docker.sock")
    }

    fn docker(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("docker")
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    /// `Id StartedAt Status ExitCode` of a container, or None.
    fn state(&self, name: &str) -> Option<String> {
        let format = "{{.Id}} {{.State.StartedAt}} {{.State.Status}} {{.State.ExitCode}}";
        let (ok, out) = self.docker(&["container", "inspect", "--format", format, name]);
        ok.then_some(out)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .arg("stop")
            .arg(&self.root)
            .output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

// --------------------------------------------------------- fake agent ----

#[derive(Default)]
struct Agent {
    first: Mutex<Vec<Event>>,
    updates: Mutex<Vec<TaskStatus>>,
    stream: Mutex<Option<mpsc::Sender<Bytes>>>,
}

impl Agent {
    fn push(&self, event: &Event) {
        if let Some(tx) = self.stream.lock().unwrap().as_ref() {
            let _ = tx.try_send(encode(Encoding::Json, event));
        }
    }

    fn updates(&self) -> Vec<TaskStatus> {
        self.updates.lock().unwrap().clone()
    }

    fn states(&self) -> Vec<TaskState> {
        self.updates().iter().map(TaskStatus::state).collect()
    }

    async fn wait_for(&self, state: TaskState) -> TaskStatus {
        for _ in 0..1500 {
            if let Some(found) = self.updates().into_iter().find(|s| s.state() == state) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {state:?}; got {:?}", self.states());
    }
}

async fn executor_api(State(agent): State<Arc<Agent>>, body: Bytes) -> Response {
    let call: Call = corral_http::decode(Encoding::Json, &body).unwrap();
    match call.r#type() {
        call::Type::Subscribe => {
            let (tx, rx) = mpsc::channel(64);
            let subscribed = support::subscribed(&call);
            tx.try_send(encode(Encoding::Json, &subscribed)).unwrap();
            for event in std::mem::take(&mut *agent.first.lock().unwrap()) {
                tx.try_send(encode(Encoding::Json, &event)).unwrap();
            }
            *agent.stream.lock().unwrap() = Some(tx);
            corral_http::recordio_stream_response(Encoding::Json, HeaderMap::new(), rx)
        }
        call::Type::Update => {
            let status = call.update.unwrap().status;
            agent.updates.lock().unwrap().push(status.clone());
            agent.push(&Event {
                acknowledged: Some(event::Acknowledged {
                    task_id: status.task_id,
                    uuid: status.uuid.unwrap_or_default(),
                }),
                ..ev(event::Type::Acknowledged)
            });
            StatusCode::ACCEPTED.into_response()
        }
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

async fn start_agent(agent: Arc<Agent>) -> Endpoint {
    let app = Router::new()
        .route("/api/v1/executor", post(executor_api))
        .with_state(agent);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Endpoint::new("127.0.0.1", port)
}

fn executor_env(endpoint: Endpoint, sandbox: &Path) -> ExecutorEnv {
    ExecutorEnv {
        agent_endpoint: endpoint,
        framework_id: FrameworkId { value: "F".into() },
        executor_id: ExecutorId { value: "E".into() },
        agent_id: None,
        directory: Some(sandbox.to_path_buf()),
        sandbox: Some(sandbox.to_path_buf()),
        checkpoint: false,
        shutdown_grace_period: Duration::from_secs(5),
        recovery_timeout: Duration::from_secs(10),
        subscription_backoff_max: Duration::from_millis(200),
        authentication_token: None,
    }
}

fn docker_task(command: &str) -> TaskInfo {
    TaskInfo {
        name: "t".into(),
        task_id: TaskId { value: "t".into() },
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..CommandInfo::default()
        }),
        container: Some(ContainerInfo {
            r#type: ContainerType::Docker as i32,
            docker: Some(DockerInfo {
                image: IMAGE.into(),
                ..DockerInfo::default()
            }),
            ..ContainerInfo::default()
        }),
        ..TaskInfo::default()
    }
}

fn launch(info: TaskInfo) -> Event {
    Event {
        launch: Some(event::Launch { task: info }),
        ..ev(event::Type::Launch)
    }
}

/// Starts the Docker executor for container `name` with `task` to launch.
async fn start_executor(
    engine: &Engine,
    name: &str,
    task: TaskInfo,
    sandbox: &Path,
) -> (Arc<Agent>, tokio::task::JoinHandle<i32>) {
    let agent = Arc::new(Agent::default());
    agent.first.lock().unwrap().push(launch(task));
    let endpoint = start_agent(agent.clone()).await;
    let config = DockerConfig {
        socket: engine.socket(),
        docker_cli: "docker".into(),
        container: name.to_string(),
        stop_timeout: Duration::from_secs(1),
        sandbox: sandbox.to_path_buf(),
        mapped_directory: "/mnt/mesos/sandbox".into(),
        agent_id: Some("agent-S0".into()),
    };
    let env = executor_env(endpoint, sandbox);
    let handle = tokio::spawn(async move { run_with(env, config).await.unwrap() });
    (agent, handle)
}

async fn wait_gone(engine: &Engine, name: &str) {
    for _ in 0..100 {
        if engine.state(name).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not removed: {:?}", engine.state(name));
}

// -------------------------------------------------------------- tests ----

/// One engine for the whole file: the scenarios run one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_executor_against_a_real_engine() {
    let Some(engine) = Engine::start() else {
        return;
    };
    reattaches_to_a_running_container(&engine).await;
    collects_a_container_that_already_ended(&engine).await;
    runs_a_fresh_container_to_the_end(&engine).await;
}

async fn reattaches_to_a_running_container(engine: &Engine) {
    let name = format!("mesos-reattach-{}", std::process::id());
    let (ok, _) = engine.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert!(ok, "docker run failed");
    let before = engine.state(&name).unwrap();
    assert!(before.contains(" running "), "{before}");

    let sandbox = tempfile::tempdir().unwrap();
    let task = docker_task("echo started-anew; sleep 1000");
    let (agent, executor) = start_executor(engine, &name, task, sandbox.path()).await;
    agent.wait_for(TaskState::TaskRunning).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        engine.state(&name).unwrap(),
        before,
        "re-attached, not restarted"
    );

    agent.push(&Event {
        kill: Some(event::Kill {
            task_id: TaskId { value: "t".into() },
            kill_policy: None,
        }),
        ..ev(event::Type::Kill)
    });
    let killed = agent.wait_for(TaskState::TaskKilled).await;
    assert_eq!(killed.task_id.value, "t");
    let code = tokio::time::timeout(Duration::from_secs(20), executor)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    wait_gone(engine, &name).await;
}

async fn collects_a_container_that_already_ended(engine: &Engine) {
    let name = format!("mesos-ended-{}", std::process::id());
    let (ok, _) = engine.docker(&[
        "run",
        "--network",
        "none",
        "--name",
        &name,
        IMAGE,
        "sh",
        "-c",
        "exit 3",
    ]);
    assert!(!ok, "the container's exit code is docker run's");
    assert!(engine.state(&name).unwrap().ends_with(" exited 3"));

    let sandbox = tempfile::tempdir().unwrap();
    let (agent, executor) =
        start_executor(engine, &name, docker_task("exit 0"), sandbox.path()).await;
    let failed = agent.wait_for(TaskState::TaskFailed).await;
    assert!(
        failed.message.as_deref().unwrap_or("").contains("status 3"),
        "{failed:?}"
    );
    assert!(
        agent.states().contains(&TaskState::TaskRunning),
        "{:?}",
        agent.states()
    );
    tokio::time::timeout(Duration::from_secs(20), executor)
        .await
        .unwrap()
        .unwrap();
    wait_gone(engine, &name).await;
}

async fn runs_a_fresh_container_to_the_end(engine: &Engine) {
    let name = format!("mesos-fresh-{}", std::process::id());
    let sandbox = tempfile::tempdir().unwrap();
    std::fs::write(sandbox.path().join("input.txt"), "from-the-sandbox\n").unwrap();
    let task = docker_task("cat $MESOS_SANDBOX/input.txt; echo done > $MESOS_SANDBOX/out.txt");
    let (agent, executor) = start_executor(engine, &name, task, sandbox.path()).await;
    let finished = agent.wait_for(TaskState::TaskFinished).await;
    assert_eq!(finished.task_id.value, "t");
    assert_eq!(
        agent.states(),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    // The sandbox is the container's /mnt/mesos/sandbox, read-write.
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("out.txt")).unwrap(),
        "done\n"
    );
    tokio::time::timeout(Duration::from_secs(20), executor)
        .await
        .unwrap()
        .unwrap();
    wait_gone(engine, &name).await;
}
