//! What the core asks the runtime to do.

use std::time::Duration;

use corral_api::internal::AgentCall;
use corral_api::v1::executor;

use crate::launch::LaunchRequest;

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
