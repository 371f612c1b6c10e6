//! Accounting of allocations and reservations, and the DRF keys derived from it.
//!
//! Shares are dominant shares over the cluster's scalar totals (names in
//! `fair_sharing_excluded` do not count), divided by the role's weight for roles. Every change
//! of what a (framework, role) holds goes through [`HierarchicalAllocator::charge`], which
//! updates the framework's slot, the role's own share and every ancestor's subtree share, and
//! the quota state, in O(depth · log n).

use super::frameworks::FwIdx;
use super::qty::Qty;
use super::tree::{Key, RoleIdx, ROOT};
use super::HierarchicalAllocator;

impl HierarchicalAllocator {
    /// Adds (`add`) or takes back quantities held by framework `f` in role `r`.
    pub(super) fn charge(&mut self, f: FwIdx, r: RoleIdx, all: &Qty, unres: &Qty, add: bool) {
        let pos = self
            .fw(f)
            .and_then(|fw| fw.roles.iter().position(|fr| fr.role == r));
        if let Some(pos) = pos {
            if let Some(fr) = self.fw_mut(f).and_then(|fw| fw.roles.get_mut(pos)) {
                if add {
                    fr.alloc.add(all);
                } else {
                    fr.alloc.sub(all);
                }
            }
            if !self.keys_stale {
                self.rekey_slot(f, pos);
            }
        }
        if r == ROOT {
            return;
        }
        let role = self.tree.get_mut(r);
        if add {
            role.alloc_own.add(all);
        } else {
            role.alloc_own.sub(all);
        }
        if !self.keys_stale {
            let share = self.own_share(r);
            self.tree.set_own_key(r, share);
        }
        for q in self.tree.chain(r) {
            let role = self.tree.get_mut(q);
            if add {
                role.alloc_sub.add(all);
                role.unres_sub.add(unres);
            } else {
                role.alloc_sub.sub(all);
                role.unres_sub.sub(unres);
            }
            if !self.keys_stale {
                let share = self.role_share(q);
                self.tree.set_role_key(q, share);
            }
        }
        self.refresh_quota(r, false);
    }

    /// Adds (`add`) or removes scalars reserved to role `r` on some agent's total.
    pub(super) fn reserve(&mut self, r: RoleIdx, q: &Qty, add: bool) {
        if r == ROOT {
            return;
        }
        let role = self.tree.get_mut(r);
        if add {
            role.reserved_own.add(q);
        } else {
            role.reserved_own.sub(q);
        }
        for x in self.tree.chain(r) {
            let role = self.tree.get_mut(x);
            if add {
                role.reserved_sub.add(q);
            } else {
                role.reserved_sub.sub(q);
            }
        }
        self.refresh_quota(r, false);
    }

    /// Weighted dominant share of `r`'s subtree.
    pub(super) fn role_share(&self, r: RoleIdx) -> f64 {
        let role = self.tree.get(r);
        role.alloc_sub.dominant_share(&self.inv_totals) / role.weight
    }

    /// Weighted dominant share of `r`'s own frameworks.
    pub(super) fn own_share(&self, r: RoleIdx) -> f64 {
        let role = self.tree.get(r);
        role.alloc_own.dominant_share(&self.inv_totals) / role.weight
    }

    /// Cluster totals changed: every share changes, and so may limit blocks.
    pub(super) fn on_totals_changed(&mut self, old: &Qty) {
        let same = (0..self.names.len()).all(|id| old.get(id) == self.totals.get(id));
        if same && self.inv_totals.len() == self.names.len() {
            return;
        }
        self.inv_totals = (0..self.names.len())
            .map(|id| {
                let total = self.totals.get(id);
                let excluded = self
                    .config
                    .fair_sharing_excluded
                    .iter()
                    .any(|n| n == self.names.name(id));
                if excluded || total <= 0 {
                    0.0
                } else {
                    1.0 / total as f64
                }
            })
            .collect();
        self.keys_stale = true;
        self.refresh_all_blocks();
    }

    /// True when ordering keys must be rebuilt before a cycle.
    pub(super) fn keys_need_rebuild(&self) -> bool {
        self.keys_stale || self.tree.new_names || self.new_fw_names
    }

    /// Recomputes every ordering key from scratch (after totals, weights or names changed).
    pub(super) fn rebuild_keys(&mut self) {
        self.tree.assign_ranks();
        let mut ids: Vec<(std::sync::Arc<str>, FwIdx)> = self
            .fw_by_id
            .iter()
            .map(|(id, f)| (id.clone(), *f))
            .collect();
        ids.sort();
        for (rank, (_, f)) in ids.into_iter().enumerate() {
            if let Some(fw) = self.fw_mut(f) {
                fw.rank = u32::try_from(rank).unwrap_or(u32::MAX);
            }
        }
        self.new_fw_names = false;
        let roles: Vec<RoleIdx> = self.tree.indices().collect();
        for r in roles {
            let (own, sub) = (self.own_share(r), self.role_share(r));
            self.tree.set_shares(r, own, sub);
        }
        let mut live: Vec<(RoleIdx, Key)> = Vec::new();
        for s in 0..self.slots.len() {
            let Some(slot) = self.slot(s) else { continue };
            let (f, r, is_live) = (slot.fw, slot.role, slot.live);
            let Some(pos) = self
                .fw(f)
                .and_then(|fw| fw.roles.iter().position(|fr| fr.role == r))
            else {
                continue;
            };
            let key = self.make_slot_key(f, pos, s);
            if let Some(slot) = self.slot_mut(s) {
                slot.key = key;
            }
            if is_live {
                live.push((r, key));
            }
        }
        self.tree.rebuild_order(live);
        self.keys_stale = false;
    }
}
