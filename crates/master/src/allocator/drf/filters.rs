//! Offer filters: a framework that declined resources on an agent in a role (with
//! `refuse_seconds`) is not offered a subset of them there, in that role, until the filter
//! expires or the framework revives.
//!
//! Filters are indexed by agent. The refused resources are interned per agent in *pools*
//! (declines of the same offer by many frameworks share one pool), each with a bitset of the
//! slots filtered by it. A pool whose refused resources cover everything the agent has
//! available filters any offer there, so the allocation walk skips its slots with one bitset
//! operation per agent instead of one resource comparison per framework; other pools are
//! checked exactly against the concrete offer. Expiry goes through one heap entry per agent
//! (its earliest expiry), so a million filters cost nothing until one of them expires.

use std::cmp::Reverse;

use corral_resources::Resources;

use super::agents::{nonscalar_size, AgentIdx};
use super::bits::BitSet;
use super::qty::Qty;
use super::tree::{OrdF64, SlotIdx};
use super::HierarchicalAllocator;

/// Longest filter honoured (365 days, as Mesos).
pub(super) const MAX_REFUSE_SECONDS: f64 = 31_536_000.0;
/// Filter used when `refuse_seconds` is not a number (Mesos's default).
pub(super) const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

/// Refused resources shared by several filters on one agent.
#[derive(Debug)]
pub(super) struct Pool {
    pub refused: Resources,
    /// Scalar quantities and total size of the other resources of `refused`: two sets of equal
    /// sizes are equal when one contains the other.
    size: (Qty, i64),
    pub bits: BitSet,
    refs: u32,
    covers_epoch: u64,
    /// `refused ⊇ available` at `covers_epoch`.
    pub covers: bool,
}

/// One filter.
#[derive(Debug, Clone)]
pub(super) struct FilterEntry {
    pub slot: SlotIdx,
    pub pool: usize,
    pub until: f64,
}

/// The filters on one agent (hot fields first, see [`super::agents::Agent`]).
#[derive(Debug)]
#[repr(C)]
pub(super) struct AgentFilters {
    pub pools: Vec<Option<Pool>>,
    single: Option<usize>,
    blocked_epoch: u64,
    changed: bool,
    /// Union of the covering pools' slots (or the one covering pool, `single`), valid at
    /// `blocked_epoch` unless `changed`.
    blocked: BitSet,
    pub entries: Vec<FilterEntry>,
    pub min_until: f64,
}

impl Default for AgentFilters {
    fn default() -> Self {
        AgentFilters {
            pools: Vec::new(),
            entries: Vec::new(),
            min_until: f64::INFINITY,
            blocked: BitSet::default(),
            single: None,
            blocked_epoch: u64::MAX,
            changed: true,
        }
    }
}

impl AgentFilters {
    /// True when `slot` has a filter here.
    pub fn has_slot(&self, slot: SlotIdx) -> bool {
        self.pools.iter().flatten().any(|p| p.bits.contains(slot))
    }

    /// Adds a filter. `covers`: the agent's epoch if `refused` is known to cover everything
    /// available now. Returns whether the slot had none here before.
    fn add(
        &mut self,
        slot: SlotIdx,
        refused: Resources,
        size: (Qty, i64),
        until: f64,
        covers: Option<u64>,
    ) -> bool {
        self.changed = true;
        let first_here = !self.has_slot(slot);
        let found = self.pools.iter().position(|p| {
            p.as_ref()
                .is_some_and(|p| p.size == size && p.refused.contains(&refused))
        });
        let pool = match found {
            Some(i) => i,
            None => {
                let p = Pool {
                    refused,
                    size,
                    bits: BitSet::default(),
                    refs: 0,
                    covers_epoch: u64::MAX,
                    covers: false,
                };
                match self.pools.iter().position(Option::is_none) {
                    Some(i) => {
                        self.pools[i] = Some(p);
                        i
                    }
                    None => {
                        self.pools.push(Some(p));
                        self.pools.len() - 1
                    }
                }
            }
        };
        let Some(p) = self.pools[pool].as_mut() else {
            return first_here;
        };
        if let Some(epoch) = covers {
            p.covers = true;
            p.covers_epoch = epoch;
        }
        if p.bits.contains(slot) {
            if let Some(e) = self
                .entries
                .iter_mut()
                .find(|e| e.slot == slot && e.pool == pool)
            {
                e.until = e.until.max(until);
            }
        } else {
            p.bits.insert(slot);
            p.refs += 1;
            self.entries.push(FilterEntry { slot, pool, until });
            self.min_until = self.min_until.min(until);
        }
        first_here
    }

    /// Removes the filters matching `pred`. Returns the slots left without any filter here.
    fn remove_where(&mut self, mut pred: impl FnMut(&FilterEntry) -> bool) -> Vec<SlotIdx> {
        self.changed = true;
        let mut removed = Vec::new();
        self.entries.retain(|e| {
            let drop = pred(e);
            if drop {
                removed.push((e.slot, e.pool));
            }
            !drop
        });
        for (slot, pool) in &removed {
            if let Some(p) = self.pools.get_mut(*pool).and_then(Option::as_mut) {
                p.bits.remove(*slot);
                p.refs = p.refs.saturating_sub(1);
                if p.refs == 0 {
                    self.pools[*pool] = None;
                }
            }
        }
        self.min_until = self
            .entries
            .iter()
            .map(|e| e.until)
            .fold(f64::INFINITY, f64::min);
        let mut emptied: Vec<SlotIdx> = removed.into_iter().map(|(s, _)| s).collect();
        emptied.sort_unstable();
        emptied.dedup();
        emptied.retain(|s| !self.has_slot(*s));
        emptied
    }

    /// Refreshes which pools cover everything available (at `epoch`).
    fn refresh_covers(&mut self, available: &Resources, epoch: u64) {
        for p in self.pools.iter_mut().flatten() {
            if p.covers_epoch != epoch {
                p.covers = p.refused.contains(available);
                p.covers_epoch = epoch;
            }
        }
    }

    /// Slots filtered for anything the agent could offer (`available`, at `epoch`): the union
    /// of the pools that cover it. `None` when there are none.
    pub fn blocked(&mut self, available: &Resources, epoch: u64) -> Option<&BitSet> {
        if self.pools.is_empty() {
            return None;
        }
        if self.changed || self.blocked_epoch != epoch {
            self.refresh_covers(available, epoch);
            let mut covering = self
                .pools
                .iter()
                .enumerate()
                .filter(|(_, p)| p.as_ref().is_some_and(|p| p.covers));
            self.single = None;
            match (covering.next(), covering.next()) {
                (None, _) => self.blocked.clear(),
                (Some((i, _)), None) => self.single = Some(i),
                (Some(_), Some(_)) => {
                    self.blocked.clear();
                    for p in self.pools.iter().flatten().filter(|p| p.covers) {
                        self.blocked.union_with(&p.bits);
                    }
                }
            }
            self.blocked_epoch = epoch;
            self.changed = false;
        }
        let bits = match self.single {
            Some(i) => self.pools.get(i).and_then(Option::as_ref).map(|p| &p.bits),
            None => Some(&self.blocked),
        }?;
        (!bits.is_empty()).then_some(bits)
    }

    /// True when `slot` may not be offered `offer` here.
    pub fn filters(&self, slot: SlotIdx, offer: &Resources) -> bool {
        self.pools
            .iter()
            .flatten()
            .any(|p| p.bits.contains(slot) && (p.covers || p.refused.contains(offer)))
    }
}

/// When a filter of `refuse_seconds` made at `now` expires; `None`: no filter.
pub(super) fn refuse_until(refuse_seconds: Option<f64>, now: f64) -> Option<f64> {
    let secs = refuse_seconds?;
    let secs = if secs.is_nan() {
        DEFAULT_REFUSE_SECONDS
    } else {
        secs.min(MAX_REFUSE_SECONDS)
    };
    (secs > 0.0).then_some(now + secs)
}

impl HierarchicalAllocator {
    /// Filters `refused` for `(framework, role)` on agent `a` until `until`. `covers`: the
    /// refused resources are known to be everything the agent has available.
    pub(super) fn add_filter(
        &mut self,
        a: AgentIdx,
        s: SlotIdx,
        refused: Resources,
        until: f64,
        covers: bool,
    ) {
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let before = agent.filters.min_until;
        let epoch = covers.then_some(agent.epoch);
        let size = (self.names.split(&refused).0, nonscalar_size(&refused));
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let first_here = agent.filters.add(s, refused, size, until, epoch);
        let (after, gen) = (agent.filters.min_until, agent.gen);
        if after < before {
            self.expiry.push(Reverse((OrdF64(after), a, gen)));
        }
        let compact = match self.slot_mut(s) {
            Some(slot) => {
                if first_here {
                    slot.filter_agents.push(a);
                    slot.filtered_agents += 1;
                }
                slot.filter_max_until = slot.filter_max_until.max(until);
                slot.filter_agents.len() > 2 * slot.filtered_agents as usize + 16
            }
            None => false,
        };
        if compact {
            // Entries of agents whose filters expired pile up; drop them (amortised O(1)).
            let mut list = self
                .slot_mut(s)
                .map(|slot| std::mem::take(&mut slot.filter_agents))
                .unwrap_or_default();
            list.sort_unstable();
            list.dedup();
            list.retain(|x| self.agent(*x).is_some_and(|ag| ag.filters.has_slot(s)));
            if let Some(slot) = self.slot_mut(s) {
                slot.filter_agents = list;
            }
        }
    }

    /// Drops expired filters. Returns true when any expired.
    pub(super) fn expire_filters(&mut self, now: f64) -> bool {
        let mut any = false;
        while let Some(Reverse((until, a, gen))) = self.expiry.peek().cloned() {
            if until.0 > now {
                break;
            }
            self.expiry.pop();
            let valid = self
                .agent(a)
                .is_some_and(|x| x.gen == gen && x.filters.min_until == until.0);
            if !valid {
                continue;
            }
            any = true;
            self.remove_agent_filters(a, |e| e.until <= now);
        }
        any
    }

    /// Removes the filters of slot `s` everywhere (REVIVE, or the slot is going away).
    pub(super) fn purge_slot_filters(&mut self, s: SlotIdx) {
        let agents = match self.slot_mut(s) {
            Some(slot) => {
                slot.filtered_agents = 0;
                slot.filter_max_until = f64::NEG_INFINITY;
                std::mem::take(&mut slot.filter_agents)
            }
            None => return,
        };
        for a in agents {
            self.remove_agent_filters(a, |e| e.slot == s);
        }
    }

    fn remove_agent_filters(&mut self, a: AgentIdx, pred: impl FnMut(&FilterEntry) -> bool) {
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let before = agent.filters.min_until;
        let emptied = agent.filters.remove_where(pred);
        let (after, gen) = (agent.filters.min_until, agent.gen);
        if after != before && after.is_finite() {
            self.expiry.push(Reverse((OrdF64(after), a, gen)));
        }
        for s in emptied {
            if let Some(slot) = self.slot_mut(s) {
                slot.filtered_agents = slot.filtered_agents.saturating_sub(1);
                if slot.filtered_agents == 0 {
                    slot.filter_max_until = f64::NEG_INFINITY;
                }
            }
        }
        self.dirty = true;
    }

    /// An agent went away with its filters.
    pub(super) fn forget_agent_filters(&mut self, filters: &AgentFilters) {
        let mut slots: Vec<SlotIdx> = filters.entries.iter().map(|e| e.slot).collect();
        slots.sort_unstable();
        slots.dedup();
        for s in slots {
            if let Some(slot) = self.slot_mut(s) {
                slot.filtered_agents = slot.filtered_agents.saturating_sub(1);
            }
        }
    }

    /// The earliest pending filter expiry.
    pub(super) fn next_expiry(&self) -> Option<f64> {
        self.expiry.peek().map(|Reverse((t, _, _))| t.0)
    }
}
