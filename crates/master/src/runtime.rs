//! The master's runtime shell: one actor task owns the [`MasterCore`]; HTTP handlers send it
//! [`Command`]s; it carries out the core's effects on the framework and agent streams and
//! drives the timers (allocation, heartbeats, agent pings, failover timeouts).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_api::internal::{AgentEnvelope, MasterEnvelope, PROTOCOL_VERSION};
use corral_api::v1::scheduler::{call, event, Call, Event};
use corral_http::{encode, Encoding};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::core::{CoreError, Effect, MasterCore};
use crate::registry::{Registry, RegistryWrite};

/// Capacity of each subscriber's event channel. A subscriber that falls this far behind is
/// disconnected (it re-subscribes and reconciles) rather than growing the master's memory.
pub const STREAM_CAPACITY: usize = 65_536;

/// A read-only job run on the actor against the core (with `now`).
pub type QueryFn = Box<dyn FnOnce(&MasterCore, f64) + Send>;

/// An operator action run on the actor against the core (with `now`).
pub type MutateFn = Box<dyn FnOnce(&mut MasterCore, f64) + Send>;

/// An operator action whose reply must wait until its effects (registry writes first) are
/// carried out: the action returns the reply, which the actor runs after the effects. If a
/// write fails the master stops and the reply is dropped (the caller sees an error).
pub type CommitFn = Box<dyn FnOnce(&mut MasterCore, f64) -> Box<dyn FnOnce() + Send> + Send>;

/// What the actor does when the registry cannot be written (or the core asks to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatalAction {
    /// Log and exit the process (Mesos's fail-stop; the default).
    Exit,
    /// Log and stop the actor: every stream closes and every later command fails (tests).
    Stop,
}

/// A framework or an agent, by id.
#[derive(Clone, Copy)]
enum Peer<'a> {
    Framework(&'a str),
    Agent(&'a str),
}

/// A request to the actor.
#[allow(clippy::large_enum_variant)] // moved once from a handler to the actor
pub enum Command {
    /// SUBSCRIBE from a scheduler: `events` feeds its response body.
    Subscribe {
        /// The call's payload.
        subscribe: call::Subscribe,
        /// How to encode events for this subscriber.
        encoding: Encoding,
        /// The response body's sender.
        events: mpsc::Sender<Bytes>,
        /// The stream id on success, or the message of the ERROR event to send.
        reply: oneshot::Sender<Result<(String, String), String>>,
    },
    /// Any other scheduler call.
    Call {
        /// The call.
        call: Call,
        /// The `Mesos-Stream-Id` header, if any.
        stream_id: Option<String>,
        /// The verdict.
        reply: oneshot::Sender<Result<(), CoreError>>,
    },
    /// An agent's SUBSCRIBE: `messages` feeds its response body.
    AgentSubscribe {
        /// The call.
        envelope: AgentEnvelope,
        /// The response body's sender.
        messages: mpsc::Sender<Bytes>,
        /// The agent id on success.
        reply: oneshot::Sender<Result<String, CoreError>>,
    },
    /// Any other agent call.
    AgentCall {
        /// The call.
        envelope: AgentEnvelope,
        /// The verdict.
        reply: oneshot::Sender<Result<(), CoreError>>,
    },
    /// Run a read-only query against the core (views for the HTTP endpoints).
    Query(QueryFn),
    /// Run an operator action against the core.
    Mutate(MutateFn),
    /// Run an operator action and reply once its effects are durable and sent.
    Commit(CommitFn),
    /// A subscriber's stream ended (the client went away).
    StreamClosed(StreamKey),
}

/// Which stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamKey {
    /// A framework's subscription.
    Framework {
        framework_id: String,
        stream_id: String,
    },
    /// An agent's session.
    Agent { agent_id: String, stream_id: String },
}

/// A subscriber's stream. Dropping it closes the stream: the close watcher holds a sender
/// clone, so it is aborted here too.
struct Stream {
    stream_id: String,
    encoding: Encoding,
    tx: mpsc::Sender<Bytes>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Timer settings of the runtime.
#[derive(Debug, Clone)]
pub struct Timers {
    /// How often HEARTBEAT events go to schedulers.
    pub heartbeat: Duration,
    /// How often agents are pinged.
    pub agent_ping: Duration,
    /// Period of the housekeeping tick (failover timeouts, filters, batched allocation).
    pub tick: Duration,
}

/// The actor. Create with [`Runtime::new`], run with [`Runtime::run`].
pub struct Runtime {
    core: MasterCore,
    clock: Arc<dyn Clock>,
    timers: Timers,
    frameworks: HashMap<String, Stream>,
    agents: HashMap<String, Stream>,
    commands: mpsc::Receiver<Command>,
    self_tx: mpsc::Sender<Command>,
    registry: Registry,
    on_fatal: FatalAction,
    stopped: bool,
}

impl Runtime {
    /// An actor around `core`, and the sender handlers use to reach it.
    pub fn new(
        core: MasterCore,
        clock: Arc<dyn Clock>,
        timers: Timers,
    ) -> (Self, mpsc::Sender<Command>) {
        let (tx, rx) = mpsc::channel(4096);
        let runtime = Self {
            core,
            clock,
            timers,
            frameworks: HashMap::new(),
            agents: HashMap::new(),
            commands: rx,
            self_tx: tx.clone(),
            registry: Registry::new(Arc::new(corral_store::MemoryStore::new())),
            on_fatal: FatalAction::Exit,
            stopped: false,
        };
        (runtime, tx)
    }

    /// Write registry changes through `registry` (default: in memory). The versions the core
    /// read at recovery seed its compare-and-set.
    pub fn with_registry(mut self, mut registry: Registry) -> Self {
        registry.seed(self.core.take_registry_versions());
        self.registry = registry;
        self
    }

    /// What to do when the registry fails (default: exit the process).
    pub fn on_fatal(mut self, action: FatalAction) -> Self {
        self.on_fatal = action;
        self
    }

    /// Fail-stop: nothing more is sent after this.
    fn fatal(&mut self, reason: &str) {
        tracing::error!(reason, "master cannot go on; stopping (fail-stop)");
        self.stopped = true;
        self.frameworks.clear();
        self.agents.clear();
        if self.on_fatal == FatalAction::Exit {
            std::process::exit(70);
        }
    }

    /// Serve commands until every sender is gone.
    pub async fn run(mut self) {
        let mut heartbeat = tokio::time::interval(self.timers.heartbeat);
        let mut ping = tokio::time::interval(self.timers.agent_ping);
        let mut tick = tokio::time::interval(self.timers.tick);
        for t in [&mut heartbeat, &mut ping, &mut tick] {
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        ping.reset(); // the first ping goes out one period after start
        loop {
            if self.stopped {
                break;
            }
            tokio::select! {
                command = self.commands.recv() => {
                    let Some(command) = command else { break };
                    self.handle(command);
                    // Batch: drain what is already queued before flushing and allocating once.
                    let mut budget = 1024;
                    while budget > 0 {
                        if self.stopped {
                            break;
                        }
                        match self.commands.try_recv() {
                            Ok(c) => self.handle(c),
                            Err(_) => break,
                        }
                        budget -= 1;
                    }
                    // Group commit: the registry writes of the whole batch in one store
                    // batch, before any of the messages they acknowledge.
                    self.flush();
                    if self.core.allocation_pending() && !self.stopped {
                        let now = self.clock.now();
                        self.core.allocate(now);
                        self.flush();
                    }
                }
                _ = heartbeat.tick() => self.heartbeat(),
                _ = ping.tick() => {
                    let now = self.clock.now();
                    self.core.ping_agents(now);
                    self.flush();
                }
                _ = tick.tick() => {
                    let now = self.clock.now();
                    self.core.tick(now);
                    self.flush();
                }
            }
        }
        tracing::info!("master runtime stopped");
    }

    fn handle(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::Subscribe {
                subscribe,
                encoding,
                events,
                reply,
            } => {
                if let Some(id) = subscribe.framework_info.id.as_ref() {
                    self.settle(Peer::Framework(&id.value));
                }
                let stream_id = corral_api::ids::new_uuid_string();
                match self.core.subscribe(subscribe, &stream_id, now) {
                    Ok(s) => {
                        let key = StreamKey::Framework {
                            framework_id: s.framework_id.clone(),
                            stream_id: stream_id.clone(),
                        };
                        let watcher = self.watch_close(events.clone(), key);
                        let stream = Stream {
                            stream_id: stream_id.clone(),
                            encoding,
                            tx: events,
                            watcher,
                        };
                        // Replacing the previous subscription's stream closes it.
                        drop(self.frameworks.insert(s.framework_id.clone(), stream));
                        let _ = reply.send(Ok((stream_id, s.framework_id)));
                    }
                    Err(message) => {
                        let _ = reply.send(Err(message));
                    }
                }
            }
            Command::Call {
                call,
                stream_id,
                reply,
            } => {
                let result = call
                    .framework_id
                    .as_ref()
                    .map(|f| f.value.clone())
                    .ok_or_else(|| {
                        CoreError::Invalid("Expecting 'framework_id' to be present".to_string())
                    })
                    .and_then(|fid| {
                        self.core.check_caller(&fid, stream_id.as_deref())?;
                        self.core.scheduler_call(&fid, call, now)
                    });
                let _ = reply.send(result);
            }
            Command::AgentSubscribe {
                envelope,
                messages,
                reply,
            } => {
                if let Some(id) = envelope.agent_id.as_ref() {
                    self.settle(Peer::Agent(&id.value));
                }
                let stream_id = corral_api::ids::new_uuid_string();
                match self.core.agent_subscribe(envelope, &stream_id, now) {
                    Ok(agent_id) => {
                        let key = StreamKey::Agent {
                            agent_id: agent_id.clone(),
                            stream_id: stream_id.clone(),
                        };
                        let watcher = self.watch_close(messages.clone(), key);
                        let stream = Stream {
                            stream_id,
                            encoding: Encoding::Json,
                            tx: messages,
                            watcher,
                        };
                        drop(self.agents.insert(agent_id.clone(), stream));
                        let _ = reply.send(Ok(agent_id));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::AgentCall { envelope, reply } => {
                let _ = reply.send(self.core.agent_call(envelope, now));
            }
            Command::Query(query) => {
                // Whatever a reader sees must be durable already.
                self.flush();
                if !self.stopped {
                    query(&self.core, now);
                }
            }
            Command::Mutate(action) => action(&mut self.core, now),
            Command::Commit(action) => {
                let reply = action(&mut self.core, now);
                self.flush();
                if !self.stopped {
                    reply();
                }
            }
            Command::StreamClosed(key) => match key {
                StreamKey::Framework {
                    framework_id,
                    stream_id,
                } => {
                    if self
                        .frameworks
                        .get(&framework_id)
                        .is_some_and(|s| s.stream_id == stream_id)
                    {
                        self.frameworks.remove(&framework_id);
                    }
                    self.core
                        .framework_disconnected(&framework_id, &stream_id, now);
                }
                StreamKey::Agent {
                    agent_id,
                    stream_id,
                } => {
                    if self
                        .agents
                        .get(&agent_id)
                        .is_some_and(|s| s.stream_id == stream_id)
                    {
                        self.agents.remove(&agent_id);
                    }
                    self.core.agent_disconnected(&agent_id, &stream_id);
                }
            },
        }
    }

    /// Carries out pending effects now if any is for `peer`'s stream, so that a message or a
    /// close meant for its old stream never reaches the one it is about to open (effects are
    /// otherwise flushed once per batch of commands).
    fn settle(&mut self, peer: Peer<'_>) {
        let concerns = |effect: &Effect| match (effect, peer) {
            (
                Effect::ToFramework { framework_id, .. } | Effect::CloseFramework { framework_id },
                Peer::Framework(id),
            ) => framework_id == id,
            (
                Effect::ToAgent { agent_id, .. } | Effect::CloseAgent { agent_id },
                Peer::Agent(id),
            ) => agent_id == id,
            _ => false,
        };
        if self.core.pending_effects().iter().any(concerns) {
            self.flush();
        }
    }

    /// Tell the actor when the client behind `tx` goes away.
    fn watch_close(&self, tx: mpsc::Sender<Bytes>, key: StreamKey) -> tokio::task::JoinHandle<()> {
        let me = self.self_tx.clone();
        tokio::spawn(async move {
            tx.closed().await;
            drop(tx);
            let _ = me.send(Command::StreamClosed(key)).await;
        })
    }

    /// Carry out the core's effects. The registry writes among them (up to a fatal one) are
    /// made durable first, in one store batch (group commit): every write still precedes
    /// whatever acknowledges it, and a batch of many costs one fsync.
    fn flush(&mut self) {
        let effects = self.core.take_effects();
        if self.stopped {
            return;
        }
        let upto = effects
            .iter()
            .position(|e| matches!(e, Effect::Fatal(_)))
            .unwrap_or(effects.len());
        let writes: Vec<&RegistryWrite> = effects[..upto]
            .iter()
            .filter_map(|e| match e {
                Effect::Registry(write) => Some(write),
                _ => None,
            })
            .collect();
        if !writes.is_empty() {
            let started = std::time::Instant::now();
            if let Err(e) = self.registry.apply_all(&writes) {
                self.fatal(&format!("registry write failed: {e}"));
                return;
            }
            tracing::debug!(writes = writes.len(), took = ?started.elapsed(), "registry batch durable");
        }
        for (index, effect) in effects.into_iter().enumerate() {
            if self.stopped {
                // Fail-stop: nothing after a failed write may be sent.
                return;
            }
            match effect {
                Effect::Registry(_) if index < upto => {} // durable above
                Effect::Registry(write) => {
                    if let Err(e) = self.registry.apply(&write) {
                        self.fatal(&format!("registry write failed: {e}"));
                    }
                }
                Effect::Fatal(reason) => self.fatal(&reason),
                Effect::ToFramework {
                    framework_id,
                    event,
                } => self.send_event(&framework_id, &event),
                Effect::CloseFramework { framework_id } => {
                    self.frameworks.remove(&framework_id);
                }
                Effect::ToAgent { agent_id, message } => {
                    let envelope = MasterEnvelope {
                        version: PROTOCOL_VERSION,
                        epoch: self.core.epoch(),
                        message,
                    };
                    let Some(stream) = self.agents.get(&agent_id) else {
                        tracing::debug!(
                            agent_id,
                            "no session stream to the agent; message dropped"
                        );
                        continue;
                    };
                    match serde_json::to_vec(&envelope) {
                        Ok(bytes) => {
                            if stream.tx.try_send(Bytes::from(bytes)).is_err() {
                                tracing::warn!(agent_id, "agent stream full or closed; closing it");
                                self.agents.remove(&agent_id);
                            }
                        }
                        Err(e) => tracing::error!(agent_id, "cannot encode agent message: {e}"),
                    }
                }
                Effect::CloseAgent { agent_id } => {
                    self.agents.remove(&agent_id);
                }
            }
        }
    }

    fn send_event(&mut self, framework_id: &str, event: &Event) {
        let Some(stream) = self.frameworks.get(framework_id) else {
            return;
        };
        let bytes = encode(stream.encoding, event);
        if stream.tx.try_send(bytes).is_err() {
            tracing::warn!(framework_id, "framework stream full or closed; closing it");
            self.frameworks.remove(framework_id);
        }
    }

    fn heartbeat(&mut self) {
        let event = Event {
            r#type: Some(event::Type::Heartbeat as i32),
            ..Default::default()
        };
        let ids: Vec<String> = self.frameworks.keys().cloned().collect();
        for id in ids {
            self.send_event(&id, &event);
        }
    }
}
