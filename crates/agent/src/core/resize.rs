//! Keeping a running executor's container sized to the tasks it holds, as Mesos's agent does
//! with `Containerizer::update`: a task that joins a running custom or default executor adds
//! its resources to the container's limits, one that ends takes them away again (the cgroups
//! isolators decide what can be lowered safely). A command executor holds one task for its
//! whole life, so its container keeps the size it was launched with.

use super::effect::Effect;
use super::state::{is_terminal, ExecutorKind, ExecutorState};
use super::AgentCore;
use crate::launch::running_limits;
use corral_api::v1::TaskState;

impl AgentCore {
    /// Emits [`Effect::Update`] if the executor's live tasks now add up to other limits than
    /// its container was last given.
    pub(super) fn resize(&mut self, framework_id: &str, executor_id: &str) {
        let pids_limit = self.config.launch.pids_limit;
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor.kind == ExecutorKind::Command
            || !matches!(
                executor.state,
                ExecutorState::Registering | ExecutorState::Running
            )
        {
            return;
        }
        let live = executor.tasks.values().filter(|t| {
            !is_terminal(TaskState::try_from(t.state).unwrap_or(TaskState::TaskRunning))
        });
        let limits = running_limits(executor.kind, &executor.info, live, pids_limit);
        if executor.limits.as_ref() == Some(&limits) {
            return;
        }
        tracing::info!(
            framework_id,
            executor_id,
            container_id = %executor.container_id,
            ?limits,
            "resizing the executor's container"
        );
        executor.limits = Some(limits);
        let container_id = executor.container_id.clone();
        self.emit(Effect::Update {
            container_id,
            limits,
        });
    }
}
