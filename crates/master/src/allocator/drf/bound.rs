//! Per-name upper bounds (quota limits, headroom surplus) and cutting resources down to them.

use corral_resources::{Resource, Resources, Scalar, Value};

use super::qty::{divisible, is_quota_scalar, NameId, Names, Qty};

/// Unlimited, in a [`Bound`].
pub(super) const UNLIMITED: i64 = i64::MAX;

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

    /// Takes `v` from the bound of `id` (unlimited stays unlimited).
    pub(super) fn take(&mut self, id: NameId, v: i64) {
        if let Some(slot) = self.0.get_mut(id) {
            if *slot != UNLIMITED {
                *slot = slot.saturating_sub(v).max(0);
            }
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

/// How an offer is cut from what an agent has available: unreserved non-revocable scalars are
/// bounded; everything else (reservations, ranges, sets, revocable) is offered whole.
///
/// Stage 1 (`owed` given): per name, first up to what is owed (within the limit room, and not
/// subject to headroom), then beyond that up to both the limit room left and the surplus.
/// Stage 2: up to both the limit room and the surplus. Indivisible resources are taken whole or
/// not at all.
pub(super) struct Cut<'a> {
    pub names: &'a Names,
    pub owed: Option<&'a Qty>,
    pub limit: &'a Bound,
    pub surplus: &'a Bound,
}

/// The result of a [`Cut`].
pub(super) struct CutOut {
    /// `None`: nothing was cut (the offer is everything given).
    pub resources: Option<Resources>,
}

impl Cut<'_> {
    /// How much of each resource of `avail` to take, and how much of it is guaranteed: calls
    /// `each(index, take, is_cut)`.
    fn walk(
        &self,
        avail: &Resources,
        guaranteed: &mut Qty,
        mut each: impl FnMut(usize, i64, bool),
    ) {
        let mut owed = Bound::unlimited();
        if let Some(o) = self.owed {
            owed = self.limit.clone();
            for id in 0..self.names.len() {
                owed.cap(id, o.get(id));
            }
        }
        let mut limit = self.limit.clone();
        let mut surplus = self.surplus.clone();
        for (i, r) in avail.iter().enumerate() {
            let Value::Scalar(s) = &r.value else {
                each(i, 0, false);
                continue;
            };
            if !is_quota_scalar(r) {
                each(i, s.millis(), false);
                continue;
            }
            let Some(id) = self.names.id(&r.name) else {
                each(i, s.millis(), false);
                continue;
            };
            let v = s.millis();
            let mut g = if self.owed.is_some() {
                v.min(owed.get(id)).max(0)
            } else {
                0
            };
            let mut extra = (v - g)
                .min(limit.get(id).saturating_sub(g))
                .min(surplus.get(id))
                .max(0);
            if !divisible(r) && g + extra < v {
                // Whole or nothing.
                (g, extra) = if self.owed.is_some() && v <= owed.get(id) {
                    (v, 0)
                } else if v <= limit.get(id).min(surplus.get(id)) {
                    (0, v)
                } else {
                    (0, 0)
                };
            }
            owed.take(id, g);
            limit.take(id, g + extra);
            surplus.take(id, extra);
            guaranteed.add_at(id, g);
            each(i, g + extra, g + extra < v);
        }
    }

    /// Cuts `avail`. Returns `None` in stage 1 when nothing counts toward the guarantee.
    pub fn apply(&self, avail: &Resources) -> Option<CutOut> {
        let mut guaranteed = Qty::default();
        let mut any_cut = false;
        self.walk(avail, &mut guaranteed, |_, _, cut| any_cut |= cut);
        if self.owed.is_some() && guaranteed.is_zero() {
            return None;
        }
        if !any_cut {
            return Some(CutOut { resources: None });
        }
        let items: Vec<&Resource> = avail.iter().collect();
        let mut out = Resources::new();
        self.walk(avail, &mut guaranteed, |i, take, cut| {
            let Some(r) = items.get(i) else { return };
            if !cut {
                out.add((*r).clone());
            } else if take > 0 {
                let mut part = (*r).clone();
                part.value = Value::Scalar(Scalar::from_millis(take));
                out.add(part);
            }
        });
        Some(CutOut {
            resources: Some(out),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(text: &str) -> Resources {
        corral_resources::parse_resources(text).unwrap_or_default()
    }

    #[test]
    fn cuts_divisible_scalars_and_keeps_the_rest_whole() {
        let mut names = Names::default();
        let r = res("cpus:4;mem:1024;cpus(x):1;ports:[1-5]");
        names.register(&r);
        let (cpus, gpus) = (names.intern("cpus"), names.intern("gpus"));
        let mut limit = Bound::unlimited();
        limit.cap(cpus, 1500);
        let none = Bound::unlimited();
        let cut = |owed: Option<&Qty>, limit: &Bound, surplus: &Bound| {
            Cut {
                names: &names,
                owed,
                limit,
                surplus,
            }
            .apply(&r)
        };
        let out = cut(None, &limit, &none).and_then(|c| c.resources);
        assert_eq!(out, Some(res("cpus:1.5;mem:1024;cpus(x):1;ports:[1-5]")));
        assert!(cut(None, &none, &none).is_some_and(|c| c.resources.is_none()));
        // Stage 1: owed 1 cpu, then the surplus (0.25 cpu) on top, within the limit.
        let mut owed = Qty::default();
        owed.set(cpus, 1000);
        let mut surplus = Bound::unlimited();
        surplus.cap(cpus, 250);
        let c = cut(Some(&owed), &limit, &surplus);
        assert_eq!(
            c.and_then(|c| c.resources),
            Some(res("cpus:1.25;mem:1024;cpus(x):1;ports:[1-5]"))
        );
        // Nothing owed that the agent has: no stage-1 offer.
        let mut owed = Qty::default();
        owed.set(gpus, 1000);
        assert!(cut(Some(&owed), &none, &none).is_none());
    }
}
