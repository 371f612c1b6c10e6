//! The [`Isolator`] trait, in the spirit of Mesos's `mesos::slave::Isolator`: each isolator
//! owns one resource or namespace (cgroups cpu/memory/pids, network, volumes, …) and takes
//! part in every container's lifecycle. All methods have no-op defaults, so an isolator only
//! implements what it needs.
//!
//! Lifecycle driven by the [`Containerizer`](crate::Containerizer), for each isolator in order:
//!
//! 1. [`prepare`](Isolator::prepare) before the process exists; may return a [`LaunchInfo`]
//!    with environment variables and [`PreExec`](crate::PreExec) actions that the launcher runs
//!    in the child before exec (e.g. join a cgroup, set rlimits);
//! 2. [`isolate`](Isolator::isolate) once the pid is known;
//! 3. [`watch_limitation`](Isolator::watch_limitation): a future that resolves if the container
//!    hits a limit (OOM, pids), after which the containerizer kills it; when the main process
//!    ends without one, [`check_limitation`](Isolator::check_limitation) is asked once;
//! 4. [`usage`](Isolator::usage) on demand, and [`update`](Isolator::update) when the
//!    container's resources change (a task joins or leaves a running executor);
//! 5. [`cleanup`](Isolator::cleanup) after the launcher's processes are gone, in reverse
//!    order; an isolator that tracks processes itself (cgroups) kills what is left first.
//!
//! After an agent restart, [`recover`](Isolator::recover) gets the re-adopted containers and
//! `cleanup` is called for the ones that are gone.

use std::fmt;

use crate::error::IsolatorError;
use crate::launcher::{BoxFuture, LaunchInfo};
use crate::spec::{ContainerId, LaunchSpec, ResourceLimits};
use crate::usage::ResourceUsage;

/// A container re-adopted after an agent restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredContainer {
    pub container_id: ContainerId,
    pub pid: u32,
}

/// Which limit a container hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitationKind {
    Memory,
    Cpu,
    Pids,
    Disk,
    Other,
}

/// A container exceeded a limit and was (or is being) killed (Mesos's `ContainerLimitation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limitation {
    pub kind: LimitationKind,
    /// For the task status message, e.g. "Memory limit exceeded: requested 64MB, used 65MB".
    pub message: String,
}

impl fmt::Display for Limitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} limitation: {}", self.kind, self.message)
    }
}

/// One isolation concern. See the module docs for the lifecycle.
pub trait Isolator: Send + Sync {
    /// Short name for logs and errors, e.g. `cgroups/mem` (Mesos's isolator names).
    fn name(&self) -> &'static str;

    /// Re-adopts state for containers that survived an agent restart.
    fn recover<'a>(
        &'a self,
        containers: &'a [RecoveredContainer],
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        let _ = containers;
        Box::pin(async { Ok(()) })
    }

    /// Prepares for a container before its process is started.
    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        let _ = spec;
        Box::pin(async { Ok(LaunchInfo::default()) })
    }

    /// Isolates the started process `pid`.
    fn isolate<'a>(
        &'a self,
        id: &'a ContainerId,
        pid: u32,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        let _ = (id, pid);
        Box::pin(async { Ok(()) })
    }

    /// A future that resolves if the container hits a limit this isolator enforces; `None`
    /// if it enforces none. Called once per container after `isolate` or `recover`.
    fn watch_limitation(&self, id: &ContainerId) -> Option<BoxFuture<'static, Limitation>> {
        let _ = id;
        None
    }

    /// The limit the container has hit, if any, judged now. The containerizer asks when the
    /// main process has ended and no watcher reported a limitation, because the limit may be
    /// what ended it (the OOM killer) before the watcher looked.
    fn check_limitation(&self, id: &ContainerId) -> Option<Limitation> {
        let _ = id;
        None
    }

    /// Resource usage as far as this isolator knows it; fields it does not measure are `None`.
    fn usage<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ResourceUsage, IsolatorError>> {
        let _ = id;
        Box::pin(async { Ok(ResourceUsage::default()) })
    }

    /// Applies new limits to a running container (Mesos's `Isolator::update`). An isolator
    /// may keep a limit it cannot lower safely (a memory hard limit below usage would invoke
    /// the OOM killer); it must accept an unknown container.
    fn update<'a>(
        &'a self,
        id: &'a ContainerId,
        limits: &'a ResourceLimits,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        let _ = (id, limits);
        Box::pin(async { Ok(()) })
    }

    /// Releases everything held for the container. Called after its processes are gone; must
    /// succeed for an unknown container (cleanup may be retried, or follow a failed prepare).
    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        let _ = id;
        Box::pin(async { Ok(()) })
    }
}

/// Lets an isolator be shared, e.g. kept by a test or an HTTP handler while the
/// containerizer owns a clone.
impl<T: Isolator + ?Sized> Isolator for std::sync::Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn recover<'a>(
        &'a self,
        containers: &'a [RecoveredContainer],
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        (**self).recover(containers)
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        (**self).prepare(spec)
    }

    fn isolate<'a>(
        &'a self,
        id: &'a ContainerId,
        pid: u32,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        (**self).isolate(id, pid)
    }

    fn watch_limitation(&self, id: &ContainerId) -> Option<BoxFuture<'static, Limitation>> {
        (**self).watch_limitation(id)
    }

    fn check_limitation(&self, id: &ContainerId) -> Option<Limitation> {
        (**self).check_limitation(id)
    }

    fn usage<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ResourceUsage, IsolatorError>> {
        (**self).usage(id)
    }

    fn update<'a>(
        &'a self,
        id: &'a ContainerId,
        limits: &'a ResourceLimits,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        (**self).update(id, limits)
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        (**self).cleanup(id)
    }
}
