//! Unpacking one layer tarball into a directory, safely: names with `..` are refused, and
//! symbolic links met on the way are resolved inside the directory ([`resolve_in_root`]).
//! Whiteout files (`.wh.*`) are kept as they are; [`provision`](super::provision) applies
//! them.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::unistd::geteuid;

use super::ImageError;

/// Symbolic links followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// The components of an archive entry name, without a leading `/` or `./`. `..` anywhere is
/// a [`ImageError::PathEscape`]. An empty result is the root itself.
pub(crate) fn entry_components(name: &Path) -> Result<Vec<OsString>, ImageError> {
    let mut parts = Vec::new();
    for component in name.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_owned()),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(ImageError::PathEscape {
                    entry: name.display().to_string(),
                })
            }
        }
    }
    Ok(parts)
}

/// The host path of `parts` under `root`, as if `root` were `/`: symbolic links of all but
/// the last component are followed and resolved inside `root` (absolute targets start again
/// at `root`, `..` stops at `root`). The last component is not followed.
pub(crate) fn resolve_in_root(root: &Path, parts: &[OsString]) -> Result<PathBuf, ImageError> {
    let Some((last, parents)) = parts.split_last() else {
        return Ok(root.to_path_buf());
    };
    let mut pending: Vec<OsString> = parents.iter().rev().cloned().collect();
    let mut current: Vec<OsString> = Vec::new();
    let mut followed = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            current.pop();
            continue;
        }
        if part == "." || part.is_empty() {
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&current);
        candidate.push(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return Err(ImageError::Io {
                        path: candidate,
                        source: io::Error::from_raw_os_error(libc::ELOOP),
                    });
                }
                let target = fs::read_link(&candidate).map_err(ImageError::io(&candidate))?;
                if target.is_absolute() {
                    current.clear();
                }
                // Push the link's components so that they are processed next, in order.
                let link_parts: Vec<OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(p) => Some(p.to_owned()),
                        Component::ParentDir => Some(OsString::from("..")),
                        _ => None,
                    })
                    .collect();
                pending.extend(link_parts.into_iter().rev());
            }
            _ => current.push(part),
        }
    }
    let mut path = root.to_path_buf();
    path.extend(&current);
    path.push(last);
    Ok(path)
}

/// Removes whatever is at `path` (file, link or directory tree); absent is fine.
pub(crate) fn remove_any(path: &Path) -> Result<(), ImageError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(ImageError::io(path))
}

/// Makes `path` a directory: keeps an existing one, replaces anything else.
pub(crate) fn ensure_dir(path: &Path, mode: u32) -> Result<(), ImageError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            remove_any(path)?;
            fs::create_dir(path).map_err(ImageError::io(path))?;
        }
        Err(_) => fs::create_dir(path).map_err(ImageError::io(path))?,
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(ImageError::io(path))
}

/// Creates the missing parent directories of `path` (below `root`), mode 0755.
fn create_parents(root: &Path, path: &Path) -> Result<(), ImageError> {
    if let Some(parent) = path.parent() {
        if parent.starts_with(root) && !parent.exists() {
            fs::create_dir_all(parent).map_err(ImageError::io(parent))?;
        }
    }
    Ok(())
}

/// Sets the owner when running as root (otherwise files stay the agent's).
pub(crate) fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), ImageError> {
    if geteuid().is_root() {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(ImageError::io(path))?;
    }
    Ok(())
}

/// Opens a layer file, transparently gunzipping it (OCI layers are often `tar+gzip`).
pub(crate) fn open_layer(path: &Path) -> Result<Box<dyn Read>, ImageError> {
    let mut file = File::open(path).map_err(ImageError::io(path))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(ImageError::io(path))?;
    let file = File::open(path).map_err(ImageError::io(path))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::GzDecoder::new(BufReader::new(file))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// Unpacks the tar stream `layer` into the directory `dest` (which must exist). Whiteout
/// files are kept as regular files. Returns the number of entries written.
pub fn unpack_layer(layer: impl Read, dest: &Path) -> Result<usize, ImageError> {
    let mut archive = tar::Archive::new(layer);
    let mut written = 0;
    let entries = archive.entries().map_err(ImageError::io(dest))?;
    for entry in entries {
        let mut entry = entry.map_err(ImageError::io(dest))?;
        let name = entry.path().map_err(ImageError::io(dest))?.into_owned();
        let parts = entry_components(&name)?;
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let uid = header
            .uid()
            .ok()
            .and_then(|u| u32::try_from(u).ok())
            .unwrap_or(0);
        let gid = header
            .gid()
            .ok()
            .and_then(|g| u32::try_from(g).ok())
            .unwrap_or(0);
        if parts.is_empty() {
            continue;
        }
        let target = resolve_in_root(dest, &parts)?;
        create_parents(dest, &target)?;
        match kind {
            tar::EntryType::Directory => {
                ensure_dir(&target, mode)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                remove_any(&target)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .map_err(ImageError::io(&target))?;
                io::copy(&mut entry, &mut file).map_err(ImageError::io(&target))?;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(ImageError::io(&target))?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(ImageError::io(&target))?
                    .ok_or_else(|| ImageError::BadArchive {
                        archive: dest.to_path_buf(),
                        reason: format!("symbolic link {} has no target", name.display()),
                    })?
                    .into_owned();
                remove_any(&target)?;
                std::os::unix::fs::symlink(&link, &target).map_err(ImageError::io(&target))?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(ImageError::io(&target))?
                    .ok_or_else(|| ImageError::BadArchive {
                        archive: dest.to_path_buf(),
                        reason: format!("hard link {} has no target", name.display()),
                    })?
                    .into_owned();
                let source = resolve_in_root(dest, &entry_components(&link)?)?;
                remove_any(&target)?;
                fs::hard_link(&source, &target).map_err(ImageError::io(&target))?;
            }
            other => {
                tracing::debug!(entry = %name.display(), kind = ?other, "skipping layer entry");
                continue;
            }
        }
        chown(&target, uid, gid)?;
        written += 1;
    }
    Ok(written)
}
