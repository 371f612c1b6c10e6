//! Frameworks and their (framework, role) slots.
//!
//! A framework competes in each of its roles through one *slot*. A slot is *live* (in the role's
//! ordering, eligible for offers) while the framework is subscribed and connected and has not
//! suppressed that role. Allocations are charged per (framework, role) whether or not a slot
//! exists, so a framework that left a role (or the allocator altogether) keeps counting until
//! what it held is recovered.

use std::sync::Arc;

use corral_resources::ResourceQuantities;

use super::qty::{NameId, Names, Qty};
use super::tree::{Key, OrdF64, RoleIdx, SlotIdx, Tag};
use super::{FrameworkSpec, HierarchicalAllocator};

/// Index of a framework record.
pub(super) type FwIdx = usize;

/// One alternative of minimum allocatable quantities.
#[derive(Debug, Clone)]
pub(super) struct MinAlt {
    pub raw: ResourceQuantities,
    pub ids: Vec<(NameId, i64)>,
}

impl MinAlt {
    pub fn new(names: &mut Names, raw: &ResourceQuantities) -> MinAlt {
        MinAlt {
            raw: raw.clone(),
            ids: raw
                .iter()
                .map(|(n, v)| (names.intern(n), v.millis()))
                .collect(),
        }
    }

    /// True when an offer with scalar quantities `all` (and resources `offer`, for non-scalar
    /// names) reaches this alternative.
    pub fn met_by(&self, names: &Names, all: &Qty, offer: &corral_resources::Resources) -> bool {
        let mut full: Option<ResourceQuantities> = None;
        self.ids.iter().all(|(id, v)| {
            if names.is_scalar(*id) {
                all.get(*id) >= *v
            } else {
                let q = full.get_or_insert_with(|| offer.quantities());
                q.get(names.name(*id)).millis() >= *v
            }
        })
    }
}

/// A framework's standing in one role.
#[derive(Debug)]
pub(super) struct FwRole {
    pub role: RoleIdx,
    /// The framework subscribed to the role.
    pub subscribed: bool,
    pub suppressed: bool,
    /// Held by the framework in this role (all agents).
    pub alloc: Qty,
    pub slot: Option<SlotIdx>,
    /// `min_allocatable` for this role; `None`: the global default.
    pub min: Option<Vec<MinAlt>>,
}

/// A framework.
#[derive(Debug)]
pub(super) struct Framework {
    pub id: Arc<str>,
    /// Rank of `id` among all framework ids (tie-break of the ordering).
    pub rank: u32,
    pub subscribed: bool,
    pub active: bool,
    pub gpu_aware: bool,
    pub roles: Vec<FwRole>,
    /// Agent held entries charged to this framework.
    pub held_refs: u32,
}

/// A (framework, role) pair competing for offers.
#[derive(Debug)]
pub(super) struct Slot {
    pub fw: FwIdx,
    pub role: RoleIdx,
    pub live: bool,
    pub key: Key,
    /// Agents where filters were added (may repeat or be stale).
    pub filter_agents: Vec<usize>,
    /// Agents where the slot has at least one filter.
    pub filtered_agents: u32,
    /// Latest expiry among its filters (since it last had none).
    pub filter_max_until: f64,
}

impl HierarchicalAllocator {
    /// The framework at `f`.
    pub(super) fn fw(&self, f: FwIdx) -> Option<&Framework> {
        self.frameworks.get(f).and_then(Option::as_ref)
    }

    pub(super) fn fw_mut(&mut self, f: FwIdx) -> Option<&mut Framework> {
        self.frameworks.get_mut(f).and_then(Option::as_mut)
    }

    pub(super) fn slot(&self, s: SlotIdx) -> Option<&Slot> {
        self.slots.get(s).and_then(Option::as_ref)
    }

    pub(super) fn slot_mut(&mut self, s: SlotIdx) -> Option<&mut Slot> {
        self.slots.get_mut(s).and_then(Option::as_mut)
    }

    /// The framework's record, created (unsubscribed) when new.
    pub(super) fn ensure_framework(&mut self, id: &str) -> FwIdx {
        if let Some(f) = self.fw_by_id.get(id) {
            return *f;
        }
        let id: Arc<str> = Arc::from(id);
        self.new_fw_names = true;
        let record = Framework {
            id: id.clone(),
            rank: u32::MAX,
            subscribed: false,
            active: false,
            gpu_aware: false,
            roles: Vec::new(),
            held_refs: 0,
        };
        let f = match self.fw_free.pop() {
            Some(f) => {
                self.frameworks[f] = Some(record);
                f
            }
            None => {
                self.frameworks.push(Some(record));
                self.frameworks.len() - 1
            }
        };
        self.fw_by_id.insert(id, f);
        f
    }

    /// Position of role `r` in the framework's roles, created when new.
    pub(super) fn ensure_fw_role(&mut self, f: FwIdx, r: RoleIdx) -> usize {
        let Some(fw) = self.fw_mut(f) else { return 0 };
        if let Some(pos) = fw.roles.iter().position(|fr| fr.role == r) {
            return pos;
        }
        fw.roles.push(FwRole {
            role: r,
            subscribed: false,
            suppressed: false,
            alloc: Qty::default(),
            slot: None,
            min: None,
        });
        fw.roles.len() - 1
    }

    /// Applies a subscription or update.
    pub(super) fn apply_spec(&mut self, f: FwIdx, spec: &FrameworkSpec) {
        let roles: Vec<RoleIdx> = spec.roles.iter().map(|n| self.tree.ensure(n)).collect();
        let suppressed: Vec<RoleIdx> = spec
            .suppressed_roles
            .iter()
            .filter_map(|n| self.tree.lookup(n))
            .collect();
        let mut mins = Vec::new();
        for (name, alts) in &spec.min_allocatable {
            let alts: Vec<MinAlt> = alts
                .iter()
                .map(|a| MinAlt::new(&mut self.names, a))
                .collect();
            mins.push((name.clone(), alts));
        }
        for r in &roles {
            self.ensure_fw_role(f, *r);
        }
        let gpu_changed = {
            let Some(fw) = self.fw_mut(f) else { return };
            let changed = fw.gpu_aware != spec.gpu_aware;
            fw.gpu_aware = spec.gpu_aware;
            changed
        };
        let count = self.fw(f).map_or(0, |fw| fw.roles.len());
        for pos in 0..count {
            let name = match self.fw(f).and_then(|fw| fw.roles.get(pos)) {
                Some(fr) => self.tree.get(fr.role).name.clone(),
                None => continue,
            };
            let min = mins
                .iter()
                .find(|(n, _)| **n == *name)
                .map(|(_, a)| a.clone());
            if let Some(fr) = self.fw_mut(f).and_then(|fw| fw.roles.get_mut(pos)) {
                fr.subscribed = roles.contains(&fr.role);
                fr.suppressed = suppressed.contains(&fr.role);
                fr.min = min;
            }
            if gpu_changed {
                self.set_live(f, pos, false);
            }
        }
        self.refresh_framework(f);
    }

    /// Brings every slot of `f` in line with its flags, and forgets what is no longer needed.
    pub(super) fn refresh_framework(&mut self, f: FwIdx) {
        let count = self.fw(f).map_or(0, |fw| fw.roles.len());
        for pos in 0..count {
            self.refresh_fw_role(f, pos);
        }
        let mut dropped = Vec::new();
        if let Some(fw) = self.fw_mut(f) {
            fw.roles.retain(|fr| {
                let keep = fr.subscribed || !fr.alloc.is_zero() || fr.slot.is_some();
                if !keep {
                    dropped.push(fr.role);
                }
                keep
            });
        }
        for r in dropped {
            self.tree.maybe_gc(r);
        }
        self.maybe_gc_framework(f);
    }

    fn refresh_fw_role(&mut self, f: FwIdx, pos: usize) {
        let Some(fw) = self.fw(f) else { return };
        let Some(fr) = fw.roles.get(pos) else { return };
        let want_slot = fw.subscribed && fr.subscribed;
        let want_live = want_slot && fw.active && !fr.suppressed;
        let (r, slot) = (fr.role, fr.slot);
        match (slot, want_slot) {
            (None, true) => {
                let key = self.make_slot_key(f, pos, usize::MAX);
                let s = match self.slot_free.pop() {
                    Some(s) => s,
                    None => {
                        self.slots.push(None);
                        self.slots.len() - 1
                    }
                };
                let key = Key {
                    tag: Tag::Slot(s),
                    ..key
                };
                self.new_fw_names = true;
                self.slots[s] = Some(Slot {
                    fw: f,
                    role: r,
                    live: false,
                    key,
                    filter_agents: Vec::new(),
                    filtered_agents: 0,
                    filter_max_until: f64::NEG_INFINITY,
                });
                if let Some(fr) = self.fw_mut(f).and_then(|fw| fw.roles.get_mut(pos)) {
                    fr.slot = Some(s);
                }
                self.tree.get_mut(r).subscribers += 1;
            }
            (Some(s), false) => {
                self.set_live(f, pos, false);
                self.purge_slot_filters(s);
                self.slots[s] = None;
                self.slot_free.push(s);
                if let Some(fr) = self.fw_mut(f).and_then(|fw| fw.roles.get_mut(pos)) {
                    fr.slot = None;
                }
                let role = self.tree.get_mut(r);
                role.subscribers = role.subscribers.saturating_sub(1);
                return;
            }
            _ => {}
        }
        self.set_live(f, pos, want_live);
    }

    /// Puts the slot of `(f, pos)` in or out of its role's ordering.
    pub(super) fn set_live(&mut self, f: FwIdx, pos: usize, live: bool) {
        let Some(fw) = self.fw(f) else { return };
        let gpu_aware = fw.gpu_aware;
        let Some(s) = fw.roles.get(pos).and_then(|fr| fr.slot) else {
            return;
        };
        let Some(slot) = self.slot(s) else { return };
        if slot.live == live {
            return;
        }
        let (r, key) = (slot.role, slot.key);
        if live {
            self.tree.insert_slot(r, key);
            self.live_bits.insert(s);
            if gpu_aware {
                self.gpu_bits.insert(s);
            }
        } else {
            self.tree.remove_slot(r, &key);
            self.live_bits.remove(s);
            self.gpu_bits.remove(s);
        }
        if let Some(slot) = self.slot_mut(s) {
            slot.live = live;
        }
    }

    /// The ordering key of `(f, pos)` from its current allocation.
    pub(super) fn make_slot_key(&self, f: FwIdx, pos: usize, s: SlotIdx) -> Key {
        let (share, rank) = match self.fw(f) {
            Some(fw) => (
                fw.roles
                    .get(pos)
                    .map_or(0.0, |fr| fr.alloc.dominant_share(&self.inv_totals)),
                fw.rank,
            ),
            None => (0.0, u32::MAX),
        };
        Key {
            share: OrdF64(share),
            rank,
            tag: Tag::Slot(s),
        }
    }

    /// Re-sorts a slot after its allocation changed.
    pub(super) fn rekey_slot(&mut self, f: FwIdx, pos: usize) {
        let Some(s) = self
            .fw(f)
            .and_then(|fw| fw.roles.get(pos))
            .and_then(|fr| fr.slot)
        else {
            return;
        };
        let new = self.make_slot_key(f, pos, s);
        let Some(slot) = self.slot_mut(s) else { return };
        if slot.key == new {
            return;
        }
        let old = std::mem::replace(&mut slot.key, new);
        let (live, r) = (slot.live, slot.role);
        if live {
            self.tree.rekey_slot(r, &old, new);
        }
    }

    /// Forgets a framework that is neither subscribed nor holding anything.
    pub(super) fn maybe_gc_framework(&mut self, f: FwIdx) {
        let Some(fw) = self.fw(f) else { return };
        if fw.subscribed || fw.held_refs > 0 || fw.roles.iter().any(|fr| fr.slot.is_some()) {
            return;
        }
        let roles: Vec<RoleIdx> = fw.roles.iter().map(|fr| fr.role).collect();
        let id = fw.id.clone();
        self.frameworks[f] = None;
        self.fw_free.push(f);
        self.fw_by_id.remove(&id);
        for r in roles {
            self.tree.maybe_gc(r);
        }
    }

    /// The framework's roles for a SUPPRESS/REVIVE naming `roles` (all when empty).
    pub(super) fn targeted_roles(&self, f: FwIdx, roles: &[String]) -> Vec<usize> {
        let Some(fw) = self.fw(f) else {
            return Vec::new();
        };
        fw.roles
            .iter()
            .enumerate()
            .filter(|(_, fr)| {
                fr.subscribed
                    && (roles.is_empty()
                        || roles.iter().any(|n| *n == *self.tree.get(fr.role).name))
            })
            .map(|(pos, _)| pos)
            .collect()
    }
}
