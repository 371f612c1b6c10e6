//! A tiny master speaking Corral's agent protocol, for the integration tests: it answers
//! SUBSCRIBE with REGISTERED plus scripted messages, records every other call, and can push
//! more messages on the open session stream.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use corral_api::internal::{
    AgentCall, AgentEnvelope, MasterEnvelope, MasterMessage, AGENT_ENDPOINT, PROTOCOL_VERSION,
};
use corral_api::v1;
use corral_http::{recordio_stream_response, Encoding};
use http::{HeaderMap, StatusCode};
use tokio::sync::mpsc;

pub const AGENT_ID: &str = "M-S0";
pub const EPOCH: u64 = 3;

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Vec<MasterMessage>>>,
    stream: Arc<Mutex<Option<mpsc::Sender<Bytes>>>>,
    /// The stream id of the current session; calls carrying another one get 409.
    stream_id: Arc<Mutex<String>>,
    calls: mpsc::UnboundedSender<Recorded>,
}

/// A call the fake master received, and whether it accepted it.
pub struct Recorded {
    pub envelope: AgentEnvelope,
    pub accepted: bool,
}

pub struct FakeMaster {
    pub addr: SocketAddr,
    pub calls: mpsc::UnboundedReceiver<Recorded>,
    shared: Shared,
}

pub fn encode_message(message: MasterMessage) -> Bytes {
    let envelope = MasterEnvelope {
        version: PROTOCOL_VERSION,
        epoch: EPOCH,
        message,
    };
    Bytes::from(serde_json::to_vec(&envelope).unwrap())
}

async fn agent_endpoint(State(shared): State<Shared>, body: Bytes) -> Response {
    let envelope: AgentEnvelope = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    let stream_id = shared.stream_id.lock().unwrap().clone();
    if !matches!(envelope.call, AgentCall::Subscribe { .. }) {
        let accepted = envelope.epoch == EPOCH
            && envelope.stream_id.as_deref() == Some(stream_id.as_str())
            && envelope.agent_id.as_ref().map(|a| a.value.as_str()) == Some(AGENT_ID);
        let _ = shared.calls.send(Recorded { envelope, accepted });
        return if accepted {
            StatusCode::ACCEPTED
        } else {
            StatusCode::CONFLICT
        }
        .into_response();
    }
    let (tx, rx) = mpsc::channel(64);
    let registered = MasterMessage::Registered {
        agent_id: v1::AgentId {
            value: AGENT_ID.into(),
        },
        stream_id,
        master_id: "master-1".into(),
        ping_interval_secs: 15.0,
    };
    tx.try_send(encode_message(registered)).unwrap();
    let script: Vec<MasterMessage> = std::mem::take(&mut *shared.script.lock().unwrap());
    for message in script {
        tx.try_send(encode_message(message)).unwrap();
    }
    *shared.stream.lock().unwrap() = Some(tx);
    // Recorded once the session can be written to.
    let _ = shared.calls.send(Recorded {
        envelope,
        accepted: true,
    });
    recordio_stream_response(Encoding::Json, HeaderMap::new(), rx)
}

impl FakeMaster {
    /// A master that sends `script` after REGISTERED on the first subscription.
    pub async fn start(script: Vec<MasterMessage>) -> FakeMaster {
        let (calls_tx, calls) = mpsc::unbounded_channel();
        let shared = Shared {
            script: Arc::new(Mutex::new(script)),
            stream: Arc::new(Mutex::new(None)),
            stream_id: Arc::new(Mutex::new("stream-1".into())),
            calls: calls_tx,
        };
        let router = Router::new()
            .route(AGENT_ENDPOINT, post(agent_endpoint))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeMaster {
            addr,
            calls,
            shared,
        }
    }

    /// Sends a message on the current session stream.
    pub async fn send(&self, message: MasterMessage) {
        let stream = self
            .shared
            .stream
            .lock()
            .unwrap()
            .clone()
            .expect("no session");
        stream.send(encode_message(message)).await.unwrap();
    }

    /// Ends the session stream (the agent should re-subscribe).
    pub fn close_stream(&self) {
        self.shared.stream.lock().unwrap().take();
    }

    /// Starts a new session id without telling the agent: its calls get 409 until it
    /// re-subscribes.
    pub fn fence(&self, stream_id: &str) {
        *self.shared.stream_id.lock().unwrap() = stream_id.to_string();
    }

    /// The next recorded call matching `pick`, skipping others.
    pub async fn next_recorded<T>(&mut self, mut pick: impl FnMut(&Recorded) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let recorded = tokio::time::timeout_at(deadline, self.calls.recv())
                .await
                .expect("expected agent call did not arrive in time")
                .expect("master closed");
            if let Some(value) = pick(&recorded) {
                return value;
            }
        }
    }

    /// The next recorded call matching `pick`, skipping others.
    pub async fn next_call<T>(&mut self, mut pick: impl FnMut(&AgentCall) -> Option<T>) -> T {
        self.next_recorded(|recorded| pick(&recorded.envelope.call))
            .await
    }
}

pub fn framework() -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".into(),
        name: "test".into(),
        id: Some(v1::FrameworkId { value: "F".into() }),
        ..Default::default()
    }
}

/// A task for a custom executor running `command` in a shell.
pub fn run_custom_task(task_id: &str, executor_id: &str, command: &str) -> MasterMessage {
    MasterMessage::RunTask {
        framework: framework(),
        executor: Some(v1::ExecutorInfo {
            executor_id: v1::ExecutorId {
                value: executor_id.into(),
            },
            framework_id: Some(v1::FrameworkId { value: "F".into() }),
            command: Some(v1::CommandInfo {
                value: Some(command.into()),
                environment: Some(v1::Environment {
                    variables: vec![v1::environment::Variable {
                        name: "FROM_EXECUTOR_INFO".into(),
                        value: Some("yes".into()),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        task: v1::TaskInfo {
            name: task_id.into(),
            task_id: v1::TaskId {
                value: task_id.into(),
            },
            agent_id: v1::AgentId {
                value: AGENT_ID.into(),
            },
            resources: serde_json::from_value(serde_json::json!([
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}
            ]))
            .unwrap(),
            ..Default::default()
        },
    }
}

/// Starts an agent against `master` with a fresh work directory.
pub async fn start_agent(
    master: &FakeMaster,
    work_dir: &std::path::Path,
) -> corral_agent::RunningAgent {
    start_agent_with(master, work_dir, "/bin/false").await
}

/// Starts an agent whose built-in executors run `executor_binary`.
pub async fn start_agent_with(
    master: &FakeMaster,
    work_dir: &std::path::Path,
    executor_binary: &str,
) -> corral_agent::RunningAgent {
    let flags = corral_agent::AgentFlags::try_parse_from([
        "agent".to_string(),
        format!("--master=127.0.0.1:{}", master.addr.port()),
        "--port=0".to_string(),
        format!("--work_dir={}", work_dir.display()),
        "--resources=cpus:2;mem:1024;disk:2048;ports:[31000-31010]".to_string(),
        "--attributes=rack:r1".to_string(),
        "--status_update_retry_interval=300ms".to_string(),
        format!("--executor_binary={executor_binary}"),
    ])
    .unwrap();
    corral_agent::start(flags).await.unwrap()
}

/// A command task (run by the built-in command executor).
pub fn run_command_task(task_id: &str, command: &str) -> MasterMessage {
    let MasterMessage::RunTask {
        framework, task, ..
    } = run_custom_task(task_id, "unused", "true")
    else {
        unreachable!()
    };
    let task = v1::TaskInfo {
        command: Some(v1::CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..task
    };
    MasterMessage::RunTask {
        framework,
        executor: None,
        task,
    }
}
