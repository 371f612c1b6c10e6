//! Docker containers on the agent (Mesos's Docker containerizer, `--containerizers=docker,mesos`).
//!
//! Like Mesos, a command task whose `ContainerInfo` is of type DOCKER is run by an executor
//! that drives the container: the built-in Docker executor (`corral executor --docker`, Mesos's
//! `mesos-docker-executor`). The agent starts that executor like the command executor, with
//! the Docker settings in its environment (the executor's flags as Mesos variables):
//!
//! | variable | from |
//! |---|---|
//! | `MESOS_DOCKER_SOCKET` | `--docker_socket` |
//! | `MESOS_STOP_TIMEOUT` | `--docker_stop_timeout` (the task's kill policy wins) |
//! | `MESOS_CONTAINER` | `mesos-<container id>`, the container's name |
//! | `MESOS_MAPPED_DIRECTORY` | `/mnt/mesos/sandbox`, where the sandbox is bind-mounted |
//! | `MESOS_DOCKER` | `--docker`, the docker CLI (COMMAND health checks run `docker exec`) |
//!
//! The executor removes its container when the task ends. If the executor itself dies, the
//! agent removes what it left ([`remove_leftover`], for executors launched by this agent
//! process; not yet for executors re-adopted after an agent restart).
//!
//! A DOCKER task on an agent without `docker` in `--containerizers` fails to launch
//! (`TASK_FAILED`, `REASON_CONTAINER_LAUNCH_FAILED`); so do custom executors and task groups
//! in Docker containers, which are not supported yet.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_api::v1;
use v1::container_info::Type as ContainerType;

use crate::core::state::ExecutorKind;
use crate::flags::format_duration;

/// Mesos's default `--docker_socket`.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Where the sandbox appears inside a Docker container (Mesos's `--sandbox_directory`).
pub const MAPPED_DIRECTORY: &str = "/mnt/mesos/sandbox";
/// The prefix of Docker container names (Mesos's `DOCKER_NAME_PREFIX`).
pub const NAME_PREFIX: &str = "mesos-";

/// `--containerizers`: which containerizers the agent runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Containerizers {
    /// `mesos`: tasks run as processes in the agent's own containers.
    pub mesos: bool,
    /// `docker`: DOCKER tasks run as Docker containers.
    pub docker: bool,
}

impl Default for Containerizers {
    fn default() -> Containerizers {
        Containerizers {
            mesos: true,
            docker: false,
        }
    }
}

/// Parses `--containerizers` (`mesos`, `docker`, comma-separated, at least one).
pub fn parse_containerizers(text: &str) -> Result<Containerizers, String> {
    let mut found = Containerizers {
        mesos: false,
        docker: false,
    };
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "mesos" => found.mesos = true,
            "docker" => found.docker = true,
            other => {
                return Err(format!(
                    "unknown containerizer '{other}' (expected 'mesos' and/or 'docker')"
                ))
            }
        }
    }
    if !found.mesos && !found.docker {
        return Err("no containerizer given".into());
    }
    Ok(found)
}

impl fmt::Display for Containerizers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(self.docker, "docker"), (self.mesos, "mesos")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// The agent's containerizers and Docker settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerLaunch {
    /// `--containerizers`.
    pub containerizers: Containerizers,
    /// `--docker_socket`.
    pub socket: PathBuf,
    /// `--docker_stop_timeout`.
    pub stop_timeout: Duration,
    /// `--docker`: the docker CLI (used for COMMAND health checks, `docker exec`).
    pub docker_cli: String,
}

impl Default for DockerLaunch {
    /// Mesos's defaults: only the mesos containerizer.
    fn default() -> DockerLaunch {
        DockerLaunch {
            containerizers: Containerizers::default(),
            socket: PathBuf::from(DEFAULT_SOCKET),
            stop_timeout: Duration::ZERO,
            docker_cli: "docker".into(),
        }
    }
}

impl DockerLaunch {
    /// The settings of `--containerizers`, `--docker_socket` and `--docker_stop_timeout`.
    pub fn from_flags(flags: &crate::flags::AgentFlags) -> DockerLaunch {
        DockerLaunch {
            containerizers: flags.containerizers,
            socket: flags.docker_socket.clone(),
            stop_timeout: flags.docker_stop_timeout,
            docker_cli: flags.docker.clone(),
        }
    }
}

/// Whether `container` asks for Docker.
pub fn is_docker(container: Option<&v1::ContainerInfo>) -> bool {
    container.is_some_and(|c| c.r#type == ContainerType::Docker as i32)
}

/// Whether the agent can launch an executor of `kind` with `info` given its containerizers:
/// the reason (for `TASK_FAILED`) when it cannot.
pub fn check_launch(
    containerizers: Containerizers,
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
) -> Result<(), String> {
    let docker = is_docker(info.container.as_ref());
    match kind {
        ExecutorKind::Command if docker && !containerizers.docker => Err(
            "the task's container is DOCKER but the docker containerizer is not enabled on this \
             agent (--containerizers)"
                .into(),
        ),
        ExecutorKind::Command if !docker && !containerizers.mesos => Err(
            "the task has no DOCKER container and the mesos containerizer is not enabled on \
             this agent (--containerizers)"
                .into(),
        ),
        ExecutorKind::Default | ExecutorKind::Custom if docker => {
            Err("executors in Docker containers are not supported yet".into())
        }
        _ => Ok(()),
    }
}

/// The Docker executor's variables for a run in `directory` (whose name is the container id).
pub fn executor_env(docker: &DockerLaunch, directory: &Path) -> Vec<(String, String)> {
    let container_id = directory
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    vec![
        (
            "MESOS_DOCKER_SOCKET".into(),
            docker.socket.display().to_string(),
        ),
        (
            "MESOS_STOP_TIMEOUT".into(),
            format_duration(docker.stop_timeout),
        ),
        (
            "MESOS_CONTAINER".into(),
            format!("{NAME_PREFIX}{container_id}"),
        ),
        ("MESOS_MAPPED_DIRECTORY".into(), MAPPED_DIRECTORY.into()),
        ("MESOS_DOCKER".into(), docker.docker_cli.clone()),
    ]
}

/// After a Docker executor's run ended: force-removes its container (`MESOS_CONTAINER` on
/// `MESOS_DOCKER_SOCKET` in the run's environment) if the executor left it behind, e.g.
/// because it was killed. Does nothing for other runs.
pub async fn remove_leftover(env: &[(String, String)]) {
    use bollard::query_parameters::RemoveContainerOptionsBuilder;
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let (Some(socket), Some(name)) = (get("MESOS_DOCKER_SOCKET"), get("MESOS_CONTAINER")) else {
        return;
    };
    let docker = match bollard::Docker::connect_with_unix(socket, 60, bollard::API_DEFAULT_VERSION)
    {
        Ok(docker) => docker.negotiate_version().await,
        Err(error) => Err(error),
    };
    let docker = match docker {
        Ok(docker) => docker,
        Err(error) => {
            tracing::warn!(container = name, socket, %error, "cannot reach the Docker engine to remove a leftover container");
            return;
        }
    };
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => tracing::warn!(
            container = name,
            "removed the Docker container its executor left behind"
        ),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(error) => {
            tracing::warn!(container = name, %error, "cannot remove a leftover Docker container")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn docker_info() -> v1::ExecutorInfo {
        v1::ExecutorInfo {
            container: Some(v1::ContainerInfo {
                r#type: ContainerType::Docker as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn containerizers_parse() {
        assert_eq!(
            parse_containerizers("docker,mesos").unwrap(),
            Containerizers {
                mesos: true,
                docker: true
            }
        );
        assert_eq!(
            parse_containerizers("mesos").unwrap(),
            Containerizers::default()
        );
        assert_eq!(
            parse_containerizers(" docker ").unwrap().to_string(),
            "docker"
        );
        assert!(parse_containerizers("rkt").is_err());
        assert!(parse_containerizers("").is_err());
        assert_eq!(
            parse_containerizers("mesos,docker").unwrap().to_string(),
            "docker,mesos"
        );
    }

    #[test]
    fn docker_tasks_need_the_docker_containerizer() {
        let both = parse_containerizers("docker,mesos").unwrap();
        let mesos = Containerizers::default();
        let docker = parse_containerizers("docker").unwrap();
        let plain = v1::ExecutorInfo::default();
        assert!(check_launch(both, ExecutorKind::Command, &docker_info()).is_ok());
        assert!(check_launch(mesos, ExecutorKind::Command, &docker_info())
            .unwrap_err()
            .contains("--containerizers"));
        assert!(check_launch(mesos, ExecutorKind::Command, &plain).is_ok());
        assert!(check_launch(docker, ExecutorKind::Command, &plain).is_err());
        assert!(check_launch(both, ExecutorKind::Custom, &docker_info()).is_err());
        assert!(check_launch(both, ExecutorKind::Custom, &plain).is_ok());
    }

    #[tokio::test]
    async fn leftover_removal_ignores_other_runs_and_a_missing_engine() {
        // Not a Docker run: nothing to do.
        remove_leftover(&[("PATH".into(), "/bin".into())]).await;
        // No engine at the socket: a warning, no panic, no hang.
        let env = [
            (
                "MESOS_DOCKER_SOCKET".into(),
                "/nonexistent/docker.sock".into(),
            ),
            ("MESOS_CONTAINER".into(), "mesos-x".into()),
        ];
        tokio::time::timeout(Duration::from_secs(5), remove_leftover(&env))
            .await
            .unwrap();
    }

    #[test]
    fn executor_environment_names_the_container() {
        let docker = DockerLaunch {
            socket: "/tmp/d/docker.sock".into(),
            stop_timeout: Duration::from_secs(2),
            ..DockerLaunch::default()
        };
        let env = executor_env(&docker, Path::new("/w/runs/abc-123"));
        let get = |name: &str| {
            env.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("MESOS_DOCKER_SOCKET"), "/tmp/d/docker.sock");
        assert_eq!(get("MESOS_STOP_TIMEOUT"), "2secs");
        assert_eq!(get("MESOS_CONTAINER"), "mesos-abc-123");
        assert_eq!(get("MESOS_MAPPED_DIRECTORY"), "/mnt/mesos/sandbox");
    }
}
