use super::*;
use crate::resource::{DiskInfo, Persistence};
use crate::scalar::Scalar;

fn parse(text: &str) -> Resources {
    match text.parse() {
        Ok(r) => r,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn volume(id: &str, mb: i64) -> Resource {
    Resource::new_scalar("disk", Scalar::from_units(mb)).with_disk(DiskInfo {
        persistence: Some(Persistence {
            id: id.into(),
            principal: None,
        }),
        ..DiskInfo::default()
    })
}

#[test]
fn add_merges_same_identity_and_drops_empty() {
    let mut r = parse("cpus:1;mem:512;ports:[1-5]");
    r.add_all(&parse("cpus:0.5;ports:[6-9];disks:{a}"));
    r.add(Resource::new_scalar("gpus", Scalar::ZERO));
    r.add(Resource::new_scalar("gpus", Scalar::from_units(-1)));
    assert_eq!(r.to_string(), "cpus:1.5; mem:512; ports:[1-9]; disks:{a}");
    assert_eq!(r.len(), 4);
    let mut r2 = parse("cpus(a):1");
    r2 += &parse("cpus:1");
    r2 += Resource::new_scalar("cpus", Scalar::from_units(1));
    assert_eq!(r2.to_string(), "cpus(a):1; cpus:2");
}

#[test]
fn checked_subtract_fails_without_change() {
    let mut r = parse("cpus:2;mem:1024;ports:[1-10]");
    let before = r.clone();
    let err = r.subtract(&parse("cpus:1;mem:2048"));
    assert_eq!(
        err,
        Err(ResourcesError::NotContained {
            missing: "mem:2048".into()
        })
    );
    assert_eq!(r.to_string(), before.to_string());
    assert!(r.subtract(&parse("ports:[11-11]")).is_err());
    assert!(r.subtract(&parse("cpus(a):1")).is_err());
    assert_eq!(r.subtract(&parse("cpus:2;ports:[3-4]")), Ok(()));
    assert_eq!(r.to_string(), "mem:1024; ports:[1-2, 5-10]");
    assert_eq!(
        r.checked_sub(&parse("mem:1024")).map(|r| r.to_string()),
        Ok("ports:[1-2, 5-10]".to_string())
    );
    assert!(r
        .subtract_resource(&Resource::new_scalar("mem", Scalar::from_units(24)))
        .is_ok());
    assert_eq!(r.mem(), Scalar::from_units(1000));
}

#[test]
fn saturating_subtract_drops_negatives() {
    let r = parse("cpus:2;mem:1024;ports:[1-10]");
    let out = r.saturating_sub(&parse("cpus:3;mem:24;ports:[5-20];disk:7"));
    assert_eq!(out.to_string(), "mem:1000; ports:[1-4]");
}

#[test]
fn contains_and_equality_ignore_order() {
    let a = parse("cpus:2;mem:1024");
    let b = parse("mem:1024;cpus:1;cpus:1");
    assert_eq!(a, b);
    assert!(a.contains(&parse("cpus:1.5")));
    assert!(!a.contains(&parse("cpus:2.001")));
    assert!(a.contains(&Resources::new()));
    assert!(!Resources::new().contains(&a));
    assert_ne!(a, parse("cpus:2"));
    assert_eq!(Resources::new().to_string(), "{}");
}

#[test]
fn persistent_volumes_stay_whole() {
    let mut r = Resources::new();
    r.add(volume("v1", 10));
    r.add(volume("v2", 10));
    r.add(volume("v1", 10));
    assert_eq!(r.len(), 3);
    assert!(!r.contains_resource(&volume("v1", 5)));
    let twice: Resources = [volume("v1", 10), volume("v1", 10)].into_iter().collect();
    assert!(r.contains(&twice));
    let thrice: Resources = [volume("v1", 10), volume("v1", 10), volume("v1", 10)]
        .into_iter()
        .collect();
    assert!(!r.contains(&thrice));
    assert!(r.subtract(&twice).is_ok());
    assert_eq!(r.len(), 1);
    assert_eq!(r.persistent_volumes().len(), 1);
}

#[test]
fn shared_resources_are_counted() {
    let shared = volume("v1", 10).with_shared();
    let mut r = Resources::new();
    r.add(shared.clone());
    r.add(shared.clone());
    assert_eq!(r.len(), 1);
    assert_eq!(r.count(&shared), 2);
    assert_eq!(r.shared().len(), 1);
    assert!(r.non_shared().is_empty());
    let two: Resources = [shared.clone(), shared.clone()].into_iter().collect();
    let three: Resources = [shared.clone(), shared.clone(), shared.clone()]
        .into_iter()
        .collect();
    assert!(r.contains(&two));
    assert!(!r.contains(&three));
    assert!(r.subtract_resource(&shared).is_ok());
    assert_eq!(r.count(&shared), 1);
    assert!(r.subtract_resource(&shared).is_ok());
    assert!(r.is_empty());
    assert!(r.subtract_resource(&shared).is_err());
    assert_eq!(three.saturating_sub(&two).count(&shared), 1);
}

#[test]
fn allocate_and_unallocate_renormalize() {
    let mut r = parse("cpus:1;cpus(a):2;mem:3");
    r.allocate("a");
    assert_eq!(r.allocated_to("a").len(), 3);
    assert!(r.unallocated().is_empty());
    assert_eq!(r.allocations().keys().collect::<Vec<_>>(), ["a"]);
    let mut other = parse("cpus:4");
    other.allocate("b");
    r.add_all(&other);
    assert_eq!(r.allocated_to("b").cpus(), Scalar::from_units(4));
    assert_eq!(
        r.allocated_to_role_subtree("a").cpus(),
        Scalar::from_units(3)
    );
    r.unallocate();
    assert_eq!(r.len(), 3);
    assert_eq!(r.unreserved().cpus(), Scalar::from_units(5));
}

#[test]
fn role_filters() {
    let r = parse("cpus:1;cpus(a):2;cpus(a/b):4;mem(c):8");
    assert_eq!(r.unreserved().cpus(), Scalar::from_units(1));
    assert_eq!(r.reserved("a").cpus(), Scalar::from_units(2));
    assert_eq!(r.reserved_any().len(), 3);
    assert_eq!(
        r.reserved_to_role_subtree("a").cpus(),
        Scalar::from_units(6)
    );
    assert_eq!(r.allocatable_to_role("a").cpus(), Scalar::from_units(3));
    assert_eq!(r.allocatable_to_role("a/b").cpus(), Scalar::from_units(7));
    assert_eq!(r.allocatable_to_role("a/b/c").cpus(), Scalar::from_units(7));
    assert_eq!(r.allocatable_to_role("z").to_string(), "cpus:1");
    let by_role = r.reservations();
    assert_eq!(by_role.keys().collect::<Vec<_>>(), ["a", "a/b", "c"]);
    assert_eq!(
        by_role.get("c").map(Resources::mem),
        Some(Scalar::from_units(8))
    );
}

#[test]
fn reservation_stack_operations() {
    let r = parse("cpus(a):2;mem(a):4");
    let refined = r.push_reservation(&Reservation::new_dynamic("a/b", Some("p".into())));
    let refined = refined.unwrap_or_default();
    assert_eq!(refined.reserved("a/b").len(), 2);
    assert_eq!(refined.pop_reservation().ok(), Some(r.clone()));
    assert!(matches!(
        r.push_reservation(&Reservation::new_dynamic("x", None)),
        Err(ResourcesError::Invalid(_))
    ));
    assert!(matches!(
        parse("cpus:1").pop_reservation(),
        Err(ResourcesError::NotReserved { .. })
    ));
    assert_eq!(refined.to_unreserved(), parse("cpus:2;mem:4"));
}

#[test]
fn totals_and_names() {
    let r =
        parse("cpus:1;cpus(a):0.5;mem:2;disk:3;gpus:1;ports:[1-2];ports(a):[5-6];s:{x};s(a):{y}");
    assert_eq!(r.cpus(), Scalar::from_millis(1500));
    assert_eq!(r.mem(), Scalar::from_units(2));
    assert_eq!(r.disk(), Scalar::from_units(3));
    assert_eq!(r.gpus(), Scalar::from_units(1));
    assert_eq!(r.scalar("absent"), Scalar::ZERO);
    assert_eq!(r.ports().to_string(), "[1-2, 5-6]");
    assert_eq!(r.set("s").to_string(), "{x, y}");
    assert_eq!(
        r.names().into_iter().collect::<Vec<_>>(),
        ["cpus", "disk", "gpus", "mem", "ports", "s"]
    );
    assert_eq!(r.types().get("ports"), Some(&crate::ValueType::Ranges));
    assert_eq!(
        r.quantities().to_string(),
        "cpus:1.5; disk:3; gpus:1; mem:2; ports:4; s:2"
    );
    assert_eq!(
        r.scalar_quantities().to_string(),
        "cpus:1.5; disk:3; gpus:1; mem:2"
    );
    assert_eq!(r.named("mem").len(), 1);
    assert_eq!(r.to_vec().len(), r.len());
}

#[test]
fn try_from_resources_validates() {
    let bad = Resource::new_scalar("cpus", Scalar::from_units(1))
        .with_reservation(Reservation::new_static("*"));
    assert!(matches!(
        Resources::try_from_resources([bad]),
        Err(ValidationError::ReservedToStar { .. })
    ));
    let ok = Resources::try_from_resources([Resource::new_scalar("cpus", Scalar::from_units(1))]);
    assert_eq!(ok.map(|r| r.cpus()), Ok(Scalar::from_units(1)));
}
