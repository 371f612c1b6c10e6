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
//! agent removes what it left ([`remove_leftover`] for executors launched by this agent
//! process, [`remove_container`] for executors re-adopted after an agent restart).
//!
//! The executor labels its container with the agent's id ([`AGENT_LABEL`]). When the agent
//! recovers, [`sweep`] looks at the engine's `mesos-…` containers that are this agent's (the
//! label, or Mesos's legacy name `mesos-<agent id>.<container id>`): one of a run whose
//! executor is gone is removed (its task gets its terminal update through recovery), one of
//! no checkpointed run at all is an orphan and is removed with `--docker_kill_orphans`
//! (Mesos's default). Mesos itself removes every `mesos-` container it does not know (and
//! asks for `--docker_kill_orphans=false` when agents share an engine); matching on the agent
//! id keeps the containers of other agents on the same engine safe.
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
/// The container label with the id of the agent whose executor created the container.
pub const AGENT_LABEL: &str = "corral.mesos.agent_id";

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
    /// `--docker_kill_orphans`.
    pub kill_orphans: bool,
}

impl Default for DockerLaunch {
    /// Mesos's defaults: only the mesos containerizer.
    fn default() -> DockerLaunch {
        DockerLaunch {
            containerizers: Containerizers::default(),
            socket: PathBuf::from(DEFAULT_SOCKET),
            stop_timeout: Duration::ZERO,
            docker_cli: "docker".into(),
            kill_orphans: true,
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
            kill_orphans: flags.docker_kill_orphans,
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
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let (Some(socket), Some(name)) = (get("MESOS_DOCKER_SOCKET"), get("MESOS_CONTAINER")) else {
        return;
    };
    remove_container(Path::new(socket), name).await;
}

/// The engine at `socket`, or a warning about why it cannot be reached.
async fn connect(socket: &Path) -> Option<bollard::Docker> {
    let path = socket.display().to_string();
    let docker = match bollard::Docker::connect_with_unix(&path, 60, bollard::API_DEFAULT_VERSION) {
        Ok(docker) => docker.negotiate_version().await,
        Err(error) => Err(error),
    };
    match docker {
        Ok(docker) => Some(docker),
        Err(error) => {
            tracing::warn!(socket = path, %error, "cannot reach the Docker engine");
            None
        }
    }
}

/// Force-removes the container `name` (stopping it first if it runs); a missing container is
/// fine, other failures are logged.
pub async fn remove_container(socket: &Path, name: &str) {
    let Some(docker) = connect(socket).await else {
        return;
    };
    remove_with(&docker, name).await;
}

async fn remove_with(docker: &bollard::Docker, name: &str) {
    use bollard::query_parameters::RemoveContainerOptionsBuilder;
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => tracing::warn!(
            container = name,
            "removed a Docker container no executor drives any more"
        ),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(error) => {
            tracing::warn!(container = name, %error, "cannot remove a leftover Docker container")
        }
    }
}

/// Why [`sweep`] removes a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepReason {
    /// A checkpointed run whose executor is gone.
    ExecutorGone,
    /// No checkpointed run of this agent has it (`--docker_kill_orphans`).
    Orphan,
}

/// What the agent knows when it sweeps its containers after recovery.
#[derive(Clone, Debug, Default)]
pub struct SweepInput<'a> {
    /// This agent's id.
    pub agent_id: &'a str,
    /// Container ids of re-adopted runs (their containers stay).
    pub adopted: &'a [String],
    /// Container ids of checkpointed runs whose executor is gone.
    pub gone: &'a [String],
    /// `--docker_kill_orphans`.
    pub kill_orphans: bool,
}

/// Decides about one engine container (`name` without its leading `/`, its labels): `None`
/// keeps it (not this agent's, or a re-adopted run's).
pub fn sweep_decision(
    input: &SweepInput<'_>,
    name: &str,
    labels: Option<&std::collections::HashMap<String, String>>,
) -> Option<SweepReason> {
    let rest = name.trim_start_matches('/').strip_prefix(NAME_PREFIX)?;
    let legacy = rest
        .strip_prefix(input.agent_id)
        .and_then(|r| r.strip_prefix('.'));
    let labelled = labels
        .and_then(|l| l.get(AGENT_LABEL))
        .is_some_and(|id| id == input.agent_id);
    let container_id = match legacy {
        Some(id) if !input.agent_id.is_empty() => id,
        _ if labelled => rest,
        _ => return None,
    };
    if input.adopted.iter().any(|c| c == container_id) {
        None
    } else if input.gone.iter().any(|c| c == container_id) {
        Some(SweepReason::ExecutorGone)
    } else if input.kill_orphans {
        Some(SweepReason::Orphan)
    } else {
        None
    }
}

/// After recovery: removes this agent's `mesos-…` containers that no re-adopted executor
/// drives (see the module docs). Returns the names removed. An unreachable engine is a
/// warning (the agent still starts).
pub async fn sweep(socket: &Path, input: &SweepInput<'_>) -> Vec<String> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let Some(docker) = connect(socket).await else {
        return Vec::new();
    };
    let filters = std::collections::HashMap::from([("name", vec![NAME_PREFIX])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let containers = match docker.list_containers(Some(options)).await {
        Ok(containers) => containers,
        Err(error) => {
            tracing::warn!(%error, "cannot list the Docker containers to find orphans");
            return Vec::new();
        }
    };
    let mut removed = Vec::new();
    for container in containers {
        for name in container.names.iter().flatten() {
            let name = name.trim_start_matches('/');
            let Some(reason) = sweep_decision(input, name, container.labels.as_ref()) else {
                continue;
            };
            tracing::warn!(
                container = name,
                ?reason,
                "removing a Docker container of no live run"
            );
            remove_with(&docker, name).await;
            removed.push(name.to_string());
        }
    }
    if !input.kill_orphans {
        tracing::info!("--docker_kill_orphans=false: containers of no checkpointed run are kept");
    }
    removed
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
    fn the_sweep_removes_only_this_agents_containers_of_no_live_run() {
        use std::collections::HashMap;
        let adopted = vec!["live".to_string()];
        let gone = vec!["dead".to_string()];
        let mut input = SweepInput {
            agent_id: "A-S1",
            adopted: &adopted,
            gone: &gone,
            kill_orphans: true,
        };
        let ours = HashMap::from([(AGENT_LABEL.to_string(), "A-S1".to_string())]);
        let theirs = HashMap::from([(AGENT_LABEL.to_string(), "A-S2".to_string())]);
        let decide = |input: &SweepInput<'_>, name: &str, labels: Option<&HashMap<_, _>>| {
            sweep_decision(input, name, labels)
        };
        assert_eq!(decide(&input, "/mesos-live", Some(&ours)), None);
        assert_eq!(
            decide(&input, "/mesos-dead", Some(&ours)),
            Some(SweepReason::ExecutorGone)
        );
        assert_eq!(
            decide(&input, "mesos-other", Some(&ours)),
            Some(SweepReason::Orphan)
        );
        // Another agent's container, an unlabelled one, one that is not Mesos's.
        assert_eq!(decide(&input, "mesos-other", Some(&theirs)), None);
        assert_eq!(decide(&input, "mesos-other", None), None);
        assert_eq!(decide(&input, "web", Some(&ours)), None);
        // Mesos's legacy names carry the agent id.
        assert_eq!(
            decide(&input, "mesos-A-S1.old", None),
            Some(SweepReason::Orphan)
        );
        assert_eq!(decide(&input, "mesos-A-S1.live", None), None);
        assert_eq!(decide(&input, "mesos-A-S2.old", None), None);
        // --docker_kill_orphans=false keeps orphans, not the containers of gone executors.
        input.kill_orphans = false;
        assert_eq!(decide(&input, "mesos-other", Some(&ours)), None);
        assert_eq!(
            decide(&input, "mesos-dead", Some(&ours)),
            Some(SweepReason::ExecutorGone)
        );
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
