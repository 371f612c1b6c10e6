//! Making a persistent volume visible inside a sandbox.
//!
//! Without mount namespaces (a later issue) the agent does what Mesos's `filesystem/posix`
//! isolator does: `<sandbox>/<container_path>` becomes a symbolic link to the volume's
//! directory. [`mount_volume`] is the one place that choice is made, so a bind mount can
//! replace it. Consequences of the fallback:
//!
//! * `mode: RO` is **not enforced**: the task can write through the link (a read-only bind
//!   mount will enforce it);
//! * the volume's data lives outside the sandbox, so removing the sandbox (which removes the
//!   link, never its target) keeps it.

use std::io;
use std::path::{Component, Path};

use super::VolumeMount;

/// Exposes `mount.volume` at `<sandbox>/<container_path>`, creating the sandbox and the
/// intermediate directories (owned by `user` when set). Idempotent: a link that already points
/// at the volume is kept. Fails if the volume's directory is missing, if something else is in
/// the way, or if an intermediate path is a symbolic link (it could lead out of the sandbox).
/// A fresh (empty) volume is handed to `user`, so the task can write to it.
pub fn mount_volume(sandbox: &Path, mount: &VolumeMount, user: Option<&str>) -> io::Result<()> {
    let volume = &mount.volume;
    let Some(target) = &volume.path else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("persistent volume {} has no directory", volume.name()),
        ));
    };
    if !target.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the directory {} of persistent volume {} does not exist",
                target.display(),
                volume.name()
            ),
        ));
    }
    let owner = match user {
        Some(name) => Some(lookup_user(name)?),
        None => None,
    };
    std::fs::create_dir_all(sandbox)?;
    let mut components: Vec<&std::ffi::OsStr> = mount
        .container_path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    let Some(name) = components.pop() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty container path",
        ));
    };
    let mut directory = sandbox.to_path_buf();
    for part in components {
        directory.push(part);
        match std::fs::symlink_metadata(&directory) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(in_the_way(&directory, "is not a directory")),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&directory)?;
                chown(&directory, owner.as_ref())?;
            }
            Err(error) => return Err(error),
        }
    }
    let link = directory.join(name);
    match std::fs::symlink_metadata(&link) {
        Ok(metadata) if metadata.is_symlink() && std::fs::read_link(&link)? == *target => {}
        Ok(_) => return Err(in_the_way(&link, "already exists in the sandbox")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            std::os::unix::fs::symlink(target, &link)?;
        }
        Err(error) => return Err(error),
    }
    if owner.is_some() && std::fs::read_dir(target)?.next().is_none() {
        chown(target, owner.as_ref())?;
    }
    if mount.read_only {
        tracing::warn!(
            volume = %volume.name(),
            "read-only volume exposed through a symbolic link: RO is not enforced"
        );
    }
    Ok(())
}

fn in_the_way(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("cannot expose the volume: '{}' {what}", path.display()),
    )
}

fn lookup_user(name: &str) -> io::Result<nix::unistd::User> {
    nix::unistd::User::from_name(name)
        .map_err(io::Error::from)?
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("user '{name}' does not exist on this agent"),
            )
        })
}

fn chown(path: &Path, owner: Option<&nix::unistd::User>) -> io::Result<()> {
    let Some(owner) = owner else { return Ok(()) };
    nix::unistd::chown(path, Some(owner.uid), Some(owner.gid)).map_err(io::Error::from)
}
