//! What the master remembers about frameworks, agents, tasks and offers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use corral_api::v1::{self, framework_info::capability::Type as FwCap};
use corral_resources::Resources;

/// Seconds since the Unix epoch; the core never reads a clock, it is handed `now`.
pub type Time = f64;

/// Whether a framework currently holds a subscription stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// Subscribed on the stream with this id.
    Connected { stream_id: String },
    /// Lost its stream at `since`; removed at `failover_deadline` unless it re-subscribes.
    Disconnected {
        since: Time,
        failover_deadline: Time,
    },
}

/// A framework known to the master (active or disconnected, not yet removed).
#[derive(Debug, Clone)]
pub struct Framework {
    /// The id as a string (also `info.id`).
    pub id: String,
    /// The latest FrameworkInfo, `id` set.
    pub info: v1::FrameworkInfo,
    /// Stream state.
    pub connection: Connection,
    /// Roles the framework's offers are allocated to.
    pub roles: Vec<String>,
    /// Roles for which the framework asked for no offers.
    pub suppressed_roles: BTreeSet<String>,
    /// First subscription.
    pub registered_time: Time,
    /// Latest re-subscription.
    pub reregistered_time: Option<Time>,
    /// Latest disconnection.
    pub unregistered_time: Option<Time>,
    /// Ids of its non-completed tasks.
    pub tasks: BTreeSet<String>,
    /// Terminal, acknowledged tasks (bounded).
    pub completed_tasks: VecDeque<v1::Task>,
    /// Its outstanding offers.
    pub offers: BTreeSet<String>,
    /// Executors it runs, by agent id then executor id.
    pub executors: BTreeMap<String, BTreeMap<String, v1::ExecutorInfo>>,
    /// Set when the framework came back through an agent's re-registration, not a SUBSCRIBE.
    pub recovered: bool,
}

impl Framework {
    /// Whether the framework declared `cap`.
    pub fn has_capability(&self, cap: FwCap) -> bool {
        self.info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(cap as i32))
    }

    /// Whether the framework holds a stream.
    pub fn connected(&self) -> bool {
        matches!(self.connection, Connection::Connected { .. })
    }

    /// Whether the framework understands partition-aware task states.
    pub fn partition_aware(&self) -> bool {
        self.has_capability(FwCap::PartitionAware)
    }
}

/// The roles a FrameworkInfo asks for: `roles` with MULTI_ROLE, otherwise the legacy `role`.
pub fn framework_roles(info: &v1::FrameworkInfo) -> Vec<String> {
    let multi = info
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(FwCap::MultiRole as i32));
    if multi {
        info.roles.clone()
    } else {
        vec![info.role().to_string()]
    }
}

/// What the allocator needs to know about a framework, from its FrameworkInfo.
pub fn framework_spec(
    info: &v1::FrameworkInfo,
    suppressed: &[String],
) -> crate::allocator::FrameworkSpec {
    let mut min_allocatable = std::collections::BTreeMap::new();
    for (role, filters) in &info.offer_filters {
        let Some(min) = &filters.min_allocatable_resources else {
            continue;
        };
        let alternatives = min
            .quantities
            .iter()
            .map(|q| {
                let mut out = corral_resources::ResourceQuantities::new();
                for (name, scalar) in &q.quantities {
                    if let Ok(s) = corral_resources::Scalar::try_from_f64(scalar.value) {
                        out.add_quantity(name, s);
                    }
                }
                out
            })
            .collect();
        min_allocatable.insert(role.clone(), alternatives);
    }
    crate::allocator::FrameworkSpec {
        roles: framework_roles(info),
        suppressed_roles: suppressed.to_vec(),
        gpu_aware: info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(FwCap::GpuResources as i32)),
        min_allocatable,
    }
}

/// A registered agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The id as a string (also `info.id`).
    pub id: String,
    /// Its AgentInfo, `id` set.
    pub info: v1::AgentInfo,
    /// `slave(1)@ip:port`, what legacy tools read.
    pub pid: String,
    /// The agent's Corral version.
    pub version: String,
    /// Total resources.
    pub total: Resources,
    /// Resources used by tasks and executors.
    pub used: Resources,
    /// Resources in outstanding offers.
    pub offered: Resources,
    /// The current session's stream id, while connected.
    pub stream_id: Option<String>,
    /// Pings sent since the last pong.
    pub missed_pings: u32,
    /// Sequence of the latest ping.
    pub ping_seq: u64,
    /// First registration.
    pub registered_time: Time,
    /// Latest re-registration.
    pub reregistered_time: Option<Time>,
    /// `(framework id, task id)` of tasks on this agent.
    pub tasks: BTreeSet<(String, String)>,
    /// `(framework id, executor id)` of executors on this agent.
    pub executors: BTreeSet<(String, String)>,
}

/// An agent that missed its pings: kept so that reconciliation can answer for it and so that
/// it can come back.
#[derive(Debug, Clone)]
pub struct UnreachableAgent {
    /// Its AgentInfo.
    pub info: v1::AgentInfo,
    /// When it was marked unreachable.
    pub since: Time,
}

/// A task the master tracks (Mesos's `Task` message, plus bookkeeping).
#[derive(Debug, Clone)]
pub struct TaskRecord {
    /// The task as `/state` and GET_TASKS show it.
    pub task: v1::Task,
    /// The resources it holds on its agent (task plus, for the first task, nothing else:
    /// executor resources are tracked with the executor).
    pub resources: Resources,
    /// The role its resources were allocated to.
    pub role: String,
    /// Whether the latest state is terminal (resources released).
    pub terminal: bool,
}

/// An outstanding offer.
#[derive(Debug, Clone)]
pub struct OfferRecord {
    /// The offer as sent.
    pub offer: v1::Offer,
    /// Its resources.
    pub resources: Resources,
    /// The agent.
    pub agent_id: String,
    /// The framework.
    pub framework_id: String,
    /// The role the resources are allocated to.
    pub role: String,
    /// When it was made.
    pub created: Time,
}

/// Whether a task state is terminal for resource accounting.
pub fn is_terminal(state: v1::TaskState) -> bool {
    use v1::TaskState as S;
    matches!(
        state,
        S::TaskFinished
            | S::TaskFailed
            | S::TaskKilled
            | S::TaskError
            | S::TaskLost
            | S::TaskDropped
            | S::TaskGone
            | S::TaskGoneByOperator
    )
}
