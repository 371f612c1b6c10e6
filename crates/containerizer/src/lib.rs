//! corral-containerizer: the agent's edge to the operating system.
//!
//! The agent talks only to a [`Containerizer`], which drives one [`Launcher`] (starts and kills
//! process trees) and a list of [`Isolator`]s (cgroups, namespaces) through
//! each container's lifecycle: `launch` → `wait` → `destroy`, plus `usage`, `signal` and
//! `recover` after an agent restart.
//!
//! * [`PosixLauncher`]: real processes. Each container is a new session and process group
//!   (`setsid` before exec), optionally running as another user, with stdin from `/dev/null`
//!   and stdout/stderr appended to files in its sandbox.
//! * [`cgroups`]: the `cgroups/cpu`, `cgroups/mem` and `cgroups/pids` isolators for cgroup v1,
//!   v2 and hybrid hosts: limits, OOM detection, usage, and a destroy that kills every process
//!   of the container's cgroups, also those that left its session.
//! * [`PidNamespaceIsolator`] (`namespaces/pid`: own pid namespace with a reaping init and
//!   its own `/proc`) and [`PrivateTmpIsolator`] (`filesystem/tmp`: `/tmp` is the sandbox's).
//! * [`PosixUsageIsolator`] / [`ProcfsUsage`]: usage from `/proc` (`posix/*`), and the fallback
//!   on hosts without cgroups.
//! * [`build_isolators`] / [`Isolation`]: isolators by Mesos-like names
//!   (`cgroups/cpu,cgroups/mem,cgroups/pids,posix/usage`) for the detected [`CgroupMode`].
//! * [`image`]: container images (`docker/runtime` + `filesystem/linux`): a local puller for
//!   `docker save`/OCI archives with a layer cache, the `copy` provisioner with whiteouts,
//!   image configs, and [`RootfsPlan`](image::RootfsPlan) to enter a rootfs (`pivot_root`).
//! * [`gpu`]: `gpu/nvidia`: NVIDIA device detection, GPU allocation and the cgroup v1
//!   `devices` rules (not enforced on cgroup v2).
//! * [`rlimits`]: `posix/rlimits`: POSIX resource limits (`ContainerInfo.rlimit_info`) set in
//!   the child before exec.
//! * [`fake`]: [`FakeLauncher`](fake::FakeLauncher) and [`FakeIsolator`](fake::FakeIsolator)
//!   for unit tests of the agent, always compiled.
//!
//! # Process reaping
//!
//! The main process of each container is a child of the agent and is reaped by tokio. Processes
//! it leaves behind are reparented to init (PID 1), which reaps them. So the agent must not run
//! as PID 1 and must not be a child subreaper; in a container image, run it under an init such
//! as `tini`. Containers re-adopted by `recover` are not our children: their exit status cannot
//! be observed and is reported as [`ExitStatus::Unknown`]. Inside a pid namespace
//! (`namespaces/pid`) the namespace's own init reaps the task's orphans.
//!
//! # Unsafe code
//!
//! This is the only crate of Corral allowed `unsafe`, and only in the private `sys` module:
//! the pre-exec hook that runs between fork and exec (with the namespace setup and entering
//! an image's rootfs), and `pidfd_open`.

pub mod cgroups;
mod containerizer;
mod error;
pub mod fake;
pub mod gpu;
pub mod image;
mod isolation;
mod isolator;
mod launcher;
mod namespaces;
mod posix;
pub mod procfs;
pub mod rlimits;
mod spec;
mod sys;
mod usage;

pub use cgroups::{CgroupIsolator, CgroupMode, CgroupTree, CgroupsConfig};
pub use containerizer::{Containerizer, Termination};
pub use error::{
    ContainerError, ContainerizerError, IsolationError, IsolatorError, LaunchError, RecoverError,
    SpecError,
};
pub use isolation::{build_isolators, build_isolators_with, Isolation, IsolatorKind};
pub use isolator::{Isolator, Limitation, LimitationKind, RecoveredContainer};
pub use launcher::{
    BoxFuture, ExitStatus, GoneReason, KnownProcess, LaunchInfo, Launched, Launcher, Mount,
    PreExec, RecoverReport,
};
pub use namespaces::{PidNamespaceIsolator, PrivateTmpIsolator, SANDBOX_TMP};
/// rlimit resources for [`PreExec::SetRlimit`].
pub use nix::sys::resource::Resource;
/// Signals, re-exported so that callers need no direct `nix` dependency.
pub use nix::sys::signal::Signal;
pub use posix::{PosixLauncher, DEFAULT_KILL_TIMEOUT};
pub use rlimits::{PosixRlimitsIsolator, Rlimit, RlimitError, RlimitResource, RlimitValue};
pub use spec::{
    Command, ContainerId, ContainerImage, ImageTarget, LaunchSpec, ResourceLimits,
    MAX_CONTAINER_ID_LEN, SHELL,
};
pub use usage::{PosixUsageIsolator, ProcfsUsage, ResourceUsage};
