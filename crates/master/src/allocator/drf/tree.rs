//! The role tree and its weighted-share ordering.
//!
//! Every role (`eng`, `eng/ml`, …) is a node under a virtual root. A node keeps, incrementally:
//! * what is allocated to its subtree and to its own frameworks (for DRF shares), what of it is
//!   unreserved non-revocable and what is reserved to the subtree (quota consumption);
//! * `order`: its children that have live slots, plus an `Own` entry standing for its own
//!   frameworks, sorted by weighted dominant share then name (Mesos's hierarchical sorter,
//!   where a role's own frameworks compete with its sub-roles as a virtual leaf);
//! * `slots`: its live (active, unsuppressed) framework slots, sorted by the framework's dominant
//!   share in this role then framework id.
//!
//! Keys are updated on every allocation and recovery (O(depth · log n)), so an allocation
//! cycle never sorts anything. When cluster totals or weights change, every key changes and
//! the owner rebuilds them once (see `HierarchicalAllocator::rebuild_keys`).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::qty::{Bound, Qty};
use super::Quota;

/// Index of a role node. [`ROOT`] is the virtual root.
pub(super) type RoleIdx = usize;
/// Index of a (framework, role) slot.
pub(super) type SlotIdx = usize;
/// The virtual root.
pub(super) const ROOT: RoleIdx = 0;

/// An `f64` with a total order (shares are finite and non-negative).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct OrdF64(pub f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What an ordering entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Tag {
    /// The role's own frameworks (a virtual leaf).
    Own,
    /// A child role.
    Role(RoleIdx),
    /// A framework slot.
    Slot(SlotIdx),
}

/// An ordering key: weighted share, then name, then identity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub share: OrdF64,
    pub name: Arc<str>,
    pub tag: Tag,
}

/// One role.
#[derive(Debug)]
pub(super) struct Role {
    pub name: Arc<str>,
    pub parent: RoleIdx,
    pub children: Vec<RoleIdx>,
    pub weight: f64,
    pub weight_set: bool,
    pub quota: Option<Quota>,
    pub guarantees: Qty,
    pub limits: Bound,
    /// Framework slots subscribed to this role (live or not).
    pub subscribers: u32,
    /// Agent held entries charged to this role.
    pub held_refs: u32,
    pub alloc_own: Qty,
    pub alloc_sub: Qty,
    /// Unreserved non-revocable part of `alloc_sub`.
    pub unres_sub: Qty,
    /// Scalars reserved (on agent totals) to exactly this role / to its subtree.
    pub reserved_own: Qty,
    pub reserved_sub: Qty,
    pub slots: BTreeSet<Key>,
    pub order: BTreeSet<Key>,
    /// This role's key in its parent's `order` (kept even while absent from it).
    pub key: Key,
    /// The `Own` entry's key in this role's `order`.
    pub own_key: Key,
    /// Live slots in the subtree.
    pub live_sub: u32,
    /// Headroom this subtree still needs for guarantees, and the sum of the children's.
    pub need: Qty,
    pub child_need: Qty,
    /// The role's own limits leave no unreserved scalar it could get.
    pub own_blocked: bool,
    /// Live slots in the subtree not under a blocked role, ignoring this role's own block.
    pub open_raw: u32,
}

impl Role {
    fn new(name: Arc<str>, parent: RoleIdx, idx: RoleIdx) -> Role {
        Role {
            key: Key {
                share: OrdF64(0.0),
                name: name.clone(),
                tag: Tag::Role(idx),
            },
            own_key: Key {
                share: OrdF64(0.0),
                name: name.clone(),
                tag: Tag::Own,
            },
            name,
            parent,
            children: Vec::new(),
            weight: 1.0,
            weight_set: false,
            quota: None,
            guarantees: Qty::default(),
            limits: Bound::unlimited(),
            subscribers: 0,
            held_refs: 0,
            alloc_own: Qty::default(),
            alloc_sub: Qty::default(),
            unres_sub: Qty::default(),
            reserved_own: Qty::default(),
            reserved_sub: Qty::default(),
            slots: BTreeSet::new(),
            order: BTreeSet::new(),
            live_sub: 0,
            need: Qty::default(),
            child_need: Qty::default(),
            own_blocked: false,
            open_raw: 0,
        }
    }

    /// Quota consumption: reservations plus unreserved non-revocable allocations (subtree).
    pub fn consumed(&self) -> Qty {
        let mut c = self.reserved_sub.clone();
        c.add(&self.unres_sub);
        c
    }

    /// Live slots in the subtree that could get unreserved scalars.
    pub fn open_sub(&self) -> u32 {
        if self.own_blocked {
            0
        } else {
            self.open_raw
        }
    }

    /// True when the role holds nothing worth remembering.
    fn is_idle(&self) -> bool {
        self.subscribers == 0
            && self.held_refs == 0
            && self.children.is_empty()
            && !self.weight_set
            && self.quota.is_none()
            && self.reserved_own.is_zero()
            && self.slots.is_empty()
    }
}

/// The role tree.
#[derive(Debug)]
pub(super) struct RoleTree {
    roles: Vec<Option<Role>>,
    free: Vec<RoleIdx>,
    by_name: HashMap<Arc<str>, RoleIdx>,
    /// Roles with a quota set.
    pub quota_roles: usize,
}

impl Default for RoleTree {
    fn default() -> Self {
        RoleTree {
            roles: vec![Some(Role::new(Arc::from(""), ROOT, ROOT))],
            free: Vec::new(),
            by_name: HashMap::new(),
            quota_roles: 0,
        }
    }
}

impl RoleTree {
    /// The role at `r` (a removed index yields the root, which callers never hold).
    pub fn get(&self, r: RoleIdx) -> &Role {
        match self.roles.get(r).and_then(Option::as_ref) {
            Some(role) => role,
            None => self.roles[ROOT].as_ref().unwrap_or_else(|| unreachable!("root")),
        }
    }

    /// The role at `r`, mutably.
    pub fn get_mut(&mut self, r: RoleIdx) -> &mut Role {
        let r = if matches!(self.roles.get(r), Some(Some(_))) {
            r
        } else {
            ROOT
        };
        self.roles[r].as_mut().unwrap_or_else(|| unreachable!("checked"))
    }

    /// Every live role index but the root.
    pub fn indices(&self) -> impl Iterator<Item = RoleIdx> + '_ {
        self.roles
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, r)| r.is_some())
            .map(|(i, _)| i)
    }

    /// The role named `name`, if known.
    pub fn lookup(&self, name: &str) -> Option<RoleIdx> {
        self.by_name.get(name).copied()
    }

    /// The role named `name`, created (with its ancestors) when new.
    pub fn ensure(&mut self, name: &str) -> RoleIdx {
        if let Some(r) = self.lookup(name) {
            return r;
        }
        let parent = match corral_resources::roles::parent_role(name) {
            Some(p) if !p.is_empty() => self.ensure(p),
            _ => ROOT,
        };
        let name: Arc<str> = Arc::from(name);
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.roles.push(None);
                self.roles.len() - 1
            }
        };
        self.roles[idx] = Some(Role::new(name.clone(), parent, idx));
        self.by_name.insert(name, idx);
        self.get_mut(parent).children.push(idx);
        idx
    }

    /// `r` and its ancestors, nearest first, without the root.
    pub fn chain(&self, r: RoleIdx) -> Vec<RoleIdx> {
        let mut out = Vec::with_capacity(4);
        let mut q = r;
        while q != ROOT && out.len() < 1024 {
            out.push(q);
            q = self.get(q).parent;
        }
        out
    }

    /// The top-level ancestor of `r` (or `r`).
    pub fn top(&self, r: RoleIdx) -> RoleIdx {
        let mut q = r;
        while q != ROOT && self.get(q).parent != ROOT {
            q = self.get(q).parent;
        }
        q
    }

    /// Forgets idle roles from `r` upwards.
    pub fn maybe_gc(&mut self, r: RoleIdx) {
        let mut q = r;
        while q != ROOT && self.get(q).is_idle() {
            let parent = self.get(q).parent;
            if let Some(role) = self.roles.get_mut(q).and_then(Option::take) {
                self.by_name.remove(&role.name);
                self.free.push(q);
            }
            self.get_mut(parent).children.retain(|c| *c != q);
            q = parent;
        }
    }

    /// Replaces the key of `r` in its parent's order.
    pub fn set_role_key(&mut self, r: RoleIdx, share: f64) {
        if r == ROOT {
            return;
        }
        let role = self.get_mut(r);
        if role.key.share.0 == share {
            return;
        }
        let old = role.key.clone();
        role.key.share = OrdF64(share);
        let (new, live, parent) = (role.key.clone(), role.live_sub > 0, role.parent);
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
        let old = role.own_key.clone();
        role.own_key.share = OrdF64(share);
        if !role.slots.is_empty() {
            let new = role.own_key.clone();
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
            let own = role.own_key.clone();
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
            let own = role.own_key.clone();
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
            let (key, parent) = (role.key.clone(), role.parent);
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
        self.chain(r).into_iter().any(|q| self.get(q).own_blocked)
    }

    /// The ordering path of `r`'s own frameworks: keys from the root down to its `Own` entry.
    pub fn path(&self, r: RoleIdx) -> Vec<Key> {
        let chain = self.chain(r);
        let mut out: Vec<Key> = chain.iter().rev().map(|q| self.get(*q).key.clone()).collect();
        out.push(self.get(r).own_key.clone());
        out
    }

    /// Drops every ordering entry (before a full rebuild of the keys).
    pub fn clear_order(&mut self) {
        for role in self.roles.iter_mut().flatten() {
            role.slots.clear();
            role.order.clear();
            role.live_sub = 0;
            role.open_raw = 0;
        }
    }
}
