//! Simulated clusters for Corral: in-process, no HTTP, no processes, deterministic.
//!
//! Two harnesses, for two kinds of question:
//!
//! * [`SimCluster`] (`cluster`): a real [`MasterCore`](corral_master::core::MasterCore)
//!   driven through its public API by N simulated agents and M simulated schedulers. Agents
//!   register with `agent_subscribe` ([`AgentEnvelope`](corral_api::internal::AgentEnvelope)s),
//!   schedulers SUBSCRIBE, launch with ACCEPT on the offers they received, and acknowledge
//!   updates; agents answer RUN_TASK with TASK_RUNNING and, for tasks whose command is
//!   [`FINISH_COMMAND`], TASK_FINISHED once the first update is acknowledged. After every input
//!   the cluster settles (drains effects and lets everyone react). Build one with
//!   [`SimCluster::builder`]; fill it with [`SimCluster::populate`] and a [`Workload`]. Use it
//!   for master-level questions: `/state` size and time, memory per agent and task, launch
//!   paths, invariants over the whole core.
//! * [`AllocHarness`] (`harness`): any [`Allocator`](corral_master::allocator::Allocator)
//!   driven directly, as Mesos's allocator benchmarks do, with the harness's own bookkeeping of
//!   what is handed out. [`shapes`] sets up Mesos's shapes on it: `DeclineOffers`
//!   ([`shapes::decline_offers`], [`shapes::decline_round`]), `LargeAndSmallQuota`
//!   ([`shapes::large_and_small_quota`]) and an idle cluster ([`shapes::idle`]).
//!
//! Around them:
//!
//! * [`check`]: invariant checkers over a core's public views (no overcommit; offers held by
//!   schedulers match the master's), usable from tests of any crate.
//! * [`floor`]: physical floors measured on the running machine (a plain-array DRF loop, a
//!   memcpy, the RSS), printed by `corral bench` next to each figure.
//! * [`SimRng`]: the seeded generator every random choice goes through.
//!
//! ```text
//!  SimCluster ──subscribe / ACCEPT / ACK──▶ MasterCore ──effects──▶ SimCluster::settle
//!      ▲  agent_subscribe / STATUS_UPDATE        │ allocator            (offers kept, RUN_TASK →
//!      └─────────────────────────────────────────┘                       TASK_RUNNING, acks)
//!  AllocHarness ──add_agent / allocate / recover──▶ Box<dyn Allocator>
//! ```

pub mod check;
pub mod cluster;
pub mod floor;
pub mod harness;
pub mod rng;
pub mod shapes;

#[cfg(test)]
mod tests;

use corral_master::core::CoreError;
use thiserror::Error;

pub use cluster::{
    PopulateReport, SimAgent, SimCluster, SimClusterBuilder, SimFramework, SimStats, Workload,
    FINISH_COMMAND, REFUSE_FOREVER, RUN_COMMAND, SIM_START,
};
pub use harness::AllocHarness;
pub use rng::SimRng;

/// Why a simulation step failed.
#[derive(Debug, Error)]
pub enum SimError {
    /// A resources text does not parse.
    #[error("invalid resources {text:?}: {reason}")]
    Resources {
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
    /// An attributes text does not parse.
    #[error("invalid attributes {text:?}: {reason}")]
    Attributes {
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
    /// The master refused an agent's SUBSCRIBE.
    #[error("agent {index} could not subscribe: {source}")]
    AgentSubscribe {
        /// The agent's index.
        index: usize,
        /// The master's answer.
        #[source]
        source: CoreError,
    },
    /// The master refused a framework's SUBSCRIBE.
    #[error("framework {name} could not subscribe: {reason}")]
    FrameworkSubscribe {
        /// The framework's name.
        name: String,
        /// The master's answer.
        reason: String,
    },
    /// The master refused a scheduler or agent call.
    #[error("{what} refused: {source}")]
    Call {
        /// Which call.
        what: &'static str,
        /// The master's answer.
        #[source]
        source: CoreError,
    },
    /// No framework with this index.
    #[error("no framework with index {0}")]
    NoSuchFramework(usize),
    /// No allocator by this name (or not built yet).
    #[error("{0}")]
    Allocator(String),
}

/// Allocators benchmarks can name.
pub const ALLOCATORS: &[&str] = &["first", "drf"];

/// A fresh allocator by name: `first`
/// ([`FirstFitAllocator`](corral_master::allocator::first::FirstFitAllocator)) or `drf`
/// ([`HierarchicalAllocator`](corral_master::allocator::drf::HierarchicalAllocator) with
/// its default configuration).
pub fn allocator_by_name(
    name: &str,
) -> Result<Box<dyn corral_master::allocator::Allocator>, SimError> {
    use corral_master::allocator::{drf, first};
    match name {
        "first" => Ok(Box::new(first::FirstFitAllocator::new())),
        "drf" => Ok(Box::new(drf::HierarchicalAllocator::new(
            drf::DrfConfig::default(),
        ))),
        other => Err(SimError::Allocator(format!(
            "unknown allocator {other:?}; known: {}",
            ALLOCATORS.join(", ")
        ))),
    }
}
