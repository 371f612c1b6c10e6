use super::*;
use crate::ranges::Range;

fn cpus(n: i64) -> Resource {
    Resource::new_scalar("cpus", Scalar::from_units(n))
}

fn disk(mb: i64) -> Resource {
    Resource::new_scalar("disk", Scalar::from_units(mb))
}

fn persistent(id: &str, path: &str) -> DiskInfo {
    DiskInfo {
        persistence: Some(Persistence {
            id: id.into(),
            principal: None,
        }),
        volume: Some(Volume {
            container_path: path.into(),
            mode: Some(VolumeMode::Rw),
        }),
        source: None,
    }
}

fn mount(root: &str) -> DiskInfo {
    DiskInfo {
        source: Some(DiskSource {
            kind: DiskSourceKind::Mount,
            root: Some(root.into()),
            id: None,
            profile: None,
        }),
        ..DiskInfo::default()
    }
}

#[test]
fn simple_display() {
    assert_eq!(cpus(2).to_string(), "cpus:2");
    assert_eq!(
        cpus(2)
            .with_reservation(Reservation::new_static("prod"))
            .to_string(),
        "cpus(prod):2"
    );
    let ports = Ranges::coalesce([Range::new(1, 2), Range::new(5, 9)].into_iter().flatten());
    assert_eq!(
        Resource::new_ranges("ports", ports).to_string(),
        "ports:[1-2, 5-9]"
    );
}

#[test]
fn extended_display_uses_mesos_log_notation() {
    let r = disk(10)
        .with_reservation(Reservation::new_static("a"))
        .with_reservation(Reservation {
            labels: vec![("k".into(), "v".into())],
            ..Reservation::new_dynamic("a/b", Some("ops".into()))
        })
        .with_allocation("a/b")
        .with_disk(DiskInfo {
            source: mount("/mnt").source,
            ..persistent("v1", "data")
        })
        .with_revocable()
        .with_shared();
    assert_eq!(
        r.to_string(),
        "disk(allocated: a/b)(reservations: [(STATIC,a),(DYNAMIC,a/b,ops,{k: v})])\
         [MOUNT:/mnt,v1:data]{REV}<SHARED>:10"
    );
    assert_eq!(
        cpus(1)
            .with_reservation(Reservation::new_dynamic("r", None))
            .to_string(),
        "cpus(reservations: [(DYNAMIC,r)]):1"
    );
}

#[test]
fn roles_and_allocatability() {
    let unreserved = cpus(1);
    assert_eq!(unreserved.role(), "*");
    assert!(unreserved.is_allocatable_to("anyone"));
    assert!(unreserved.is_allocatable_to("a/b"));

    let reserved = cpus(1)
        .with_reservation(Reservation::new_static("a"))
        .with_reservation(Reservation::new_dynamic("a/b", None));
    assert_eq!(reserved.role(), "a/b");
    assert!(reserved.is_dynamically_reserved());
    assert!(!reserved.is_statically_reserved());
    assert!(reserved.is_allocatable_to("a/b"));
    assert!(reserved.is_allocatable_to("a/b/c"));
    assert!(!reserved.is_allocatable_to("a"));
    assert!(!reserved.is_allocatable_to("a/bc"));
    assert!(reserved.is_reserved_to_role_subtree("a"));
    assert!(!reserved.is_reserved_to_role_subtree("a/b/c"));
    assert!(cpus(1)
        .with_allocation("x/y")
        .is_allocated_to_role_subtree("x"));
    assert!(!cpus(1).is_allocated_to_role_subtree("x"));
}

#[test]
fn identity_rules() {
    // Same metadata: addable and subtractable.
    assert!(cpus(1).addable(&cpus(2)));
    assert!(cpus(2).contains(&cpus(1)));
    assert!(!cpus(1).contains(&cpus(2)));
    // Any difference in metadata separates them.
    assert!(!cpus(1).addable(&cpus(1).with_revocable()));
    assert!(!cpus(1).addable(&cpus(1).with_allocation("a")));
    assert!(!cpus(1).addable(&cpus(1).with_provider("p")));
    assert!(!cpus(1).addable(&cpus(1).with_reservation(Reservation::new_static("a"))));
    assert!(!cpus(1).addable(&Resource::new_scalar("mem", Scalar::from_units(1))));
    // Persistent volumes: never merged, only taken out whole; volume ignored.
    let v1 = disk(10).with_disk(persistent("v1", "data"));
    let v1_elsewhere = disk(10).with_disk(persistent("v1", "other"));
    assert!(!v1.addable(&v1));
    assert!(v1.contains(&v1_elsewhere));
    assert!(v1.same_as(&v1_elsewhere));
    assert!(!v1.contains(&disk(5).with_disk(persistent("v1", "data"))));
    assert!(!v1.contains(&disk(10).with_disk(persistent("v2", "data"))));
    // MOUNT disks are exclusive.
    let m = disk(100).with_disk(mount("/mnt/a"));
    assert!(!m.addable(&m));
    assert!(m.contains(&m));
    assert!(!m.contains(&disk(50).with_disk(mount("/mnt/a"))));
    // PATH disks behave like plain disk.
    let path = DiskInfo {
        source: Some(DiskSource {
            kind: DiskSourceKind::Path,
            root: Some("/p".into()),
            id: None,
            profile: None,
        }),
        ..DiskInfo::default()
    };
    assert!(disk(1)
        .with_disk(path.clone())
        .addable(&disk(2).with_disk(path.clone())));
    assert!(disk(2)
        .with_disk(path.clone())
        .contains(&disk(1).with_disk(path)));
    // Shared: addable only when equal.
    let shared = v1.clone().with_shared();
    assert!(shared.addable(&shared));
    assert!(!shared.addable(&v1));
    assert!(!shared.contains(&v1));
}

#[test]
fn accessors() {
    let r = cpus(3);
    assert_eq!(r.as_scalar(), Some(Scalar::from_units(3)));
    assert_eq!(r.as_ranges(), None);
    assert_eq!(r.as_set(), None);
    assert_eq!(r.value_type(), ValueType::Scalar);
    assert!(!r.is_empty());
    assert!(cpus(0).is_empty());
    assert!(r.is_unreserved());
    assert!(!r.is_persistent_volume());
    assert!(disk(1)
        .with_disk(persistent("v", "p"))
        .is_persistent_volume());
    let s = Resource::new_set("disks", ["a"].into_iter().collect());
    assert_eq!(s.as_set().map(Set::len), Some(1));
}
