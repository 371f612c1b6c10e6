//! Containers of the actor: launching (sandbox, volumes, container, waiting for its end),
//! destroying, and translating how a container ended.

use std::sync::atomic::Ordering;
use std::time::Duration;

use corral_containerizer::{
    ContainerId, Containerizer, ContainerizerError, ExitStatus, Termination,
};
use tracing::Instrument;

use super::{volumes, Actor, Command};
use crate::core::Exit;
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

pub(super) async fn destroy(containerizer: &Containerizer, container_id: &str, grace: Duration) {
    let Ok(id) = ContainerId::new(container_id) else {
        return;
    };
    match containerizer.destroy(&id, grace).await {
        Ok(_) | Err(ContainerizerError::UnknownContainer(_)) => {}
        Err(error) => tracing::error!(container_id, %error, "failed to destroy container"),
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
