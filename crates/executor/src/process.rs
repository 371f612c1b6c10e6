//! The OS edge: starting a task's command in its own process group, signalling the group, and
//! turning wait statuses into [`ExitStatus`].

use std::collections::HashMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;

use corral_api::v1::environment::variable::Type as VariableType;
use corral_api::v1::{CommandInfo, TaskInfo};
use nix::sys::signal::{killpg, Signal as NixSignal};
use nix::unistd::{Pid, Uid, User};

use crate::core::Signal;
use crate::status::ExitStatus;

/// Why a task's process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The task carries no command.
    #[error("the task has no command")]
    NoCommand,
    /// `shell: false` with an empty `value`.
    #[error("the command has no executable")]
    NoExecutable,
    /// `CommandInfo.user` names an unknown user.
    #[error("unknown user '{0}'")]
    UnknownUser(String),
    /// The task's container image rootfs cannot be entered.
    #[error("cannot run the task in its container image: {0}")]
    Rootfs(String),
    /// fork/exec failed.
    #[error("{program}: {error}")]
    Io {
        /// What was executed.
        program: String,
        /// The OS error.
        error: std::io::Error,
    },
}

/// The process for `info`'s command: `shell: true` (default) runs `/bin/sh -c value`,
/// `shell: false` execs `value` with argv `arguments`. The environment is the executor's plus
/// the command's variables; the working directory is `sandbox`; stdout and stderr are the
/// executor's (the sandbox files); the process leads a new process group.
pub fn command_for(
    info: &TaskInfo,
    sandbox: Option<&Path>,
) -> Result<tokio::process::Command, SpawnError> {
    let command = info.command.as_ref().ok_or(SpawnError::NoCommand)?;
    // A task with a container image runs in the rootfs the agent provisioned.
    let task_rootfs = corral_containerizer::image::TaskRootfs::from_env()
        .map_err(|e| SpawnError::Rootfs(e.to_string()))?;
    if let Some(task_rootfs) = task_rootfs {
        return crate::rootfs::command_in_rootfs(command, &task_rootfs, sandbox);
    }
    let value = command.value.clone().unwrap_or_default();
    let mut process = if command.shell.unwrap_or(true) {
        let mut sh = std::process::Command::new("/bin/sh");
        sh.arg("-c").arg(&value);
        sh
    } else {
        if value.is_empty() {
            return Err(SpawnError::NoExecutable);
        }
        let mut exec = std::process::Command::new(&value);
        if let Some((argv0, rest)) = command.arguments.split_first() {
            exec.arg0(argv0).args(rest);
        }
        exec
    };
    process.envs(variables(command));
    if let Some(dir) = sandbox {
        process.current_dir(dir);
    }
    if let Some(user) = command.user.as_deref().filter(|u| !u.is_empty()) {
        switch_user(&mut process, user)?;
    }
    process
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut process = tokio::process::Command::from(process);
    process.kill_on_drop(false);
    Ok(process)
}

/// Spawns `info`'s command (see [`command_for`]). With the agent's logger settings in the
/// environment ([`crate::logger`]) the output goes through pipes into rotated, rate-limited
/// `stdout`/`stderr` files in the sandbox instead.
pub fn spawn(info: &TaskInfo, sandbox: Option<&Path>) -> Result<tokio::process::Child, SpawnError> {
    let mut command = command_for(info, sandbox)?;
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let logger = crate::logger::LoggerConfig::from_env();
    if logger.is_some() {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .map_err(|error| SpawnError::Io { program, error })?;
    if let Some(config) = logger {
        let dir = sandbox.map_or_else(|| std::path::PathBuf::from("."), Path::to_path_buf);
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            let dir = dir.clone();
            pumps.push(tokio::spawn(async move {
                crate::logger::pump(out, &dir, "stdout", config.max_stdout_size, config).await;
            }));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(async move {
                crate::logger::pump(err, &dir, "stderr", config.max_stderr_size, config).await;
            }));
        }
        if let Some(pid) = child.id() {
            output_pumps().insert(pid, pumps);
        }
    }
    Ok(child)
}

/// The logger tasks of each task process (by pid) still copying its output.
fn output_pumps() -> std::sync::MutexGuard<'static, HashMap<u32, Vec<JoinHandle<()>>>> {
    static PUMPS: OnceLock<Mutex<HashMap<u32, Vec<JoinHandle<()>>>>> = OnceLock::new();
    PUMPS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long the output of an ended task may still be copied (a process that left the
/// task's group may keep the pipe open).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits (at most [`FLUSH_TIMEOUT`]) until the output of the ended task process `pid` is in
/// its log files; immediate when its output was not piped.
pub async fn output_flushed(pid: u32) {
    let pumps = output_pumps().remove(&pid).unwrap_or_default();
    if pumps.is_empty() {
        return;
    }
    if tokio::time::timeout(FLUSH_TIMEOUT, futures::future::join_all(pumps))
        .await
        .is_err()
    {
        tracing::warn!(pid, "the task's output is still open; not waiting for it");
    }
}

/// The command's `VALUE` variables (secrets are not resolved by the executor).
pub(crate) fn variables(command: &CommandInfo) -> Vec<(String, String)> {
    let Some(environment) = &command.environment else {
        return Vec::new();
    };
    environment
        .variables
        .iter()
        .filter(|v| v.r#type.is_none_or(|t| t == VariableType::Value as i32))
        .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
        .collect()
}

/// Runs the command as `user` when the executor is root and the user differs.
fn switch_user(process: &mut std::process::Command, user: &str) -> Result<(), SpawnError> {
    let entry = User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| SpawnError::UnknownUser(user.to_string()))?;
    let me = Uid::current();
    if me == entry.uid {
        return Ok(());
    }
    if me.is_root() {
        process.gid(entry.gid.as_raw()).uid(entry.uid.as_raw());
    } else {
        tracing::warn!(
            user,
            "cannot switch user without root; running as the executor's user"
        );
    }
    Ok(())
}

/// Sends `signal` to the process group `pid`. A group that is already gone is not an error.
pub fn signal_group(pid: u32, signal: Signal) -> Result<(), nix::Error> {
    let Ok(raw) = i32::try_from(pid) else {
        return Err(nix::Error::EINVAL);
    };
    if raw <= 1 {
        return Err(nix::Error::EINVAL);
    }
    let signal = match signal {
        Signal::Term => NixSignal::SIGTERM,
        Signal::Kill => NixSignal::SIGKILL,
    };
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(error) => Err(error),
    }
}

/// A wait status as an [`ExitStatus`].
pub fn exit_status(status: std::process::ExitStatus) -> ExitStatus {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(signal)) => ExitStatus::Signal(signal),
        (None, None) => ExitStatus::Code(-1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::v1::environment::Variable;
    use corral_api::v1::{Environment, TaskId};
    use std::time::Duration;

    fn info(command: CommandInfo) -> TaskInfo {
        TaskInfo {
            task_id: TaskId { value: "t".into() },
            command: Some(command),
            ..TaskInfo::default()
        }
    }

    async fn output(command: CommandInfo, dir: &Path) -> (ExitStatus, String) {
        let mut process = command_for(&info(command), Some(dir)).unwrap();
        process.stdout(Stdio::piped());
        let out = process.output().await.unwrap();
        (
            exit_status(out.status),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[tokio::test]
    async fn shell_commands_see_env_and_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let command = CommandInfo {
            value: Some("echo \"$GREETING\" from $(pwd); exit 3".into()),
            environment: Some(Environment {
                variables: vec![Variable {
                    name: "GREETING".into(),
                    value: Some("hello world".into()),
                    ..Variable::default()
                }],
            }),
            ..CommandInfo::default()
        };
        let (status, out) = output(command, dir.path()).await;
        assert_eq!(status, ExitStatus::Code(3));
        let canonical = dir.path().canonicalize().unwrap();
        assert_eq!(
            out.trim(),
            format!("hello world from {}", canonical.display())
        );
    }

    #[tokio::test]
    async fn exec_commands_use_the_arguments_as_argv() {
        let dir = tempfile::tempdir().unwrap();
        let command = CommandInfo {
            shell: Some(false),
            value: Some("/bin/sh".into()),
            arguments: vec![
                "sh".into(),
                "-c".into(),
                "echo $0 $1".into(),
                "zero".into(),
                "x y".into(),
            ],
            ..CommandInfo::default()
        };
        let (status, out) = output(command, dir.path()).await;
        assert_eq!(status, ExitStatus::Code(0));
        assert_eq!(out.trim(), "zero x y");
    }

    #[tokio::test]
    async fn missing_programs_fail_to_spawn() {
        let command = CommandInfo {
            shell: Some(false),
            value: Some("/nonexistent/program".into()),
            ..CommandInfo::default()
        };
        assert!(matches!(
            spawn(&info(command), None),
            Err(SpawnError::Io { .. })
        ));
        assert!(matches!(
            spawn(&TaskInfo::default(), None),
            Err(SpawnError::NoCommand)
        ));
    }

    #[tokio::test]
    async fn signalling_the_group_reaches_children() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let command = CommandInfo {
            value: Some(format!("sleep 30 & echo $! > {}; wait", pidfile.display())),
            ..CommandInfo::default()
        };
        let mut child = spawn(&info(command), Some(dir.path())).unwrap();
        let pid = child.id().unwrap();
        let mut grandchild = None;
        for _ in 0..500 {
            if let Ok(text) = std::fs::read_to_string(&pidfile) {
                if let Ok(p) = text.trim().parse::<i32>() {
                    grandchild = Some(p);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let grandchild = grandchild.unwrap();
        signal_group(pid, Signal::Term).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(exit_status(status), ExitStatus::Signal(15));
        // The background sleep got the signal too.
        let alive = |p| nix::sys::signal::kill(Pid::from_raw(p), None).is_ok();
        for _ in 0..500 {
            if !alive(grandchild) || is_zombie(grandchild) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("grandchild {grandchild} survived the group signal");
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    }

    #[test]
    fn refuses_to_signal_init_or_everyone() {
        assert!(signal_group(0, Signal::Term).is_err());
        assert!(signal_group(1, Signal::Term).is_err());
        assert!(signal_group(u32::MAX, Signal::Term).is_err());
    }
}
