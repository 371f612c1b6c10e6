//! The durability edge: a versioned compare-and-set key-value store.
//!
//! Every record has a version that grows by one with each write. A write names the version it
//! expects (`None` = the key must not exist); a mismatch is a [`StoreError::Conflict`] and
//! changes nothing. That is what fences a deposed leader: it cannot overwrite what a newer one
//! wrote. A successful `put` has reached stable storage before it returns (persist before you
//! acknowledge).
//!
//! Backends: [`MemoryStore`] (tests, simulation) and [`DirStore`] (one file per key, written
//! to a temporary file, fsynced, renamed, directory fsynced). The redb and ZooKeeper backends
//! of the registry issue plug in behind the same trait.

mod dir;
mod memory;

pub use dir::DirStore;
pub use memory::MemoryStore;

use thiserror::Error;

/// A stored value and its version (1 for the first write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Version of this value.
    pub version: u64,
    /// The bytes.
    pub value: Vec<u8>,
}

/// Why a store operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The record's version is not the expected one; nothing was written.
    #[error("version conflict on '{key}': expected {expected:?}, found {found:?}")]
    Conflict {
        /// The key.
        key: String,
        /// What the writer expected.
        expected: Option<u64>,
        /// What is stored.
        found: Option<u64>,
    },
    /// The key cannot be stored (empty, or characters the backend cannot represent).
    #[error("invalid key '{0}': use [A-Za-z0-9._-], 1 to 200 bytes")]
    InvalidKey(String),
    /// A record on disk is damaged.
    #[error("record '{key}' is corrupt: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed.
    #[error("store I/O error on '{key}': {source}")]
    Io {
        /// The key.
        key: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A versioned compare-and-set store. See the module docs.
pub trait Store: Send + Sync {
    /// The current value of `key`.
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError>;
    /// Write `value` if the stored version is `expected` (`None`: absent). Returns the new
    /// version once the write is durable.
    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError>;
    /// Delete `key` if its version is `expected`.
    fn delete(&self, key: &str, expected: u64) -> Result<(), StoreError>;
    /// All keys starting with `prefix`, sorted.
    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 200
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_string()))
    }
}

/// Increment the counter stored at `key` (creating it at 1) and return the new value. Used for
/// the leader epoch: each master that starts leading takes the next number.
pub fn bump_counter(store: &dyn Store, key: &str) -> Result<u64, StoreError> {
    loop {
        let current = store.get(key)?;
        let (expected, n) = match &current {
            None => (None, 0),
            Some(v) => {
                let text = String::from_utf8_lossy(&v.value);
                let n = text
                    .trim()
                    .parse::<u64>()
                    .map_err(|e| StoreError::Corrupt {
                        key: key.to_string(),
                        reason: format!("not a counter: {e}"),
                    })?;
                (Some(v.version), n)
            }
        };
        match store.put(key, (n + 1).to_string().as_bytes(), expected) {
            Ok(_) => return Ok(n + 1),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The contract every backend must meet; each backend's tests run it.
    use super::*;

    pub fn run(store: &dyn Store) {
        assert!(store.get("a").unwrap().is_none());
        assert_eq!(store.put("a", b"1", None).unwrap(), 1);
        assert!(matches!(
            store.put("a", b"x", None),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(store.get("a").unwrap().unwrap().value, b"1");
        assert_eq!(store.put("a", b"2", Some(1)).unwrap(), 2);
        assert!(matches!(
            store.put("a", b"3", Some(1)),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(
            store.get("a").unwrap(),
            Some(Versioned {
                version: 2,
                value: b"2".to_vec()
            })
        );
        store.put("ab", b"", None).unwrap();
        store.put("b", b"", None).unwrap();
        assert_eq!(
            store.keys("a").unwrap(),
            vec!["a".to_string(), "ab".to_string()]
        );
        assert!(matches!(
            store.delete("a", 1),
            Err(StoreError::Conflict { .. })
        ));
        store.delete("a", 2).unwrap();
        assert!(store.get("a").unwrap().is_none());
        assert!(matches!(
            store.put("../x", b"", None),
            Err(StoreError::InvalidKey(_))
        ));
        assert_eq!(bump_counter(store, "epoch").unwrap(), 1);
        assert_eq!(bump_counter(store, "epoch").unwrap(), 2);
    }
}
