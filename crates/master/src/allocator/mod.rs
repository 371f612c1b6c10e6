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

pub mod first;

use corral_resources::Resources;

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

/// What the master tells its allocator. All ids are strings; time is handed in.
pub trait Allocator: Send {
    /// A framework subscribed (or came back) with these roles.
    fn add_framework(&mut self, framework_id: &str, roles: &[String], suppressed: &[String]);
    /// Its roles changed (UPDATE_FRAMEWORK / re-subscribe).
    fn update_framework(&mut self, framework_id: &str, roles: &[String], suppressed: &[String]);
    /// The framework is gone; what it held is recovered separately.
    fn remove_framework(&mut self, framework_id: &str);
    /// No offers while disconnected.
    fn deactivate_framework(&mut self, framework_id: &str);
    /// Offers again.
    fn activate_framework(&mut self, framework_id: &str);
    /// An agent joined with `total`, of which `used` is already held by frameworks.
    fn add_agent(&mut self, agent_id: &str, total: &Resources, used: &[(String, Resources)]);
    /// The agent is gone.
    fn remove_agent(&mut self, agent_id: &str);
    /// Resources a framework held on an agent come back (declined, unused, task ended).
    /// With `refuse_seconds`, the framework is not offered them there again until then.
    fn recover(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: Time,
    );
    /// SUPPRESS for these roles (all of the framework's roles when empty).
    fn suppress(&mut self, framework_id: &str, roles: &[String]);
    /// REVIVE for these roles (all when empty): unsuppress and clear filters.
    fn revive(&mut self, framework_id: &str, roles: &[String]);
    /// Decide what to offer now.
    fn allocate(&mut self, now: Time) -> Vec<Allocation>;
    /// Why a framework receives no offers, per role, for `/roles` and `/state`.
    fn why_not_offered(&self, framework_id: &str, now: Time) -> Vec<(String, String)>;
}
