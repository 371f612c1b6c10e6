//! What the agent core tracks: frameworks, their executors, and the executors' tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;

use corral_api::v1::{self, task_status::Reason, TaskState};

/// Completed executors kept per framework (Mesos: `--max_completed_executors_per_framework`).
pub const MAX_COMPLETED_EXECUTORS: usize = 150;
/// Completed frameworks kept (Mesos: `MAX_COMPLETED_FRAMEWORKS`).
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;
/// Completed tasks kept per executor (Mesos: `MAX_COMPLETED_TASKS_PER_EXECUTOR`).
pub const MAX_COMPLETED_TASKS: usize = 200;

/// A framework with executors on this agent.
#[derive(Debug, Clone)]
pub struct Framework {
    /// Its FrameworkInfo (id set), as the master last sent it.
    pub info: v1::FrameworkInfo,
    /// Live executors (and exited ones whose tasks still await acknowledgements), by id.
    pub executors: BTreeMap<String, Executor>,
    /// Executors that are gone, newest last.
    pub completed_executors: VecDeque<Executor>,
    /// The master removed the framework; its executors are being shut down.
    pub terminating: bool,
    /// Which live executor holds each live task.
    pub(crate) task_index: HashMap<String, String>,
}

impl Framework {
    pub(crate) fn new(info: v1::FrameworkInfo) -> Self {
        Framework {
            info,
            executors: BTreeMap::new(),
            completed_executors: VecDeque::new(),
            terminating: false,
            task_index: HashMap::new(),
        }
    }

    /// The framework's id.
    pub fn id(&self) -> &str {
        self.info.id.as_ref().map_or("", |id| id.value.as_str())
    }

    /// Whether the framework has the PARTITION_AWARE capability.
    pub fn partition_aware(&self) -> bool {
        use v1::framework_info::capability::Type;
        self.info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(Type::PartitionAware as i32))
    }

    /// Whether the framework asked for checkpointing.
    pub fn checkpoint(&self) -> bool {
        self.info.checkpoint.unwrap_or(false)
    }
}

/// Which program runs the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// The built-in command executor (`corral executor`), one per command task.
    Command,
    /// The built-in default executor for task groups (`corral executor --default`).
    Default,
    /// A framework's own executor, run from its `ExecutorInfo.command`.
    Custom,
}

/// Where an executor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorState {
    /// The container is being launched.
    Launching,
    /// The process runs; it has not subscribed yet.
    Registering,
    /// The executor subscribed (its stream may have dropped since; see `connection`).
    Running,
    /// The agent is ending it (shutdown, timeout); the container may still run.
    Terminating,
    /// The container is gone.
    Terminated,
}

impl ExecutorState {
    /// The name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorState::Launching => "LAUNCHING",
            ExecutorState::Registering => "REGISTERING",
            ExecutorState::Running => "RUNNING",
            ExecutorState::Terminating => "TERMINATING",
            ExecutorState::Terminated => "TERMINATED",
        }
    }
}

/// Work waiting for the executor to subscribe.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// One task (LAUNCH).
    Task(Box<v1::TaskInfo>),
    /// A task group (LAUNCH_GROUP).
    Group(v1::TaskGroupInfo),
}

impl Pending {
    /// The tasks in this launch.
    pub fn tasks(&self) -> &[v1::TaskInfo] {
        match self {
            Pending::Task(task) => std::slice::from_ref(&**task),
            Pending::Group(group) => &group.tasks,
        }
    }
}

/// Why the agent ended an executor: the reason and message of the updates it sends for the
/// executor's remaining tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// Reason of the generated updates.
    pub reason: Reason,
    /// Message prefix of the generated updates.
    pub message: String,
}

/// One executor (one container run).
#[derive(Debug, Clone)]
pub struct Executor {
    /// Its ExecutorInfo (`framework_id` set).
    pub info: v1::ExecutorInfo,
    /// Which program runs it.
    pub kind: ExecutorKind,
    /// The container's id (a UUID).
    pub container_id: String,
    /// The sandbox (run directory).
    pub directory: PathBuf,
    /// Where it is in its life.
    pub state: ExecutorState,
    /// The current subscription stream, if connected.
    pub connection: Option<u64>,
    /// Pid of the container's main process, once launched.
    pub pid: Option<u32>,
    /// Tasks not yet delivered to the executor, in arrival order.
    pub queued: Vec<Pending>,
    /// Delivered tasks: live ones and terminal ones whose terminal update is unacknowledged.
    pub tasks: BTreeMap<String, v1::Task>,
    /// Tasks whose terminal update was acknowledged, newest last.
    pub completed_tasks: VecDeque<v1::Task>,
    /// Set when the agent decided to end the executor.
    pub ending: Option<Ending>,
    /// How the container ended, once it has.
    pub exit: Option<String>,
    /// The limits its container was last given (`None`: not known, e.g. re-adopted after an
    /// agent restart); see `core::resize`.
    pub limits: Option<corral_containerizer::ResourceLimits>,
}

impl Executor {
    /// The executor's id.
    pub fn id(&self) -> &str {
        &self.info.executor_id.value
    }

    /// Whether the executor holds no task at all (queued, live or awaiting acknowledgement).
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.tasks.is_empty()
    }

    /// The queued task infos, flattened.
    pub fn queued_tasks(&self) -> impl Iterator<Item = &v1::TaskInfo> + '_ {
        self.queued.iter().flat_map(Pending::tasks)
    }

    pub(crate) fn complete_task(&mut self, task_id: &str) {
        if let Some(task) = self.tasks.remove(task_id) {
            self.completed_tasks.push_back(task);
            while self.completed_tasks.len() > MAX_COMPLETED_TASKS {
                self.completed_tasks.pop_front();
            }
        }
    }
}

/// Whether a task state is terminal (no later state can follow).
pub fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
    )
}

/// The agent's Task record for a TaskInfo just accepted (TASK_STAGING).
pub fn new_task(info: &v1::TaskInfo, framework_id: &str, executor_id: Option<&str>) -> v1::Task {
    v1::Task {
        name: info.name.clone(),
        task_id: info.task_id.clone(),
        framework_id: v1::FrameworkId {
            value: framework_id.to_string(),
        },
        executor_id: executor_id.map(|e| v1::ExecutorId {
            value: e.to_string(),
        }),
        agent_id: info.agent_id.clone(),
        state: TaskState::TaskStaging as i32,
        resources: info.resources.clone(),
        labels: info.labels.clone(),
        discovery: info.discovery.clone(),
        container: info.container.clone(),
        health_check: info.health_check.clone(),
        kill_policy: info.kill_policy,
        user: info.command.as_ref().and_then(|c| c.user.clone()),
        limits: info.limits.clone(),
        ..Default::default()
    }
}

/// Records `status` as the task's latest state (statuses are kept without their payload).
pub fn apply_status(task: &mut v1::Task, status: &v1::TaskStatus) {
    task.state = status.state;
    let mut kept = status.clone();
    kept.data = None;
    task.statuses.push(kept);
}

/// The name of a task state (`TASK_RUNNING`).
pub fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state).map_or("TASK_UNKNOWN", |s| s.as_str_name())
}
