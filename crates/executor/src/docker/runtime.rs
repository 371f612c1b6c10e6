//! The Docker executor's shell: the command executor's core and agent link, with the task's
//! process replaced by a Docker container.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use corral_api::v1::executor::event::Type as EventType;
use corral_api::v1::executor::Event;
use corral_api::v1::network_info::{IpAddress, Protocol};
use corral_api::v1::{
    DurationInfo, KillPolicy, NetworkInfo, TaskId, TaskInfo, TaskState, TaskStatus,
};
use corral_client::{ExecutorClient, ExecutorEnv};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, OnceCell};
use tracing::Instrument;

use super::engine::{needs_pull, plan, Engine, EngineError, Plan};
use super::request::{build, Placement};
use super::DockerConfig;
use crate::core::{Config, Effect, Executor, Input, Mode, Signal};
use crate::runtime::{ExecutorError, Link, LinkItem, ACK_TIMEOUT};
use crate::status::ExitStatus;
use crate::updates::UpdateSender;

/// How long the container's last output may take to reach the sandbox after it ended.
const LOG_DRAIN: Duration = Duration::from_secs(3);

/// Runs the Docker executor until it is done; returns the process exit code.
pub async fn run_with(env: ExecutorEnv, docker: DockerConfig) -> Result<i32, ExecutorError> {
    let mut terminate = signal(SignalKind::terminate()).map_err(ExecutorError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ExecutorError::Signals)?;
    let config = Config {
        mode: Mode::Command,
        executor_id: env.executor_id.clone(),
        executor_pid: std::process::id(),
        checkpoint: env.checkpoint,
        shutdown_grace_period: env.shutdown_grace_period,
        ack_timeout: ACK_TIMEOUT,
    };
    tracing::info!(
        executor_id = %env.executor_id.value,
        framework_id = %env.framework_id.value,
        agent = %env.agent_endpoint,
        container = %docker.container,
        socket = %docker.socket.display(),
        "docker executor starting"
    );
    let client = ExecutorClient::new(env.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut shell = Shell {
        core: Executor::new(config),
        updates: UpdateSender::start(client.clone()),
        shared: Arc::new(Shared {
            config: docker,
            engine: OnceCell::new(),
            networks: std::sync::Mutex::new(Vec::new()),
            fetcher: crate::fetch::TaskFetcher::from_env(),
        }),
        tx,
        checker: None,
    };
    let mut link = Link::new(client, &env);
    let code = loop {
        let input = tokio::select! {
            Some(input) = rx.recv() => input,
            item = link.next(&shell.core) => match item {
                LinkItem::Event(event) => {
                    Input::Event(Box::new(default_grace(*event, shell.shared.config.stop_timeout)))
                }
                LinkItem::Broken(error) => {
                    tracing::warn!(%error, "lost the agent subscription");
                    link.broken(shell.core.subscribed_once());
                    Input::Disconnected
                }
                LinkItem::Subscribed => continue,
                LinkItem::GaveUp => Input::RecoveryTimedOut,
            },
            _ = terminate.recv() => Input::Terminate,
            _ = interrupt.recv() => Input::Terminate,
        };
        if let Some(code) = shell.drive(input) {
            break code;
        }
    };
    shell.updates.finish(Duration::from_secs(2)).await;
    tracing::info!(code, "docker executor exiting");
    Ok(code)
}

/// A launched task without a kill policy gets the `--docker_stop_timeout` grace period.
fn default_grace(mut event: Event, stop_timeout: Duration) -> Event {
    if event.r#type() == EventType::Launch {
        if let Some(launch) = event.launch.as_mut() {
            let policy = launch
                .task
                .kill_policy
                .get_or_insert_with(KillPolicy::default);
            if policy.grace_period.is_none() {
                policy.grace_period = Some(DurationInfo {
                    nanoseconds: i64::try_from(stop_timeout.as_nanos()).unwrap_or(i64::MAX),
                });
            }
        }
    }
    event
}

/// Mesos's NetworkInfos for a container's `(network, IP)` addresses.
fn network_infos(addresses: &[(String, String)]) -> Vec<NetworkInfo> {
    addresses
        .iter()
        .map(|(network, ip)| NetworkInfo {
            name: Some(network.clone()),
            ip_addresses: vec![IpAddress {
                protocol: Some(if ip.contains(':') {
                    Protocol::IPv6 as i32
                } else {
                    Protocol::IPv4 as i32
                }),
                ip_address: Some(ip.clone()),
            }],
            ..NetworkInfo::default()
        })
        .collect()
}

/// A TASK_RUNNING update carries the container's addresses (like Mesos's Docker executor),
/// for service discovery.
fn with_networks(mut status: TaskStatus, networks: &[NetworkInfo]) -> TaskStatus {
    if status.state() == TaskState::TaskRunning && !networks.is_empty() {
        if let Some(container) = status.container_status.as_mut() {
            if container.network_infos.is_empty() {
                container.network_infos = networks.to_vec();
            }
        }
    }
    status
}

/// What the background work shares.
struct Shared {
    config: DockerConfig,
    engine: OnceCell<Engine>,
    /// The container's addresses, reported with TASK_RUNNING.
    networks: std::sync::Mutex<Vec<NetworkInfo>>,
    /// Fetches the task's URIs into the sandbox before the container starts.
    fetcher: crate::fetch::TaskFetcher,
}

impl Shared {
    async fn engine(&self) -> Result<&Engine, EngineError> {
        self.engine
            .get_or_try_init(|| Engine::connect(&self.config.socket))
            .await
    }

    fn name(&self) -> &str {
        &self.config.container
    }
}

/// Carries out the core's effects.
struct Shell {
    core: Executor,
    updates: UpdateSender,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Input>,
    /// The task's health checker.
    checker: Option<tokio::task::JoinHandle<()>>,
}

impl Shell {
    /// Starts the task's health checks, rewritten to reach into its container.
    fn start_health_check(&mut self, info: &TaskInfo) {
        let config = &self.shared.config;
        let socket = config.socket.display().to_string();
        let target = super::health::Target {
            docker_cli: &config.docker_cli,
            socket: &socket,
            container: &config.container,
        };
        let task = super::health::for_container(info, &target);
        let sandbox = Some(config.sandbox.clone());
        match crate::health::runner::start(&task, sandbox, self.tx.clone()) {
            Ok(handle) => {
                if let Some(old) = self.checker.replace(handle) {
                    old.abort();
                }
            }
            Err(error) => {
                tracing::warn!(task_id = %info.task_id.value, %error, "cannot start health checks");
            }
        }
    }

    /// Feeds `input` (and whatever it causes) to the core; `Some(code)` to exit.
    fn drive(&mut self, input: Input) -> Option<i32> {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for effect in self.core.handle(SystemTime::now(), input) {
                match effect {
                    Effect::Update(status) => {
                        let networks = self.shared.networks.lock().map(|n| n.clone());
                        self.updates
                            .send(with_networks(*status, &networks.unwrap_or_default()));
                    }
                    Effect::Spawn(info) => {
                        let (shared, tx) = (self.shared.clone(), self.tx.clone());
                        let span = tracing::info_span!(
                            "container",
                            task_id = %info.task_id.value,
                            container = %shared.config.container
                        );
                        tokio::spawn(run_container(shared, *info, tx).instrument(span));
                    }
                    Effect::Signal {
                        task_id, signal, ..
                    } => self.signal(&task_id, signal),
                    Effect::Schedule { timer, after } => {
                        let tx = self.tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            let _ = tx.send(Input::Timer(timer));
                        });
                    }
                    Effect::Exit(code) => return Some(code),
                    Effect::StartHealthCheck(info) => self.start_health_check(&info),
                    Effect::StopHealthCheck(task_id) => {
                        if let Some(handle) = self.checker.take() {
                            tracing::info!(task_id = %task_id.value, "stopping health checks");
                            handle.abort();
                        }
                    }
                }
            }
        }
        None
    }

    /// TERM: `docker stop` with the kill's grace period; KILL: `docker kill`.
    fn signal(&self, task_id: &TaskId, signal: Signal) {
        let grace = self
            .core
            .tasks()
            .iter()
            .find(|t| t.id() == task_id)
            .and_then(|t| t.killing.as_ref().map(|k| k.grace))
            .unwrap_or_default();
        let shared = self.shared.clone();
        let task_id = task_id.value.clone();
        tokio::spawn(async move {
            let name = shared.name();
            tracing::info!(%task_id, container = name, ?signal, ?grace, "stopping the container");
            let done = match shared.engine().await {
                Ok(engine) => match signal {
                    Signal::Term => engine.stop(name, grace).await,
                    Signal::Kill => engine.kill(name).await,
                },
                Err(error) => Err(error),
            };
            if let Err(error) = done {
                tracing::warn!(%task_id, container = name, %error, "stopping the container failed");
            }
        });
    }
}

/// How the container got going.
struct Started {
    pid: u32,
    /// Where to start copying its output (unix seconds; 0 = from the start).
    logs_since: i32,
    /// It had already ended, with this code.
    ended: Option<i64>,
}

/// Creates (or re-attaches to) the task's container, reports it started, waits for it, copies
/// its output, removes it and reports how it ended.
async fn run_container(shared: Arc<Shared>, info: TaskInfo, tx: mpsc::UnboundedSender<Input>) {
    let task_id = info.task_id.clone();
    let name = shared.name().to_string();
    if !crate::fetch::uris(&info).is_empty() {
        let sandbox = Some(shared.config.sandbox.as_path());
        if let Err(message) = shared.fetcher.fetch(&info, sandbox).await {
            tracing::warn!(task_id = %task_id.value, %message, "fetching the task's URIs failed");
            let _ = tx.send(Input::FetchFailed { task_id, message });
            return;
        }
    }
    let started = match start(&shared, &info).await {
        Ok(started) => started,
        Err(message) => {
            tracing::warn!(task_id = %task_id.value, container = %name, %message, "cannot start the container");
            let _ = tx.send(Input::SpawnFailed { task_id, message });
            return;
        }
    };
    let engine = match shared.engine().await {
        Ok(engine) => engine,
        Err(error) => {
            let message = error.to_string();
            let _ = tx.send(Input::SpawnFailed { task_id, message });
            return;
        }
    };
    tracing::info!(task_id = %task_id.value, container = %name, pid = started.pid, "container running");
    let _ = tx.send(Input::Spawned {
        task_id: task_id.clone(),
        pid: started.pid,
    });
    let pump = {
        let (engine, name) = (engine.clone(), name.clone());
        tokio::spawn(async move { engine.pump_logs(&name, started.logs_since).await })
    };
    let code = match started.ended {
        Some(code) => Ok(code),
        None => engine.wait(&name).await,
    };
    let status = match code {
        Ok(code) => ExitStatus::Code(i32::try_from(code).unwrap_or(-1)),
        Err(error) => {
            tracing::error!(task_id = %task_id.value, container = %name, %error, "waiting for the container failed");
            ExitStatus::Code(-1)
        }
    };
    if tokio::time::timeout(LOG_DRAIN, pump).await.is_err() {
        tracing::warn!(container = %name, "the container's output did not drain in time");
    }
    if let Err(error) = engine.remove(&name).await {
        tracing::warn!(container = %name, %error, "cannot remove the container");
    }
    tracing::info!(task_id = %task_id.value, container = %name, %status, "container ended");
    let _ = tx.send(Input::Exited { task_id, status });
}

/// Gets the container running according to [`plan`].
async fn start(shared: &Shared, info: &TaskInfo) -> Result<Started, String> {
    let config = &shared.config;
    let name = config.container.as_str();
    let at = Placement {
        name,
        sandbox: &config.sandbox,
        mapped_directory: &config.mapped_directory,
    };
    let mut spec = build(info, &at).map_err(|e| e.to_string())?;
    if let Some(agent_id) = &config.agent_id {
        spec.body
            .labels
            .get_or_insert_with(Default::default)
            .insert(super::AGENT_LABEL.to_string(), agent_id.clone());
    }
    let engine = shared.engine().await.map_err(|e| e.to_string())?;
    let existing = engine.inspect(name).await.map_err(|e| e.to_string())?;
    let decided = plan(existing.as_ref());
    tracing::info!(container = name, plan = ?decided, image = %spec.image, "launching");
    let now = i32::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let (logs_since, ended) = match decided {
        Plan::Attach => (now, None),
        Plan::Collect { exit_code } => (now, Some(exit_code)),
        Plan::Start => {
            engine.start(name).await.map_err(|e| e.to_string())?;
            (0, None)
        }
        Plan::Create | Plan::Replace => {
            if decided == Plan::Replace {
                engine.remove(name).await.map_err(|e| e.to_string())?;
            }
            let present = engine
                .has_image(&spec.image)
                .await
                .map_err(|e| e.to_string())?;
            if needs_pull(present, spec.force_pull) {
                tracing::info!(image = %spec.image, force = spec.force_pull, "pulling the image");
                engine.pull(&spec.image).await.map_err(|e| e.to_string())?;
            }
            engine
                .create(name, spec.body)
                .await
                .map_err(|e| e.to_string())?;
            if let Err(error) = engine.start(name).await {
                let _ = engine.remove(name).await;
                return Err(error.to_string());
            }
            (0, None)
        }
    };
    let pid = match engine.inspect(name).await {
        Ok(Some(found)) => {
            if let Ok(mut networks) = shared.networks.lock() {
                *networks = network_infos(&found.addresses);
            }
            u32::try_from(found.pid).unwrap_or(0)
        }
        _ => 0,
    };
    Ok(Started {
        // The core tracks a pid per running task; a container that already exited has none.
        pid: pid.max(1),
        logs_since,
        ended,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corral_api::v1::executor::event::Launch;

    fn launch(policy: Option<KillPolicy>) -> Event {
        Event {
            r#type: Some(EventType::Launch as i32),
            launch: Some(Launch {
                task: TaskInfo {
                    kill_policy: policy,
                    ..TaskInfo::default()
                },
            }),
            ..Event::default()
        }
    }

    fn grace_of(event: &Event) -> Option<i64> {
        let task = &event.launch.as_ref().unwrap().task;
        task.kill_policy
            .as_ref()
            .and_then(|p| p.grace_period.as_ref())
            .map(|d| d.nanoseconds)
    }

    #[test]
    fn running_updates_carry_the_addresses() {
        let networks = network_infos(&[
            ("backend".into(), "172.18.0.2".into()),
            ("v6".into(), "fd00::2".into()),
        ]);
        assert_eq!(networks[0].name.as_deref(), Some("backend"));
        let ip = &networks[0].ip_addresses[0];
        assert_eq!(ip.ip_address.as_deref(), Some("172.18.0.2"));
        assert_eq!(ip.protocol, Some(Protocol::IPv4 as i32));
        assert_eq!(
            networks[1].ip_addresses[0].protocol,
            Some(Protocol::IPv6 as i32)
        );
        let status = |state: TaskState| TaskStatus {
            state: state as i32,
            container_status: Some(corral_api::v1::ContainerStatus::default()),
            ..TaskStatus::default()
        };
        let running = with_networks(status(TaskState::TaskRunning), &networks);
        assert_eq!(running.container_status.unwrap().network_infos, networks);
        let finished = with_networks(status(TaskState::TaskFinished), &networks);
        assert!(finished.container_status.unwrap().network_infos.is_empty());
    }

    #[test]
    fn stop_timeout_is_the_default_grace_period() {
        let event = default_grace(launch(None), Duration::from_secs(4));
        assert_eq!(grace_of(&event), Some(4_000_000_000));
        let own = KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: 1_000_000_000,
            }),
        };
        let event = default_grace(launch(Some(own)), Duration::from_secs(4));
        assert_eq!(grace_of(&event), Some(1_000_000_000));
    }
}
