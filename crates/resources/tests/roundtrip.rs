//! Property tests: text, JSON and scalar round trips, ranges normalization.

mod strategies;

use std::collections::BTreeSet;

use corral_resources::json::{resources_from_json, resources_to_json};
use corral_resources::*;
use proptest::prelude::*;
use strategies::*;

fn model(r: &Ranges) -> BTreeSet<u64> {
    r.iter().flat_map(|x| x.begin()..=x.end()).collect()
}

fn is_normalized(r: &Ranges) -> bool {
    r.as_slice()
        .windows(2)
        .all(|w| w[0].end() < u64::MAX && w[0].end() + 1 < w[1].begin())
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
    fn text_display_parses_back(r in flag_resources()) {
        let text = r.to_string();
        let parsed = parse_resources(&text);
        prop_assert!(parsed.is_ok(), "{}: {:?}", text, parsed);
        prop_assert_eq!(parsed.unwrap_or_default(), r);
    }

    #[test]
    fn json_parses_back(r in rich_resources()) {
        let json = resources_to_json(&r);
        let parsed = resources_from_json(&json, DEFAULT_ROLE);
        prop_assert!(parsed.is_ok(), "{}: {:?}", json, parsed);
        let parsed: Resources = parsed.unwrap_or_default().into_iter().collect();
        prop_assert_eq!(parsed, r);
    }

    #[test]
    fn scalar_display_parses_back(millis in any::<i64>()) {
        let s = Scalar::from_millis(millis);
        prop_assert_eq!(s.to_string().parse::<Scalar>(), Ok(s));
    }

    #[test]
    fn scalar_f64_round_trip(millis in -1_000_000_000_000i64..1_000_000_000_000) {
        let s = Scalar::from_millis(millis);
        prop_assert_eq!(Scalar::try_from_f64(s.as_f64()), Ok(s));
    }

    #[test]
    fn ranges_ops_match_a_set_model(a in ranges(), b in ranges()) {
        let (ma, mb) = (model(&a), model(&b));
        let union = a.union(&b);
        let diff = a.difference(&b);
        let inter = a.intersection(&b);
        for r in [&a, &b, &union, &diff, &inter] {
            prop_assert!(is_normalized(r), "{}", r);
        }
        prop_assert_eq!(model(&union), ma.union(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(model(&diff), ma.difference(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(model(&inter), ma.intersection(&mb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(a.contains(&b), mb.is_subset(&ma));
        prop_assert_eq!(a.count(), ma.len() as u64);
    }

    #[test]
    fn coalesce_normalizes_anything(pairs in prop::collection::vec((any::<u64>(), any::<u64>()), 0..8)) {
        let ranges = Ranges::coalesce(pairs.iter().filter_map(|&(b, e)| Range::new(b.min(e), b.max(e))));
        prop_assert!(is_normalized(&ranges), "{}", ranges);
        for &(b, e) in &pairs {
            prop_assert!(ranges.contains_value(b) && ranges.contains_value(e));
        }
    }

    #[test]
    fn invalid_role_characters_are_rejected(prefix in "[a-z]{1,5}", bad in prop::sample::select(vec![' ', '\t', '\n', '\r', '\u{7f}', '\u{0}', '\u{a0}']), suffix in "[a-z]{1,5}") {
        let role = format!("{prefix}{bad}{suffix}");
        prop_assert_eq!(
            validate_role(&role).map_err(|e| e.kind),
            Err(RoleErrorKind::InvalidCharacter)
        );
        let text = format!("cpus({role}):1");
        prop_assert!(parse_resources(&text).is_err());
    }

    #[test]
    fn attributes_round_trip(
        values in prop::collection::vec(prop_oneof![
            "[a-z][a-z0-9_.-]{0,8}".prop_map(|s| format!("t{s}")),
            (0i64..1_000_000).prop_map(|m| Scalar::from_millis(m).to_string()),
            ranges().prop_filter("non-empty", |r| !r.is_empty()).prop_map(|r| r.to_string()),
            set().prop_filter("non-empty", |s| !s.is_empty()).prop_map(|s| s.to_string()),
        ], 0..6)
    ) {
        let text: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("k{i}:{v}")).collect();
        let parsed = Attributes::parse(&text.join(";"));
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
        let parsed = parsed.unwrap_or_default();
        prop_assert_eq!(Attributes::parse(&parsed.to_string()), Ok(parsed.clone()));
        prop_assert_eq!(parsed.len(), values.len());
    }
}
