//! Fixed-point quantity vectors indexed by interned resource names: the currency of shares,
//! quota consumption and headroom inside the DRF allocator. A [`Qty`] is a plain `Vec<i64>` of
//! thousandths (Mesos's three decimals), so sums and comparisons are exact and cheap; a missing
//! index means zero. [`Bound`] is the same shape with "unlimited" as `i64::MAX`.

use corral_resources::{
    DiskSourceKind, Resource, ResourceQuantities, Resources, Scalar, Value,
};

/// Index of a resource name in [`Names`].
pub(super) type NameId = usize;

/// Unlimited, in a [`Bound`].
pub(super) const UNLIMITED: i64 = i64::MAX;

/// The scalar resource names seen so far, in order of first sight.
#[derive(Debug, Default)]
pub(super) struct Names {
    names: Vec<String>,
    /// Seen as a scalar resource on an agent (not only in a quota or a minimum).
    scalar: Vec<bool>,
}

impl Names {
    /// The id of `name`, if seen.
    pub(super) fn id(&self, name: &str) -> Option<NameId> {
        self.names.iter().position(|n| n == name)
    }

    /// The id of `name`, adding it when new.
    pub(super) fn intern(&mut self, name: &str) -> NameId {
        match self.id(name) {
            Some(id) => id,
            None => {
                self.names.push(name.to_string());
                self.scalar.push(false);
                self.names.len() - 1
            }
        }
    }

    /// True when `id` was seen as a scalar resource.
    pub(super) fn is_scalar(&self, id: NameId) -> bool {
        self.scalar.get(id).copied().unwrap_or(false)
    }

    /// The name of `id`.
    pub(super) fn name(&self, id: NameId) -> &str {
        self.names.get(id).map_or("", String::as_str)
    }

    /// Number of names.
    pub(super) fn len(&self) -> usize {
        self.names.len()
    }

    /// Interns every scalar name of `resources`.
    pub(super) fn register(&mut self, resources: &Resources) {
        for r in resources.iter() {
            if matches!(r.value, Value::Scalar(_)) {
                let id = self.intern(&r.name);
                if let Some(flag) = self.scalar.get_mut(id) {
                    *flag = true;
                }
            }
        }
    }

    /// Scalar quantities of `resources`: `(all, unreserved non-revocable)`. Names never
    /// registered are ignored (every agent's resources are registered when it is added).
    pub(super) fn split(&self, resources: &Resources) -> (Qty, Qty) {
        let mut all = Qty::default();
        let mut unres = Qty::default();
        for r in resources.iter() {
            if let Value::Scalar(s) = &r.value {
                if let Some(id) = self.id(&r.name) {
                    all.add_at(id, s.millis());
                    if is_quota_scalar(r) {
                        unres.add_at(id, s.millis());
                    }
                }
            }
        }
        (all, unres)
    }

    /// A [`ResourceQuantities`] as a [`Qty`], interning its names.
    pub(super) fn from_quantities(&mut self, q: &ResourceQuantities) -> Qty {
        let mut out = Qty::default();
        for (name, value) in q.iter() {
            let id = self.intern(name);
            out.add_at(id, value.millis());
        }
        out
    }

    /// A [`Qty`] as a [`ResourceQuantities`].
    pub(super) fn to_quantities(&self, q: &Qty) -> ResourceQuantities {
        q.iter_positive()
            .map(|(id, v)| (self.name(id), Scalar::from_millis(v)))
            .collect()
    }

    /// `cpus 0.01 or mem 32`, for messages.
    pub(super) fn describe_alternatives(&self, alternatives: &[ResourceQuantities]) -> String {
        let parts: Vec<String> = alternatives
            .iter()
            .map(|q| {
                let items: Vec<String> = q.iter().map(|(n, v)| format!("{n} {v}")).collect();
                items.join(" and ")
            })
            .collect();
        parts.join(" or ")
    }
}

/// Unreserved, non-revocable scalar: what quota consumption and headroom are made of.
pub(super) fn is_quota_scalar(r: &Resource) -> bool {
    matches!(r.value, Value::Scalar(_)) && r.is_unreserved() && !r.revocable
}

/// False for resources that must be handed out whole (shared resources, persistent volumes,
/// MOUNT and BLOCK disks, RAW disks with an id).
pub(super) fn divisible(r: &Resource) -> bool {
    if r.shared {
        return false;
    }
    match &r.disk {
        None => true,
        Some(d) => {
            d.persistence.is_none()
                && !d.source.as_ref().is_some_and(|s| match s.kind {
                    DiskSourceKind::Mount | DiskSourceKind::Block => true,
                    DiskSourceKind::Raw => s.id.is_some(),
                    DiskSourceKind::Path => false,
                })
        }
    }
}

/// Non-negative quantities in thousandths, by name id.
#[derive(Clone, Debug, Default)]
pub(super) struct Qty(Vec<i64>);

/// Equal quantities (trailing zeros do not matter).
impl PartialEq for Qty {
    fn eq(&self, other: &Qty) -> bool {
        let n = self.0.len().max(other.0.len());
        (0..n).all(|i| self.get(i) == other.get(i))
    }
}

impl Eq for Qty {}

impl Qty {
    /// The quantity of `id`.
    pub(super) fn get(&self, id: NameId) -> i64 {
        self.0.get(id).copied().unwrap_or(0)
    }

    /// Adds `v` (which may be negative; the result is clamped at zero).
    pub(super) fn add_at(&mut self, id: NameId, v: i64) {
        if self.0.len() <= id {
            if v <= 0 {
                return;
            }
            self.0.resize(id + 1, 0);
        }
        let slot = &mut self.0[id];
        *slot = slot.saturating_add(v).max(0);
    }

    /// Sets `id` to `v` (clamped at zero).
    pub(super) fn set(&mut self, id: NameId, v: i64) {
        if self.0.len() <= id {
            self.0.resize(id + 1, 0);
        }
        self.0[id] = v.max(0);
    }

    /// `self += other`.
    pub(super) fn add(&mut self, other: &Qty) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.saturating_add(*b);
        }
    }

    /// `self -= other`, clamped at zero.
    pub(super) fn sub(&mut self, other: &Qty) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.saturating_sub(*b).max(0);
        }
    }

    /// `max(self - other, 0)`.
    pub(super) fn minus(&self, other: &Qty) -> Qty {
        let mut out = self.clone();
        out.sub(other);
        out
    }

    /// Component-wise minimum of `self` and `other`.
    pub(super) fn min(&self, other: &Qty) -> Qty {
        Qty(self
            .0
            .iter()
            .enumerate()
            .map(|(i, a)| (*a).min(other.get(i)))
            .collect())
    }

    /// Component-wise maximum, in place.
    pub(super) fn max_assign(&mut self, other: &Qty) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = (*a).max(*b);
        }
    }

    /// True when every component is zero.
    pub(super) fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }

    /// True when every component of `other` is at most the one in `self`.
    #[cfg(test)]
    pub(super) fn contains(&self, other: &Qty) -> bool {
        other.0.iter().enumerate().all(|(i, v)| self.get(i) >= *v)
    }

    /// `(id, value)` for positive components.
    pub(super) fn iter_positive(&self) -> impl Iterator<Item = (NameId, i64)> + '_ {
        self.0.iter().copied().enumerate().filter(|(_, v)| *v > 0)
    }

    /// The largest `self[i] * inv[i]`: the DRF dominant share with precomputed inverse totals
    /// (zero for excluded names and names without a total).
    pub(super) fn dominant_share(&self, inv: &[f64]) -> f64 {
        self.0
            .iter()
            .zip(inv)
            .map(|(v, i)| *v as f64 * i)
            .fold(0.0, f64::max)
    }
}

/// Per-name upper bounds in thousandths; `UNLIMITED` where there is none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Bound(Vec<i64>);

impl Bound {
    /// No bound at all.
    pub(super) fn unlimited() -> Bound {
        Bound(Vec::new())
    }

    /// The bound of `id`.
    pub(super) fn get(&self, id: NameId) -> i64 {
        self.0.get(id).copied().unwrap_or(UNLIMITED)
    }

    /// Lowers the bound of `id` to `v` (never below zero).
    pub(super) fn cap(&mut self, id: NameId, v: i64) {
        if self.0.len() <= id {
            self.0.resize(id + 1, UNLIMITED);
        }
        self.0[id] = self.0[id].min(v.max(0));
    }

    /// Lowers every bound to the one in `other`.
    pub(super) fn cap_all(&mut self, other: &Bound) {
        for (id, v) in other.0.iter().enumerate() {
            if *v != UNLIMITED {
                self.cap(id, *v);
            }
        }
    }

    /// Takes `v` from the bound of `id` (unlimited stays unlimited).
    pub(super) fn take(&mut self, id: NameId, v: i64) {
        if let Some(slot) = self.0.get_mut(id) {
            if *slot != UNLIMITED {
                *slot = slot.saturating_sub(v).max(0);
            }
        }
    }

    /// Takes every component of `q`.
    pub(super) fn take_all(&mut self, q: &Qty) {
        for (id, v) in q.iter_positive() {
            self.take(id, v);
        }
    }

    /// `(id, bound)` for bounded names.
    pub(super) fn iter_finite(&self) -> impl Iterator<Item = (NameId, i64)> + '_ {
        self.0
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, v)| *v != UNLIMITED)
    }

    /// True when nothing is bounded.
    pub(super) fn is_unlimited(&self) -> bool {
        self.0.iter().all(|v| *v == UNLIMITED)
    }

    /// The bounded names, as quantities (for messages).
    pub(super) fn finite(&self) -> Qty {
        let mut q = Qty::default();
        for (id, v) in self.0.iter().enumerate() {
            if *v != UNLIMITED {
                q.set(id, *v);
            }
        }
        q
    }
}

/// The part of `scalable` (unreserved non-revocable scalars) that fits in `bound`. Divisible
/// resources are cut; indivisible ones are taken whole or not at all.
pub(super) fn shrink(names: &Names, scalable: &Resources, bound: &Bound) -> Resources {
    if bound.is_unlimited() {
        return scalable.clone();
    }
    let mut room = bound.clone();
    let mut out = Resources::new();
    for r in scalable.iter() {
        let Value::Scalar(s) = &r.value else { continue };
        let Some(id) = names.id(&r.name) else { continue };
        let left = room.get(id);
        if left <= 0 {
            continue;
        }
        if s.millis() <= left {
            out.add(r.clone());
            room.take(id, s.millis());
        } else if divisible(r) {
            let mut cut = r.clone();
            cut.value = Value::Scalar(Scalar::from_millis(left));
            out.add(cut);
            room.take(id, left);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(text: &str) -> Resources {
        corral_resources::parse_resources(text).unwrap_or_default()
    }

    #[test]
    fn shrink_cuts_divisible_scalars() {
        let mut names = Names::default();
        let r = res("cpus:4;mem:1024");
        names.register(&r);
        let mut bound = Bound::unlimited();
        bound.cap(names.intern("cpus"), 1500);
        let out = shrink(&names, &r, &bound);
        assert_eq!(out, res("cpus:1.5;mem:1024"));
        bound.cap(names.intern("mem"), 0);
        assert_eq!(shrink(&names, &r, &bound), res("cpus:1.5"));
    }

    #[test]
    fn qty_arithmetic() {
        let mut a = Qty::default();
        a.add_at(2, 5);
        let mut b = Qty::default();
        b.add_at(0, 3);
        b.add_at(2, 7);
        assert!(b.contains(&a));
        assert!(!a.contains(&b));
        assert!(a.minus(&b).is_zero());
        a.max_assign(&b);
        assert_eq!(a, b);
        assert_eq!(b.dominant_share(&[0.1, 0.0, 0.01]), 0.30000000000000004_f64.max(0.07));
    }
}
