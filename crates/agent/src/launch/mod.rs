//! How an executor is started: its sandbox path, program, `MESOS_*` environment
//! (`reference/mesos-v1-api.md` §2) and resource limits — pure functions — and the I/O that
//! prepares the sandbox.
//!
//! # Resource limits
//!
//! An executor's container gets [`ResourceLimits`] (enforced by the `cgroups/*` isolators of
//! `--isolation`, reported by the `posix/*` ones) from [`container_limits`]: the executor's
//! own resources plus those of the tasks it is launched with. The built-in command executor
//! has no resources of its own; like Mesos, the agent adds [`COMMAND_EXECUTOR_CPUS`] (0.1) and
//! [`COMMAND_EXECUTOR_MEM_MB`] (32 MB) for it, so a command task with `mem:32` runs under a
//! 64 MB limit. Like Mesos's cgroup isolators, limits are never below [`MIN_CPUS`] and
//! [`MIN_MEM_MB`]. `pids` is `--default_container_pids_limit`.
//!
//! Limits are set when the container is launched: the containerizer cannot change them on a
//! running container yet, so tasks delivered later to an executor that already runs (a
//! second task for a custom executor) share the limits computed at its launch.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_api::v1;
use corral_containerizer::{Command, ContainerId, LaunchSpec, ResourceLimits};

use crate::convert::sum_resources;
use crate::core::state::ExecutorKind;
use crate::flags::format_duration;

/// CPUs the agent adds to a command task for the command executor (Mesos's
/// `DEFAULT_EXECUTOR_CPUS`).
pub const COMMAND_EXECUTOR_CPUS: f64 = 0.1;
/// Memory (MB) the agent adds to a command task for the command executor (Mesos's
/// `DEFAULT_EXECUTOR_MEM`).
pub const COMMAND_EXECUTOR_MEM_MB: f64 = 32.0;
/// The smallest CPU limit given to a container (Mesos's `MIN_CPUS`).
pub const MIN_CPUS: f64 = 0.01;
/// The smallest memory limit (MB) given to a container (Mesos's `MIN_MEMORY`).
pub const MIN_MEM_MB: f64 = 32.0;

/// Everything agent-wide an executor's launch depends on.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// The agent's work directory (absolute).
    pub work_dir: PathBuf,
    /// Where executors reach the agent (`MESOS_AGENT_ENDPOINT`).
    pub endpoint: SocketAddr,
    /// The `corral` binary running the built-in executors.
    pub executor_binary: PathBuf,
    /// Default shutdown grace period (`--executor_shutdown_grace_period`).
    pub shutdown_grace: Duration,
    /// Run executors as the task's user (only effective when the agent runs as root).
    pub switch_user: bool,
    /// The agent's `PATH`, passed on to executors.
    pub path: Option<String>,
    /// The agent's `HOME`, passed on to executors.
    pub home: Option<String>,
    /// Processes plus threads per container (`--default_container_pids_limit`).
    pub pids_limit: Option<u64>,
    /// Containerizers and Docker settings (`--containerizers`, `--docker_*`).
    pub docker: crate::docker::DockerLaunch,
    /// The fetcher cache (`--fetcher_cache_dir`, `--fetcher_cache_size`).
    pub fetcher: FetcherLaunch,
}

/// The agent's fetcher settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetcherLaunch {
    /// The shared fetcher cache (used by URIs with `cache: true`).
    pub cache: Option<corral_fetcher::CacheConfig>,
}

/// What the agent fetches into a sandbox before the executor starts: a custom executor's
/// own `ExecutorInfo.command.uris` (the built-in executors fetch their tasks' URIs
/// themselves), and the cache settings (the task user's cache directory is prepared too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchPlan {
    /// URIs to fetch into the sandbox.
    pub uris: Vec<v1::command_info::Uri>,
    /// The fetcher cache.
    pub cache: Option<corral_fetcher::CacheConfig>,
}

/// The [`FetchPlan`] of an executor.
pub fn fetch_plan(kind: ExecutorKind, info: &v1::ExecutorInfo, config: &LaunchConfig) -> FetchPlan {
    let uris = match kind {
        ExecutorKind::Custom => info
            .command
            .as_ref()
            .map(|c| c.uris.clone())
            .unwrap_or_default(),
        ExecutorKind::Command | ExecutorKind::Default => Vec::new(),
    };
    FetchPlan {
        uris,
        cache: config.fetcher.cache.clone(),
    }
}

/// Carries out a [`FetchPlan`] in `directory` (after [`prepare_sandbox`]): gives `user` a
/// cache directory of its own (so an executor running as `user` can use the cache), then
/// fetches the URIs, owned by `user`. The error is the launch failure's message.
pub async fn prepare_fetch(
    plan: &FetchPlan,
    directory: &Path,
    user: Option<&str>,
) -> Result<(), String> {
    if let (Some(cache), Some(user)) = (&plan.cache, user) {
        if let Err(error) = user_cache_dir(cache, user) {
            tracing::warn!(user, %error, "cannot prepare the user's fetcher cache directory");
        }
    }
    if plan.uris.is_empty() {
        return Ok(());
    }
    let owner = user.map(corral_fetcher::Owner::lookup).transpose()?;
    let fetcher = corral_fetcher::Fetcher::new(corral_fetcher::FetcherConfig {
        cache: plan.cache.clone(),
        stall_timeout: None,
    })
    .map_err(|e| e.to_string())?;
    let uris: Vec<corral_fetcher::UriSpec> = plan
        .uris
        .iter()
        .map(corral_fetcher::UriSpec::from)
        .collect();
    fetcher
        .fetch_all(&uris, directory, owner.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(directory = %directory.display(), uris = uris.len(), "fetched the executor's URIs");
    Ok(())
}

/// `<cache>/<user>`, owned by `user`, mode 0700 (the cache root stays the agent's, 0755).
fn user_cache_dir(cache: &corral_fetcher::CacheConfig, user: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let owner = corral_fetcher::Owner::lookup(user).map_err(io::Error::other)?;
    std::fs::create_dir_all(&cache.dir)?;
    let dir = corral_fetcher::cache::Cache::new(cache.clone()).user_dir(Some(user));
    if !dir.exists() {
        std::fs::create_dir(&dir)?;
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    std::os::unix::fs::chown(&dir, Some(owner.uid), Some(owner.gid))
}

/// What the runtime needs to start one executor container.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRequest {
    /// The executor's framework.
    pub framework_id: String,
    /// The executor.
    pub executor_id: String,
    /// The new container's id.
    pub container_id: String,
    /// The sandbox to create.
    pub directory: PathBuf,
    /// The program.
    pub command: Command,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// Run as this user (and own the sandbox), if set.
    pub user: Option<String>,
    /// Persistent volumes to expose in the sandbox before the executor starts.
    pub volumes: Vec<crate::volumes::VolumeMount>,
    /// The container's resource limits (see [`container_limits`]).
    pub limits: ResourceLimits,
    /// The container image (see [`crate::image::container_image`]).
    pub image: Option<corral_containerizer::ContainerImage>,
    /// Whole GPUs for the container (see [`crate::image::container_gpus`]).
    pub gpus: u32,
    /// POSIX resource limits (see [`container_rlimits`]).
    pub rlimits: Vec<corral_containerizer::Rlimit>,
    /// What to fetch before the executor starts.
    pub fetch: FetchPlan,
}

/// The limits of an executor's container: the executor's resources plus `tasks'` (plus the
/// command executor's overhead for [`ExecutorKind::Command`]); see the module docs. A task's
/// `limits` (Mesos 1.9+ `TaskInfo.limits`) replace its `cpus`/`mem` request, and an infinite
/// one lifts the limit. A resource that adds up to nothing (e.g. no `mem` anywhere) is not
/// limited.
pub fn container_limits(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    tasks: &[v1::TaskInfo],
    pids_limit: Option<u64>,
) -> ResourceLimits {
    let shares = tasks.iter().map(|t| (t.resources.as_slice(), &t.limits));
    limits_of(kind, info, shares, pids_limit)
}

/// [`container_limits`] for the tasks an executor holds now (their `Task` records), used to
/// resize a running container when a task joins or ends.
pub fn running_limits<'a>(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    tasks: impl Iterator<Item = &'a v1::Task> + Clone,
    pids_limit: Option<u64>,
) -> ResourceLimits {
    let shares = tasks.map(|t| (t.resources.as_slice(), &t.limits));
    limits_of(kind, info, shares, pids_limit)
}

/// One task's share of its container: its resources and its `limits`.
type TaskShare<'a> = (&'a [v1::Resource], &'a BTreeMap<String, v1::value::Scalar>);

fn limits_of<'a>(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    tasks: impl Iterator<Item = TaskShare<'a>> + Clone,
    pids_limit: Option<u64>,
) -> ResourceLimits {
    let (cpus_overhead, mem_overhead) = match kind {
        ExecutorKind::Command => (COMMAND_EXECUTOR_CPUS, COMMAND_EXECUTOR_MEM_MB),
        ExecutorKind::Default | ExecutorKind::Custom => (0.0, 0.0),
    };
    let cpus = summed_limit("cpus", info, tasks.clone(), cpus_overhead).map(|c| c.max(MIN_CPUS));
    let mem_bytes = summed_limit("mem", info, tasks.clone(), mem_overhead)
        .map(|mb| mb_to_bytes(mb.max(MIN_MEM_MB)));
    ResourceLimits {
        cpus,
        mem_bytes,
        pids: pids_limit.filter(|&n| n > 0),
        disk_bytes: summed_limit("disk", info, tasks, 0.0)
            .filter(|mb| *mb > 0.0)
            .map(mb_to_bytes),
    }
}

/// The executor's `name` plus each task's limit or request of it, plus `overhead`; `None`
/// when unlimited (an infinite task limit) or nothing.
fn summed_limit<'a>(
    name: &str,
    info: &v1::ExecutorInfo,
    tasks: impl Iterator<Item = TaskShare<'a>>,
    overhead: f64,
) -> Option<f64> {
    // Persistent volumes live outside the sandbox: not part of its disk quota (Mesos's
    // `disk/du` does not count them either).
    let is_volume = |r: &v1::Resource| r.disk.as_ref().is_some_and(|d| d.persistence.is_some());
    let scalar = |list: &[v1::Resource]| {
        if !list.iter().any(is_volume) {
            return sum_resources([list]).scalar(name).as_f64();
        }
        let own: Vec<v1::Resource> = list.iter().filter(|r| !is_volume(r)).cloned().collect();
        sum_resources([own.as_slice()]).scalar(name).as_f64()
    };
    let mut total = scalar(&info.resources) + overhead;
    for (resources, limits) in tasks {
        match limits.get(name).map(|limit| limit.value) {
            Some(value) if value == f64::INFINITY => return None,
            Some(value) if value.is_finite() && value >= 0.0 => total += value,
            _ => total += scalar(resources),
        }
    }
    (total.is_finite() && total > 0.0).then_some(total)
}

/// Whole bytes of a (finite, positive) number of megabytes.
// The value is finite and positive; `as` saturates on the (absurd) overflow.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn mb_to_bytes(mb: f64) -> u64 {
    (mb * 1024.0 * 1024.0).round() as u64
}

/// `<work_dir>/slaves/<agent>/frameworks/<fid>/executors/<eid>/runs/<cid>`.
pub fn sandbox_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    work_dir
        .join("slaves")
        .join(agent_id)
        .join("frameworks")
        .join(framework_id)
        .join("executors")
        .join(executor_id)
        .join("runs")
        .join(container_id)
}

/// The program of an executor. Custom executors run their `ExecutorInfo.command`
/// (`shell: true`, the default, runs `/bin/sh -c value`; otherwise `value` is executed with
/// `arguments[1..]`). Its `command.uris` are fetched before it starts ([`FetchPlan`]).
pub fn executor_command(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    binary: &Path,
) -> Result<Command, String> {
    let program = binary.display().to_string();
    match kind {
        ExecutorKind::Command if crate::docker::is_docker(info.container.as_ref()) => {
            Ok(Command::Exec {
                program,
                args: vec!["executor".to_string(), "--docker".to_string()],
            })
        }
        ExecutorKind::Command => Ok(Command::Exec {
            program,
            args: vec!["executor".to_string()],
        }),
        ExecutorKind::Default => Ok(Command::Exec {
            program,
            args: vec!["executor".to_string(), "--default".to_string()],
        }),
        ExecutorKind::Custom => {
            let command = info
                .command
                .as_ref()
                .ok_or_else(|| "Executor has no 'command' to run".to_string())?;
            let value = command.value.clone().unwrap_or_default();
            if value.is_empty() {
                return Err("Executor command has no 'value'".to_string());
            }
            if command.shell.unwrap_or(true) {
                Ok(Command::Shell(value))
            } else {
                Ok(Command::Exec {
                    program: value,
                    args: command.arguments.iter().skip(1).cloned().collect(),
                })
            }
        }
    }
}

/// The built-in command executor's ExecutorInfo for a command task (executor id = task id).
#[allow(deprecated)] // `source` is deprecated in Mesos but still what `/state` shows.
pub fn command_executor_info(
    task: &v1::TaskInfo,
    framework_id: &str,
    binary: &Path,
) -> v1::ExecutorInfo {
    let shown = task
        .command
        .as_ref()
        .and_then(|c| c.value.clone())
        .unwrap_or_default();
    let shown: String = shown.chars().take(128).collect();
    let program = binary.display().to_string();
    // A DOCKER task's executor is the Docker executor, in charge of the task's container.
    let docker = crate::docker::is_docker(task.container.as_ref());
    let mut arguments = vec![program.clone(), "executor".to_string()];
    if docker {
        arguments.push("--docker".to_string());
    }
    v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: task.task_id.value.clone(),
        },
        container: task.container.clone().filter(|_| docker),
        framework_id: Some(v1::FrameworkId {
            value: framework_id.to_string(),
        }),
        name: Some(format!(
            "Command Executor (Task: {}) (Command: sh -c '{shown}')",
            task.task_id.value
        )),
        source: Some(task.task_id.value.clone()),
        command: Some(v1::CommandInfo {
            value: Some(program),
            arguments,
            shell: Some(false),
            // Like Mesos, the command executor runs as the task's user.
            user: task
                .command
                .as_ref()
                .and_then(|c| c.user.clone())
                .filter(|u| !u.is_empty()),
            ..Default::default()
        }),
        labels: task.labels.clone(),
        ..Default::default()
    }
}

/// The executor's shutdown grace period: its own, else the agent's default.
pub fn shutdown_grace(info: &v1::ExecutorInfo, default: Duration) -> Duration {
    info.shutdown_grace_period
        .as_ref()
        .and_then(|d| u64::try_from(d.nanoseconds).ok())
        .map_or(default, Duration::from_nanos)
}

/// The executor's environment: the `MESOS_*` variables of Mesos's `executorEnvironment()`,
/// `PATH`/`HOME` from the agent, then the ExecutorInfo's command environment on top.
pub fn executor_env(
    config: &LaunchConfig,
    agent_id: &str,
    framework: &v1::FrameworkInfo,
    info: &v1::ExecutorInfo,
    directory: &Path,
) -> Vec<(String, String)> {
    let framework_id = framework.id.as_ref().map_or("", |id| id.value.as_str());
    let directory_path = directory.to_path_buf();
    let directory = directory.display().to_string();
    let checkpoint = framework.checkpoint.unwrap_or(false);
    let endpoint = config.endpoint.to_string();
    let mut env: Vec<(String, String)> = vec![
        ("MESOS_FRAMEWORK_ID".into(), framework_id.into()),
        ("MESOS_EXECUTOR_ID".into(), info.executor_id.value.clone()),
        ("MESOS_DIRECTORY".into(), directory.clone()),
        ("MESOS_SANDBOX".into(), directory),
        ("MESOS_AGENT_ENDPOINT".into(), endpoint.clone()),
        ("MESOS_SLAVE_ID".into(), agent_id.into()),
        ("MESOS_SLAVE_PID".into(), format!("slave(1)@{endpoint}")),
        (
            "MESOS_CHECKPOINT".into(),
            if checkpoint { "1" } else { "0" }.into(),
        ),
        ("MESOS_HTTP_COMMAND_EXECUTOR".into(), "1".into()),
        (
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
            format_duration(shutdown_grace(info, config.shutdown_grace)),
        ),
        ("LIBPROCESS_PORT".into(), "0".into()),
    ];
    if checkpoint {
        env.push(("MESOS_RECOVERY_TIMEOUT".into(), "15mins".into()));
        env.push(("MESOS_SUBSCRIPTION_BACKOFF_MAX".into(), "2secs".into()));
    }
    let path = config
        .path
        .clone()
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    env.push(("PATH".into(), path));
    if let Some(home) = &config.home {
        env.push(("HOME".into(), home.clone()));
    }
    if let Some(cache) = &config.fetcher.cache {
        env.push((
            "MESOS_FETCHER_CACHE_DIR".into(),
            cache.dir.display().to_string(),
        ));
        env.push((
            "MESOS_FETCHER_CACHE_SIZE".into(),
            cache.max_bytes.to_string(),
        ));
    }
    if crate::docker::is_docker(info.container.as_ref()) {
        env.extend(crate::docker::executor_env(&config.docker, &directory_path));
    }
    let variables = info
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .map(|e| e.variables.as_slice())
        .unwrap_or_default();
    for variable in variables {
        let Some(value) = variable.value.clone() else {
            tracing::warn!(name = %variable.name, "skipping environment variable without a plain value (secrets are not supported)");
            continue;
        };
        if variable.name.is_empty() || variable.name.contains(['=', '\0']) || value.contains('\0') {
            tracing::warn!(name = %variable.name.escape_default(), "skipping invalid environment variable");
            continue;
        }
        env.retain(|(name, _)| name != &variable.name);
        env.push((variable.name.clone(), value));
    }
    env
}

/// The user to run an executor as: the command's user, else the framework's, when
/// `switch_user` is on and the agent runs as root (root needs no switch).
pub fn executor_user(
    config: &LaunchConfig,
    framework: &v1::FrameworkInfo,
    info: &v1::ExecutorInfo,
) -> Option<String> {
    if !config.switch_user || !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = info
        .command
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_else(|| framework.user.clone());
    (!user.is_empty() && user != "root").then_some(user)
}

/// Creates the sandbox (owned by `user` if set) and points `runs/latest` at it.
pub fn prepare_sandbox(directory: &Path, user: Option<&str>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // An unknown user fails the launch before anything is created.
    let owner = match user {
        Some(user) => {
            let found = nix::unistd::User::from_name(user).map_err(io::Error::from)?;
            Some(found.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("user '{user}' does not exist on this agent"),
                )
            })?)
        }
        None => None,
    };
    std::fs::create_dir_all(directory)?;
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o750))?;
    if let Some(found) = owner {
        nix::unistd::chown(directory, Some(found.uid), Some(found.gid)).map_err(io::Error::from)?;
    }
    let (Some(runs), Some(name)) = (directory.parent(), directory.file_name()) else {
        return Ok(());
    };
    let temporary = runs.join(format!(".latest.{}", name.to_string_lossy()));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(name, &temporary)?;
    std::fs::rename(&temporary, runs.join("latest"))
}

/// The POSIX resource limits of an executor's container (`ContainerInfo.rlimit_info`, set by
/// the `posix/rlimits` isolator): for the command executor those of its task's container (as
/// for images, the task's `ContainerInfo` describes the executor's container), else those of
/// the executor's own container. An invalid limit is an error that fails the launch.
pub fn container_rlimits(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    tasks: &[v1::TaskInfo],
) -> Result<Vec<corral_containerizer::Rlimit>, String> {
    if kind == ExecutorKind::Command {
        return rlimits_of(tasks.first().and_then(|t| t.container.as_ref()));
    }
    if tasks.iter().any(|t| {
        t.container
            .as_ref()
            .and_then(|c| c.rlimit_info.as_ref())
            .is_some_and(|r| !r.rlimits.is_empty())
    }) {
        return Err("RLimits on the tasks of a task group are not supported".into());
    }
    rlimits_of(info.container.as_ref())
}

/// Converts a container's `rlimit_info` (see [`corral_containerizer::rlimits`]).
pub fn rlimits_of(
    container: Option<&v1::ContainerInfo>,
) -> Result<Vec<corral_containerizer::Rlimit>, String> {
    use corral_containerizer::{Rlimit, RlimitResource};
    let Some(info) = container.and_then(|c| c.rlimit_info.as_ref()) else {
        return Ok(Vec::new());
    };
    let limits = info
        .rlimits
        .iter()
        .map(|limit| {
            let name = limit.r#type().as_str_name();
            let resource = RlimitResource::from_mesos_name(name).ok_or_else(|| {
                format!("Invalid rlimit: unknown type {name} ({:?})", limit.r#type)
            })?;
            Rlimit::from_parts(resource, limit.soft, limit.hard).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    corral_containerizer::rlimits::validate_rlimits(&limits).map_err(|e| e.to_string())?;
    Ok(limits)
}

/// The containerizer's launch spec for a request.
pub fn launch_spec(request: &LaunchRequest) -> Result<LaunchSpec, String> {
    let id = ContainerId::new(request.container_id.clone()).map_err(|e| e.to_string())?;
    let mut spec = LaunchSpec::new(id, request.command.clone(), request.directory.clone());
    spec.env = request.env.clone();
    spec.inherit_env = false;
    spec.user = request.user.clone();
    spec.resources = request.limits;
    spec.image = request.image.clone();
    spec.gpus = request.gpus;
    spec.rlimits = request.rlimits.clone();
    crate::image::run_executor_as_root_for_image(&mut spec);
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

#[cfg(test)]
mod tests;
