//! Partitioned tasks: what the master remembers about tasks on agents that became unreachable,
//! so that reconciliation can answer TASK_UNREACHABLE for them (Mesos's per-framework
//! `unreachableTasks`, bounded like Mesos's `MAX_UNREACHABLE_TASKS_PER_FRAMEWORK`).
//!
//! When such an agent re-registers (the partition healed), it reports its tasks again and they
//! are tracked as before, in whatever state the agent reports (RUNNING for a task that kept
//! running): as in Mesos ≥ 1.5 (MESOS-7215) the tasks are not killed, for partition-aware
//! frameworks and for the others alike.

use std::collections::BTreeMap;

use corral_api::v1::{self, task_status::Reason, TaskState};

use super::records::Time;
use super::status::{downgrade_for, master_status};
use super::MasterCore;

/// Unreachable tasks remembered per framework; the oldest are forgotten beyond this.
pub const MAX_UNREACHABLE_TASKS_PER_FRAMEWORK: usize = 1000;

/// A task last seen on an agent that became unreachable.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreachableTask {
    /// The agent it ran on.
    pub agent_id: String,
    /// When the agent was marked unreachable.
    pub since: Time,
    /// The task as `/state` and GET_TASKS show it: in the state its framework was told
    /// (TASK_UNREACHABLE, or TASK_LOST when not partition-aware; later TASK_GONE_BY_OPERATOR
    /// if the agent is marked gone), with that status appended.
    pub task: v1::Task,
}

/// The task `record` as it is remembered on an unreachable agent: in `state` (downgraded for
/// frameworks that are not partition-aware), with a master status saying why.
pub(crate) fn partitioned_task(
    task: &v1::Task,
    partition_aware: bool,
    state: TaskState,
    reason: Reason,
    message: &str,
    now: Time,
) -> v1::Task {
    let state = downgrade_for(partition_aware, state);
    let mut status = master_status(
        &task.task_id.value,
        state,
        reason,
        message,
        Some(&task.agent_id.value),
        now,
    );
    if state == TaskState::TaskUnreachable {
        status.unreachable_time = Some(v1::TimeInfo {
            nanoseconds: (now * 1e9) as i64,
        });
    }
    let mut task = task.clone();
    task.state = state as i32;
    task.statuses.push(status);
    task
}

/// Unreachable tasks by framework id, then task id.
pub type UnreachableTasks = BTreeMap<String, BTreeMap<String, UnreachableTask>>;

impl MasterCore {
    /// Remember the non-terminal tasks of `agent_id` as unreachable. Called when the agent is
    /// marked unreachable, before its bookkeeping is dropped.
    pub(crate) fn remember_unreachable_tasks(&mut self, agent_id: &str, now: Time) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let remembered: Vec<(String, String, v1::Task)> = agent
            .tasks
            .iter()
            .filter_map(|k| {
                let record = self.tasks.get(k).filter(|r| !r.terminal)?;
                let partition_aware = self
                    .frameworks
                    .get(&k.0)
                    .is_some_and(|f| f.partition_aware());
                let task = partitioned_task(
                    &record.task,
                    partition_aware,
                    TaskState::TaskUnreachable,
                    Reason::AgentRemoved,
                    "Agent is unreachable: it missed its health checks",
                    now,
                );
                Some((k.0.clone(), k.1.clone(), task))
            })
            .collect();
        for (framework_id, task_id, task) in remembered {
            let tasks = self.unreachable_tasks.entry(framework_id).or_default();
            tasks.insert(
                task_id,
                UnreachableTask {
                    agent_id: agent_id.to_string(),
                    since: now,
                    task,
                },
            );
            while tasks.len() > MAX_UNREACHABLE_TASKS_PER_FRAMEWORK {
                let oldest = tasks
                    .iter()
                    .min_by(|a, b| a.1.since.total_cmp(&b.1.since))
                    .map(|(id, _)| id.clone());
                match oldest {
                    Some(id) => tasks.remove(&id),
                    None => break,
                };
            }
        }
    }

    /// The unreachable task `task_id` of `framework_id`, if remembered.
    pub fn unreachable_task(&self, framework_id: &str, task_id: &str) -> Option<&UnreachableTask> {
        self.unreachable_tasks.get(framework_id)?.get(task_id)
    }

    /// Forget an unreachable task (its agent reported it again, or its framework is gone).
    pub(crate) fn forget_unreachable_task(&mut self, framework_id: &str, task_id: &str) {
        if let Some(tasks) = self.unreachable_tasks.get_mut(framework_id) {
            tasks.remove(task_id);
            if tasks.is_empty() {
                self.unreachable_tasks.remove(framework_id);
            }
        }
    }
}
