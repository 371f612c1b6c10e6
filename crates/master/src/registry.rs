//! The master's durable registry: what must survive a master failover.
//!
//! As in Mesos, only a small set of facts is durable; everything else (tasks, executors,
//! framework streams) is rebuilt from agents re-registering and schedulers re-subscribing.
//!
//! * one record per agent: admitted, unreachable (since when) or gone (key `agents.<id>`);
//! * one record per framework (key `frameworks.<id>`), written by the framework code;
//! * the maintenance schedule and the DOWN machines (key `maintenance`);
//! * weights and quota live under their own key (`policies`, see `http/policy.rs`).
//!
//! The core never writes: it pushes [`Effect::Registry`](crate::core::Effect::Registry)
//! effects *before* the effects that acknowledge the change (REGISTERED to an agent, the
//! TASK_UNREACHABLE updates, an operator reply). The runtime carries them out in order through
//! [`Registry::apply`]; a failed write stops the master (fail-stop), so nothing is acknowledged
//! that is not durable. Every write is a compare-and-set on the version last seen, so a deposed
//! master cannot overwrite what a newer one wrote.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use corral_api::v1;
use corral_store::{Op, Store, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::records::Time;

/// Key prefix of agent records.
pub const AGENT_PREFIX: &str = "agents.";
/// Key prefix of framework records.
pub const FRAMEWORK_PREFIX: &str = "frameworks.";
/// Key of the maintenance record (schedule and machine modes).
pub const MAINTENANCE_KEY: &str = "maintenance";

/// The maintenance state: the schedule and the machines that are DOWN (every other machine
/// of the schedule is DRAINING; machines outside it are UP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceRecord {
    /// The maintenance schedule, as the operator last set it.
    #[serde(default)]
    pub schedule: v1::maintenance::Schedule,
    /// Machines brought down with START_MAINTENANCE (and not yet up again).
    #[serde(default)]
    pub down: Vec<v1::MachineId>,
}

/// Where an agent stands in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentState {
    /// Admitted: registered (or, after a failover, expected to re-register).
    Admitted,
    /// Marked unreachable at `since`; it may come back and be re-admitted.
    Unreachable {
        /// When it was marked.
        since: Time,
    },
    /// Marked gone by the operator at `since`; it is told to shut down if it comes back.
    Gone {
        /// When it was marked.
        since: Time,
    },
}

/// One agent's durable record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The AgentInfo it registered with (`id` set).
    pub info: v1::AgentInfo,
    /// Its state.
    #[serde(flatten)]
    pub state: AgentState,
}

impl AgentRecord {
    /// The agent's id.
    pub fn id(&self) -> String {
        self.info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default()
    }
}

/// One framework's durable record (owned by the framework code; the registry only stores it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkRecord {
    /// The latest FrameworkInfo (`id` set).
    pub info: v1::FrameworkInfo,
    /// When its scheduler disconnected, if it is disconnected: with `failover_timeout` this
    /// gives the deadline after which the framework is removed, across failovers.
    #[serde(default)]
    pub disconnected_since: Option<Time>,
}

/// A change to the registry, as the core asks for it.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryWrite {
    /// Create or replace an agent's record.
    Agent(AgentRecord),
    /// Create or replace a framework's record.
    Framework(FrameworkRecord),
    /// Remove a framework's record (torn down or failover timeout expired).
    RemoveFramework(String),
    /// Remove an agent's record (its machine was brought down for maintenance).
    RemoveAgent(String),
    /// Replace the maintenance record.
    Maintenance(MaintenanceRecord),
}

/// What the registry holds, as loaded at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistryState {
    /// Agents by id.
    pub agents: BTreeMap<String, AgentRecord>,
    /// Frameworks by id.
    pub frameworks: BTreeMap<String, FrameworkRecord>,
    /// The maintenance schedule and machine modes, if ever set.
    pub maintenance: Option<MaintenanceRecord>,
    /// The version of every key read, for the compare-and-set of later writes (handed to the
    /// runtime's [`Registry`] through [`Registry::seed`]).
    pub versions: BTreeMap<String, u64>,
}

/// Why the registry failed. Every one of these stops the master.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The store failed (I/O, conflict with another writer, bad key).
    #[error("registry store: {0}")]
    Store(#[from] StoreError),
    /// A record does not decode.
    #[error("registry record '{key}' is corrupt: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The registry over a [`Store`]. Remembers the version of each key it read or wrote, so every
/// write is a compare-and-set against it.
pub struct Registry {
    store: Arc<dyn Store>,
    versions: HashMap<String, u64>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("keys", &self.versions.len())
            .finish()
    }
}

fn agent_key(id: &str) -> String {
    format!("{AGENT_PREFIX}{id}")
}

fn framework_key(id: &str) -> String {
    format!("{FRAMEWORK_PREFIX}{id}")
}

impl Registry {
    /// A registry over `store`; call [`Registry::load`] before writing.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            versions: HashMap::new(),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Read every record (and remember their versions).
    pub fn load(&mut self) -> Result<RegistryState, RegistryError> {
        let state = load(self.store.as_ref())?;
        self.seed(state.versions.clone());
        Ok(state)
    }

    /// Remember the versions read by an earlier [`load`] of the same store.
    pub fn seed(&mut self, versions: BTreeMap<String, u64>) {
        self.versions.extend(versions);
    }

    /// Make one change durable. Returns only once the store has it on stable storage.
    pub fn apply(&mut self, write: &RegistryWrite) -> Result<(), RegistryError> {
        self.apply_all(&[write])
    }

    /// Make several changes durable together (group commit, as Mesos's registrar applies
    /// all queued operations in one store write): one store batch, one fsync. Writes to the
    /// same record are folded into the last one. Returns only once all are on stable storage.
    pub fn apply_all(&mut self, writes: &[&RegistryWrite]) -> Result<(), RegistryError> {
        // The final value of each record, in the order records are first touched.
        let mut order: Vec<String> = Vec::new();
        let mut last: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        for write in writes {
            let (key, value) = record_of(write);
            if last.insert(key.clone(), value).is_none() {
                order.push(key);
            }
        }
        let mut ops = Vec::with_capacity(order.len());
        for key in &order {
            // A record this registry has neither loaded nor written must not exist yet.
            let expected = self.versions.get(key).copied();
            match (last.get(key).and_then(Option::as_ref), expected) {
                (Some(value), expected) => ops.push(Op::Put {
                    key,
                    value,
                    expected,
                }),
                (None, Some(expected)) => ops.push(Op::Delete { key, expected }),
                (None, None) => {}
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        let versions = self.store.batch(&ops)?;
        for (op, version) in ops.iter().zip(versions) {
            match op {
                Op::Put { key, .. } => {
                    self.versions.insert((*key).to_string(), version);
                }
                Op::Delete { key, .. } => {
                    self.versions.remove(*key);
                }
            }
        }
        Ok(())
    }
}

/// The record a write changes and its new bytes (`None`: removed).
fn record_of(write: &RegistryWrite) -> (String, Option<Vec<u8>>) {
    match write {
        RegistryWrite::Agent(record) => (agent_key(&record.id()), Some(encode(record))),
        RegistryWrite::Framework(record) => {
            let id = record.info.id.as_ref().map_or("", |i| i.value.as_str());
            (framework_key(id), Some(encode(record)))
        }
        RegistryWrite::RemoveFramework(id) => (framework_key(id), None),
        RegistryWrite::RemoveAgent(id) => (agent_key(id), None),
        RegistryWrite::Maintenance(record) => (MAINTENANCE_KEY.to_string(), Some(encode(record))),
    }
}

/// Read the registry from `store` (at start, before serving).
pub fn load(store: &dyn Store) -> Result<RegistryState, RegistryError> {
    let mut state = RegistryState::default();
    for key in store.keys(AGENT_PREFIX)? {
        let Some(v) = store.get(&key)? else {
            continue;
        };
        let record: AgentRecord = decode(&key, &v.value)?;
        state
            .agents
            .insert(key[AGENT_PREFIX.len()..].to_string(), record);
        state.versions.insert(key, v.version);
    }
    for key in store.keys(FRAMEWORK_PREFIX)? {
        let Some(v) = store.get(&key)? else {
            continue;
        };
        let record: FrameworkRecord = decode(&key, &v.value)?;
        state
            .frameworks
            .insert(key[FRAMEWORK_PREFIX.len()..].to_string(), record);
        state.versions.insert(key, v.version);
    }
    if let Some(v) = store.get(MAINTENANCE_KEY)? {
        state.maintenance = Some(decode(MAINTENANCE_KEY, &v.value)?);
        state
            .versions
            .insert(MAINTENANCE_KEY.to_string(), v.version);
    }
    Ok(state)
}

/// The store of a master without `--zk`, from `--registry`: `redb` → an embedded database at
/// `<work_dir>/registry.redb`; `in_memory` → nothing survives the process. The leader epoch
/// and the weights/quota (`policies`) live in the same store.
pub fn open_local_store(
    registry: &str,
    work_dir: &std::path::Path,
) -> Result<Arc<dyn Store>, StoreError> {
    match registry {
        "in_memory" => Ok(Arc::new(corral_store::MemoryStore::new())),
        _ => {
            std::fs::create_dir_all(work_dir).map_err(|source| StoreError::Io {
                key: work_dir.display().to_string(),
                source,
            })?;
            Ok(Arc::new(corral_store::RedbStore::open(
                work_dir.join("registry.redb"),
            )?))
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain data structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corral_store::MemoryStore;

    fn info(id: &str) -> v1::AgentInfo {
        v1::AgentInfo {
            hostname: "h".into(),
            id: Some(v1::AgentId { value: id.into() }),
            ..Default::default()
        }
    }

    #[test]
    fn records_round_trip_and_writes_are_compare_and_set() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut r = Registry::new(store.clone());
        assert_eq!(r.load().unwrap(), RegistryState::default());
        let a = AgentRecord {
            info: info("M-S0"),
            state: AgentState::Admitted,
        };
        r.apply(&RegistryWrite::Agent(a.clone())).unwrap();
        let b = AgentRecord {
            info: info("M-S0"),
            state: AgentState::Unreachable { since: 5.0 },
        };
        r.apply(&RegistryWrite::Agent(b.clone())).unwrap();

        let mut again = Registry::new(store.clone());
        let state = again.load().unwrap();
        assert_eq!(state.agents.get("M-S0"), Some(&b));
        again.apply(&RegistryWrite::Agent(a.clone())).unwrap();

        // A writer that did not read the latest version is refused, and so is one that never
        // read the key.
        assert!(matches!(
            r.apply(&RegistryWrite::Agent(a.clone())),
            Err(RegistryError::Store(StoreError::Conflict { .. }))
        ));
        let mut stale = Registry::new(store);
        assert!(matches!(
            stale.apply(&RegistryWrite::Agent(a)),
            Err(RegistryError::Store(StoreError::Conflict { .. }))
        ));
    }

    #[test]
    fn frameworks_are_stored_and_removed() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut r = Registry::new(store.clone());
        r.load().unwrap();
        let f = FrameworkRecord {
            info: v1::FrameworkInfo {
                id: Some(v1::FrameworkId { value: "F1".into() }),
                name: "f".into(),
                user: "u".into(),
                ..Default::default()
            },
            disconnected_since: None,
        };
        r.apply(&RegistryWrite::Framework(f.clone())).unwrap();
        assert_eq!(
            Registry::new(store.clone())
                .load()
                .unwrap()
                .frameworks
                .get("F1"),
            Some(&f)
        );
        r.apply(&RegistryWrite::RemoveFramework("F1".into()))
            .unwrap();
        assert!(Registry::new(store).load().unwrap().frameworks.is_empty());
    }

    #[test]
    fn a_corrupt_record_is_an_error() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        store.put("agents.X", b"{not json", None).unwrap();
        assert!(matches!(
            Registry::new(store).load(),
            Err(RegistryError::Corrupt { .. })
        ));
    }

    /// Counts batches on the way to a memory store.
    struct Counting {
        inner: MemoryStore,
        batches: std::sync::atomic::AtomicUsize,
    }

    impl Store for Counting {
        fn get(&self, key: &str) -> Result<Option<corral_store::Versioned>, StoreError> {
            self.inner.get(key)
        }
        fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StoreError> {
            self.inner.put(key, value, expected)
        }
        fn delete(&self, key: &str, expected: u64) -> Result<(), StoreError> {
            self.inner.delete(key, expected)
        }
        fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.inner.keys(prefix)
        }
        fn batch(&self, ops: &[Op<'_>]) -> Result<Vec<u64>, StoreError> {
            self.batches
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.batch(ops)
        }
    }

    #[test]
    fn a_group_of_writes_is_one_batch_with_the_last_write_per_record() {
        let store = Arc::new(Counting {
            inner: MemoryStore::new(),
            batches: Default::default(),
        });
        let mut r = Registry::new(store.clone());
        r.load().unwrap();
        let admitted = |id: &str| {
            RegistryWrite::Agent(AgentRecord {
                info: info(id),
                state: AgentState::Admitted,
            })
        };
        let unreachable = RegistryWrite::Agent(AgentRecord {
            info: info("A"),
            state: AgentState::Unreachable { since: 7.0 },
        });
        let writes = [
            admitted("A"),
            admitted("B"),
            unreachable.clone(),
            admitted("C"),
            RegistryWrite::RemoveAgent("C".into()),
            RegistryWrite::RemoveAgent("never".into()),
        ];
        r.apply_all(&writes.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(store.batches.load(std::sync::atomic::Ordering::SeqCst), 1);
        let state = Registry::new(store.clone()).load().unwrap();
        let RegistryWrite::Agent(a) = &unreachable else {
            unreachable!()
        };
        assert_eq!(state.agents.get("A"), Some(a), "the last write of A");
        assert!(state.agents.contains_key("B"));
        assert!(
            !state.agents.contains_key("C"),
            "written and removed: never stored"
        );
        assert_eq!(state.versions.get("agents.A"), Some(&1), "one write of A");
        // The versions it remembers are the stored ones: the next writes are accepted.
        r.apply_all(&[&admitted("A"), &RegistryWrite::RemoveAgent("B".into())])
            .unwrap();
        let state = Registry::new(store.clone()).load().unwrap();
        assert_eq!(
            state.agents.get("A").map(|a| &a.state),
            Some(&AgentState::Admitted)
        );
        assert!(!state.agents.contains_key("B"));
        // Nothing to write is no batch at all.
        r.apply_all(&[]).unwrap();
        assert_eq!(store.batches.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
