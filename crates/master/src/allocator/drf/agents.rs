//! Agents: totals, availability and what frameworks hold on them.
//!
//! `available` is kept directly (an allocation takes from it, a recovery gives back), and
//! `total ⊇ available` holds by construction: every path that grows `available` checks it
//! against `total` first and clamps to the intersection if the caller got it wrong. What is
//! held is kept as quantities per (framework, role), which is what shares and quota need and
//! what an agent's removal takes back.

use std::borrow::Cow;
use std::sync::Arc;

use corral_resources::Resources;

use super::filters::AgentFilters;
use super::frameworks::FwIdx;
use super::qty::Qty;
use super::tree::RoleIdx;
use super::{Held, HierarchicalAllocator};

/// Index of an agent record.
pub(super) type AgentIdx = usize;

/// Quantities held by one framework in one role on an agent.
#[derive(Debug)]
pub(super) struct HeldEntry {
    pub fw: FwIdx,
    pub role: RoleIdx,
    pub all: Qty,
    pub unres: Qty,
}

/// One agent. Fields are laid out hot first (what an allocation pass touches), `repr(C)` so
/// they stay that way: at 50k agents, cache lines per agent visit are the cost.
#[derive(Debug)]
#[repr(C)]
pub(super) struct Agent {
    pub available: Resources,
    pub avail_all: Qty,
    pub avail_unres: Qty,
    /// Bumped whenever `available` changes (filter coverage is cached per epoch).
    pub epoch: u64,
    /// The agent has GPUs: only GPU-aware frameworks are offered its resources.
    pub has_gpus: bool,
    /// `available` holds reserved resources.
    pub has_reserved: bool,
    pub held: Vec<HeldEntry>,
    pub id: Arc<str>,
    pub filters: AgentFilters,
    pub total: Resources,
    pub total_all: Qty,
    /// Reserved scalar quantities of `total`, by role.
    pub reservations: Vec<(RoleIdx, Qty)>,
    pub gen: u32,
}

/// `resources` without allocation roles.
pub(super) fn plain(resources: &Resources) -> Cow<'_, Resources> {
    if resources.iter().any(|r| r.allocation_role.is_some()) {
        let mut r = resources.clone();
        r.unallocate();
        Cow::Owned(r)
    } else {
        Cow::Borrowed(resources)
    }
}

/// Total size of the ranges and sets in `r`.
pub(super) fn nonscalar_size(r: &Resources) -> i64 {
    r.iter()
        .filter(|x| x.as_scalar().is_none())
        .map(|x| x.value.quantity().millis())
        .sum()
}

/// `a ∩ b`.
fn intersection(a: &Resources, b: &Resources) -> Resources {
    a.saturating_sub(&a.saturating_sub(b))
}

impl HierarchicalAllocator {
    pub(super) fn agent(&self, a: AgentIdx) -> Option<&Agent> {
        self.agents.get(a).and_then(Option::as_ref)
    }

    pub(super) fn agent_mut(&mut self, a: AgentIdx) -> Option<&mut Agent> {
        self.agents.get_mut(a).and_then(Option::as_mut)
    }

    pub(super) fn add_agent_inner(&mut self, id: &str, total: &Resources, held: &[Held]) {
        if self.agent_by_id.contains_key(id) {
            self.remove_agent_inner(id);
        }
        let total = plain(total).into_owned();
        self.names.register(&total);
        let mut available = total.clone();
        let mut holdings = Vec::new();
        for h in held {
            let res = plain(&h.resources);
            if res.is_empty() {
                continue;
            }
            self.names.register(&res);
            if available.subtract(&res).is_err() {
                tracing::error!(
                    agent_id = id,
                    "allocator: held resources exceed the agent's total"
                );
                available = available.saturating_sub(&res);
            }
            let (all, unres) = self.names.split(&res);
            let f = self.ensure_framework(&h.framework_id);
            let r = self.tree.ensure(&h.role);
            holdings.push((f, r, all, unres));
        }
        self.agent_gen = self.agent_gen.wrapping_add(1);
        let (total_all, _) = self.names.split(&total);
        let (avail_all, avail_unres) = self.names.split(&available);
        let has_reserved = available.iter().any(|r| r.is_reserved());
        let agent = Agent {
            id: Arc::from(id),
            gen: self.agent_gen,
            has_gpus: self.has_gpus(&total_all),
            has_reserved,
            total,
            available,
            total_all,
            avail_all,
            avail_unres,
            reservations: Vec::new(),
            held: Vec::new(),
            filters: AgentFilters::default(),
            epoch: 0,
        };
        let a = match self.agent_free.pop() {
            Some(a) => a,
            None => {
                self.agents.push(None);
                self.agents.len() - 1
            }
        };
        self.free_unres.add(&agent.avail_unres);
        let old_totals = self.totals.clone();
        self.totals.add(&agent.total_all);
        if !agent.avail_all.is_zero() {
            self.avail_bits.insert(a);
        }
        self.agents[a] = Some(agent);
        self.agent_by_id.insert(Arc::from(id), a);
        for (f, r, all, unres) in holdings {
            self.hold(a, f, r, &all, &unres);
        }
        self.track_reservations(a, true);
        self.on_totals_changed(&old_totals);
        self.dirty = true;
    }

    pub(super) fn remove_agent_inner(&mut self, id: &str) {
        let Some(a) = self.agent_by_id.remove(id) else {
            return;
        };
        self.track_reservations(a, false);
        let Some(agent) = self.agents.get_mut(a).and_then(Option::take) else {
            return;
        };
        self.agent_free.push(a);
        self.avail_bits.remove(a);
        for h in &agent.held {
            self.charge(h.fw, h.role, &h.all, &h.unres, false);
            self.drop_held_ref(h.fw, h.role);
        }
        self.forget_agent_filters(&agent.filters);
        let old_totals = self.totals.clone();
        self.totals.sub(&agent.total_all);
        self.free_unres.sub(&agent.avail_unres);
        self.on_totals_changed(&old_totals);
        self.dirty = true;
    }

    pub(super) fn update_total_inner(&mut self, id: &str, total: &Resources) {
        let Some(&a) = self.agent_by_id.get(id) else {
            return;
        };
        let total = plain(total).into_owned();
        self.names.register(&total);
        self.track_reservations(a, false);
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let allocated = agent
            .total
            .checked_sub(&agent.available)
            .unwrap_or_else(|_| agent.total.saturating_sub(&agent.available));
        let available = match total.checked_sub(&allocated) {
            Ok(available) => available,
            Err(_) => {
                tracing::error!(
                    agent_id = id,
                    "allocator: new total does not cover what is held"
                );
                total.saturating_sub(&allocated)
            }
        };
        let old_total_all = std::mem::take(&mut agent.total_all);
        let old_unres = std::mem::take(&mut agent.avail_unres);
        agent.total = total;
        agent.available = available;
        self.refresh_agent_quantities(a);
        let old_totals = self.totals.clone();
        self.totals.sub(&old_total_all);
        self.free_unres.sub(&old_unres);
        if let Some(agent) = self.agent(a) {
            let (t, u) = (agent.total_all.clone(), agent.avail_unres.clone());
            self.totals.add(&t);
            self.free_unres.add(&u);
        }
        self.track_reservations(a, true);
        self.on_totals_changed(&old_totals);
        self.dirty = true;
    }

    /// RESERVE/UNRESERVE/CREATE/DESTROY on held resources: `from` (held) becomes `to`.
    pub(super) fn convert_inner(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        from: &Resources,
        to: &Resources,
    ) {
        let Some(&a) = self.agent_by_id.get(agent_id) else {
            return;
        };
        let (from, to) = (plain(from).into_owned(), plain(to).into_owned());
        self.names.register(&to);
        let Some(agent) = self.agent(a) else { return };
        let held = agent.total.saturating_sub(&agent.available);
        if !held.contains(&from) {
            tracing::error!(
                agent_id,
                framework_id,
                "allocator: converting resources that are not held"
            );
            return;
        }
        self.track_reservations(a, false);
        if let Some(agent) = self.agent_mut(a) {
            agent.total = agent.total.saturating_sub(&from);
            agent.total.add_all(&to);
        }
        let old_totals = self.totals.clone();
        let old_total_all = self
            .agent(a)
            .map(|x| x.total_all.clone())
            .unwrap_or_default();
        self.refresh_agent_quantities(a);
        self.totals.sub(&old_total_all);
        let new_total_all = self
            .agent(a)
            .map(|x| x.total_all.clone())
            .unwrap_or_default();
        self.totals.add(&new_total_all);
        self.track_reservations(a, true);
        let f = self.ensure_framework(framework_id);
        let r = self.tree.ensure(role);
        let (from_all, from_unres) = self.names.split(&from);
        let (to_all, to_unres) = self.names.split(&to);
        self.hold(a, f, r, &to_all, &to_unres);
        self.release(a, f, r, &from_all, &from_unres);
        self.on_totals_changed(&old_totals);
        self.dirty = true;
    }

    /// Resources held by `framework_id` in `role` come back to the agent.
    pub(super) fn recover_inner(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        resources: &Resources,
    ) -> Option<(AgentIdx, Resources, bool)> {
        let res = plain(resources).into_owned();
        if res.is_empty() {
            return None;
        }
        let a = *self.agent_by_id.get(agent_id)?;
        let agent = self.agent_mut(a)?;
        agent.available.add_all(&res);
        let clean = agent.total.contains(&agent.available);
        if !clean {
            tracing::error!(
                agent_id,
                framework_id,
                "allocator: recovering resources that were not held"
            );
            agent.available = intersection(&agent.total, &agent.available);
        }
        let old_unres = std::mem::take(&mut agent.avail_unres);
        self.free_unres.sub(&old_unres);
        self.refresh_agent_quantities(a);
        if let Some(u) = self.agent(a).map(|x| x.avail_unres.clone()) {
            self.free_unres.add(&u);
        }
        let (all, unres) = self.names.split(&res);
        // `res ⊆ available`; equal sizes mean equal sets.
        let covers = clean
            && self.agent(a).is_some_and(|x| {
                all == x.avail_all && nonscalar_size(&res) == nonscalar_size(&x.available)
            });
        let f = self.fw_by_id.get(framework_id).copied();
        let r = self.tree.lookup(role);
        if let (Some(f), Some(r)) = (f, r) {
            self.release(a, f, r, &all, &unres);
        }
        self.dirty = true;
        Some((a, res, covers))
    }

    /// Recomputes an agent's cached quantities and flags from its resources.
    pub(super) fn refresh_agent_quantities(&mut self, a: AgentIdx) {
        let Some(agent) = self.agents.get(a).and_then(Option::as_ref) else {
            return;
        };
        let (total_all, _) = self.names.split(&agent.total);
        let (avail_all, avail_unres) = self.names.split(&agent.available);
        let has_gpus = self.has_gpus(&total_all);
        if avail_all.is_zero() {
            self.avail_bits.remove(a);
        } else {
            self.avail_bits.insert(a);
        }
        if let Some(agent) = self.agent_mut(a) {
            agent.has_reserved = agent.available.iter().any(|r| r.is_reserved());
            agent.total_all = total_all;
            agent.avail_all = avail_all;
            agent.avail_unres = avail_unres;
            agent.has_gpus = has_gpus;
            agent.epoch += 1;
        }
    }

    fn has_gpus(&self, total_all: &Qty) -> bool {
        self.names
            .id("gpus")
            .is_some_and(|id| total_all.get(id) > 0)
    }
}
