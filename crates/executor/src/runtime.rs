//! The runtime shell around [`Executor`]: the agent subscription (with reconnection), process
//! spawning and reaping, timers and signals. It owns no decisions.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use corral_api::v1::executor::Event;
use corral_api::v1::{TaskInfo, TaskStatus};
use corral_client::{ClientError, EventStream, ExecutorClient, ExecutorEnv};
use futures::StreamExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::core::{Config, Effect, Executor, Input, Mode};
use crate::process;
use crate::updates::UpdateSender;

/// How long to wait for the last acknowledgements before exiting.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Without checkpointing, how long the first subscription is retried.
const FIRST_SUBSCRIBE_WINDOW: Duration = Duration::from_secs(60);
/// First delay between subscription attempts.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// Why the executor could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The `MESOS_*` environment is incomplete or malformed.
    #[error("bad executor environment")]
    Env(#[from] ClientError),
    /// Installing signal handlers failed.
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
}

/// Runs a built-in executor configured from the environment until it is done; returns the
/// process exit code.
pub async fn run(mode: Mode) -> Result<i32, ExecutorError> {
    let env = ExecutorEnv::from_env()?;
    run_with(mode, env).await
}

/// Runs a built-in executor with an explicit configuration.
pub async fn run_with(mode: Mode, env: ExecutorEnv) -> Result<i32, ExecutorError> {
    let mut terminate = signal(SignalKind::terminate()).map_err(ExecutorError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ExecutorError::Signals)?;
    let config = Config {
        mode,
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
        ?mode,
        "executor starting"
    );
    let client = ExecutorClient::new(env.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut shell = Shell {
        core: Executor::new(config),
        updates: UpdateSender::start(client.clone()),
        sandbox: env.sandbox.clone().or_else(|| env.directory.clone()),
        tx,
        fetcher: Arc::new(crate::fetch::TaskFetcher::from_env()),
        checkers: HashMap::new(),
    };
    let mut link = Link::new(client, &env);
    let code = loop {
        let input = tokio::select! {
            Some(input) = rx.recv() => input,
            item = link.next(&shell.core) => match item {
                LinkItem::Event(event) => Input::Event(event),
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
    tracing::info!(code, "executor exiting");
    Ok(code)
}

/// Carries out the core's effects.
struct Shell {
    core: Executor,
    updates: UpdateSender,
    sandbox: Option<PathBuf>,
    tx: mpsc::UnboundedSender<Input>,
    /// Fetches tasks' URIs before they start.
    fetcher: Arc<crate::fetch::TaskFetcher>,
    /// Running health checkers by task id.
    checkers: HashMap<String, tokio::task::JoinHandle<()>>,
}

impl Shell {
    /// Feeds `input` (and whatever it causes) to the core; `Some(code)` to exit.
    fn drive(&mut self, input: Input) -> Option<i32> {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for effect in self.core.handle(SystemTime::now(), input) {
                match effect {
                    Effect::Update(status) => self.updates.send(*status),
                    Effect::Spawn(info) => {
                        if let Some(input) = self.spawn(*info) {
                            queue.push_back(input);
                        }
                    }
                    Effect::StartHealthCheck(info) => {
                        let (sandbox, tx) = (self.sandbox.clone(), self.tx.clone());
                        match crate::health::runner::start(&info, sandbox, tx) {
                            Ok(handle) => {
                                if let Some(old) =
                                    self.checkers.insert(info.task_id.value.clone(), handle)
                                {
                                    old.abort();
                                }
                            }
                            Err(error) => {
                                tracing::warn!(task_id = %info.task_id.value, %error, "cannot start health checks");
                            }
                        }
                    }
                    Effect::StopHealthCheck(task_id) => {
                        if let Some(handle) = self.checkers.remove(&task_id.value) {
                            tracing::info!(task_id = %task_id.value, "stopping health checks");
                            handle.abort();
                        }
                    }
                    Effect::Signal {
                        task_id,
                        pid,
                        signal,
                    } => {
                        tracing::info!(task_id = %task_id.value, pid, ?signal, "signalling the task's process group");
                        if let Err(error) = process::signal_group(pid, signal) {
                            tracing::warn!(task_id = %task_id.value, pid, %error, "signal failed");
                        }
                    }
                    Effect::Schedule { timer, after } => {
                        let tx = self.tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            let _ = tx.send(Input::Timer(timer));
                        });
                    }
                    Effect::Exit(code) => return Some(code),
                }
            }
        }
        None
    }

    /// Starts a task: at once when it has no URIs (the outcome is returned), otherwise after
    /// fetching them in the background (the outcome arrives through the channel).
    fn spawn(&self, info: TaskInfo) -> Option<Input> {
        if crate::fetch::uris(&info).is_empty() {
            let (input, waiter) = start_process(&info, self.sandbox.as_deref(), &self.tx);
            if let Some(waiter) = waiter {
                tokio::spawn(waiter);
            }
            return Some(input);
        }
        let (fetcher, sandbox, tx) = (self.fetcher.clone(), self.sandbox.clone(), self.tx.clone());
        tokio::spawn(async move {
            if let Err(message) = fetcher.fetch(&info, sandbox.as_deref()).await {
                tracing::warn!(task_id = %info.task_id.value, %message, "fetching the task's URIs failed");
                let _ = tx.send(Input::FetchFailed {
                    task_id: info.task_id.clone(),
                    message,
                });
                return;
            }
            let (input, waiter) = start_process(&info, sandbox.as_deref(), &tx);
            // Spawned before the waiter can report the exit.
            let _ = tx.send(input);
            if let Some(waiter) = waiter {
                tokio::spawn(waiter);
            }
        });
        None
    }
}

/// A future that waits for a task's process and reports its exit.
type Waiter = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Starts a task's process; returns what to tell the core and the waiter to run once the
/// core has heard it.
fn start_process(
    info: &TaskInfo,
    sandbox: Option<&std::path::Path>,
    tx: &mpsc::UnboundedSender<Input>,
) -> (Input, Option<Waiter>) {
    {
        let task_id = info.task_id.clone();
        let mut child = match process::spawn(info, sandbox) {
            Ok(child) => child,
            Err(error) => {
                tracing::warn!(task_id = %task_id.value, %error, "cannot start the task");
                let input = Input::SpawnFailed {
                    task_id,
                    message: error.to_string(),
                };
                return (input, None);
            }
        };
        let Some(pid) = child.id() else {
            let input = Input::SpawnFailed {
                task_id,
                message: "the process exited before it could be tracked".into(),
            };
            return (input, None);
        };
        tracing::info!(task_id = %task_id.value, pid, "task started");
        let tx = tx.clone();
        let waited = task_id.clone();
        let waiter: Waiter = Box::pin(async move {
            let status = match child.wait().await {
                Ok(status) => process::exit_status(status),
                Err(error) => {
                    tracing::error!(%error, "waiting for the task failed");
                    crate::status::ExitStatus::Code(-1)
                }
            };
            // Leftovers of the task (background jobs) go with it.
            let _ = process::signal_group(pid, crate::core::Signal::Kill);
            // The task's last output is in its log files before its end is reported.
            process::output_flushed(pid).await;
            tracing::info!(task_id = %waited.value, pid, %status, "task ended");
            let _ = tx.send(Input::Exited {
                task_id: waited,
                status,
            });
        });
        (Input::Spawned { task_id, pid }, Some(waiter))
    }
}

/// The agent subscription and its reconnection schedule.
pub(crate) struct Link {
    client: ExecutorClient,
    stream: Option<EventStream<Event>>,
    next_attempt: Instant,
    backoff: Duration,
    max_backoff: Duration,
    /// When attempts stop: the recovery deadline of the current outage.
    deadline: Option<Instant>,
    recovery_timeout: Duration,
    first_window: Duration,
}

/// What the link has to say.
pub(crate) enum LinkItem {
    /// An event from the agent.
    Event(Box<Event>),
    /// The subscription broke.
    Broken(ClientError),
    /// A reconnection succeeded (SUBSCRIBED follows on the stream).
    Subscribed,
    /// The agent did not come back within the recovery window.
    GaveUp,
}

impl Link {
    pub(crate) fn new(client: ExecutorClient, env: &ExecutorEnv) -> Link {
        let first_window = if env.checkpoint {
            env.recovery_timeout
        } else {
            env.recovery_timeout.min(FIRST_SUBSCRIBE_WINDOW)
        };
        Link {
            client,
            stream: None,
            next_attempt: Instant::now(),
            backoff: INITIAL_BACKOFF,
            max_backoff: env.subscription_backoff_max.max(INITIAL_BACKOFF),
            deadline: Some(Instant::now() + first_window),
            recovery_timeout: env.recovery_timeout,
            first_window,
        }
    }

    /// The next event while connected; while disconnected, the outcome of reconnecting.
    pub(crate) async fn next(&mut self, core: &Executor) -> LinkItem {
        match self.stream.as_mut() {
            Some(stream) => match stream.next().await {
                Some(Ok(event)) => LinkItem::Event(Box::new(event)),
                Some(Err(error)) => LinkItem::Broken(error),
                None => LinkItem::Broken(ClientError::StreamEnded),
            },
            None => self.reconnect(core).await,
        }
    }

    /// Marks the subscription broken and starts the outage clock.
    pub(crate) fn broken(&mut self, subscribed_before: bool) {
        self.stream = None;
        self.backoff = INITIAL_BACKOFF;
        self.next_attempt = Instant::now() + INITIAL_BACKOFF;
        let window = if subscribed_before {
            self.recovery_timeout
        } else {
            self.first_window
        };
        self.deadline = Some(Instant::now() + window);
    }

    /// While disconnected: waits for the next attempt and subscribes, reporting the core's
    /// unacknowledged tasks and updates. Pends forever while connected or after giving up.
    async fn reconnect(&mut self, core: &Executor) -> LinkItem {
        let Some(deadline) = self.deadline.filter(|_| self.stream.is_none()) else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep_until(self.next_attempt).await;
            let (tasks, updates): (Vec<TaskInfo>, Vec<TaskStatus>) = core.unacknowledged();
            match self.client.subscribe(tasks, updates).await {
                Ok(stream) => {
                    tracing::info!(agent = %self.client.env().agent_endpoint, "subscribed to the agent");
                    self.stream = Some(stream);
                    self.deadline = None;
                    self.backoff = INITIAL_BACKOFF;
                    return LinkItem::Subscribed;
                }
                Err(error) => {
                    // The agent answered and does not know this executor (any more): it was
                    // given up while the agent was away, so waiting longer is pointless.
                    let refused = error
                        .status()
                        .is_some_and(|s| s.as_u16() == 400 || s.as_u16() == 404);
                    if refused && core.subscribed_once() {
                        tracing::error!(%error, "the agent refused the re-subscription; giving up");
                        self.deadline = None;
                        return LinkItem::GaveUp;
                    }
                    if Instant::now() >= deadline {
                        tracing::error!(%error, "the agent did not come back in time");
                        self.deadline = None;
                        return LinkItem::GaveUp;
                    }
                    tracing::debug!(%error, backoff = ?self.backoff, "subscription failed; retrying");
                    self.next_attempt = Instant::now() + self.backoff;
                    self.backoff = (self.backoff * 2).min(self.max_backoff);
                }
            }
        }
    }
}
