//! Filters, groupings and per-name totals of [`Resources`].

use std::collections::{BTreeMap, BTreeSet};

use super::{Entry, Resources};
use crate::quantities::ResourceQuantities;
use crate::ranges::Ranges;
use crate::resource::Resource;
use crate::scalar::Scalar;
use crate::set::Set;
use crate::value::{Value, ValueType};

impl Resources {
    /// The resources for which `predicate` holds (still normalized: a subset
    /// of a normalized collection needs no merging).
    pub fn filter(&self, mut predicate: impl FnMut(&Resource) -> bool) -> Resources {
        Resources {
            entries: self
                .entries
                .iter()
                .filter(|e| predicate(&e.resource))
                .cloned()
                .collect(),
        }
    }

    /// Resources whose name is `name`.
    pub fn named(&self, name: &str) -> Resources {
        self.filter(|r| r.name == name)
    }

    /// Resources with an empty reservation stack.
    pub fn unreserved(&self) -> Resources {
        self.filter(Resource::is_unreserved)
    }

    /// Resources whose innermost reservation is to exactly `role`.
    pub fn reserved(&self, role: &str) -> Resources {
        self.filter(|r| r.reservation_role() == Some(role))
    }

    /// All reserved resources, whatever the role.
    pub fn reserved_any(&self) -> Resources {
        self.filter(Resource::is_reserved)
    }

    /// Resources reserved to `role` or to one of its descendants.
    pub fn reserved_to_role_subtree(&self, role: &str) -> Resources {
        self.filter(|r| r.is_reserved_to_role_subtree(role))
    }

    /// Reserved resources grouped by their innermost reservation role.
    pub fn reservations(&self) -> BTreeMap<String, Resources> {
        self.group_by(|r| r.reservation_role().map(str::to_string))
    }

    /// Resources a framework in `role` may be offered: unreserved ones, and
    /// those reserved to `role` or to an ancestor of `role`.
    pub fn allocatable_to_role(&self, role: &str) -> Resources {
        self.filter(|r| r.is_allocatable_to(role))
    }

    /// Resources whose allocation role is exactly `role`.
    pub fn allocated_to(&self, role: &str) -> Resources {
        self.filter(|r| r.allocation_role.as_deref() == Some(role))
    }

    /// Resources allocated to `role` or to one of its descendants.
    pub fn allocated_to_role_subtree(&self, role: &str) -> Resources {
        self.filter(|r| r.is_allocated_to_role_subtree(role))
    }

    /// Resources without an allocation role.
    pub fn unallocated(&self) -> Resources {
        self.filter(|r| r.allocation_role.is_none())
    }

    /// Allocated resources grouped by allocation role.
    pub fn allocations(&self) -> BTreeMap<String, Resources> {
        self.group_by(|r| r.allocation_role.clone())
    }

    /// Revocable resources.
    pub fn revocable(&self) -> Resources {
        self.filter(|r| r.revocable)
    }

    /// Non-revocable resources.
    pub fn non_revocable(&self) -> Resources {
        self.filter(|r| !r.revocable)
    }

    /// Shared resources.
    pub fn shared(&self) -> Resources {
        self.filter(|r| r.shared)
    }

    /// Non-shared resources.
    pub fn non_shared(&self) -> Resources {
        self.filter(|r| !r.shared)
    }

    /// Persistent volumes.
    pub fn persistent_volumes(&self) -> Resources {
        self.filter(Resource::is_persistent_volume)
    }

    fn group_by(&self, key: impl Fn(&Resource) -> Option<String>) -> BTreeMap<String, Resources> {
        let mut groups: BTreeMap<String, Resources> = BTreeMap::new();
        for entry in &self.entries {
            if let Some(k) = key(&entry.resource) {
                groups
                    .entry(k)
                    .or_default()
                    .entries
                    .push(Entry::clone(entry));
            }
        }
        groups
    }

    /// Sum of the scalar resources named `name` (zero when absent).
    pub fn scalar(&self, name: &str) -> Scalar {
        self.iter()
            .filter(|r| r.name == name)
            .filter_map(Resource::as_scalar)
            .sum()
    }

    /// Union of the ranges resources named `name`.
    pub fn ranges(&self, name: &str) -> Ranges {
        Ranges::coalesce(
            self.iter()
                .filter(|r| r.name == name)
                .filter_map(Resource::as_ranges)
                .flat_map(Ranges::iter),
        )
    }

    /// Union of the set resources named `name`.
    pub fn set(&self, name: &str) -> Set {
        self.iter()
            .filter(|r| r.name == name)
            .filter_map(Resource::as_set)
            .fold(Set::new(), |acc, s| acc.union(s))
    }

    /// Total `cpus`.
    pub fn cpus(&self) -> Scalar {
        self.scalar("cpus")
    }

    /// Total `mem` (MB).
    pub fn mem(&self) -> Scalar {
        self.scalar("mem")
    }

    /// Total `disk` (MB).
    pub fn disk(&self) -> Scalar {
        self.scalar("disk")
    }

    /// Total `gpus`.
    pub fn gpus(&self) -> Scalar {
        self.scalar("gpus")
    }

    /// All `ports`.
    pub fn ports(&self) -> Ranges {
        self.ranges("ports")
    }

    /// The distinct resource names.
    pub fn names(&self) -> BTreeSet<String> {
        self.iter().map(|r| r.name.clone()).collect()
    }

    /// Name → type (the first type seen when a name has several).
    pub fn types(&self) -> BTreeMap<String, ValueType> {
        let mut types = BTreeMap::new();
        for r in self.iter() {
            types.entry(r.name.clone()).or_insert(r.value_type());
        }
        types
    }

    /// Name → total quantity, ignoring reservations, allocation and markers.
    /// Ranges count their values and sets their items (Mesos
    /// `ResourceQuantities::fromResources`).
    pub fn quantities(&self) -> ResourceQuantities {
        ResourceQuantities::from_resources(self)
    }

    /// Like [`Resources::quantities`], restricted to scalar resources.
    pub fn scalar_quantities(&self) -> ResourceQuantities {
        let mut q = ResourceQuantities::new();
        for r in self.iter() {
            if let Value::Scalar(s) = &r.value {
                q.add_quantity(&r.name, *s);
            }
        }
        q
    }
}
