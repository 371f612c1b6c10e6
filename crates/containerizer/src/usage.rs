//! Resource usage: [`ResourceUsage`] (what `/monitor/statistics` reports), [`ProcfsUsage`]
//! (summing `/proc/<pid>/stat` over a container's processes) and [`PosixUsageIsolator`], the
//! fallback isolator built on it (Mesos's `posix/cpu` and `posix/mem`). cgroup isolators
//! measure more precisely, including processes that already exited.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::unistd::{sysconf, SysconfVar};

use crate::error::IsolatorError;
use crate::isolator::{Isolator, RecoveredContainer};
use crate::launcher::{BoxFuture, LaunchInfo};
use crate::procfs::{self, ProcStat};
use crate::spec::{ContainerId, LaunchSpec};

/// Usage of one container (fields after Mesos's `ResourceStatistics`). Each field is `None`
/// when no isolator measures it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResourceUsage {
    pub cpu_user_secs: Option<f64>,
    pub cpu_system_secs: Option<f64>,
    pub cpus_limit: Option<f64>,
    /// CFS enforcement periods that elapsed, were throttled, and the total throttled time.
    pub cpus_nr_periods: Option<u64>,
    pub cpus_nr_throttled: Option<u64>,
    pub cpus_throttled_time_secs: Option<f64>,
    /// Resident anonymous memory (cgroups), or the sum of the processes' RSS (`/proc`).
    pub mem_rss_bytes: Option<u64>,
    pub mem_limit_bytes: Option<u64>,
    /// Memory charged to the container's cgroup, page cache included.
    pub mem_total_bytes: Option<u64>,
    /// Highest `mem_total_bytes` seen.
    pub mem_peak_bytes: Option<u64>,
    pub mem_cache_bytes: Option<u64>,
    pub mem_anon_bytes: Option<u64>,
    pub mem_file_bytes: Option<u64>,
    pub mem_mapped_file_bytes: Option<u64>,
    pub mem_swap_bytes: Option<u64>,
    pub processes: Option<u64>,
    pub threads: Option<u64>,
    /// Cap on processes plus threads.
    pub pids_limit: Option<u64>,
    /// Sandbox disk usage and quota (the agent's `disk/du` isolator).
    pub disk_used_bytes: Option<u64>,
    pub disk_limit_bytes: Option<u64>,
}

impl ResourceUsage {
    /// Fills the fields that are `None` in `self` from `other` (earlier isolators win).
    pub fn merge(&mut self, other: ResourceUsage) {
        macro_rules! fill {
            ($($field:ident),* $(,)?) => {
                $(self.$field = self.$field.or(other.$field);)*
            };
        }
        fill!(
            cpu_user_secs,
            cpu_system_secs,
            cpus_limit,
            cpus_nr_periods,
            cpus_nr_throttled,
            cpus_throttled_time_secs,
            mem_rss_bytes,
            mem_limit_bytes,
            mem_total_bytes,
            mem_peak_bytes,
            mem_cache_bytes,
            mem_anon_bytes,
            mem_file_bytes,
            mem_mapped_file_bytes,
            mem_swap_bytes,
            processes,
            threads,
            pids_limit,
            disk_used_bytes,
            disk_limit_bytes,
        );
    }
}

/// Sums usage over processes found in a proc root.
///
/// CPU time is user+system time of each live process plus that of its waited-for children
/// (`cutime`/`cstime`), so work of short-lived children that were reaped inside the container
/// counts; work of processes reaped outside it (e.g. orphans reaped by init) is lost.
#[derive(Debug, Clone)]
pub struct ProcfsUsage {
    proc_root: PathBuf,
    clock_ticks: u64,
    page_size: u64,
}

impl Default for ProcfsUsage {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcfsUsage {
    /// Reads `/proc` with the host's clock tick rate and page size.
    pub fn new() -> Self {
        let var = |v, default: u64| match sysconf(v) {
            Ok(Some(n)) if n > 0 => u64::try_from(n).unwrap_or(default),
            _ => default,
        };
        Self::with_proc_root(
            "/proc",
            var(SysconfVar::CLK_TCK, 100),
            var(SysconfVar::PAGE_SIZE, 4096),
        )
    }

    /// Reads another proc root (tests point it at fixture files).
    pub fn with_proc_root(proc_root: impl Into<PathBuf>, clock_ticks: u64, page_size: u64) -> Self {
        Self {
            proc_root: proc_root.into(),
            clock_ticks: clock_ticks.max(1),
            page_size,
        }
    }

    pub fn proc_root(&self) -> &Path {
        &self.proc_root
    }

    /// Usage of every live process in session `sid` or process group `sid`: a container's
    /// processes, including orphans that init adopted.
    pub fn session_usage(&self, sid: u32) -> io::Result<ResourceUsage> {
        let stats = procfs::scan(&self.proc_root)?;
        Ok(self.sum(&procfs::live_members(&stats, sid, sid)))
    }

    /// Usage of `pid` and its live descendants (found through parent pids).
    pub fn tree_usage(&self, pid: u32) -> io::Result<ResourceUsage> {
        let stats = procfs::scan(&self.proc_root)?;
        let mut tree: Vec<ProcStat> = stats.iter().filter(|s| s.pid == pid).copied().collect();
        let mut next = 0;
        while next < tree.len() {
            let parent = tree[next].pid;
            tree.extend(
                stats
                    .iter()
                    .filter(|s| s.ppid == parent && s.pid != pid)
                    .copied(),
            );
            next += 1;
        }
        tree.retain(|s| !s.is_dead());
        Ok(self.sum(&tree))
    }

    fn sum(&self, stats: &[ProcStat]) -> ResourceUsage {
        let ticks = self.clock_ticks as f64;
        let (mut user, mut system, mut rss, mut threads) = (0u64, 0u64, 0u64, 0u64);
        for s in stats {
            user = user.saturating_add(s.utime).saturating_add(s.cutime);
            system = system.saturating_add(s.stime).saturating_add(s.cstime);
            rss = rss.saturating_add(s.rss_pages.saturating_mul(self.page_size));
            threads = threads.saturating_add(s.num_threads);
        }
        ResourceUsage {
            cpu_user_secs: Some(user as f64 / ticks),
            cpu_system_secs: Some(system as f64 / ticks),
            mem_rss_bytes: Some(rss),
            processes: Some(stats.len() as u64),
            threads: Some(threads),
            ..ResourceUsage::default()
        }
    }
}

/// Reports usage from `/proc` for containers of a launcher that puts each container in its own
/// session (the [`PosixLauncher`](crate::PosixLauncher)). Enforces nothing.
#[derive(Debug, Default)]
pub struct PosixUsageIsolator {
    procfs: ProcfsUsage,
    containers: Mutex<HashMap<ContainerId, Tracked>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tracked {
    pid: Option<u32>,
    cpus_limit: Option<f64>,
    mem_limit_bytes: Option<u64>,
}

impl PosixUsageIsolator {
    pub fn new(procfs: ProcfsUsage) -> Self {
        Self {
            procfs,
            containers: Mutex::new(HashMap::new()),
        }
    }

    fn containers(&self) -> MutexGuard<'_, HashMap<ContainerId, Tracked>> {
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Isolator for PosixUsageIsolator {
    fn name(&self) -> &'static str {
        "posix/usage"
    }

    fn recover<'a>(
        &'a self,
        containers: &'a [RecoveredContainer],
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        let mut tracked = self.containers();
        for c in containers {
            tracked.entry(c.container_id.clone()).or_default().pid = Some(c.pid);
        }
        Box::pin(async { Ok(()) })
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        self.containers().insert(
            spec.container_id.clone(),
            Tracked {
                pid: None,
                cpus_limit: spec.resources.cpus,
                mem_limit_bytes: spec.resources.mem_bytes,
            },
        );
        Box::pin(async { Ok(LaunchInfo::default()) })
    }

    fn isolate<'a>(
        &'a self,
        id: &'a ContainerId,
        pid: u32,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        self.containers().entry(id.clone()).or_default().pid = Some(pid);
        Box::pin(async { Ok(()) })
    }

    fn usage<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ResourceUsage, IsolatorError>> {
        let tracked = self.containers().get(id).copied();
        Box::pin(async move {
            let tracked = tracked.ok_or_else(|| IsolatorError::UnknownContainer(id.clone()))?;
            let mut usage = match tracked.pid {
                Some(pid) => {
                    self.procfs
                        .session_usage(pid)
                        .map_err(|source| IsolatorError::Io {
                            path: self.procfs.proc_root.clone(),
                            source,
                        })?
                }
                None => ResourceUsage::default(),
            };
            usage.cpus_limit = tracked.cpus_limit;
            usage.mem_limit_bytes = tracked.mem_limit_bytes;
            Ok(usage)
        })
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        self.containers().remove(id);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// Writes a fixture process: (pid, ppid, session, state, utime, stime, cutime, threads, rss).
    fn fixture(root: &Path, p: (u32, u32, u32, char, u64, u64, u64, u64, u64)) {
        let (pid, ppid, sid, state, utime, stime, cutime, threads, rss) = p;
        let dir = root.join(pid.to_string());
        fs::create_dir(&dir).unwrap();
        let stat = format!(
            "{pid} (w) {state} {ppid} {sid} {sid} 0 -1 0 0 0 0 0 {utime} {stime} {cutime} 0 20 0 \
             {threads} 0 1000 0 {rss} 0\n"
        );
        fs::write(dir.join("stat"), stat).unwrap();
    }

    #[test]
    fn sums_session_and_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fixture(root, (100, 1, 100, 'S', 100, 50, 10, 1, 10));
        fixture(root, (101, 100, 100, 'R', 200, 0, 0, 4, 20));
        fixture(root, (102, 1, 100, 'S', 100, 0, 0, 1, 5)); // orphan in the session
        fixture(root, (103, 100, 100, 'Z', 999, 999, 0, 1, 0)); // zombie: ignored
        fixture(root, (200, 1, 200, 'S', 7, 7, 0, 1, 1)); // another container
        let usage = ProcfsUsage::with_proc_root(root, 100, 4096);

        let s = usage.session_usage(100).unwrap();
        assert_eq!(s.cpu_user_secs, Some(4.1));
        assert_eq!(s.cpu_system_secs, Some(0.5));
        assert_eq!(s.mem_rss_bytes, Some(35 * 4096));
        assert_eq!(s.processes, Some(3));
        assert_eq!(s.threads, Some(6));

        let t = usage.tree_usage(100).unwrap();
        assert_eq!(t.processes, Some(2));
        assert_eq!(t.cpu_user_secs, Some(3.1));
    }

    #[test]
    fn merge_prefers_first() {
        let mut a = ResourceUsage {
            mem_rss_bytes: Some(1),
            ..ResourceUsage::default()
        };
        a.merge(ResourceUsage {
            mem_rss_bytes: Some(2),
            threads: Some(3),
            ..ResourceUsage::default()
        });
        assert_eq!(a.mem_rss_bytes, Some(1));
        assert_eq!(a.threads, Some(3));
    }
}
