//! What to launch: [`ContainerId`], [`LaunchSpec`], [`Command`] and [`ResourceLimits`].
//!
//! A spec is plain data checked by [`LaunchSpec::validate`] before anything touches the OS, so a
//! bad spec is a [`SpecError`] and changes nothing.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::error::SpecError;

/// Longest accepted container id. Ids become directory names (cgroups, runtime dirs), so they
/// must fit in one path component.
pub const MAX_CONTAINER_ID_LEN: usize = 255;

/// Identifies one container on this agent (Mesos's `ContainerID.value`, usually a UUID).
///
/// Accepted: 1..=255 bytes of ASCII letters, digits, `-`, `_` and `.`, not `.` or `..`. These
/// rules make the id safe to use as a file or cgroup name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

impl ContainerId {
    /// Checks and wraps an id.
    pub fn new(value: impl Into<String>) -> Result<Self, SpecError> {
        let value = value.into();
        let reason = if value.is_empty() {
            Some("is empty")
        } else if value.len() > MAX_CONTAINER_ID_LEN {
            Some("is longer than 255 bytes")
        } else if value == "." || value == ".." {
            Some("is a relative path component")
        } else if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            Some("may only contain ASCII letters, digits, '-', '_' and '.'")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(SpecError::InvalidContainerId { id: value, reason }),
            None => Ok(Self(value)),
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ContainerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ContainerId {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run through `/bin/sh -c <command>` (Mesos's `CommandInfo.shell = true`).
    Shell(String),
    /// Exec `program` directly with `args` (not including argv\[0\]). A program without `/` is
    /// looked up in the `PATH` of the child's environment, or in `/bin:/usr/bin` if it has none.
    Exec { program: String, args: Vec<String> },
}

impl Command {
    /// The program that will be executed.
    pub fn program(&self) -> &str {
        match self {
            Command::Shell(_) => SHELL,
            Command::Exec { program, .. } => program,
        }
    }

    /// The arguments after argv\[0\].
    pub fn args(&self) -> Vec<&str> {
        match self {
            Command::Shell(command) => vec!["-c", command.as_str()],
            Command::Exec { args, .. } => args.iter().map(String::as_str).collect(),
        }
    }
}

/// The shell used for [`Command::Shell`].
pub const SHELL: &str = "/bin/sh";

/// Resource limits of a container. The POSIX launcher ignores them; isolators enforce them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResourceLimits {
    /// CPU shares/quota in cores.
    pub cpus: Option<f64>,
    /// Memory limit in bytes.
    pub mem_bytes: Option<u64>,
    /// Maximum number of processes and threads.
    pub pids: Option<u64>,
    /// Sandbox disk quota in bytes (the agent's `disk/du` isolator measures against it).
    pub disk_bytes: Option<u64>,
}

impl ResourceLimits {
    /// Checks that every limit is usable: cpus finite and positive, no zero memory.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Some(cpus) = self.cpus {
            if !cpus.is_finite() || cpus <= 0.0 {
                return Err(SpecError::InvalidResource {
                    resource: "cpus",
                    reason: "must be a finite number greater than 0",
                });
            }
        }
        if self.mem_bytes == Some(0) {
            return Err(SpecError::InvalidResource {
                resource: "mem_bytes",
                reason: "must be greater than 0",
            });
        }
        if self.pids == Some(0) {
            return Err(SpecError::InvalidResource {
                resource: "pids",
                reason: "must be greater than 0",
            });
        }
        Ok(())
    }
}

/// A container image (Mesos's `ContainerInfo.mesos.image` of type `DOCKER`), provisioned by
/// the [`ImageIsolator`](crate::image::ImageIsolator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    /// The Docker image name, `repo[:tag]`.
    pub name: String,
    /// What runs in the image's rootfs.
    pub target: ImageTarget,
}

/// What runs in a [`ContainerImage`]'s rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageTarget {
    /// The launched program itself (an executor whose `ExecutorInfo` has the image).
    Container,
    /// Only the command executor's task: the executor runs on the host and finds the rootfs
    /// through [`TASK_ROOTFS_ENV`](crate::image::TASK_ROOTFS_ENV), as Mesos's command
    /// executor gets `--rootfs`.
    CommandTask,
}

/// Everything needed to start one container.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub container_id: ContainerId,
    pub command: Command,
    /// The child's environment. With `inherit_env == false` this is the whole environment.
    pub env: Vec<(String, String)>,
    /// Start from the agent's own environment, then apply `env` on top.
    pub inherit_env: bool,
    /// The sandbox directory; must be absolute and exist. It becomes the working directory.
    pub working_dir: PathBuf,
    /// Standard output file, relative to `working_dir`; created or appended to.
    pub stdout_path: PathBuf,
    /// Standard error file, relative to `working_dir`; created or appended to.
    pub stderr_path: PathBuf,
    /// Run as this user (setgid, supplementary groups, setuid). `None` keeps the agent's user.
    pub user: Option<String>,
    pub resources: ResourceLimits,
    /// The container image, if any (needs the `docker/runtime` isolator).
    pub image: Option<ContainerImage>,
    /// Whole GPUs for the container (the `gpu/nvidia` isolator allocates them).
    pub gpus: u32,
    /// POSIX resource limits (set by the `posix/rlimits` isolator; see [`crate::rlimits`]).
    pub rlimits: Vec<crate::rlimits::Rlimit>,
}

impl LaunchSpec {
    /// A spec with an empty environment, `stdout`/`stderr` files in the sandbox, the agent's
    /// user and no limits.
    pub fn new(
        container_id: ContainerId,
        command: Command,
        working_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            container_id,
            command,
            env: Vec::new(),
            inherit_env: false,
            working_dir: working_dir.into(),
            stdout_path: PathBuf::from("stdout"),
            stderr_path: PathBuf::from("stderr"),
            user: None,
            resources: ResourceLimits::default(),
            image: None,
            gpus: 0,
            rlimits: Vec::new(),
        }
    }

    /// Checks everything that can be checked without the OS.
    pub fn validate(&self) -> Result<(), SpecError> {
        match &self.command {
            Command::Shell(command) => no_nul("command", command)?,
            Command::Exec { program, args } => {
                if program.is_empty() {
                    return Err(SpecError::EmptyProgram);
                }
                no_nul("program", program)?;
                for arg in args {
                    no_nul("args", arg)?;
                }
            }
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(SpecError::InvalidEnvName { name: name.clone() });
            }
            no_nul("env", value)?;
        }
        if !self.working_dir.is_absolute() {
            return Err(SpecError::WorkingDirNotAbsolute {
                path: self.working_dir.clone(),
            });
        }
        no_nul_path("working_dir", &self.working_dir)?;
        sandbox_relative("stdout_path", &self.stdout_path)?;
        sandbox_relative("stderr_path", &self.stderr_path)?;
        if let Some(user) = &self.user {
            if user.is_empty() {
                return Err(SpecError::EmptyUser);
            }
            no_nul("user", user)?;
        }
        if let Some(image) = &self.image {
            crate::image::ImageReference::parse(&image.name)
                .map_err(|e| SpecError::InvalidImage(e.to_string()))?;
        }
        crate::rlimits::validate_rlimits(&self.rlimits)?;
        self.resources.validate()
    }

    /// Absolute path of the stdout file.
    pub fn stdout_file(&self) -> PathBuf {
        self.working_dir.join(&self.stdout_path)
    }

    /// Absolute path of the stderr file.
    pub fn stderr_file(&self) -> PathBuf {
        self.working_dir.join(&self.stderr_path)
    }
}

fn no_nul(field: &'static str, value: &str) -> Result<(), SpecError> {
    if value.contains('\0') {
        Err(SpecError::NulByte { field })
    } else {
        Ok(())
    }
}

fn no_nul_path(field: &'static str, path: &Path) -> Result<(), SpecError> {
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().contains(&0) {
        Err(SpecError::NulByte { field })
    } else {
        Ok(())
    }
}

/// Output files must stay inside the sandbox: relative, made only of normal components.
fn sandbox_relative(field: &'static str, path: &Path) -> Result<(), SpecError> {
    no_nul_path(field, path)?;
    let mut components = 0;
    for component in path.components() {
        match component {
            Component::Normal(_) => components += 1,
            Component::CurDir => {}
            _ => {
                return Err(SpecError::OutsideSandbox {
                    field,
                    path: path.to_path_buf(),
                })
            }
        }
    }
    if components == 0 {
        return Err(SpecError::OutsideSandbox {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LaunchSpec {
        LaunchSpec::new(
            ContainerId::new("c1").unwrap(),
            Command::Shell("true".into()),
            "/tmp",
        )
    }

    #[test]
    fn container_ids() {
        assert!(ContainerId::new("4f9a-b_c.1").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(256)] {
            assert!(
                matches!(
                    ContainerId::new(bad),
                    Err(SpecError::InvalidContainerId { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn valid_default_spec() {
        spec().validate().unwrap();
    }

    #[test]
    fn rejects_bad_specs() {
        let mut s = spec();
        s.command = Command::Exec {
            program: String::new(),
            args: vec![],
        };
        assert!(matches!(s.validate(), Err(SpecError::EmptyProgram)));

        let mut s = spec();
        s.env.push(("A=B".into(), "x".into()));
        assert!(matches!(
            s.validate(),
            Err(SpecError::InvalidEnvName { .. })
        ));

        let mut s = spec();
        s.env.push(("A".into(), "x\0y".into()));
        assert!(matches!(
            s.validate(),
            Err(SpecError::NulByte { field: "env" })
        ));

        let mut s = spec();
        s.working_dir = "relative".into();
        assert!(matches!(
            s.validate(),
            Err(SpecError::WorkingDirNotAbsolute { .. })
        ));

        for bad in ["../out", "/etc/passwd", "", "."] {
            let mut s = spec();
            s.stdout_path = bad.into();
            assert!(
                matches!(s.validate(), Err(SpecError::OutsideSandbox { .. })),
                "{bad:?}"
            );
        }

        let mut s = spec();
        s.user = Some(String::new());
        assert!(matches!(s.validate(), Err(SpecError::EmptyUser)));

        let mut s = spec();
        s.resources.cpus = Some(f64::NAN);
        assert!(matches!(
            s.validate(),
            Err(SpecError::InvalidResource { .. })
        ));
    }

    #[test]
    fn shell_command_argv() {
        let c = Command::Shell("echo hi".into());
        assert_eq!(c.program(), "/bin/sh");
        assert_eq!(c.args(), vec!["-c", "echo hi"]);
    }
}
