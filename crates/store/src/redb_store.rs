//! Embedded backend: one redb database file, one table `key → version (u64 LE) ‖ bytes`.
//!
//! Every `put`/`delete` is one write transaction committed with [`Durability::Immediate`]
//! (redb fsyncs before `commit` returns), so a value is on stable storage when `put` returns.
//! A [`Store::batch`] is one such transaction for all its writes: one fsync, all or nothing.
//! redb serializes write transactions, so the read-compare-write inside one transaction is an
//! atomic compare-and-set. A damaged file or record is reported as [`StoreError::Corrupt`];
//! a panic inside redb (which it should never do, but a damaged file is untrusted input) is
//! caught and reported the same way.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableTable, TableDefinition};

use crate::{check_distinct, check_key, Op, Store, StoreError, Versioned};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
/// Bytes of the version header in front of each stored value.
const HEADER: usize = 8;

/// A [`Store`] in one redb database file. One process may open a file at a time (redb takes
/// a lock; a second open fails with [`StoreError::Unavailable`]).
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

/// Maps any redb error to ours: damaged data → `Corrupt`, OS errors → `Io`, the rest
/// (already open, lock poisoned...) → `Unavailable`.
/// One checked write: `(key, expected version, value or None for a delete)`.
type Write<'a> = (&'a str, Option<u64>, Option<&'a [u8]>);

fn db_err(key: &str, e: impl Into<redb::Error>) -> StoreError {
    let key = key.to_string();
    match e.into() {
        redb::Error::Corrupted(reason) => StoreError::Corrupt { key, reason },
        redb::Error::Io(source) => StoreError::Io { key, source },
        redb::Error::UpgradeRequired(v) => StoreError::Corrupt {
            key,
            reason: format!("database file format {v} needs an upgrade"),
        },
        other => StoreError::Unavailable {
            key,
            reason: other.to_string(),
        },
    }
}

/// Runs `f`, turning a panic inside redb into `Corrupt`.
fn guarded<T>(key: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "database panicked".to_string());
        Err(StoreError::Corrupt {
            key: key.to_string(),
            reason: format!("database failure: {reason}"),
        })
    })
}

fn decode(key: &str, bytes: &[u8]) -> Result<Versioned, StoreError> {
    if bytes.len() < HEADER {
        return Err(StoreError::Corrupt {
            key: key.to_string(),
            reason: format!("record of {} bytes has no version header", bytes.len()),
        });
    }
    let (head, value) = bytes.split_at(HEADER);
    let mut version = [0u8; HEADER];
    version.copy_from_slice(head);
    let version = u64::from_le_bytes(version);
    if version == 0 {
        return Err(StoreError::Corrupt {
            key: key.to_string(),
            reason: "version 0".to_string(),
        });
    }
    Ok(Versioned {
        version,
        value: value.to_vec(),
    })
}

fn encode(version: u64, value: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + value.len());
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(value);
    bytes
}

impl RedbStore {
    /// Open the database at `path`, creating the file (not its directory) if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        guarded("<open>", || {
            let db = Database::create(&path).map_err(|e| db_err("<open>", e))?;
            // Create the table so readers never see "no such table".
            let mut txn = db.begin_write().map_err(|e| db_err("<open>", e))?;
            txn.set_durability(Durability::Immediate);
            txn.open_table(RECORDS).map_err(|e| db_err("<open>", e))?;
            txn.commit().map_err(|e| db_err("<open>", e))?;
            Ok(Self { db, path })
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| db_err(key, e))?;
        let table = txn.open_table(RECORDS).map_err(|e| db_err(key, e))?;
        let found = table.get(key).map_err(|e| db_err(key, e))?;
        found.map(|bytes| decode(key, bytes.value())).transpose()
    }

    /// One durable write transaction: checks the stored version against `expected`, then
    /// writes `value` (or deletes when `None`). Returns the new version.
    fn write(
        &self,
        key: &str,
        expected: Option<u64>,
        value: Option<&[u8]>,
    ) -> Result<u64, StoreError> {
        let versions = self.write_all(&[(key, expected, value)])?;
        Ok(versions.first().copied().unwrap_or(0))
    }

    /// Several checked writes in one transaction, committed (and fsynced) once: all or
    /// nothing.
    fn write_all(&self, writes: &[Write<'_>]) -> Result<Vec<u64>, StoreError> {
        let first = writes.first().map_or("<batch>", |w| w.0);
        let mut txn = self.db.begin_write().map_err(|e| db_err(first, e))?;
        txn.set_durability(Durability::Immediate);
        let mut versions = Vec::with_capacity(writes.len());
        {
            let mut table = txn.open_table(RECORDS).map_err(|e| db_err(first, e))?;
            for &(key, expected, value) in writes {
                let found = table
                    .get(key)
                    .map_err(|e| db_err(key, e))?
                    .map(|bytes| decode(key, bytes.value()).map(|v| v.version))
                    .transpose()?;
                if found != expected {
                    // Dropping the transaction aborts it: nothing of the batch is written.
                    return Err(StoreError::Conflict {
                        key: key.to_string(),
                        expected,
                        found,
                    });
                }
                match value {
                    Some(value) => {
                        let version = found.unwrap_or(0) + 1;
                        table
                            .insert(key, encode(version, value).as_slice())
                            .map_err(|e| db_err(key, e))?;
                        versions.push(version);
                    }
                    None => {
                        table.remove(key).map_err(|e| db_err(key, e))?;
                        versions.push(0);
                    }
                }
            }
        }
        txn.commit().map_err(|e| db_err(first, e))?;
        Ok(versions)
    }
}

impl Store for RedbStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        check_key(key)?;
        guarded(key, || self.read(key))
    }

    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        check_key(key)?;
        guarded(key, || self.write(key, expected, Some(value)))
    }

    fn delete(&self, key: &str, expected: u64) -> Result<(), StoreError> {
        check_key(key)?;
        guarded(key, || self.write(key, Some(expected), None).map(|_| ()))
    }

    fn batch(&self, ops: &[Op<'_>]) -> Result<Vec<u64>, StoreError> {
        check_distinct(ops)?;
        let writes: Vec<Write<'_>> = ops
            .iter()
            .map(|op| match *op {
                Op::Put {
                    key,
                    value,
                    expected,
                } => (key, expected, Some(value)),
                Op::Delete { key, expected } => (key, Some(expected), None),
            })
            .collect();
        guarded("<batch>", || self.write_all(&writes))
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        guarded("<keys>", || {
            let txn = self.db.begin_read().map_err(|e| db_err("<keys>", e))?;
            let table = txn.open_table(RECORDS).map_err(|e| db_err("<keys>", e))?;
            let mut keys = Vec::new();
            for entry in table.range(prefix..).map_err(|e| db_err("<keys>", e))? {
                let (key, _) = entry.map_err(|e| db_err("<keys>", e))?;
                let key = key.value();
                if !key.starts_with(prefix) {
                    break;
                }
                keys.push(key.to_string());
            }
            Ok(keys)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::contract::run(&RedbStore::open(dir.path().join("registry.redb")).unwrap());
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("r.redb")).unwrap();
        store.put("a", b"1", None).unwrap();
        let conflicting = store.batch(&[
            Op::Put {
                key: "b",
                value: b"2",
                expected: None,
            },
            Op::Put {
                key: "a",
                value: b"x",
                expected: Some(7),
            },
        ]);
        assert!(matches!(conflicting, Err(StoreError::Conflict { .. })));
        assert!(
            store.get("b").unwrap().is_none(),
            "the batch was rolled back"
        );
        assert_eq!(store.get("a").unwrap().unwrap().value, b"1");
        // And a committed batch survives reopening.
        store
            .batch(&[
                Op::Put {
                    key: "b",
                    value: b"2",
                    expected: None,
                },
                Op::Put {
                    key: "a",
                    value: b"3",
                    expected: Some(1),
                },
            ])
            .unwrap();
        drop(store);
        let store = RedbStore::open(dir.path().join("r.redb")).unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().value, b"3");
        assert_eq!(store.get("b").unwrap().unwrap().version, 1);
        crate::contract::atomic_batch(&store);
    }

    #[test]
    fn fences_a_stale_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("registry.redb")).unwrap();
        crate::contract::fencing(&store, &store);
    }

    #[test]
    fn survives_reopen_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.redb");
        {
            let store = RedbStore::open(&file).unwrap();
            store.put("k", b"v1", None).unwrap();
            store.put("k", b"v2", Some(1)).unwrap();
            store.put("gone", b"x", None).unwrap();
            store.delete("gone", 1).unwrap();
        }
        let again = RedbStore::open(&file).unwrap();
        assert_eq!(
            again.get("k").unwrap(),
            Some(Versioned {
                version: 2,
                value: b"v2".to_vec()
            })
        );
        assert!(again.get("gone").unwrap().is_none());
        assert_eq!(again.put("k", b"v3", Some(2)).unwrap(), 3);
    }

    #[test]
    fn second_open_of_the_same_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.redb");
        let _first = RedbStore::open(&file).unwrap();
        assert!(RedbStore::open(&file).is_err());
    }

    #[test]
    fn garbage_file_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.redb");
        std::fs::write(&file, vec![0xA5u8; 64 * 1024]).unwrap();
        let err = RedbStore::open(&file).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Corrupt { .. } | StoreError::Io { .. } | StoreError::Unavailable { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn damaged_record_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.redb");
        let store = RedbStore::open(&file).unwrap();
        // A record too short to hold its version header (written behind the store's back).
        let txn = store.db.begin_write().unwrap();
        txn.open_table(RECORDS)
            .unwrap()
            .insert("k", [1u8, 2].as_slice())
            .unwrap();
        txn.commit().unwrap();
        assert!(matches!(store.get("k"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(
            store.put("k", b"v", Some(1)),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn flipped_bytes_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.redb");
        {
            let store = RedbStore::open(&file).unwrap();
            for i in 0..200 {
                store
                    .put(&format!("agent-{i}"), &vec![i as u8; 300], None)
                    .unwrap();
            }
        }
        let clean = std::fs::read(&file).unwrap();
        // Damage the file in many places, one at a time; every outcome must be a value or an
        // error, never a panic escaping the store.
        for offset in (0..clean.len()).step_by(clean.len() / 40 + 1) {
            let mut bytes = clean.clone();
            for b in bytes.iter_mut().skip(offset).take(64) {
                *b ^= 0xFF;
            }
            std::fs::write(&file, &bytes).unwrap();
            if let Ok(store) = RedbStore::open(&file) {
                let _ = store.keys("");
                for i in 0..200 {
                    let _ = store.get(&format!("agent-{i}"));
                }
                let _ = store.put("new", b"x", None);
            }
        }
    }
}
