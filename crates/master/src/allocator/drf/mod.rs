//! The hierarchical DRF allocator (Mesos's `HierarchicalDRFAllocator` semantics, our design).
//!
//! * **Hierarchical DRF**: at each level of the role tree the child with the lowest weighted
//!   dominant share (of what its subtree holds, over the cluster's totals, divided by its
//!   weight) goes first; a role's own frameworks compete with its sub-roles as one more child;
//!   inside a role, frameworks go by their dominant share there. Ties go by name.
//! * **Quota** (Mesos ≥ 1.9): guarantees are served first and their unsatisfied part is held
//!   back as headroom; limits are never exceeded; reservations count as consumption; a
//!   parent's quota covers its subtree (see [`quota`]).
//! * **Reservations** only reach their role's subtree; unreserved resources reach anyone.
//! * **Offer controls**: filters from `refuse_seconds`, SUPPRESS/REVIVE per role, minimum
//!   allocatable resources, GPU agents for GPU-aware frameworks only.
//! * **Performance**: shares, quota consumption and headroom are maintained incrementally in
//!   fixed-point vectors; the orderings are sorted sets re-keyed on each change; filters are
//!   bitsets per agent; a cycle with nothing new to do returns at once.
//!
//! Shared resources are handed out like any other (once at a time), which is stricter than
//! Mesos. An offer always carries at least one scalar resource.

mod agents;
mod bits;
mod bound;
mod cycle;
mod explain;
mod filters;
mod frameworks;
mod held;
mod keys;
mod order;
mod ordering;
mod qty;
mod quota;
mod shares;
mod tree;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use corral_resources::{ResourceQuantities, Resources, Scalar};

use super::{Allocation, Allocator, FrameworkSpec, Held, Quota, RoleSummary};
use crate::core::records::Time;
use agents::{Agent, AgentIdx};
use bits::BitSet;
use frameworks::{Framework, FwIdx, MinAlt, Slot};
use qty::{Names, Qty};
use tree::{OrdF64, RoleIdx, RoleTree, SlotIdx};

/// Configuration of the DRF allocator.
#[derive(Debug, Clone, PartialEq)]
pub struct DrfConfig {
    /// Alternatives of minimum quantities an offer must reach (one suffices) when the framework
    /// sets none for the role. Mesos's default: `cpus:0.01` or `mem:32`. Empty: no minimum.
    pub min_allocatable: Vec<ResourceQuantities>,
    /// Resource names left out of dominant shares (e.g. `gpus`, so that a GPU framework's share
    /// is not dominated by a scarce resource).
    pub fair_sharing_excluded: Vec<String>,
}

impl Default for DrfConfig {
    fn default() -> Self {
        let mut cpus = ResourceQuantities::new();
        cpus.add_quantity("cpus", Scalar::from_millis(10));
        let mut mem = ResourceQuantities::new();
        mem.add_quantity("mem", Scalar::from_units(32));
        DrfConfig {
            min_allocatable: vec![cpus, mem],
            fair_sharing_excluded: Vec::new(),
        }
    }
}

/// The hierarchical DRF allocator. See the module documentation.
#[derive(Debug)]
pub struct HierarchicalAllocator {
    config: DrfConfig,
    names: Names,
    default_min: Vec<MinAlt>,
    tree: RoleTree,
    frameworks: Vec<Option<Framework>>,
    fw_free: Vec<FwIdx>,
    fw_by_id: HashMap<Arc<str>, FwIdx>,
    slots: Vec<Option<Slot>>,
    slot_free: Vec<SlotIdx>,
    /// Live slots, and live slots of GPU-aware frameworks.
    live_bits: BitSet,
    gpu_bits: BitSet,
    agents: Vec<Option<Agent>>,
    agent_free: Vec<AgentIdx>,
    agent_by_id: HashMap<Arc<str>, AgentIdx>,
    agent_gen: u32,
    /// Agents with scalars available.
    avail_bits: BitSet,
    /// Earliest filter expiry per agent: (until, agent, agent generation).
    expiry: BinaryHeap<Reverse<(OrdF64, AgentIdx, u32)>>,
    /// Scalar totals of the cluster, and their inverses for shares.
    totals: Qty,
    inv_totals: Vec<f64>,
    /// Totals or weights changed: ordering keys are rebuilt before the next cycle.
    keys_stale: bool,
    /// A framework was added since ranks were assigned.
    new_fw_names: bool,
    /// Unreserved non-revocable scalars available on all agents (the quota headroom pool).
    free_unres: Qty,
    /// Something changed since the last cycle.
    dirty: bool,
    cycles: u64,
    /// Buffers reused from cycle to cycle.
    scratch: order::Scratch,
    order_buf: Vec<AgentIdx>,
    out_buf: Vec<Allocation>,
    agents_buf: Vec<AgentIdx>,
    blocks_buf: Vec<usize>,
}

impl Default for HierarchicalAllocator {
    fn default() -> Self {
        Self::new(DrfConfig::default())
    }
}

impl HierarchicalAllocator {
    /// An empty allocator.
    pub fn new(config: DrfConfig) -> Self {
        let mut names = Names::default();
        let default_min = config
            .min_allocatable
            .iter()
            .filter(|q| !q.is_empty())
            .map(|q| MinAlt::new(&mut names, q))
            .collect();
        HierarchicalAllocator {
            config,
            names,
            default_min,
            tree: RoleTree::default(),
            frameworks: Vec::new(),
            fw_free: Vec::new(),
            fw_by_id: HashMap::new(),
            slots: Vec::new(),
            slot_free: Vec::new(),
            live_bits: BitSet::default(),
            gpu_bits: BitSet::default(),
            agents: Vec::new(),
            agent_free: Vec::new(),
            agent_by_id: HashMap::new(),
            agent_gen: 0,
            avail_bits: BitSet::default(),
            expiry: BinaryHeap::new(),
            totals: Qty::default(),
            inv_totals: Vec::new(),
            keys_stale: false,
            new_fw_names: false,
            free_unres: Qty::default(),
            dirty: false,
            cycles: 0,
            scratch: order::Scratch::default(),
            order_buf: Vec::new(),
            out_buf: Vec::new(),
            agents_buf: Vec::new(),
            blocks_buf: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DrfConfig {
        &self.config
    }

    /// The earliest time a filter expires (when a cycle may have something new to do even if
    /// nothing else happens), if any.
    pub fn next_filter_expiry(&self) -> Option<Time> {
        self.next_expiry()
    }

    /// Applies `change` to the framework's roles selected by `roles` (all when empty).
    fn update_roles(
        &mut self,
        framework_id: &str,
        roles: &[String],
        change: impl Fn(&mut Self, FwIdx, usize),
    ) {
        let Some(&f) = self.fw_by_id.get(framework_id) else {
            return;
        };
        for pos in self.targeted_roles(f, roles) {
            change(self, f, pos);
        }
        self.refresh_framework(f);
    }
}

impl Allocator for HierarchicalAllocator {
    fn add_framework(&mut self, framework_id: &str, spec: &FrameworkSpec) {
        let f = self.ensure_framework(framework_id);
        if let Some(fw) = self.fw_mut(f) {
            fw.subscribed = true;
            fw.active = true;
        }
        self.apply_spec(f, spec);
        self.dirty = true;
    }

    fn update_framework(&mut self, framework_id: &str, spec: &FrameworkSpec) {
        let Some(&f) = self.fw_by_id.get(framework_id) else {
            return;
        };
        if self.fw(f).is_some_and(|fw| fw.subscribed) {
            self.apply_spec(f, spec);
            self.dirty = true;
        }
    }

    fn remove_framework(&mut self, framework_id: &str) {
        let Some(&f) = self.fw_by_id.get(framework_id) else {
            return;
        };
        if let Some(fw) = self.fw_mut(f) {
            fw.subscribed = false;
            fw.active = false;
            for fr in &mut fw.roles {
                fr.subscribed = false;
            }
        }
        self.refresh_framework(f);
        self.dirty = true;
    }

    fn deactivate_framework(&mut self, framework_id: &str) {
        let Some(&f) = self.fw_by_id.get(framework_id) else {
            return;
        };
        if let Some(fw) = self.fw_mut(f) {
            fw.active = false;
        }
        self.refresh_framework(f);
    }

    fn activate_framework(&mut self, framework_id: &str) {
        let Some(&f) = self.fw_by_id.get(framework_id) else {
            return;
        };
        if let Some(fw) = self.fw_mut(f) {
            fw.active = fw.subscribed;
        }
        self.refresh_framework(f);
        self.dirty = true;
    }

    fn add_agent(&mut self, agent_id: &str, total: &Resources, held: &[Held]) {
        self.add_agent_inner(agent_id, total, held);
    }

    fn update_agent_total(&mut self, agent_id: &str, total: &Resources) {
        self.update_total_inner(agent_id, total);
    }

    fn remove_agent(&mut self, agent_id: &str) {
        self.remove_agent_inner(agent_id);
    }

    fn convert_allocation(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        from: &Resources,
        to: &Resources,
    ) {
        self.convert_inner(framework_id, agent_id, role, from, to);
    }

    fn recover(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: Time,
    ) {
        let Some((a, refused, covers)) =
            self.recover_inner(framework_id, agent_id, role, resources)
        else {
            return;
        };
        let Some(until) = filters::refuse_until(refuse_seconds, now) else {
            return;
        };
        let slot = self.fw_by_id.get(framework_id).and_then(|f| {
            let r = self.tree.lookup(role)?;
            self.fw(*f)?
                .roles
                .iter()
                .find(|fr| fr.role == r)
                .and_then(|fr| fr.slot)
        });
        if let Some(s) = slot {
            self.add_filter(a, s, refused, until, covers);
        }
    }

    fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        self.update_roles(framework_id, roles, |me, f, pos| {
            if let Some(fr) = me.fw_mut(f).and_then(|fw| fw.roles.get_mut(pos)) {
                fr.suppressed = true;
            }
        });
    }

    fn revive(&mut self, framework_id: &str, roles: &[String]) {
        self.update_roles(framework_id, roles, |me, f, pos| {
            let Some(fr) = me.fw_mut(f).and_then(|fw| fw.roles.get_mut(pos)) else {
                return;
            };
            fr.suppressed = false;
            if let Some(s) = fr.slot {
                me.purge_slot_filters(s);
            }
        });
        self.dirty = true;
    }

    fn set_weights(&mut self, weights: &BTreeMap<String, f64>) {
        let previous: Vec<RoleIdx> = self
            .tree
            .indices()
            .filter(|r| self.tree.get(*r).weight_set)
            .collect();
        for r in &previous {
            let role = self.tree.get_mut(*r);
            role.weight = 1.0;
            role.weight_set = false;
        }
        for (name, w) in weights {
            if !(w.is_finite() && *w > 0.0) {
                tracing::warn!(role = %name, weight = w, "allocator: ignoring an invalid weight");
                continue;
            }
            let r = self.tree.ensure(name);
            let role = self.tree.get_mut(r);
            role.weight = *w;
            role.weight_set = true;
        }
        for r in previous {
            self.tree.maybe_gc(r);
        }
        self.keys_stale = true;
        self.dirty = true;
    }

    fn set_quota(&mut self, role: &str, quota: Option<Quota>) {
        self.set_quota_inner(role, quota);
        self.dirty = true;
    }

    fn allocate(&mut self, now: Time) -> Vec<Allocation> {
        self.allocate_inner(now)
    }

    fn why_not_offered(&self, framework_id: &str, now: Time) -> Vec<(String, String)> {
        self.why_not_inner(framework_id, now)
    }

    fn roles(&self) -> Vec<RoleSummary> {
        self.roles_inner()
    }
}
