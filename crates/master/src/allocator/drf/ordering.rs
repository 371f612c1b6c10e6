//! The role tree's orderings: re-keying on share changes, live and open counts, paths, and
//! the bulk rebuild after totals, weights or names changed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::tree::{Key, OrdF64, RoleIdx, RoleTree, ROOT};

impl RoleTree {
    /// Replaces the key of `r` in its parent's order.
    pub fn set_role_key(&mut self, r: RoleIdx, share: f64) {
        if r == ROOT {
            return;
        }
        let role = self.get_mut(r);
        if role.key.share.0 == share {
            return;
        }
        let old = role.key;
        role.key.share = OrdF64(share);
        let (new, live, parent) = (role.key, role.live_sub > 0, role.parent);
        if live {
            let order = &mut self.get_mut(parent).order;
            order.remove(&old);
            order.insert(new);
        }
    }

    /// Replaces the key of `r`'s own frameworks in its order.
    pub fn set_own_key(&mut self, r: RoleIdx, share: f64) {
        let role = self.get_mut(r);
        if role.own_key.share.0 == share {
            return;
        }
        let old = role.own_key;
        role.own_key.share = OrdF64(share);
        if !role.slots.is_empty() {
            let new = role.own_key;
            role.order.remove(&old);
            role.order.insert(new);
        }
    }

    /// Replaces a live slot's key.
    pub fn rekey_slot(&mut self, r: RoleIdx, old: &Key, new: Key) {
        let slots = &mut self.get_mut(r).slots;
        if slots.remove(old) {
            slots.insert(new);
        }
    }

    /// A slot becomes live in `r`.
    pub fn insert_slot(&mut self, r: RoleIdx, key: Key) {
        let role = self.get_mut(r);
        if !role.slots.insert(key) {
            return;
        }
        if role.slots.len() == 1 {
            let own = role.own_key;
            role.order.insert(own);
        }
        self.add_live(r, 1);
        self.add_open(r, 1);
    }

    /// A live slot stops being live in `r`.
    pub fn remove_slot(&mut self, r: RoleIdx, key: &Key) {
        let role = self.get_mut(r);
        if !role.slots.remove(key) {
            return;
        }
        if role.slots.is_empty() {
            let own = role.own_key;
            role.order.remove(&own);
        }
        self.add_live(r, -1);
        self.add_open(r, -1);
    }

    fn add_live(&mut self, r: RoleIdx, delta: i64) {
        let mut q = r;
        loop {
            let role = self.get_mut(q);
            let before = role.live_sub;
            role.live_sub = (i64::from(before) + delta).max(0) as u32;
            let after = role.live_sub;
            if q == ROOT {
                return;
            }
            let (key, parent) = (role.key, role.parent);
            if before == 0 && after > 0 {
                self.get_mut(parent).order.insert(key);
            } else if before > 0 && after == 0 {
                self.get_mut(parent).order.remove(&key);
            }
            q = parent;
        }
    }

    /// Adds `delta` to `r`'s open count and carries the change of `open_sub` upwards.
    fn add_open(&mut self, r: RoleIdx, delta: i64) {
        let mut q = r;
        let mut delta = delta;
        while delta != 0 {
            let role = self.get_mut(q);
            let before = i64::from(role.open_sub());
            role.open_raw = (i64::from(role.open_raw) + delta).max(0) as u32;
            delta = i64::from(role.open_sub()) - before;
            if q == ROOT {
                return;
            }
            q = role.parent;
        }
    }

    /// Sets whether `r`'s own limits block it, keeping the open counts right.
    pub fn set_blocked(&mut self, r: RoleIdx, blocked: bool) {
        if r == ROOT || self.get(r).own_blocked == blocked {
            return;
        }
        let role = self.get_mut(r);
        let before = i64::from(role.open_sub());
        role.own_blocked = blocked;
        let delta = i64::from(role.open_sub()) - before;
        let parent = role.parent;
        self.add_open(parent, delta);
    }

    /// True when `r` or an ancestor is blocked by its limits.
    pub fn path_blocked(&self, r: RoleIdx) -> bool {
        self.chain(r).any(|q| self.get(q).own_blocked)
    }

    /// The ordering path of `r`'s own frameworks: keys from the root down to its `Own` entry.
    pub fn path(&self, r: RoleIdx) -> Vec<Key> {
        let chain: Vec<RoleIdx> = self.chain(r).collect();
        let mut out: Vec<Key> = chain.iter().rev().map(|q| self.get(*q).key).collect();
        out.push(self.get(r).own_key);
        out
    }

    /// Assigns name ranks (roles sorted by name) while the orderings are empty.
    pub fn assign_ranks(&mut self) {
        let mut names: Vec<(Arc<str>, RoleIdx)> =
            self.by_name.iter().map(|(n, r)| (n.clone(), *r)).collect();
        names.sort();
        for (rank, (_, r)) in names.into_iter().enumerate() {
            let role = self.get_mut(r);
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            role.key.rank = rank;
            role.own_key.rank = rank;
        }
        self.new_names = false;
    }

    /// Sets `r`'s shares while the orderings are being rebuilt (see [`Self::rebuild_order`]).
    pub fn set_shares(&mut self, r: RoleIdx, own: f64, sub: f64) {
        let role = self.get_mut(r);
        role.own_key.share = OrdF64(own);
        role.key.share = OrdF64(sub);
    }

    /// Rebuilds every ordering set and count from the live slots' keys, bottom-up, building
    /// each sorted set in bulk.
    pub fn rebuild_order(&mut self, mut live: Vec<(RoleIdx, Key)>) {
        live.sort_unstable();
        // Post-order: children before parents.
        let mut post = Vec::with_capacity(self.roles.len());
        let mut stack = vec![(ROOT, false)];
        while let Some((r, expanded)) = stack.pop() {
            if expanded || post.len() > self.roles.len() {
                post.push(r);
                continue;
            }
            stack.push((r, true));
            stack.extend(self.get(r).children.iter().map(|c| (*c, false)));
        }
        let mut start = 0;
        let mut by_role: HashMap<RoleIdx, &[(RoleIdx, Key)]> = HashMap::new();
        while start < live.len() {
            let r = live[start].0;
            let end = live[start..]
                .iter()
                .position(|(x, _)| *x != r)
                .map_or(live.len(), |n| start + n);
            by_role.insert(r, &live[start..end]);
            start = end;
        }
        for r in post {
            let slots: BTreeSet<Key> = by_role
                .get(&r)
                .map(|keys| keys.iter().map(|(_, k)| *k).collect())
                .unwrap_or_default();
            let role = self.get(r);
            let mut order: Vec<Key> = role
                .children
                .iter()
                .map(|c| self.get(*c))
                .filter(|c| c.live_sub > 0)
                .map(|c| c.key)
                .collect();
            if !slots.is_empty() {
                order.push(role.own_key);
            }
            let n = slots.len() as u32;
            let live_sub = n + role
                .children
                .iter()
                .map(|c| self.get(*c).live_sub)
                .sum::<u32>();
            let open_raw = n + role
                .children
                .iter()
                .map(|c| self.get(*c).open_sub())
                .sum::<u32>();
            let role = self.get_mut(r);
            role.slots = slots;
            role.order = order.into_iter().collect();
            role.live_sub = live_sub;
            role.open_raw = open_raw;
        }
    }
}
