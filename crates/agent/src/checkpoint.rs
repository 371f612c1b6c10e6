//! The agent's checkpointed resources on disk: `<work_dir>/meta/resources/checkpointed.json`.
//!
//! The file holds the complete set the master last sent in CHECKPOINT_RESOURCES (dynamic
//! reservations and persistent volumes, in Mesos's JSON) and the persistent volumes whose
//! directories still have to be deleted:
//!
//! ```json
//! {"version": 1, "resources": [Resource, ...], "pending_destroy": [Resource, ...]}
//! ```
//!
//! It is replaced atomically: write a temporary file, fsync it, rename it over the old one,
//! fsync the directory. A reader therefore sees the old set or the new one, never a mix; a
//! file that does not parse is an error naming it (reservations are never dropped silently).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use corral_api::v1;
use corral_resources::Resources;
use serde_json::{json, Value as Json};

/// The format version this build writes and reads.
const VERSION: u32 = 1;

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpointed {
    /// Every dynamically reserved resource and persistent volume on the agent.
    pub resources: Vec<v1::Resource>,
    /// Destroyed volumes whose directories may still exist (deleted at the next start if so).
    pub pending_destroy: Vec<v1::Resource>,
}

impl Checkpointed {
    fn to_json(&self) -> Json {
        json!({
            "version": VERSION,
            "resources": self.resources,
            "pending_destroy": self.pending_destroy,
        })
    }

    fn from_json(bytes: &[u8]) -> Result<Checkpointed, String> {
        let json: Json = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let version = json.get("version").and_then(Json::as_u64);
        if version != Some(u64::from(VERSION)) {
            let shown = json
                .get("version")
                .map_or("none".to_string(), Json::to_string);
            return Err(format!(
                "format version {shown} (this agent reads {VERSION})"
            ));
        }
        let list = |field: &str, required: bool| -> Result<Vec<v1::Resource>, String> {
            match json.get(field) {
                None if !required => Ok(Vec::new()),
                None => Err(format!("'{field}' is missing")),
                Some(value) => {
                    let list: Vec<v1::Resource> = serde_json::from_value(value.clone())
                        .map_err(|e| format!("'{field}': {e}"))?;
                    Resources::from_proto(&list).map_err(|e| format!("'{field}': {e}"))?;
                    Ok(list)
                }
            }
        };
        Ok(Checkpointed {
            resources: list("resources", true)?,
            pending_destroy: list("pending_destroy", false)?,
        })
    }
}

/// Why the file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// "read", "write", …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The file is torn or holds something else.
    #[error("the checkpointed resources in {path} are unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The checkpointed-resources file of one work directory.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    path: PathBuf,
}

impl CheckpointStore {
    /// The store of `work_dir`.
    pub fn new(work_dir: &Path) -> Self {
        CheckpointStore {
            path: work_dir
                .join("meta")
                .join("resources")
                .join("checkpointed.json"),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temporary(&self) -> PathBuf {
        self.path.with_extension("json.tmp")
    }

    /// The stored set; empty when the file does not exist (a new agent). A leftover temporary
    /// file (a write interrupted before its rename) is ignored and removed.
    pub fn load(&self) -> Result<Checkpointed, CheckpointError> {
        let _ = std::fs::remove_file(self.temporary());
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(Checkpointed::default())
            }
            Err(source) => {
                return Err(CheckpointError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                })
            }
        };
        Checkpointed::from_json(&bytes).map_err(|reason| CheckpointError::Corrupt {
            path: self.path.clone(),
            reason,
        })
    }

    /// Replaces the file with `record` durably (see the module docs).
    pub fn save(&self, record: &Checkpointed) -> Result<(), CheckpointError> {
        let io_error = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io {
                action,
                path,
                source,
            }
        };
        let bytes =
            serde_json::to_vec_pretty(&record.to_json()).map_err(|e| CheckpointError::Corrupt {
                path: self.path.clone(),
                reason: format!("cannot encode: {e}"),
            })?;
        let directory = self.path.parent().unwrap_or(Path::new("."));
        if !directory.is_dir() {
            std::fs::create_dir_all(directory).map_err(io_error("create", directory))?;
            if let Some(meta) = directory.parent() {
                sync_dir(meta).map_err(io_error("sync", meta))?;
            }
        }
        let temporary = self.temporary();
        let mut file = std::fs::File::create(&temporary).map_err(io_error("create", &temporary))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &temporary))?;
        drop(file);
        std::fs::rename(&temporary, &self.path).map_err(io_error("replace", &self.path))?;
        sync_dir(directory).map_err(io_error("sync", directory))
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(id: &str) -> v1::Resource {
        serde_json::from_value(serde_json::json!({
            "name": "disk", "type": "SCALAR", "scalar": {"value": 64.0},
            "reservations": [{"type": "DYNAMIC", "role": "web", "principal": "ops"}],
            "disk": {"persistence": {"id": id}, "volume": {"mode": "RW", "container_path": "data"}}
        }))
        .unwrap()
    }

    fn record(ids: &[&str]) -> Checkpointed {
        Checkpointed {
            resources: ids.iter().map(|id| volume(id)).collect(),
            pending_destroy: Vec::new(),
        }
    }

    #[test]
    fn a_new_agent_has_nothing_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path());
        assert_eq!(store.load().unwrap(), Checkpointed::default());
        assert!(store.path().ends_with("meta/resources/checkpointed.json"));
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path());
        let mut saved = record(&["v1", "v2"]);
        saved.pending_destroy = vec![volume("old")];
        store.save(&saved).unwrap();
        assert_eq!(store.load().unwrap(), saved);
        // Another store on the same directory (a restarted agent) reads the same.
        assert_eq!(CheckpointStore::new(dir.path()).load().unwrap(), saved);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path());
        store.save(&record(&["v1"])).unwrap();
        let full = std::fs::read(store.path()).unwrap();
        // Torn: only the first half was written.
        std::fs::write(store.path(), &full[..full.len() / 2]).unwrap();
        let error = store.load().unwrap_err().to_string();
        assert!(error.contains("checkpointed.json"), "{error}");
        // Valid JSON but an invalid resource.
        let bad =
            r#"{"version":1,"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]}"#;
        std::fs::write(store.path(), bad).unwrap();
        let error = store.load().unwrap_err().to_string();
        assert!(error.contains("checkpointed.json"), "{error}");
        // Another version.
        std::fs::write(store.path(), r#"{"version":7,"resources":[]}"#).unwrap();
        assert!(store.load().unwrap_err().to_string().contains("version 7"));
    }

    #[test]
    fn replacing_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path());
        store.save(&record(&["v1"])).unwrap();
        // A write that died before its rename leaves a torn temporary file: the committed set
        // is unaffected, and the leftover is cleaned up.
        let temporary = store.temporary();
        std::fs::write(&temporary, b"{\"version\":1,\"resou").unwrap();
        assert_eq!(store.load().unwrap(), record(&["v1"]));
        assert!(!temporary.exists());
        // A save replaces the whole set and leaves no temporary file behind.
        store.save(&record(&["v2", "v3"])).unwrap();
        assert_eq!(store.load().unwrap(), record(&["v2", "v3"]));
        let names: Vec<String> = std::fs::read_dir(store.path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["checkpointed.json".to_string()]);
        // Replacing with the empty set (everything unreserved) is kept as such.
        store.save(&record(&[])).unwrap();
        assert_eq!(store.load().unwrap().resources, Vec::new());
    }
}
