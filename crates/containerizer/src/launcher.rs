//! The [`Launcher`] trait: start, watch, signal, destroy and re-adopt the process tree of a
//! container. Implementations: [`PosixLauncher`](crate::PosixLauncher) (real processes) and
//! [`FakeLauncher`](crate::fake::FakeLauncher) (tests).
//!
//! All async operations return [`BoxFuture`]s so that the traits stay object-safe
//! (`Arc<dyn Launcher>`, `Box<dyn Isolator>`) without an `async_trait` dependency.

use std::ffi::{CStr, CString};
use std::fmt;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use nix::mount::MsFlags;
use nix::sys::resource::Resource;
use nix::sys::signal::Signal;

use crate::error::{ContainerError, LaunchError, RecoverError, SpecError};
use crate::spec::{ContainerId, LaunchSpec};

/// A boxed, `Send` future borrowing from `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a container's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// Exited normally with this code.
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
    /// The process ended but its status cannot be known: it was adopted by
    /// [`Launcher::recover`] and is not our child, so another process reaped it.
    Unknown,
}

impl ExitStatus {
    /// `true` for `Exited(0)`.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Exited(0))
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Exited(code),
            (None, Some(signal)) => ExitStatus::Signaled(signal),
            (None, None) => ExitStatus::Unknown,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signaled(signal) => match Signal::try_from(*signal) {
                Ok(name) => write!(f, "killed by {name}"),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            ExitStatus::Unknown => f.write_str("exited with unknown status"),
        }
    }
}

/// A started container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    /// Pid of the main process; also the container's process group and session id.
    pub pid: u32,
    /// Start time of the main process (`/proc/<pid>/stat` field 22, clock ticks since boot).
    /// Checkpoint it with the pid and pass it back in [`KnownProcess`] so that recovery does
    /// not adopt an unrelated process that reused the pid. `None` if it could not be read.
    pub start_time: Option<u64>,
}

/// A container the agent checkpointed before it restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownProcess {
    pub container_id: ContainerId,
    pub pid: u32,
    /// From [`Launched::start_time`]; when given, a process with another start time is not
    /// adopted.
    pub start_time: Option<u64>,
}

/// Outcome of [`Launcher::recover`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoverReport {
    /// Containers that are known again: wait, signal and destroy work on them. Their main
    /// process may already have exited (then `wait` returns at once) while other processes
    /// of the session remain for `destroy` to kill.
    pub adopted: Vec<ContainerId>,
    /// Containers of which nothing is left (or that cannot be safely adopted).
    pub gone: Vec<(ContainerId, GoneReason)>,
}

/// Why [`Launcher::recover`] did not adopt a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    /// No process of the container is left.
    NotFound,
    /// The pid now belongs to a process with another start time.
    PidReused,
    /// The pid is not a session leader, so it was not started by this launcher; its session
    /// is not ours to signal.
    NotSessionLeader,
    /// The pid is invalid (0, 1, or the agent's own process, group or session).
    InvalidPid,
}

/// Extra launch instructions contributed by isolators (Mesos's `ContainerLaunchInfo`).
#[derive(Debug, Clone, Default)]
pub struct LaunchInfo {
    /// Added to the environment after [`LaunchSpec::env`], so isolators win on conflicts.
    pub env: Vec<(String, String)>,
    /// Run in the child after `setsid` and before dropping privileges and `exec`, in order.
    pub pre_exec: Vec<PreExec>,
}

impl LaunchInfo {
    /// Appends `other` (later isolators come after earlier ones).
    pub fn merge(&mut self, other: LaunchInfo) {
        self.env.extend(other.env);
        self.pre_exec.extend(other.pre_exec);
    }
}

/// An action the launcher performs in the child between fork and exec. Only async-signal-safe
/// system calls can run there, so the set is closed and each variant is plain data prepared
/// in the agent.
#[derive(Debug, Clone)]
pub enum PreExec {
    /// `setrlimit(resource, soft, hard)`.
    SetRlimit {
        resource: Resource,
        soft: u64,
        hard: u64,
    },
    /// Write `bytes` to a file descriptor opened by the isolator in the agent. Writing `0` to
    /// a cgroup's `cgroup.procs` moves the child into the cgroup before it runs any user code,
    /// so that nothing it forks can escape the cgroup.
    WriteFd { fd: Arc<OwnedFd>, bytes: Vec<u8> },
    /// Run the rest of the setup and the program as PID 2 of a new pid namespace, under an
    /// init (PID 1) that reaps orphans. The launcher's process stays outside as a relay that
    /// ends with the program's status (exit code, or death by the same signal); when the
    /// program ends, init exits and the kernel kills what is left in the namespace. Put it
    /// after the cgroup joins, so that all three processes are in the container's cgroups.
    PidNamespace,
    /// Unshare the mount namespace, make every mount private (nothing propagates back to the
    /// host), then mount these in order.
    PrivateMounts { mounts: Vec<Mount> },
    /// Enter a provisioned image rootfs (own mount namespace, sandbox at
    /// `/mnt/mesos/sandbox`, `/proc`, minimal `/dev`, `pivot_root`); see
    /// [`RootfsPlan`](crate::image::RootfsPlan). Put it last.
    EnterRootfs(crate::image::RootfsPlan),
}

/// A mount for [`PreExec::PrivateMounts`], prepared (as C strings) in the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub(crate) source: CString,
    pub(crate) target: CString,
    pub(crate) fstype: Option<CString>,
    pub(crate) flags: MsFlags,
}

impl Mount {
    /// Recursive bind mount of `source` on `target`.
    pub fn bind(source: &Path, target: &Path) -> Result<Self, SpecError> {
        Ok(Self {
            source: c_path("mount source", source)?,
            target: c_path("mount target", target)?,
            fstype: None,
            flags: MsFlags::MS_BIND | MsFlags::MS_REC,
        })
    }

    /// A fresh `proc` on `/proc`, which shows the pid namespace of the process mounting it.
    pub fn proc() -> Self {
        Self {
            source: c"proc".to_owned(),
            target: c"/proc".to_owned(),
            fstype: Some(c"proc".to_owned()),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        }
    }

    pub fn target(&self) -> &CStr {
        &self.target
    }
}

fn c_path(field: &'static str, path: &Path) -> Result<CString, SpecError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SpecError::NulByte { field })
}

/// Starts and controls container processes.
///
/// Every container runs in its own session and process group whose id is the main process's
/// pid. Signals and destroy act on the whole group and on every other process of the session,
/// so a process that only changed its process group is still reached; a process that started
/// a new session escapes (only a cgroup isolator can catch it).
pub trait Launcher: Send + Sync {
    /// Starts the container. Fails with [`LaunchError::AlreadyExists`] if the id is known.
    fn launch<'a>(
        &'a self,
        spec: &'a LaunchSpec,
        info: &'a LaunchInfo,
    ) -> BoxFuture<'a, Result<Launched, LaunchError>>;

    /// Resolves when the main process has ended. Any number of callers may wait on the same
    /// container, and waiting again after the end returns the same status until
    /// [`destroy`](Launcher::destroy) forgets the container.
    fn wait<'a>(&'a self, id: &'a ContainerId)
        -> BoxFuture<'a, Result<ExitStatus, ContainerError>>;

    /// Sends `signal` to every process of the container. [`ContainerError::NotRunning`] if
    /// none is left.
    fn signal<'a>(
        &'a self,
        id: &'a ContainerId,
        signal: Signal,
    ) -> BoxFuture<'a, Result<(), ContainerError>>;

    /// Stops the container: SIGTERM (and SIGCONT, so stopped processes see it) to all its
    /// processes, up to `grace` for them to exit, then SIGKILL until none is left. Then forgets
    /// the container and returns the main process's status. A zero `grace` kills at once.
    fn destroy<'a>(
        &'a self,
        id: &'a ContainerId,
        grace: Duration,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>>;

    /// Re-adopts containers started before an agent restart, typically by another launcher
    /// instance in another process. Already known ids are reported as adopted.
    fn recover(
        &self,
        known: Vec<KnownProcess>,
    ) -> BoxFuture<'_, Result<RecoverReport, RecoverError>>;

    /// The containers this launcher knows about (running or ended but not yet destroyed).
    fn containers(&self) -> Vec<ContainerId>;
}
