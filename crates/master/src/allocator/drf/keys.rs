//! Ordering keys of the role tree, and small helpers for walking it.

use std::cmp::Ordering;

/// Index of a role node. [`ROOT`] is the virtual root.
pub(super) type RoleIdx = usize;
/// Index of a (framework, role) slot.
pub(super) type SlotIdx = usize;
/// The virtual root.
pub(super) const ROOT: RoleIdx = 0;

/// Deepest role nesting followed (a longer chain is cut: its deepest roles act as top-level).
pub(super) const MAX_DEPTH: usize = 256;

/// A role and its ancestors, nearest first.
#[derive(Debug, Default)]
pub(super) struct Chain {
    inline: [RoleIdx; 8],
    more: Vec<RoleIdx>,
    len: usize,
    pos: usize,
}

impl Chain {
    /// True when the chain reached [`MAX_DEPTH`].
    pub fn is_full(&self) -> bool {
        self.len >= MAX_DEPTH
    }

    /// Appends the next ancestor.
    pub fn push(&mut self, r: RoleIdx) {
        if self.len < self.inline.len() {
            self.inline[self.len] = r;
        } else {
            self.more.push(r);
        }
        self.len += 1;
    }
}

impl Iterator for Chain {
    type Item = RoleIdx;

    fn next(&mut self) -> Option<RoleIdx> {
        let i = self.pos;
        if i >= self.len {
            return None;
        }
        self.pos += 1;
        match self.inline.get(i) {
            Some(r) => Some(*r),
            None => self.more.get(i - self.inline.len()).copied(),
        }
    }
}

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

/// An ordering key: weighted share, then name (as its rank among all names, so that comparing
/// never touches the strings), then identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub share: OrdF64,
    pub rank: u32,
    pub tag: Tag,
}
