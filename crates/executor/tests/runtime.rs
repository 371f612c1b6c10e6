//! The command and default executors end to end against an in-process fake agent: real
//! processes, real HTTP, real timers.
#![allow(clippy::unwrap_used)] // test fixtures: a failed unwrap is a failed test

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use corral_api::v1::executor::{call, event, Call, Event};
use corral_api::v1::{
    CommandInfo, DurationInfo, ExecutorId, FrameworkId, KillPolicy, TaskGroupInfo, TaskId,
    TaskInfo, TaskState, TaskStatus,
};
use corral_client::{Endpoint, ExecutorEnv};
use corral_executor::{run_with, Mode};
use corral_http::{encode, Encoding};
use tokio::sync::mpsc;

mod support;
use support::ev;

#[derive(Default)]
struct Agent {
    /// What to send after SUBSCRIBED on the first subscription.
    first: Mutex<Vec<Event>>,
    updates: Mutex<Vec<TaskStatus>>,
    subscribes: Mutex<Vec<call::Subscribe>>,
    stream: Mutex<Option<mpsc::Sender<Bytes>>>,
    /// Acknowledge updates (off: let them pile up).
    ack: Mutex<bool>,
}

impl Agent {
    fn push(&self, event: &Event) {
        if let Some(tx) = self.stream.lock().unwrap().as_ref() {
            let _ = tx.try_send(encode(Encoding::Json, event));
        }
    }

    fn states(&self) -> Vec<(String, TaskState)> {
        self.updates
            .lock()
            .unwrap()
            .iter()
            .map(|s| (s.task_id.value.clone(), s.state()))
            .collect()
    }

    async fn wait_for(&self, task: &str, state: TaskState) {
        for _ in 0..2000 {
            if self.states().contains(&(task.to_string(), state)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {state:?} for {task}; got {:?}", self.states());
    }
}

async fn executor_api(State(agent): State<Arc<Agent>>, body: Bytes) -> Response {
    let call: Call = corral_http::decode(Encoding::Json, &body).unwrap();
    match call.r#type() {
        call::Type::Subscribe => {
            let (tx, rx) = mpsc::channel(64);
            let subscribed = support::subscribed(&call);
            tx.try_send(encode(Encoding::Json, &subscribed)).unwrap();
            let first = std::mem::take(&mut *agent.first.lock().unwrap());
            for event in first {
                tx.try_send(encode(Encoding::Json, &event)).unwrap();
            }
            agent
                .subscribes
                .lock()
                .unwrap()
                .push(call.subscribe.unwrap_or_default());
            *agent.stream.lock().unwrap() = Some(tx);
            corral_http::recordio_stream_response(Encoding::Json, HeaderMap::new(), rx)
        }
        call::Type::Update => {
            let status = call.update.unwrap().status;
            assert_eq!(status.uuid.as_ref().map(Vec::len), Some(16));
            agent.updates.lock().unwrap().push(status.clone());
            if *agent.ack.lock().unwrap() {
                agent.push(&Event {
                    acknowledged: Some(event::Acknowledged {
                        task_id: status.task_id,
                        uuid: status.uuid.unwrap_or_default(),
                    }),
                    ..ev(event::Type::Acknowledged)
                });
            }
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

fn env(endpoint: Endpoint, sandbox: &std::path::Path, checkpoint: bool) -> ExecutorEnv {
    ExecutorEnv {
        agent_endpoint: endpoint,
        framework_id: FrameworkId { value: "F".into() },
        executor_id: ExecutorId { value: "E".into() },
        agent_id: None,
        directory: Some(sandbox.to_path_buf()),
        sandbox: Some(sandbox.to_path_buf()),
        checkpoint,
        shutdown_grace_period: Duration::from_secs(5),
        recovery_timeout: Duration::from_secs(10),
        subscription_backoff_max: Duration::from_millis(200),
        authentication_token: None,
    }
}

fn task(id: &str, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId { value: id.into() },
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..CommandInfo::default()
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

fn st(id: &str, state: TaskState) -> (String, TaskState) {
    (id.to_string(), state)
}

#[tokio::test]
async fn command_executor_runs_a_task_and_exits() {
    let sandbox = tempfile::tempdir().unwrap();
    let agent = Arc::new(Agent::default());
    *agent.ack.lock().unwrap() = true;
    agent
        .first
        .lock()
        .unwrap()
        .push(launch(task("t", "echo hi > out.txt; exit 7")));
    let endpoint = start_agent(agent.clone()).await;

    let code = tokio::time::timeout(
        Duration::from_secs(20),
        run_with(Mode::Command, env(endpoint, sandbox.path(), false)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        agent.states(),
        [
            st("t", TaskState::TaskStarting),
            st("t", TaskState::TaskRunning),
            st("t", TaskState::TaskFailed)
        ]
    );
    let updates = agent.updates.lock().unwrap().clone();
    assert_eq!(
        updates[2].message.as_deref(),
        Some("Command exited with status 7")
    );
    assert_eq!(
        updates[1]
            .container_status
            .as_ref()
            .and_then(|c| c.executor_pid),
        Some(std::process::id())
    );
    assert_eq!(
        updates[0].agent_id.as_ref().map(|a| a.value.as_str()),
        Some("S0")
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("out.txt")).unwrap(),
        "hi\n"
    );
}

#[tokio::test]
async fn command_executor_kills_with_escalation() {
    let sandbox = tempfile::tempdir().unwrap();
    let agent = Arc::new(Agent::default());
    *agent.ack.lock().unwrap() = true;
    // The task ignores SIGTERM, so only SIGKILL after the grace period ends it.
    agent
        .first
        .lock()
        .unwrap()
        .push(launch(task("t", "trap '' TERM; sleep 30")));
    let endpoint = start_agent(agent.clone()).await;
    let run = tokio::spawn(run_with(
        Mode::Command,
        env(endpoint, sandbox.path(), false),
    ));
    agent.wait_for("t", TaskState::TaskRunning).await;
    let started = std::time::Instant::now();
    agent.push(&Event {
        kill: Some(event::Kill {
            task_id: TaskId { value: "t".into() },
            kill_policy: Some(KillPolicy {
                grace_period: Some(DurationInfo {
                    nanoseconds: 300_000_000,
                }),
            }),
        }),
        ..ev(event::Type::Kill)
    });
    let code = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "SIGKILL came before the grace period"
    );
    let updates = agent.updates.lock().unwrap().clone();
    let last = updates.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskKilled);
    assert_eq!(
        last.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
}

#[tokio::test]
async fn unacknowledged_updates_are_resent_on_resubscription() {
    let sandbox = tempfile::tempdir().unwrap();
    let agent = Arc::new(Agent::default());
    agent
        .first
        .lock()
        .unwrap()
        .push(launch(task("t", "sleep 0.5")));
    let endpoint = start_agent(agent.clone()).await;
    let run = tokio::spawn(run_with(Mode::Command, env(endpoint, sandbox.path(), true)));
    agent.wait_for("t", TaskState::TaskRunning).await;
    // Break the subscription; the executor re-subscribes with what was not acknowledged.
    agent.stream.lock().unwrap().take();
    for _ in 0..2000 {
        if agent.subscribes.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let again = agent.subscribes.lock().unwrap()[1].clone();
    assert_eq!(again.unacknowledged_tasks.len(), 1);
    let resent: Vec<TaskState> = again
        .unacknowledged_updates
        .iter()
        .map(|u| u.status.state())
        .collect();
    assert_eq!(
        resent[..2],
        [TaskState::TaskStarting, TaskState::TaskRunning]
    );
    // The agent takes custody of the resent updates (as Mesos's does) and acknowledges from
    // now on; the executor exits after the terminal update's ack.
    *agent.ack.lock().unwrap() = true;
    for update in &again.unacknowledged_updates {
        agent.push(&Event {
            acknowledged: Some(event::Acknowledged {
                task_id: update.status.task_id.clone(),
                uuid: update.status.uuid.clone().unwrap_or_default(),
            }),
            ..ev(event::Type::Acknowledged)
        });
    }
    let code = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    assert!(agent.states().contains(&st("t", TaskState::TaskFinished)));
}

#[tokio::test]
async fn default_executor_kills_the_group_when_one_fails() {
    let sandbox = tempfile::tempdir().unwrap();
    let agent = Arc::new(Agent::default());
    *agent.ack.lock().unwrap() = true;
    let mut sleeper = task("sleeper", "sleep 30");
    sleeper.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 100_000_000,
        }),
    });
    agent.first.lock().unwrap().push(Event {
        launch_group: Some(event::LaunchGroup {
            task_group: TaskGroupInfo {
                tasks: vec![task("failer", "exit 2"), sleeper],
            },
        }),
        ..ev(event::Type::LaunchGroup)
    });
    let endpoint = start_agent(agent.clone()).await;
    let code = tokio::time::timeout(
        Duration::from_secs(20),
        run_with(Mode::Default, env(endpoint, sandbox.path(), false)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(code, 0);
    let states = agent.states();
    assert!(
        states.contains(&st("failer", TaskState::TaskFailed)),
        "{states:?}"
    );
    assert!(
        states.contains(&st("sleeper", TaskState::TaskKilled)),
        "{states:?}"
    );
}
