//! The agent's checkpointed state under `<work_dir>/meta`, which lets a restarted agent find
//! the executors and tasks of checkpointing frameworks again (Mesos's `docs/agent-recovery.md`).
//!
//! ```text
//! meta/boot_id                                  boot id of the host when the agent last started
//! meta/slaves/latest -> <agent id>              the agent's current id
//! meta/slaves/<aid>/slave.info                  AgentInfo (JSON)
//!   frameworks/<fid>/framework.info             FrameworkInfo
//!     executors/<eid>/executor.info             ExecutorInfo
//!       runs/<cid>/run.info                     {kind, directory, pid, start_time}
//!       runs/<cid>/completed                    marker: the run ended and nothing is pending
//!       runs/<cid>/tasks/<tid>/task.info        Task (as accepted)
//!       runs/<cid>/tasks/<tid>/task.updates     append log of UPDATE / ACK records
//! ```
//!
//! Whole files are replaced atomically (temporary file, fsync, rename, fsync of the
//! directory, see [`write_atomic`]); the update log is appended and fsynced record by record
//! ([`log`]). The runtime writes a record *before* it acts on it (an executor's update is
//! acknowledged only once it is in the log). Only frameworks with `checkpoint: true` are
//! checkpointed, as in Mesos. [`recover`] reads it all back.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use corral_api::v1;
use serde_json::{json, Value as Json};

use crate::core::state::ExecutorKind;

pub mod log;
pub mod recover;

pub use recover::{
    read_state, RecoveredExecutor, RecoveredFramework, RecoveredState, RecoveredTask,
};

/// Where the kernel publishes the current boot id.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// Why the checkpointed state cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
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
    /// A file holds something this agent cannot use.
    #[error("checkpoint {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl MetaError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MetaError {
        let path = path.to_path_buf();
        move |source| MetaError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> MetaError {
        MetaError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Identifies one executor run (container) of a framework on this agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPath {
    /// The agent's id.
    pub agent_id: String,
    /// The framework.
    pub framework_id: String,
    /// The executor.
    pub executor_id: String,
    /// The container.
    pub container_id: String,
}

/// One change to the checkpointed state, emitted by the core as `Effect::Persist`.
#[allow(clippy::large_enum_variant)] // lives only between the core and the runtime
#[derive(Debug, Clone, PartialEq)]
pub enum MetaWrite {
    /// The framework's info (written again whenever the master sends a newer one).
    Framework {
        /// The agent.
        agent_id: String,
        /// FrameworkInfo with its id.
        info: v1::FrameworkInfo,
    },
    /// A new executor run, before its container is launched.
    Run {
        /// Which run.
        run: RunPath,
        /// Its ExecutorInfo.
        info: v1::ExecutorInfo,
        /// Which program runs it.
        kind: ExecutorKind,
        /// The sandbox.
        directory: PathBuf,
    },
    /// The run's container started: its main process.
    Pid {
        /// Which run.
        run: RunPath,
        /// Pid of the main process.
        pid: u32,
        /// Its start time (`/proc/<pid>/stat` field 22), to refuse a reused pid.
        start_time: Option<u64>,
    },
    /// A task given to the run (queued or delivered).
    Task {
        /// Which run.
        run: RunPath,
        /// The task record.
        task: v1::Task,
    },
    /// A status update the agent took custody of.
    Update {
        /// Which run.
        run: RunPath,
        /// The update.
        status: v1::TaskStatus,
    },
    /// The scheduler acknowledged an update.
    Ack {
        /// Which run.
        run: RunPath,
        /// The task.
        task_id: String,
        /// The acknowledged uuid.
        uuid: Vec<u8>,
    },
    /// The run ended and nothing of it awaits acknowledgement: recovery skips it.
    Completed {
        /// Which run.
        run: RunPath,
    },
}

/// The paths of `<work_dir>/meta`, and the writer of [`MetaWrite`]s.
#[derive(Debug, Clone)]
pub struct MetaDir {
    root: PathBuf,
}

impl MetaDir {
    /// The meta directory of `work_dir`.
    pub fn new(work_dir: &Path) -> Self {
        MetaDir {
            root: work_dir.join("meta"),
        }
    }

    /// `meta/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `meta/boot_id`.
    pub fn boot_id_file(&self) -> PathBuf {
        self.root.join("boot_id")
    }

    /// `meta/slaves`.
    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("slaves")
    }

    /// `meta/slaves/<aid>`.
    pub fn agent_dir(&self, agent_id: &str) -> PathBuf {
        self.agents_dir().join(agent_id)
    }

    /// `meta/slaves/<aid>/frameworks/<fid>`.
    pub fn framework_dir(&self, agent_id: &str, framework_id: &str) -> PathBuf {
        self.agent_dir(agent_id)
            .join("frameworks")
            .join(framework_id)
    }

    /// `…/executors/<eid>`.
    pub fn executor_dir(&self, run: &RunPath) -> PathBuf {
        self.framework_dir(&run.agent_id, &run.framework_id)
            .join("executors")
            .join(&run.executor_id)
    }

    /// `…/runs/<cid>`.
    pub fn run_dir(&self, run: &RunPath) -> PathBuf {
        self.executor_dir(run).join("runs").join(&run.container_id)
    }

    /// `…/tasks/<tid>`.
    pub fn task_dir(&self, run: &RunPath, task_id: &str) -> PathBuf {
        self.run_dir(run).join("tasks").join(task_id)
    }

    /// `…/tasks/<tid>/task.updates`.
    pub fn updates_file(&self, run: &RunPath, task_id: &str) -> PathBuf {
        self.task_dir(run, task_id).join("task.updates")
    }

    /// Records the agent's info and points `slaves/latest` at its id.
    pub fn save_agent(&self, info: &v1::AgentInfo) -> Result<(), MetaError> {
        let Some(id) = info.id.as_ref().map(|id| id.value.clone()) else {
            return Ok(());
        };
        let dir = self.agent_dir(&id);
        write_json(&dir.join("slave.info"), &json!(info))?;
        let latest = self.agents_dir().join("latest");
        if std::fs::read_link(&latest).ok().as_deref() == Some(Path::new(&id)) {
            return Ok(());
        }
        let temporary = self.agents_dir().join(".latest.tmp");
        let _ = std::fs::remove_file(&temporary);
        std::os::unix::fs::symlink(&id, &temporary).map_err(MetaError::io("link", &temporary))?;
        std::fs::rename(&temporary, &latest).map_err(MetaError::io("replace", &latest))?;
        sync_dir(&self.agents_dir()).map_err(MetaError::io("sync", &self.agents_dir()))
    }

    /// Records the boot id the agent runs under.
    pub fn save_boot_id(&self, boot_id: &str) -> Result<(), MetaError> {
        write_atomic(&self.boot_id_file(), boot_id.as_bytes())
    }

    /// The boot id recorded by the last agent, if any.
    pub fn saved_boot_id(&self) -> Result<Option<String>, MetaError> {
        let path = self.boot_id_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(MetaError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Carries out one write durably.
    pub fn apply(&self, write: &MetaWrite) -> Result<(), MetaError> {
        match write {
            MetaWrite::Framework { agent_id, info } => {
                let id = info.id.as_ref().map_or("", |id| id.value.as_str());
                let path = self.framework_dir(agent_id, id).join("framework.info");
                write_json(&path, &json!(info))
            }
            MetaWrite::Run {
                run,
                info,
                kind,
                directory,
            } => {
                write_json(&self.executor_dir(run).join("executor.info"), &json!(info))?;
                let record = RunRecord {
                    kind: *kind,
                    directory: directory.clone(),
                    pid: None,
                    start_time: None,
                };
                write_json(&self.run_dir(run).join("run.info"), &record.to_json())
            }
            MetaWrite::Pid {
                run,
                pid,
                start_time,
            } => {
                let path = self.run_dir(run).join("run.info");
                let mut record = RunRecord::read(&path)?;
                record.pid = Some(*pid);
                record.start_time = *start_time;
                write_json(&path, &record.to_json())
            }
            MetaWrite::Task { run, task } => {
                let path = self.task_dir(run, &task.task_id.value).join("task.info");
                write_json(&path, &json!(task))
            }
            MetaWrite::Update { run, status } => {
                let path = self.updates_file(run, &status.task_id.value);
                log::append(&path, &log::Record::Update(status.clone()))
            }
            MetaWrite::Ack { run, task_id, uuid } => {
                let path = self.updates_file(run, task_id);
                log::append(&path, &log::Record::Ack(uuid.clone()))
            }
            MetaWrite::Completed { run } => write_atomic(&self.run_dir(run).join("completed"), b""),
        }
    }
}

/// `run.info`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRecord {
    pub kind: ExecutorKind,
    pub directory: PathBuf,
    pub pid: Option<u32>,
    pub start_time: Option<u64>,
}

impl RunRecord {
    fn to_json(&self) -> Json {
        json!({
            "kind": kind_name(self.kind),
            "directory": self.directory.display().to_string(),
            "pid": self.pid,
            "start_time": self.start_time,
        })
    }

    pub(crate) fn read(path: &Path) -> Result<RunRecord, MetaError> {
        let bytes = std::fs::read(path).map_err(MetaError::io("read", path))?;
        let json: Json =
            serde_json::from_slice(&bytes).map_err(|e| MetaError::corrupt(path, e.to_string()))?;
        let kind = json
            .get("kind")
            .and_then(Json::as_str)
            .and_then(kind_of)
            .ok_or_else(|| MetaError::corrupt(path, "'kind' is missing or unknown"))?;
        let directory = json
            .get("directory")
            .and_then(Json::as_str)
            .ok_or_else(|| MetaError::corrupt(path, "'directory' is missing"))?;
        let pid = match json.get("pid") {
            None | Some(Json::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .and_then(|p| u32::try_from(p).ok())
                    .ok_or_else(|| MetaError::corrupt(path, "'pid' is not a pid"))?,
            ),
        };
        Ok(RunRecord {
            kind,
            directory: PathBuf::from(directory),
            pid,
            start_time: json.get("start_time").and_then(Json::as_u64),
        })
    }
}

fn kind_name(kind: ExecutorKind) -> &'static str {
    match kind {
        ExecutorKind::Command => "command",
        ExecutorKind::Default => "default",
        ExecutorKind::Custom => "custom",
    }
}

fn kind_of(name: &str) -> Option<ExecutorKind> {
    match name {
        "command" => Some(ExecutorKind::Command),
        "default" => Some(ExecutorKind::Default),
        "custom" => Some(ExecutorKind::Custom),
        _ => None,
    }
}

/// The host's current boot id, if the kernel publishes one.
pub fn current_boot_id() -> Option<String> {
    std::fs::read_to_string(BOOT_ID_PATH)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn write_json(path: &Path, value: &Json) -> Result<(), MetaError> {
    let bytes = serde_json::to_vec(value).map_err(|e| MetaError::corrupt(path, e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Replaces `path` with `bytes` durably: the parent directories are created (and synced), a
/// temporary file in the same directory is written and fsynced, renamed over `path`, and the
/// directory is fsynced. A reader sees the old content or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MetaError> {
    let directory = path.parent().unwrap_or(Path::new("."));
    create_dirs(directory)?;
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy().into_owned());
    let temporary = directory.join(format!(".{name}.tmp"));
    let mut file =
        std::fs::File::create(&temporary).map_err(MetaError::io("create", &temporary))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(MetaError::io("write", &temporary))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(MetaError::io("replace", path))?;
    sync_dir(directory).map_err(MetaError::io("sync", directory))
}

/// Creates `directory` and its missing parents, syncing each parent that gained an entry.
pub(crate) fn create_dirs(directory: &Path) -> Result<(), MetaError> {
    if directory.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cursor = Some(directory);
    while let Some(dir) = cursor {
        if dir.is_dir() {
            break;
        }
        missing.push(dir.to_path_buf());
        cursor = dir.parent();
    }
    std::fs::create_dir_all(directory).map_err(MetaError::io("create", directory))?;
    for dir in missing.iter().rev() {
        if let Some(parent) = dir.parent() {
            sync_dir(parent).map_err(MetaError::io("sync", parent))?;
        }
    }
    Ok(())
}

pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

#[cfg(test)]
mod tests;
