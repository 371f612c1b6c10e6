//! The container create request for a DOCKER task, built from its `TaskInfo` alone (pure).
//!
//! Mesos semantics (`docker-containerizer.md`):
//!
//! * **Command.** `shell: true` (the default) runs `/bin/sh -c <value>`: the entrypoint is
//!   overridden with `/bin/sh` and the command is `-c <value>`. `shell: false` keeps the image's
//!   entrypoint and passes `value` (if any) followed by `arguments` as its command; with
//!   neither, the image's default command runs. `CommandInfo.user` is not applied (as in
//!   Mesos: the framework's user need not exist in the image); use the `user` parameter.
//! * **Environment.** The command's variables plus `MESOS_SANDBOX` (the mapped sandbox) and
//!   `MESOS_CONTAINER_NAME`.
//! * **Sandbox.** The host sandbox is bind-mounted read-write at the mapped directory
//!   (`/mnt/mesos/sandbox`).
//! * **Network.** `HOST` (the default), `BRIDGE`, `NONE`, or `USER` (the network named by the
//!   first `NetworkInfo`). Port mappings need `BRIDGE` or `USER`.
//! * **Volumes.** `ContainerInfo.volumes` become binds `host:container:ro|rw`: a relative
//!   `host_path` (or a `SANDBOX_PATH` source) is inside the sandbox, a relative
//!   `container_path` is inside the mapped sandbox; `DOCKER_VOLUME` sources are named volumes.
//! * **Resources.** `cpus` → CPU shares (1024 per CPU, at least 2) and a CFS quota (100 ms
//!   period), `mem` → memory limit (at least 32 MB); a task's `limits` replace the requests for
//!   the hard limits, an infinite one lifts it.
//! * **Labels.** The task's labels become container labels.
//! * **Parameters.** See [`super::params`].

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use corral_api::v1::container_info::docker_info::Network;
use corral_api::v1::container_info::{DockerInfo, Type as ContainerType};
use corral_api::v1::environment::variable::Type as VariableType;
use corral_api::v1::volume::source::sandbox_path::Type as SandboxType;
use corral_api::v1::volume::source::Type as SourceType;
use corral_api::v1::volume::Mode;
use corral_api::v1::{ContainerInfo, TaskInfo, Volume};

use super::params::{self, to_i64, ParamError};

/// Where the sandbox appears inside the container (Mesos's `--sandbox_directory`).
pub const DEFAULT_MAPPED_DIRECTORY: &str = "/mnt/mesos/sandbox";
/// CPU shares per CPU (Mesos's `CPU_SHARES_PER_CPU`).
pub const CPU_SHARES_PER_CPU: f64 = 1024.0;
/// The smallest CPU shares value (Mesos's `MIN_CPU_SHARES`).
pub const MIN_CPU_SHARES: i64 = 2;
/// The CFS period (Mesos's `CPU_CFS_PERIOD`, 100 ms), in microseconds.
pub const CPU_CFS_PERIOD_US: i64 = 100_000;
/// The smallest CFS quota, in microseconds (Mesos's `MIN_CPU_CFS_QUOTA`, 1 ms).
pub const MIN_CPU_CFS_QUOTA_US: i64 = 1_000;
/// The smallest memory limit (Mesos's `MIN_MEMORY`, 32 MB).
pub const MIN_MEMORY_BYTES: i64 = 32 << 20;

/// Why a DOCKER task cannot be turned into a container.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The task has no `container` or it is not of type DOCKER.
    #[error("the task's container is not of type DOCKER")]
    NotDocker,
    /// `ContainerInfo.docker` or its image is missing.
    #[error("the DOCKER container has no image")]
    NoImage,
    /// A shell command without a value.
    #[error("the task's shell command is empty")]
    EmptyShellCommand,
    /// `USER` network without a `NetworkInfo` name.
    #[error("network USER needs a network name in ContainerInfo.network_infos")]
    NoUserNetwork,
    /// Port mappings on a network that cannot map ports.
    #[error("port mappings are only supported on BRIDGE and USER networks, not {0}")]
    PortMappingsNeedBridge(&'static str),
    /// A port mapping's protocol is not tcp, udp or sctp.
    #[error("unsupported port mapping protocol '{0}'")]
    Protocol(String),
    /// A volume that cannot be expressed as a bind.
    #[error("volume '{path}': {why}")]
    Volume {
        /// The container path.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A parameter that cannot be applied.
    #[error(transparent)]
    Parameter(#[from] ParamError),
}

/// What the executor needs to create a task's container.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSpec {
    /// The image reference.
    pub image: String,
    /// `DockerInfo.force_pull_image`.
    pub force_pull: bool,
    /// The Engine API create body.
    pub body: ContainerCreateBody,
}

/// Where the container sees things.
#[derive(Clone, Debug)]
pub struct Placement<'a> {
    /// The container's name (`mesos-<container id>`).
    pub name: &'a str,
    /// The sandbox on the host.
    pub sandbox: &'a Path,
    /// The sandbox inside the container.
    pub mapped_directory: &'a str,
}

/// Whether `info` asks for a Docker container.
pub fn is_docker(info: &TaskInfo) -> bool {
    info.container
        .as_ref()
        .is_some_and(|c| c.r#type == ContainerType::Docker as i32)
}

/// Builds the create request for `info` (see the module docs).
pub fn build(info: &TaskInfo, at: &Placement<'_>) -> Result<ContainerSpec, RequestError> {
    let container = info
        .container
        .as_ref()
        .filter(|c| c.r#type == ContainerType::Docker as i32)
        .ok_or(RequestError::NotDocker)?;
    let docker = container
        .docker
        .as_ref()
        .filter(|d| !d.image.trim().is_empty())
        .ok_or(RequestError::NoImage)?;
    let (entrypoint, cmd) = command(info)?;
    let mut host = HostConfig {
        binds: Some(binds(container, at)?),
        network_mode: Some(network_mode(container, docker)?),
        port_bindings: None,
        privileged: docker.privileged.filter(|&p| p),
        ..HostConfig::default()
    };
    let (exposed, bindings) = ports(docker)?;
    if !bindings.is_empty() {
        host.port_bindings = Some(bindings);
    }
    limits(info, &mut host);
    let mut body = ContainerCreateBody {
        image: Some(docker.image.clone()),
        entrypoint,
        cmd,
        env: Some(environment(info, at)),
        hostname: container.hostname.clone().filter(|h| !h.is_empty()),
        labels: labels(info),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        host_config: Some(host),
        ..ContainerCreateBody::default()
    };
    for parameter in &docker.parameters {
        params::apply(&mut body, &parameter.key, &parameter.value)?;
    }
    Ok(ContainerSpec {
        image: docker.image.clone(),
        force_pull: docker.force_pull_image.unwrap_or(false),
        body,
    })
}

/// Entrypoint override and command, per `CommandInfo.shell`.
type EntrypointAndCmd = (Option<Vec<String>>, Option<Vec<String>>);

fn command(info: &TaskInfo) -> Result<EntrypointAndCmd, RequestError> {
    let Some(command) = info.command.as_ref() else {
        return Ok((None, None));
    };
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        if value.trim().is_empty() {
            return Err(RequestError::EmptyShellCommand);
        }
        return Ok((
            Some(vec!["/bin/sh".to_string()]),
            Some(vec!["-c".to_string(), value]),
        ));
    }
    let cmd: Vec<String> = command
        .value
        .iter()
        .filter(|v| !v.is_empty())
        .chain(&command.arguments)
        .cloned()
        .collect();
    Ok((None, (!cmd.is_empty()).then_some(cmd)))
}

fn environment(info: &TaskInfo, at: &Placement<'_>) -> Vec<String> {
    let mut env: Vec<String> = info
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .map(|e| e.variables.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|v| v.r#type.is_none_or(|t| t == VariableType::Value as i32))
        .filter(|v| !v.name.is_empty() && !v.name.contains('='))
        .map(|v| format!("{}={}", v.name, v.value.as_deref().unwrap_or_default()))
        .collect();
    env.push(format!("MESOS_SANDBOX={}", at.mapped_directory));
    env.push(format!("MESOS_CONTAINER_NAME={}", at.name));
    env
}

fn labels(info: &TaskInfo) -> Option<HashMap<String, String>> {
    let labels: HashMap<String, String> = info
        .labels
        .as_ref()?
        .labels
        .iter()
        .filter(|l| !l.key.is_empty())
        .map(|l| (l.key.clone(), l.value.clone().unwrap_or_default()))
        .collect();
    (!labels.is_empty()).then_some(labels)
}

fn network_name(docker: &DockerInfo) -> &'static str {
    match docker.network.and_then(|n| Network::try_from(n).ok()) {
        None | Some(Network::Host) => "HOST",
        Some(Network::Bridge) => "BRIDGE",
        Some(Network::None) => "NONE",
        Some(Network::User) => "USER",
    }
}

fn network_mode(container: &ContainerInfo, docker: &DockerInfo) -> Result<String, RequestError> {
    Ok(match network_name(docker) {
        "BRIDGE" => "bridge".into(),
        "NONE" => "none".into(),
        "USER" => container
            .network_infos
            .first()
            .and_then(|n| n.name.clone())
            .filter(|n| !n.is_empty())
            .ok_or(RequestError::NoUserNetwork)?,
        _ => "host".into(),
    })
}

type Ports = (Vec<String>, HashMap<String, Option<Vec<PortBinding>>>);

fn ports(docker: &DockerInfo) -> Result<Ports, RequestError> {
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    if docker.port_mappings.is_empty() {
        return Ok((exposed, bindings));
    }
    let network = network_name(docker);
    if !matches!(network, "BRIDGE" | "USER") {
        return Err(RequestError::PortMappingsNeedBridge(network));
    }
    for mapping in &docker.port_mappings {
        let protocol = mapping
            .protocol
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("tcp")
            .to_ascii_lowercase();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(RequestError::Protocol(protocol));
        }
        let key = format!("{}/{protocol}", mapping.container_port);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: None,
                host_port: Some(mapping.host_port.to_string()),
            });
    }
    Ok((exposed, bindings))
}

fn binds(container: &ContainerInfo, at: &Placement<'_>) -> Result<Vec<String>, RequestError> {
    let sandbox = at.sandbox.display().to_string();
    let mut binds = vec![format!("{sandbox}:{}:rw", at.mapped_directory)];
    for volume in &container.volumes {
        binds.push(bind(volume, at)?);
    }
    Ok(binds)
}

fn bind(volume: &Volume, at: &Placement<'_>) -> Result<String, RequestError> {
    let fail = |why: &str| RequestError::Volume {
        path: volume.container_path.clone(),
        why: why.to_string(),
    };
    let target = volume.container_path.trim();
    if target.is_empty() {
        return Err(fail("empty container path"));
    }
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{target}", at.mapped_directory.trim_end_matches('/'))
    };
    let in_sandbox = |path: &str| -> Result<String, RequestError> {
        if Path::new(path)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(fail("a sandbox path must not leave the sandbox"));
        }
        Ok(at.sandbox.join(path).display().to_string())
    };
    let source = match (&volume.source, &volume.host_path) {
        (Some(source), _) => match source.r#type.and_then(|t| SourceType::try_from(t).ok()) {
            Some(SourceType::HostPath) => {
                let path = source
                    .host_path
                    .as_ref()
                    .map(|h| h.path.clone())
                    .unwrap_or_default();
                if !path.starts_with('/') {
                    return Err(fail("a HOST_PATH source needs an absolute path"));
                }
                path
            }
            Some(SourceType::SandboxPath) => {
                let sandbox = source
                    .sandbox_path
                    .as_ref()
                    .ok_or_else(|| fail("SANDBOX_PATH source without a path"))?;
                let parent = sandbox.r#type == Some(SandboxType::Parent as i32);
                if parent {
                    return Err(fail("PARENT sandbox paths are not supported for Docker"));
                }
                in_sandbox(&sandbox.path)?
            }
            Some(SourceType::DockerVolume) => {
                let docker = source
                    .docker_volume
                    .as_ref()
                    .ok_or_else(|| fail("DOCKER_VOLUME source without a name"))?;
                if docker
                    .driver
                    .as_deref()
                    .is_some_and(|d| !d.is_empty() && d != "local")
                {
                    return Err(fail("only the 'local' volume driver is supported"));
                }
                if docker.name.is_empty() || docker.name.contains('/') {
                    return Err(fail("invalid Docker volume name"));
                }
                docker.name.clone()
            }
            _ => return Err(fail("unsupported volume source for Docker")),
        },
        (None, Some(host)) if host.starts_with('/') => host.clone(),
        (None, Some(host)) if !host.is_empty() => in_sandbox(host)?,
        _ => return Err(fail("a volume needs a host_path or a source")),
    };
    if source.contains(':') || target.contains(':') {
        return Err(fail("paths must not contain ':'"));
    }
    let mode = if volume.mode == Mode::Ro as i32 {
        "ro"
    } else {
        "rw"
    };
    Ok(format!("{source}:{target}:{mode}"))
}

/// CPU shares and quota, memory limit, from the task's resources and limits.
fn limits(info: &TaskInfo, host: &mut HostConfig) {
    let request = |name: &str| -> f64 {
        info.resources
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
            .filter(|v| v.is_finite() && *v > 0.0)
            .sum()
    };
    let limit = |name: &str| -> Option<Option<f64>> {
        let value = info.limits.get(name)?.value;
        if value == f64::INFINITY {
            Some(None)
        } else if value.is_finite() && value > 0.0 {
            Some(Some(value))
        } else {
            None
        }
    };
    let cpus = request("cpus");
    if cpus > 0.0 {
        host.cpu_shares = Some(to_i64(cpus * CPU_SHARES_PER_CPU).max(MIN_CPU_SHARES));
    }
    let cpu_limit = limit("cpus").unwrap_or((cpus > 0.0).then_some(cpus));
    if let Some(cpus) = cpu_limit {
        host.cpu_period = Some(CPU_CFS_PERIOD_US);
        host.cpu_quota = Some(to_i64(cpus * CPU_CFS_PERIOD_US as f64).max(MIN_CPU_CFS_QUOTA_US));
    }
    let mem = request("mem");
    let mem_limit = limit("mem").unwrap_or((mem > 0.0).then_some(mem));
    if let Some(mb) = mem_limit {
        host.memory = Some(to_i64(mb * 1024.0 * 1024.0).max(MIN_MEMORY_BYTES));
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
