//! Property tests of the resource algebra.

mod strategies;

use corral_resources::*;
use proptest::prelude::*;
use strategies::*;

fn no_negative(r: &Resources) -> bool {
    r.iter()
        .all(|x| x.as_scalar().is_none_or(|s| !s.is_negative()))
}

fn no_empty(r: &Resources) -> bool {
    r.iter().all(|x| !x.is_empty())
}

/// `b` without the ranges, set items and persistent volumes it shares with
/// `a`. Union is idempotent for those (a volume, like a port, exists once), so
/// `a + b - b == a` and additive quantities only hold for such disjoint `b`
/// (as in Mesos; one agent's resources never overlap).
fn disjoint(a: &Resources, b: &Resources) -> Resources {
    let values = a.filter(|r| r.as_scalar().is_none() || r.is_persistent_volume());
    b.saturating_sub(&values)
}

fn plus(a: &Resources, b: &Resources) -> Resources {
    let mut out = a.clone();
    out += b;
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_resources_are_valid(r in rich_resources()) {
        for x in r.iter() {
            prop_assert_eq!(x.validate(), Ok(()), "{}", x);
        }
    }

    #[test]
    fn add_then_subtract_is_identity(a in rich_resources(), b in rich_resources()) {
        let b = disjoint(&a, &b);
        let sum = plus(&a, &b);
        let back = sum.checked_sub(&b);
        prop_assert!(back.is_ok(), "{} - {}: {:?}", sum, b, back);
        let back = back.unwrap_or_default();
        prop_assert_eq!(&back, &a, "{} + {} - {} = {}", a, b, b, back);
    }

    #[test]
    fn sum_contains_both_parts(a in rich_resources(), b in rich_resources()) {
        let sum = plus(&a, &b);
        prop_assert!(sum.contains(&a));
        prop_assert!(sum.contains(&b));
        prop_assert!(sum.contains(&Resources::new()));
        prop_assert!(a.contains(&a));
    }

    #[test]
    fn addition_commutes(a in rich_resources(), b in rich_resources()) {
        prop_assert_eq!(plus(&a, &b), plus(&b, &a));
    }

    #[test]
    fn checked_subtract_succeeds_iff_contained(a in rich_resources(), b in rich_resources()) {
        let result = a.checked_sub(&b);
        prop_assert_eq!(result.is_ok(), a.contains(&b));
        match result {
            Ok(diff) => {
                prop_assert!(no_negative(&diff) && no_empty(&diff));
                prop_assert_eq!(plus(&diff, &b), a.clone());
            }
            Err(ResourcesError::NotContained { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    #[test]
    fn subtract_never_goes_negative(a in rich_resources(), b in rich_resources()) {
        let diff = a.saturating_sub(&b);
        prop_assert!(no_negative(&diff), "{} - {} = {}", a, b, diff);
        prop_assert!(no_empty(&diff));
        prop_assert!(a.contains(&diff));
        let mut c = a.clone();
        if c.subtract(&b).is_err() {
            prop_assert_eq!(&c, &a, "failed subtract must not change");
        }
    }

    #[test]
    fn quantities_are_additive(a in rich_resources(), b in rich_resources()) {
        let b = disjoint(&a, &b);
        let sum = plus(&a, &b);
        prop_assert_eq!(sum.quantities(), &a.quantities() + &b.quantities());
        let totals = sum.quantities();
        let share = a.quantities().dominant_share(&totals);
        prop_assert!((0.0..=1.0).contains(&share), "{}", share);
    }

    #[test]
    fn filters_partition(r in rich_resources(), role in prop::sample::select(vec!["a", "a/b", "prod", "z"])) {
        prop_assert_eq!(plus(&r.unreserved(), &r.reserved_any()), r.clone());
        prop_assert_eq!(plus(&r.revocable(), &r.non_revocable()), r.clone());
        let allocatable = r.allocatable_to_role(role);
        prop_assert!(r.contains(&allocatable));
        prop_assert!(allocatable.contains(&r.unreserved()));
        prop_assert!(allocatable.iter().all(|x| x.is_allocatable_to(role)));
        let by_role = r.reservations();
        let regrouped = by_role.values().fold(Resources::new(), |acc, x| plus(&acc, x));
        prop_assert_eq!(regrouped, r.reserved_any());
    }

    #[test]
    fn allocate_roundtrip(r in rich_resources()) {
        let mut allocated = r.clone();
        allocated.allocate("web");
        prop_assert!(allocated.iter().all(|x| x.allocation_role.as_deref() == Some("web")));
        prop_assert_eq!(allocated.scalar_quantities(), r.scalar_quantities());
        prop_assert_eq!(allocated.ports(), r.ports());
        prop_assert_eq!(allocated.set("disks"), r.set("disks"));
        allocated.unallocate();
        let mut expected = r.clone();
        expected.unallocate();
        prop_assert_eq!(allocated, expected);
    }

    #[test]
    fn entries_stay_normalized(a in rich_resources(), b in rich_resources()) {
        let sum = plus(&a, &b);
        let items: Vec<&Resource> = sum.iter().collect();
        for (i, x) in items.iter().enumerate() {
            for y in &items[i + 1..] {
                let indivisible = x.disk.is_some() || x.shared;
                let same = !indivisible
                    && x.name == y.name
                    && x.reservations == y.reservations
                    && x.allocation_role == y.allocation_role
                    && x.revocable == y.revocable
                    && x.provider_id == y.provider_id;
                prop_assert!(!same, "unmerged {} and {}", x, y);
            }
        }
    }
}
