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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::bound::Bound;
use super::qty::Qty;
use super::Quota;

pub(super) use super::keys::{Chain, Key, OrdF64, RoleIdx, SlotIdx, Tag, MAX_DEPTH, ROOT};

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
                rank: u32::MAX,
                tag: Tag::Role(idx),
            },
            own_key: Key {
                share: OrdF64(0.0),
                rank: u32::MAX,
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
    pub(super) roles: Vec<Option<Role>>,
    free: Vec<RoleIdx>,
    pub(super) by_name: HashMap<Arc<str>, RoleIdx>,
    /// Roles with a quota set.
    pub quota_roles: usize,
    /// A role was created since name ranks were last assigned.
    pub new_names: bool,
}

impl Default for RoleTree {
    fn default() -> Self {
        RoleTree {
            roles: vec![Some(Role::new(Arc::from(""), ROOT, ROOT))],
            free: Vec::new(),
            by_name: HashMap::new(),
            quota_roles: 0,
            new_names: false,
        }
    }
}

impl RoleTree {
    /// The role at `r` (a removed index yields the root, which callers never hold).
    pub fn get(&self, r: RoleIdx) -> &Role {
        match self.roles.get(r).and_then(Option::as_ref) {
            Some(role) => role,
            None => self.roles[ROOT]
                .as_ref()
                .unwrap_or_else(|| unreachable!("root")),
        }
    }

    /// The role at `r`, mutably.
    pub fn get_mut(&mut self, r: RoleIdx) -> &mut Role {
        let r = if matches!(self.roles.get(r), Some(Some(_))) {
            r
        } else {
            ROOT
        };
        self.roles[r]
            .as_mut()
            .unwrap_or_else(|| unreachable!("checked"))
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
        self.new_names = true;
        idx
    }

    /// `r` and its ancestors, nearest first, without the root (no allocation for the usual
    /// depths).
    pub fn chain(&self, r: RoleIdx) -> Chain {
        let mut chain = Chain::default();
        let mut q = r;
        while q != ROOT && !chain.is_full() {
            chain.push(q);
            q = self.get(q).parent;
        }
        chain
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
}
