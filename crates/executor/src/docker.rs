//! `corral executor --docker`: the **Docker executor**, Corral's `mesos-docker-executor`. It
//! runs one command task whose `ContainerInfo` is of type DOCKER as a Docker container,
//! through the Docker Engine API (`bollard`), and speaks the v1 executor API to the agent like
//! the command executor.
//!
//! ```text
//!  LAUNCH ─▶ core (Mode::Command) ─Spawn─▶ build request (pure, [`request`]) ─▶ pull if missing
//!                                          or forced ─▶ create `mesos-<container id>` ─▶ start
//!            ◀─Spawned── TASK_RUNNING      ─▶ logs → sandbox stdout/stderr ─▶ wait
//!            ◀─Exited── FINISHED/FAILED    ─▶ rm
//!  KILL ───▶ core ─Signal(TERM)─▶ docker stop -t <grace>;  Signal(KILL) ─▶ docker kill
//! ```
//!
//! The decisions (task states, kill escalation, acknowledgements, reconnection to a restarting
//! agent) are the command executor's [`crate::core`]; only the effects differ. The kill grace
//! period is the task's kill policy, else the agent's `--docker_stop_timeout`.
//!
//! The task's `command.uris` are fetched into the sandbox first (like the command executor),
//! and the sandbox is bind-mounted read-write at `MESOS_MAPPED_DIRECTORY` in the container.
//!
//! If a container with the task's name already exists when the task is launched (the executor
//! was restarted), it is re-attached, not restarted ([`engine::plan`]).
//!
//! Health checks: see [`health`].
//!
//! Configuration (set by the agent; the names are `mesos-docker-executor`'s flags as Mesos
//! environment variables): `MESOS_DOCKER_SOCKET` (default `/var/run/docker.sock`),
//! `MESOS_DOCKER` (the docker CLI for COMMAND health checks, default `docker`),
//! `MESOS_CONTAINER` (default `mesos-<last component of MESOS_DIRECTORY>`),
//! `MESOS_STOP_TIMEOUT` (default `0ns`), `MESOS_MAPPED_DIRECTORY` (default
//! `/mnt/mesos/sandbox`).

pub mod engine;
pub mod health;
pub mod params;
pub mod request;
mod runtime;

use std::path::PathBuf;
use std::time::Duration;

use corral_client::{ClientError, ExecutorEnv};

pub use request::{build, is_docker, ContainerSpec, Placement, RequestError};
pub use runtime::run_with;

/// Mesos's default Docker socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The Docker executor's own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerConfig {
    /// The engine's Unix socket.
    pub socket: PathBuf,
    /// The docker CLI, for COMMAND health checks (`docker exec`).
    pub docker_cli: String,
    /// The container's name.
    pub container: String,
    /// Grace period of `docker stop` when the task has no kill policy.
    pub stop_timeout: Duration,
    /// The sandbox on the host.
    pub sandbox: PathBuf,
    /// Where the sandbox appears in the container.
    pub mapped_directory: String,
    /// The agent's id (`MESOS_SLAVE_ID`), put on the container as [`AGENT_LABEL`] so that the
    /// agent tells its own containers from other agents' on a shared engine.
    pub agent_id: Option<String>,
}

/// The container label with the id of the agent that launched the executor (the agent's
/// orphan sweep reads it).
pub const AGENT_LABEL: &str = "corral.mesos.agent_id";

impl DockerConfig {
    /// Reads the settings through `lookup` (see the module docs); `env` gives the sandbox.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        env: &ExecutorEnv,
    ) -> Result<DockerConfig, ClientError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let sandbox = env
            .directory
            .clone()
            .or_else(|| env.sandbox.clone())
            .ok_or(ClientError::Env {
                name: "MESOS_DIRECTORY",
                reason: "the Docker executor needs the sandbox directory".into(),
            })?;
        let container = match get("MESOS_CONTAINER") {
            Some(name) => name,
            None => {
                let id = sandbox
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| env.executor_id.value.clone());
                format!("mesos-{id}")
            }
        };
        if !valid_name(&container) {
            return Err(ClientError::Env {
                name: "MESOS_CONTAINER",
                reason: format!("'{container}' is not a valid container name"),
            });
        }
        let stop_timeout = match get("MESOS_STOP_TIMEOUT") {
            Some(text) => corral_api::duration::parse(&text).map_err(|e| ClientError::Env {
                name: "MESOS_STOP_TIMEOUT",
                reason: e.to_string(),
            })?,
            None => Duration::ZERO,
        };
        let mapped_directory = get("MESOS_MAPPED_DIRECTORY")
            .unwrap_or_else(|| request::DEFAULT_MAPPED_DIRECTORY.to_string());
        if !mapped_directory.starts_with('/') || mapped_directory.contains(':') {
            return Err(ClientError::Env {
                name: "MESOS_MAPPED_DIRECTORY",
                reason: "expected an absolute path without ':'".into(),
            });
        }
        Ok(DockerConfig {
            docker_cli: get("MESOS_DOCKER").unwrap_or_else(|| "docker".to_string()),
            socket: get("MESOS_DOCKER_SOCKET")
                .map(|s| PathBuf::from(s.trim_start_matches("unix://")))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
            container,
            stop_timeout,
            sandbox,
            mapped_directory,
            agent_id: env.agent_id.as_ref().map(|id| id.value.clone()),
        })
    }
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Runs the Docker executor configured from the environment; returns the exit code.
pub async fn run() -> Result<i32, crate::ExecutorError> {
    let env = ExecutorEnv::from_env()?;
    let config = DockerConfig::from_lookup(|name| std::env::var(name).ok(), &env)?;
    run_with(env, config).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> (ExecutorEnv, HashMap<String, String>) {
        let mut map: HashMap<String, String> = [
            ("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"),
            ("MESOS_FRAMEWORK_ID", "f"),
            ("MESOS_EXECUTOR_ID", "e"),
            ("MESOS_DIRECTORY", "/w/runs/0b5c-11"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        let lookup = |name: &str| map.get(name).cloned();
        (ExecutorEnv::from_lookup(lookup).unwrap(), map)
    }

    fn config(vars: &[(&str, &str)]) -> Result<DockerConfig, ClientError> {
        let (env, map) = env(vars);
        DockerConfig::from_lookup(|name| map.get(name).cloned(), &env)
    }

    #[test]
    fn defaults_name_the_container_after_the_run_directory() {
        let c = config(&[]).unwrap();
        assert_eq!(c.container, "mesos-0b5c-11");
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(c.stop_timeout, Duration::ZERO);
        assert_eq!(c.sandbox, PathBuf::from("/w/runs/0b5c-11"));
        assert_eq!(c.mapped_directory, "/mnt/mesos/sandbox");
    }

    #[test]
    fn variables_override_the_defaults() {
        let c = config(&[
            ("MESOS_DOCKER_SOCKET", "unix:///tmp/d/docker.sock"),
            ("MESOS_CONTAINER", "mesos-abc"),
            ("MESOS_STOP_TIMEOUT", "5secs"),
            ("MESOS_MAPPED_DIRECTORY", "/sandbox"),
        ])
        .unwrap();
        assert_eq!(c.socket, PathBuf::from("/tmp/d/docker.sock"));
        assert_eq!(c.container, "mesos-abc");
        assert_eq!(c.stop_timeout, Duration::from_secs(5));
        assert_eq!(c.mapped_directory, "/sandbox");
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(config(&[("MESOS_STOP_TIMEOUT", "soon")]).is_err());
        assert!(config(&[("MESOS_CONTAINER", "bad name")]).is_err());
        assert!(config(&[("MESOS_MAPPED_DIRECTORY", "rel")]).is_err());
        assert!(!valid_name("-x"));
        assert!(!valid_name("a"));
        assert!(valid_name("mesos-1f.2_3"));
    }
}
