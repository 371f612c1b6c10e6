//! Task reconciliation (RECONCILE), answered as Mesos's master answers it
//! (`Master::_reconcileTasks` in `src/master/master.cpp`).
//!
//! * **Implicit** (no tasks listed): the latest state of every task the master knows for the
//!   framework, including terminal tasks whose last update is not acknowledged yet.
//! * **Explicit**: for each listed task, its latest state if the master knows it; otherwise an
//!   answer that depends on where its agent stands ([`unknown_task_answer`]).
//!
//! Every answer is made by the master: SOURCE_MASTER, REASON_RECONCILIATION, no uuid (so it is
//! never acknowledged). Frameworks without PARTITION_AWARE get TASK_LOST instead of the
//! partition-aware states ([`super::status::downgrade_for`]).

use corral_api::v1::scheduler::call;
use corral_api::v1::{self, task_status::Reason, TaskState};

use super::records::{TaskRecord, Time};
use super::status::master_status;
use super::MasterCore;

/// Where the agent named in an explicit reconciliation stands, as far as the master knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStanding {
    /// Registered (connected or within its ping allowance).
    Registered,
    /// Known from the registry after a master failover, not re-registered yet.
    Recovered,
    /// Marked unreachable (missed its pings); it may come back.
    Unreachable,
    /// Marked gone by the operator.
    Gone,
    /// Never heard of (or garbage-collected).
    Unknown,
}

/// The answer for a task the master does not track, before adapting it to the framework's
/// capabilities. `agent` is the standing of the agent the scheduler named (or, if it named
/// none, of the agent the master remembers the task on; `None`: no agent at all);
/// `task_unreachable` says whether the master remembers the task from an agent that is still
/// unreachable. `None` means: send no answer (the agent may still re-register and report the
/// task). The order of the rows is Mesos's.
pub fn unknown_task_answer(
    agent: Option<AgentStanding>,
    task_unreachable: bool,
) -> Option<(TaskState, &'static str)> {
    use AgentStanding as A;
    match agent {
        Some(A::Registered) => Some((
            TaskState::TaskGone,
            "Reconciliation: Task is unknown to the agent",
        )),
        Some(A::Recovered) => None,
        _ if task_unreachable => Some((
            TaskState::TaskUnreachable,
            "Reconciliation: Task is unreachable",
        )),
        Some(A::Unreachable) => Some((
            TaskState::TaskUnreachable,
            "Reconciliation: Task is unreachable",
        )),
        Some(A::Gone) => Some((
            TaskState::TaskGoneByOperator,
            "Reconciliation: Task is gone",
        )),
        Some(A::Unknown) | None => {
            Some((TaskState::TaskUnknown, "Reconciliation: Task is unknown"))
        }
    }
}

impl MasterCore {
    /// Where agent `agent_id` stands.
    pub fn agent_standing(&self, agent_id: &str) -> AgentStanding {
        if self.agents.contains_key(agent_id) {
            AgentStanding::Registered
        } else if self.recovery.recovered.contains_key(agent_id) {
            AgentStanding::Recovered
        } else if self.unreachable_agents.contains_key(agent_id) {
            AgentStanding::Unreachable
        } else if self.recovery.gone.contains_key(agent_id) {
            AgentStanding::Gone
        } else {
            AgentStanding::Unknown
        }
    }

    /// Explicit (tasks listed) or implicit (no tasks: every task of the framework)
    /// reconciliation. Answers carry SOURCE_MASTER, REASON_RECONCILIATION and no uuid.
    pub(crate) fn reconcile(&mut self, framework_id: &str, reconcile: call::Reconcile, now: Time) {
        let mut answers = Vec::new();
        if reconcile.tasks.is_empty() {
            for ((f, _), record) in self
                .tasks
                .range((framework_id.to_string(), String::new())..)
            {
                if f != framework_id {
                    break;
                }
                answers.push(reconcile_known(record, now));
            }
        } else {
            for t in reconcile.tasks {
                let key = (framework_id.to_string(), t.task_id.value.clone());
                let answer = match self.tasks.get(&key) {
                    Some(record) => Some(reconcile_known(record, now)),
                    None => self.reconcile_unknown(framework_id, &t, now),
                };
                answers.extend(answer);
            }
        }
        for status in answers {
            self.send_master_update(framework_id, status);
        }
    }

    fn reconcile_unknown(
        &self,
        framework_id: &str,
        t: &call::reconcile::Task,
        now: Time,
    ) -> Option<v1::TaskStatus> {
        let named = t.agent_id.as_ref().map(|a| a.value.as_str());
        // A remembered unreachable task counts while its agent is still unreachable; if the
        // operator has since marked that agent gone, the task is gone with it.
        let remembered = self.unreachable_task(framework_id, &t.task_id.value);
        let unreachable =
            remembered.filter(|u| self.agent_standing(&u.agent_id) == AgentStanding::Unreachable);
        let standing = match (named, remembered) {
            (Some(a), _) => Some(self.agent_standing(a)),
            (None, Some(u)) => Some(self.agent_standing(&u.agent_id))
                .filter(|s| matches!(s, AgentStanding::Unreachable | AgentStanding::Gone)),
            (None, None) => None,
        };
        let (state, message) = unknown_task_answer(standing, unreachable.is_some())?;
        // An unreachable task is reported on the agent it ran on, as Mesos does.
        let agent = match (state, unreachable) {
            (TaskState::TaskUnreachable, Some(u)) => Some(u.agent_id.as_str()),
            _ => named,
        };
        let mut status = master_status(
            &t.task_id.value,
            state,
            Reason::Reconciliation,
            message,
            agent,
            now,
        );
        if state == TaskState::TaskUnreachable {
            let since = unreachable
                .map(|u| u.since)
                .or_else(|| named.and_then(|a| self.unreachable_agents.get(a).map(|u| u.since)));
            status.unreachable_time = since.map(|s| v1::TimeInfo {
                nanoseconds: (s * 1e9) as i64,
            });
        }
        Some(status)
    }
}

/// The latest state of a task the master tracks.
fn reconcile_known(record: &TaskRecord, now: Time) -> v1::TaskStatus {
    let mut status = master_status(
        &record.task.task_id.value,
        record.task.state(),
        Reason::Reconciliation,
        "Reconciliation: Latest task state",
        Some(&record.task.agent_id.value),
        now,
    );
    status.executor_id = record.task.executor_id.clone();
    if let Some(latest) = record.task.statuses.last() {
        status.healthy = latest.healthy;
        status.container_status = latest.container_status.clone();
    }
    status
}
