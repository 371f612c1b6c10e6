//! What the core asks the runtime to do.

use std::path::PathBuf;
use std::time::Duration;

use corral_api::internal::AgentCall;
use corral_api::v1::executor;

use super::CheckpointPlan;
use crate::launch::LaunchRequest;
use crate::volumes::VolumeMount;

/// One action for the runtime, in the order the core emitted it.
// Effects live only between a core call and their execution; boxing would not pay.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Create the sandbox and launch the executor's container; report back with
    /// `container_launched` / `container_launch_failed` and later `container_exited`.
    Launch(Box<LaunchRequest>),
    /// Kill a container (SIGTERM, `grace`, SIGKILL); its exit is reported as usual.
    Destroy {
        /// The container.
        container_id: String,
        /// Time between SIGTERM and SIGKILL.
        grace: Duration,
    },
    /// Apply new resource limits to a running container (a task joined or left its executor);
    /// a failure is logged and the container keeps its old limits.
    Update {
        /// The container.
        container_id: String,
        /// Its executor's resources plus its live tasks'.
        limits: corral_containerizer::ResourceLimits,
    },
    /// Send a call to the master (dropped while not registered; the status update manager
    /// resends what matters after re-registration).
    ToMaster(AgentCall),
    /// Send an event on an executor's subscription stream.
    ToExecutor {
        /// The executor's framework.
        framework_id: String,
        /// The executor.
        executor_id: String,
        /// The event.
        event: executor::Event,
    },
    /// Close an executor's subscription stream.
    CloseExecutor {
        /// The executor's framework.
        framework_id: String,
        /// The executor.
        executor_id: String,
    },
    /// Persist `plan.record()` durably, then call `commit_checkpoint(plan)`; if it cannot be
    /// persisted, the set is not adopted.
    Checkpoint(Box<CheckpointPlan>),
    /// Create the directories of new persistent volumes.
    CreateVolumes(Vec<PathBuf>),
    /// Delete the directories of destroyed persistent volumes (never through a link).
    DestroyVolumes(Vec<PathBuf>),
    /// Expose volumes in an existing container's sandbox before a task using them is
    /// delivered; on failure call `volumes_failed`.
    AttachVolumes {
        /// The executor's framework.
        framework_id: String,
        /// The executor.
        executor_id: String,
        /// Its container.
        container_id: String,
        /// Its sandbox.
        directory: PathBuf,
        /// The user the container runs as, if switched.
        user: Option<String>,
        /// The volumes.
        volumes: Vec<VolumeMount>,
    },
    /// Write this to the checkpointed state (`meta/`) durably before carrying out any later
    /// effect; if it cannot be written, the agent stops (fail-stop, as Mesos aborts).
    Persist(crate::meta::MetaWrite),
    /// Call `timer_fired(timer)` after `after`.
    Timer {
        /// The delay.
        after: Duration,
        /// What fires.
        timer: Timer,
    },
}

/// A timer the core started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// The executor must have subscribed by now.
    Registration {
        /// The executor's framework.
        framework_id: String,
        /// The executor.
        executor_id: String,
        /// The container run the timer is for.
        container_id: String,
    },
    /// The executor was told to shut down and had its grace period.
    ShutdownGrace {
        /// The executor's framework.
        framework_id: String,
        /// The executor.
        executor_id: String,
        /// The container run the timer is for.
        container_id: String,
    },
    /// Resend the head of a task's status update stream if still unacknowledged.
    StatusRetry {
        /// The task's framework.
        framework_id: String,
        /// The task.
        task_id: String,
        /// The stream generation the timer belongs to.
        generation: u64,
    },
}
