//! Name → quantity maps (Mesos `ResourceQuantities`), the currency of DRF and quota.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::str::FromStr;

use crate::error::ParseError;
use crate::resources::Resources;
use crate::scalar::Scalar;

/// Resource name → non-negative quantity, sorted by name. Zero entries are
/// dropped, so a missing name means zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResourceQuantities(BTreeMap<String, Scalar>);

impl ResourceQuantities {
    /// No quantities.
    pub fn new() -> ResourceQuantities {
        ResourceQuantities::default()
    }

    /// Totals of `resources` by name: scalars sum, ranges count their values,
    /// sets count their items. Reservations and markers are ignored.
    pub fn from_resources(resources: &Resources) -> ResourceQuantities {
        let mut q = ResourceQuantities::new();
        for r in resources.iter() {
            q.add_quantity(&r.name, r.value.quantity());
        }
        q
    }

    /// Adds `quantity` to `name`; zero and negative quantities are ignored.
    pub fn add_quantity(&mut self, name: &str, quantity: Scalar) {
        if quantity <= Scalar::ZERO {
            return;
        }
        match self.0.get_mut(name) {
            Some(q) => *q += quantity,
            None => {
                self.0.insert(name.to_string(), quantity);
            }
        }
    }

    /// Sets `name` to `quantity` (removing it when not positive).
    pub fn set(&mut self, name: &str, quantity: Scalar) {
        if quantity <= Scalar::ZERO {
            self.0.remove(name);
        } else {
            self.0.insert(name.to_string(), quantity);
        }
    }

    /// The quantity of `name` (zero when absent).
    pub fn get(&self, name: &str) -> Scalar {
        self.0.get(name).copied().unwrap_or_default()
    }

    /// `(name, quantity)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Scalar)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Number of names with a positive quantity.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when every quantity is zero.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when every quantity of `other` is at most the one in `self`.
    pub fn contains(&self, other: &ResourceQuantities) -> bool {
        other.iter().all(|(name, q)| self.get(name) >= q)
    }

    /// `self / totals` for each name present in both with a positive total.
    pub fn shares(&self, totals: &ResourceQuantities) -> BTreeMap<String, f64> {
        self.iter()
            .filter(|(name, _)| totals.get(name) > Scalar::ZERO)
            .map(|(name, q)| (name.to_string(), q.ratio(totals.get(name))))
            .collect()
    }

    /// The DRF dominant share: the largest `allocation / total` over the
    /// names with a positive total; `0.0` when nothing is allocated. Divide
    /// by the role's weight for weighted DRF.
    pub fn dominant_share(&self, totals: &ResourceQuantities) -> f64 {
        self.iter()
            .map(|(name, q)| q.ratio(totals.get(name)))
            .fold(0.0, f64::max)
    }

    /// Parses `cpus:1;mem:512` (Mesos `ResourceQuantities::fromString`):
    /// scalars only, no negatives; zero entries are dropped; repeated names add up.
    pub fn parse(text: &str) -> Result<ResourceQuantities, ParseError> {
        let mut q = ResourceQuantities::new();
        for token in text.split(';').map(str::trim).filter(|t| !t.is_empty()) {
            let syntax = |reason: &str| ParseError::Syntax {
                token: token.to_string(),
                reason: reason.to_string(),
            };
            let (name, value) = token
                .split_once(':')
                .ok_or_else(|| syntax("expected name:value"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(syntax("empty name"));
            }
            if value.contains(':') {
                return Err(syntax("extra ':'"));
            }
            let quantity: Scalar = value
                .trim()
                .parse()
                .map_err(|e| syntax(&format!("quantity is {e}")))?;
            if quantity.is_negative() {
                return Err(syntax("negative quantities are not allowed"));
            }
            q.add_quantity(name, quantity);
        }
        Ok(q)
    }
}

impl FromStr for ResourceQuantities {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceQuantities::parse(s)
    }
}

impl AddAssign<&ResourceQuantities> for ResourceQuantities {
    fn add_assign(&mut self, rhs: &ResourceQuantities) {
        for (name, q) in rhs.iter() {
            self.add_quantity(name, q);
        }
    }
}

impl Add<&ResourceQuantities> for &ResourceQuantities {
    type Output = ResourceQuantities;

    fn add(self, rhs: &ResourceQuantities) -> ResourceQuantities {
        let mut out = self.clone();
        out += rhs;
        out
    }
}

/// Subtraction clamps at zero (and drops the name), like Mesos.
impl SubAssign<&ResourceQuantities> for ResourceQuantities {
    fn sub_assign(&mut self, rhs: &ResourceQuantities) {
        for (name, q) in rhs.iter() {
            let left = self.get(name).sub_or_zero(q);
            self.set(name, left);
        }
    }
}

impl Sub<&ResourceQuantities> for &ResourceQuantities {
    type Output = ResourceQuantities;

    fn sub(self, rhs: &ResourceQuantities) -> ResourceQuantities {
        let mut out = self.clone();
        out -= rhs;
        out
    }
}

impl<'a> FromIterator<(&'a str, Scalar)> for ResourceQuantities {
    fn from_iter<T: IntoIterator<Item = (&'a str, Scalar)>>(iter: T) -> Self {
        let mut q = ResourceQuantities::new();
        for (name, s) in iter {
            q.add_quantity(name, s);
        }
        q
    }
}

/// `cpus:1; mem:512`, or `{}` when empty (as Mesos prints it).
impl fmt::Display for ResourceQuantities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("{}");
        }
        for (i, (name, q)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{name}:{q}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> ResourceQuantities {
        ResourceQuantities::parse(text).unwrap_or_default()
    }

    #[test]
    fn parse_and_display() {
        let quantities = q("mem:512; cpus:1.5;gpus:0;cpus:0.5");
        assert_eq!(quantities.to_string(), "cpus:2; mem:512");
        assert_eq!(quantities.get("gpus"), Scalar::ZERO);
        assert_eq!(ResourceQuantities::new().to_string(), "{}");
        let err = ResourceQuantities::parse("cpus:-1")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid token 'cpus:-1': negative quantities are not allowed")
        );
        assert!(ResourceQuantities::parse("cpus:[1-2]").is_err());
        assert!(ResourceQuantities::parse("cpus").is_err());
        assert!(ResourceQuantities::parse(":1").is_err());
    }

    #[test]
    fn arithmetic_clamps_at_zero() {
        let a = q("cpus:4;mem:1024");
        let b = q("cpus:1;mem:2048;disk:1");
        assert_eq!((&a + &b).to_string(), "cpus:5; disk:1; mem:3072");
        assert_eq!((&a - &b).to_string(), "cpus:3");
        assert!((&a + &b).contains(&a));
        assert!(!a.contains(&b));
        assert!(a.contains(&ResourceQuantities::new()));
    }

    #[test]
    fn dominant_share() {
        let totals = q("cpus:10;mem:1000;gpus:0");
        let alloc = q("cpus:2;mem:500;gpus:1;other:5");
        assert_eq!(alloc.dominant_share(&totals), 0.5);
        assert_eq!(q("cpus:1").dominant_share(&totals), 0.1);
        assert_eq!(ResourceQuantities::new().dominant_share(&totals), 0.0);
        let shares = alloc.shares(&totals);
        assert_eq!(shares.get("cpus"), Some(&0.2));
        assert_eq!(shares.get("gpus"), None);
    }
}
