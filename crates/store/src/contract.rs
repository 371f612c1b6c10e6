//! The contract every backend must meet; each backend's tests run it.
//!
//! Written against the public API (`corral_store::…`) so the integration tests of external
//! backends (`tests/zk.rs`) include this same file with `#[path]`.
#![allow(clippy::unwrap_used, dead_code)]

use corral_store::{bump_counter, Op, Store, StoreError, Versioned};

/// Runs the whole contract against an empty `store`.
pub fn run(store: &dyn Store) {
    assert!(store.get("a").unwrap().is_none());
    assert!(store.keys("").unwrap().is_empty());
    assert_eq!(store.put("a", b"1", None).unwrap(), 1);
    assert!(matches!(
        store.put("a", b"x", None),
        Err(StoreError::Conflict {
            expected: None,
            found: Some(1),
            ..
        })
    ));
    assert_eq!(store.get("a").unwrap().unwrap().value, b"1");
    assert_eq!(store.put("a", b"2", Some(1)).unwrap(), 2);
    assert!(matches!(
        store.put("a", b"3", Some(1)),
        Err(StoreError::Conflict {
            expected: Some(1),
            found: Some(2),
            ..
        })
    ));
    assert!(matches!(
        store.put("a", b"3", Some(7)),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.put("never", b"3", Some(1)),
        Err(StoreError::Conflict { found: None, .. })
    ));
    assert!(store.get("never").unwrap().is_none());
    assert_eq!(
        store.get("a").unwrap(),
        Some(Versioned {
            version: 2,
            value: b"2".to_vec()
        })
    );
    store.put("ab", b"", None).unwrap();
    store.put("b", b"", None).unwrap();
    assert_eq!(store.get("ab").unwrap().unwrap().value, b"");
    assert_eq!(
        store.keys("a").unwrap(),
        vec!["a".to_string(), "ab".to_string()]
    );
    assert_eq!(store.keys("").unwrap().len(), 3);
    assert!(matches!(
        store.delete("a", 1),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.delete("missing", 1),
        Err(StoreError::Conflict { found: None, .. })
    ));
    store.delete("a", 2).unwrap();
    assert!(store.get("a").unwrap().is_none());
    // A deleted key starts again at version 1.
    assert_eq!(store.put("a", b"again", None).unwrap(), 1);
    for bad in ["../x", "", "a/b", ".", "..", &"k".repeat(201)] {
        assert!(
            matches!(store.put(bad, b"", None), Err(StoreError::InvalidKey(_))),
            "{bad:?} accepted"
        );
        assert!(matches!(store.get(bad), Err(StoreError::InvalidKey(_))));
    }
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    assert_eq!(store.put("bin", &binary, None).unwrap(), 1);
    assert_eq!(store.get("bin").unwrap().unwrap().value, binary);
    assert_eq!(bump_counter(store, "epoch").unwrap(), 1);
    assert_eq!(bump_counter(store, "epoch").unwrap(), 2);
    batches(store);
}

/// Group commit: several writes in one call; a key named twice is refused up front.
fn batches(store: &dyn Store) {
    store.put("g1", b"old", None).unwrap();
    store.put("g3", b"doomed", None).unwrap();
    let versions = store
        .batch(&[
            Op::Put {
                key: "g1",
                value: b"new",
                expected: Some(1),
            },
            Op::Put {
                key: "g2",
                value: b"fresh",
                expected: None,
            },
            Op::Delete {
                key: "g3",
                expected: 1,
            },
        ])
        .unwrap();
    assert_eq!(versions, vec![2, 1, 0]);
    assert_eq!(store.get("g1").unwrap().unwrap().value, b"new");
    assert_eq!(store.get("g2").unwrap().unwrap().version, 1);
    assert!(store.get("g3").unwrap().is_none());
    assert!(matches!(
        store.batch(&[
            Op::Put {
                key: "g4",
                value: b"a",
                expected: None
            },
            Op::Put {
                key: "g4",
                value: b"b",
                expected: None
            },
        ]),
        Err(StoreError::DuplicateInBatch(_))
    ));
    assert!(
        store.get("g4").unwrap().is_none(),
        "nothing of a refused batch"
    );
    assert!(matches!(
        store.batch(&[Op::Put {
            key: "../x",
            value: b"",
            expected: None
        }]),
        Err(StoreError::InvalidKey(_))
    ));
    assert_eq!(store.batch(&[]).unwrap(), Vec::<u64>::new());
}

/// Two handles on the same backing store: a writer holding a stale version is fenced.
pub fn fencing(leader: &dyn Store, deposed: &dyn Store) {
    let v1 = deposed.put("registry", b"old leader", None).unwrap();
    let seen_by_deposed = deposed.get("registry").unwrap().unwrap();
    assert_eq!(seen_by_deposed.version, v1);
    let v2 = leader.put("registry", b"new leader", Some(v1)).unwrap();
    assert_eq!(v2, v1 + 1);
    assert!(matches!(
        deposed.put("registry", b"stale write", Some(seen_by_deposed.version)),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        deposed.delete("registry", seen_by_deposed.version),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        deposed.get("registry").unwrap().unwrap().value,
        b"new leader"
    );
}

/// For backends whose batches are atomic (redb, ZooKeeper): a batch with one stale write
/// changes nothing, and reports the conflict.
pub fn atomic_batch(store: &dyn Store) {
    store.put("atomic-a", b"1", None).unwrap();
    let refused = store.batch(&[
        Op::Put {
            key: "atomic-b",
            value: b"new",
            expected: None,
        },
        Op::Delete {
            key: "atomic-a",
            expected: 1,
        },
        Op::Put {
            key: "atomic-c",
            value: b"stale",
            expected: Some(4),
        },
    ]);
    assert!(
        matches!(refused, Err(StoreError::Conflict { ref key, .. }) if key == "atomic-c"),
        "{refused:?}"
    );
    assert!(store.get("atomic-b").unwrap().is_none(), "no partial batch");
    assert_eq!(store.get("atomic-a").unwrap().unwrap().version, 1);
}
