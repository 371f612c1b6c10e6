//! The directories of persistent volumes: created when a volume appears in the checkpointed
//! set, moved to the trash and deleted when it disappears, reconciled when the agent starts.

use std::io;
use std::path::{Path, PathBuf};

use super::VolumeRef;

/// Creates a volume's directory (and its parents); `true` if it did not exist.
pub fn create_volume(path: &Path) -> io::Result<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    std::fs::create_dir_all(path)?;
    Ok(true)
}

/// `<root>/volumes/trash` for a volume at `<root>/volumes/roles/<role>/<id>`.
fn trash_of(path: &Path) -> io::Result<PathBuf> {
    path.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|volumes| volumes.join("trash"))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a volume directory", path.display()),
            )
        })
}

/// Takes a volume's directory out of place by renaming it into the trash, and returns where it
/// went (`None` if there was nothing). The caller deletes that with [`std::fs::remove_dir_all`],
/// which removes symbolic links without following them.
pub fn destroy_volume(path: &Path) -> io::Result<Option<PathBuf>> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if !metadata.is_dir() {
        // Not something the agent made; remove the entry itself (never its target).
        std::fs::remove_file(path)?;
        return Ok(None);
    }
    let trash = trash_of(path)?;
    std::fs::create_dir_all(&trash)?;
    let target = trash.join(uuid::Uuid::new_v4().to_string());
    std::fs::rename(path, &target)?;
    Ok(Some(target))
}

/// Deletes whatever an interrupted delete left in `<volumes>/trash`.
pub fn purge_trash(volumes: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(volumes.join("trash")) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// At start: deletes the directories of volumes destroyed before the agent stopped (`pending`
/// entries that are not in `volumes`), creates missing directories of checkpointed volumes
/// (the agent may have stopped between persisting a set and creating them) and empties the
/// trashes (`default_root`'s and those of the volumes' roots). A directory that cannot be
/// created is an error naming it.
pub fn recover_volumes(
    default_root: &Path,
    volumes: &[VolumeRef],
    pending: &[VolumeRef],
) -> Result<(), String> {
    for doomed in pending {
        if volumes.iter().any(|v| v.same(doomed)) {
            continue;
        }
        let Some(path) = &doomed.path else { continue };
        match destroy_volume(path) {
            Ok(Some(trashed)) => {
                tracing::info!(volume = %doomed.name(), path = %path.display(), "deleting a destroyed persistent volume");
                if let Err(error) = std::fs::remove_dir_all(&trashed) {
                    tracing::error!(path = %trashed.display(), %error, "cannot delete a destroyed persistent volume");
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot delete a destroyed persistent volume")
            }
        }
    }
    let mut roots: Vec<PathBuf> = vec![default_root.to_path_buf()];
    for volume in volumes {
        let Some(path) = &volume.path else { continue };
        match create_volume(path) {
            Ok(true) => tracing::warn!(
                volume = %volume.name(),
                path = %path.display(),
                "created the missing directory of a checkpointed persistent volume"
            ),
            Ok(false) => {}
            Err(error) => {
                return Err(format!(
                    "cannot create the directory {} of persistent volume {}: {error}",
                    path.display(),
                    volume.name()
                ))
            }
        }
        if let Ok(trash) = trash_of(path) {
            if let Some(root) = trash.parent() {
                if !roots.iter().any(|r| r == root) {
                    roots.push(root.to_path_buf());
                }
            }
        }
    }
    for root in roots {
        if let Err(error) = purge_trash(&root) {
            tracing::warn!(root = %root.display(), %error, "cannot empty the volume trash");
        }
    }
    Ok(())
}
