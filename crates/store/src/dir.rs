//! Directory backend: one file per key holding `<version>\n<bytes>`, replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{check_key, Store, StoreError, Versioned};

/// A [`Store`] in a directory. One process should own a directory at a time; within the
/// process, writes are serialized by a mutex so compare-and-set is atomic.
#[derive(Debug)]
pub struct DirStore {
    root: PathBuf,
    write: Mutex<()>,
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        key: key.to_string(),
        source,
    }
}

impl DirStore {
    /// Open (creating) the store in `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(io("<root>"))?;
        Ok(Self {
            root,
            write: Mutex::new(()),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn read(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let mut bytes = Vec::new();
        match File::open(self.path(key)) {
            Ok(mut f) => f.read_to_end(&mut bytes).map_err(io(key))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(key)(e)),
        };
        let newline =
            bytes
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| StoreError::Corrupt {
                    key: key.to_string(),
                    reason: "no version header".to_string(),
                })?;
        let version = std::str::from_utf8(&bytes[..newline])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt {
                key: key.to_string(),
                reason: "bad version header".to_string(),
            })?;
        Ok(Some(Versioned {
            version,
            value: bytes[newline + 1..].to_vec(),
        }))
    }

    fn sync_dir(&self, key: &str) -> Result<(), StoreError> {
        File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(io(key))
    }
}

impl Store for DirStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        check_key(key)?;
        self.read(key)
    }

    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
        check_key(key)?;
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let found = self.read(key)?.map(|v| v.version);
        if found != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
                found,
            });
        }
        let version = found.unwrap_or(0) + 1;
        let tmp = self.root.join(format!(".{key}.tmp"));
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(io(key))?;
            f.write_all(format!("{version}\n").as_bytes())
                .map_err(io(key))?;
            f.write_all(value).map_err(io(key))?;
            f.sync_all().map_err(io(key))?;
        }
        fs::rename(&tmp, self.path(key)).map_err(io(key))?;
        self.sync_dir(key)?;
        Ok(version)
    }

    fn delete(&self, key: &str, expected: u64) -> Result<(), StoreError> {
        check_key(key)?;
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let found = self.read(key)?.map(|v| v.version);
        if found != Some(expected) {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected: Some(expected),
                found,
            });
        }
        fs::remove_file(self.path(key)).map_err(io(key))?;
        self.sync_dir(key)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io("<root>"))? {
            let name = entry
                .map_err(io("<root>"))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !name.starts_with('.') && name.starts_with(prefix) {
                keys.push(name);
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::contract::run(&DirStore::open(dir.path()).unwrap());
    }

    #[test]
    fn fences_a_stale_writer() {
        let dir = tempfile::tempdir().unwrap();
        crate::contract::fencing(
            &DirStore::open(dir.path()).unwrap(),
            &DirStore::open(dir.path()).unwrap(),
        );
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        DirStore::open(dir.path())
            .unwrap()
            .put("k", b"v", None)
            .unwrap();
        let again = DirStore::open(dir.path()).unwrap();
        assert_eq!(
            again.get("k").unwrap(),
            Some(Versioned {
                version: 1,
                value: b"v".to_vec()
            })
        );
    }

    #[test]
    fn corrupt_record_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"no header").unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        assert!(matches!(store.get("k"), Err(StoreError::Corrupt { .. })));
    }
}
