//! The Docker Engine edge: the few Engine API calls the executor makes (through `bollard`),
//! and [`plan`], the pure decision of what to do with a container that may already exist.

use std::path::Path;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

/// Seconds an Engine API call may take before its response starts (`stop` waits for the
/// container's grace period, so this is generous).
const REQUEST_TIMEOUT_SECS: u64 = 300;

/// A failed Engine API call.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The socket cannot be used.
    #[error("cannot connect to the Docker engine at {socket}: {source}")]
    Connect {
        /// The socket path.
        socket: String,
        /// Why.
        #[source]
        source: BollardError,
    },
    /// Pulling the image failed.
    #[error("Failed to pull image '{image}': {message}")]
    Pull {
        /// The image.
        image: String,
        /// The engine's message.
        message: String,
    },
    /// Another call failed.
    #[error("docker {op} {target}: {message}")]
    Api {
        /// Which call (`create`, `start`, …).
        op: &'static str,
        /// The container or image.
        target: String,
        /// The engine's message.
        message: String,
    },
}

impl EngineError {
    fn api(op: &'static str, target: &str, error: BollardError) -> EngineError {
        EngineError::Api {
            op,
            target: target.to_string(),
            message: message_of(&error),
        }
    }
}

/// The engine's own message for an error response, else the error's text.
fn message_of(error: &BollardError) -> String {
    match error {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn is_not_found(error: &BollardError) -> bool {
    matches!(
        error,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// What the engine says about an existing container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Its state.
    pub status: ContainerStateStatusEnum,
    /// Its main process on the host (0 when not running).
    pub pid: i64,
    /// Its exit code, once ended.
    pub exit_code: i64,
    /// When it started (RFC 3339), for logs.
    pub started_at: Option<String>,
    /// Its addresses: `(network name, IP address)`, sorted (none on the host network).
    pub addresses: Vec<(String, String)>,
}

/// What to do for a task whose container name may already be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No container yet: pull if needed, create, start.
    Create,
    /// Created but never started (the executor died in between): start it.
    Start,
    /// It runs (the executor restarted): re-attach to it, do not restart it.
    Attach,
    /// It already ended: report how.
    Collect {
        /// Its exit code.
        exit_code: i64,
    },
    /// It is being removed or is dead: remove what is left, then create anew.
    Replace,
}

/// Decides what to do with the container found under the task's name, if any.
pub fn plan(existing: Option<&Observed>) -> Plan {
    use ContainerStateStatusEnum as S;
    let Some(found) = existing else {
        return Plan::Create;
    };
    match found.status {
        S::CREATED => Plan::Start,
        S::RUNNING | S::PAUSED | S::RESTARTING | S::STOPPING => Plan::Attach,
        S::EXITED => Plan::Collect {
            exit_code: found.exit_code,
        },
        S::EMPTY | S::REMOVING | S::DEAD => Plan::Replace,
    }
}

/// Whether an image must be pulled: it is missing, or the task forces a pull.
pub fn needs_pull(present: bool, force_pull: bool) -> bool {
    !present || force_pull
}

/// A connection to one Docker engine.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
}

impl Engine {
    /// Connects to the engine at `socket` and agrees on an API version.
    pub async fn connect(socket: &Path) -> Result<Engine, EngineError> {
        let path = socket.display().to_string();
        let connect = |source| EngineError::Connect {
            socket: path.clone(),
            source,
        };
        let docker =
            Docker::connect_with_unix(&path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(connect)?;
        let docker = docker.negotiate_version().await.map_err(connect)?;
        Ok(Engine { docker })
    }

    /// Whether the image is present locally.
    pub async fn has_image(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(error) if is_not_found(&error) => Ok(false),
            Err(error) => Err(EngineError::api("image inspect", image, error)),
        }
    }

    /// Pulls `image` (`name[:tag]`, `latest` if untagged).
    pub async fn pull(&self, image: &str) -> Result<(), EngineError> {
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(item) = progress.next().await {
            let info = item.map_err(|error| EngineError::Pull {
                image: image.to_string(),
                message: message_of(&error),
            })?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Pull {
                    image: image.to_string(),
                    message: detail,
                });
            }
        }
        Ok(())
    }

    /// The container called `name`, if there is one.
    pub async fn inspect(&self, name: &str) -> Result<Option<Observed>, EngineError> {
        let found = match self.docker.inspect_container(name, None).await {
            Ok(found) => found,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(EngineError::api("inspect", name, error)),
        };
        let state = found.state.unwrap_or_default();
        let mut addresses: Vec<(String, String)> = found
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(network, endpoint)| {
                let ip = endpoint.ip_address.filter(|ip| !ip.is_empty())?;
                Some((network, ip))
            })
            .collect();
        addresses.sort();
        Ok(Some(Observed {
            addresses,
            status: state.status.unwrap_or(ContainerStateStatusEnum::EMPTY),
            pid: state.pid.unwrap_or(0),
            exit_code: state.exit_code.unwrap_or(0),
            started_at: state.started_at,
        }))
    }

    /// Creates the container `name`.
    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<(), EngineError> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| EngineError::api("create", name, e))?;
        for warning in created.warnings {
            tracing::warn!(container = name, %warning, "docker create warning");
        }
        Ok(())
    }

    /// Starts it.
    pub async fn start(&self, name: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(|e| EngineError::api("start", name, e))
    }

    /// Copies its stdout and stderr (from `since`, unix seconds; 0 for everything) to this
    /// process's stdout and stderr — the sandbox's files — until the container ends.
    pub async fn pump_logs(&self, name: &str, since: i32) {
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .since(since)
            .build();
        let mut logs = self.docker.logs(name, Some(options));
        let mut stdout = tokio::io::stdout();
        let mut stderr = tokio::io::stderr();
        while let Some(item) = logs.next().await {
            let written = match item {
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    stderr.write_all(&message).await
                }
                Ok(output) => stdout.write_all(output.as_ref()).await,
                Err(error) => {
                    tracing::warn!(container = name, %error, "the container's log stream broke");
                    break;
                }
            };
            if let Err(error) = written {
                tracing::warn!(container = name, %error, "cannot write the container's output");
            }
        }
        let _ = stdout.flush().await;
        let _ = stderr.flush().await;
    }

    /// Waits until it is not running; its exit code.
    pub async fn wait(&self, name: &str) -> Result<i64, EngineError> {
        loop {
            let options = WaitContainerOptionsBuilder::new()
                .condition("not-running")
                .build();
            let mut waiting = self.docker.wait_container(name, Some(options));
            match waiting.next().await {
                Some(Ok(response)) => return Ok(response.status_code),
                Some(Err(BollardError::DockerContainerWaitError { code, .. })) => return Ok(code),
                Some(Err(BollardError::RequestTimeoutError)) => continue,
                Some(Err(error)) => return Err(EngineError::api("wait", name, error)),
                None => {
                    // The stream ended without a status: ask for the state instead.
                    return match self.inspect(name).await? {
                        Some(found) if found.status != ContainerStateStatusEnum::RUNNING => {
                            Ok(found.exit_code)
                        }
                        Some(_) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                        None => Err(EngineError::Api {
                            op: "wait",
                            target: name.to_string(),
                            message: "the container disappeared".into(),
                        }),
                    };
                }
            }
        }
    }

    /// `docker stop -t <grace>`: its stop signal, then SIGKILL after `grace`.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        let seconds = i32::try_from(grace.as_secs() + u64::from(grace.subsec_nanos() > 0))
            .unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(seconds).build();
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if gone_or_stopped(&error) => Ok(()),
            Err(error) => Err(EngineError::api("stop", name, error)),
        }
    }

    /// `docker kill`: SIGKILL now.
    pub async fn kill(&self, name: &str) -> Result<(), EngineError> {
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        match self.docker.kill_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if gone_or_stopped(&error) => Ok(()),
            Err(error) => Err(EngineError::api("kill", name, error)),
        }
    }

    /// `docker rm -f -v`.
    pub async fn remove(&self, name: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(EngineError::api("rm", name, error)),
        }
    }
}

/// 404 (no such container), 304 (already stopped) and 409 (not running) mean there is nothing
/// left to stop.
fn gone_or_stopped(error: &BollardError) -> bool {
    matches!(
        error,
        BollardError::DockerResponseServerError {
            status_code: 304 | 404 | 409,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerStateStatusEnum as S;

    fn seen(status: S, exit_code: i64) -> Observed {
        Observed {
            status,
            pid: 0,
            exit_code,
            started_at: None,
            addresses: Vec::new(),
        }
    }

    #[test]
    fn plans_follow_the_existing_container() {
        assert_eq!(plan(None), Plan::Create);
        assert_eq!(plan(Some(&seen(S::CREATED, 0))), Plan::Start);
        assert_eq!(plan(Some(&seen(S::RUNNING, 0))), Plan::Attach);
        assert_eq!(plan(Some(&seen(S::PAUSED, 0))), Plan::Attach);
        assert_eq!(plan(Some(&seen(S::RESTARTING, 0))), Plan::Attach);
        assert_eq!(
            plan(Some(&seen(S::EXITED, 3))),
            Plan::Collect { exit_code: 3 }
        );
        assert_eq!(plan(Some(&seen(S::DEAD, 0))), Plan::Replace);
        assert_eq!(plan(Some(&seen(S::REMOVING, 0))), Plan::Replace);
    }

    #[test]
    fn pulls_only_when_missing_or_forced() {
        assert!(needs_pull(false, false));
        assert!(needs_pull(false, true));
        assert!(needs_pull(true, true));
        assert!(!needs_pull(true, false));
    }
}
