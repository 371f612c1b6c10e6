//! One resource, modelled on Mesos's `Resource` message (post-refinement format).

use std::fmt;

pub use crate::disk::{DiskInfo, DiskSource, DiskSourceKind, Persistence, Volume, VolumeMode};
use crate::ranges::Ranges;
use crate::roles::{is_role_or_subrole, DEFAULT_ROLE};
use crate::scalar::Scalar;
use crate::set::Set;
pub use crate::value::{Value, ValueType};

/// `Resource.ReservationInfo.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReservationType {
    /// Made by the agent's `--resources` flag.
    Static,
    /// Made at run time by an operator or framework (RESERVE).
    Dynamic,
}

impl ReservationType {
    /// The protobuf enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationType::Static => "STATIC",
            ReservationType::Dynamic => "DYNAMIC",
        }
    }
}

/// One entry of the reservation stack (`Resource.reservations`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reservation {
    pub kind: ReservationType,
    pub role: String,
    pub principal: Option<String>,
    /// `Labels` as key/value pairs (a label without a value has an empty value).
    pub labels: Vec<(String, String)>,
}

impl Reservation {
    /// A static reservation to `role`.
    pub fn new_static(role: impl Into<String>) -> Reservation {
        Reservation {
            kind: ReservationType::Static,
            role: role.into(),
            principal: None,
            labels: Vec::new(),
        }
    }

    /// A dynamic reservation to `role`, optionally made by `principal`.
    pub fn new_dynamic(role: impl Into<String>, principal: Option<String>) -> Reservation {
        Reservation {
            kind: ReservationType::Dynamic,
            role: role.into(),
            principal,
            labels: Vec::new(),
        }
    }
}

/// A resource: name, value (whose variant is the type), reservation stack
/// (innermost last), allocation role and the markers Mesos treats as identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    pub name: String,
    pub value: Value,
    pub reservations: Vec<Reservation>,
    /// `allocation_info.role`.
    pub allocation_role: Option<String>,
    pub disk: Option<DiskInfo>,
    pub revocable: bool,
    pub shared: bool,
    pub provider_id: Option<String>,
}

impl Resource {
    /// An unreserved, unallocated resource.
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Resource {
        Resource {
            name: name.into(),
            value: value.into(),
            reservations: Vec::new(),
            allocation_role: None,
            disk: None,
            revocable: false,
            shared: false,
            provider_id: None,
        }
    }

    /// An unreserved scalar resource.
    pub fn new_scalar(name: impl Into<String>, value: Scalar) -> Resource {
        Resource::new(name, value)
    }

    /// An unreserved ranges resource.
    pub fn new_ranges(name: impl Into<String>, value: Ranges) -> Resource {
        Resource::new(name, value)
    }

    /// An unreserved set resource.
    pub fn new_set(name: impl Into<String>, value: Set) -> Resource {
        Resource::new(name, value)
    }

    /// Pushes a reservation on the stack (builder style).
    pub fn with_reservation(mut self, reservation: Reservation) -> Resource {
        self.reservations.push(reservation);
        self
    }

    /// Sets the allocation role (builder style).
    pub fn with_allocation(mut self, role: impl Into<String>) -> Resource {
        self.allocation_role = Some(role.into());
        self
    }

    /// Sets the disk info (builder style).
    pub fn with_disk(mut self, disk: DiskInfo) -> Resource {
        self.disk = Some(disk);
        self
    }

    /// Marks the resource revocable (builder style).
    pub fn with_revocable(mut self) -> Resource {
        self.revocable = true;
        self
    }

    /// Marks the resource shared (builder style).
    pub fn with_shared(mut self) -> Resource {
        self.shared = true;
        self
    }

    /// Sets the resource provider id (builder style).
    pub fn with_provider(mut self, id: impl Into<String>) -> Resource {
        self.provider_id = Some(id.into());
        self
    }

    /// The type of the value.
    pub fn value_type(&self) -> ValueType {
        self.value.value_type()
    }

    /// A zero scalar, empty ranges or an empty set.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The scalar value, if this is a scalar resource.
    pub fn as_scalar(&self) -> Option<Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(*s),
            _ => None,
        }
    }

    /// The ranges, if this is a ranges resource.
    pub fn as_ranges(&self) -> Option<&Ranges> {
        match &self.value {
            Value::Ranges(r) => Some(r),
            _ => None,
        }
    }

    /// The set, if this is a set resource.
    pub fn as_set(&self) -> Option<&Set> {
        match &self.value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// True when the reservation stack is empty.
    pub fn is_unreserved(&self) -> bool {
        self.reservations.is_empty()
    }

    /// True when the reservation stack is not empty.
    pub fn is_reserved(&self) -> bool {
        !self.reservations.is_empty()
    }

    /// The role of the innermost reservation; `None` when unreserved.
    pub fn reservation_role(&self) -> Option<&str> {
        self.reservations.last().map(|r| r.role.as_str())
    }

    /// The legacy `Resource.role`: the innermost reservation role, or `*`.
    pub fn role(&self) -> &str {
        self.reservation_role().unwrap_or(DEFAULT_ROLE)
    }

    /// True when the innermost reservation is dynamic.
    pub fn is_dynamically_reserved(&self) -> bool {
        self.reservations
            .last()
            .is_some_and(|r| r.kind == ReservationType::Dynamic)
    }

    /// True when the innermost reservation is static.
    pub fn is_statically_reserved(&self) -> bool {
        self.reservations
            .last()
            .is_some_and(|r| r.kind == ReservationType::Static)
    }

    /// True for disk resources with a persistence id.
    pub fn is_persistent_volume(&self) -> bool {
        self.disk.as_ref().is_some_and(|d| d.persistence.is_some())
    }

    /// True when a framework in `role` may be offered this resource: it is
    /// unreserved, or reserved to `role` or to an ancestor of `role`.
    pub fn is_allocatable_to(&self, role: &str) -> bool {
        match self.reservation_role() {
            None => true,
            Some(reserved) => is_role_or_subrole(role, reserved),
        }
    }

    /// True when reserved to `role` or one of its descendants.
    pub fn is_reserved_to_role_subtree(&self, role: &str) -> bool {
        self.reservation_role()
            .is_some_and(|r| is_role_or_subrole(r, role))
    }

    /// True when allocated to `role` or one of its descendants.
    pub fn is_allocated_to_role_subtree(&self, role: &str) -> bool {
        self.allocation_role
            .as_deref()
            .is_some_and(|r| is_role_or_subrole(r, role))
    }

    /// Everything but the value matches, with Mesos's disk identity.
    fn same_metadata(&self, other: &Resource) -> bool {
        self.name == other.name
            && self.value_type() == other.value_type()
            && self.allocation_role == other.allocation_role
            && self.reservations == other.reservations
            && self.revocable == other.revocable
            && self.shared == other.shared
            && self.provider_id == other.provider_id
            && match (&self.disk, &other.disk) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same_disk(b),
                _ => false,
            }
    }

    /// Mesos equality: same metadata (disk identity ignores `volume`) and same value.
    pub fn same_as(&self, other: &Resource) -> bool {
        self.same_metadata(other) && self.value == other.value
    }

    /// True when this resource is never merged with another one: shared
    /// resources are counted, persistent volumes and exclusive disks stay whole.
    pub(crate) fn is_indivisible(&self) -> bool {
        self.shared
            || self
                .disk
                .as_ref()
                .is_some_and(|d| d.persistence.is_some() || d.is_exclusive())
    }

    /// True when `self + other` can be one resource.
    pub(crate) fn addable(&self, other: &Resource) -> bool {
        if self.shared || other.shared {
            return self.shared == other.shared && self.same_as(other);
        }
        self.same_metadata(other) && !self.is_indivisible()
    }

    /// True when `other` can be taken out of `self` as one resource.
    pub(crate) fn subtractable(&self, other: &Resource) -> bool {
        if self.is_indivisible() || other.is_indivisible() {
            return self.same_as(other);
        }
        self.same_metadata(other)
    }

    /// True when `other` fits in `self` (same identity, smaller or equal value).
    pub fn contains(&self, other: &Resource) -> bool {
        self.subtractable(other) && self.value.contains(&other.value)
    }

    /// True when the simple text syntax `name(role):value` can express it.
    fn is_simple(&self) -> bool {
        self.allocation_role.is_none()
            && self.disk.is_none()
            && !self.revocable
            && !self.shared
            && self.provider_id.is_none()
            && match self.reservations.as_slice() {
                [] => true,
                [r] => {
                    r.kind == ReservationType::Static
                        && r.principal.is_none()
                        && r.labels.is_empty()
                }
                _ => false,
            }
    }
}

/// Mesos text syntax. Simple resources render as the `--resources` flag does
/// (`cpus:2`, `cpus(prod):2`, `ports:[31000-32000]`) and parse back. Others
/// use Mesos's log notation, e.g.
/// `disk(allocated: web)(reservations: [(DYNAMIC,web,ops)])[MOUNT:/mnt,v1:data]{REV}<SHARED>:10`.
impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.is_simple() {
            if let Some(role) = self.reservation_role() {
                write!(f, "({role})")?;
            }
            return write!(f, ":{}", self.value);
        }
        if let Some(role) = &self.allocation_role {
            write!(f, "(allocated: {role})")?;
        }
        if !self.reservations.is_empty() {
            f.write_str("(reservations: [")?;
            for (i, r) in self.reservations.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "({},{}", r.kind.as_str(), r.role)?;
                if let Some(p) = &r.principal {
                    write!(f, ",{p}")?;
                }
                if !r.labels.is_empty() {
                    let labels: Vec<String> =
                        r.labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    write!(f, ",{{{}}}", labels.join(", "))?;
                }
                f.write_str(")")?;
            }
            f.write_str("])")?;
        }
        if let Some(disk) = &self.disk {
            f.write_str("[")?;
            if let Some(source) = &disk.source {
                f.write_str(source.kind.as_str())?;
                if let Some(root) = &source.root {
                    write!(f, ":{root}")?;
                }
            }
            if let Some(p) = &disk.persistence {
                if disk.source.is_some() {
                    f.write_str(",")?;
                }
                f.write_str(&p.id)?;
            }
            if let Some(v) = &disk.volume {
                write!(f, ":{}", v.container_path)?;
            }
            f.write_str("]")?;
        }
        if self.revocable {
            f.write_str("{REV}")?;
        }
        if self.shared {
            f.write_str("<SHARED>")?;
        }
        write!(f, ":{}", self.value)
    }
}

#[cfg(test)]
mod tests;
