//! Running the command task of an image-based container: the executor stays on the host in
//! the sandbox; the task enters the rootfs the agent provisioned (named by
//! [`TASK_ROOTFS_ENV`]), with the sandbox at `/mnt/mesos/sandbox`, the image's `Env` under
//! the task's variables, and the image's `Entrypoint`/`Cmd` merged with the command as
//! Mesos's `docker/runtime` does ([`ImageConfig::resolve_command`]).
//!
//! The task's user: the command's `user` if it names one (`root` means no switch), else the
//! framework's user the agent passed in [`TASK_USER_ENV`] (a non-root user, with
//! `--switch_user`), both resolved on the host; else the image's `User` (`name`, `uid`,
//! `name:group`, `uid:gid`), resolved in the image's own `/etc/passwd` and `/etc/group`
//! ([`resolve_image_user`]) as Docker does; else root. (Mesos's `docker/runtime` ignores the
//! image's `User`; Corral follows Docker here, below any user the task or framework names.)
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
    process.env_remove(TASK_USER_ENV);
    match choose_user(
        command.user.as_deref(),
        task_user.as_deref(),
        task.config.user.as_deref(),
    ) {
        TaskUser::Host(user) => {
            let user = Some(user).filter(|u| *u != "root");
            plan.install(&mut process, user).map_err(rootfs_error)?;
        }
        TaskUser::Image(spec) => {
            let ids = resolve_image_user(&task.rootfs, spec).map_err(rootfs_error)?;
            tracing::info!(
                user = spec,
                uid = ids.uid,
                gid = ids.gid,
                "running as the image's user"
            );
            plan.install_ids(&mut process, ids.uid, ids.gid, &ids.groups);
        }
        TaskUser::Root => plan.install(&mut process, None).map_err(rootfs_error)?,
    }
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

/// Whose identity the task takes (see the module docs).
#[derive(Debug, PartialEq, Eq)]
enum TaskUser<'a> {
    /// A user named by the task or framework, resolved on the host.
    Host(&'a str),
    /// The image's `User`, resolved in the image.
    Image(&'a str),
    /// Stay root.
    Root,
}

/// The precedence: the command's user, the framework's (from the agent), the image's.
fn choose_user<'a>(
    command: Option<&'a str>,
    framework: Option<&'a str>,
    image: Option<&'a str>,
) -> TaskUser<'a> {
    let named = |u: Option<&'a str>| u.map(str::trim).filter(|u| !u.is_empty());
    if let Some(user) = named(command) {
        return TaskUser::Host(user);
    }
    if let Some(user) = named(framework).filter(|u| *u != "root") {
        return TaskUser::Host(user);
    }
    match named(image) {
        Some("root" | "0" | "root:root" | "0:0") | None => TaskUser::Root,
        Some(spec) => TaskUser::Image(spec),
    }
}

/// The numeric identity of an image's `User`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIds {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary groups (the image's `/etc/group` entries that list the user).
    pub groups: Vec<u32>,
}

/// Why an image's `User` cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageUserError {
    /// A user name that the image's `/etc/passwd` does not have.
    #[error("the image's user '{0}' is not in the image's /etc/passwd")]
    UnknownUser(String),
    /// A group name that the image's `/etc/group` does not have.
    #[error("the image's group '{0}' is not in the image's /etc/group")]
    UnknownGroup(String),
    /// An empty user or group part.
    #[error("the image's User '{0}' is malformed")]
    Malformed(String),
}

/// Resolves an image's `User` (`name`, `uid`, `name:group`, `uid:gid`, …) in the image's
/// `/etc/passwd` and `/etc/group` under `rootfs`. A numeric uid need not exist (then its
/// group is 0, as in Docker); a name must.
pub fn resolve_image_user(rootfs: &Path, spec: &str) -> Result<ImageIds, ImageUserError> {
    let read = |name: &str| {
        // Read through the rootfs, never following an absolute symlink out of it.
        let path = rootfs.join("etc").join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => std::fs::read_to_string(&path).unwrap_or_default(),
            _ => String::new(),
        }
    };
    resolve_user_in(&read("passwd"), &read("group"), spec)
}

/// [`resolve_image_user`] on the files' contents (pure).
pub fn resolve_user_in(passwd: &str, group: &str, spec: &str) -> Result<ImageIds, ImageUserError> {
    let malformed = || ImageUserError::Malformed(spec.to_string());
    let (user, group_part) = match spec.split_once(':') {
        Some((user, group)) => (user.trim(), Some(group.trim())),
        None => (spec.trim(), None),
    };
    if user.is_empty() || group_part.is_some_and(str::is_empty) {
        return Err(malformed());
    }
    // name:x:uid:gid:...
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let found = match user.parse::<u32>() {
        Ok(uid) => entries
            .iter()
            .find(|f| f[2].parse::<u32>() == Ok(uid))
            .map(|f| (f[0], uid, f[3].parse::<u32>().unwrap_or(0))),
        Err(_) => Some(
            entries
                .iter()
                .find(|f| f[0] == user)
                .and_then(|f| Some((f[0], f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?)))
                .ok_or_else(|| ImageUserError::UnknownUser(user.to_string()))?,
        ),
    };
    let (name, uid, mut gid) = match (found, user.parse::<u32>()) {
        (Some(found), _) => (Some(found.0), found.1, found.2),
        (None, Ok(uid)) => (None, uid, 0),
        (None, Err(_)) => return Err(ImageUserError::UnknownUser(user.to_string())),
    };
    // name:x:gid:member,member
    let groups: Vec<Vec<&str>> = group
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    if let Some(wanted) = group_part {
        gid = match wanted.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == wanted)
                .and_then(|f| f[2].parse::<u32>().ok())
                .ok_or_else(|| ImageUserError::UnknownGroup(wanted.to_string()))?,
        };
    }
    let mut supplementary: Vec<u32> = match name {
        Some(name) => groups
            .iter()
            .filter(|f| {
                f.get(3)
                    .is_some_and(|m| m.split(',').any(|m| m.trim() == name))
            })
            .filter_map(|f| f[2].parse::<u32>().ok())
            .collect(),
        None => Vec::new(),
    };
    if !supplementary.contains(&gid) {
        supplementary.insert(0, gid);
    }
    supplementary.dedup();
    Ok(ImageIds {
        uid,
        gid,
        groups: supplementary,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          # a comment\n\
                          app:x:4321:4322:app:/home/app:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/:/bin/false\n";
    const GROUP: &str = "root:x:0:\napp:x:4322:\nextra:x:4400:app,other\nnogroup:x:65534:\n";

    fn ids(uid: u32, gid: u32, groups: &[u32]) -> ImageIds {
        ImageIds {
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn names_resolve_in_the_image() {
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "app").unwrap(),
            ids(4321, 4322, &[4322, 4400])
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "nobody").unwrap(),
            ids(65534, 65534, &[65534])
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "app:nogroup").unwrap(),
            ids(4321, 65534, &[65534, 4400])
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "ghost"),
            Err(ImageUserError::UnknownUser("ghost".into()))
        );
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "app:ghosts"),
            Err(ImageUserError::UnknownGroup("ghosts".into()))
        );
    }

    #[test]
    fn numeric_ids_need_no_entry() {
        assert_eq!(
            resolve_user_in(PASSWD, GROUP, "4321").unwrap(),
            ids(4321, 4322, &[4322, 4400])
        );
        assert_eq!(resolve_user_in("", "", "5000").unwrap(), ids(5000, 0, &[0]));
        assert_eq!(
            resolve_user_in("", "", "5000:5001").unwrap(),
            ids(5000, 5001, &[5001])
        );
        assert!(matches!(
            resolve_user_in(PASSWD, GROUP, ":5"),
            Err(ImageUserError::Malformed(_))
        ));
        assert!(matches!(
            resolve_user_in(PASSWD, GROUP, "5:"),
            Err(ImageUserError::Malformed(_))
        ));
    }

    #[test]
    fn the_task_or_framework_user_wins_over_the_image() {
        assert_eq!(
            choose_user(Some("alice"), Some("bob"), Some("app")),
            TaskUser::Host("alice")
        );
        assert_eq!(
            choose_user(Some("root"), None, Some("app")),
            TaskUser::Host("root")
        );
        assert_eq!(
            choose_user(None, Some("bob"), Some("app")),
            TaskUser::Host("bob")
        );
        assert_eq!(
            choose_user(None, Some("root"), Some("app")),
            TaskUser::Image("app")
        );
        assert_eq!(choose_user(None, None, Some("0")), TaskUser::Root);
        assert_eq!(choose_user(Some(""), None, None), TaskUser::Root);
    }
}
