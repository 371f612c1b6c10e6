//! Task status: updates the master makes itself (no uuid, never acknowledged), updates relayed
//! from agents (uuid set, acknowledged by the scheduler), and the bookkeeping both imply.

use corral_api::v1::scheduler::{event, Event};
use corral_api::v1::{self, task_status, TaskState};

use super::records::{is_terminal, Time};
use super::MasterCore;

/// A status update created by the master (reconciliation, invalid launches, lost agents).
/// It carries no uuid: schedulers must not acknowledge it.
pub(crate) fn master_status(
    task_id: &str,
    state: TaskState,
    reason: task_status::Reason,
    message: impl Into<String>,
    agent_id: Option<&str>,
    now: Time,
) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: v1::TaskId {
            value: task_id.to_string(),
        },
        state: state as i32,
        message: Some(message.into()),
        source: Some(task_status::Source::Master as i32),
        reason: Some(reason as i32),
        agent_id: agent_id.map(|a| v1::AgentId {
            value: a.to_string(),
        }),
        timestamp: Some(now),
        ..Default::default()
    }
}

/// The UPDATE event carrying `status`.
pub(crate) fn update_event(status: v1::TaskStatus) -> Event {
    Event {
        r#type: Some(event::Type::Update as i32),
        update: Some(event::Update { status }),
        ..Default::default()
    }
}

/// The state a non-partition-aware framework sees instead of a partition-aware one.
pub(crate) fn downgrade_for(partition_aware: bool, state: TaskState) -> TaskState {
    use TaskState as S;
    if partition_aware {
        return state;
    }
    match state {
        S::TaskDropped
        | S::TaskUnreachable
        | S::TaskGone
        | S::TaskGoneByOperator
        | S::TaskUnknown => S::TaskLost,
        other => other,
    }
}

impl MasterCore {
    /// Send a master-generated update to a framework, adapting the state to its capabilities.
    pub(crate) fn send_master_update(&mut self, framework_id: &str, mut status: v1::TaskStatus) {
        let partition_aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.partition_aware());
        let state = downgrade_for(partition_aware, status.state());
        status.state = state as i32;
        self.send_event(framework_id, update_event(status));
    }

    /// Record a new latest status on a tracked task and release its resources the first time it
    /// turns terminal. Returns whether the task became terminal now.
    pub(crate) fn record_status(
        &mut self,
        framework_id: &str,
        task_id: &str,
        status: &v1::TaskStatus,
        now: Time,
    ) -> bool {
        let key = (framework_id.to_string(), task_id.to_string());
        if !self.tasks.contains_key(&key) {
            return false;
        }
        // Kept whole (with its data) until acknowledged, for a re-subscribing scheduler.
        self.note_forwarded_update(framework_id, status);
        let Some(record) = self.tasks.get_mut(&key) else {
            return false;
        };
        let state = status.state();
        record.task.state = state as i32;
        record.task.status_update_state = Some(state as i32);
        record.task.status_update_uuid = status.uuid.clone();
        let mut kept = status.clone();
        // `/state` shows statuses without their payloads; the data may be large.
        kept.data = None;
        record.task.statuses.push(kept);
        if record.terminal || !is_terminal(state) {
            return false;
        }
        record.terminal = true;
        let agent_id = record.task.agent_id.value.clone();
        let resources = record.resources.clone();
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            let _ = agent.used.subtract(&resources);
        }
        let role = record.role.clone();
        self.allocator
            .recover(framework_id, &agent_id, &role, &resources, None, now);
        self.allocation_pending = true;
        *self
            .counters
            .tasks_terminal
            .entry(state.as_str_name().to_string())
            .or_default() += 1;
        true
    }

    /// Move a terminal task to its framework's completed tasks.
    pub(crate) fn complete_task(&mut self, framework_id: &str, task_id: &str) {
        let key = (framework_id.to_string(), task_id.to_string());
        self.unacked_updates.remove(&key);
        let Some(record) = self.tasks.remove(&key) else {
            return;
        };
        let agent_id = record.task.agent_id.value.clone();
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            agent.tasks.remove(&key);
        }
        let max = self.config.max_completed_tasks_per_framework;
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.tasks.remove(task_id);
            f.completed_tasks.push_back(record.task);
            while f.completed_tasks.len() > max {
                f.completed_tasks.pop_front();
            }
        }
    }

    /// Track a newly launched task in TASK_STAGING.
    pub(crate) fn add_task(&mut self, record: super::records::TaskRecord) {
        let framework_id = record.task.framework_id.value.clone();
        let task_id = record.task.task_id.value.clone();
        let agent_id = record.task.agent_id.value.clone();
        let key = (framework_id.clone(), task_id.clone());
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            agent.used.add_all(&record.resources);
            agent.tasks.insert(key.clone());
        }
        self.forget_unreachable_task(&framework_id, &task_id);
        if let Some(f) = self.frameworks.get_mut(&framework_id) {
            f.tasks.insert(task_id);
        }
        self.tasks.insert(key, Box::new(record));
    }
}
