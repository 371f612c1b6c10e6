//! A normalized collection of resources and its algebra.

use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;

use crate::error::{ParseError, ResourcesError, ValidationError};
use crate::resource::{Reservation, Resource};
use crate::value::Value;

mod filters;

/// One distinct resource and, for shared resources, how many copies are held.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Entry {
    resource: Resource,
    /// Always 1 for non-shared resources.
    count: u64,
}

/// A collection of resources, kept normalized: resources that differ only in
/// their value (same name, type, reservations, allocation role and markers)
/// are merged into one entry, and empty values are dropped.
///
/// Exceptions, as in Mesos:
/// * persistent volumes and exclusive disks (MOUNT, BLOCK, RAW with id) are
///   never merged or split; they are added and taken out whole;
/// * shared resources (`shared: true`) form a counted multiset: adding an
///   identical shared resource increments its count, and [`Resources::iter`]
///   yields it once (use [`Resources::count`] for the count).
///
/// Equality is Mesos's: each side contains the other (entry order is ignored,
/// and disk `volume` info is not part of a disk's identity).
#[derive(Clone, Debug, Default)]
pub struct Resources {
    entries: Vec<Entry>,
}

impl Resources {
    /// An empty collection.
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Validates every resource, then collects them.
    pub fn try_from_resources(
        resources: impl IntoIterator<Item = Resource>,
    ) -> Result<Resources, ValidationError> {
        let mut out = Resources::new();
        for resource in resources {
            resource.validate()?;
            out.add(resource);
        }
        Ok(out)
    }

    /// Adds one resource. Empty values are ignored, and so is a negative
    /// scalar (it cannot be held; validate input with [`Resource::validate`]).
    pub fn add(&mut self, resource: Resource) {
        self.add_entry(resource, 1);
    }

    /// Adds every resource of `other`.
    pub fn add_all(&mut self, other: &Resources) {
        for entry in &other.entries {
            self.add_entry(entry.resource.clone(), entry.count);
        }
    }

    fn add_entry(&mut self, resource: Resource, count: u64) {
        if count == 0 || resource.is_empty() {
            return;
        }
        if matches!(&resource.value, Value::Scalar(s) if s.is_negative()) {
            return;
        }
        match self
            .entries
            .iter_mut()
            .find(|e| e.resource.addable(&resource))
        {
            Some(entry) if resource.shared => entry.count = entry.count.saturating_add(count),
            Some(entry) => entry.resource.value.add_assign(&resource.value),
            None => self.entries.push(Entry { resource, count }),
        }
    }

    /// True when `self` holds at least everything in `other`.
    pub fn contains(&self, other: &Resources) -> bool {
        // Whole, non-shared resources (persistent volumes, MOUNT disks) may
        // occur several times and must be matched one by one.
        if other
            .entries
            .iter()
            .any(|e| !e.resource.shared && e.resource.is_indivisible())
        {
            return self.checked_sub(other).is_ok();
        }
        other
            .entries
            .iter()
            .all(|e| self.find_containing(&e.resource, e.count).is_some())
    }

    /// True when `self` holds at least `resource`.
    pub fn contains_resource(&self, resource: &Resource) -> bool {
        resource.is_empty() || self.find_containing(resource, 1).is_some()
    }

    fn find_containing(&self, resource: &Resource, count: u64) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.resource.contains(resource) && (!resource.shared || e.count >= count))
    }

    /// Takes `other` out of `self`. Fails, leaving `self` unchanged, unless
    /// `self` contains `other`.
    pub fn subtract(&mut self, other: &Resources) -> Result<(), ResourcesError> {
        let mut result = self.clone();
        for entry in &other.entries {
            result.take_entry(&entry.resource, entry.count)?;
        }
        *self = result;
        Ok(())
    }

    /// `self - other` if `self` contains `other`.
    pub fn checked_sub(&self, other: &Resources) -> Result<Resources, ResourcesError> {
        let mut result = self.clone();
        result.subtract(other)?;
        Ok(result)
    }

    /// Takes one resource out of `self`; fails, leaving `self` unchanged,
    /// unless `self` contains it.
    pub fn subtract_resource(&mut self, resource: &Resource) -> Result<(), ResourcesError> {
        self.take_entry(resource, 1)
    }

    fn take_entry(&mut self, resource: &Resource, count: u64) -> Result<(), ResourcesError> {
        if resource.is_empty() {
            return Ok(());
        }
        let idx =
            self.find_containing(resource, count)
                .ok_or_else(|| ResourcesError::NotContained {
                    missing: resource.to_string(),
                })?;
        let entry = &mut self.entries[idx];
        if resource.shared {
            entry.count -= count;
        } else {
            entry.resource.value.sub_assign(&resource.value);
        }
        if entry.count == 0 || entry.resource.is_empty() {
            self.entries.remove(idx);
        }
        Ok(())
    }

    /// Mesos's unchecked `-`: takes out what matches and drops whatever would
    /// become empty or negative; parts of `other` not in `self` are ignored.
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        let mut result = self.clone();
        for theirs in &other.entries {
            let found = result
                .entries
                .iter()
                .position(|e| e.resource.subtractable(&theirs.resource));
            let Some(idx) = found else { continue };
            let entry = &mut result.entries[idx];
            if theirs.resource.shared {
                entry.count = entry.count.saturating_sub(theirs.count);
            } else {
                entry.resource.value.sub_assign(&theirs.resource.value);
            }
            let negative = matches!(&entry.resource.value, Value::Scalar(s) if s.is_negative());
            if entry.count == 0 || negative || entry.resource.is_empty() {
                result.entries.remove(idx);
            }
        }
        result
    }

    /// True when there are no resources.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of distinct resources (a shared resource counts once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The distinct resources, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Resource> + '_ {
        self.entries.iter().map(|e| &e.resource)
    }

    /// How many copies of `resource` are held (Mesos equality): the shared
    /// count for shared resources, 1 or 0 otherwise.
    pub fn count(&self, resource: &Resource) -> u64 {
        self.entries
            .iter()
            .find(|e| e.resource.same_as(resource))
            .map_or(0, |e| e.count)
    }

    /// The distinct resources as a vector (as Mesos converts to a repeated field).
    pub fn to_vec(&self) -> Vec<Resource> {
        self.iter().cloned().collect()
    }

    /// Sets the allocation role of every resource.
    pub fn allocate(&mut self, role: &str) {
        self.rebuild(|r| r.allocation_role = Some(role.to_string()));
    }

    /// Clears the allocation role of every resource.
    pub fn unallocate(&mut self) {
        self.rebuild(|r| r.allocation_role = None);
    }

    /// A copy with `reservation` pushed on every resource's stack. Fails if
    /// a result is invalid (e.g. not a refinement of the current reservation).
    pub fn push_reservation(&self, reservation: &Reservation) -> Result<Resources, ResourcesError> {
        let mut out = Resources::new();
        for entry in &self.entries {
            let mut resource = entry.resource.clone();
            resource.reservations.push(reservation.clone());
            resource.validate()?;
            out.add_entry(resource, entry.count);
        }
        Ok(out)
    }

    /// A copy with the innermost reservation removed from every resource.
    /// Fails if any resource is unreserved.
    pub fn pop_reservation(&self) -> Result<Resources, ResourcesError> {
        let mut out = Resources::new();
        for entry in &self.entries {
            let mut resource = entry.resource.clone();
            if resource.reservations.pop().is_none() {
                return Err(ResourcesError::NotReserved {
                    resource: entry.resource.to_string(),
                });
            }
            out.add_entry(resource, entry.count);
        }
        Ok(out)
    }

    /// A copy with every reservation removed.
    pub fn to_unreserved(&self) -> Resources {
        let mut out = self.clone();
        out.rebuild(|r| r.reservations.clear());
        out
    }

    /// Applies `change` to every resource and re-normalizes.
    fn rebuild(&mut self, mut change: impl FnMut(&mut Resource)) {
        let entries = std::mem::take(&mut self.entries);
        for mut entry in entries {
            change(&mut entry.resource);
            self.add_entry(entry.resource, entry.count);
        }
    }
}

impl PartialEq for Resources {
    fn eq(&self, other: &Resources) -> bool {
        self.contains(other) && other.contains(self)
    }
}

impl Eq for Resources {}

impl From<Resource> for Resources {
    fn from(resource: Resource) -> Resources {
        let mut out = Resources::new();
        out.add(resource);
        out
    }
}

impl FromIterator<Resource> for Resources {
    /// Collects without validation (see [`Resources::add`]).
    fn from_iter<T: IntoIterator<Item = Resource>>(iter: T) -> Resources {
        let mut out = Resources::new();
        out.extend(iter);
        out
    }
}

impl Extend<Resource> for Resources {
    fn extend<T: IntoIterator<Item = Resource>>(&mut self, iter: T) {
        for resource in iter {
            self.add(resource);
        }
    }
}

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, rhs: &Resources) {
        self.add_all(rhs);
    }
}

impl AddAssign<Resource> for Resources {
    fn add_assign(&mut self, rhs: Resource) {
        self.add(rhs);
    }
}

/// Mesos text syntax, entries joined by `; ` (`cpus(prod):2; mem:1024`), or
/// `{}` when empty. See [`Resource`]'s `Display` for the per-resource form.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("{}");
        }
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}", entry.resource)?;
        }
        Ok(())
    }
}

/// Parses the agent `--resources` flag syntax (text or JSON), default role `*`.
impl FromStr for Resources {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::parse::parse_resources(s)
    }
}

#[cfg(test)]
mod tests;
