//! Fixed-point quantity vectors indexed by interned resource names: the currency of shares,
//! quota consumption and headroom inside the DRF allocator. A [`Qty`] holds thousandths
//! (Mesos's three decimals) per name id, so sums and comparisons are exact and cheap; a missing
//! index means zero.

use corral_resources::{DiskSourceKind, Resource, ResourceQuantities, Resources, Scalar, Value};

/// Index of a resource name in [`Names`].
pub(super) type NameId = usize;

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
    pub(super) fn qty_of(&mut self, q: &ResourceQuantities) -> Qty {
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

/// Names kept inline in a [`Qty`]; further names spill to the heap.
const INLINE: usize = 4;

/// Non-negative quantities in thousandths, by name id. The first [`INLINE`] names live inline,
/// so the common cases (cpus, mem, disk, gpus) never allocate.
#[derive(Clone, Debug, Default)]
pub(super) struct Qty {
    inline: [i64; INLINE],
    spill: Vec<i64>,
}

/// Equal quantities (trailing zeros do not matter).
impl PartialEq for Qty {
    fn eq(&self, other: &Qty) -> bool {
        let n = self.len().max(other.len());
        (0..n).all(|i| self.get(i) == other.get(i))
    }
}

impl Eq for Qty {}

impl Qty {
    fn len(&self) -> usize {
        INLINE + self.spill.len()
    }

    fn slot(&mut self, id: NameId) -> &mut i64 {
        if id < INLINE {
            return &mut self.inline[id];
        }
        let i = id - INLINE;
        if self.spill.len() <= i {
            self.spill.resize(i + 1, 0);
        }
        &mut self.spill[i]
    }

    /// The quantity of `id`.
    pub(super) fn get(&self, id: NameId) -> i64 {
        if id < INLINE {
            self.inline[id]
        } else {
            self.spill.get(id - INLINE).copied().unwrap_or(0)
        }
    }

    /// Adds `v` (which may be negative; the result is clamped at zero).
    pub(super) fn add_at(&mut self, id: NameId, v: i64) {
        if v <= 0 && self.get(id) == 0 {
            return;
        }
        let slot = self.slot(id);
        *slot = slot.saturating_add(v).max(0);
    }

    /// Sets `id` to `v` (clamped at zero).
    pub(super) fn set(&mut self, id: NameId, v: i64) {
        *self.slot(id) = v.max(0);
    }

    /// `self += other`.
    pub(super) fn add(&mut self, other: &Qty) {
        for (a, b) in self.inline.iter_mut().zip(&other.inline) {
            *a = a.saturating_add(*b);
        }
        for (i, b) in other.spill.iter().enumerate() {
            if *b != 0 {
                self.add_at(INLINE + i, *b);
            }
        }
    }

    /// `self -= other`, clamped at zero.
    pub(super) fn sub(&mut self, other: &Qty) {
        for (a, b) in self.inline.iter_mut().zip(&other.inline) {
            *a = a.saturating_sub(*b).max(0);
        }
        for (a, b) in self.spill.iter_mut().zip(&other.spill) {
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
        let mut out = self.clone();
        for (a, b) in out.inline.iter_mut().zip(&other.inline) {
            *a = (*a).min(*b);
        }
        for (i, a) in out.spill.iter_mut().enumerate() {
            *a = (*a).min(other.get(INLINE + i));
        }
        out
    }

    /// Component-wise maximum, in place.
    pub(super) fn max_assign(&mut self, other: &Qty) {
        for (a, b) in self.inline.iter_mut().zip(&other.inline) {
            *a = (*a).max(*b);
        }
        for (i, b) in other.spill.iter().enumerate() {
            if *b > self.get(INLINE + i) {
                self.set(INLINE + i, *b);
            }
        }
    }

    /// True when every component is zero.
    pub(super) fn is_zero(&self) -> bool {
        self.inline.iter().all(|v| *v == 0) && self.spill.iter().all(|v| *v == 0)
    }

    /// True when every component of `other` is at most the one in `self`.
    #[cfg(test)]
    pub(super) fn contains(&self, other: &Qty) -> bool {
        (0..other.len()).all(|i| self.get(i) >= other.get(i))
    }

    /// `(id, value)` for positive components.
    pub(super) fn iter_positive(&self) -> impl Iterator<Item = (NameId, i64)> + '_ {
        self.inline
            .iter()
            .chain(&self.spill)
            .copied()
            .enumerate()
            .filter(|(_, v)| *v > 0)
    }

    /// The largest `self[i] * inv[i]`: the DRF dominant share with precomputed inverse totals
    /// (zero for excluded names and names without a total).
    pub(super) fn dominant_share(&self, inv: &[f64]) -> f64 {
        self.inline
            .iter()
            .chain(&self.spill)
            .zip(inv)
            .map(|(v, i)| *v as f64 * i)
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            b.dominant_share(&[0.1, 0.0, 0.01]),
            0.30000000000000004_f64.max(0.07)
        );
    }

    #[test]
    fn qty_spills_past_the_inline_names() {
        let mut a = Qty::default();
        a.add_at(12, 7);
        a.add_at(1, 2);
        let mut b = a.clone();
        b.add(&a);
        assert_eq!(b.get(12), 14);
        assert_eq!(
            b.iter_positive().collect::<Vec<_>>(),
            vec![(1, 4), (12, 14)]
        );
        b.sub(&a);
        assert_eq!(b, a);
        assert_eq!(b.min(&Qty::default()), Qty::default());
        let mut c = Qty::default();
        c.max_assign(&a);
        assert_eq!(c, a);
        assert!(!c.is_zero());
        c.sub(&a);
        assert!(c.is_zero());
        let mut inv = vec![0.0; 13];
        inv[12] = 0.5;
        assert_eq!(a.dominant_share(&inv), 3.5);
    }
}
