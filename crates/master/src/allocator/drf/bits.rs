//! Small helpers: a growable bitset over slot indices and a deterministic shuffle.

/// A set of small integers (slot indices), one bit each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct BitSet(Vec<u64>);

impl BitSet {
    /// Adds `i`.
    pub(super) fn insert(&mut self, i: usize) {
        let w = i / 64;
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << (i % 64);
    }

    /// Removes `i`.
    pub(super) fn remove(&mut self, i: usize) {
        if let Some(word) = self.0.get_mut(i / 64) {
            *word &= !(1 << (i % 64));
        }
    }

    /// True when `i` is in the set.
    pub(super) fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Removes every member (keeps the storage).
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    /// `self |= other`.
    pub(super) fn union_with(&mut self, other: &BitSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    /// True when the set is empty.
    pub(super) fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// Word `i` (zero past the end).
    pub(super) fn word(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// Replaces `self` with `base & !(minus₁ | minus₂ | …) & (mask if given)`; returns the
    /// number of members. Reuses `self`'s storage.
    pub(super) fn assign_and_not(
        &mut self,
        base: &BitSet,
        minus: &[&BitSet],
        mask: Option<&BitSet>,
    ) -> usize {
        self.0.clear();
        self.0.resize(base.0.len(), 0);
        let mut count = 0;
        for (i, (out, w)) in self.0.iter_mut().zip(&base.0).enumerate() {
            let mut v = *w;
            for m in minus {
                v &= !m.word(i);
            }
            if let Some(m) = mask {
                v &= m.word(i);
            }
            count += v.count_ones() as usize;
            *out = v;
        }
        count
    }

    /// The members, in increasing order.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(wi, w)| {
            let mut word = *w;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                Some(wi * 64 + bit)
            })
        })
    }
}

/// xorshift64*: a tiny deterministic generator for the agent visiting order.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fisher–Yates shuffle.
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitset_ops() {
        let mut a = BitSet::default();
        for i in [0, 5, 64, 130] {
            a.insert(i);
        }
        assert!(a.contains(64) && !a.contains(63));
        let mut b = BitSet::default();
        b.insert(5);
        let mut c = BitSet::default();
        let n = c.assign_and_not(&a, &[&b], None);
        assert_eq!(n, 3);
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![0, 64, 130]);
        a.remove(130);
        assert_eq!(a.iter().count(), 3);
    }

    #[test]
    fn shuffle_is_a_deterministic_permutation() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        Rng::new(7).shuffle(&mut a);
        Rng::new(7).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        a.sort_unstable();
        assert_eq!(a, (0..100).collect::<Vec<_>>());
    }
}
