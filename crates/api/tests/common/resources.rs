//! Resources (scalars, ranges, sets, reservations, volumes) and attributes.

use super::*;

pub fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.to_string(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    }
}

pub fn ranges(name: &str, bounds: &[(u64, u64)]) -> v1::Resource {
    v1::Resource {
        name: name.to_string(),
        r#type: v1::value::Type::Ranges as i32,
        ranges: Some(v1::value::Ranges {
            range: bounds
                .iter()
                .map(|&(begin, end)| v1::value::Range { begin, end })
                .collect(),
        }),
        ..Default::default()
    }
}

pub fn set(name: &str, items: &[&str]) -> v1::Resource {
    v1::Resource {
        name: name.to_string(),
        r#type: v1::value::Type::Set as i32,
        set: Some(v1::value::Set {
            item: items.iter().map(|s| (*s).to_string()).collect(),
        }),
        ..Default::default()
    }
}

pub fn allocated(mut r: v1::Resource, role: &str) -> v1::Resource {
    r.allocation_info = Some(v1::resource::AllocationInfo {
        role: Some(role.to_string()),
    });
    r
}

/// A static reservation for `role` refined by a dynamic one for `role/sub` (innermost last).
pub fn reserved(mut r: v1::Resource, role: &str) -> v1::Resource {
    r.reservations = vec![
        v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Static as i32),
            role: Some(role.to_string()),
            principal: None,
            labels: None,
        },
        v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some(format!("{role}/sub")),
            principal: Some("ops".to_string()),
            labels: Some(labels(&[("owner", Some("team-a")), ("flag", None)])),
        },
    ];
    r
}

/// A persistent volume on a MOUNT disk, reserved and allocated to `role`.
pub fn persistent_volume(role: &str) -> v1::Resource {
    let mut r = reserved(scalar("disk", 2048.0), role);
    r.disk = Some(v1::resource::DiskInfo {
        persistence: Some(v1::resource::disk_info::Persistence {
            id: "pv-1".to_string(),
            principal: Some("ops".to_string()),
        }),
        volume: Some(v1::Volume {
            mode: v1::volume::Mode::Rw as i32,
            container_path: "data".to_string(),
            ..Default::default()
        }),
        source: Some(v1::resource::disk_info::Source {
            r#type: v1::resource::disk_info::source::Type::Mount as i32,
            path: None,
            mount: Some(v1::resource::disk_info::source::Mount {
                root: Some("/mnt/disk1".to_string()),
            }),
            vendor: Some("org.example".to_string()),
            id: Some("vol-0001".to_string()),
            metadata: Some(labels(&[("tier", Some("ssd"))])),
            profile: Some("fast".to_string()),
        }),
    });
    allocated(r, role)
}

/// The resources of a realistic offer to `role`: scalars, port ranges, a set, a reserved and
/// refined scalar, a revocable and a shared resource, a persistent volume, a provider resource,
/// and a pre-refinement (`role`/`reservation`) resource.
pub fn offer_resources(role: &str) -> Vec<v1::Resource> {
    let mut revocable = scalar("cpus", 0.5);
    revocable.revocable = Some(v1::resource::RevocableInfo {});
    let mut shared = persistent_volume(role);
    shared.shared = Some(v1::resource::SharedInfo {});
    let mut provided = scalar("disk", 10240.0);
    provided.provider_id = Some(provider_id());
    let mut old_format = scalar("mem", 256.0);
    old_format.role = Some(role.to_string());
    old_format.reservation = Some(v1::resource::ReservationInfo {
        principal: Some("ops".to_string()),
        ..Default::default()
    });
    vec![
        allocated(scalar("cpus", 3.75), role),
        allocated(scalar("mem", 15_872.125), role),
        allocated(ranges("ports", &[(31000, 31099), (31200, 32000)]), role),
        allocated(set("disks", &["sda", "sdb"]), role),
        allocated(reserved(scalar("gpus", 1.0), role), role),
        allocated(revocable, role),
        shared,
        allocated(provided, role),
        allocated(old_format, role),
    ]
}

pub fn task_resources() -> Vec<v1::Resource> {
    vec![
        allocated(scalar("cpus", 0.1), "web"),
        allocated(scalar("mem", 32.0), "web"),
        allocated(ranges("ports", &[(31000, 31001)]), "web"),
    ]
}

pub fn attributes() -> Vec<v1::Attribute> {
    vec![
        v1::Attribute {
            name: "rack".to_string(),
            r#type: v1::value::Type::Text as i32,
            text: Some(v1::value::Text {
                value: "r1".to_string(),
            }),
            ..Default::default()
        },
        v1::Attribute {
            name: "ssd_speed".to_string(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: 3.5 }),
            ..Default::default()
        },
        v1::Attribute {
            name: "ports_ok".to_string(),
            r#type: v1::value::Type::Ranges as i32,
            ranges: Some(v1::value::Ranges {
                range: vec![v1::value::Range {
                    begin: 1,
                    end: 1024,
                }],
            }),
            ..Default::default()
        },
        v1::Attribute {
            name: "features".to_string(),
            r#type: v1::value::Type::Set as i32,
            set: Some(v1::value::Set {
                item: vec!["avx2".to_string(), "sgx".to_string()],
            }),
            ..Default::default()
        },
    ]
}
