//! Containers of the actor: launching (sandbox, volumes, container, waiting for its end),
//! destroying, and translating how a container ended.

use std::sync::atomic::Ordering;
use std::time::Duration;

use corral_containerizer::{
    ContainerId, Containerizer, ContainerizerError, ExitStatus, KnownProcess, ResourceLimits,
    Termination,
};
use tracing::Instrument;

use super::{volumes, Actor, Command};
use crate::core::{Exit, RecoveredRun};
use crate::launch::{launch_spec, prepare_sandbox, LaunchRequest};

impl Actor {
    /// Prepares the sandbox, launches the container, then waits for it, cleans it up and
    /// reports its end.
    pub(super) fn launch(&self, request: LaunchRequest) {
        let containerizer = self.containerizer.clone();
        let handle = self.handle.clone();
        let stopping = self.stopping.clone();
        let span = tracing::info_span!(
            "container",
            framework_id = %request.framework_id,
            executor_id = %request.executor_id,
            container_id = %request.container_id
        );
        let task = async move {
            let LaunchRequest {
                framework_id,
                executor_id,
                container_id,
                ..
            } = request.clone();
            let launched = async {
                let directory = request.directory.clone();
                let user = request.user.clone();
                let mounts = request.volumes.clone();
                tokio::task::spawn_blocking(move || {
                    prepare_sandbox(&directory, user.as_deref()).map_err(|e| {
                        format!("Failed to prepare the sandbox {}: {e}", directory.display())
                    })?;
                    volumes::attach(&directory, &mounts, user.as_deref())
                })
                .await
                .map_err(|e| format!("Failed to prepare the sandbox: {e}"))??;
                crate::launch::prepare_fetch(
                    &request.fetch,
                    &request.directory,
                    request.user.as_deref(),
                )
                .await?;
                let spec = launch_spec(&request)?;
                containerizer.launch(&spec).await.map_err(|e| e.to_string())
            }
            .await;
            let launched = match launched {
                Ok(launched) => launched,
                Err(error) => {
                    handle.send(Command::LaunchFailed {
                        framework_id,
                        executor_id,
                        container_id,
                        error,
                    });
                    return;
                }
            };
            handle.send(Command::Launched {
                framework_id: framework_id.clone(),
                executor_id: executor_id.clone(),
                container_id: container_id.clone(),
                pid: launched.pid,
                start_time: launched.start_time,
            });
            let Ok(id) = ContainerId::new(container_id.clone()) else {
                return;
            };
            if stopping.load(Ordering::SeqCst) {
                destroy(&containerizer, &container_id, Duration::ZERO).await;
            }
            let termination = containerizer.wait(&id).await;
            // Kill whatever the executor left in its session and release the isolators.
            let cleanup = containerizer.destroy(&id, Duration::ZERO).await;
            crate::docker::remove_leftover(&request.env).await;
            let exit = exit_of(termination.or(cleanup));
            handle.send(Command::Exited {
                framework_id,
                executor_id,
                container_id,
                exit,
            });
        };
        tokio::spawn(task.instrument(span));
    }
}

impl Actor {
    /// Re-adopts the containers of recovered executor runs (`Containerizer::recover`, so that
    /// isolators, limits and kill keep working), watches the adopted ones like launched ones,
    /// and reports the gone ones as exited. `docker_socket` (with the docker containerizer):
    /// the container `mesos-<container id>` an adopted executor leaves when it ends is
    /// removed. Returns the container ids of the adopted runs.
    pub async fn recover_containers(
        &mut self,
        runs: Vec<RecoveredRun>,
        docker_socket: Option<std::path::PathBuf>,
    ) -> Result<Vec<String>, String> {
        let mut known = Vec::new();
        let mut gone = Vec::new();
        let mut adopted = Vec::new();
        for run in &runs {
            match (run.pid, ContainerId::new(run.container_id.clone())) {
                (Some(pid), Ok(container_id)) => known.push(KnownProcess {
                    container_id,
                    pid,
                    start_time: run.start_time,
                }),
                _ => gone.push((run.clone(), "its launch was never recorded".to_string())),
            }
        }
        let report = self
            .containerizer
            .recover(known)
            .await
            .map_err(|e| format!("the containerizer cannot recover: {e}"))?;
        for run in &runs {
            if report
                .adopted
                .iter()
                .any(|id| id.as_str() == run.container_id)
            {
                tracing::info!(
                    framework_id = %run.framework_id,
                    executor_id = %run.executor_id,
                    container_id = %run.container_id,
                    pid = ?run.pid,
                    "re-adopted executor container"
                );
                self.watch(run.clone(), docker_socket.clone());
                adopted.push(run.container_id.clone());
            } else if let Some((_, reason)) = report
                .gone
                .iter()
                .find(|(id, _)| id.as_str() == run.container_id)
            {
                gone.push((run.clone(), format!("{reason:?}")));
            }
        }
        let now = super::now_secs();
        for (run, reason) in gone {
            tracing::warn!(
                framework_id = %run.framework_id,
                executor_id = %run.executor_id,
                container_id = %run.container_id,
                reason,
                "executor container is gone"
            );
            let exit = Exit {
                status: -1,
                message: format!("terminated while the agent was down ({reason})"),
                limitation: None,
            };
            self.core.container_exited(
                &run.framework_id,
                &run.executor_id,
                &run.container_id,
                exit,
                now,
            );
        }
        self.drain_effects();
        Ok(adopted)
    }

    /// Waits for a re-adopted container to end, cleans it up (and the Docker container its
    /// executor drove, if any) and reports its end.
    fn watch(&self, run: RecoveredRun, docker_socket: Option<std::path::PathBuf>) {
        let containerizer = self.containerizer.clone();
        let handle = self.handle.clone();
        let span = tracing::info_span!(
            "container",
            framework_id = %run.framework_id,
            executor_id = %run.executor_id,
            container_id = %run.container_id
        );
        let task = async move {
            let Ok(id) = ContainerId::new(run.container_id.clone()) else {
                return;
            };
            let termination = containerizer.wait(&id).await;
            let cleanup = containerizer.destroy(&id, Duration::ZERO).await;
            if let Some(socket) = docker_socket {
                let name = format!("{}{}", crate::docker::NAME_PREFIX, run.container_id);
                crate::docker::remove_container(&socket, &name).await;
            }
            handle.send(Command::Exited {
                framework_id: run.framework_id,
                executor_id: run.executor_id,
                container_id: run.container_id,
                exit: exit_of(termination.or(cleanup)),
            });
        };
        tokio::spawn(task.instrument(span));
    }
}

pub(super) async fn destroy(containerizer: &Containerizer, container_id: &str, grace: Duration) {
    let Ok(id) = ContainerId::new(container_id) else {
        return;
    };
    match containerizer.destroy(&id, grace).await {
        Ok(_) | Err(ContainerizerError::UnknownContainer(_)) => {}
        Err(error) => tracing::error!(container_id, %error, "failed to destroy container"),
    }
}

/// Resizes a running container; a failure leaves it at its old limits (logged).
pub(super) async fn update(
    containerizer: &Containerizer,
    container_id: &str,
    limits: &ResourceLimits,
) {
    let Ok(id) = ContainerId::new(container_id) else {
        return;
    };
    match containerizer.update(&id, limits).await {
        Ok(()) | Err(ContainerizerError::UnknownContainer(_)) => {}
        Err(error) => tracing::warn!(container_id, %error, "failed to resize container"),
    }
}

/// The core's view of how a container ended.
pub(super) fn exit_of(termination: Result<Termination, ContainerizerError>) -> Exit {
    match termination {
        Ok(Termination { status, limitation }) => Exit {
            status: match status {
                ExitStatus::Exited(code) => code,
                ExitStatus::Signaled(signal) => 128 + signal,
                ExitStatus::Unknown => -1,
            },
            message: status.to_string(),
            limitation: limitation.map(|l| (l.kind, l.message)),
        },
        Err(error) => Exit {
            status: -1,
            message: format!("unknown exit ({error})"),
            limitation: None,
        },
    }
}
