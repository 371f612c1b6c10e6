//! `cgroups/mem`: hard memory limit, OOM detection, memory statistics.
//!
//! * Limit from `mem_bytes`: v1 `memory.limit_in_bytes` and, where swap is accounted,
//!   `memory.memsw.limit_in_bytes` to the same value (no swap); v2 `memory.max`,
//!   `memory.swap.max` = 0 and `memory.oom.group` = 1 (the OOM killer takes the whole
//!   container, not one process of it).
//! * OOM: the kernel's count of OOM kills in the cgroup (v1 `oom_kill` in `memory.oom_control`,
//!   Linux 4.13+, else `under_oom`; v2 `oom_kill` in `memory.events`) is polled while the
//!   container runs and checked once more when its main process ends, so that a main process
//!   killed by the OOM killer is reported as a memory limitation, not as a plain SIGKILL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::isolator::Subsystem;
use super::usage::{read_key, FlatKeyed};
use super::{fs, CgroupVersion, ContainerCgroup, Controller};
use crate::error::IsolatorError;
use crate::isolator::{Limitation, LimitationKind};
use crate::launcher::BoxFuture;
use crate::spec::{ContainerId, ResourceLimits};
use crate::usage::ResourceUsage;

const MB: u64 = 1 << 20;

#[derive(Debug)]
pub(crate) struct Mem {
    poll_interval: Duration,
    /// OOM kills already counted when a container was recovered (not reported again).
    baselines: Mutex<HashMap<ContainerId, u64>>,
}

impl Mem {
    pub(crate) fn new(poll_interval: Duration) -> Self {
        Self {
            poll_interval: poll_interval.max(Duration::from_millis(1)),
            baselines: Mutex::new(HashMap::new()),
        }
    }

    fn baselines(&self) -> MutexGuard<'_, HashMap<ContainerId, u64>> {
        self.baselines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn baseline(&self, id: &ContainerId) -> u64 {
        self.baselines().get(id).copied().unwrap_or(0)
    }
}

/// OOM kills so far in the cgroup; `None` if the cgroup (or the counter) does not exist.
pub(crate) fn oom_kills(version: CgroupVersion, dir: &Path) -> Result<Option<u64>, IsolatorError> {
    match version {
        CgroupVersion::V1 => {
            let control = FlatKeyed::read(&dir.join("memory.oom_control"))?;
            Ok(control.and_then(|c| c.first(&["oom_kill", "under_oom"])))
        }
        CgroupVersion::V2 => read_key(&dir.join("memory.events"), "oom_kill"),
    }
}

/// The limitation for an OOM in `dir`, with the limit, the peak usage and key statistics
/// (Mesos's message format).
pub(crate) fn oom_limitation(version: CgroupVersion, dir: &Path, kills: u64) -> Limitation {
    let read = |file: &str| fs::read_u64(&dir.join(file)).ok().flatten();
    let (limit, peak) = match version {
        CgroupVersion::V1 => (
            read("memory.limit_in_bytes"),
            read("memory.max_usage_in_bytes"),
        ),
        CgroupVersion::V2 => (
            read("memory.max"),
            read("memory.peak").or_else(|| read("memory.current")),
        ),
    };
    let mb =
        |bytes: Option<u64>| bytes.map_or_else(|| "unknown ".to_owned(), |b| (b / MB).to_string());
    let stat = FlatKeyed::read(&dir.join("memory.stat"))
        .ok()
        .flatten()
        .unwrap_or_default();
    let keys: &[&str] = match version {
        CgroupVersion::V1 => &[
            "total_rss",
            "total_cache",
            "total_mapped_file",
            "total_swap",
        ],
        CgroupVersion::V2 => &["anon", "file", "file_mapped", "shmem"],
    };
    let mut message = format!(
        "Memory limit exceeded: Requested: {}MB Maximum Used: {}MB\n\nMEMORY STATISTICS: \n",
        mb(limit),
        mb(peak)
    );
    // After the main process died most statistics read 0; keep only what says something.
    for key in keys {
        if let Some(value) = stat.get(key).filter(|&v| v > 0) {
            message.push_str(&format!("{key} {value}\n"));
        }
    }
    message.push_str(&format!("oom_kill {kills}\n"));
    Limitation {
        kind: LimitationKind::Memory,
        message,
    }
}

impl Subsystem for Mem {
    fn name(&self) -> &'static str {
        "cgroups/mem"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Memory]
    }

    fn apply(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError> {
        let (Some(bytes), Some(dir)) = (limits.mem_bytes, cg.dir(Controller::Memory)) else {
            return Ok(());
        };
        let value = bytes.to_string();
        match cg.version {
            CgroupVersion::V1 => {
                // A fresh cgroup has no limit, so memory first, then memory+swap (which must
                // never be below it).
                fs::write(&dir.join("memory.limit_in_bytes"), &value)?;
                fs::write_if_exists(&dir.join("memory.memsw.limit_in_bytes"), &value)?;
            }
            CgroupVersion::V2 => {
                fs::write(&dir.join("memory.max"), &value)?;
                fs::write_if_exists(&dir.join("memory.swap.max"), "0")?;
                fs::write_if_exists(&dir.join("memory.oom.group"), "1")?;
            }
        }
        tracing::debug!(container_id = %cg.id, bytes, "applied memory limit");
        Ok(())
    }

    /// Raises the hard limit (or lifts it: no `mem_bytes`), never lowers it: below the
    /// container's usage that would invoke the OOM killer (Mesos's rule). A lower figure
    /// becomes the v1 soft limit, which the kernel reclaims towards under pressure.
    fn update(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError> {
        let Some(dir) = cg.dir(Controller::Memory) else {
            return Ok(());
        };
        let (limit_file, unlimited) = match cg.version {
            CgroupVersion::V1 => ("memory.limit_in_bytes", "-1"),
            CgroupVersion::V2 => ("memory.max", "max"),
        };
        let current = fs::read_u64(&dir.join(limit_file))?.unwrap_or(u64::MAX);
        let wanted = limits.mem_bytes.unwrap_or(u64::MAX);
        if wanted < current {
            if cg.version == CgroupVersion::V1 {
                fs::write_if_exists(&dir.join("memory.soft_limit_in_bytes"), &wanted.to_string())?;
            }
            tracing::debug!(container_id = %cg.id, wanted, current, "kept the memory hard limit");
            return Ok(());
        }
        if wanted == current {
            return Ok(());
        }
        let value = limits
            .mem_bytes
            .map_or_else(|| unlimited.to_string(), |b| b.to_string());
        match cg.version {
            CgroupVersion::V1 => {
                // Raising: memory+swap first, since it may never be below the memory limit.
                fs::write_if_exists(&dir.join("memory.memsw.limit_in_bytes"), &value)?;
                fs::write(&dir.join("memory.limit_in_bytes"), &value)?;
                fs::write_if_exists(&dir.join("memory.soft_limit_in_bytes"), &value)?;
            }
            CgroupVersion::V2 => fs::write(&dir.join("memory.max"), &value)?,
        }
        tracing::debug!(container_id = %cg.id, limit = %value, "raised the memory limit");
        Ok(())
    }

    fn usage(&self, cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError> {
        let Some(dir) = cg.dir(Controller::Memory) else {
            return Ok(ResourceUsage::default());
        };
        let read = |file: &str| fs::read_u64(&dir.join(file));
        let stat = FlatKeyed::read(&dir.join("memory.stat"))?.unwrap_or_default();
        Ok(match cg.version {
            CgroupVersion::V1 => ResourceUsage {
                mem_total_bytes: read("memory.usage_in_bytes")?,
                mem_peak_bytes: read("memory.max_usage_in_bytes")?,
                mem_limit_bytes: read("memory.limit_in_bytes")?,
                mem_rss_bytes: stat.first(&["total_rss", "rss"]),
                mem_cache_bytes: stat.first(&["total_cache", "cache"]),
                mem_mapped_file_bytes: stat.first(&["total_mapped_file", "mapped_file"]),
                mem_swap_bytes: stat.first(&["total_swap", "swap"]),
                mem_anon_bytes: stat
                    .sum(&["total_active_anon", "total_inactive_anon"])
                    .or_else(|| stat.sum(&["active_anon", "inactive_anon"])),
                mem_file_bytes: stat
                    .sum(&["total_active_file", "total_inactive_file"])
                    .or_else(|| stat.sum(&["active_file", "inactive_file"])),
                ..ResourceUsage::default()
            },
            CgroupVersion::V2 => ResourceUsage {
                mem_total_bytes: read("memory.current")?,
                mem_peak_bytes: read("memory.peak")?,
                mem_limit_bytes: read("memory.max")?,
                mem_rss_bytes: stat.get("anon"),
                mem_anon_bytes: stat.get("anon"),
                mem_cache_bytes: stat.get("file"),
                mem_file_bytes: stat.get("file"),
                mem_mapped_file_bytes: stat.get("file_mapped"),
                mem_swap_bytes: read("memory.swap.current")?,
                ..ResourceUsage::default()
            },
        })
    }

    fn recovered(&self, cg: &ContainerCgroup) {
        if let Some(dir) = cg.dir(Controller::Memory) {
            let kills = oom_kills(cg.version, dir).ok().flatten().unwrap_or(0);
            self.baselines().insert(cg.id.clone(), kills);
        }
    }

    fn watch(&self, cg: ContainerCgroup) -> Option<BoxFuture<'static, Limitation>> {
        let dir: PathBuf = cg.dir(Controller::Memory)?.to_path_buf();
        let baseline = self.baseline(&cg.id);
        let interval = self.poll_interval;
        let version = cg.version;
        let id = cg.id;
        Some(Box::pin(async move {
            loop {
                match oom_kills(version, &dir) {
                    Ok(Some(kills)) if kills > baseline => {
                        tracing::warn!(container_id = %id, kills, "OOM killer acted in container");
                        return oom_limitation(version, &dir, kills);
                    }
                    Ok(Some(_)) => {}
                    // The cgroup is gone (destroyed): nothing more to watch.
                    Ok(None) if !dir.exists() => return std::future::pending().await,
                    Ok(None) => {}
                    Err(error) => {
                        tracing::debug!(container_id = %id, %error, "reading OOM counter")
                    }
                }
                tokio::time::sleep(interval).await;
            }
        }))
    }

    fn check(&self, cg: &ContainerCgroup) -> Option<Limitation> {
        let dir = cg.dir(Controller::Memory)?;
        let kills = oom_kills(cg.version, dir).ok().flatten()?;
        (kills > self.baseline(&cg.id)).then(|| oom_limitation(cg.version, dir, kills))
    }

    fn forget(&self, id: &ContainerId) {
        self.baselines().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use std::fs as stdfs;

    use super::*;
    use crate::cgroups::{V1Backend, V2Backend};

    fn files(dir: &Path, files: &[(&str, &str)]) {
        stdfs::create_dir_all(dir).unwrap();
        for (name, content) in files {
            stdfs::write(dir.join(name), content).unwrap();
        }
    }

    fn limits(bytes: u64) -> ResourceLimits {
        ResourceLimits {
            mem_bytes: Some(bytes),
            ..ResourceLimits::default()
        }
    }

    fn id() -> ContainerId {
        ContainerId::new("c").unwrap()
    }

    #[tokio::test]
    async fn v1_limit_usage_and_oom() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = V1Backend::new([(Controller::Memory, tmp.path().to_path_buf())]);
        let mem = Mem::new(Duration::from_millis(5));
        let cg = ContainerCgroup::new(&backend, &id(), mem.controllers());
        let dir = tmp.path().join("c");
        files(
            &dir,
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.usage_in_bytes", "1048576\n"),
                ("memory.max_usage_in_bytes", "2097152\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
                ),
                (
                    "memory.stat",
                    "cache 1\nrss 2\ntotal_cache 4096\ntotal_rss 8192\ntotal_mapped_file 0\n\
                     total_swap 0\ntotal_active_anon 8000\ntotal_inactive_anon 192\n\
                     total_active_file 96\ntotal_inactive_file 4000\n",
                ),
            ],
        );
        assert_eq!(mem.usage(&cg).unwrap().mem_limit_bytes, None, "unlimited");
        mem.apply(&cg, &limits(32 * MB)).unwrap();
        let limit = (32 * MB).to_string();
        assert_eq!(
            stdfs::read_to_string(dir.join("memory.limit_in_bytes")).unwrap(),
            limit
        );
        assert_eq!(
            stdfs::read_to_string(dir.join("memory.memsw.limit_in_bytes")).unwrap(),
            limit
        );

        let usage = mem.usage(&cg).unwrap();
        assert_eq!(usage.mem_limit_bytes, Some(32 * MB));
        assert_eq!(usage.mem_total_bytes, Some(MB));
        assert_eq!(usage.mem_peak_bytes, Some(2 * MB));
        assert_eq!(usage.mem_rss_bytes, Some(8192));
        assert_eq!(usage.mem_cache_bytes, Some(4096));
        assert_eq!(usage.mem_anon_bytes, Some(8192));
        assert_eq!(usage.mem_file_bytes, Some(4096));

        assert_eq!(mem.check(&cg), None);
        let watch = tokio::spawn(mem.watch(cg.clone()).unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!watch.is_finished());
        stdfs::write(dir.join("memory.max_usage_in_bytes"), (33 * MB).to_string()).unwrap();
        stdfs::write(
            dir.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        let hit = tokio::time::timeout(Duration::from_secs(5), watch)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(hit.kind, LimitationKind::Memory);
        assert!(
            hit.message
                .starts_with("Memory limit exceeded: Requested: 32MB Maximum Used: 33MB"),
            "{}",
            hit.message
        );
        assert!(hit.message.contains("total_rss 8192"), "{}", hit.message);
        assert_eq!(mem.check(&cg), Some(hit));

        // After a recovery the kills seen so far are not reported again.
        mem.recovered(&cg);
        assert_eq!(mem.check(&cg), None);
        mem.forget(&cg.id);
        assert!(mem.check(&cg).is_some());
    }

    #[tokio::test]
    async fn v2_limit_usage_and_oom() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = V2Backend::new(tmp.path(), [Controller::Memory]);
        let mem = Mem::new(Duration::from_millis(5));
        let cg = ContainerCgroup::new(&backend, &id(), mem.controllers());
        let dir = tmp.path().join("c");
        files(
            &dir,
            &[
                ("memory.max", "max\n"),
                ("memory.swap.max", "max\n"),
                ("memory.oom.group", "0\n"),
                ("memory.current", "1000\n"),
                ("memory.peak", "3000\n"),
                ("memory.swap.current", "0\n"),
                ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n"),
                ("memory.stat", "anon 600\nfile 400\nfile_mapped 100\n"),
            ],
        );
        mem.apply(&cg, &limits(64 * MB)).unwrap();
        assert_eq!(
            stdfs::read_to_string(dir.join("memory.max")).unwrap(),
            (64 * MB).to_string()
        );
        assert_eq!(
            stdfs::read_to_string(dir.join("memory.swap.max")).unwrap(),
            "0"
        );
        assert_eq!(
            stdfs::read_to_string(dir.join("memory.oom.group")).unwrap(),
            "1"
        );
        let usage = mem.usage(&cg).unwrap();
        assert_eq!(usage.mem_total_bytes, Some(1000));
        assert_eq!(usage.mem_peak_bytes, Some(3000));
        assert_eq!(usage.mem_rss_bytes, Some(600));
        assert_eq!(usage.mem_file_bytes, Some(400));
        assert_eq!(usage.mem_swap_bytes, Some(0));
        assert_eq!(usage.mem_limit_bytes, Some(64 * MB));

        assert_eq!(
            mem.check(&cg),
            None,
            "an `oom` event without a kill is not a limitation"
        );
        stdfs::write(dir.join("memory.events"), "oom 2\noom_kill 1\n").unwrap();
        let hit = tokio::time::timeout(Duration::from_secs(5), mem.watch(cg.clone()).unwrap())
            .await
            .unwrap();
        assert!(
            hit.message.contains("Requested: 64MB Maximum Used: 0MB"),
            "{}",
            hit.message
        );
        assert!(hit.message.contains("anon 600"), "{}", hit.message);

        // A destroyed cgroup never fires.
        stdfs::remove_dir_all(&dir).unwrap();
        assert_eq!(mem.check(&cg), None);
        let pending =
            tokio::time::timeout(Duration::from_millis(30), mem.watch(cg.clone()).unwrap()).await;
        assert!(pending.is_err());
    }
}
