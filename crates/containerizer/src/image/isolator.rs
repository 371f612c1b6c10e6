//! [`ImageIsolator`] (`filesystem/linux` + `docker/runtime`): provisions a rootfs for every
//! container whose [`LaunchSpec::image`] is set, and removes it at cleanup.
//!
//! Rootfses live in `<provisioner_dir>/containers/<container id>/rootfs` (a private copy: the
//! `copy` backend). For [`ImageTarget::CommandTask`] the isolator writes a [`TaskRootfs`] file
//! next to it and names it in [`TASK_ROOTFS_ENV`]; for [`ImageTarget::Container`] the launched
//! program itself enters the rootfs ([`PreExec::EnterRootfs`]) with the image's environment
//! under the spec's and `MESOS_SANDBOX=/mnt/mesos/sandbox`.

use std::path::{Path, PathBuf};

use super::config::{TaskRootfs, TASK_ROOTFS_ENV};
use super::copy::provision;
use super::layer::remove_any;
use super::rootfs::{RootfsPlan, SANDBOX_MOUNT_POINT};
use super::store::ImageStore;
use super::{ImageError, ImageReference};
use crate::error::IsolatorError;
use crate::isolator::Isolator;
use crate::launcher::{BoxFuture, LaunchInfo, PreExec};
use crate::spec::{ContainerId, ImageTarget, LaunchSpec};

/// Where the [`ImageIsolator`] finds images and keeps rootfses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIsolatorConfig {
    /// `--docker_registry`: a directory of image archives.
    pub registry: PathBuf,
    /// `--docker_store_dir`: the layer cache.
    pub store_dir: PathBuf,
    /// Per-container rootfses (`<work_dir>/provisioner`).
    pub provisioner_dir: PathBuf,
}

/// `docker/runtime` (with `filesystem/linux`): see the module docs.
#[derive(Debug, Clone)]
pub struct ImageIsolator {
    store: ImageStore,
    provisioner_dir: PathBuf,
}

impl ImageIsolator {
    /// Checks the registry directory and creates the store and provisioner directories.
    pub fn new(config: ImageIsolatorConfig) -> Result<Self, IsolatorError> {
        if !config.registry.is_dir() {
            return Err(IsolatorError::Io {
                path: config.registry.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "--docker_registry must be a local directory of image archives \
                     (remote registries are not supported)",
                ),
            });
        }
        for dir in [&config.store_dir, &config.provisioner_dir] {
            std::fs::create_dir_all(dir).map_err(|source| IsolatorError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Self {
            store: ImageStore::new(config.registry, config.store_dir),
            provisioner_dir: config.provisioner_dir,
        })
    }

    /// The directory of one container's rootfs and files.
    pub fn container_dir(&self, id: &ContainerId) -> PathBuf {
        self.provisioner_dir.join("containers").join(id.as_str())
    }

    fn provision_blocking(
        store: &ImageStore,
        reference: &ImageReference,
        dir: &Path,
    ) -> Result<(PathBuf, super::ImageConfig), ImageError> {
        let image = store.pull(reference)?;
        remove_any(dir)?;
        let rootfs = dir.join("rootfs");
        provision(&image.layers, &rootfs)?;
        Ok((rootfs, image.config))
    }
}

impl Isolator for ImageIsolator {
    fn name(&self) -> &'static str {
        "docker/runtime"
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        Box::pin(async move {
            let Some(image) = &spec.image else {
                return Ok(LaunchInfo::default());
            };
            let reference = ImageReference::parse(&image.name)?;
            let dir = self.container_dir(&spec.container_id);
            let store = self.store.clone();
            let started = std::time::Instant::now();
            let (rootfs, config) = {
                let target = dir.clone();
                let reference = reference.clone();
                tokio::task::spawn_blocking(move || {
                    Self::provision_blocking(&store, &reference, &target)
                })
                .await
                .map_err(|e| IsolatorError::Io {
                    path: dir.clone(),
                    source: std::io::Error::other(e.to_string()),
                })??
            };
            tracing::info!(container_id = %spec.container_id, image = %reference,
                rootfs = %rootfs.display(), elapsed_ms = started.elapsed().as_millis() as u64,
                "provisioned rootfs");
            match image.target {
                ImageTarget::CommandTask => {
                    let file = dir.join("task-rootfs.json");
                    TaskRootfs { rootfs, config }.write(&file)?;
                    Ok(LaunchInfo {
                        env: vec![(TASK_ROOTFS_ENV.into(), file.to_string_lossy().into_owned())],
                        pre_exec: Vec::new(),
                    })
                }
                ImageTarget::Container => {
                    let plan =
                        RootfsPlan::prepare(&rootfs, &spec.working_dir, &config.working_dir())?;
                    let mut env: Vec<(String, String)> = config
                        .env_pairs()
                        .into_iter()
                        .filter(|(k, _)| !spec.env.iter().any(|(n, _)| n == k))
                        .collect();
                    env.push(("MESOS_SANDBOX".into(), SANDBOX_MOUNT_POINT.into()));
                    Ok(LaunchInfo {
                        env,
                        pre_exec: vec![PreExec::EnterRootfs(plan)],
                    })
                }
            }
        })
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        Box::pin(async move {
            let dir = self.container_dir(id);
            tokio::task::spawn_blocking(move || remove_any(&dir))
                .await
                .map_err(|e| IsolatorError::Io {
                    path: self.container_dir(id),
                    source: std::io::Error::other(e.to_string()),
                })??;
            Ok(())
        })
    }
}
