use super::*;

fn r(begin: u64, end: u64) -> Range {
    Range::new(begin, end).unwrap_or(Range::single(begin))
}

fn rs(pairs: &[(u64, u64)]) -> Ranges {
    Ranges::coalesce(pairs.iter().map(|&(b, e)| r(b, e)))
}

#[test]
fn range_rejects_inverted() {
    assert_eq!(Range::new(5, 4), None);
    assert_eq!(Range::new(4, 4), Some(Range::single(4)));
    assert_eq!(Range::new(0, u64::MAX).map(Range::count), Some(u64::MAX));
}

#[test]
fn coalesce_sorts_merges_overlapping_and_adjacent() {
    let ranges = rs(&[(10, 20), (1, 3), (4, 5), (15, 25), (30, 30)]);
    assert_eq!(ranges.as_slice(), &[r(1, 5), r(10, 25), r(30, 30)]);
    assert_eq!(ranges.to_string(), "[1-5, 10-25, 30-30]");
    assert_eq!(Ranges::new().to_string(), "[]");
}

#[test]
fn coalesce_handles_domain_edges() {
    let ranges = rs(&[
        (u64::MAX - 1, u64::MAX),
        (0, 0),
        (u64::MAX, u64::MAX),
        (1, 1),
    ]);
    assert_eq!(ranges.as_slice(), &[r(0, 1), r(u64::MAX - 1, u64::MAX)]);
    assert_eq!(ranges.count(), 4);
}

#[test]
fn strict_rejects_inverted_and_overlapping() {
    assert_eq!(
        Ranges::from_pairs_strict(&[(1, 2), (5, 3)]),
        Err(RangesError::Inverted { begin: 5, end: 3 })
    );
    assert_eq!(
        Ranges::from_pairs_strict(&[(10, 20), (1, 10)]),
        Err(RangesError::Overlap {
            first: r(1, 10),
            second: r(10, 20)
        })
    );
    assert_eq!(
        Ranges::from_pairs_strict(&[(4, 5), (1, 3)]),
        Ok(rs(&[(1, 5)]))
    );
    assert_eq!(Ranges::from_pairs_strict(&[]), Ok(Ranges::new()));
}

#[test]
fn contains_is_subset() {
    let big = rs(&[(1, 10), (20, 30)]);
    assert!(big.contains(&rs(&[(1, 1), (5, 10), (25, 30)])));
    assert!(big.contains(&Ranges::new()));
    assert!(!big.contains(&rs(&[(9, 11)])));
    assert!(!big.contains(&rs(&[(10, 20)])));
    assert!(!big.contains(&rs(&[(31, 31)])));
    assert!(!Ranges::new().contains(&rs(&[(1, 1)])));
    assert!(big.contains_value(20));
    assert!(!big.contains_value(15));
    assert!(!big.contains_value(0));
}

#[test]
fn difference_splits_and_trims() {
    let base = rs(&[(1, 10), (20, 30)]);
    assert_eq!(
        base.difference(&rs(&[(5, 5)])),
        rs(&[(1, 4), (6, 10), (20, 30)])
    );
    assert_eq!(base.difference(&rs(&[(8, 22)])), rs(&[(1, 7), (23, 30)]));
    assert_eq!(base.difference(&rs(&[(0, 100)])), Ranges::new());
    assert_eq!(base.difference(&rs(&[(11, 19)])), base);
    assert_eq!(
        base.difference(&rs(&[(1, 1), (30, 30)])),
        rs(&[(2, 10), (20, 29)])
    );
    let edge = rs(&[(0, u64::MAX)]);
    assert_eq!(
        edge.difference(&rs(&[(0, 0), (u64::MAX, u64::MAX)])),
        rs(&[(1, u64::MAX - 1)])
    );
}

#[test]
fn union_and_intersection() {
    let a = rs(&[(1, 5), (10, 12)]);
    let b = rs(&[(4, 8), (13, 13)]);
    assert_eq!(a.union(&b), rs(&[(1, 8), (10, 13)]));
    assert_eq!(a.intersection(&b), rs(&[(4, 5)]));
    assert_eq!(a.segments(), 2);
    assert_eq!(a.count(), 8);
}
