//! [`Containerizer`]: a [`Launcher`] plus a list of [`Isolator`]s, driven through the
//! container lifecycle. This is the only type the agent talks to.
//!
//! Do not drop a `launch` or `destroy` future before it completes: the isolator steps are not
//! undone on cancellation. `wait` futures may be dropped freely.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::task::JoinHandle;

use crate::error::{ContainerError, ContainerizerError, LaunchError};
use crate::isolator::{Isolator, Limitation, RecoveredContainer};
use crate::launcher::{ExitStatus, KnownProcess, LaunchInfo, Launched, Launcher, RecoverReport};
use crate::spec::{ContainerId, LaunchSpec, ResourceLimits};
use crate::usage::ResourceUsage;

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Status of the container's main process.
    pub status: ExitStatus,
    /// Set when an isolator reported a limit and the container was killed for it.
    pub limitation: Option<Limitation>,
}

/// Composes a launcher and isolators. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Containerizer {
    inner: Arc<Inner>,
}

struct Inner {
    launcher: Arc<dyn Launcher>,
    isolators: Vec<Box<dyn Isolator>>,
    containers: Mutex<HashMap<ContainerId, Tracked>>,
}

#[derive(Default)]
struct Tracked {
    /// The first limitation reported by any isolator.
    limitation: Arc<OnceLock<Limitation>>,
    watchers: Vec<JoinHandle<()>>,
    /// Set once the launcher destroyed the container, so that a destroy retried after a
    /// failed cleanup still returns the status.
    terminated: Option<ExitStatus>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let containers = self
            .containers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for tracked in containers.values() {
            tracked.watchers.iter().for_each(JoinHandle::abort);
        }
    }
}

impl std::fmt::Debug for Containerizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.inner.isolators.iter().map(|i| i.name()).collect();
        f.debug_struct("Containerizer")
            .field("isolators", &names)
            .field("containers", &self.containers())
            .finish()
    }
}

impl Containerizer {
    /// Isolators run in the given order (cleanup in reverse).
    pub fn new(launcher: Arc<dyn Launcher>, isolators: Vec<Box<dyn Isolator>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                launcher,
                isolators,
                containers: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn tracked(&self) -> MutexGuard<'_, HashMap<ContainerId, Tracked>> {
        self.inner
            .containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn ensure_known(&self, id: &ContainerId) -> Result<(), ContainerizerError> {
        if self.tracked().contains_key(id) {
            Ok(())
        } else {
            Err(ContainerizerError::UnknownContainer(id.clone()))
        }
    }

    /// The containers known (launched or recovered and not yet destroyed).
    pub fn containers(&self) -> Vec<ContainerId> {
        self.tracked().keys().cloned().collect()
    }

    /// Prepares the isolators, launches, isolates and starts watching for limitations. On
    /// failure everything done so far is undone.
    pub async fn launch(&self, spec: &LaunchSpec) -> Result<Launched, ContainerizerError> {
        spec.validate().map_err(LaunchError::from)?;
        let id = &spec.container_id;
        {
            let mut tracked = self.tracked();
            if tracked.contains_key(id) {
                return Err(ContainerizerError::AlreadyExists(id.clone()));
            }
            tracked.insert(id.clone(), Tracked::default());
        }
        let result = self.launch_tracked(spec).await;
        if let Err(error) = &result {
            tracing::warn!(container_id = %id, %error, "launch failed");
            self.tracked().remove(id);
        }
        result
    }

    async fn launch_tracked(&self, spec: &LaunchSpec) -> Result<Launched, ContainerizerError> {
        let id = &spec.container_id;
        if spec.image.is_some()
            && !self
                .inner
                .isolators
                .iter()
                .any(|i| i.name() == "docker/runtime")
        {
            return Err(ContainerizerError::Isolator {
                isolator: "docker/runtime",
                op: "prepare",
                id: id.clone(),
                source: crate::error::IsolatorError::Unsupported {
                    what: "container images without --image_providers=docker and the docker/runtime isolator",
                },
            });
        }
        let mut info = LaunchInfo::default();
        for isolator in &self.inner.isolators {
            match isolator.prepare(spec).await {
                Ok(more) => info.merge(more),
                Err(source) => {
                    self.cleanup_quietly(id).await;
                    return Err(isolator_error(isolator.as_ref(), "prepare", id, source));
                }
            }
        }
        let launched = match self.inner.launcher.launch(spec, &info).await {
            Ok(launched) => launched,
            Err(error) => {
                self.cleanup_quietly(id).await;
                return Err(error.into());
            }
        };
        for isolator in &self.inner.isolators {
            if let Err(source) = isolator.isolate(id, launched.pid).await {
                if let Err(error) = self.inner.launcher.destroy(id, Duration::ZERO).await {
                    tracing::error!(container_id = %id, %error, "destroy after failed isolate failed");
                }
                self.cleanup_quietly(id).await;
                return Err(isolator_error(isolator.as_ref(), "isolate", id, source));
            }
        }
        self.start_watchers(id);
        Ok(launched)
    }

    /// Resolves when the container's main process has ended.
    pub async fn wait(&self, id: &ContainerId) -> Result<Termination, ContainerizerError> {
        let limitation = match self.tracked().get(id) {
            Some(tracked) => Arc::clone(&tracked.limitation),
            None => return Err(ContainerizerError::UnknownContainer(id.clone())),
        };
        let status = self.inner.launcher.wait(id).await?;
        self.check_limitations(id, &limitation);
        Ok(Termination {
            status,
            limitation: limitation.get().cloned(),
        })
    }

    /// Sends `signal` to all processes of the container.
    pub async fn signal(&self, id: &ContainerId, signal: Signal) -> Result<(), ContainerizerError> {
        self.ensure_known(id)?;
        Ok(self.inner.launcher.signal(id, signal).await?)
    }

    /// Kills the container (see [`Launcher::destroy`]), cleans up the isolators and forgets it.
    /// Isolators that track processes themselves kill what the launcher could not reach in
    /// their cleanup: with cgroup isolators, processes that left the container's session
    /// (`setsid`) die too. If cleanup fails the container stays known and destroy can be
    /// retried.
    pub async fn destroy(
        &self,
        id: &ContainerId,
        grace: Duration,
    ) -> Result<Termination, ContainerizerError> {
        let (limitation, terminated) = {
            let mut tracked = self.tracked();
            let Some(t) = tracked.get_mut(id) else {
                return Err(ContainerizerError::UnknownContainer(id.clone()));
            };
            t.watchers.drain(..).for_each(|w| w.abort());
            (Arc::clone(&t.limitation), t.terminated)
        };
        let status = match terminated {
            Some(status) => status,
            None => match self.inner.launcher.destroy(id, grace).await {
                Ok(status) => status,
                // The launcher no longer knows it (e.g. recovery found nothing left).
                Err(ContainerError::UnknownContainer(_)) => ExitStatus::Unknown,
                Err(error) => return Err(error.into()),
            },
        };
        if let Some(t) = self.tracked().get_mut(id) {
            t.terminated = Some(status);
        }
        self.check_limitations(id, &limitation);
        self.cleanup(id).await?;
        self.tracked().remove(id);
        Ok(Termination {
            status,
            limitation: limitation.get().cloned(),
        })
    }

    /// Usage merged over the isolators (earlier isolators win per field).
    pub async fn usage(&self, id: &ContainerId) -> Result<ResourceUsage, ContainerizerError> {
        self.ensure_known(id)?;
        let mut usage = ResourceUsage::default();
        for isolator in &self.inner.isolators {
            let more = isolator
                .usage(id)
                .await
                .map_err(|source| isolator_error(isolator.as_ref(), "measure", id, source))?;
            usage.merge(more);
        }
        Ok(usage)
    }

    /// Applies new resource limits to a running container, e.g. when a task joins or leaves
    /// an executor (Mesos's `Containerizer::update`). Every isolator is asked even if one
    /// fails; the first failure is returned.
    pub async fn update(
        &self,
        id: &ContainerId,
        limits: &ResourceLimits,
    ) -> Result<(), ContainerizerError> {
        limits.validate().map_err(LaunchError::from)?;
        self.ensure_known(id)?;
        let mut first_error = None;
        for isolator in &self.inner.isolators {
            if let Err(source) = isolator.update(id, limits).await {
                let error = isolator_error(isolator.as_ref(), "update", id, source);
                tracing::warn!(container_id = %id, %error, "resource update failed");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Re-adopts checkpointed containers after an agent restart. Isolators recover the adopted
    /// ones and clean up the gone ones. The agent should then `wait` on every adopted container
    /// and `destroy` the ones it no longer wants.
    pub async fn recover(
        &self,
        known: Vec<KnownProcess>,
    ) -> Result<RecoverReport, ContainerizerError> {
        let pids: HashMap<ContainerId, u32> = known
            .iter()
            .map(|k| (k.container_id.clone(), k.pid))
            .collect();
        let report = self.inner.launcher.recover(known).await?;
        let recovered: Vec<RecoveredContainer> = report
            .adopted
            .iter()
            .filter(|id| !self.tracked().contains_key(*id))
            .filter_map(|id| {
                pids.get(id).map(|&pid| RecoveredContainer {
                    container_id: id.clone(),
                    pid,
                })
            })
            .collect();
        for isolator in &self.inner.isolators {
            isolator.recover(&recovered).await.map_err(|source| {
                ContainerizerError::IsolatorRecover {
                    isolator: isolator.name(),
                    source,
                }
            })?;
        }
        for c in &recovered {
            self.tracked()
                .insert(c.container_id.clone(), Tracked::default());
            self.start_watchers(&c.container_id);
        }
        for (id, reason) in &report.gone {
            tracing::info!(container_id = %id, ?reason, "cleaning up container that is gone");
            self.cleanup_quietly(id).await;
        }
        Ok(report)
    }

    /// After the main process ended: records a limit that an isolator sees now, if none was
    /// reported (e.g. the OOM killer took the main process before the watcher looked).
    fn check_limitations(&self, id: &ContainerId, cell: &OnceLock<Limitation>) {
        if cell.get().is_some() {
            return;
        }
        if let Some(hit) = self
            .inner
            .isolators
            .iter()
            .find_map(|isolator| isolator.check_limitation(id))
        {
            tracing::warn!(container_id = %id, limitation = %hit, "container ended at a limit");
            let _ = cell.set(hit);
        }
    }

    /// Cleans up every isolator in reverse order; returns the first failure.
    async fn cleanup(&self, id: &ContainerId) -> Result<(), ContainerizerError> {
        let mut first_error = None;
        for isolator in self.inner.isolators.iter().rev() {
            if let Err(source) = isolator.cleanup(id).await {
                tracing::error!(container_id = %id, isolator = isolator.name(), %source, "cleanup failed");
                first_error.get_or_insert(isolator_error(
                    isolator.as_ref(),
                    "clean up",
                    id,
                    source,
                ));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn cleanup_quietly(&self, id: &ContainerId) {
        // Already logged by `cleanup`; the caller reports the error that started the cleanup.
        let _ = self.cleanup(id).await;
    }

    /// Spawns one task per isolator limitation future; the first one to fire records the
    /// limitation and kills the container, which ends its `wait`.
    fn start_watchers(&self, id: &ContainerId) {
        let Some(limitation) = self.tracked().get(id).map(|t| Arc::clone(&t.limitation)) else {
            return;
        };
        let watchers: Vec<JoinHandle<()>> = self
            .inner
            .isolators
            .iter()
            .filter_map(|isolator| isolator.watch_limitation(id))
            .map(|future| {
                let inner: Weak<Inner> = Arc::downgrade(&self.inner);
                let id = id.clone();
                let cell = Arc::clone(&limitation);
                tokio::spawn(async move {
                    let hit = future.await;
                    tracing::warn!(container_id = %id, limitation = %hit, "container hit a limit; killing it");
                    // Only the first limitation is kept.
                    let _ = cell.set(hit);
                    if let Some(inner) = inner.upgrade() {
                        if let Err(error) = inner.launcher.signal(&id, Signal::SIGKILL).await {
                            tracing::warn!(container_id = %id, %error, "killing limited container failed");
                        }
                    }
                })
            })
            .collect();
        if let Some(t) = self.tracked().get_mut(id) {
            t.watchers.extend(watchers);
        } else {
            watchers.iter().for_each(JoinHandle::abort);
        }
    }
}

fn isolator_error(
    isolator: &dyn Isolator,
    op: &'static str,
    id: &ContainerId,
    source: crate::error::IsolatorError,
) -> ContainerizerError {
    ContainerizerError::Isolator {
        isolator: isolator.name(),
        op,
        id: id.clone(),
        source,
    }
}
