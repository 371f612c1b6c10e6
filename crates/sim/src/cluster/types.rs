//! What a simulated cluster reports and keeps: agents, frameworks, statistics, workloads.

use super::*;

/// A simulated agent as the cluster knows it.
#[derive(Debug, Clone)]
pub struct SimAgent {
    /// The id the master assigned.
    pub id: String,
    pub(super) stream_id: String,
}

/// A simulated scheduler.
#[derive(Debug, Clone)]
pub struct SimFramework {
    /// The id the master assigned.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<String>,
    pub(super) stream_id: String,
    pub(super) offers: Vec<v1::Offer>,
}

/// What happened in the cluster so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Offers received by schedulers.
    pub offers_received: u64,
    /// Offers rescinded by the master.
    pub offers_rescinded: u64,
    /// RUN_TASK messages received by agents (one per task).
    pub tasks_started: u64,
    /// Status updates sent by agents.
    pub updates_sent: u64,
    /// Status updates received by schedulers (agent and master ones).
    pub updates_received: u64,
    /// Acknowledgements sent by schedulers.
    pub acks_sent: u64,
    /// Tasks that reached TASK_FINISHED on their agent.
    pub tasks_finished: u64,
    /// Master-generated terminal updates (invalid launches, lost tasks, …).
    pub master_terminal_updates: u64,
}

/// What [`SimCluster::populate`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PopulateReport {
    /// Allocation rounds used.
    pub rounds: usize,
    /// Tasks launched that keep running.
    pub running: usize,
    /// Tasks launched that finish (and end up in the completed lists).
    pub completed: usize,
    /// Whether every agent got its share of the workload.
    pub complete: bool,
}

/// Tasks to put on every agent with [`SimCluster::populate`] (Mesos's `MasterStateQuery` and
/// failover benchmarks: small tasks with 10 labels).
#[derive(Debug, Clone)]
pub struct Workload {
    /// Tasks per agent that stay running.
    pub running_per_agent: usize,
    /// Tasks per agent that finish (and are acknowledged).
    pub completed_per_agent: usize,
    /// Each task's resources, e.g. `cpus:0.1;mem:5`.
    pub task_resources: String,
    /// Labels per task.
    pub labels_per_task: usize,
    /// Give up after this many allocation rounds.
    pub max_rounds: usize,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            running_per_agent: 10,
            completed_per_agent: 10,
            task_resources: "cpus:0.1;mem:5".to_string(),
            labels_per_task: 10,
            max_rounds: 100,
        }
    }
}

/// A status update an agent still has to send.
#[derive(Debug)]
pub(super) struct PendingUpdate {
    pub(super) agent: usize,
    pub(super) framework_id: String,
    pub(super) task_id: v1::TaskId,
    pub(super) state: TaskState,
}

/// An acknowledgement a scheduler still has to send.
#[derive(Debug)]
pub(super) struct PendingAck {
    pub(super) framework: usize,
    pub(super) agent_id: v1::AgentId,
    pub(super) task_id: v1::TaskId,
    pub(super) uuid: Vec<u8>,
}
