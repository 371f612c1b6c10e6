//! Reading the checkpointed state back ([`read_state`]) when the agent starts.
//!
//! With `strict` (the `--strict` flag, default true) any unreadable file fails recovery with
//! an error naming it; without, the broken framework, executor or task is skipped (and named
//! in [`RecoveredState::skipped`]). A torn tail of an update log is always cut off and is
//! never an error (see [`log`](super::log)).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use corral_api::v1;
use serde::de::DeserializeOwned;

use super::log::{self, Record};
use super::{MetaDir, MetaError, RunRecord};
use crate::core::state::ExecutorKind;

/// Everything recovered from `meta/`.
#[derive(Debug, Clone, Default)]
pub struct RecoveredState {
    /// The agent's info with its id, if it had registered before.
    pub agent_info: Option<v1::AgentInfo>,
    /// Checkpointing frameworks with live (not completed) executor runs.
    pub frameworks: Vec<RecoveredFramework>,
    /// What was skipped because it could not be read (only without `strict`).
    pub skipped: Vec<String>,
    /// Update logs whose torn tail was cut off.
    pub truncated_logs: usize,
}

/// A recovered framework.
#[derive(Debug, Clone)]
pub struct RecoveredFramework {
    /// Its FrameworkInfo.
    pub info: v1::FrameworkInfo,
    /// Its executor runs that had not completed.
    pub executors: Vec<RecoveredExecutor>,
}

/// A recovered executor run.
#[derive(Debug, Clone)]
pub struct RecoveredExecutor {
    /// Its ExecutorInfo.
    pub info: v1::ExecutorInfo,
    /// Which program runs it.
    pub kind: ExecutorKind,
    /// The container.
    pub container_id: String,
    /// The sandbox.
    pub directory: PathBuf,
    /// Main process, if its launch was recorded.
    pub pid: Option<u32>,
    /// Start time of the main process.
    pub start_time: Option<u64>,
    /// Its tasks.
    pub tasks: Vec<RecoveredTask>,
}

/// A recovered task with its update log.
#[derive(Debug, Clone)]
pub struct RecoveredTask {
    /// The task as accepted.
    pub task: v1::Task,
    /// Every update the agent took custody of, in order.
    pub updates: Vec<v1::TaskStatus>,
    /// The uuids acknowledged by the scheduler.
    pub acked: HashSet<Vec<u8>>,
}

/// Reads `meta/` (see the module docs).
pub fn read_state(meta: &MetaDir, strict: bool) -> Result<RecoveredState, MetaError> {
    let mut state = RecoveredState::default();
    let latest = meta.agents_dir().join("latest");
    let agent_id = match std::fs::read_link(&latest) {
        Ok(target) => target.to_string_lossy().into_owned(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(state),
        Err(source) => {
            return Err(MetaError::Io {
                action: "read",
                path: latest,
                source,
            })
        }
    };
    let agent_dir = meta.agent_dir(&agent_id);
    let info_path = agent_dir.join("slave.info");
    match read_json::<v1::AgentInfo>(&info_path) {
        Ok(mut info) => {
            info.id = Some(v1::AgentId {
                value: agent_id.clone(),
            });
            state.agent_info = Some(info);
        }
        Err(error) => {
            skip(&mut state, strict, error)?;
            return Ok(state);
        }
    }
    for framework_dir in subdirs(&agent_dir.join("frameworks"))? {
        match read_framework(&framework_dir, strict, &mut state) {
            Ok(Some(framework)) => state.frameworks.push(framework),
            Ok(None) => {}
            Err(error) => skip(&mut state, strict, error)?,
        }
    }
    Ok(state)
}

fn read_framework(
    dir: &Path,
    strict: bool,
    state: &mut RecoveredState,
) -> Result<Option<RecoveredFramework>, MetaError> {
    let info: v1::FrameworkInfo = read_json(&dir.join("framework.info"))?;
    let mut executors = Vec::new();
    for executor_dir in subdirs(&dir.join("executors"))? {
        match read_executor(&executor_dir, strict, state) {
            Ok(Some(executor)) => executors.push(executor),
            Ok(None) => {}
            Err(error) => skip(state, strict, error)?,
        }
    }
    Ok((!executors.is_empty()).then_some(RecoveredFramework { info, executors }))
}

/// The executor's live run (the newest one without a `completed` marker), if any.
fn read_executor(
    dir: &Path,
    strict: bool,
    state: &mut RecoveredState,
) -> Result<Option<RecoveredExecutor>, MetaError> {
    let mut live: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for run in subdirs(&dir.join("runs"))? {
        if run.join("completed").exists() {
            continue;
        }
        let info = run.join("run.info");
        let Ok(modified) = std::fs::metadata(&info).and_then(|m| m.modified()) else {
            // Recorded before its run.info was written: nothing was launched.
            continue;
        };
        live.push((modified, run));
    }
    live.sort();
    let Some((_, run_dir)) = live.pop() else {
        return Ok(None);
    };
    for (_, stale) in &live {
        tracing::warn!(run = %stale.display(), "ignoring an older unfinished run of an executor");
    }
    let info: v1::ExecutorInfo = read_json(&dir.join("executor.info"))?;
    let record = RunRecord::read(&run_dir.join("run.info"))?;
    let container_id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for task_dir in subdirs(&run_dir.join("tasks"))? {
        match read_task(&task_dir, state) {
            Ok(task) => tasks.push(task),
            Err(error) => skip(state, strict, error)?,
        }
    }
    Ok(Some(RecoveredExecutor {
        info,
        kind: record.kind,
        container_id,
        directory: record.directory,
        pid: record.pid,
        start_time: record.start_time,
        tasks,
    }))
}

fn read_task(dir: &Path, state: &mut RecoveredState) -> Result<RecoveredTask, MetaError> {
    let task: v1::Task = read_json(&dir.join("task.info"))?;
    let contents = log::read(&dir.join("task.updates"))?;
    if contents.truncated > 0 {
        state.truncated_logs += 1;
    }
    let mut updates = Vec::new();
    let mut acked = HashSet::new();
    for record in contents.records {
        match record {
            Record::Update(status) => updates.push(status),
            Record::Ack(uuid) => {
                acked.insert(uuid);
            }
        }
    }
    Ok(RecoveredTask {
        task,
        updates,
        acked,
    })
}

fn skip(state: &mut RecoveredState, strict: bool, error: MetaError) -> Result<(), MetaError> {
    if strict {
        return Err(error);
    }
    tracing::warn!(%error, "skipping an unreadable checkpoint (--strict=false)");
    state.skipped.push(error.to_string());
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, MetaError> {
    let bytes = std::fs::read(path).map_err(MetaError::io("read", path))?;
    serde_json::from_slice(&bytes).map_err(|e| MetaError::corrupt(path, e.to_string()))
}

/// The subdirectories of `dir` (none if it does not exist), skipping hidden entries and links.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, MetaError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(MetaError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(MetaError::io("list", dir))?;
        let name = entry.file_name();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && !name.to_string_lossy().starts_with('.') {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}
