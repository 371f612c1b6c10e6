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

use super::agents::{Agent, AgentIdx};
use super::bits::{BitSet, Rng};
use super::bound::{Bound, Cut};
use super::order::{Cand, Scratch};
use super::qty::Qty;
use super::tree::{Key, RoleIdx, SlotIdx, ROOT};
use super::{Allocation, HierarchicalAllocator};

/// What one role can be offered on one agent.
#[derive(Clone, Debug)]
pub(super) struct Offer {
    /// `None`: everything the agent has available (taken, not copied, when committed).
    pub part: Option<Part>,
}

/// Part of what an agent has available, with its scalar quantities.
#[derive(Clone, Debug)]
pub(super) struct Part {
    pub resources: Resources,
    pub all: Qty,
    pub unres: Qty,
}

impl Offer {
    /// The offered resources, given the agent.
    pub fn resources<'a>(&'a self, agent: &'a Agent) -> &'a Resources {
        self.part
            .as_ref()
            .map_or(&agent.available, |p| &p.resources)
    }

    /// The offered scalar quantities, given the agent.
    pub fn all<'a>(&'a self, agent: &'a Agent) -> &'a Qty {
        self.part.as_ref().map_or(&agent.avail_all, |p| &p.all)
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
        if self.keys_need_rebuild() {
            self.rebuild_keys();
        }
        if self.tree.get(ROOT).live_sub == 0 {
            return out;
        }
        let order = self.visiting_order();
        // Offers collect in a buffer kept across cycles; the returned vector is allocated once,
        // at the end (a large allocation early in the cycle makes glibc consolidate the
        // caller's freed small blocks and every later small allocation slower).
        let mut buf = std::mem::take(&mut self.out_buf);
        let mut scratch = std::mem::take(&mut self.scratch);
        if !self.required_headroom().is_zero() {
            self.stage_guarantees(&order, &mut buf, &mut scratch);
        }
        self.stage_fair(&order, &mut buf, &mut scratch);
        scratch.reset();
        self.scratch = scratch;
        self.order_buf = order;
        out.append(&mut buf);
        self.out_buf = buf;
        out
    }

    /// Agents with scalars available, in this cycle's order: blocks of consecutive agents (for
    /// memory locality) in shuffled order, each block rotated by the cycle number, so the order
    /// is deterministic and no agent is always last.
    fn visiting_order(&mut self) -> Vec<AgentIdx> {
        const BLOCK: usize = 32;
        let mut order = std::mem::take(&mut self.order_buf);
        let mut agents = std::mem::take(&mut self.agents_buf);
        let mut blocks = std::mem::take(&mut self.blocks_buf);
        agents.clear();
        agents.extend(self.avail_bits.iter());
        blocks.clear();
        blocks.extend(0..agents.len().div_ceil(BLOCK));
        Rng::new(self.cycles).shuffle(&mut blocks);
        let rotation = (self.cycles % BLOCK as u64) as usize;
        order.clear();
        for b in &blocks {
            let chunk = &agents[b * BLOCK..agents.len().min((b + 1) * BLOCK)];
            let k = rotation % chunk.len().max(1);
            order.extend_from_slice(&chunk[k..]);
            order.extend_from_slice(&chunk[..k]);
        }
        self.agents_buf = agents;
        self.blocks_buf = blocks;
        order
    }

    fn stage_fair(&mut self, order: &[AgentIdx], out: &mut Vec<Allocation>, scratch: &mut Scratch) {
        // Without guarantees to keep headroom for, nothing is held back all cycle.
        let headroom = !self.required_headroom().is_zero();
        for &a in order {
            scratch.reset();
            while let Some(agent) = self.agent(a) {
                if agent.avail_all.is_zero() {
                    break;
                }
                let reserved = agent.has_reserved;
                let surplus = if headroom {
                    self.surplus()
                } else {
                    Bound::unlimited()
                };
                if !reserved
                    && (self.tree.get(ROOT).open_sub() == 0
                        || (headroom && self.headroom_exhausted(&surplus)))
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
                        let super::tree::Tag::Slot(s) = k.tag else {
                            continue;
                        };
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
        let blocked = agent.filters.blocked(&agent.available, agent.epoch);
        if blocked.is_none() && !agent.has_gpus {
            cand.set_all();
            return;
        }
        let mask = agent.has_gpus.then_some(&self.gpu_bits);
        match blocked {
            Some(b) => cand.set(&self.live_bits, &[b], mask),
            None => cand.set(&self.live_bits, &[], mask),
        }
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
        let limit = self.limit_room(r);
        let owed = match stage {
            Stage::Guarantees(grant) => Some(grant),
            Stage::Fair => {
                if limit.is_unlimited() && surplus.is_unlimited() {
                    return self.offer_of(avail);
                }
                None
            }
        };
        let cut = Cut {
            names: &self.names,
            owed,
            limit: &limit,
            surplus,
        }
        .apply(&avail)?;
        match cut.resources {
            None => self.offer_of(avail),
            Some(resources) => self.offer_of(Cow::Owned(resources)),
        }
    }

    /// An offer of `resources` (borrowed: the agent's whole availability).
    fn offer_of(&self, resources: Cow<'_, Resources>) -> Option<Offer> {
        match resources {
            Cow::Borrowed(_) => Some(Offer { part: None }),
            Cow::Owned(resources) => {
                let (all, unres) = self.names.split(&resources);
                (!all.is_zero()).then_some(Offer {
                    part: Some(Part {
                        resources,
                        all,
                        unres,
                    }),
                })
            }
        }
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
        let resources = offer.resources(agent);
        if !min.is_empty()
            && !min
                .iter()
                .any(|m| m.met_by(&self.names, offer.all(agent), resources))
        {
            return false;
        }
        !agent.filters.filters(s, resources)
    }

    /// Hands `offer` on agent `a` to slot `s`.
    fn commit(&mut self, a: AgentIdx, s: SlotIdx, offer: Offer, out: &mut Vec<Allocation>) {
        let Some(slot) = self.slot(s) else { return };
        let (f, r) = (slot.fw, slot.role);
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let (resources, all, unres) = match offer.part {
            None => (
                std::mem::take(&mut agent.available),
                std::mem::take(&mut agent.avail_all),
                std::mem::take(&mut agent.avail_unres),
            ),
            Some(p) => {
                if agent.available.subtract(&p.resources).is_err() {
                    tracing::error!(agent_id = %agent.id, "allocator: offer not contained in what is available");
                    return;
                }
                agent.avail_all.sub(&p.all);
                agent.avail_unres.sub(&p.unres);
                (p.resources, p.all, p.unres)
            }
        };
        agent.epoch += 1;
        if agent.has_reserved {
            agent.has_reserved = agent.available.iter().any(|x| x.is_reserved());
        }
        if agent.avail_all.is_zero() {
            self.avail_bits.remove(a);
        }
        let Some(agent) = self.agent(a) else { return };
        let agent_id = agent.id.to_string();
        self.free_unres.sub(&unres);
        self.hold(a, f, r, &all, &unres);
        let framework_id = self.fw(f).map(|fw| fw.id.to_string()).unwrap_or_default();
        out.push(Allocation {
            framework_id,
            agent_id,
            role: self.tree.get(r).name.to_string(),
            resources,
        });
    }
}
