//! Agent recovery in the core: rebuilding frameworks, executors, tasks and status update
//! streams from the checkpointed state, waiting for executors to re-subscribe, and giving up
//! on the ones that do not (`docs/agent-recovery.md`).
//!
//! Recovered executors start as RUNNING without a connection and are *awaiting*
//! re-registration. The runtime asks the containerizer to re-adopt their containers; the ones
//! that are gone are reported through [`container_exited`](AgentCore::container_exited) like
//! any exit (their live tasks fail with `REASON_EXECUTOR_TERMINATED`). An executor that
//! re-subscribes stops awaiting; once `--executor_reregistration_timeout` has passed the
//! runtime calls [`reregistration_timed_out`](AgentCore::reregistration_timed_out), which
//! destroys the rest.

use corral_api::v1::{self, task_status::Reason};

use super::state::{apply_status, is_terminal, Ending, Executor, ExecutorState, Framework};
use super::AgentCore;
use crate::flags::format_duration;
use crate::meta::RecoveredState;

/// A recovered executor run whose container the runtime should re-adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredRun {
    /// The executor's framework.
    pub framework_id: String,
    /// The executor.
    pub executor_id: String,
    /// Its container.
    pub container_id: String,
    /// The checkpointed main process; `None` if its launch was never recorded (or the host
    /// rebooted): then the container is treated as gone.
    pub pid: Option<u32>,
    /// The checkpointed start time of the main process.
    pub start_time: Option<u64>,
}

impl AgentCore {
    /// Rebuilds the state from the checkpoint (before the agent talks to anybody) and returns
    /// the runs whose containers to re-adopt.
    pub fn recover(&mut self, state: RecoveredState) -> Vec<RecoveredRun> {
        self.generation += 1;
        if let Some(id) = state.agent_info.as_ref().and_then(|i| i.id.clone()) {
            tracing::info!(agent_id = %id.value, "recovered the agent id");
            self.agent_id = Some(id.value);
        }
        let mut runs = Vec::new();
        for recovered in state.frameworks {
            let mut framework = Framework::new(recovered.info);
            let framework_id = framework.id().to_string();
            for r in recovered.executors {
                let executor_id = r.info.executor_id.value.clone();
                let mut executor = Executor {
                    info: r.info,
                    kind: r.kind,
                    container_id: r.container_id.clone(),
                    directory: r.directory,
                    state: ExecutorState::Running,
                    connection: None,
                    pid: r.pid,
                    queued: Vec::new(),
                    tasks: Default::default(),
                    completed_tasks: Default::default(),
                    ending: None,
                    exit: None,
                    limits: None,
                };
                for t in r.tasks {
                    let task_id = t.task.task_id.value.clone();
                    let mut task = t.task;
                    for status in &t.updates {
                        apply_status(&mut task, status);
                    }
                    self.updates
                        .recover_stream(&framework_id, &task_id, &t.updates, &t.acked);
                    let done = is_terminal(task.state())
                        && t.updates
                            .iter()
                            .all(|s| s.uuid.as_ref().is_some_and(|u| t.acked.contains(u)));
                    if done {
                        executor.completed_tasks.push_back(task);
                    } else {
                        framework
                            .task_index
                            .insert(task_id.clone(), executor_id.clone());
                        executor.tasks.insert(task_id, task);
                    }
                }
                tracing::info!(
                    framework_id,
                    executor_id,
                    container_id = %r.container_id,
                    pid = ?r.pid,
                    tasks = executor.tasks.len(),
                    "recovered executor"
                );
                runs.push(RecoveredRun {
                    framework_id: framework_id.clone(),
                    executor_id: executor_id.clone(),
                    container_id: r.container_id,
                    pid: r.pid,
                    start_time: r.start_time,
                });
                self.awaiting
                    .insert((framework_id.clone(), executor_id.clone()));
                framework.executors.insert(executor_id, executor);
            }
            self.frameworks.insert(framework_id, framework);
        }
        runs
    }

    /// Recovered executors that have not re-subscribed yet (and still run).
    pub fn awaiting_reregistration(&self) -> usize {
        self.awaiting
            .iter()
            .filter(|(f, e)| {
                self.frameworks
                    .get(f)
                    .and_then(|f| f.executors.get(e))
                    .is_some_and(|e| e.state == ExecutorState::Running && e.connection.is_none())
            })
            .count()
    }

    /// `--executor_reregistration_timeout` passed: destroy the recovered executors that did
    /// not re-subscribe; their tasks fail when their containers are gone.
    pub fn reregistration_timed_out(&mut self, timeout: std::time::Duration) {
        let awaiting: Vec<(String, String)> =
            std::mem::take(&mut self.awaiting).into_iter().collect();
        for (framework_id, executor_id) in awaiting {
            let waiting = self
                .frameworks
                .get(&framework_id)
                .and_then(|f| f.executors.get(&executor_id))
                .is_some_and(|e| e.state == ExecutorState::Running && e.connection.is_none());
            if !waiting {
                continue;
            }
            tracing::warn!(
                framework_id,
                executor_id,
                "recovered executor did not re-subscribe in time; destroying it"
            );
            let ending = Ending {
                reason: Reason::ExecutorReregistrationTimeout,
                message: format!(
                    "Executor did not reregister within {}",
                    format_duration(timeout)
                ),
            };
            self.shutdown_executor(&framework_id, &executor_id, Some(ending));
        }
    }

    /// `--recover=cleanup`: destroy every recovered executor; its live tasks get a terminal
    /// update when its container is gone.
    pub fn cleanup_recovered(&mut self) {
        self.awaiting.clear();
        let executors: Vec<(String, String)> = self
            .frameworks
            .iter()
            .flat_map(|(f, framework)| {
                framework
                    .executors
                    .iter()
                    .filter(|(_, e)| e.state != ExecutorState::Terminated)
                    .map(move |(e, _)| (f.clone(), e.clone()))
            })
            .collect();
        for (framework_id, executor_id) in executors {
            let ending = Ending {
                reason: Reason::ExecutorTerminated,
                message: "Executor killed by the agent's recovery cleanup (--recover=cleanup)"
                    .to_string(),
            };
            if let Some(executor) = self
                .frameworks
                .get_mut(&framework_id)
                .and_then(|f| f.executors.get_mut(&executor_id))
            {
                // Not asked politely: no executor is connected yet.
                executor.connection = None;
            }
            self.shutdown_executor(&framework_id, &executor_id, Some(ending));
        }
    }

    /// A recovered executor re-subscribed: it no longer awaits; tasks the agent recorded but
    /// never delivered (no update, and the executor does not know them) are lost.
    pub(super) fn resubscribed(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        known: &[v1::TaskInfo],
        now: f64,
    ) {
        let key = (framework_id.to_string(), executor_id.to_string());
        if !self.awaiting.remove(&key) {
            return;
        }
        tracing::info!(
            framework_id,
            executor_id,
            "recovered executor re-subscribed"
        );
        let undelivered: Vec<String> = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .map(|e| {
                e.tasks
                    .values()
                    .filter(|t| t.statuses.is_empty())
                    .filter(|t| !known.iter().any(|k| k.task_id == t.task_id))
                    .map(|t| t.task_id.value.clone())
                    .collect()
            })
            .unwrap_or_default();
        let state = self.lost_state(framework_id);
        for task_id in undelivered {
            self.agent_update(
                framework_id,
                Some(executor_id),
                &task_id,
                state,
                Reason::AgentRestarted,
                "Task launched during agent restart".to_string(),
                now,
            );
        }
        // Mesos: an executor left without a live task after a restart is shut down.
        let idle = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .is_some_and(|e| {
                e.queued.is_empty() && e.tasks.values().all(|t| is_terminal(t.state()))
            });
        if idle {
            tracing::info!(
                framework_id,
                executor_id,
                "recovered executor has no live task; shutting it down"
            );
            self.shutdown_executor(framework_id, executor_id, None);
        }
    }
}
