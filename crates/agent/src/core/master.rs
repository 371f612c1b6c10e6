//! What the master tells the agent (besides launches): kill, shut down, acknowledgements,
//! framework messages.

use corral_api::internal::MasterMessage;
use corral_api::v1::{self, executor::event, task_status::Reason, TaskState};

use super::state::{Ending, ExecutorState};
use super::{AgentCore, Effect};
use crate::status_updates::Acked;

impl AgentCore {
    /// Dispatches a master message (REGISTERED and PING are the link's business).
    pub fn handle_master(&mut self, message: MasterMessage, now: f64) {
        match message {
            MasterMessage::Registered { .. }
            | MasterMessage::Ping { .. }
            | MasterMessage::Shutdown { .. } => {}
            MasterMessage::CheckpointResources { resources } => {
                match self.plan_checkpoint(resources) {
                    Ok(plan) => self.emit(Effect::Checkpoint(Box::new(plan))),
                    Err(error) => tracing::error!(
                        %error,
                        "refusing CHECKPOINT_RESOURCES: invalid set; keeping the current one"
                    ),
                }
            }
            MasterMessage::RunTask {
                framework,
                executor,
                task,
            } => self.run_task(framework, executor, task, now),
            MasterMessage::RunTaskGroup {
                framework,
                executor,
                task_group,
            } => self.run_task_group(framework, executor, task_group, now),
            MasterMessage::KillTask {
                framework_id,
                task_id,
                kill_policy,
            } => self.kill_task(&framework_id.value, &task_id.value, kill_policy, now),
            MasterMessage::ShutdownExecutor {
                framework_id,
                executor_id,
            } => self.shutdown_executor(&framework_id.value, &executor_id.value, None),
            MasterMessage::ShutdownFramework { framework_id } => {
                self.shutdown_framework(&framework_id.value)
            }
            MasterMessage::StatusUpdateAcknowledgement {
                framework_id,
                task_id,
                uuid,
            } => self.acknowledge(&framework_id.value, &task_id.value, &uuid),
            MasterMessage::FrameworkMessage {
                framework_id,
                executor_id,
                data,
            } => self.framework_message(&framework_id.value, &executor_id.value, data),
        }
    }

    /// KILL_TASK: kill a queued task directly, or ask its executor to kill it.
    pub fn kill_task(
        &mut self,
        framework_id: &str,
        task_id: &str,
        policy: Option<v1::KillPolicy>,
        now: f64,
    ) {
        self.generation += 1;
        let _span = tracing::info_span!("kill_task", framework_id, task_id).entered();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            tracing::warn!("cannot kill a task of an unknown framework");
            return;
        };
        if framework.terminating {
            return;
        }
        let Some(executor_id) = framework.task_index.get(task_id).cloned() else {
            tracing::warn!("cannot kill an unknown task; reporting it lost");
            let state = self.lost_state(framework_id);
            let message = "Cannot find the task on this agent".to_string();
            return self.agent_update(
                framework_id,
                None,
                task_id,
                state,
                Reason::TaskUnknown,
                message,
                now,
            );
        };
        let Some(executor) = framework.executors.get_mut(&executor_id) else {
            return;
        };
        let queued: Option<Vec<String>> = executor
            .queued
            .iter()
            .find(|p| p.tasks().iter().any(|t| t.task_id.value == task_id))
            .map(|p| p.tasks().iter().map(|t| t.task_id.value.clone()).collect());
        if let Some(group) = queued {
            for id in &group {
                let message = "Killed before delivery to the executor".to_string();
                self.agent_update(
                    framework_id,
                    Some(&executor_id),
                    id,
                    TaskState::TaskKilled,
                    Reason::TaskKilledDuringLaunch,
                    message,
                    now,
                );
            }
            let idle_and_unsubscribed = self
                .frameworks
                .get(framework_id)
                .and_then(|f| f.executors.get(&executor_id))
                .is_some_and(|e| {
                    matches!(
                        e.state,
                        ExecutorState::Launching | ExecutorState::Registering
                    ) && e.queued.is_empty()
                        && e.tasks
                            .values()
                            .all(|t| super::state::is_terminal(t.state()))
                });
            if idle_and_unsubscribed {
                self.shutdown_executor(framework_id, &executor_id, None);
            }
            return;
        }
        let Some(task) = executor.tasks.get(task_id) else {
            return;
        };
        if super::state::is_terminal(task.state()) {
            tracing::info!("task is already terminal; ignoring the kill");
            return;
        }
        let kill_policy = policy.or(task.kill_policy);
        match (executor.state, executor.connection) {
            (ExecutorState::Running, Some(_)) => {
                let event = v1::executor::Event {
                    r#type: Some(event::Type::Kill as i32),
                    kill: Some(event::Kill {
                        task_id: v1::TaskId {
                            value: task_id.to_string(),
                        },
                        kill_policy,
                    }),
                    ..Default::default()
                };
                self.emit(Effect::ToExecutor {
                    framework_id: framework_id.to_string(),
                    executor_id,
                    event,
                });
            }
            (state, _) => tracing::warn!(
                state = state.as_str(),
                "cannot deliver the kill: executor is not connected"
            ),
        }
    }

    /// SHUTDOWN_EXECUTOR (and the agent's own decisions to end an executor).
    pub fn shutdown_executor(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        ending: Option<Ending>,
    ) {
        self.generation += 1;
        let default_grace = self.config.launch.shutdown_grace;
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            tracing::warn!(
                framework_id,
                executor_id,
                "cannot shut down an unknown executor"
            );
            return;
        };
        if executor.ending.is_none() {
            executor.ending = ending;
        }
        let container_id = executor.container_id.clone();
        let grace = crate::launch::shutdown_grace(&executor.info, default_grace);
        let previous = executor.state;
        match previous {
            ExecutorState::Terminating | ExecutorState::Terminated => {}
            // The container is destroyed as soon as its launch is reported.
            ExecutorState::Launching => executor.state = ExecutorState::Terminating,
            ExecutorState::Registering => {
                executor.state = ExecutorState::Terminating;
                self.emit(Effect::Destroy {
                    container_id,
                    grace: super::lifecycle::DESTROY_GRACE,
                });
            }
            ExecutorState::Running => {
                executor.state = ExecutorState::Terminating;
                if executor.connection.is_some() {
                    tracing::info!(
                        framework_id,
                        executor_id,
                        "asking the executor to shut down"
                    );
                    let event = v1::executor::Event {
                        r#type: Some(event::Type::Shutdown as i32),
                        ..Default::default()
                    };
                    self.emit(Effect::ToExecutor {
                        framework_id: framework_id.to_string(),
                        executor_id: executor_id.to_string(),
                        event,
                    });
                    self.emit(Effect::Timer {
                        after: grace,
                        timer: super::Timer::ShutdownGrace {
                            framework_id: framework_id.to_string(),
                            executor_id: executor_id.to_string(),
                            container_id,
                        },
                    });
                } else {
                    self.emit(Effect::Destroy {
                        container_id,
                        grace: super::lifecycle::DESTROY_GRACE,
                    });
                }
            }
        }
    }

    /// SHUTDOWN_FRAMEWORK: the master removed the framework; end all its executors. No status
    /// updates are sent for its tasks (the master already considers them gone).
    pub fn shutdown_framework(&mut self, framework_id: &str) {
        self.generation += 1;
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        tracing::info!(framework_id, "shutting down framework");
        framework.terminating = true;
        for executor in framework.executors.values_mut() {
            if executor.state == ExecutorState::Terminated {
                // Nobody will acknowledge its last updates now.
                let task_ids: Vec<String> = executor.tasks.keys().cloned().collect();
                for task_id in task_ids {
                    executor.complete_task(&task_id);
                }
            }
        }
        let executor_ids: Vec<String> = framework.executors.keys().cloned().collect();
        self.updates.cleanup_framework(framework_id);
        for executor_id in executor_ids {
            self.shutdown_executor(framework_id, &executor_id, None);
            self.maybe_complete_executor(framework_id, &executor_id);
        }
    }

    /// The master relayed the scheduler's acknowledgement of a status update.
    pub fn acknowledge(&mut self, framework_id: &str, task_id: &str, uuid: &[u8]) {
        self.generation += 1;
        match self.updates.acknowledge(framework_id, task_id, uuid) {
            Acked::Ignored => {
                tracing::debug!(
                    framework_id,
                    task_id,
                    "ignoring an acknowledgement that matches no pending update"
                );
            }
            Acked::Popped { terminal, next } => {
                if let Some(run) = self.task_run_path(framework_id, task_id) {
                    self.emit(Effect::Persist(crate::meta::MetaWrite::Ack {
                        run,
                        task_id: task_id.to_string(),
                        uuid: uuid.to_vec(),
                    }));
                }
                if let Some(next) = next {
                    self.forward(next);
                }
                if terminal {
                    self.task_completed(framework_id, task_id);
                }
            }
        }
    }

    /// A scheduler's message for an executor.
    pub fn framework_message(&mut self, framework_id: &str, executor_id: &str, data: Vec<u8>) {
        let connected = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .is_some_and(|e| e.state == ExecutorState::Running && e.connection.is_some());
        if !connected {
            tracing::warn!(
                framework_id,
                executor_id,
                "dropping a framework message: the executor is not connected"
            );
            self.counters.invalid_framework_messages += 1;
            return;
        }
        self.counters.valid_framework_messages += 1;
        let event = v1::executor::Event {
            r#type: Some(event::Type::Message as i32),
            message: Some(event::Message { data }),
            ..Default::default()
        };
        self.emit(Effect::ToExecutor {
            framework_id: framework_id.to_string(),
            executor_id: executor_id.to_string(),
            event,
        });
    }
}
