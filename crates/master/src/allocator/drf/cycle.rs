//! One allocation cycle.
//!
//! Agents are visited in a shuffled order (seeded by the cycle number: deterministic, and no
//! agent is always last). Stage 1 serves roles owed quota guarantees, in DRF order; stage 2
//! serves everybody in hierarchical DRF order while holding back the headroom that unsatisfied
//! guarantees still need. On each agent, candidates come from the role tree's ordering (see
//! [`super::order`]); the first (framework, role) that accepts the role's offer gets it, and
//! the walk continues while the agent has scalars left.
//!
//! A cycle is skipped outright unless something changed since the last one (a recovery, an
//! agent, a framework, a revive, a weight or quota change, or a filter expiring): a cycle
//! leaves nothing that another cycle on the same state would hand out.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use corral_resources::Resources;

use super::agents::AgentIdx;
use super::bits::{BitSet, Rng};
use super::order::{Cand, Scratch};
use super::qty::{is_quota_scalar, shrink, Bound, Qty};
use super::tree::{Key, RoleIdx, SlotIdx, ROOT};
use super::{Allocation, HierarchicalAllocator};

/// What one role can be offered on one agent.
#[derive(Clone, Debug)]
pub(super) struct Offer {
    /// `None`: everything the agent has available (taken, not copied, when committed).
    pub resources: Option<Resources>,
    pub all: Qty,
    pub unres: Qty,
}

impl Offer {
    /// The offered resources, given the agent's `available`.
    pub fn resources<'a>(&'a self, available: &'a Resources) -> &'a Resources {
        self.resources.as_ref().unwrap_or(available)
    }
}

/// Which stage of the cycle an offer is computed for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stage<'a> {
    /// Stage 1, toward a guarantee: what is still owed.
    Guarantees(&'a Qty),
    /// Stage 2.
    Fair,
}

impl HierarchicalAllocator {
    pub(super) fn allocate_inner(&mut self, now: f64) -> Vec<Allocation> {
        self.expire_filters(now);
        let mut out = Vec::new();
        if !self.dirty {
            return out;
        }
        self.dirty = false;
        self.cycles += 1;
        if self.keys_stale {
            self.rebuild_keys();
        }
        if self.tree.get(ROOT).live_sub == 0 {
            return out;
        }
        let mut order: Vec<AgentIdx> = self
            .agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.as_ref().is_some_and(|a| !a.avail_all.is_zero()))
            .map(|(i, _)| i)
            .collect();
        Rng::new(self.cycles).shuffle(&mut order);
        let mut scratch = Scratch::default();
        if !self.required_headroom().is_zero() {
            self.stage_guarantees(&order, &mut out, &mut scratch);
        }
        self.stage_fair(&order, &mut out, &mut scratch);
        out
    }

    fn stage_fair(&mut self, order: &[AgentIdx], out: &mut Vec<Allocation>, scratch: &mut Scratch) {
        for &a in order {
            scratch.reset();
            loop {
                let Some(agent) = self.agent(a) else { break };
                if agent.avail_all.is_zero() {
                    break;
                }
                let reserved = agent.has_reserved;
                let surplus = self.surplus();
                if !reserved
                    && (self.tree.get(ROOT).open_sub() == 0 || self.headroom_exhausted(&surplus))
                {
                    break;
                }
                let mut cand = std::mem::take(&mut scratch.cand);
                self.candidates(a, &mut cand);
                if cand.count == 0 {
                    scratch.cand = cand;
                    break;
                }
                scratch.new_pass();
                let found = self.find(a, &cand, Stage::Fair, &surplus, !reserved, scratch);
                scratch.cand = cand;
                scratch.settle_failures();
                let Some((s, offer)) = found else { break };
                self.commit(a, s, offer, out);
                scratch.tried_insert(s);
            }
        }
    }

    fn stage_guarantees(
        &mut self,
        order: &[AgentIdx],
        out: &mut Vec<Allocation>,
        scratch: &mut Scratch,
    ) {
        let mut queue: BTreeSet<(Vec<Key>, RoleIdx)> = BTreeSet::new();
        let mut paths: HashMap<RoleIdx, Vec<Key>> = HashMap::new();
        let mut by_top: HashMap<RoleIdx, Vec<RoleIdx>> = HashMap::new();
        let roles: Vec<RoleIdx> = self.tree.indices().collect();
        for r in roles {
            if self.tree.get(r).slots.is_empty() || self.grant(r).is_none() {
                continue;
            }
            let path = self.tree.path(r);
            queue.insert((path.clone(), r));
            paths.insert(r, path);
            by_top.entry(self.tree.top(r)).or_default().push(r);
        }
        for &a in order {
            if queue.is_empty() {
                break;
            }
            scratch.reset();
            loop {
                if self.agent(a).is_none_or(|x| x.avail_all.is_zero()) {
                    break;
                }
                let surplus = self.surplus();
                let mut cand = std::mem::take(&mut scratch.cand);
                self.candidates(a, &mut cand);
                if cand.count == 0 {
                    scratch.cand = cand;
                    break;
                }
                let mut hit = None;
                let mut satisfied = Vec::new();
                for (_, r) in queue.iter() {
                    let Some(grant) = self.grant(*r) else {
                        satisfied.push(*r);
                        continue;
                    };
                    let mut offer: Option<Option<Offer>> = None;
                    for k in self.tree.get(*r).slots.iter() {
                        let super::tree::Tag::Slot(s) = k.tag else { continue };
                        if scratch.tried(s) || !cand.allows(s) {
                            continue;
                        }
                        let o = offer.get_or_insert_with(|| {
                            self.role_offer(a, *r, Stage::Guarantees(&grant), &surplus)
                        });
                        let Some(x) = o.as_ref() else { break };
                        if self.slot_accepts(a, s, *r, x) {
                            hit = o.take().map(|o| (*r, s, o));
                            break;
                        }
                        scratch.failed.push(s);
                    }
                    if hit.is_some() {
                        break;
                    }
                }
                scratch.cand = cand;
                scratch.settle_failures();
                for r in satisfied {
                    if let Some(path) = paths.remove(&r) {
                        queue.remove(&(path, r));
                    }
                }
                let Some((r, s, offer)) = hit else { break };
                self.commit(a, s, offer, out);
                scratch.tried_insert(s);
                // Shares under r's top-level role changed: re-sort those queue entries.
                for x in by_top.get(&self.tree.top(r)).into_iter().flatten() {
                    let Some(old) = paths.remove(x) else { continue };
                    queue.remove(&(old, *x));
                    let new = self.tree.path(*x);
                    queue.insert((new.clone(), *x));
                    paths.insert(*x, new);
                }
            }
        }
    }

    /// Slots that may be offered something on agent `a`: live, not filtered for everything
    /// the agent has, and GPU-aware on an agent with GPUs.
    fn candidates(&mut self, a: AgentIdx, cand: &mut Cand) {
        let Some(agent) = self.agents.get_mut(a).and_then(Option::as_mut) else {
            cand.set(&BitSet::default(), &[], None);
            return;
        };
        agent.filters.refresh_covers(&agent.available, agent.epoch);
        let covering: Vec<&BitSet> = agent.filters.covering().collect();
        if covering.is_empty() && !agent.has_gpus {
            cand.set_all();
            return;
        }
        let mask = agent.has_gpus.then_some(&self.gpu_bits);
        cand.set(&self.live_bits, &covering, mask);
    }

    /// What role `r` may be offered on agent `a` in `stage`, before framework checks.
    pub(super) fn role_offer(
        &self,
        a: AgentIdx,
        r: RoleIdx,
        stage: Stage<'_>,
        surplus: &Bound,
    ) -> Option<Offer> {
        let agent = self.agent(a)?;
        let avail: Cow<'_, Resources> = if agent.has_reserved {
            Cow::Owned(agent.available.allocatable_to_role(&self.tree.get(r).name))
        } else {
            Cow::Borrowed(&agent.available)
        };
        if avail.is_empty() {
            return None;
        }
        let mut bound = self.limit_room(r);
        let resources = match stage {
            Stage::Fair => {
                bound.cap_all(surplus);
                if bound.is_unlimited() {
                    let (resources, all, unres) = match avail {
                        Cow::Borrowed(_) => (None, agent.avail_all.clone(), agent.avail_unres.clone()),
                        Cow::Owned(r) => {
                            let (all, unres) = self.names.split(&r);
                            (Some(r), all, unres)
                        }
                    };
                    return (!all.is_zero()).then_some(Offer {
                        resources,
                        all,
                        unres,
                    });
                }
                let (mut fixed, scalable) = partition(&avail);
                fixed.add_all(&shrink(&self.names, &scalable, &bound));
                fixed
            }
            Stage::Guarantees(grant) => {
                let (mut fixed, scalable) = partition(&avail);
                // What is owed, within the limits (a guarantee never beats a limit).
                let mut owed = bound.clone();
                for id in 0..self.names.len() {
                    owed.cap(id, grant.get(id));
                }
                let guaranteed = shrink(&self.names, &scalable, &owed);
                let (g_all, _) = self.names.split(&guaranteed);
                if g_all.is_zero() {
                    return None;
                }
                let rest = scalable.saturating_sub(&guaranteed);
                bound.take_all(&g_all);
                bound.cap_all(surplus);
                fixed.add_all(&guaranteed);
                fixed.add_all(&shrink(&self.names, &rest, &bound));
                fixed
            }
        };
        let (all, unres) = self.names.split(&resources);
        (!all.is_zero()).then_some(Offer {
            resources: Some(resources),
            all,
            unres,
        })
    }

    /// Framework-level checks: GPUs, minimum allocatable resources, filters.
    pub(super) fn slot_accepts(&self, a: AgentIdx, s: SlotIdx, r: RoleIdx, offer: &Offer) -> bool {
        let (Some(agent), Some(slot)) = (self.agent(a), self.slot(s)) else {
            return false;
        };
        let Some(fw) = self.fw(slot.fw) else {
            return false;
        };
        if agent.has_gpus && !fw.gpu_aware {
            return false;
        }
        let min = fw
            .roles
            .iter()
            .find(|fr| fr.role == r)
            .and_then(|fr| fr.min.as_ref())
            .unwrap_or(&self.default_min);
        let resources = offer.resources(&agent.available);
        if !min.is_empty()
            && !min
                .iter()
                .any(|m| m.met_by(&self.names, &offer.all, resources))
        {
            return false;
        }
        !agent.filters.filters(s, resources)
    }

    /// Hands `offer` on agent `a` to slot `s`.
    fn commit(&mut self, a: AgentIdx, s: SlotIdx, offer: Offer, out: &mut Vec<Allocation>) {
        let Some(slot) = self.slot(s) else { return };
        let (f, r) = (slot.fw, slot.role);
        let Some(agent) = self.agent_mut(a) else { return };
        let resources = match offer.resources {
            None => std::mem::take(&mut agent.available),
            Some(r) => {
                if agent.available.subtract(&r).is_err() {
                    tracing::error!(agent_id = %agent.id, "allocator: offer not contained in what is available");
                    return;
                }
                r
            }
        };
        agent.avail_all.sub(&offer.all);
        agent.avail_unres.sub(&offer.unres);
        agent.epoch += 1;
        if agent.has_reserved {
            agent.has_reserved = agent.available.iter().any(|x| x.is_reserved());
        }
        let agent_id = agent.id.to_string();
        self.free_unres.sub(&offer.unres);
        self.hold(a, f, r, &offer.all, &offer.unres);
        let framework_id = self.fw(f).map(|fw| fw.id.to_string()).unwrap_or_default();
        out.push(Allocation {
            framework_id,
            agent_id,
            role: self.tree.get(r).name.to_string(),
            resources,
        });
    }
}

/// `(everything else, unreserved non-revocable scalars)`.
fn partition(resources: &Resources) -> (Resources, Resources) {
    (
        resources.filter(|r| !is_quota_scalar(r)),
        resources.filter(is_quota_scalar),
    )
}
