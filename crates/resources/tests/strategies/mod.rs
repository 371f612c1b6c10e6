//! Proptest generators shared by the integration tests.
#![allow(dead_code)]

use corral_resources::*;
use proptest::prelude::*;

/// Names with a fixed type, so that generated collections never mix types.
pub const SCALAR_NAMES: [&str; 4] = ["cpus", "mem", "gpus", "cassandra_slot"];

pub fn scalar() -> impl Strategy<Value = Scalar> {
    (0i64..5_000_000).prop_map(Scalar::from_millis)
}

pub fn ranges() -> impl Strategy<Value = Ranges> {
    prop::collection::vec((0u64..400, 0u64..30), 0..6).prop_map(|pairs| {
        Ranges::coalesce(
            pairs
                .into_iter()
                .filter_map(|(b, len)| Range::new(b, b + len)),
        )
    })
}

pub fn set() -> impl Strategy<Value = Set> {
    prop::collection::btree_set(
        prop::sample::select(vec!["a", "b", "c", "d", "e", "sda"]),
        0..5,
    )
    .prop_map(|items| items.into_iter().collect())
}

/// A value together with a name of the matching type.
pub fn named_value() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        (prop::sample::select(SCALAR_NAMES.to_vec()), scalar())
            .prop_map(|(n, s)| (n.to_string(), Value::Scalar(s))),
        ranges().prop_map(|r| ("ports".to_string(), Value::Ranges(r))),
        set().prop_map(|s| ("disks".to_string(), Value::Set(s))),
    ]
}

pub fn static_role() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        prop::sample::select(vec!["prod", "a", "a/b", "team-1"]).prop_map(String::from),
    )
}

/// Resources the `--resources` text syntax can express: unreserved or one static reservation.
pub fn flag_resource() -> impl Strategy<Value = Resource> {
    (named_value(), static_role()).prop_map(|((name, value), role)| {
        let r = Resource::new(name, value);
        match role {
            Some(role) => r.with_reservation(Reservation::new_static(role)),
            None => r,
        }
    })
}

/// Valid resources with every kind of metadata the algebra distinguishes.
pub fn rich_resource() -> impl Strategy<Value = Resource> {
    (
        flag_resource(),
        prop::option::of(prop::sample::select(vec!["ops", "alice"])),
        prop::option::of(prop::sample::select(vec!["a", "a/b", "prod", "*"])),
        any::<bool>(),
        prop::option::of(Just("rp1")),
    )
        .prop_map(
            |(mut r, refine_principal, allocation, revocable, provider)| {
                if let (Some(principal), Some(role)) = (refine_principal, r.reservation_role()) {
                    let child = format!("{role}/sub");
                    r.reservations
                        .push(Reservation::new_dynamic(child, Some(principal.to_string())));
                }
                r.allocation_role = allocation.map(String::from);
                r.revocable = revocable;
                r.provider_id = provider.map(String::from);
                r
            },
        )
}

/// Persistent volumes (optionally shared) and MOUNT disks: indivisible resources.
pub fn disk_resource() -> impl Strategy<Value = Resource> {
    (
        1i64..100,
        prop::sample::select(vec!["v1", "v2"]),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(|(mb, id, kind, reserved)| {
            let disk = match kind {
                0 => DiskInfo {
                    source: Some(DiskSource {
                        kind: DiskSourceKind::Mount,
                        root: Some(format!("/mnt/{id}")),
                        id: None,
                        profile: None,
                    }),
                    ..DiskInfo::default()
                },
                _ => DiskInfo {
                    persistence: Some(Persistence {
                        id: id.to_string(),
                        principal: Some("ops".into()),
                    }),
                    volume: Some(Volume {
                        container_path: "data".into(),
                        mode: Some(VolumeMode::Rw),
                    }),
                    source: None,
                },
            };
            let mut r = Resource::new_scalar("disk", Scalar::from_units(mb)).with_disk(disk);
            if reserved {
                r = r.with_reservation(Reservation::new_dynamic("a", None));
            }
            if kind == 2 {
                r = r.with_shared();
            }
            r
        })
}

pub fn flag_resources() -> impl Strategy<Value = Resources> {
    prop::collection::vec(flag_resource(), 0..8).prop_map(|v| v.into_iter().collect())
}

pub fn rich_resources() -> impl Strategy<Value = Resources> {
    prop::collection::vec(
        prop_oneof![4 => rich_resource(), 1 => disk_resource()],
        0..10,
    )
    .prop_map(|v| v.into_iter().collect())
}
