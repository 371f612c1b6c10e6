//! The allocator seam: the master core tells the allocator what exists and what was handed back;
//! the allocator decides who is offered what. The hierarchical DRF allocator replaces
//! [`first::FirstFitAllocator`] behind this trait without touching the core.
//!
//! Contract (checked by the tests of every implementation):
//! * an agent's resources are handed out at most once: `allocated ≤ total` always;
//! * resources reserved for a role only go to frameworks in that role (or a descendant);
//! * a framework filtered on an agent (declined with `refuse_seconds`) is not offered the same
//!   resources there again before the filter expires, unless it REVIVEs;
//! * a suppressed role of a framework gets no offers until REVIVE.

pub mod drf;
pub mod first;

use std::collections::BTreeMap;

use corral_resources::{ResourceQuantities, Resources};

use crate::core::records::Time;

/// Resources handed to one framework, in one role, on one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// The framework.
    pub framework_id: String,
    /// The agent.
    pub agent_id: String,
    /// The role the resources are allocated to.
    pub role: String,
    /// What is offered, unallocated form.
    pub resources: Resources,
}

/// What the allocator needs to know about a framework.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameworkSpec {
    /// The roles it subscribed with.
    pub roles: Vec<String>,
    /// Roles it asked not to be offered for.
    pub suppressed_roles: Vec<String>,
    /// GPU_RESOURCES capability: only such frameworks are offered agents that have GPUs.
    pub gpu_aware: bool,
    /// Per role, alternatives of minimum quantities an offer must reach (one suffices), from
    /// `FrameworkInfo.offer_filters`; absent: the master's global minimum applies.
    pub min_allocatable: BTreeMap<String, Vec<ResourceQuantities>>,
}

/// A role's quota (Mesos ≥ 1.9): guaranteed quantities held as headroom, and limits never
/// exceeded (a name missing from `limits` is unlimited).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quota {
    /// Guaranteed quantities.
    pub guarantees: ResourceQuantities,
    /// Upper limits.
    pub limits: ResourceQuantities,
}

/// Resources already held on an agent when it is added (re-registration).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// Who holds them.
    pub framework_id: String,
    /// In which role.
    pub role: String,
    /// What, unallocated form.
    pub resources: Resources,
}

/// What the allocator says about a role, for `/roles`, GET_ROLES and metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleSummary {
    /// The role.
    pub name: String,
    /// Its weight (1 by default).
    pub weight: f64,
    /// Its quota, if set.
    pub quota: Option<Quota>,
    /// Quantities allocated to it (offered or used), including its sub-roles.
    pub allocated: ResourceQuantities,
    /// Frameworks subscribed to it.
    pub frameworks: Vec<String>,
}

/// What the master tells its allocator. All ids are strings; time is handed in.
pub trait Allocator: Send {
    /// A framework subscribed (or came back).
    fn add_framework(&mut self, framework_id: &str, spec: &FrameworkSpec);
    /// Its roles, suppression or filters changed (UPDATE_FRAMEWORK / re-subscribe).
    fn update_framework(&mut self, framework_id: &str, spec: &FrameworkSpec);
    /// The framework is gone; what it held is recovered separately.
    fn remove_framework(&mut self, framework_id: &str);
    /// No offers while disconnected.
    fn deactivate_framework(&mut self, framework_id: &str);
    /// Offers again.
    fn activate_framework(&mut self, framework_id: &str);
    /// An agent joined with `total`, of which `held` is already held by frameworks.
    fn add_agent(&mut self, agent_id: &str, total: &Resources, held: &[Held]);
    /// An agent's total changed shape (a reservation or volume was made or undone).
    fn update_agent_total(&mut self, agent_id: &str, total: &Resources);
    /// The agent is gone.
    fn remove_agent(&mut self, agent_id: &str);
    /// Resources a framework holds in `role` on an agent changed shape in place (RESERVE,
    /// UNRESERVE, CREATE or DESTROY applied inside an ACCEPT): the held `from` becomes `to`.
    /// The agent's total and the framework's allocation both change; the quantities are the
    /// same (a reservation or a volume changes identity, not amount). `from` is always held.
    fn convert_allocation(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        from: &Resources,
        to: &Resources,
    );
    /// Resources a framework held in `role` on an agent come back (declined, unused, task
    /// ended). With `refuse_seconds`, the framework is not offered them there again until then.
    fn recover(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: Time,
    );
    /// SUPPRESS for these roles (all of the framework's roles when empty).
    fn suppress(&mut self, framework_id: &str, roles: &[String]);
    /// REVIVE for these roles (all when empty): unsuppress and clear filters.
    fn revive(&mut self, framework_id: &str, roles: &[String]);
    /// Role weights (a role not listed has weight 1).
    fn set_weights(&mut self, weights: &BTreeMap<String, f64>);
    /// Set (Some) or remove (None) a role's quota.
    fn set_quota(&mut self, role: &str, quota: Option<Quota>);
    /// Decide what to offer now.
    fn allocate(&mut self, now: Time) -> Vec<Allocation>;
    /// Why a framework receives no offers, per role, for `/roles` and `/state`.
    fn why_not_offered(&self, framework_id: &str, now: Time) -> Vec<(String, String)>;
    /// Every role the allocator knows (with frameworks, weight, quota or allocations).
    fn roles(&self) -> Vec<RoleSummary>;
}
