//! [`ImageStore`]: the local puller (`--docker_registry=<dir>`) and the layer cache
//! (`--docker_store_dir`).
//!
//! Store layout: `layers/<id>/rootfs` holds an unpacked layer (whiteouts kept), written under
//! a temporary name and renamed into place, so a crash never leaves a half layer behind and
//! concurrent pulls of one layer are safe; `staging/` holds archives being read.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::archive;
use super::config::ImageConfig;
use super::layer::{open_layer, remove_any, unpack_layer};
use super::{ImageError, ImageReference};

static SCRATCH: AtomicU64 = AtomicU64::new(0);

/// An image ready to provision: its layer directories (base first) and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    pub reference: String,
    /// Unpacked layer directories, base layer first.
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// Images from a directory of archives, with unpacked layers cached by id.
#[derive(Debug, Clone)]
pub struct ImageStore {
    registry: PathBuf,
    store: PathBuf,
}

impl ImageStore {
    /// `registry`: the directory of image archives; `store`: the cache directory.
    pub fn new(registry: impl Into<PathBuf>, store: impl Into<PathBuf>) -> Self {
        Self {
            registry: registry.into(),
            store: store.into(),
        }
    }

    /// The cache directory.
    pub fn store_dir(&self) -> &Path {
        &self.store
    }

    /// The archive for `reference`, if the registry has one.
    pub fn archive_path(&self, reference: &ImageReference) -> Option<PathBuf> {
        reference
            .archive_names()
            .into_iter()
            .map(|name| self.registry.join(name))
            .find(|path| path.is_file())
    }

    /// Reads the image's archive and makes sure all its layers are unpacked in the cache.
    /// Blocking (file I/O): call it from `spawn_blocking`.
    pub fn pull(&self, reference: &ImageReference) -> Result<PulledImage, ImageError> {
        let archive_path = self
            .archive_path(reference)
            .ok_or_else(|| ImageError::NotFound {
                reference: reference.to_string(),
                registry: self.registry.clone(),
            })?;
        let scratch = format!(
            "{}-{}",
            std::process::id(),
            SCRATCH.fetch_add(1, Ordering::Relaxed)
        );
        let staging = self.store.join("staging").join(&scratch);
        fs::create_dir_all(&staging).map_err(ImageError::io(&staging))?;
        let result = self.pull_staged(reference, &archive_path, &staging, &scratch);
        if let Err(error) = remove_any(&staging) {
            tracing::warn!(%error, "cannot remove the staging directory");
        }
        result
    }

    fn pull_staged(
        &self,
        reference: &ImageReference,
        archive_path: &Path,
        staging: &Path,
        scratch: &str,
    ) -> Result<PulledImage, ImageError> {
        unpack_layer(open_layer(archive_path)?, staging)?;
        let image = archive::read(staging, archive_path, reference.name())?;
        let layers_dir = self.store.join("layers");
        fs::create_dir_all(&layers_dir).map_err(ImageError::io(&layers_dir))?;
        let mut layers = Vec::with_capacity(image.layers.len());
        for (id, tar_path) in &image.layers {
            let dir = layers_dir.join(id);
            let rootfs = dir.join("rootfs");
            if !rootfs.is_dir() {
                let tmp = layers_dir.join(format!(".{id}.tmp-{scratch}"));
                let tmp_rootfs = tmp.join("rootfs");
                fs::create_dir_all(&tmp_rootfs).map_err(ImageError::io(&tmp_rootfs))?;
                let unpacked = open_layer(tar_path).and_then(|l| unpack_layer(l, &tmp_rootfs));
                if let Err(error) = unpacked {
                    let _ = remove_any(&tmp);
                    return Err(error);
                }
                if fs::rename(&tmp, &dir).is_err() {
                    // Another pull won the race (or a stale dir is in the way).
                    let _ = remove_any(&tmp);
                    if !rootfs.is_dir() {
                        return Err(ImageError::Io {
                            path: dir,
                            source: std::io::Error::other("cannot store the unpacked layer"),
                        });
                    }
                }
                tracing::info!(image = %reference, layer = %id, "unpacked layer");
            }
            layers.push(rootfs);
        }
        Ok(PulledImage {
            reference: reference.to_string(),
            layers,
            config: image.config,
        })
    }
}
