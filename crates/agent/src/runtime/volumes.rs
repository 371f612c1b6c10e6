//! The actor's volume I/O: persisting a checkpointed set before the core adopts it, creating
//! and deleting volume directories, exposing volumes in sandboxes.
//!
//! Persisting and creating run on the actor itself, so that they are done before the next
//! command (a RUN_TASK that uses a new volume) is handled; both are small. Deleting renames the
//! directory into the trash at once (same reason) and removes it in the background.

use std::path::{Path, PathBuf};

use super::Actor;
use crate::core::CheckpointPlan;
use crate::volumes::{create_volume, destroy_volume, mount_volume, VolumeMount};

impl Actor {
    /// Makes the plan's set durable, then lets the core adopt it.
    pub(super) fn checkpoint(&mut self, plan: CheckpointPlan) {
        match self.checkpoints.save(&plan.record()) {
            Ok(()) => self.core.commit_checkpoint(plan),
            Err(error) => tracing::error!(
                %error,
                "cannot persist the checkpointed resources; CHECKPOINT_RESOURCES not applied"
            ),
        }
    }
}

/// Creates the directories of new volumes.
pub(super) fn create(paths: &[PathBuf]) {
    for path in paths {
        match create_volume(path) {
            Ok(true) => tracing::info!(path = %path.display(), "persistent volume created"),
            Ok(false) => {}
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot create a persistent volume")
            }
        }
    }
}

/// Deletes the directories of destroyed volumes.
pub(super) fn destroy(paths: &[PathBuf]) {
    for path in paths {
        match destroy_volume(path) {
            Ok(Some(trashed)) => {
                tracing::info!(path = %path.display(), "persistent volume destroyed");
                tokio::task::spawn_blocking(move || {
                    if let Err(error) = std::fs::remove_dir_all(&trashed) {
                        tracing::error!(path = %trashed.display(), %error, "cannot delete a destroyed persistent volume");
                    }
                });
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot destroy a persistent volume")
            }
        }
    }
}

/// Exposes volumes in a sandbox; the error names the volume.
pub(super) fn attach(
    sandbox: &Path,
    volumes: &[VolumeMount],
    user: Option<&str>,
) -> Result<(), String> {
    for mount in volumes {
        mount_volume(sandbox, mount, user).map_err(|e| {
            format!(
                "Failed to expose persistent volume {} at '{}': {e}",
                mount.volume.name(),
                mount.container_path.display()
            )
        })?;
        tracing::info!(
            volume = %mount.volume.name(),
            container_path = %mount.container_path.display(),
            "persistent volume exposed in the sandbox"
        );
    }
    Ok(())
}
