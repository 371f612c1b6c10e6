//! Quota, with Mesos ≥ 1.9 semantics, generalised to nested roles.
//!
//! * *Consumption* of a role is what is reserved to its subtree (allocated or not) plus the
//!   unreserved non-revocable scalars allocated to its subtree.
//! * *Limits* bound the consumption of a role's subtree: unreserved scalars offered to a role are
//!   trimmed to the smallest room left under its own and its ancestors' limits.
//! * *Guarantees* are served first (stage 1 of a cycle), and what unsatisfied guarantees still
//!   need is held back as *headroom* from everybody else in stage 2, whether or not the
//!   guaranteed roles have a framework asking. The headroom a subtree needs is
//!   `max(guarantee − consumption, Σ children's needs)`, so a parent's guarantee that covers its
//!   children's is not counted twice; the cluster needs the root's.
//! * A role whose own limits leave nothing unreserved is *blocked*: the ordering skips it on
//!   agents without reservations (see [`super::tree`]'s open counts).

use super::bound::{Bound, UNLIMITED};
use super::qty::Qty;
use super::tree::{RoleIdx, ROOT};
use super::{HierarchicalAllocator, Quota};

impl HierarchicalAllocator {
    /// Sets or removes a role's quota.
    pub(super) fn set_quota_inner(&mut self, name: &str, quota: Option<Quota>) {
        let r = self.tree.ensure(name);
        let had = self.tree.get(r).quota.is_some();
        let (guarantees, limits) = match &quota {
            Some(q) => {
                let g = self.names.qty_of(&q.guarantees);
                let l = self.names.qty_of(&q.limits);
                let mut limits = Bound::unlimited();
                for (id, v) in l.iter_positive() {
                    limits.cap(id, v);
                }
                (g, limits)
            }
            None => (Qty::default(), Bound::unlimited()),
        };
        let has = quota.is_some();
        let role = self.tree.get_mut(r);
        role.quota = quota;
        role.guarantees = guarantees;
        role.limits = limits;
        match (had, has) {
            (false, true) => self.tree.quota_roles += 1,
            (true, false) => self.tree.quota_roles = self.tree.quota_roles.saturating_sub(1),
            _ => {}
        }
        self.refresh_quota(r, true);
        self.tree.maybe_gc(r);
    }

    /// Recomputes headroom needs and limit blocks along `r`'s chain after its consumption,
    /// quota or reservations changed.
    pub(super) fn refresh_quota(&mut self, r: RoleIdx, force: bool) {
        if !force && self.tree.quota_roles == 0 && self.tree.get(ROOT).need.is_zero() {
            return;
        }
        for q in self.tree.chain(r) {
            let role = self.tree.get(q);
            let mut need = if role.quota.is_some() {
                role.guarantees.minus(&role.consumed())
            } else {
                Qty::default()
            };
            need.max_assign(&role.child_need);
            let parent = role.parent;
            let blocked = self.compute_blocked(q);
            let old = std::mem::replace(&mut self.tree.get_mut(q).need, need.clone());
            if old != need {
                let p = self.tree.get_mut(parent);
                p.child_need.sub(&old);
                p.child_need.add(&need);
            }
            self.tree.set_blocked(q, blocked);
        }
        let root = self.tree.get_mut(ROOT);
        root.need = root.child_need.clone();
    }

    /// Recomputes every limit block (after cluster totals changed).
    pub(super) fn refresh_all_blocks(&mut self) {
        if self.tree.quota_roles == 0 {
            return;
        }
        let roles: Vec<RoleIdx> = self.tree.indices().collect();
        for q in roles {
            let blocked = self.compute_blocked(q);
            self.tree.set_blocked(q, blocked);
        }
    }

    /// True when `q`'s own limits leave no room for any scalar the cluster has.
    fn compute_blocked(&self, q: RoleIdx) -> bool {
        let role = self.tree.get(q);
        if role.quota.is_none() || role.limits.is_unlimited() {
            return false;
        }
        let consumed = role.consumed();
        let mut any = false;
        for id in 0..self.names.len() {
            if self.totals.get(id) <= 0 {
                continue;
            }
            any = true;
            let limit = role.limits.get(id);
            if limit == UNLIMITED || limit - consumed.get(id) > 0 {
                return false;
            }
        }
        any
    }

    /// Room left under the limits of `r` and its ancestors, for unreserved scalars.
    pub(super) fn limit_room(&self, r: RoleIdx) -> Bound {
        let mut room = Bound::unlimited();
        if self.tree.quota_roles == 0 {
            return room;
        }
        for q in self.tree.chain(r) {
            let role = self.tree.get(q);
            if role.quota.is_none() || role.limits.is_unlimited() {
                continue;
            }
            let consumed = role.consumed();
            for (id, limit) in role.limits.iter_finite() {
                room.cap(id, limit - consumed.get(id));
            }
        }
        room
    }

    /// What stage 1 may still give `r` toward guarantees: the smallest unsatisfied guarantee
    /// among `r` and its ancestors that have one. `None` when nothing is owed.
    pub(super) fn grant(&self, r: RoleIdx) -> Option<Qty> {
        let mut grant: Option<Qty> = None;
        for q in self.tree.chain(r) {
            let role = self.tree.get(q);
            if role.quota.is_none() || role.guarantees.is_zero() {
                continue;
            }
            let unsatisfied = role.guarantees.minus(&role.consumed());
            grant = Some(match grant {
                None => unsatisfied,
                Some(g) => g.min(&unsatisfied),
            });
        }
        grant.filter(|g| !g.is_zero())
    }

    /// Headroom the cluster must keep for unsatisfied guarantees.
    pub(super) fn required_headroom(&self) -> &Qty {
        &self.tree.get(ROOT).need
    }

    /// How much of each unreserved scalar may be handed out beyond guarantees without eating
    /// into the required headroom.
    pub(super) fn surplus(&self) -> Bound {
        let mut bound = Bound::unlimited();
        for (id, need) in self.required_headroom().iter_positive() {
            bound.cap(id, self.free_unres.get(id) - need);
        }
        bound
    }

    /// True when the headroom leaves no unreserved scalar of the cluster to hand out.
    pub(super) fn headroom_exhausted(&self, surplus: &Bound) -> bool {
        let mut any = false;
        for id in 0..self.names.len() {
            if self.free_unres.get(id) <= 0 {
                continue;
            }
            any = true;
            if surplus.get(id) > 0 {
                return false;
            }
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DrfConfig, HierarchicalAllocator, Quota};
    use crate::allocator::Allocator;

    fn q(text: &str) -> corral_resources::ResourceQuantities {
        corral_resources::ResourceQuantities::parse(text).unwrap_or_default()
    }

    fn res(text: &str) -> corral_resources::Resources {
        corral_resources::parse_resources(text).unwrap_or_default()
    }

    #[test]
    fn nested_needs_are_not_double_counted() {
        let mut a = HierarchicalAllocator::new(DrfConfig::default());
        a.add_agent("a1", &res("cpus:100;mem:1000"), &[]);
        let quota = |g: &str| Quota {
            guarantees: q(g),
            limits: corral_resources::ResourceQuantities::new(),
        };
        a.set_quota("eng", Some(quota("cpus:10")));
        a.set_quota("eng/ml", Some(quota("cpus:4")));
        a.set_quota("ops", Some(quota("cpus:3")));
        let cpus = a.names.id("cpus").unwrap_or(usize::MAX);
        assert_eq!(a.required_headroom().get(cpus), 13_000);
        a.set_quota("eng", None);
        assert_eq!(a.required_headroom().get(cpus), 7_000);
        a.set_quota("eng/ml", None);
        a.set_quota("ops", None);
        assert!(a.required_headroom().is_zero());
        assert!(a.tree.lookup("eng").is_none(), "idle roles are forgotten");
    }
}
