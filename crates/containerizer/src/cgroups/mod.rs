//! cgroup isolation for cgroup v1, v2 and hybrid hosts (Mesos's `cgroups/*` isolators).
//!
//! # Layout
//!
//! Every container gets `<root>/<container_id>` where `<root>` is `<mount>/<root_name>`
//! (`corral` by default, see [`CgroupsConfig::root_name`]): one directory per hierarchy on
//! cgroup v1 (one per mounted controller it needs, plus `freezer` and, on hybrid hosts, the
//! unified hierarchy, to track and kill all its processes), one directory on cgroup v2. The
//! cgroups are created in `prepare`, the child joins them before `exec` by writing `0` to each
//! `cgroup.procs` through a descriptor opened by the agent ([`PreExec::WriteFd`](crate::PreExec::WriteFd)), so nothing
//! the task forks can start outside them. `cleanup` kills whatever is still inside (including
//! processes that left the container's session with `setsid`) and removes them.
//!
//! # Pieces
//!
//! * [`CgroupMode`] ([`detect`](CgroupMode::detect)): which hierarchies the host has.
//! * [`CgroupBackend`]: where a container's cgroups are and how they are killed;
//!   [`V1Backend`] and [`V2Backend`] take root paths, so tests run against temporary
//!   directories holding fake control files.
//! * [`CgroupTree`]: the container cgroups shared by all cgroup isolators: create, join, kill,
//!   remove, recover and remove orphans.
//! * [`CgroupIsolator`]: one [`Isolator`](crate::Isolator) per controller concern
//!   (`cgroups/cpu`, `cgroups/mem`, `cgroups/pids`, and `cgroups/procs`, which only tracks and
//!   kills); build them with [`build_isolators`](crate::build_isolators).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::spec::ContainerId;

mod cpu;
mod detect;
mod fs;
mod isolator;
mod kill;
mod mem;
mod pids;
mod tree;
mod usage;
mod v1;
mod v2;

pub use detect::{CgroupMode, V1Hierarchy, V1Layout, V2Layout};
pub use isolator::CgroupIsolator;
pub use kill::KillMethod;
pub use tree::CgroupTree;
pub use v1::V1Backend;
pub use v2::V2Backend;

/// The controllers (v1 subsystems) the isolators use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Cpu,
    /// CPU accounting; on v2 `cpu.stat` is always present, without the `cpu` controller.
    CpuAcct,
    Memory,
    Pids,
    /// Freezing; on v2 `cgroup.freeze` is part of the core.
    Freezer,
}

impl Controller {
    pub const ALL: [Controller; 5] = [
        Controller::Cpu,
        Controller::CpuAcct,
        Controller::Memory,
        Controller::Pids,
        Controller::Freezer,
    ];

    /// The name of the v1 subsystem (and of its hierarchy's mount option).
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::CpuAcct => "cpuacct",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
        }
    }

    /// The name in v2's `cgroup.controllers`; `None` for what the v2 core provides.
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Cpu => Some("cpu"),
            Controller::Memory => Some("memory"),
            Controller::Pids => Some("pids"),
            Controller::CpuAcct | Controller::Freezer => None,
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.v1_name())
    }
}

/// cgroup v1 (one hierarchy per controller group) or v2 (one unified hierarchy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// Settings of the cgroup isolators (the agent's `--cgroups_*` flags).
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupsConfig {
    /// Directory under each hierarchy's mount that holds the container cgroups (Mesos's
    /// `--cgroups_root`, there `mesos`). Relative, may have several components.
    pub root_name: String,
    /// Enforce a hard CPU cap (CFS quota) from `cpus` besides the proportional share (Mesos's
    /// `--cgroups_enable_cfs`, default true here).
    pub enable_cfs: bool,
    /// `pids.max` for containers without [`ResourceLimits::pids`](crate::ResourceLimits).
    pub default_pids_max: u64,
    /// How often `cgroups/mem` looks at the OOM-kill counter of a running container.
    pub oom_poll_interval: Duration,
    /// How long destroying a cgroup keeps killing before giving up.
    pub kill_timeout: Duration,
}

/// Default [`CgroupsConfig::root_name`].
pub const DEFAULT_ROOT_NAME: &str = "corral";
/// Default [`CgroupsConfig::default_pids_max`].
pub const DEFAULT_PIDS_MAX: u64 = 4096;

impl Default for CgroupsConfig {
    fn default() -> Self {
        Self {
            root_name: DEFAULT_ROOT_NAME.to_owned(),
            enable_cfs: true,
            default_pids_max: DEFAULT_PIDS_MAX,
            oom_poll_interval: Duration::from_millis(200),
            kill_timeout: Duration::from_secs(10),
        }
    }
}

/// Where a container's cgroups live and how they are killed. Implementations take root
/// paths and do no I/O of their own beyond setup, so they work on fake trees.
pub trait CgroupBackend: Send + Sync + fmt::Debug {
    fn version(&self) -> CgroupVersion;

    /// Whether `controller`'s files exist in container cgroups.
    fn supports(&self, controller: Controller) -> bool;

    /// The container's cgroup holding `controller`'s files; `None` if not supported.
    fn dir(&self, controller: Controller, id: &ContainerId) -> Option<PathBuf>;

    /// Cgroups every container gets, whatever controllers its isolators use, to track and
    /// kill all its processes (v1: freezer and the unified hierarchy if mounted; v2: its cgroup).
    fn tracking_dirs(&self, id: &ContainerId) -> Vec<PathBuf>;

    /// Every cgroup the container can have, without duplicates.
    fn container_dirs(&self, id: &ContainerId) -> Vec<PathBuf>;

    /// The directories under which container cgroups are created.
    fn roots(&self) -> Vec<PathBuf>;

    /// How to kill everything in the container's cgroups.
    fn kill_method(&self, id: &ContainerId) -> KillMethod;
}

/// The container's cgroup directory per controller, as one isolator sees it.
#[derive(Debug, Clone)]
pub(crate) struct ContainerCgroup {
    pub id: ContainerId,
    pub version: CgroupVersion,
    dirs: Vec<(Controller, PathBuf)>,
    /// The backend's tracking cgroups of the container.
    pub tracking: Vec<PathBuf>,
}

impl ContainerCgroup {
    pub(crate) fn new(
        backend: &dyn CgroupBackend,
        id: &ContainerId,
        controllers: &[Controller],
    ) -> Self {
        let dirs = controllers
            .iter()
            .filter_map(|&c| backend.dir(c, id).map(|dir| (c, dir)))
            .collect();
        Self {
            id: id.clone(),
            version: backend.version(),
            dirs,
            tracking: backend.tracking_dirs(id),
        }
    }

    pub(crate) fn dir(&self, controller: Controller) -> Option<&std::path::Path> {
        self.dirs
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, dir)| dir.as_path())
    }

    /// Distinct directories, in controller order.
    pub(crate) fn dirs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for (_, dir) in &self.dirs {
            if !out.contains(dir) {
                out.push(dir.clone());
            }
        }
        out
    }
}
