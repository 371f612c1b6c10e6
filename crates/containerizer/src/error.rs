//! Error types, one enum per kind of operation. Each variant carries the context a caller needs
//! to decide what to do (and what to tell the framework).

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::spec::ContainerId;

/// A [`LaunchSpec`](crate::LaunchSpec) that cannot be launched as written.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidContainerId { id: String, reason: &'static str },
    #[error("the program to execute is empty")]
    EmptyProgram,
    #[error("{field} contains a NUL byte")]
    NulByte { field: &'static str },
    #[error("invalid environment variable name {name:?}")]
    InvalidEnvName { name: String },
    #[error("working directory {} is not an absolute path", path.display())]
    WorkingDirNotAbsolute { path: PathBuf },
    #[error("{field} {} must be a relative path inside the sandbox", path.display())]
    OutsideSandbox { field: &'static str, path: PathBuf },
    #[error("user name is empty")]
    EmptyUser,
    #[error("invalid resource limit {resource}: {reason}")]
    InvalidResource {
        resource: &'static str,
        reason: &'static str,
    },
    #[error("invalid container image: {0}")]
    InvalidImage(String),
    /// An invalid POSIX resource limit (`ContainerInfo.rlimit_info`).
    #[error(transparent)]
    InvalidRlimit(#[from] crate::rlimits::RlimitError),
}

/// Why a launch failed. A failed launch leaves no process and no container entry behind.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("invalid launch spec: {0}")]
    InvalidSpec(#[from] SpecError),
    #[error("container {0} already exists")]
    AlreadyExists(ContainerId),
    #[error("unknown user {user:?}")]
    UnknownUser { user: String },
    #[error("failed to look up user {user:?}: {source}")]
    UserLookup {
        user: String,
        #[source]
        source: Errno,
    },
    #[error("sandbox {}: {source}", path.display())]
    WorkingDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open output file {}: {source}", path.display())]
    OpenOutput {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An output path that the launcher refuses to open (it could make the agent write
    /// somewhere else than the sandbox).
    #[error("refusing output file {}: {reason}", path.display())]
    UnsafeOutput { path: PathBuf, reason: &'static str },
    /// fork/exec failed, including failures of the pre-exec setup in the child (setsid,
    /// setuid, isolator actions) and a program that does not exist.
    #[error("failed to spawn {program:?}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// Errors of operations on an existing container (wait, signal, destroy).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("unknown container {0}")]
    UnknownContainer(ContainerId),
    /// No process of the container is left to receive a signal.
    #[error("container {0} has no running process")]
    NotRunning(ContainerId),
    #[error("failed to send {signal} to container {id}: {source}")]
    Signal {
        id: ContainerId,
        signal: Signal,
        #[source]
        source: Errno,
    },
    /// Processes survived SIGKILL for the whole kill timeout (for example stuck in
    /// uninterruptible sleep). The container stays known so that destroy can be retried.
    #[error("container {id}: processes {remaining:?} survived SIGKILL")]
    DestroyIncomplete {
        id: ContainerId,
        remaining: Vec<u32>,
    },
    /// The task watching the container's process went away (the runtime is shutting down).
    #[error("container {0}: the process watcher stopped before the process exited")]
    WaitAborted(ContainerId),
    #[error("container {id}: reading /proc failed: {source}")]
    Procfs {
        id: ContainerId,
        #[source]
        source: io::Error,
    },
}

/// Recovery failed as a whole (individual containers that are gone are reported, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("reading {} failed: {source}", path.display())]
    Procfs {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An isolator failed. Isolators with richer failures add variants here.
#[derive(Debug, thiserror::Error)]
pub enum IsolatorError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{op} failed: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: Errno,
    },
    #[error("unknown container {0}")]
    UnknownContainer(ContainerId),
    #[error("{what} is not supported on this host")]
    Unsupported { what: &'static str },
    /// The container's image could not be pulled or provisioned.
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// No GPU is free for the container (`gpu/nvidia`).
    #[error("{requested} GPUs requested, {free} free")]
    GpusUnavailable { requested: u32, free: u32 },
    /// Resource limits that cannot be set (`posix/rlimits`).
    #[error(transparent)]
    Rlimit(#[from] crate::rlimits::RlimitError),
    /// Processes of the container's cgroups survived the kill timeout (e.g. stuck in
    /// uninterruptible sleep). The cgroups stay; cleanup can be retried.
    #[error("container {id}: processes {remaining:?} survived the cgroup kill")]
    DestroyIncomplete {
        id: ContainerId,
        remaining: Vec<u32>,
    },
}

/// The `--isolation` list cannot be turned into isolators.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    #[error("unknown isolator {name:?} (known: {known})")]
    UnknownIsolator { name: String, known: String },
    #[error("cannot set up {isolator}: {source}")]
    Setup {
        isolator: &'static str,
        #[source]
        source: IsolatorError,
    },
}

/// Errors of the [`Containerizer`](crate::Containerizer), the only type the agent talks to.
#[derive(Debug, thiserror::Error)]
pub enum ContainerizerError {
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Recover(#[from] RecoverError),
    #[error("container {0} already exists")]
    AlreadyExists(ContainerId),
    #[error("unknown container {0}")]
    UnknownContainer(ContainerId),
    #[error("isolator {isolator} failed to {op} container {id}: {source}")]
    Isolator {
        isolator: &'static str,
        op: &'static str,
        id: ContainerId,
        #[source]
        source: IsolatorError,
    },
    #[error("isolator {isolator} failed to recover: {source}")]
    IsolatorRecover {
        isolator: &'static str,
        #[source]
        source: IsolatorError,
    },
}
