//! The executor's decisions, free of I/O: [`Executor::handle`] takes `(now, input)` and returns
//! the [`Effect`]s the runtime must carry out (send an update, spawn or signal a process, arm a
//! timer, exit).
//!
//! ```text
//!  agent events ─┐                        ┌─▶ Update(TaskStatus)  → POST UPDATE
//!  process exits ├─▶ Executor::handle ────┼─▶ Spawn(TaskInfo)     → fork/exec in its own group
//!  timers       ─┘   (tasks, pending acks)├─▶ Signal(pid, TERM|KILL) → killpg
//!                                         ├─▶ Schedule(timer, after)
//!                                         └─▶ Exit(code)
//! ```
//!
//! Task life: LAUNCH → `TASK_STARTING`, spawn → `TASK_RUNNING` → exit → `TASK_FINISHED` /
//! `TASK_FAILED` (`Command exited with status N`). KILL → (`TASK_KILLING` when the framework
//! has TASK_KILLING_STATE) SIGTERM to the process group, SIGKILL after the grace period →
//! `TASK_KILLED`. Every update is kept until the agent acknowledges it and is handed back on
//! re-subscription ([`Executor::unacknowledged`]). Once every task is terminal and every
//! update acknowledged (or `ack_timeout` passed), the executor exits.
//!
//! The default executor ([`Mode::Default`]) runs task groups: when a task of a group fails or
//! is killed, the others of its group are killed (Mesos's kill-group semantics).
//!
//! Health checks ([`crate::health`]): a task with a `health_check` (validated at launch: an
//! invalid one fails the task) gets a checker once it runs ([`Effect::StartHealthCheck`]);
//! the checker's verdicts come back as [`Input::Health`] and become `TASK_RUNNING` updates
//! with `healthy` set and `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`, or a kill whose terminal
//! update is `TASK_KILLED` with `healthy: false`. Checks stop when the task is killed or ends.
//!
//! URIs: the runtime fetches a task's `command.uris` into the sandbox before it spawns the
//! command; a failed fetch comes back as [`Input::FetchFailed`] (`TASK_FAILED`,
//! `REASON_CONTAINER_LAUNCH_FAILED`, `Failed to fetch '<uri>': <why>`).

mod task;

use std::time::{Duration, SystemTime};

use corral_api::v1::executor::event::{self, Type as EventType};
use corral_api::v1::executor::Event;
use corral_api::v1::framework_info::capability::Type as Capability;
use corral_api::v1::task_status::Reason;
use corral_api::v1::{ExecutorId, TaskId, TaskInfo, TaskState, TaskStatus};

pub use task::{grace_of, Killing, Phase, Task, DEFAULT_KILL_GRACE};

use crate::status::{exit_message, task_status, ExitStatus, Identity, Report};

/// Which built-in executor this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The command executor: one task per executor, LAUNCH.
    Command,
    /// The default executor: task groups, LAUNCH_GROUP.
    Default,
}

/// Fixed parameters.
#[derive(Clone, Debug)]
pub struct Config {
    /// Which executor.
    pub mode: Mode,
    /// The executor's id.
    pub executor_id: ExecutorId,
    /// The executor's own pid (reported with TASK_RUNNING).
    pub executor_pid: u32,
    /// Whether the framework checkpoints (then a lost agent connection is waited out).
    pub checkpoint: bool,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`.
    pub shutdown_grace_period: Duration,
    /// How long to wait for the last acknowledgements before exiting anyway.
    pub ack_timeout: Duration,
}

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Input {
    /// An event from the agent.
    Event(Box<Event>),
    /// A task's process started.
    Spawned {
        /// The task.
        task_id: TaskId,
        /// Its pid (= its process group id).
        pid: u32,
    },
    /// A task's process could not be started.
    SpawnFailed {
        /// The task.
        task_id: TaskId,
        /// Why.
        message: String,
    },
    /// A task's URIs could not be fetched (its process was not started).
    FetchFailed {
        /// The task.
        task_id: TaskId,
        /// `Failed to fetch '<uri>': <why>`.
        message: String,
    },
    /// A task's health checker has news.
    Health {
        /// The task.
        task_id: TaskId,
        /// What the check results mean.
        update: crate::health::HealthUpdate,
    },
    /// A task's process ended.
    Exited {
        /// The task.
        task_id: TaskId,
        /// How.
        status: ExitStatus,
    },
    /// A timer armed by [`Effect::Schedule`] fired.
    Timer(Timer),
    /// The subscription to the agent broke (the runtime reconnects).
    Disconnected,
    /// The agent did not come back within `MESOS_RECOVERY_TIMEOUT`.
    RecoveryTimedOut,
    /// The executor itself was asked to stop (SIGTERM, SIGINT).
    Terminate,
}

/// A timer the core asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The kill grace period of a task ended: SIGKILL it if it still runs.
    Escalate {
        /// The task.
        task_id: TaskId,
        /// The kill generation that armed it.
        generation: u64,
    },
    /// A task's `max_completion_time` passed.
    MaxCompletion(TaskId),
    /// Stop waiting for the last acknowledgements.
    AckWait,
}

/// A signal for a task's process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM.
    Term,
    /// SIGKILL.
    Kill,
}

/// Something the runtime must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send this update to the agent.
    Update(Box<TaskStatus>),
    /// Start this task's process.
    Spawn(Box<TaskInfo>),
    /// Signal a task's process group.
    Signal {
        /// The task.
        task_id: TaskId,
        /// The process group.
        pid: u32,
        /// Which signal.
        signal: Signal,
    },
    /// Start health checking this (running) task.
    StartHealthCheck(Box<TaskInfo>),
    /// Stop health checking this task.
    StopHealthCheck(TaskId),
    /// Arm a timer.
    Schedule {
        /// Which.
        timer: Timer,
        /// When.
        after: Duration,
    },
    /// Exit the executor with this code.
    Exit(i32),
}

/// Why the executor is winding down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    /// The agent (SHUTDOWN) or the operator (SIGTERM) asked.
    Requested,
    /// The agent is gone for good.
    AgentLost,
}

/// The executor's state.
#[derive(Debug)]
pub struct Executor {
    config: Config,
    identity: Identity,
    tasks: Vec<Task>,
    groups: usize,
    pending: Vec<TaskStatus>,
    connected: bool,
    subscribed_once: bool,
    killing_state: bool,
    shutdown: Option<Shutdown>,
    ack_wait_armed: bool,
    exited: bool,
    now: SystemTime,
    out: Vec<Effect>,
}

mod handle;
mod kill;

#[cfg(test)]
mod tests;
