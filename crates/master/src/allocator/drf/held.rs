//! What frameworks hold on agents, per (framework, role), and the reservations of agent totals:
//! the bridge between agents and the role tree's accounting.

use super::agents::{AgentIdx, HeldEntry};
use super::frameworks::FwIdx;
use super::qty::Qty;
use super::tree::RoleIdx;
use super::HierarchicalAllocator;

impl HierarchicalAllocator {
    /// Charges `(f, r)` with quantities now held on agent `a`.
    pub(super) fn hold(&mut self, a: AgentIdx, f: FwIdx, r: RoleIdx, all: &Qty, unres: &Qty) {
        if all.is_zero() && unres.is_zero() {
            return;
        }
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        match agent.held.iter_mut().find(|h| h.fw == f && h.role == r) {
            Some(h) => {
                h.all.add(all);
                h.unres.add(unres);
            }
            None => {
                agent.held.push(HeldEntry {
                    fw: f,
                    role: r,
                    all: all.clone(),
                    unres: unres.clone(),
                });
                if let Some(fw) = self.fw_mut(f) {
                    fw.held_refs += 1;
                }
                self.tree.get_mut(r).held_refs += 1;
                self.ensure_fw_role(f, r);
            }
        }
        self.charge(f, r, all, unres, true);
    }

    /// Takes back (at most) the given quantities held by `(f, r)` on agent `a`.
    pub(super) fn release(&mut self, a: AgentIdx, f: FwIdx, r: RoleIdx, all: &Qty, unres: &Qty) {
        let Some(agent) = self.agent_mut(a) else {
            return;
        };
        let Some(pos) = agent.held.iter().position(|h| h.fw == f && h.role == r) else {
            return;
        };
        let h = &mut agent.held[pos];
        let (all, unres) = (h.all.min(all), h.unres.min(unres));
        h.all.sub(&all);
        h.unres.sub(&unres);
        let emptied = h.all.is_zero() && h.unres.is_zero();
        if emptied {
            agent.held.swap_remove(pos);
        }
        self.charge(f, r, &all, &unres, false);
        if emptied {
            self.drop_held_ref(f, r);
        }
    }

    pub(super) fn drop_held_ref(&mut self, f: FwIdx, r: RoleIdx) {
        if let Some(fw) = self.fw_mut(f) {
            fw.held_refs = fw.held_refs.saturating_sub(1);
        }
        let role = self.tree.get_mut(r);
        role.held_refs = role.held_refs.saturating_sub(1);
        self.refresh_framework(f);
        self.tree.maybe_gc(r);
    }

    /// Adds (or takes away) the reservations of agent `a`'s total to their roles.
    pub(super) fn track_reservations(&mut self, a: AgentIdx, add: bool) {
        if add {
            let Some(agent) = self.agent(a) else { return };
            let groups: Vec<(String, Qty)> = agent
                .total
                .reservations()
                .into_iter()
                .map(|(role, res)| (role, self.names.split(&res).0))
                .filter(|(_, q)| !q.is_zero())
                .collect();
            let mut tracked = Vec::new();
            for (name, q) in groups {
                let r = self.tree.ensure(&name);
                self.reserve(r, &q, true);
                tracked.push((r, q));
            }
            if let Some(agent) = self.agent_mut(a) {
                agent.reservations = tracked;
            }
        } else {
            let tracked = self
                .agent_mut(a)
                .map(|agent| std::mem::take(&mut agent.reservations))
                .unwrap_or_default();
            for (r, q) in tracked {
                self.reserve(r, &q, false);
                self.tree.maybe_gc(r);
            }
        }
    }
}
