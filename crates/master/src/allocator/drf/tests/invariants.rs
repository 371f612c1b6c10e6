//! The allocator's internal consistency: cached quantities, sums, counts and orderings match
//! what they are derived from.

use std::collections::BTreeMap;

use super::super::qty::Qty;
use super::super::tree::{Tag, ROOT};
use super::super::HierarchicalAllocator;

fn same(a: &Qty, b: &Qty, n: usize) -> bool {
    (0..n).all(|i| a.get(i) == b.get(i))
}

impl HierarchicalAllocator {
    /// Internal consistency: cached quantities, sums and orderings match their sources.
    pub(super) fn check_invariants(&self) -> Result<(), String> {
        let n = self.names.len();
        let (mut free, mut totals) = (Qty::default(), Qty::default());
        let mut held: BTreeMap<(usize, usize), Qty> = BTreeMap::new();
        for (a, agent) in self.agents.iter().enumerate() {
            let Some(agent) = agent else { continue };
            if self.avail_bits.contains(a) == agent.avail_all.is_zero() {
                return Err(format!("agent {}: availability bit out of sync", agent.id));
            }
            if !agent.total.contains(&agent.available) {
                return Err(format!("agent {}: available exceeds total", agent.id));
            }
            let (all, unres) = self.names.split(&agent.available);
            if !same(&all, &agent.avail_all, n) || !same(&unres, &agent.avail_unres, n) {
                return Err(format!("agent {}: stale available quantities", agent.id));
            }
            free.add(&agent.avail_unres);
            totals.add(&agent.total_all);
            for h in &agent.held {
                held.entry((h.fw, h.role)).or_default().add(&h.all);
            }
        }
        if !same(&free, &self.free_unres, n) || !same(&totals, &self.totals, n) {
            return Err("cluster free/total quantities drifted".to_string());
        }
        let mut own: BTreeMap<usize, Qty> = BTreeMap::new();
        for (f, fw) in self.frameworks.iter().enumerate() {
            let Some(fw) = fw else { continue };
            for fr in &fw.roles {
                let h = held.remove(&(f, fr.role)).unwrap_or_default();
                if !same(&h, &fr.alloc, n) {
                    return Err(format!(
                        "{} in {}: allocation drifted",
                        fw.id,
                        self.tree.get(fr.role).name
                    ));
                }
                own.entry(fr.role).or_default().add(&h);
                if let Some(s) = fr.slot {
                    let slot = self.slot(s).ok_or("dangling slot")?;
                    let live = fw.subscribed && fw.active && fr.subscribed && !fr.suppressed;
                    let listed = self
                        .tree
                        .get(fr.role)
                        .slots
                        .iter()
                        .any(|k| k.tag == Tag::Slot(s));
                    if slot.live != live || listed != live || self.live_bits.contains(s) != live {
                        return Err(format!("{}: liveness out of sync", fw.id));
                    }
                }
            }
        }
        if !held.is_empty() {
            return Err("held entries without a framework role".to_string());
        }
        let mut sub: BTreeMap<usize, Qty> = BTreeMap::new();
        for r in self.tree.indices() {
            let o = own.remove(&r).unwrap_or_default();
            let role = self.tree.get(r);
            if !same(&o, &role.alloc_own, n) {
                return Err(format!("role {}: own allocation drifted", role.name));
            }
            for q in self.tree.chain(r) {
                sub.entry(q).or_default().add(&o);
            }
            let live = role.slots.len() as u32
                + role
                    .children
                    .iter()
                    .map(|c| self.tree.get(*c).live_sub)
                    .sum::<u32>();
            if live != role.live_sub {
                return Err(format!("role {}: live count drifted", role.name));
            }
            let open = role.slots.len() as u32
                + role
                    .children
                    .iter()
                    .map(|c| self.tree.get(*c).open_sub())
                    .sum::<u32>();
            if open != role.open_raw {
                return Err(format!("role {}: open count drifted", role.name));
            }
        }
        for r in self.tree.indices() {
            let role = self.tree.get(r);
            if !same(&sub.remove(&r).unwrap_or_default(), &role.alloc_sub, n) {
                return Err(format!("role {}: subtree allocation drifted", role.name));
            }
            if !self.keys_stale && (role.key.share.0 - self.role_share(r)).abs() > 1e-12 {
                return Err(format!("role {}: stale key", role.name));
            }
        }
        if self.tree.get(ROOT).order.len() > self.tree.get(ROOT).children.len() {
            return Err("root order has stray entries".to_string());
        }
        Ok(())
    }
}
