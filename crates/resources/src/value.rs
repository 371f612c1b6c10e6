//! The value of a resource: a scalar, ranges or a set.

use std::fmt;
use std::str::FromStr;

use crate::error::ValidationError;
use crate::ranges::{Ranges, RangesError};
use crate::scalar::{Scalar, ScalarError};
use crate::set::{Set, SetError};

/// Mesos `Value.Type` for resources (TEXT exists only for attributes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValueType {
    Scalar,
    Ranges,
    Set,
}

impl ValueType {
    /// The protobuf enum name: `SCALAR`, `RANGES`, `SET`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Scalar => "SCALAR",
            ValueType::Ranges => "RANGES",
            ValueType::Set => "SET",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ValueType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "SCALAR" => Ok(ValueType::Scalar),
            "RANGES" => Ok(ValueType::Ranges),
            "SET" => Ok(ValueType::Set),
            other => Err(format!("unsupported resource type '{other}'")),
        }
    }
}

/// A resource value. The variant is the resource's type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Scalar(Scalar),
    Ranges(Ranges),
    Set(Set),
}

impl Value {
    /// Converts a raw float the way Mesos validates a scalar resource: finite,
    /// not negative, and not a non-zero value that rounds to zero.
    pub fn try_scalar(name: &str, value: f64) -> Result<Value, ValidationError> {
        let scalar = Scalar::try_from_f64(value).map_err(|e| match e {
            ScalarError::OutOfRange => ValidationError::ScalarOutOfRange {
                name: name.to_string(),
                value,
            },
            ScalarError::NonFinite | ScalarError::NotANumber => ValidationError::NonFiniteScalar {
                name: name.to_string(),
                value,
            },
        })?;
        if scalar.is_negative() || (value < 0.0 && scalar.is_zero()) {
            return Err(ValidationError::NegativeScalar {
                name: name.to_string(),
                value: scalar,
            });
        }
        if value != 0.0 && scalar.is_zero() {
            return Err(ValidationError::ScalarTooSmall {
                name: name.to_string(),
                value,
            });
        }
        Ok(Value::Scalar(scalar))
    }

    /// Converts raw `(begin, end)` pairs: no inverted and no overlapping ranges.
    pub fn try_ranges(name: &str, pairs: &[(u64, u64)]) -> Result<Value, ValidationError> {
        Ranges::from_pairs_strict(pairs)
            .map(Value::Ranges)
            .map_err(|e| match e {
                RangesError::Inverted { begin, end } => ValidationError::InvertedRange {
                    name: name.to_string(),
                    begin,
                    end,
                },
                RangesError::Overlap { first, second } => ValidationError::OverlappingRanges {
                    name: name.to_string(),
                    first,
                    second,
                },
            })
    }

    /// Converts raw set items: no empty items and no duplicates.
    pub fn try_set<I, S>(name: &str, items: I) -> Result<Value, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Set::from_items_strict(items)
            .map(Value::Set)
            .map_err(|e| match e {
                SetError::EmptyItem => ValidationError::EmptySetItem {
                    name: name.to_string(),
                },
                SetError::Duplicate(item) => ValidationError::DuplicateSetItem {
                    name: name.to_string(),
                    item,
                },
            })
    }

    /// The type of the value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Scalar(_) => ValueType::Scalar,
            Value::Ranges(_) => ValueType::Ranges,
            Value::Set(_) => ValueType::Set,
        }
    }

    /// A zero scalar, empty ranges or an empty set.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Scalar(s) => s.is_zero(),
            Value::Ranges(r) => r.is_empty(),
            Value::Set(s) => s.is_empty(),
        }
    }

    /// `other <= self` for values of the same type; false for different types.
    pub fn contains(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => b <= a,
            (Value::Ranges(a), Value::Ranges(b)) => a.contains(b),
            (Value::Set(a), Value::Set(b)) => a.contains(b),
            _ => false,
        }
    }

    /// In-place `self += other`. Values of different types are left unchanged
    /// (the algebra never combines them).
    pub(crate) fn add_assign(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a += *b,
            (Value::Ranges(a), Value::Ranges(b)) => *a = a.union(b),
            (Value::Set(a), Value::Set(b)) => *a = a.union(b),
            _ => {}
        }
    }

    /// In-place `self -= other` (scalars may go negative; callers check).
    pub(crate) fn sub_assign(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a -= *b,
            (Value::Ranges(a), Value::Ranges(b)) => *a = a.difference(b),
            (Value::Set(a), Value::Set(b)) => *a = a.difference(b),
            _ => {}
        }
    }

    /// The size of the value as a quantity: the scalar itself, the number of
    /// values in the ranges, or the number of items in the set.
    pub fn quantity(&self) -> Scalar {
        match self {
            Value::Scalar(s) => *s,
            Value::Ranges(r) => Scalar::from_count(r.count()),
            Value::Set(s) => Scalar::from_count(s.len() as u64),
        }
    }
}

impl From<Scalar> for Value {
    fn from(s: Scalar) -> Value {
        Value::Scalar(s)
    }
}

impl From<Ranges> for Value {
    fn from(r: Ranges) -> Value {
        Value::Ranges(r)
    }
}

impl From<Set> for Value {
    fn from(s: Set) -> Value {
        Value::Set(s)
    }
}

/// Mesos text form of the value: `1.5`, `[1-2, 5-9]`, `{a, b}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar(s) => s.fmt(f),
            Value::Ranges(r) => r.fmt(f),
            Value::Set(s) => s.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_scalar_rejects_bad_numbers() {
        assert_eq!(
            Value::try_scalar("cpus", 1.5),
            Ok(Value::Scalar(Scalar::from_millis(1500)))
        );
        assert_eq!(
            Value::try_scalar("cpus", 0.0),
            Ok(Value::Scalar(Scalar::ZERO))
        );
        let err = |v| Value::try_scalar("cpus", v).err().map(|e| e.to_string());
        assert_eq!(
            err(-1.0).as_deref(),
            Some("resource 'cpus': scalar value -1 is negative")
        );
        assert!(matches!(
            Value::try_scalar("cpus", -0.0001),
            Err(ValidationError::NegativeScalar { .. })
        ));
        assert_eq!(
            err(f64::NAN).as_deref(),
            Some("resource 'cpus': scalar value NaN is NaN or infinite")
        );
        assert!(matches!(
            Value::try_scalar("mem", f64::NEG_INFINITY),
            Err(ValidationError::NonFiniteScalar { .. })
        ));
        assert!(matches!(
            Value::try_scalar("mem", 1e300),
            Err(ValidationError::ScalarOutOfRange { .. })
        ));
        assert!(matches!(
            Value::try_scalar("mem", 0.0001),
            Err(ValidationError::ScalarTooSmall { .. })
        ));
    }

    #[test]
    fn try_ranges_and_sets_name_the_resource() {
        let e = Value::try_ranges("ports", &[(5, 1)])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("resource 'ports': range 5-1 has begin > end")
        );
        let e = Value::try_ranges("ports", &[(1, 5), (5, 6)])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("resource 'ports': ranges 1-5 and 5-6 overlap")
        );
        let e = Value::try_set("disks", ["a", "a"])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("resource 'disks': set item 'a' appears more than once")
        );
        let e = Value::try_set("disks", [""]).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("resource 'disks': set has an empty item")
        );
    }

    #[test]
    fn quantities_and_types() {
        let v =
            Value::try_ranges("ports", &[(1, 10), (20, 20)]).unwrap_or(Value::Scalar(Scalar::ZERO));
        assert_eq!(v.quantity(), Scalar::from_units(11));
        assert_eq!(v.value_type(), ValueType::Ranges);
        assert_eq!("SET".parse::<ValueType>(), Ok(ValueType::Set));
        assert!("TEXT".parse::<ValueType>().is_err());
        assert!(!Value::Scalar(Scalar::ZERO).contains(&Value::Set(Set::new())));
    }
}
