//! Running the command task of an image-based container: the executor stays on the host in
//! the sandbox; the task enters the rootfs the agent provisioned (named by
//! [`TASK_ROOTFS_ENV`]), with the sandbox at `/mnt/mesos/sandbox`, the image's `Env` under
//! the task's variables, and the image's `Entrypoint`/`Cmd` merged with the command as
//! Mesos's `docker/runtime` does ([`ImageConfig::resolve_command`]).
//!
//! [`ImageConfig::resolve_command`]: corral_containerizer::image::ImageConfig::resolve_command

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

use corral_api::v1::CommandInfo;
use corral_containerizer::image::{
    RootfsPlan, TaskCommand, TaskRootfs, SANDBOX_MOUNT_POINT, TASK_ROOTFS_ENV, TASK_USER_ENV,
};

use crate::process::{variables, SpawnError};

fn rootfs_error(error: impl std::fmt::Display) -> SpawnError {
    SpawnError::Rootfs(error.to_string())
}

/// The process for `command` inside `task`'s rootfs.
pub(crate) fn command_in_rootfs(
    command: &CommandInfo,
    task: &TaskRootfs,
    sandbox: Option<&Path>,
) -> Result<tokio::process::Command, SpawnError> {
    let sandbox = sandbox.ok_or_else(|| rootfs_error("the executor has no sandbox"))?;
    let (program, argv) = task
        .config
        .resolve_command(&TaskCommand {
            shell: command.shell.unwrap_or(true),
            value: command.value.clone(),
            arguments: command.arguments.clone(),
        })
        .map_err(rootfs_error)?;
    let mut process = std::process::Command::new(&program);
    if let Some((argv0, rest)) = argv.split_first() {
        process.arg0(argv0).args(rest);
    }
    process
        .env_remove(TASK_ROOTFS_ENV)
        .envs(task.config.env_pairs())
        .envs(variables(command))
        .env("MESOS_SANDBOX", SANDBOX_MOUNT_POINT)
        .current_dir(sandbox);
    let plan = RootfsPlan::prepare(&task.rootfs, sandbox, &task.config.working_dir())
        .map_err(rootfs_error)?;
    let task_user = std::env::var(TASK_USER_ENV).ok();
    let user = command
        .user
        .as_deref()
        .or(task_user.as_deref())
        .filter(|u| !u.is_empty() && *u != "root");
    process.env_remove(TASK_USER_ENV);
    plan.install(&mut process, user).map_err(rootfs_error)?;
    process
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    tracing::info!(rootfs = %task.rootfs.display(), program, "running the task in its image rootfs");
    let mut process = tokio::process::Command::from(process);
    process.kill_on_drop(false);
    Ok(process)
}
