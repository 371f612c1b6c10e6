//! [`RootfsPlan`]: everything a child needs to enter a provisioned rootfs, prepared in the
//! parent (mount points created, paths turned into C strings) so that the child only makes
//! system calls (see `sys/rootfs.rs`).
//!
//! In the child: a new mount namespace with every mount private; the rootfs bind-mounted on
//! itself; the sandbox bind-mounted on `/mnt/mesos/sandbox`; a fresh `/proc`; a minimal
//! `/dev` (the host's `null`, `zero`, `full`, `random`, `urandom` and `tty` bound on files of
//! the rootfs); then `pivot_root` (or `chroot` where the current root cannot be pivoted, e.g.
//! an initramfs) and `chdir` to the working directory. The host's filesystem is unreachable
//! afterwards: the old root is detached.

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::layer::{entry_components, remove_any, resolve_in_root};
use super::ImageError;

/// Where the sandbox appears inside the container (Mesos's default `--sandbox_directory`).
pub const SANDBOX_MOUNT_POINT: &str = "/mnt/mesos/sandbox";

/// Device files bound from the host into the container's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// A prepared rootfs entry. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsPlan {
    pub(crate) inner: Arc<PlanInner>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PlanInner {
    pub root: CString,
    /// (host source, host path of the target inside the rootfs), bind-mounted in order.
    pub binds: Vec<(CString, CString)>,
    /// The host path of the rootfs's `/proc`.
    pub proc: CString,
    /// The working directory, inside the container.
    pub workdir: CString,
}

fn c_path(path: &Path) -> Result<CString, ImageError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| ImageError::Unsupported(format!("path with a NUL byte: {}", path.display())))
}

/// `rootfs/<inside>` as a real directory (a link or file there is replaced).
fn mount_dir(rootfs: &Path, inside: &str, mode: u32) -> Result<PathBuf, ImageError> {
    let path = resolve_in_root(rootfs, &entry_components(Path::new(inside))?)?;
    match fs::symlink_metadata(&path) {
        // An existing directory of the image keeps its mode.
        Ok(meta) if meta.is_dir() => return Ok(path),
        Ok(_) => {
            remove_any(&path)?;
            fs::create_dir_all(&path).map_err(ImageError::io(&path))?;
        }
        Err(_) => fs::create_dir_all(&path).map_err(ImageError::io(&path))?,
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(ImageError::io(&path))?;
    Ok(path)
}

impl RootfsPlan {
    /// Prepares `rootfs` (creating the mount points) for a child that will see `sandbox` at
    /// [`SANDBOX_MOUNT_POINT`] and start in `working_dir` (a path inside the container,
    /// created if missing).
    pub fn prepare(rootfs: &Path, sandbox: &Path, working_dir: &Path) -> Result<Self, ImageError> {
        if !working_dir.is_absolute() {
            return Err(ImageError::Unsupported(format!(
                "the working directory {} is not absolute",
                working_dir.display()
            )));
        }
        let sandbox_target = mount_dir(rootfs, SANDBOX_MOUNT_POINT, 0o755)?;
        let proc = mount_dir(rootfs, "/proc", 0o555)?;
        let dev = mount_dir(rootfs, "/dev", 0o755)?;
        mount_dir(rootfs, "/tmp", 0o1777)?;
        let mut binds = vec![(c_path(sandbox)?, c_path(&sandbox_target)?)];
        for device in DEVICES {
            let host = Path::new("/dev").join(device);
            if !host.exists() {
                continue;
            }
            let target = dev.join(device);
            if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
                remove_any(&target)?;
            }
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&target)
                .map_err(ImageError::io(&target))?;
            binds.push((c_path(&host)?, c_path(&target)?));
        }
        // The working directory exists in the rootfs (or in the sandbox once mounted).
        if !working_dir.starts_with(SANDBOX_MOUNT_POINT) {
            let inside = working_dir.to_string_lossy();
            mount_dir(rootfs, &inside, 0o755)?;
        }
        Ok(Self {
            inner: Arc::new(PlanInner {
                root: c_path(rootfs)?,
                binds,
                proc: c_path(&proc)?,
                workdir: c_path(working_dir)?,
            }),
        })
    }

    /// Makes `command` enter this rootfs before exec, then switch to `user` (resolved on the
    /// host) if given. Only root can do this.
    pub fn install(
        &self,
        command: &mut std::process::Command,
        user: Option<&str>,
    ) -> Result<(), crate::LaunchError> {
        let identity = match user {
            Some(name) => crate::posix::resolve_user(name)?,
            None => None,
        };
        crate::sys::install_rootfs(command, self.clone(), identity);
        Ok(())
    }

    /// Makes `command` enter this rootfs before exec, then switch to `uid`, `gid` and the
    /// supplementary `groups` (e.g. an image's `User`, resolved in the image). Only root can
    /// do this.
    pub fn install_ids(
        &self,
        command: &mut std::process::Command,
        uid: u32,
        gid: u32,
        groups: &[u32],
    ) {
        let identity = crate::sys::Identity {
            uid: nix::unistd::Uid::from_raw(uid),
            gid: nix::unistd::Gid::from_raw(gid),
            groups: groups
                .iter()
                .copied()
                .map(nix::unistd::Gid::from_raw)
                .collect(),
        };
        crate::sys::install_rootfs(command, self.clone(), Some(identity));
    }
}
