//! Executor lifecycle: containers launched, failed and exited; timers; moving executors and
//! frameworks to "completed" once nothing is left to acknowledge.

use std::time::Duration;

use corral_api::internal::AgentCall;
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_containerizer::LimitationKind;
use corral_resources::parse_resources;

use super::state::{
    is_terminal, Ending, ExecutorKind, ExecutorState, MAX_COMPLETED_EXECUTORS,
    MAX_COMPLETED_FRAMEWORKS,
};
use super::{AgentCore, Effect, Timer};
use crate::flags::format_duration;

/// SIGTERM→SIGKILL grace when the agent destroys a container it gave up on.
pub const DESTROY_GRACE: Duration = Duration::from_secs(2);

/// How a container ended, as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Wait status for EXITED_EXECUTOR: the exit code, or 128 + signal number.
    pub status: i32,
    /// Human-readable, e.g. "exited with status 3" or "killed by SIGKILL".
    pub message: String,
    /// Set when an isolator killed the container for exceeding a limit.
    pub limitation: Option<(LimitationKind, String)>,
}

impl AgentCore {
    /// The container of an executor started (its main process has `pid`).
    pub fn container_launched(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        pid: u32,
    ) {
        self.container_launched_with(framework_id, executor_id, container_id, pid, None);
    }

    /// [`container_launched`](Self::container_launched) with the main process's start time,
    /// checkpointed with the pid so that a restarted agent never adopts a reused pid.
    pub fn container_launched_with(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        pid: u32,
        start_time: Option<u64>,
    ) {
        self.generation += 1;
        if let Some(run) = self
            .run_path(framework_id, executor_id)
            .filter(|run| run.container_id == container_id)
        {
            self.emit(Effect::Persist(crate::meta::MetaWrite::Pid {
                run,
                pid,
                start_time,
            }));
        }
        let registration_timeout = self.config.registration_timeout;
        let Some(executor) = self.executor_run_mut(framework_id, executor_id, container_id) else {
            return;
        };
        executor.pid = Some(pid);
        tracing::info!(
            framework_id,
            executor_id,
            container_id,
            pid,
            "executor container launched"
        );
        match executor.state {
            ExecutorState::Launching => {
                executor.state = ExecutorState::Registering;
                self.emit(Effect::Timer {
                    after: registration_timeout,
                    timer: Timer::Registration {
                        framework_id: framework_id.to_string(),
                        executor_id: executor_id.to_string(),
                        container_id: container_id.to_string(),
                    },
                });
            }
            // Shut down while launching: destroy it now.
            ExecutorState::Terminating => self.emit(Effect::Destroy {
                container_id: container_id.to_string(),
                grace: DESTROY_GRACE,
            }),
            ExecutorState::Registering | ExecutorState::Running | ExecutorState::Terminated => {}
        }
    }

    /// The container could not be launched: its tasks fail with REASON_CONTAINER_LAUNCH_FAILED.
    pub fn container_launch_failed(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        error: &str,
        now: f64,
    ) {
        tracing::warn!(
            framework_id,
            executor_id,
            container_id,
            error,
            "executor launch failed"
        );
        if let Some(executor) = self.executor_run_mut(framework_id, executor_id, container_id) {
            executor.ending.get_or_insert(Ending {
                reason: Reason::ContainerLaunchFailed,
                message: format!("Failed to launch container: {error}"),
            });
        }
        let exit = Exit {
            status: -1,
            message: format!("failed to launch: {error}"),
            limitation: None,
        };
        self.container_exited(framework_id, executor_id, container_id, exit, now);
    }

    /// The container ended: the executor's remaining tasks fail (unless the framework is being
    /// removed) and the master learns that the executor exited.
    pub fn container_exited(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        exit: Exit,
        now: f64,
    ) {
        self.generation += 1;
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let terminating = framework.terminating;
        let fid = framework.id().to_string();
        let Some(executor) = framework
            .executors
            .get_mut(executor_id)
            .filter(|e| e.container_id == container_id)
        else {
            return;
        };
        if executor.state == ExecutorState::Terminated {
            return;
        }
        tracing::info!(framework_id, executor_id, container_id, exit = %exit.message, "executor container ended");
        executor.state = ExecutorState::Terminated;
        executor.pid = None;
        executor.exit = Some(exit.message.clone());
        self.counters.executors_terminated += 1;
        let close = executor.connection.take().is_some();
        let kind = executor.kind;
        let (reason, message, limitation) = match (&executor.ending, &exit.limitation) {
            (Some(ending), _) => (ending.reason, ending.message.clone(), None),
            (None, Some((kind, message))) => (
                limitation_reason(*kind),
                message.clone(),
                task_limitation(*kind, message, executor),
            ),
            (None, None) => (
                Reason::ExecutorTerminated,
                format!("Executor terminated: {}", exit.message),
                None,
            ),
        };
        let queued: Vec<String> = executor
            .queued_tasks()
            .map(|t| t.task_id.value.clone())
            .collect();
        for task_id in &queued {
            super::materialize_queued(executor, &fid, task_id);
        }
        let live: Vec<String> = executor
            .tasks
            .values()
            .filter(|t| !is_terminal(t.state()))
            .map(|t| t.task_id.value.clone())
            .collect();
        if close {
            self.emit(Effect::CloseExecutor {
                framework_id: framework_id.to_string(),
                executor_id: executor_id.to_string(),
            });
        }
        if terminating {
            if let Some(executor) = self.executor_run_mut(framework_id, executor_id, container_id) {
                for task_id in &live {
                    if let Some(task) = executor.tasks.get_mut(task_id) {
                        task.state = TaskState::TaskKilled as i32;
                    }
                }
                let all: Vec<String> = executor.tasks.keys().cloned().collect();
                for task_id in all {
                    executor.complete_task(&task_id);
                }
            }
        } else {
            for task_id in live {
                self.agent_update_with(
                    framework_id,
                    Some(executor_id),
                    &task_id,
                    TaskState::TaskFailed,
                    reason,
                    message.clone(),
                    limitation.clone(),
                    now,
                );
            }
        }
        if kind != ExecutorKind::Command {
            self.emit(Effect::ToMaster(AgentCall::ExitedExecutor {
                framework_id: v1::FrameworkId {
                    value: framework_id.to_string(),
                },
                executor_id: v1::ExecutorId {
                    value: executor_id.to_string(),
                },
                status: exit.status,
            }));
        }
        self.maybe_complete_executor(framework_id, executor_id);
        self.reap_volumes();
    }

    /// A timer the core started has fired.
    pub fn timer_fired(&mut self, timer: Timer, _now: f64) {
        match timer {
            Timer::StatusRetry {
                framework_id,
                task_id,
                generation,
            } => {
                if let Some(forward) = self.updates.retry(&framework_id, &task_id, generation) {
                    tracing::info!(
                        framework_id,
                        task_id,
                        "resending an unacknowledged status update"
                    );
                    self.forward(forward);
                }
            }
            Timer::Registration {
                framework_id,
                executor_id,
                container_id,
            } => {
                let timeout = self.config.registration_timeout;
                let waiting = self
                    .executor_run_mut(&framework_id, &executor_id, &container_id)
                    .is_some_and(|e| {
                        matches!(
                            e.state,
                            ExecutorState::Launching | ExecutorState::Registering
                        )
                    });
                if waiting {
                    tracing::warn!(
                        framework_id,
                        executor_id,
                        "executor did not subscribe in time; destroying it"
                    );
                    let ending = Ending {
                        reason: Reason::ExecutorRegistrationTimeout,
                        message: format!(
                            "Executor did not register within {}",
                            format_duration(timeout)
                        ),
                    };
                    self.shutdown_executor(&framework_id, &executor_id, Some(ending));
                }
            }
            Timer::ShutdownGrace {
                framework_id,
                executor_id,
                container_id,
            } => {
                let running = self
                    .executor_run_mut(&framework_id, &executor_id, &container_id)
                    .is_some_and(|e| e.state != ExecutorState::Terminated);
                if running {
                    tracing::warn!(
                        framework_id,
                        executor_id,
                        "executor did not exit within its grace period; destroying it"
                    );
                    self.emit(Effect::Destroy {
                        container_id,
                        grace: DESTROY_GRACE,
                    });
                }
            }
        }
    }

    /// The terminal update of a task was acknowledged: it is complete.
    pub(super) fn task_completed(&mut self, framework_id: &str, task_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(executor_id) = framework.task_index.remove(task_id) else {
            return;
        };
        if let Some(executor) = framework.executors.get_mut(&executor_id) {
            executor.complete_task(task_id);
        }
        self.maybe_complete_executor(framework_id, &executor_id);
    }

    /// Moves an exited executor with nothing left to acknowledge to the completed executors,
    /// and then the framework to the completed frameworks if it has no executor left.
    pub(super) fn maybe_complete_executor(&mut self, framework_id: &str, executor_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework
            .executors
            .get(executor_id)
            .is_some_and(|e| e.state == ExecutorState::Terminated && e.is_idle());
        if !done {
            return;
        }
        if let Some(run) = self.run_path(framework_id, executor_id) {
            self.emit(Effect::Persist(crate::meta::MetaWrite::Completed { run }));
        }
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        self.awaiting
            .remove(&(framework_id.to_string(), executor_id.to_string()));
        if let Some(executor) = framework.executors.remove(executor_id) {
            tracing::info!(framework_id, executor_id, "executor completed");
            framework.task_index.retain(|_, e| e != executor_id);
            framework.completed_executors.push_back(executor);
            while framework.completed_executors.len() > MAX_COMPLETED_EXECUTORS {
                framework.completed_executors.pop_front();
            }
        }
        if framework.executors.is_empty() {
            if let Some(framework) = self.frameworks.remove(framework_id) {
                tracing::info!(
                    framework_id,
                    "framework has no executors left; completing it"
                );
                self.completed_frameworks.push_back(framework);
                while self.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
                    self.completed_frameworks.pop_front();
                }
            }
        }
    }

    fn executor_run_mut(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
    ) -> Option<&mut super::Executor> {
        self.frameworks
            .get_mut(framework_id)?
            .executors
            .get_mut(executor_id)
            .filter(|e| e.container_id == container_id)
    }
}

/// The task status reason of a container limitation.
pub(super) fn limitation_reason(kind: LimitationKind) -> Reason {
    match kind {
        LimitationKind::Memory => Reason::ContainerLimitationMemory,
        LimitationKind::Disk => Reason::ContainerLimitationDisk,
        LimitationKind::Cpu | LimitationKind::Pids | LimitationKind::Other => {
            Reason::ContainerLimitation
        }
    }
}

/// `TaskStatus.limitation` of a container limitation, as Mesos fills it: the exceeded resource
/// with the amount the isolator reported (memory: the `Maximum Used: <n>MB` of its message),
/// else the executor's allocation of it. `None` for limits that are not resources (pids).
pub(super) fn task_limitation(
    kind: LimitationKind,
    message: &str,
    executor: &super::Executor,
) -> Option<v1::TaskResourceLimitation> {
    let name = match kind {
        LimitationKind::Memory => "mem",
        LimitationKind::Disk => "disk",
        LimitationKind::Cpu => "cpus",
        LimitationKind::Pids | LimitationKind::Other => return None,
    };
    let reported = match kind {
        LimitationKind::Memory => used_mb(message),
        _ => None,
    };
    let amount = reported.or_else(|| {
        let held = crate::convert::sum_resources(
            std::iter::once(executor.info.resources.as_slice())
                .chain(executor.tasks.values().map(|t| t.resources.as_slice()))
                .chain(executor.queued_tasks().map(|t| t.resources.as_slice())),
        );
        Some(held.scalar(name).as_f64()).filter(|v| *v > 0.0)
    })?;
    let resources = parse_resources(&format!("{name}:{amount}")).ok()?;
    Some(v1::TaskResourceLimitation {
        resources: resources.to_proto(),
    })
}

/// The `Maximum Used: <n>MB` figure of a memory limitation message.
fn used_mb(message: &str) -> Option<f64> {
    let rest = &message[message.find("Maximum Used: ")? + "Maximum Used: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if !rest[digits.len()..].starts_with("MB") {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod limitation_tests {
    use super::*;

    #[test]
    fn used_memory_is_read_from_the_message() {
        let message =
            "Memory limit exceeded: Requested: 64MB Maximum Used: 65MB\n\nMEMORY STATISTICS: \n";
        assert_eq!(used_mb(message), Some(65.0));
        assert_eq!(
            used_mb("Memory limit exceeded: Requested: 64MB Maximum Used: unknown MB"),
            None
        );
        assert_eq!(used_mb("nothing here"), None);
        assert_eq!(used_mb("Maximum Used: 12"), None);
    }
}
