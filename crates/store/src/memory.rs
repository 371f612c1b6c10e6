//! In-memory backend for tests and simulation.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::{check_key, Store, StoreError, Versioned};

/// A [`Store`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, Versioned>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Versioned>> {
        // A poisoned lock only means another thread panicked mid-test; the map is still whole.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        check_key(key)?;
        Ok(self.lock().get(key).cloned())
    }

    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        check_key(key)?;
        let mut records = self.lock();
        let found = records.get(key).map(|v| v.version);
        if found != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
                found,
            });
        }
        let version = found.unwrap_or(0) + 1;
        records.insert(
            key.to_string(),
            Versioned {
                version,
                value: value.to_vec(),
            },
        );
        Ok(version)
    }

    fn delete(&self, key: &str, expected: u64) -> Result<(), StoreError> {
        check_key(key)?;
        let mut records = self.lock();
        let found = records.get(key).map(|v| v.version);
        if found != Some(expected) {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected: Some(expected),
                found,
            });
        }
        records.remove(key);
        Ok(())
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_contract() {
        crate::contract::run(&super::MemoryStore::new());
    }
}
