//! The agent's sans-IO core: every decision about frameworks, executors, tasks and status
//! updates, as methods that change the state and emit [`Effect`]s. It does no I/O and reads no
//! clock (callers pass `now`, in seconds since the epoch, for status timestamps).
//!
//! ```text
//!  master messages ─┐                        ┌─▶ Launch / Destroy containers
//!  executor calls  ─┼─▶ AgentCore (state) ───┼─▶ ToMaster (status updates, exits, messages)
//!  container exits ─┤    + StatusUpdateMgr   ├─▶ ToExecutor (SUBSCRIBED, LAUNCH, KILL, …)
//!  timers          ─┘                        └─▶ Timer (registration, shutdown, retries)
//! ```
//!
//! | file | handles |
//! |---|---|
//! | `run.rs` | RUN_TASK(_GROUP): starting executors, queueing and delivering tasks |
//! | `master.rs` | KILL_TASK, SHUTDOWN_*, acknowledgements, framework messages |
//! | `executors.rs` | the executor API calls (SUBSCRIBE, UPDATE, MESSAGE, HEARTBEAT) |
//! | `lifecycle.rs` | container launched/failed/exited, timers, completing executors |
//! | `volumes.rs` | CHECKPOINT_RESOURCES, persistent volumes: creating, exposing, destroying |
//! | `state.rs` | the records |

mod effect;
mod executors;
mod lifecycle;
mod master;
mod recovery;
mod resize;
mod run;
pub mod state;
mod volumes;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use corral_api::ids::new_uuid_bytes;
use corral_api::internal::AgentCall;
use corral_api::v1::{self, task_status, TaskState};

pub use effect::{Effect, Timer};
pub use executors::{CallOutcome, ContainerLimitation};
pub use lifecycle::{Exit, DESTROY_GRACE};
pub use recovery::RecoveredRun;
pub use state::{Ending, Executor, ExecutorKind, ExecutorState, Framework, Pending};
pub use volumes::{CheckpointPlan, VolumeStatus};

use crate::launch::LaunchConfig;
use crate::meta::{MetaWrite, RunPath};
use crate::status_updates::{Accepted, Forward, StatusUpdateManager};
use crate::volumes::VolumeRef;
use state::{apply_status, is_terminal, new_task, state_name};

/// What the core needs to know about the agent.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// How executors are launched.
    pub launch: LaunchConfig,
    /// hostname, port, resources and attributes (the id is added once registered).
    pub agent_info: v1::AgentInfo,
    /// `--executor_registration_timeout`.
    pub registration_timeout: Duration,
    /// `--status_update_retry_interval`.
    pub status_update_retry: Duration,
    /// `--status_update_retry_interval_max`: the backoff's cap.
    pub status_update_retry_max: Duration,
    /// `--recovery_timeout`: checkpointing executors' `MESOS_RECOVERY_TIMEOUT`.
    pub executor_recovery_timeout: Duration,
    /// `--executor_reregistration_timeout`; checkpointing executors retry their subscription
    /// at least four times within it (`MESOS_SUBSCRIPTION_BACKOFF_MAX`, at most 2 s).
    pub executor_reregistration_timeout: Duration,
}

impl CoreConfig {
    /// The `MESOS_*` recovery variables of a checkpointing framework's executor.
    pub(crate) fn recovery_env(&self) -> [(String, String); 2] {
        let backoff = (self.executor_reregistration_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(2));
        [
            (
                "MESOS_RECOVERY_TIMEOUT".to_string(),
                crate::flags::format_duration(self.executor_recovery_timeout),
            ),
            (
                "MESOS_SUBSCRIPTION_BACKOFF_MAX".to_string(),
                crate::flags::format_duration(backoff),
            ),
        ]
    }
}

/// Counters for `/metrics/snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tasks that reached each terminal state, by state name.
    pub terminal_tasks: BTreeMap<&'static str, u64>,
    /// Executors whose container ended.
    pub executors_terminated: u64,
    /// Status updates accepted from executors.
    pub valid_status_updates: u64,
    /// Status updates refused (validation).
    pub invalid_status_updates: u64,
    /// Framework messages delivered to executors.
    pub valid_framework_messages: u64,
    /// Framework messages that could not be delivered.
    pub invalid_framework_messages: u64,
}

/// An immutable copy of the core's state for readers (`/state`, metrics, files).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The agent's id once registered.
    pub agent_id: Option<String>,
    /// Whether a master session is up.
    pub registered: bool,
    /// Live frameworks.
    pub frameworks: Vec<Framework>,
    /// Frameworks that are gone, newest last.
    pub completed_frameworks: Vec<Framework>,
    /// Counters.
    pub counters: Counters,
    /// Status updates not yet acknowledged.
    pub pending_updates: usize,
    /// The checkpointed resources (reservations and volumes), as the master sent them.
    pub checkpointed: Vec<v1::Resource>,
    /// The persistent volumes, and destroyed ones still in use.
    pub volumes: Vec<VolumeStatus>,
}

/// The agent's state and decisions; see the module docs.
#[derive(Debug)]
pub struct AgentCore {
    config: CoreConfig,
    agent_id: Option<String>,
    connected: bool,
    frameworks: BTreeMap<String, Framework>,
    completed_frameworks: VecDeque<Framework>,
    updates: StatusUpdateManager,
    effects: Vec<Effect>,
    next_connection: u64,
    counters: Counters,
    generation: u64,
    checkpointed: Vec<v1::Resource>,
    volumes: Vec<VolumeRef>,
    /// Destroyed volumes still used by a live task or executor.
    doomed: Vec<VolumeRef>,
    /// Recovered executors that have not re-subscribed yet (framework id, executor id).
    awaiting: std::collections::BTreeSet<(String, String)>,
}

impl AgentCore {
    /// A core with no frameworks, not registered.
    pub fn new(config: CoreConfig) -> Self {
        let updates = StatusUpdateManager::new(config.status_update_retry)
            .with_max_interval(config.status_update_retry_max);
        AgentCore {
            config,
            agent_id: None,
            connected: false,
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            updates,
            effects: Vec::new(),
            next_connection: 0,
            counters: Counters::default(),
            generation: 0,
            checkpointed: Vec::new(),
            volumes: Vec::new(),
            doomed: Vec::new(),
            awaiting: Default::default(),
        }
    }

    /// The effects emitted since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Grows whenever the state may have changed (for snapshot caching).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The agent id, once registered.
    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }

    /// A copy of the state for readers.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            agent_id: self.agent_id.clone(),
            registered: self.connected,
            frameworks: self.frameworks.values().cloned().collect(),
            completed_frameworks: self.completed_frameworks.iter().cloned().collect(),
            counters: self.counters.clone(),
            pending_updates: self.updates.pending_count(),
            checkpointed: self.checkpointed.clone(),
            volumes: self.volume_statuses(),
        }
    }

    /// The agent's AgentInfo, with its id once registered.
    pub fn agent_info(&self) -> v1::AgentInfo {
        let mut info = self.config.agent_info.clone();
        info.id = self.agent_id.clone().map(|value| v1::AgentId { value });
        info
    }

    /// A master session is up (REGISTERED): resend every unacknowledged head.
    pub fn registered(&mut self, agent_id: &str) {
        self.generation += 1;
        if let Some(old) = &self.agent_id {
            if old != agent_id {
                tracing::warn!(old = %old, new = agent_id, "the master gave this agent a new id");
            }
        }
        self.agent_id = Some(agent_id.to_string());
        self.connected = true;
        for forward in self.updates.resend_all() {
            self.forward(forward);
        }
    }

    /// The master session ended; updates are held until the next one.
    pub fn disconnected(&mut self) {
        self.generation += 1;
        self.connected = false;
    }

    /// The SUBSCRIBE call that (re-)registers the agent with what it currently runs.
    pub fn subscribe_call(&self, agent_version: &str) -> AgentCall {
        let mut frameworks = Vec::new();
        let mut executors = Vec::new();
        let mut tasks = Vec::new();
        for framework in self.frameworks.values() {
            frameworks.push(framework.info.clone());
            for executor in framework.executors.values() {
                let live = executor.state != ExecutorState::Terminated;
                if live && executor.kind != ExecutorKind::Command {
                    executors.push(executor.info.clone());
                }
                tasks.extend(
                    executor
                        .tasks
                        .values()
                        .map(|t| self.reported_task(framework.id(), t)),
                );
                let executor_id = (executor.kind != ExecutorKind::Command).then(|| executor.id());
                tasks.extend(
                    executor
                        .queued_tasks()
                        .map(|t| new_task(t, framework.id(), executor_id)),
                );
            }
        }
        AgentCall::Subscribe {
            agent_info: self.agent_info(),
            agent_version: agent_version.to_string(),
            frameworks,
            executors,
            tasks,
            checkpointed_resources: self.checkpointed.clone(),
        }
    }

    /// A task as the master should learn it at (re-)registration. A task whose terminal
    /// update the framework has not acknowledged yet is reported in the state of its last
    /// acknowledged update, so that the master keeps it live and forwards the resent terminal
    /// update instead of taking the task as already ended (and the update as stale).
    fn reported_task(&self, framework_id: &str, task: &v1::Task) -> v1::Task {
        let pending = self.updates.pending(framework_id, &task.task_id.value);
        if pending.is_empty() || !is_terminal(task.state()) {
            return task.clone();
        }
        let unacked: Vec<&[u8]> = pending.iter().filter_map(|s| s.uuid.as_deref()).collect();
        let acked = task
            .statuses
            .iter()
            .rev()
            .find(|s| !s.uuid.as_deref().is_some_and(|u| unacked.contains(&u)))
            .map_or(TaskState::TaskStaging as i32, |s| s.state);
        let mut reported = task.clone();
        reported.state = acked;
        reported
    }

    fn emit(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Sends a stream head to the master (when connected) and starts its retry timer.
    fn forward(&mut self, forward: Forward) {
        let Forward {
            framework_id,
            status,
            latest_state,
            retry_after,
            generation,
        } = forward;
        let task_id = status.task_id.value.clone();
        if let Some(task) = self.find_task_mut(&framework_id, &task_id) {
            task.status_update_state = Some(status.state);
            task.status_update_uuid = status.uuid.clone();
        }
        if self.connected {
            self.emit(Effect::ToMaster(AgentCall::StatusUpdate {
                framework_id: v1::FrameworkId {
                    value: framework_id.clone(),
                },
                status,
                latest_state: Some(latest_state),
            }));
        }
        self.emit(Effect::Timer {
            after: retry_after,
            timer: Timer::StatusRetry {
                framework_id,
                task_id,
                generation,
            },
        });
    }

    /// Records an update on the task (if the agent knows it) and hands it to the status update
    /// manager, forwarding it if it is the new head.
    fn handle_update(&mut self, framework_id: &str, status: v1::TaskStatus) -> Accepted {
        self.generation += 1;
        let task_id = status.task_id.value.clone();
        let state = status.state();
        let uuid = status.uuid.clone().unwrap_or_default();
        if self.updates.seen(framework_id, &task_id, &uuid) {
            // Resent by a reconnecting executor: already recorded (and checkpointed).
            return Accepted::Duplicate;
        }
        if let Some(task) = self.find_task_mut(framework_id, &task_id) {
            let was_terminal = is_terminal(task.state());
            apply_status(task, &status);
            if !was_terminal && is_terminal(state) {
                *self
                    .counters
                    .terminal_tasks
                    .entry(state_name(state as i32))
                    .or_default() += 1;
            }
        }
        let persisted = status.clone();
        let accepted = self.updates.update(framework_id, status);
        if accepted != Accepted::Duplicate {
            // In the log before it is forwarded or acknowledged to the executor.
            if let Some(run) = self.task_run_path(framework_id, &task_id) {
                self.emit(Effect::Persist(MetaWrite::Update {
                    run,
                    status: persisted,
                }));
            }
        }
        if let Accepted::Send(forward) = &accepted {
            self.forward(forward.clone());
        }
        if is_terminal(state) {
            self.reap_volumes();
        }
        accepted
    }

    /// A status update the agent itself generates (SOURCE_AGENT, fresh uuid).
    #[allow(clippy::too_many_arguments)]
    fn agent_update(
        &mut self,
        framework_id: &str,
        executor_id: Option<&str>,
        task_id: &str,
        state: TaskState,
        reason: task_status::Reason,
        message: String,
        now: f64,
    ) {
        self.agent_update_with(
            framework_id,
            executor_id,
            task_id,
            state,
            reason,
            message,
            None,
            now,
        );
    }

    /// [`agent_update`](Self::agent_update) with the resources of a container limitation.
    #[allow(clippy::too_many_arguments)]
    fn agent_update_with(
        &mut self,
        framework_id: &str,
        executor_id: Option<&str>,
        task_id: &str,
        state: TaskState,
        reason: task_status::Reason,
        message: String,
        limitation: Option<v1::TaskResourceLimitation>,
        now: f64,
    ) {
        tracing::info!(
            framework_id,
            task_id,
            state = state.as_str_name(),
            reason = reason.as_str_name(),
            %message,
            "agent status update"
        );
        let container_status = executor_id
            .and_then(|e| self.frameworks.get(framework_id)?.executors.get(e))
            .map(container_status);
        let status = v1::TaskStatus {
            task_id: v1::TaskId {
                value: task_id.to_string(),
            },
            state: state as i32,
            message: Some(message),
            source: Some(task_status::Source::Agent as i32),
            reason: Some(reason as i32),
            agent_id: self.agent_id.clone().map(|value| v1::AgentId { value }),
            executor_id: executor_id.map(|e| v1::ExecutorId {
                value: e.to_string(),
            }),
            timestamp: Some(now),
            uuid: Some(new_uuid_bytes()),
            container_status,
            limitation,
            ..Default::default()
        };
        self.handle_update(framework_id, status);
    }

    /// The agent's record of a live task (delivered, or queued: then it is materialized as a
    /// TASK_STAGING record first, together with the rest of its task group).
    fn find_task_mut(&mut self, framework_id: &str, task_id: &str) -> Option<&mut v1::Task> {
        let framework = self.frameworks.get_mut(framework_id)?;
        let executor_id = framework.task_index.get(task_id)?.clone();
        let fid = framework.id().to_string();
        let executor = framework.executors.get_mut(&executor_id)?;
        if !executor.tasks.contains_key(task_id) {
            materialize_queued(executor, &fid, task_id);
        }
        executor.tasks.get_mut(task_id)
    }

    /// The checkpoint location of an executor's current run, if its framework checkpoints
    /// (and the agent has an id).
    fn run_path(&self, framework_id: &str, executor_id: &str) -> Option<RunPath> {
        let agent_id = self.agent_id.clone()?;
        let framework = self.frameworks.get(framework_id)?;
        if !framework.checkpoint() {
            return None;
        }
        let executor = framework.executors.get(executor_id)?;
        Some(RunPath {
            agent_id,
            framework_id: framework_id.to_string(),
            executor_id: executor_id.to_string(),
            container_id: executor.container_id.clone(),
        })
    }

    /// [`run_path`](Self::run_path) of the executor holding a live task.
    fn task_run_path(&self, framework_id: &str, task_id: &str) -> Option<RunPath> {
        let executor_id = self.frameworks.get(framework_id)?.task_index.get(task_id)?;
        self.run_path(framework_id, executor_id)
    }

    /// The lost state for a framework: TASK_DROPPED if it is partition-aware, else TASK_LOST.
    fn lost_state(&self, framework_id: &str) -> TaskState {
        let aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(Framework::partition_aware);
        if aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        }
    }
}

/// Moves the queued launch holding `task_id` into the executor's task records (TASK_STAGING).
fn materialize_queued(executor: &mut Executor, framework_id: &str, task_id: &str) -> bool {
    let Some(index) = executor
        .queued
        .iter()
        .position(|p| p.tasks().iter().any(|t| t.task_id.value == task_id))
    else {
        return false;
    };
    let pending = executor.queued.remove(index);
    let executor_id = (executor.kind != ExecutorKind::Command).then(|| executor.id().to_string());
    for info in pending.tasks() {
        let task = new_task(info, framework_id, executor_id.as_deref());
        executor.tasks.insert(info.task_id.value.clone(), task);
    }
    true
}

/// The container part of a status update.
fn container_status(executor: &Executor) -> v1::ContainerStatus {
    v1::ContainerStatus {
        container_id: Some(v1::ContainerId {
            value: executor.container_id.clone(),
            parent: None,
        }),
        executor_pid: executor.pid,
        ..Default::default()
    }
}
