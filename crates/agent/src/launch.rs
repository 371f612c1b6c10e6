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
    let (cpus_overhead, mem_overhead) = match kind {
        ExecutorKind::Command => (COMMAND_EXECUTOR_CPUS, COMMAND_EXECUTOR_MEM_MB),
        ExecutorKind::Default | ExecutorKind::Custom => (0.0, 0.0),
    };
    let cpus = summed_limit("cpus", info, tasks, cpus_overhead).map(|c| c.max(MIN_CPUS));
    let mem_bytes =
        summed_limit("mem", info, tasks, mem_overhead).map(|mb| mb_to_bytes(mb.max(MIN_MEM_MB)));
    ResourceLimits {
        cpus,
        mem_bytes,
        pids: pids_limit.filter(|&n| n > 0),
    }
}

/// The executor's `name` plus each task's limit or request of it, plus `overhead`; `None`
/// when unlimited (an infinite task limit) or nothing.
fn summed_limit(
    name: &str,
    info: &v1::ExecutorInfo,
    tasks: &[v1::TaskInfo],
    overhead: f64,
) -> Option<f64> {
    let scalar = |list: &[v1::Resource]| sum_resources([list]).scalar(name).as_f64();
    let mut total = scalar(&info.resources) + overhead;
    for task in tasks {
        match task.limits.get(name).map(|limit| limit.value) {
            Some(value) if value == f64::INFINITY => return None,
            Some(value) if value.is_finite() && value >= 0.0 => total += value,
            _ => total += scalar(&task.resources),
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
/// `arguments[1..]`). `command.uris` are not fetched yet.
pub fn executor_command(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    binary: &Path,
) -> Result<Command, String> {
    let program = binary.display().to_string();
    match kind {
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
            if !command.uris.is_empty() {
                tracing::warn!(
                    executor_id = %info.executor_id.value,
                    uris = command.uris.len(),
                    "command URIs are not fetched yet (no fetcher); starting the executor without them"
                );
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
    v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: task.task_id.value.clone(),
        },
        framework_id: Some(v1::FrameworkId {
            value: framework_id.to_string(),
        }),
        name: Some(format!(
            "Command Executor (Task: {}) (Command: sh -c '{shown}')",
            task.task_id.value
        )),
        source: Some(task.task_id.value.clone()),
        command: Some(v1::CommandInfo {
            value: Some(program.clone()),
            arguments: vec![program, "executor".to_string()],
            shell: Some(false),
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
    std::fs::create_dir_all(directory)?;
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o750))?;
    if let Some(user) = user {
        let found = nix::unistd::User::from_name(user).map_err(io::Error::from)?;
        let found = found.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("user '{user}' does not exist on this agent"),
            )
        })?;
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

/// The containerizer's launch spec for a request.
pub fn launch_spec(request: &LaunchRequest) -> Result<LaunchSpec, String> {
    let id = ContainerId::new(request.container_id.clone()).map_err(|e| e.to_string())?;
    let mut spec = LaunchSpec::new(id, request.command.clone(), request.directory.clone());
    spec.env = request.env.clone();
    spec.inherit_env = false;
    spec.user = request.user.clone();
    spec.resources = request.limits;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LaunchConfig {
        LaunchConfig {
            work_dir: "/w".into(),
            endpoint: "127.0.0.1:5051".parse().unwrap(),
            executor_binary: "/bin/corral".into(),
            shutdown_grace: Duration::from_secs(5),
            switch_user: false,
            path: Some("/bin".into()),
            home: None,
            pids_limit: None,
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn environment_has_the_mesos_variables() {
        let framework = v1::FrameworkInfo {
            id: Some(v1::FrameworkId { value: "fw".into() }),
            checkpoint: Some(true),
            ..Default::default()
        };
        let info = v1::ExecutorInfo {
            executor_id: v1::ExecutorId { value: "e1".into() },
            shutdown_grace_period: Some(v1::DurationInfo {
                nanoseconds: 3_000_000_000,
            }),
            command: Some(v1::CommandInfo {
                environment: Some(v1::Environment {
                    variables: vec![
                        v1::environment::Variable {
                            name: "PATH".into(),
                            value: Some("/custom".into()),
                            ..Default::default()
                        },
                        v1::environment::Variable {
                            name: "BAD=NAME".into(),
                            value: Some("x".into()),
                            ..Default::default()
                        },
                    ],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let env = executor_env(&config(), "a1", &framework, &info, Path::new("/w/sb"));
        assert_eq!(get(&env, "MESOS_FRAMEWORK_ID"), Some("fw"));
        assert_eq!(get(&env, "MESOS_EXECUTOR_ID"), Some("e1"));
        assert_eq!(get(&env, "MESOS_SANDBOX"), Some("/w/sb"));
        assert_eq!(get(&env, "MESOS_AGENT_ENDPOINT"), Some("127.0.0.1:5051"));
        assert_eq!(
            get(&env, "MESOS_SLAVE_PID"),
            Some("slave(1)@127.0.0.1:5051")
        );
        assert_eq!(get(&env, "MESOS_CHECKPOINT"), Some("1"));
        assert_eq!(
            get(&env, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"),
            Some("3secs")
        );
        assert_eq!(get(&env, "PATH"), Some("/custom"));
        assert_eq!(get(&env, "BAD=NAME"), None);
        assert_eq!(env.iter().filter(|(n, _)| n == "PATH").count(), 1);
    }

    #[test]
    fn commands() {
        let bin = Path::new("/bin/corral");
        let info = v1::ExecutorInfo::default();
        assert_eq!(
            executor_command(ExecutorKind::Default, &info, bin).unwrap(),
            Command::Exec {
                program: "/bin/corral".into(),
                args: vec!["executor".into(), "--default".into()]
            }
        );
        assert!(executor_command(ExecutorKind::Custom, &info, bin).is_err());
        let info = v1::ExecutorInfo {
            command: Some(v1::CommandInfo {
                value: Some("/usr/bin/python3".into()),
                shell: Some(false),
                arguments: vec!["python3".into(), "-c".into(), "pass".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            executor_command(ExecutorKind::Custom, &info, bin).unwrap(),
            Command::Exec {
                program: "/usr/bin/python3".into(),
                args: vec!["-c".into(), "pass".into()]
            }
        );
    }

    fn with_resources(cpus: f64, mem: f64) -> Vec<v1::Resource> {
        serde_json::from_value(serde_json::json!([
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
        ]))
        .unwrap()
    }

    fn task(cpus: f64, mem: f64) -> v1::TaskInfo {
        v1::TaskInfo {
            resources: with_resources(cpus, mem),
            ..Default::default()
        }
    }

    #[test]
    fn command_tasks_get_the_command_executor_overhead() {
        let limits = container_limits(
            ExecutorKind::Command,
            &v1::ExecutorInfo::default(),
            &[task(0.5, 32.0)],
            Some(64),
        );
        assert!((limits.cpus.unwrap() - 0.6).abs() < 1e-9, "{limits:?}");
        assert_eq!(limits.mem_bytes, Some(64 << 20));
        assert_eq!(limits.pids, Some(64));
    }

    #[test]
    fn executor_limits_add_its_resources_and_its_tasks() {
        let info = v1::ExecutorInfo {
            resources: with_resources(0.1, 32.0),
            ..Default::default()
        };
        let tasks = [task(1.0, 100.0), task(0.5, 28.0)];
        let limits = container_limits(ExecutorKind::Default, &info, &tasks, None);
        assert!((limits.cpus.unwrap() - 1.6).abs() < 1e-9, "{limits:?}");
        assert_eq!(limits.mem_bytes, Some(160 << 20));
        assert_eq!(limits.pids, None);
        // Custom executors get no overhead.
        let limits = container_limits(
            ExecutorKind::Custom,
            &v1::ExecutorInfo::default(),
            &[task(2.0, 48.0)],
            None,
        );
        assert_eq!(limits.cpus, Some(2.0));
        assert_eq!(limits.mem_bytes, Some(48 << 20));
    }

    #[test]
    fn limits_have_floors_and_absent_resources_are_unlimited() {
        let limits = container_limits(
            ExecutorKind::Custom,
            &v1::ExecutorInfo::default(),
            &[task(0.001, 1.0)],
            Some(0),
        );
        assert_eq!(limits.cpus, Some(MIN_CPUS));
        assert_eq!(limits.mem_bytes, Some(32 << 20));
        assert_eq!(limits.pids, None);
        let limits = container_limits(
            ExecutorKind::Custom,
            &v1::ExecutorInfo::default(),
            &[],
            None,
        );
        assert_eq!(limits, ResourceLimits::default());
        // Invalid resources are skipped, not trusted.
        let bad = v1::TaskInfo {
            resources: serde_json::from_value(serde_json::json!([
                {"name": "mem", "type": "SCALAR", "scalar": {"value": -5.0}}
            ]))
            .unwrap(),
            ..Default::default()
        };
        let limits = container_limits(
            ExecutorKind::Custom,
            &v1::ExecutorInfo::default(),
            &[bad],
            None,
        );
        assert_eq!(limits.mem_bytes, None);
    }

    #[test]
    fn task_limits_replace_requests() {
        let mut limited = task(0.5, 64.0);
        limited
            .limits
            .insert("mem".into(), v1::value::Scalar { value: 256.0 });
        limited.limits.insert(
            "cpus".into(),
            v1::value::Scalar {
                value: f64::INFINITY,
            },
        );
        let limits = container_limits(
            ExecutorKind::Command,
            &v1::ExecutorInfo::default(),
            &[limited],
            None,
        );
        assert_eq!(limits.mem_bytes, Some((256 + 32) << 20));
        assert_eq!(limits.cpus, None, "an infinite limit lifts the cap");
    }

    #[test]
    fn launch_spec_carries_the_limits() {
        let limits = ResourceLimits {
            cpus: Some(0.6),
            mem_bytes: Some(64 << 20),
            pids: Some(32),
        };
        let request = LaunchRequest {
            framework_id: "f".into(),
            executor_id: "e".into(),
            container_id: "c1".into(),
            directory: "/tmp".into(),
            command: Command::Shell("true".into()),
            env: vec![],
            user: None,
            volumes: vec![],
            limits,
        };
        assert_eq!(launch_spec(&request).unwrap().resources, limits);
    }

    #[test]
    fn sandbox_and_latest_link() {
        let dir = tempfile::tempdir().unwrap();
        let run = sandbox_dir(dir.path(), "a", "f", "e", "c1");
        prepare_sandbox(&run, None).unwrap();
        let run2 = sandbox_dir(dir.path(), "a", "f", "e", "c2");
        prepare_sandbox(&run2, None).unwrap();
        let latest = run.parent().unwrap().join("latest");
        assert_eq!(std::fs::read_link(&latest).unwrap(), Path::new("c2"));
        assert!(latest.join(".").is_dir());
    }
}
