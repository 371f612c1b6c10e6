//! Sets of strings (`disks:{sda,sdb}`).

use std::collections::BTreeSet;
use std::fmt;

/// Why a raw item list was rejected by [`Set::from_items_strict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// An item is the empty string (or only whitespace).
    EmptyItem,
    /// An item occurs twice.
    Duplicate(String),
}

/// A set of distinct strings, kept sorted.
///
/// Mesos keeps insertion order; Corral sorts, which makes equality and
/// rendering deterministic. Set semantics are the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Set(BTreeSet<String>);

impl Set {
    /// The empty set.
    pub fn new() -> Set {
        Set(BTreeSet::new())
    }

    /// Builds from raw items the way Mesos validates a resource: no empty
    /// items, no duplicates.
    pub fn from_items_strict<I, S>(items: I) -> Result<Set, SetError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for item in items {
            let item: String = item.into();
            if item.trim().is_empty() {
                return Err(SetError::EmptyItem);
            }
            if set.contains(&item) {
                return Err(SetError::Duplicate(item));
            }
            set.insert(item);
        }
        Ok(Set(set))
    }

    /// Adds an item; returns false if it was already present.
    pub fn insert(&mut self, item: impl Into<String>) -> bool {
        self.0.insert(item.into())
    }

    /// The items in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(String::as_str)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `item` is a member.
    pub fn contains_item(&self, item: &str) -> bool {
        self.0.contains(item)
    }

    /// True when every item of `other` is a member of `self`.
    pub fn contains(&self, other: &Set) -> bool {
        other.0.is_subset(&self.0)
    }

    /// Set union.
    pub fn union(&self, other: &Set) -> Set {
        Set(self.0.union(&other.0).cloned().collect())
    }

    /// Set difference `self - other`.
    pub fn difference(&self, other: &Set) -> Set {
        Set(self.0.difference(&other.0).cloned().collect())
    }
}

impl<S: Into<String>> FromIterator<S> for Set {
    /// Collects items, silently dropping duplicates.
    fn from_iter<T: IntoIterator<Item = S>>(iter: T) -> Set {
        Set(iter.into_iter().map(Into::into).collect())
    }
}

/// Renders like Mesos: `{a, b}`, `{}` when empty.
impl fmt::Display for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(item)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rejects_empty_and_duplicate_items() {
        assert_eq!(Set::from_items_strict(["a", ""]), Err(SetError::EmptyItem));
        assert_eq!(Set::from_items_strict([" "]), Err(SetError::EmptyItem));
        assert_eq!(
            Set::from_items_strict(["a", "b", "a"]),
            Err(SetError::Duplicate("a".into()))
        );
        let set = Set::from_items_strict(["b", "a"]).unwrap_or_default();
        assert_eq!(set.to_string(), "{a, b}");
        assert_eq!(Set::new().to_string(), "{}");
    }

    #[test]
    fn algebra() {
        let ab: Set = ["a", "b"].into_iter().collect();
        let bc: Set = ["b", "c"].into_iter().collect();
        assert_eq!(ab.union(&bc).to_string(), "{a, b, c}");
        assert_eq!(ab.difference(&bc).to_string(), "{a}");
        assert!(ab.union(&bc).contains(&ab));
        assert!(!ab.contains(&bc));
        assert!(ab.contains(&Set::new()));
        assert!(ab.contains_item("a"));
        assert_eq!(ab.len(), 2);
        let mut s = Set::new();
        assert!(s.insert("x"));
        assert!(!s.insert("x"));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec!["x"]);
    }
}
