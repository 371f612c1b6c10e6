//! Validity rules for a single resource (Mesos `Resources::validate`).
//!
//! Value-level rules (NaN/infinite scalars, inverted or overlapping ranges,
//! empty or duplicate set items) are enforced when raw input is converted
//! into a [`Value`](crate::Value): see [`Value::try_scalar`](crate::Value::try_scalar),
//! [`Value::try_ranges`](crate::Value::try_ranges) and
//! [`Value::try_set`](crate::Value::try_set). The normalized
//! [`Ranges`](crate::Ranges) and [`Set`](crate::Set) types cannot hold them.

use crate::error::ValidationError;
use crate::resource::{DiskSourceKind, ReservationType, Resource};
use crate::roles::{is_strict_subrole, validate_role, DEFAULT_ROLE};
use crate::value::Value;

impl Resource {
    /// Checks the resource against Mesos's rules; the error names the resource.
    ///
    /// * the name is not empty; a scalar is not negative;
    /// * every reservation role is a valid role other than `*`; each refinement
    ///   is DYNAMIC and reserves to a strict descendant of the previous role;
    /// * the allocation role, if any, is a valid role;
    /// * disk info only on `disk`; BLOCK/RAW sources have no root; a
    ///   persistence id is not empty;
    /// * only persistent volumes may be shared.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let name = || self.name.clone();
        if self.name.is_empty() {
            return Err(ValidationError::EmptyName);
        }
        if let Value::Scalar(s) = &self.value {
            if s.is_negative() {
                return Err(ValidationError::NegativeScalar {
                    name: name(),
                    value: *s,
                });
            }
        }
        self.validate_reservations()?;
        if let Some(role) = &self.allocation_role {
            validate_role(role).map_err(|error| ValidationError::InvalidRole {
                name: name(),
                error,
            })?;
        }
        if let Some(disk) = &self.disk {
            if self.name != "disk" {
                return Err(ValidationError::DiskInfoOnNonDisk { name: name() });
            }
            if let Some(source) = &disk.source {
                let rootless = matches!(source.kind, DiskSourceKind::Block | DiskSourceKind::Raw);
                if rootless && source.root.is_some() {
                    return Err(ValidationError::DiskSourceWithRoot {
                        name: name(),
                        kind: source.kind,
                    });
                }
            }
            if disk.persistence.as_ref().is_some_and(|p| p.id.is_empty()) {
                return Err(ValidationError::EmptyPersistenceId { name: name() });
            }
        }
        if self.shared && (self.name != "disk" || !self.is_persistent_volume()) {
            return Err(ValidationError::SharedNotPersistentVolume { name: name() });
        }
        Ok(())
    }

    fn validate_reservations(&self) -> Result<(), ValidationError> {
        let name = || self.name.clone();
        let mut ancestor: Option<&str> = None;
        for reservation in &self.reservations {
            validate_role(&reservation.role).map_err(|error| ValidationError::InvalidRole {
                name: name(),
                error,
            })?;
            if reservation.role == DEFAULT_ROLE {
                return Err(ValidationError::ReservedToStar { name: name() });
            }
            if let Some(parent) = ancestor {
                if reservation.kind == ReservationType::Static {
                    return Err(ValidationError::StaticRefinement {
                        name: name(),
                        role: reservation.role.clone(),
                    });
                }
                if !is_strict_subrole(&reservation.role, parent) {
                    return Err(ValidationError::NotARefinement {
                        name: name(),
                        role: reservation.role.clone(),
                        ancestor: parent.to_string(),
                    });
                }
            }
            ancestor = Some(&reservation.role);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ValidationError as E;
    use crate::resource::*;
    use crate::scalar::Scalar;

    fn cpus() -> Resource {
        Resource::new_scalar("cpus", Scalar::from_units(1))
    }

    fn volume(id: &str) -> DiskInfo {
        DiskInfo {
            persistence: Some(Persistence {
                id: id.into(),
                principal: None,
            }),
            volume: None,
            source: None,
        }
    }

    fn message(r: &Resource) -> String {
        r.validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn accepts_valid_resources() {
        let ok = [
            cpus(),
            cpus().with_reservation(Reservation::new_static("a")),
            cpus()
                .with_reservation(Reservation::new_static("a"))
                .with_reservation(Reservation::new_dynamic("a/b", Some("ops".into())))
                .with_reservation(Reservation::new_dynamic("a/b/c", None))
                .with_allocation("a/b/c"),
            Resource::new_scalar("disk", Scalar::from_units(10))
                .with_disk(volume("v1"))
                .with_shared(),
        ];
        for r in ok {
            assert_eq!(r.validate(), Ok(()), "{r}");
        }
    }

    #[test]
    fn rejects_each_bad_case() {
        let mut r = cpus();
        r.name.clear();
        assert_eq!(r.validate(), Err(E::EmptyName));

        let r = Resource::new_scalar("cpus", Scalar::from_units(-1));
        assert_eq!(message(&r), "resource 'cpus': scalar value -1 is negative");

        let r = cpus().with_reservation(Reservation::new_static("*"));
        assert_eq!(message(&r), "resource 'cpus': role '*' cannot be reserved");

        let r = cpus().with_reservation(Reservation::new_static("a//b"));
        assert_eq!(
            message(&r),
            "resource 'cpus': invalid role 'a//b': cannot contain two adjacent slashes"
        );

        let r = cpus()
            .with_reservation(Reservation::new_static("a"))
            .with_reservation(Reservation::new_dynamic("b", None));
        assert_eq!(
            message(&r),
            "resource 'cpus': reservation role 'b' is not a refinement of 'a'"
        );

        let r = cpus()
            .with_reservation(Reservation::new_dynamic("a", None))
            .with_reservation(Reservation::new_dynamic("a", None));
        assert!(matches!(r.validate(), Err(E::NotARefinement { .. })));

        let r = cpus()
            .with_reservation(Reservation::new_static("a"))
            .with_reservation(Reservation::new_static("a/b"));
        assert_eq!(
            message(&r),
            "resource 'cpus': refined reservation for role 'a/b' cannot be STATIC"
        );

        let r = cpus().with_allocation("-x");
        assert!(matches!(r.validate(), Err(E::InvalidRole { .. })));

        let r = cpus().with_disk(volume("v1"));
        assert_eq!(
            message(&r),
            "resource 'cpus': disk info is only allowed on 'disk' resources"
        );

        let r = Resource::new_scalar("disk", Scalar::from_units(1)).with_disk(DiskInfo {
            source: Some(DiskSource {
                kind: DiskSourceKind::Block,
                root: Some("/dev".into()),
                id: None,
                profile: None,
            }),
            ..DiskInfo::default()
        });
        assert_eq!(
            message(&r),
            "resource 'disk': a BLOCK disk source cannot have a root path"
        );

        let r = Resource::new_scalar("disk", Scalar::from_units(1)).with_disk(volume(""));
        assert!(matches!(r.validate(), Err(E::EmptyPersistenceId { .. })));

        let r = Resource::new_scalar("disk", Scalar::from_units(1)).with_shared();
        assert_eq!(
            message(&r),
            "resource 'disk': only persistent volumes can be shared"
        );
    }
}
