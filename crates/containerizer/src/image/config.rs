//! The image's runtime configuration (`Env`, `Entrypoint`, `Cmd`, `WorkingDir`, `User`) and
//! how it combines with a task's command, as Mesos's `docker/runtime` isolator:
//!
//! * `shell: true`: `/bin/sh -c <value>` (of the image); `Entrypoint`/`Cmd` are ignored.
//! * `shell: false` with a `value`: exec `value` with argv `arguments`; the image's
//!   `Entrypoint`/`Cmd` are ignored.
//! * `shell: false` without a `value`: `Entrypoint` followed by the task's `arguments`, or by
//!   `Cmd` when there are none; without an `Entrypoint`, the `arguments`, else `Cmd`.
//!
//! The environment is the image's `Env` under the task's variables; the working directory is
//! `WorkingDir`, else the sandbox (`/mnt/mesos/sandbox`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rootfs::SANDBOX_MOUNT_POINT;
use super::ImageError;

/// The environment variable through which the agent tells the command executor that its
/// task runs in a rootfs: the path of a JSON [`TaskRootfs`] file.
pub const TASK_ROOTFS_ENV: &str = "CORRAL_TASK_ROOTFS";

/// The user an image task runs as when its command names none: the command executor itself
/// runs as root (to enter the rootfs) and the agent passes the executor's would-be user here.
pub const TASK_USER_ENV: &str = "CORRAL_TASK_USER";

/// `PATH` when the image sets none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The runtime part of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `NAME=value` entries.
    #[serde(rename = "Env", default, deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "User", default)]
    pub user: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ImageConfig>,
    #[serde(default)]
    container_config: Option<ImageConfig>,
}

/// The parts of Mesos's `CommandInfo` that decide what runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskCommand {
    /// `CommandInfo.shell` (Mesos's default is `true`).
    pub shell: bool,
    pub value: Option<String>,
    pub arguments: Vec<String>,
}

impl ImageConfig {
    /// Parses a Docker/OCI image config file (`{"config": {...}}`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let file: ConfigFile = serde_json::from_slice(bytes)?;
        Ok(file.config.or(file.container_config).unwrap_or_default())
    }

    /// The image's environment as pairs, with `PATH` defaulted; malformed entries are skipped.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .env
            .iter()
            .filter_map(|e| e.split_once('='))
            .filter(|(k, _)| !k.is_empty() && !k.contains('\0'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if !pairs.iter().any(|(k, _)| k == "PATH") {
            pairs.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        pairs
    }

    /// The program and its argv (argv\[0\] included) for `command`; see the module docs.
    pub fn resolve_command(
        &self,
        command: &TaskCommand,
    ) -> Result<(String, Vec<String>), ImageError> {
        if command.shell {
            let value = command.value.clone().unwrap_or_default();
            return Ok(("/bin/sh".into(), vec!["sh".into(), "-c".into(), value]));
        }
        if let Some(value) = command.value.as_ref().filter(|v| !v.is_empty()) {
            let argv = if command.arguments.is_empty() {
                vec![value.clone()]
            } else {
                command.arguments.clone()
            };
            return Ok((value.clone(), argv));
        }
        let entrypoint = self.entrypoint.clone().unwrap_or_default();
        let cmd = self.cmd.clone().unwrap_or_default();
        let tail = if command.arguments.is_empty() {
            cmd
        } else {
            command.arguments.clone()
        };
        let argv: Vec<String> = entrypoint.into_iter().chain(tail).collect();
        match argv.first() {
            Some(program) if !program.is_empty() => Ok((program.clone(), argv)),
            _ => Err(ImageError::Unsupported(
                "no command: the task has none and the image has no Entrypoint or Cmd".into(),
            )),
        }
    }

    /// The working directory inside the container.
    pub fn working_dir(&self) -> PathBuf {
        match self.working_dir.as_deref() {
            Some(dir) if dir.starts_with('/') => PathBuf::from(dir),
            _ => PathBuf::from(SANDBOX_MOUNT_POINT),
        }
    }
}

/// What the command executor needs to run its task in a provisioned rootfs (written by the
/// [`ImageIsolator`](super::ImageIsolator), named by [`TASK_ROOTFS_ENV`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRootfs {
    /// The container's root filesystem on the host.
    pub rootfs: PathBuf,
    /// The image's runtime configuration.
    pub config: ImageConfig,
}

impl TaskRootfs {
    /// Reads the file named by [`TASK_ROOTFS_ENV`], if the variable is set.
    pub fn from_env() -> Result<Option<Self>, ImageError> {
        match std::env::var_os(TASK_ROOTFS_ENV) {
            None => Ok(None),
            Some(path) => Self::read(Path::new(&path)).map(Some),
        }
    }

    /// Reads a [`TaskRootfs`] file.
    pub fn read(path: &Path) -> Result<Self, ImageError> {
        let bytes = std::fs::read(path).map_err(ImageError::io(path))?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::BadArchive {
            archive: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Writes the file (the agent's side).
    pub fn write(&self, path: &Path) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| ImageError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(path, bytes).map_err(ImageError::io(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
        let v = |s: &[&str]| (!s.is_empty()).then(|| s.iter().map(|x| x.to_string()).collect());
        ImageConfig {
            entrypoint: v(entrypoint),
            cmd: v(cmd),
            ..ImageConfig::default()
        }
    }

    fn exec(value: Option<&str>, args: &[&str]) -> TaskCommand {
        TaskCommand {
            shell: false,
            value: value.map(str::to_owned),
            arguments: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn argv(c: &ImageConfig, t: &TaskCommand) -> Vec<String> {
        c.resolve_command(t).unwrap().1
    }

    #[test]
    fn parses_docker_configs() {
        let json = br#"{"architecture":"amd64","config":{"Env":["PATH=/bin","A=b=c"],
            "Entrypoint":null,"Cmd":["sh"],"WorkingDir":"/work","User":"1000:1000"}}"#;
        let c = ImageConfig::from_json(json).unwrap();
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.entrypoint, None);
        assert_eq!(c.working_dir(), PathBuf::from("/work"));
        assert_eq!(
            c.env_pairs(),
            vec![("PATH".into(), "/bin".into()), ("A".into(), "b=c".into())]
        );
        let c = ImageConfig::from_json(br#"{"config":{"Env":null}}"#).unwrap();
        assert_eq!(c.env_pairs(), vec![("PATH".into(), DEFAULT_PATH.into())]);
        assert_eq!(c.working_dir(), PathBuf::from("/mnt/mesos/sandbox"));
        assert!(ImageConfig::from_json(b"[1]").is_err());
    }

    #[test]
    fn launch_command_table() {
        let both = config(&["/entry", "e1"], &["c1", "c2"]);
        let entry = config(&["/entry"], &[]);
        let cmd = config(&[], &["/cmd", "c1"]);
        let none = config(&[], &[]);
        // shell: the image is ignored.
        let shell = TaskCommand {
            shell: true,
            value: Some("echo hi".into()),
            arguments: vec![],
        };
        assert_eq!(
            both.resolve_command(&shell).unwrap(),
            (
                "/bin/sh".into(),
                vec!["sh".into(), "-c".into(), "echo hi".into()]
            )
        );
        // A value overrides Entrypoint and Cmd.
        assert_eq!(argv(&both, &exec(Some("/v"), &[])), vec!["/v"]);
        assert_eq!(
            argv(&both, &exec(Some("/v"), &["v0", "a"])),
            vec!["v0", "a"]
        );
        // No value: Entrypoint + (arguments or Cmd).
        assert_eq!(
            argv(&both, &exec(None, &[])),
            vec!["/entry", "e1", "c1", "c2"]
        );
        assert_eq!(argv(&both, &exec(None, &["a"])), vec!["/entry", "e1", "a"]);
        assert_eq!(argv(&entry, &exec(None, &[])), vec!["/entry"]);
        assert_eq!(argv(&cmd, &exec(None, &[])), vec!["/cmd", "c1"]);
        assert_eq!(argv(&cmd, &exec(None, &["/a", "x"])), vec!["/a", "x"]);
        assert_eq!(argv(&none, &exec(None, &["/a"])), vec!["/a"]);
        assert!(none.resolve_command(&exec(None, &[])).is_err());
    }

    #[test]
    fn task_rootfs_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rootfs.json");
        let t = TaskRootfs {
            rootfs: "/r".into(),
            config: config(&["/e"], &[]),
        };
        t.write(&file).unwrap();
        assert_eq!(TaskRootfs::read(&file).unwrap(), t);
        assert!(TaskRootfs::read(&dir.path().join("missing")).is_err());
    }
}
