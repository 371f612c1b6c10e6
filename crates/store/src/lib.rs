//! The durability edge: a versioned compare-and-set key-value store.
//!
//! Every record has a version that grows by one with each write. A write names the version it
//! expects (`None` = the key must not exist); a mismatch is a [`StoreError::Conflict`] and
//! changes nothing. That is what fences a deposed leader: it cannot overwrite what a newer one
//! wrote. A successful `put` has reached stable storage before it returns (persist before you
//! acknowledge).
//!
//! Backends: [`MemoryStore`] (tests, simulation), [`DirStore`] (one file per key, written
//! to a temporary file, fsynced, renamed, directory fsynced), [`RedbStore`] (one embedded redb
//! database file, each write an immediately durable transaction: the registry's default) and
//! [`ZkStore`] (znodes in ZooKeeper, versions are znode data versions: for HA masters).
//! [`ZkUrl`] parses the `zk://host:port,host:port/path` URLs of Mesos's `--zk` flag.

#[cfg(test)]
extern crate self as corral_store;

#[cfg(test)]
mod contract;
mod dir;
mod memory;
mod redb_store;
mod zk;
mod zk_url;

pub use dir::DirStore;
pub use memory::MemoryStore;
pub use redb_store::RedbStore;
pub use zk::{ZkStore, ZkStoreOptions, ZK_MAX_VALUE_BYTES};
pub use zk_url::{ZkUrl, ZkUrlError};

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
    /// A [`Store::batch`] names a key twice; nothing was written.
    #[error("key '{0}' appears twice in one batch")]
    DuplicateInBatch(String),
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
    /// The value is larger than the backend can store; nothing was written.
    #[error("value for '{key}' is {size} bytes; this store takes at most {limit}")]
    TooLarge {
        /// The key.
        key: String,
        /// Size of the rejected value.
        size: usize,
        /// The backend's limit.
        limit: usize,
    },
    /// The backend could not be reached or did not answer in time. For a `put` or `delete`
    /// the outcome is unknown (the write may or may not have happened): re-read before
    /// retrying. Never reported for a write known to have failed or succeeded.
    #[error("store unavailable for '{key}': {reason}")]
    Unavailable {
        /// The key (or `<connect>` for the session itself).
        key: String,
        /// What happened (connection loss, timeout, session expired...).
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
/// One write of a [`Store::batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// [`Store::put`].
    Put {
        /// The key.
        key: &'a str,
        /// The bytes.
        value: &'a [u8],
        /// The version the writer expects (`None`: absent).
        expected: Option<u64>,
    },
    /// [`Store::delete`].
    Delete {
        /// The key.
        key: &'a str,
        /// The version the writer expects.
        expected: u64,
    },
}

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

    /// Several writes made durable together (group commit): one fsync for all of them where
    /// the backend can, and then all or nothing. Returns each write's new version (0 for a
    /// delete). Each key at most once. The default applies them one after another, so a
    /// failure may leave the earlier ones written; callers treat any failure as fatal.
    fn batch(&self, ops: &[Op<'_>]) -> Result<Vec<u64>, StoreError> {
        check_distinct(ops)?;
        ops.iter()
            .map(|op| match *op {
                Op::Put {
                    key,
                    value,
                    expected,
                } => self.put(key, value, expected),
                Op::Delete { key, expected } => self.delete(key, expected).map(|()| 0),
            })
            .collect()
    }
}

impl Op<'_> {
    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

/// A batch names each key at most once (the versions it expects would otherwise depend on
/// its own earlier writes).
pub(crate) fn check_distinct(ops: &[Op<'_>]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    for op in ops {
        check_key(op.key())?;
        if !seen.insert(op.key()) {
            return Err(StoreError::DuplicateInBatch(op.key().to_string()));
        }
    }
    Ok(())
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
