//! The actor that owns the [`AgentCore`]: HTTP handlers, the master link, container waiters and
//! timers send it [`Command`]s; it feeds them to the core and carries out the core's effects on
//! the containerizer, the executor streams and the master link.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_api::internal::AgentCall;
use corral_api::v1::executor::{self, event};
use corral_containerizer::Containerizer;
use corral_http::{encode, Encoding};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::CheckpointStore;
use crate::core::{AgentCore, CallOutcome, Effect, Snapshot, DESTROY_GRACE};
use crate::isolation::LimitationProbe;
use crate::meta::MetaDir;

mod containers;
mod handle;
#[cfg(test)]
mod tests;
mod volumes;

use containers::{destroy, update};
pub use handle::{now_secs, ActorHandle, Command, ExecutorReply, LinkEvent};

/// How often executors get a HEARTBEAT event.
pub const EXECUTOR_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Events buffered per executor stream before the stream is considered stuck and closed.
const EXECUTOR_STREAM_BUFFER: usize = 1024;
/// How long shutdown waits for containers to be destroyed.
const SHUTDOWN_DESTROY_TIMEOUT: Duration = Duration::from_secs(30);

struct ExecutorStream {
    connection: u64,
    encoding: Encoding,
    tx: mpsc::Sender<Bytes>,
    /// Dropping it stops the task watching for the client going away.
    _watch: oneshot::Sender<()>,
}

/// The actor; see the module docs.
pub struct Actor {
    core: AgentCore,
    containerizer: Containerizer,
    to_master: mpsc::UnboundedSender<AgentCall>,
    handle: ActorHandle,
    rx: mpsc::UnboundedReceiver<Command>,
    streams: HashMap<(String, String), ExecutorStream>,
    snapshot: Option<(u64, Arc<Snapshot>)>,
    stopping: Arc<AtomicBool>,
    agent_version: String,
    checkpoints: CheckpointStore,
    limits: LimitationProbe,
    meta: MetaDir,
    /// A checkpoint could not be written: the actor stops.
    failed: bool,
    /// Set (with the master's reason) when the master told the agent to shut down for good.
    shut_down_by_master: Arc<std::sync::Mutex<Option<String>>>,
}

impl Actor {
    /// An actor around `core`; calls for the master go to `to_master`.
    pub fn new(
        core: AgentCore,
        containerizer: Containerizer,
        to_master: mpsc::UnboundedSender<AgentCall>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let checkpoints = CheckpointStore::new(core.work_dir());
        let meta = MetaDir::new(core.work_dir());
        Actor {
            core,
            containerizer,
            to_master,
            handle: ActorHandle { tx },
            rx,
            streams: HashMap::new(),
            snapshot: None,
            stopping: Arc::new(AtomicBool::new(false)),
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            checkpoints,
            limits: LimitationProbe::default(),
            meta,
            failed: false,
            shut_down_by_master: Arc::default(),
        }
    }

    /// Where the master's reason lands when it tells the agent to shut down for good (then
    /// the actor destroys every container and [`run`](Self::run) returns).
    pub fn master_shutdown_notice(&self) -> Arc<std::sync::Mutex<Option<String>>> {
        self.shut_down_by_master.clone()
    }

    /// Lets the actor ask the isolators whether a container is at a limit when its executor
    /// reports a task failure (see [`AgentCore::executor_call_at_limit`]).
    pub fn with_limitation_probe(mut self, probe: LimitationProbe) -> Self {
        self.limits = probe;
        self
    }

    /// A handle for senders.
    pub fn handle(&self) -> ActorHandle {
        self.handle.clone()
    }

    /// Runs until a [`Command::Shutdown`] (or every handle is gone).
    pub async fn run(mut self) {
        let mut heartbeat = tokio::time::interval(EXECUTOR_HEARTBEAT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                command = self.rx.recv() => {
                    let Some(command) = command else { return };
                    if let Command::Shutdown(reply) = command {
                        self.shutdown().await;
                        let _ = reply.send(());
                        return;
                    }
                    if let Command::Link(LinkEvent::Shutdown { message }) = command {
                        tracing::error!(%message, "the master told this agent to shut down");
                        self.shutdown().await;
                        *self
                            .shut_down_by_master
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
                        return;
                    }
                    self.handle_command(command);
                    if self.failed {
                        return;
                    }
                }
                _ = heartbeat.tick() => self.heartbeat(),
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        let now = now_secs();
        match command {
            Command::Link(LinkEvent::Registered { agent_id }) => {
                tracing::Span::current().record("agent_id", agent_id.as_str());
                let mut info = self.core.agent_info();
                info.id = Some(corral_api::v1::AgentId {
                    value: agent_id.clone(),
                });
                let saved = self.meta.save_agent(&info);
                self.persist(saved);
                if !self.failed {
                    self.core.registered(&agent_id);
                }
            }
            Command::Link(LinkEvent::Disconnected) => self.core.disconnected(),
            // Handled by `run`.
            Command::Link(LinkEvent::Shutdown { .. }) => {}
            Command::Link(LinkEvent::Message(message)) => self.core.handle_master(*message, now),
            Command::ExecutorCall {
                call,
                encoding,
                reply,
            } => {
                let key = (
                    call.framework_id.value.clone(),
                    call.executor_id.value.clone(),
                );
                let limitation = self
                    .core
                    .failed_task_container(&call)
                    .and_then(|container_id| self.limits.check(container_id));
                let limitation = limitation.map(|l| (l.kind, l.message));
                let result = match self.core.executor_call_at_limit(*call, limitation, now) {
                    Ok(CallOutcome::Subscribed(connection)) => Ok(ExecutorReply::Stream(
                        self.open_stream(key, connection, encoding),
                    )),
                    Ok(CallOutcome::Accepted) => Ok(ExecutorReply::Accepted),
                    Err(error) => Err(error),
                };
                let _ = reply.send(result);
            }
            Command::ExecutorClosed {
                framework_id,
                executor_id,
                connection,
            } => {
                let key = (framework_id, executor_id);
                if self
                    .streams
                    .get(&key)
                    .is_some_and(|s| s.connection == connection)
                {
                    self.streams.remove(&key);
                }
                self.core.executor_disconnected(&key.0, &key.1, connection);
            }
            Command::Launched {
                framework_id,
                executor_id,
                container_id,
                pid,
                start_time,
            } => self.core.container_launched_with(
                &framework_id,
                &executor_id,
                &container_id,
                pid,
                start_time,
            ),
            Command::LaunchFailed {
                framework_id,
                executor_id,
                container_id,
                error,
            } => self.core.container_launch_failed(
                &framework_id,
                &executor_id,
                &container_id,
                &error,
                now,
            ),
            Command::Exited {
                framework_id,
                executor_id,
                container_id,
                exit,
            } => self
                .core
                .container_exited(&framework_id, &executor_id, &container_id, exit, now),
            Command::Timer(timer) => self.core.timer_fired(timer, now),
            Command::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Command::SubscribeCall(reply) => {
                let _ = reply.send(self.core.subscribe_call(&self.agent_version));
            }
            Command::Shutdown(reply) => {
                let _ = reply.send(());
            }
            Command::AwaitingReregistration(reply) => {
                let _ = reply.send(self.core.awaiting_reregistration());
            }
            Command::ReregistrationTimeout(timeout) => self.core.reregistration_timed_out(timeout),
            Command::CleanupRecovered => self.core.cleanup_recovered(),
            Command::Outstanding(reply) => {
                let snapshot = self.core.snapshot();
                let executors = snapshot.frameworks.iter().map(|f| f.executors.len()).sum();
                let _ = reply.send((executors, snapshot.pending_updates));
            }
        }
        self.drain_effects();
    }

    /// Carries out the core's effects; carrying out an effect may feed the core again (a
    /// committed checkpoint, a failed volume update): runs until nothing is left. After a
    /// failed checkpoint write nothing more is done (fail-stop).
    fn drain_effects(&mut self) {
        loop {
            let effects = self.core.take_effects();
            if effects.is_empty() || self.failed {
                break;
            }
            for effect in effects {
                if self.failed {
                    break;
                }
                self.execute(effect);
            }
        }
    }

    /// Writes to the checkpointed state; a failure stops the agent (its executors keep
    /// running and a restarted agent recovers them), so nothing is acknowledged that is not
    /// on disk.
    fn persist(&mut self, result: Result<(), crate::meta::MetaError>) {
        if let Err(error) = result {
            tracing::error!(%error, "cannot checkpoint; stopping the agent (fail-stop)");
            self.failed = true;
        }
    }

    fn snapshot(&mut self) -> Arc<Snapshot> {
        let generation = self.core.generation();
        match &self.snapshot {
            Some((g, snapshot)) if *g == generation => snapshot.clone(),
            _ => {
                let snapshot = Arc::new(self.core.snapshot());
                self.snapshot = Some((generation, snapshot.clone()));
                snapshot
            }
        }
    }

    /// A new subscription stream; it replaces (and so closes) any previous one.
    fn open_stream(
        &mut self,
        key: (String, String),
        connection: u64,
        encoding: Encoding,
    ) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(EXECUTOR_STREAM_BUFFER);
        let (watch, cancelled) = oneshot::channel::<()>();
        let watcher = tx.clone();
        let handle = self.handle.clone();
        let (framework_id, executor_id) = key.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = watcher.closed() => {
                    handle.send(Command::ExecutorClosed { framework_id, executor_id, connection });
                }
                _ = cancelled => {}
            }
        });
        self.streams.insert(
            key,
            ExecutorStream {
                connection,
                encoding,
                tx,
                _watch: watch,
            },
        );
        rx
    }

    fn send_event(&mut self, framework_id: String, executor_id: String, event: &executor::Event) {
        let key = (framework_id, executor_id);
        let Some(stream) = self.streams.get(&key) else {
            tracing::debug!(framework_id = %key.0, executor_id = %key.1, "no stream to the executor; event dropped");
            return;
        };
        let bytes = encode(stream.encoding, event);
        if let Err(error) = stream.tx.try_send(bytes) {
            tracing::warn!(framework_id = %key.0, executor_id = %key.1, %error, "executor stream is stuck or closed; closing it");
            if let Some(stream) = self.streams.remove(&key) {
                self.core
                    .executor_disconnected(&key.0, &key.1, stream.connection);
            }
        }
    }

    fn heartbeat(&mut self) {
        let event = executor::Event {
            r#type: Some(event::Type::Heartbeat as i32),
            ..Default::default()
        };
        let keys: Vec<(String, String)> = self.streams.keys().cloned().collect();
        for (framework_id, executor_id) in keys {
            self.send_event(framework_id, executor_id, &event);
        }
    }

    fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::Launch(request) => self.launch(*request),
            Effect::Destroy {
                container_id,
                grace,
            } => {
                let containerizer = self.containerizer.clone();
                tokio::spawn(async move { destroy(&containerizer, &container_id, grace).await });
            }
            Effect::Update {
                container_id,
                limits,
            } => {
                let containerizer = self.containerizer.clone();
                tokio::spawn(async move { update(&containerizer, &container_id, &limits).await });
            }
            Effect::ToMaster(call) => {
                if self.to_master.send(call).is_err() {
                    tracing::debug!("master link is gone; call dropped");
                }
            }
            Effect::ToExecutor {
                framework_id,
                executor_id,
                event,
            } => self.send_event(framework_id, executor_id, &event),
            Effect::CloseExecutor {
                framework_id,
                executor_id,
            } => {
                self.streams.remove(&(framework_id, executor_id));
            }
            Effect::Checkpoint(plan) => self.checkpoint(*plan),
            Effect::CreateVolumes(paths) => volumes::create(&paths),
            Effect::DestroyVolumes(paths) => volumes::destroy(&paths),
            Effect::AttachVolumes {
                framework_id,
                executor_id,
                container_id,
                directory,
                user,
                volumes,
            } => {
                let attached = volumes::attach(&directory, &volumes, user.as_deref());
                if let Err(error) = attached {
                    self.core
                        .volumes_failed(&framework_id, &executor_id, &container_id, &error);
                }
            }
            Effect::Persist(write) => {
                let written = self.meta.apply(&write);
                self.persist(written);
            }
            Effect::Timer { after, timer } => {
                let handle = self.handle.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    handle.send(Command::Timer(timer));
                });
            }
        }
    }

    async fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let containers = self.containerizer.containers();
        tracing::info!(
            containers = containers.len(),
            "shutting down: destroying all containers"
        );
        let destroys = containers.into_iter().map(|id| {
            let containerizer = self.containerizer.clone();
            async move { destroy(&containerizer, id.as_str(), DESTROY_GRACE).await }
        });
        if tokio::time::timeout(
            SHUTDOWN_DESTROY_TIMEOUT,
            futures::future::join_all(destroys),
        )
        .await
        .is_err()
        {
            tracing::error!("some containers could not be destroyed in time");
        }
        self.streams.clear();
    }
}
