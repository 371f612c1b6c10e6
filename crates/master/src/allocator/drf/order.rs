//! Walking the candidates of one agent in hierarchical DRF order.
//!
//! The order is a depth-first walk of the role tree's sorted `order` sets (children and each
//! role's own frameworks by weighted share), and of each role's sorted `slots`. Subtrees with no
//! slot that could take unreserved scalars are skipped through their open counts when the agent
//! has no reservations. When only a few slots remain candidates on an agent (most frameworks
//! filtered it), they are sorted by their full path keys instead, so a nearly fully filtered
//! cluster costs O(candidates) per agent rather than O(frameworks).
//!
//! Role-level work (what the role may be offered here) is memoised per pass in [`Scratch`].

use super::agents::AgentIdx;
use super::bits::BitSet;
use super::bound::Bound;
use super::cycle::{Offer, Stage};
use super::tree::{Key, RoleIdx, SlotIdx, Tag, MAX_DEPTH, ROOT};
use super::HierarchicalAllocator;

/// Candidate counts at or below this are picked from a list instead of walked for (a list
/// costs more per candidate than walking past a filtered slot).
const SMALL: usize = 32;

/// The slots that may be offered something on an agent (storage reused across agents).
#[derive(Debug, Default)]
pub(super) struct Cand {
    bits: BitSet,
    /// Every live slot (`bits` unused).
    all: bool,
    pub count: usize,
}

impl Cand {
    /// Every live slot.
    pub fn set_all(&mut self) {
        self.all = true;
        self.count = usize::MAX;
    }

    /// The slots of `base` in none of `minus` (and in `mask` if given).
    pub fn set(&mut self, base: &BitSet, minus: &[&BitSet], mask: Option<&BitSet>) {
        self.all = false;
        self.count = self.bits.assign_and_not(base, minus, mask);
    }

    /// True when `s` is a candidate.
    pub fn allows(&self, s: SlotIdx) -> bool {
        self.all || self.bits.contains(s)
    }
}

/// Per-agent working state, reused across agents.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    tried: BitSet,
    touched: Vec<SlotIdx>,
    /// Slots that failed in the current pass.
    pub failed: Vec<SlotIdx>,
    /// Role → what it may be offered on the agent in this pass (valid when stamped `stamp`).
    memo: Vec<(u64, Option<Offer>)>,
    stamp: u64,
    pub cand: Cand,
}

impl Scratch {
    /// Forgets the previous agent.
    pub fn reset(&mut self) {
        for s in self.touched.drain(..) {
            self.tried.remove(s);
        }
        self.failed.clear();
        self.new_pass();
    }

    /// Forgets the role offers (the agent's availability changed).
    pub fn new_pass(&mut self) {
        self.stamp += 1;
    }

    /// True when `s` was already tried on this agent.
    pub fn tried(&self, s: SlotIdx) -> bool {
        self.tried.contains(s)
    }

    /// Marks `s` as tried on this agent.
    pub fn tried_insert(&mut self, s: SlotIdx) {
        if !self.tried.contains(s) {
            self.tried.insert(s);
            self.touched.push(s);
        }
    }

    /// Slots that failed in this pass will fail again on this agent (it only shrinks).
    pub fn settle_failures(&mut self) {
        let failed = std::mem::take(&mut self.failed);
        for s in &failed {
            self.tried_insert(*s);
        }
        self.failed = failed;
        self.failed.clear();
    }

    /// The memoised offer of role `r` in this pass, computed by `make` when missing.
    fn offer(&mut self, r: RoleIdx, make: impl FnOnce() -> Option<Offer>) -> &mut Option<Offer> {
        if self.memo.len() <= r {
            self.memo.resize_with(r + 1, || (0, None));
        }
        let entry = &mut self.memo[r];
        if entry.0 != self.stamp {
            *entry = (self.stamp, make());
        }
        &mut entry.1
    }
}

/// What a walk looks for.
struct Walk<'a> {
    a: AgentIdx,
    cand: &'a Cand,
    stage: Stage<'a>,
    surplus: &'a Bound,
    prune: bool,
}

/// Outcome of trying one slot.
enum Step {
    Accept(Offer),
    RoleFails,
    SlotFails,
}

impl HierarchicalAllocator {
    /// The first candidate (in order) that accepts its role's offer on agent `a`.
    pub(super) fn find(
        &self,
        a: AgentIdx,
        cand: &Cand,
        stage: Stage<'_>,
        surplus: &Bound,
        prune: bool,
        scratch: &mut Scratch,
    ) -> Option<(SlotIdx, Offer)> {
        if !cand.all && cand.count <= SMALL {
            self.find_sorted(a, cand, stage, surplus, prune, scratch)
        } else {
            self.find_walk(a, cand, stage, surplus, prune, scratch)
        }
    }

    fn try_slot(
        &self,
        a: AgentIdx,
        s: SlotIdx,
        r: RoleIdx,
        stage: Stage<'_>,
        surplus: &Bound,
        scratch: &mut Scratch,
    ) -> Step {
        let offer = scratch.offer(r, || self.role_offer(a, r, stage, surplus));
        match offer.as_ref() {
            None => Step::RoleFails,
            Some(o) if self.slot_accepts(a, s, r, o) => match offer.take() {
                Some(o) => Step::Accept(o),
                None => Step::RoleFails,
            },
            Some(_) => {
                scratch.failed.push(s);
                Step::SlotFails
            }
        }
    }

    fn find_walk(
        &self,
        a: AgentIdx,
        cand: &Cand,
        stage: Stage<'_>,
        surplus: &Bound,
        prune: bool,
        scratch: &mut Scratch,
    ) -> Option<(SlotIdx, Offer)> {
        let walk = Walk {
            a,
            cand,
            stage,
            surplus,
            prune,
        };
        self.walk(ROOT, &walk, scratch, 0)
    }

    /// Depth-first over `r`'s order (recursion depth is the role depth, capped).
    fn walk(
        &self,
        r: RoleIdx,
        w: &Walk<'_>,
        scratch: &mut Scratch,
        depth: usize,
    ) -> Option<(SlotIdx, Offer)> {
        let role = self.tree.get(r);
        for key in role.order.iter() {
            match key.tag {
                Tag::Own => {
                    if w.prune && role.own_blocked {
                        continue;
                    }
                    for k in role.slots.iter() {
                        let Tag::Slot(s) = k.tag else { continue };
                        if scratch.tried(s) || !w.cand.allows(s) {
                            continue;
                        }
                        match self.try_slot(w.a, s, r, w.stage, w.surplus, scratch) {
                            Step::Accept(o) => return Some((s, o)),
                            Step::RoleFails => break,
                            Step::SlotFails => {}
                        }
                    }
                }
                Tag::Role(c) => {
                    if (w.prune && self.tree.get(c).open_sub() == 0) || depth >= MAX_DEPTH {
                        continue;
                    }
                    if let Some(hit) = self.walk(c, w, scratch, depth + 1) {
                        return Some(hit);
                    }
                }
                Tag::Slot(_) => {}
            }
        }
        None
    }

    /// Candidates in DRF order from the candidate list (few candidates).
    fn find_sorted(
        &self,
        a: AgentIdx,
        cand: &Cand,
        stage: Stage<'_>,
        surplus: &Bound,
        prune: bool,
        scratch: &mut Scratch,
    ) -> Option<(SlotIdx, Offer)> {
        // Paths are computed once per role; candidates order by (role path, slot key).
        let mut paths: Vec<(RoleIdx, Vec<Key>)> = Vec::new();
        let mut list: Vec<(usize, Key, SlotIdx, RoleIdx)> = Vec::with_capacity(cand.count);
        for s in cand.bits.iter() {
            if scratch.tried(s) {
                continue;
            }
            let Some(slot) = self.slot(s) else { continue };
            if !slot.live {
                continue;
            }
            let r = slot.role;
            let p = match paths.iter().position(|(x, _)| *x == r) {
                Some(p) => p,
                None => {
                    if prune && self.tree.path_blocked(r) {
                        continue;
                    }
                    paths.push((r, self.tree.path(r)));
                    paths.len() - 1
                }
            };
            list.push((p, slot.key, s, r));
        }
        // The first candidate usually takes the offer: pick minimums rather than sort.
        while !list.is_empty() {
            let mut best = 0;
            for i in 1..list.len() {
                let (x, y) = (&list[i], &list[best]);
                if paths[x.0].1.cmp(&paths[y.0].1).then(x.1.cmp(&y.1)).is_lt() {
                    best = i;
                }
            }
            let (_, _, s, r) = list.swap_remove(best);
            if let Step::Accept(o) = self.try_slot(a, s, r, stage, surplus, scratch) {
                return Some((s, o));
            }
        }
        None
    }
}
