//! Sandbox garbage collection (Mesos's `GarbageCollector` with the agent's disk watch):
//! every `--disk_watch_interval` the agent measures how full the disk under `--work_dir` is
//! and removes the run directories of ended executors
//! (`slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>`) older than
//!
//! ```text
//! max age = gc_delay × max(0, 1 − gc_disk_headroom − disk usage)
//! ```
//!
//! (so they go sooner as the disk fills; unlike Mesos, never sooner than
//! [`MIN_AGE_UNDER_PRESSURE`] or `gc_delay` if that is shorter, so that a full disk does not
//! wipe the sandboxes of tasks that just ended), then the `executors/<ex>` and `frameworks/<fw>`
//! directories left empty. A run whose container is live is never removed, whatever its
//! age; persistent volumes (`volumes/`) and checkpoints (`meta/`) are outside the walked
//! tree, and the volume links in a sandbox are removed as links, never followed.
//!
//! [`max_age`] and [`select`] are the pure policy; [`sweep`] is the file system edge and
//! [`spawn`] the timer.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use corral_containerizer::Containerizer;
use tokio::task::JoinHandle;

use crate::core::ExecutorState;
use crate::flags::SandboxFlags;
use crate::runtime::ActorHandle;

/// GC settings.
#[derive(Debug, Clone, Copy)]
pub struct GcConfig {
    /// `--gc_delay`.
    pub delay: Duration,
    /// `--gc_disk_headroom`.
    pub headroom: f64,
    /// `--disk_watch_interval`.
    pub interval: Duration,
}

impl GcConfig {
    /// The settings of the flags.
    pub fn from_flags(flags: &SandboxFlags) -> Self {
        Self {
            delay: flags.gc_delay,
            headroom: flags.gc_disk_headroom,
            interval: flags.disk_watch_interval,
        }
    }
}

/// However full the disk, a finished sandbox is kept this long (or `gc_delay` if shorter).
pub const MIN_AGE_UNDER_PRESSURE: Duration = Duration::from_secs(10 * 60);

/// How old a finished sandbox may get at `usage` (the used fraction of the disk, 0..=1).
pub fn max_age(delay: Duration, headroom: f64, usage: f64) -> Duration {
    let floor = delay.min(MIN_AGE_UNDER_PRESSURE);
    let factor = 1.0 - headroom - usage;
    if !factor.is_finite() || factor <= 0.0 {
        return floor;
    }
    delay.mul_f64(factor.min(1.0)).max(floor)
}

/// A run directory found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The run directory.
    pub path: PathBuf,
    /// Its container id (the directory name).
    pub container_id: String,
    /// Time since it last changed.
    pub age: Duration,
}

/// The runs to remove: not live, and older than `max_age`.
pub fn select<'a>(runs: &'a [Run], live: &HashSet<String>, max_age: Duration) -> Vec<&'a Run> {
    runs.iter()
        .filter(|r| !live.contains(&r.container_id) && r.age >= max_age)
        .collect()
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Run directories removed.
    pub removed_runs: Vec<PathBuf>,
    /// Executor and framework directories removed because they were empty.
    pub removed_parents: Vec<PathBuf>,
}

/// The run directories under `work_dir` (not following links).
pub fn find_runs(work_dir: &Path, now: SystemTime) -> Vec<Run> {
    let mut runs = Vec::new();
    for agent in subdirs(&work_dir.join("slaves")) {
        for framework in subdirs(&agent.join("frameworks")) {
            for executor in subdirs(&framework.join("executors")) {
                for run in subdirs(&executor.join("runs")) {
                    let Some(name) = run.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    let modified = last_change(&run).unwrap_or(now);
                    runs.push(Run {
                        container_id: name.to_string(),
                        age: now.duration_since(modified).unwrap_or(Duration::ZERO),
                        path: run,
                    });
                }
            }
        }
    }
    runs
}

/// When a run directory or one of its direct entries (the output files; links such as
/// volumes aside) last changed.
fn last_change(run: &Path) -> Option<SystemTime> {
    let own = std::fs::symlink_metadata(run)
        .and_then(|m| m.modified())
        .ok()?;
    let entries = std::fs::read_dir(run).ok()?;
    Some(
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_symlink()))
            .filter_map(|e| e.metadata().and_then(|m| m.modified()).ok())
            .fold(own, SystemTime::max),
    )
}

/// Real directories (not links) in `dir`; none when it cannot be read.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Removes the runs [`select`] picks, then empty executor and framework directories.
pub fn sweep(
    work_dir: &Path,
    live: &HashSet<String>,
    now: SystemTime,
    max_age: Duration,
) -> SweepReport {
    let runs = find_runs(work_dir, now);
    let mut report = SweepReport::default();
    for run in select(&runs, live, max_age) {
        match std::fs::remove_dir_all(&run.path) {
            Ok(()) => {
                tracing::info!(path = %run.path.display(), age = ?run.age, "removed an old sandbox");
                report.removed_runs.push(run.path.clone());
            }
            Err(error) => {
                tracing::warn!(path = %run.path.display(), %error, "cannot remove an old sandbox");
            }
        }
    }
    // Executors and frameworks left without runs.
    for agent in subdirs(&work_dir.join("slaves")) {
        for framework in subdirs(&agent.join("frameworks")) {
            for executor in subdirs(&framework.join("executors")) {
                let runs = executor.join("runs");
                if subdirs(&runs).is_empty() && remove_if_only_links(&executor) {
                    report.removed_parents.push(executor);
                }
            }
            if subdirs(&framework.join("executors")).is_empty() && remove_if_only_links(&framework)
            {
                report.removed_parents.push(framework);
            }
        }
    }
    report
}

/// Removes `dir` when it holds no regular files and no directories other than empty
/// `runs`/`executors` ones (a dangling `latest` link is fine); returns whether it did.
fn remove_if_only_links(dir: &Path) -> bool {
    fn removable(dir: &Path) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().all(|e| match e.file_type() {
            Ok(t) if t.is_symlink() => true,
            Ok(t) if t.is_dir() => removable(&e.path()),
            _ => false,
        })
    }
    if !removable(dir) {
        return false;
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(path = %dir.display(), %error, "cannot remove an empty directory");
            false
        }
    }
}

/// The used fraction of the file system holding `path`.
pub fn disk_usage_fraction(path: &Path) -> io::Result<f64> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    let total = stat.blocks() as f64;
    if total <= 0.0 {
        return Ok(0.0);
    }
    let available = stat.blocks_available() as f64;
    Ok(((total - available) / total).clamp(0.0, 1.0))
}

/// The containers that must keep their sandboxes: every executor the agent has not seen
/// end, and every container the containerizer still tracks.
async fn live_containers(
    actor: &ActorHandle,
    containerizer: &Containerizer,
) -> Option<HashSet<String>> {
    let snapshot = actor.snapshot().await.ok()?;
    let mut live: HashSet<String> = snapshot
        .frameworks
        .iter()
        .flat_map(|f| f.executors.values())
        .filter(|e| e.state != ExecutorState::Terminated)
        .map(|e| e.container_id.clone())
        .collect();
    live.extend(
        containerizer
            .containers()
            .into_iter()
            .map(|id| id.as_str().to_string()),
    );
    Some(live)
}

/// Runs the collector every `config.interval` until aborted.
pub fn spawn(
    config: GcConfig,
    work_dir: PathBuf,
    actor: ActorHandle,
    containerizer: Containerizer,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(config.interval.max(Duration::from_millis(10)));
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer.tick().await;
        loop {
            timer.tick().await;
            let usage = match disk_usage_fraction(&work_dir) {
                Ok(usage) => usage,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the disk usage; assuming an empty disk");
                    0.0
                }
            };
            let age = max_age(config.delay, config.headroom, usage);
            // Without the live set nothing is safe to remove.
            let Some(live) = live_containers(&actor, &containerizer).await else {
                continue;
            };
            let dir = work_dir.clone();
            let swept =
                tokio::task::spawn_blocking(move || sweep(&dir, &live, SystemTime::now(), age))
                    .await;
            match swept {
                Ok(report) if !report.removed_runs.is_empty() => {
                    tracing::info!(usage, max_age = ?age, removed = report.removed_runs.len(),
                        "sandbox garbage collection");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sandbox garbage collection failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_shrinks_as_the_disk_fills() {
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(max_age(week, 0.1, 0.0), week.mul_f64(0.9));
        assert_eq!(max_age(week, 0.1, 0.5), week.mul_f64(0.4));
        assert_eq!(max_age(week, 0.1, 0.9), MIN_AGE_UNDER_PRESSURE);
        assert_eq!(max_age(week, 0.1, 0.89999), MIN_AGE_UNDER_PRESSURE);
        assert_eq!(max_age(week, 0.1, 1.0), MIN_AGE_UNDER_PRESSURE);
        assert_eq!(max_age(week, 0.0, 0.0), week);
        assert_eq!(max_age(week, f64::NAN, 0.0), MIN_AGE_UNDER_PRESSURE);
        let short = Duration::from_secs(2);
        assert_eq!(max_age(short, 0.1, 0.98), short);
        assert_eq!(max_age(short, 0.0, 0.5), short);
    }

    #[test]
    fn live_and_young_runs_are_kept() {
        let run = |id: &str, secs| Run {
            path: PathBuf::from(id),
            container_id: id.to_string(),
            age: Duration::from_secs(secs),
        };
        let runs = [run("old", 100), run("young", 1), run("live", 100)];
        let live: HashSet<String> = ["live".to_string()].into();
        let picked: Vec<&str> = select(&runs, &live, Duration::from_secs(10))
            .iter()
            .map(|r| r.container_id.as_str())
            .collect();
        assert_eq!(picked, vec!["old"]);
        let all: Vec<&str> = select(&runs, &HashSet::new(), Duration::ZERO)
            .iter()
            .map(|r| r.container_id.as_str())
            .collect();
        assert_eq!(all, vec!["old", "young", "live"]);
    }
}
