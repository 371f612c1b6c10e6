//! Conversions between this crate's model and the Mesos v1 wire types.
#![allow(deprecated)] // the legacy `role`/`reservation` fields are read and written on purpose
//!
//! Input accepts both reservation formats: the refinement format (`reservations`, innermost
//! last) and the pre-1.4 one (`role` plus an optional `reservation`); when `reservations` is
//! non-empty it wins. Output writes `reservations` and, for tools that still read it, the
//! legacy `role` (the innermost reservation's role, or `*`).

use corral_api::v1;
use thiserror::Error;

use crate::attributes::{Attribute, AttributeValue, Attributes};
use crate::disk::{DiskInfo, DiskSource, DiskSourceKind, Persistence, Volume, VolumeMode};
use crate::error::ValidationError;
use crate::resource::{Reservation, ReservationType, Resource};
use crate::resources::Resources;
use crate::value::Value;

/// Why a wire resource is not acceptable.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ProtoError {
    /// The value is invalid (negative, NaN, inverted ranges, bad role, …).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The field for the declared type is missing.
    #[error("resource '{name}': type is {kind} but the '{field}' field is missing")]
    MissingValue {
        /// The resource.
        name: String,
        /// The declared type.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// The type is not SCALAR, RANGES or SET.
    #[error("resource '{name}': type must be SCALAR, RANGES or SET")]
    BadType {
        /// The resource.
        name: String,
    },
}

fn labels_in(labels: Option<&v1::Labels>) -> Vec<(String, String)> {
    labels
        .map(|l| {
            l.labels
                .iter()
                .map(|l| (l.key.clone(), l.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

fn labels_out(labels: &[(String, String)]) -> Option<v1::Labels> {
    if labels.is_empty() {
        return None;
    }
    Some(v1::Labels {
        labels: labels
            .iter()
            .map(|(k, v)| v1::Label {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect(),
    })
}

fn reservation_in(r: &v1::resource::ReservationInfo, legacy_dynamic: bool) -> Reservation {
    use v1::resource::reservation_info::Type;
    let kind = match r.r#type.and_then(|t| Type::try_from(t).ok()) {
        Some(Type::Dynamic) => ReservationType::Dynamic,
        Some(Type::Static) => ReservationType::Static,
        _ if legacy_dynamic => ReservationType::Dynamic,
        _ => ReservationType::Static,
    };
    Reservation {
        kind,
        role: r.role.clone().unwrap_or_default(),
        principal: r.principal.clone(),
        labels: labels_in(r.labels.as_ref()),
    }
}

fn reservation_out(r: &Reservation) -> v1::resource::ReservationInfo {
    use v1::resource::reservation_info::Type;
    let kind = match r.kind {
        ReservationType::Static => Type::Static,
        ReservationType::Dynamic => Type::Dynamic,
    };
    v1::resource::ReservationInfo {
        r#type: Some(kind as i32),
        role: Some(r.role.clone()),
        principal: r.principal.clone(),
        labels: labels_out(&r.labels),
    }
}

fn disk_in(d: &v1::resource::DiskInfo) -> DiskInfo {
    use v1::resource::disk_info::source::Type;
    DiskInfo {
        persistence: d.persistence.as_ref().map(|p| Persistence {
            id: p.id.clone(),
            principal: p.principal.clone(),
        }),
        volume: d.volume.as_ref().map(|v| Volume {
            container_path: v.container_path.clone(),
            mode: match v1::volume::Mode::try_from(v.mode) {
                Ok(v1::volume::Mode::Ro) => Some(VolumeMode::Ro),
                Ok(v1::volume::Mode::Rw) => Some(VolumeMode::Rw),
                Err(_) => None,
            },
        }),
        source: d.source.as_ref().and_then(|s| {
            let kind = match Type::try_from(s.r#type).ok()? {
                Type::Path => DiskSourceKind::Path,
                Type::Mount => DiskSourceKind::Mount,
                Type::Block => DiskSourceKind::Block,
                Type::Raw => DiskSourceKind::Raw,
                Type::Unknown => return None,
            };
            let root = s
                .path
                .as_ref()
                .and_then(|p| p.root.clone())
                .or_else(|| s.mount.as_ref().and_then(|m| m.root.clone()));
            Some(DiskSource {
                kind,
                root,
                id: s.id.clone(),
                profile: s.profile.clone(),
            })
        }),
    }
}

fn disk_out(d: &DiskInfo) -> v1::resource::DiskInfo {
    use v1::resource::disk_info::{self, source::Type};
    v1::resource::DiskInfo {
        persistence: d.persistence.as_ref().map(|p| disk_info::Persistence {
            id: p.id.clone(),
            principal: p.principal.clone(),
        }),
        volume: d.volume.as_ref().map(|v| v1::Volume {
            mode: match v.mode {
                Some(VolumeMode::Ro) => v1::volume::Mode::Ro as i32,
                _ => v1::volume::Mode::Rw as i32,
            },
            container_path: v.container_path.clone(),
            ..Default::default()
        }),
        source: d.source.as_ref().map(|s| {
            let (kind, path, mount) = match s.kind {
                DiskSourceKind::Path => (
                    Type::Path,
                    Some(disk_info::source::Path {
                        root: s.root.clone(),
                    }),
                    None,
                ),
                DiskSourceKind::Mount => (
                    Type::Mount,
                    None,
                    Some(disk_info::source::Mount {
                        root: s.root.clone(),
                    }),
                ),
                DiskSourceKind::Block => (Type::Block, None, None),
                DiskSourceKind::Raw => (Type::Raw, None, None),
            };
            disk_info::Source {
                r#type: kind as i32,
                path,
                mount,
                id: s.id.clone(),
                profile: s.profile.clone(),
                ..Default::default()
            }
        }),
    }
}

impl Resource {
    /// From the wire, validated.
    pub fn from_proto(r: &v1::Resource) -> Result<Resource, ProtoError> {
        use v1::value::Type;
        let name = r.name.as_str();
        let value = match Type::try_from(r.r#type) {
            Ok(Type::Scalar) => {
                let s = r
                    .scalar
                    .as_ref()
                    .ok_or_else(|| missing(name, "SCALAR", "scalar"))?;
                Value::try_scalar(name, s.value)?
            }
            Ok(Type::Ranges) => {
                let rs = r
                    .ranges
                    .as_ref()
                    .ok_or_else(|| missing(name, "RANGES", "ranges"))?;
                let pairs: Vec<(u64, u64)> = rs.range.iter().map(|x| (x.begin, x.end)).collect();
                Value::try_ranges(name, &pairs)?
            }
            Ok(Type::Set) => {
                let s = r.set.as_ref().ok_or_else(|| missing(name, "SET", "set"))?;
                Value::try_set(name, s.item.iter().cloned())?
            }
            _ => {
                return Err(ProtoError::BadType {
                    name: name.to_string(),
                })
            }
        };
        let reservations = if !r.reservations.is_empty() {
            r.reservations
                .iter()
                .map(|x| reservation_in(x, false))
                .collect()
        } else {
            match r.role.as_deref() {
                Some(role) if role != "*" => {
                    let legacy = r.reservation.as_ref();
                    let mut res = legacy
                        .map(|x| reservation_in(x, true))
                        .unwrap_or_else(|| Reservation::new_static(role));
                    res.role = role.to_string();
                    vec![res]
                }
                _ => Vec::new(),
            }
        };
        let resource = Resource {
            name: name.to_string(),
            value,
            reservations,
            allocation_role: r.allocation_info.as_ref().and_then(|a| a.role.clone()),
            disk: r.disk.as_ref().map(disk_in),
            revocable: r.revocable.is_some(),
            shared: r.shared.is_some(),
            provider_id: r.provider_id.as_ref().map(|p| p.value.clone()),
        };
        resource.validate()?;
        Ok(resource)
    }

    /// To the wire.
    pub fn to_proto(&self) -> v1::Resource {
        let mut out = v1::Resource {
            name: self.name.clone(),
            ..Default::default()
        };
        let (kind, scalar, ranges, set) = value_out(&self.value);
        out.r#type = kind as i32;
        (out.scalar, out.ranges, out.set) = (scalar, ranges, set);
        out.role = Some(
            self.reservations
                .last()
                .map(|r| r.role.clone())
                .unwrap_or_else(|| "*".to_string()),
        );
        out.reservations = self.reservations.iter().map(reservation_out).collect();
        out.allocation_info =
            self.allocation_role
                .as_ref()
                .map(|role| v1::resource::AllocationInfo {
                    role: Some(role.clone()),
                });
        out.disk = self.disk.as_ref().map(disk_out);
        out.revocable = self.revocable.then_some(v1::resource::RevocableInfo {});
        out.shared = self.shared.then_some(v1::resource::SharedInfo {});
        out.provider_id = self
            .provider_id
            .as_ref()
            .map(|p| v1::ResourceProviderId { value: p.clone() });
        out
    }
}

type WireValue = (
    v1::value::Type,
    Option<v1::value::Scalar>,
    Option<v1::value::Ranges>,
    Option<v1::value::Set>,
);

/// A value's wire type and the one field that carries it.
fn value_out(value: &Value) -> WireValue {
    use v1::value::Type;
    match value {
        Value::Scalar(s) => (
            Type::Scalar,
            Some(v1::value::Scalar { value: s.as_f64() }),
            None,
            None,
        ),
        Value::Ranges(rs) => {
            let range = rs
                .iter()
                .map(|x| v1::value::Range {
                    begin: x.begin(),
                    end: x.end(),
                })
                .collect();
            (Type::Ranges, None, Some(v1::value::Ranges { range }), None)
        }
        Value::Set(s) => {
            let item = s.iter().map(str::to_string).collect();
            (Type::Set, None, None, Some(v1::value::Set { item }))
        }
    }
}

fn missing(name: &str, kind: &'static str, field: &'static str) -> ProtoError {
    ProtoError::MissingValue {
        name: name.to_string(),
        kind,
        field,
    }
}

impl Resources {
    /// From the wire, every resource validated; the first invalid one is the error.
    pub fn from_proto(resources: &[v1::Resource]) -> Result<Resources, ProtoError> {
        let mut out = Resources::new();
        for r in resources {
            out.add(Resource::from_proto(r)?);
        }
        Ok(out)
    }

    /// To the wire (shared resources repeated by their count).
    pub fn to_proto(&self) -> Vec<v1::Resource> {
        let mut out = Vec::with_capacity(self.len());
        for r in self.iter() {
            let p = r.to_proto();
            for _ in 1..self.count(r).max(1) {
                out.push(p.clone());
            }
            out.push(p);
        }
        out
    }

    /// The same resources without allocation roles.
    pub fn stripped(&self) -> Resources {
        let mut r = self.clone();
        r.unallocate();
        r
    }

    /// The allocation role of the first allocated resource, if any.
    pub fn allocation_role(&self) -> Option<String> {
        self.iter().find_map(|r| r.allocation_role.clone())
    }

    /// Total of a scalar resource as `f64` (0 when absent).
    pub fn scalar_total(&self, name: &str) -> f64 {
        self.scalar(name).as_f64()
    }
}

impl Attributes {
    /// To the wire.
    pub fn to_proto(&self) -> Vec<v1::Attribute> {
        self.iter().map(Attribute::to_proto).collect()
    }
}

impl Attribute {
    /// To the wire.
    pub fn to_proto(&self) -> v1::Attribute {
        let mut out = v1::Attribute {
            name: self.name.clone(),
            ..Default::default()
        };
        let (kind, scalar, ranges, set) = match &self.value {
            AttributeValue::Scalar(x) => value_out(&Value::Scalar(*x)),
            AttributeValue::Ranges(x) => value_out(&Value::Ranges(x.clone())),
            AttributeValue::Set(x) => value_out(&Value::Set(x.clone())),
            AttributeValue::Text(t) => {
                out.text = Some(v1::value::Text { value: t.clone() });
                (v1::value::Type::Text, None, None, None)
            }
        };
        out.r#type = kind as i32;
        (out.scalar, out.ranges, out.set) = (scalar, ranges, set);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(name: &str, v: f64) -> v1::Resource {
        v1::Resource {
            name: name.into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: v }),
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_through_the_wire() {
        let r: Resources = "cpus(prod):2;mem:512;ports:[31000-31005,31010-31020];disks:{a,b}"
            .parse()
            .unwrap();
        let back = Resources::from_proto(&r.to_proto()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn rejects_invalid_wire_values() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(
                Resources::from_proto(&[scalar("cpus", bad)]).is_err(),
                "{bad}"
            );
        }
        let inverted = v1::Resource {
            name: "ports".into(),
            r#type: v1::value::Type::Ranges as i32,
            ranges: Some(v1::value::Ranges {
                range: vec![v1::value::Range { begin: 5, end: 3 }],
            }),
            ..Default::default()
        };
        let err = Resources::from_proto(&[inverted]).unwrap_err().to_string();
        assert!(err.contains("ports"), "{err}");
        let no_value = v1::Resource {
            name: "mem".into(),
            r#type: v1::value::Type::Scalar as i32,
            ..Default::default()
        };
        assert!(matches!(
            Resources::from_proto(&[no_value]),
            Err(ProtoError::MissingValue { .. })
        ));
    }

    #[test]
    fn legacy_role_means_a_static_reservation() {
        let mut r = scalar("cpus", 1.0);
        r.role = Some("web".into());
        let res = Resource::from_proto(&r).unwrap();
        assert_eq!(res.reservation_role(), Some("web"));
        assert!(res.is_statically_reserved());
        assert_eq!(res.to_proto().reservations.len(), 1);
    }
}
