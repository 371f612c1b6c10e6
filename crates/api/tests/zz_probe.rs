use proptest::prelude::*;
proptest! {
    #![proptest_config(ProptestConfig::with_cases(100000))]
    #[test]
    fn f64_ts(v in 1.0e9f64..2.0e9) {
        let s = serde_json::to_string(&v).unwrap();
        let back: f64 = serde_json::from_str(&s).unwrap();
        prop_assert_eq!(v.to_bits(), back.to_bits(), "{}", s);
    }
    #[test]
    fn f64_small(v in 0.0f64..100000.0) {
        let s = serde_json::to_string(&v).unwrap();
        let back: f64 = serde_json::from_str(&s).unwrap();
        prop_assert_eq!(v.to_bits(), back.to_bits(), "{}", s);
    }
}
