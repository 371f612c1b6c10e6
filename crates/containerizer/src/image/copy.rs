//! The `copy` provisioner backend: a container's rootfs is a private copy of its image's
//! layers, applied bottom-up with whiteouts.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::layer::{chown, ensure_dir, remove_any, resolve_in_root};
use super::ImageError;

/// A file that deletes the lower layers' `<name>`: `.wh.<name>`.
const WHITEOUT_PREFIX: &str = ".wh.";
/// A file that hides everything the lower layers have in its directory.
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Builds `rootfs` (created if missing) from unpacked layer directories, base layer first.
pub fn provision(layers: &[PathBuf], rootfs: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(rootfs).map_err(ImageError::io(rootfs))?;
    fs::set_permissions(rootfs, fs::Permissions::from_mode(0o755))
        .map_err(ImageError::io(rootfs))?;
    for layer in layers {
        apply_dir(layer, rootfs, &mut Vec::new())?;
    }
    Ok(())
}

/// Applies the layer directory `layer/<rel>` onto `rootfs/<rel>`: whiteouts first, then the
/// layer's own entries.
fn apply_dir(
    layer: &Path,
    rootfs: &Path,
    rel: &mut Vec<std::ffi::OsString>,
) -> Result<(), ImageError> {
    let mut dir = layer.to_path_buf();
    dir.extend(rel.iter());
    let mut names: Vec<std::ffi::OsString> = fs::read_dir(&dir)
        .map_err(ImageError::io(&dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(ImageError::io(&dir))?;
    names.sort();

    let target_dir = resolve_in_root(rootfs, rel)?;
    if names.iter().any(|n| n == OPAQUE_WHITEOUT) {
        if let Ok(entries) = fs::read_dir(&target_dir) {
            for entry in entries {
                let entry = entry.map_err(ImageError::io(&target_dir))?;
                remove_any(&entry.path())?;
            }
        }
    }
    for name in &names {
        let Some(hidden) = name.to_str().and_then(|n| n.strip_prefix(WHITEOUT_PREFIX)) else {
            continue;
        };
        if name == OPAQUE_WHITEOUT || hidden.is_empty() || hidden == "." || hidden == ".." {
            continue;
        }
        rel.push(hidden.into());
        let target = resolve_in_root(rootfs, rel);
        rel.pop();
        remove_any(&target?)?;
    }
    for name in names {
        if name
            .to_str()
            .is_some_and(|n| n.starts_with(WHITEOUT_PREFIX))
        {
            continue;
        }
        let source = dir.join(&name);
        let meta = fs::symlink_metadata(&source).map_err(ImageError::io(&source))?;
        rel.push(name);
        let target = resolve_in_root(rootfs, rel)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            ensure_dir(&target, meta.mode())?;
            chown(&target, meta.uid(), meta.gid())?;
            apply_dir(layer, rootfs, rel)?;
        } else if kind.is_file() {
            remove_any(&target)?;
            fs::copy(&source, &target).map_err(ImageError::io(&target))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(ImageError::io(&target))?;
            chown(&target, meta.uid(), meta.gid())?;
        } else if kind.is_symlink() {
            let link = fs::read_link(&source).map_err(ImageError::io(&source))?;
            remove_any(&target)?;
            std::os::unix::fs::symlink(&link, &target).map_err(ImageError::io(&target))?;
            chown(&target, meta.uid(), meta.gid())?;
        } else {
            tracing::debug!(path = %source.display(), "skipping special file");
        }
        rel.pop();
    }
    Ok(())
}
