//! Image-based containers (Mesos's "unified containerizer" with `--image_providers=docker`).
//!
//! * [`ImageReference`]: a Docker image name (`repo[:tag]`).
//! * [`ImageStore`]: the local puller and layer cache. Images come from a directory of
//!   archives (`--docker_registry=<dir>`), each named `<name as given>.tar` like Mesos's local
//!   puller (`busybox:latest.tar`, or `corral-test/marker.tar` in a `corral-test` folder). An
//!   archive is either a `docker save` tarball (`manifest.json` + layer tars + config json) or
//!   an OCI image layout (`index.json` + `blobs/sha256/…`), with plain or gzip'd layers.
//!   Layers are unpacked once into `<docker_store_dir>/layers/<id>/rootfs` and reused.
//! * [`provision`]: the `copy` backend (`--image_provisioner_backend=copy`): copies the layers
//!   in order into a container's own rootfs, applying whiteouts (`.wh.<name>` deletes a lower
//!   layer's file, `.wh..wh..opq` empties a lower layer's directory).
//! * [`ImageConfig`]: `Env`, `Entrypoint`, `Cmd`, `WorkingDir` and `User` of the image,
//!   and how they combine with a task's command ([`TaskRootfs`]), as Mesos's `docker/runtime`.
//! * [`ImageIsolator`]: the `filesystem/linux` + `docker/runtime` isolator that provisions a
//!   rootfs for a [`LaunchSpec::image`](crate::LaunchSpec::image).
//!
//! Entering the rootfs (mount namespace, sandbox at `/mnt/mesos/sandbox`, `/proc`, a minimal
//! `/dev`, `pivot_root`) happens between fork and exec: see [`RootfsPlan`].
//!
//! # Safety of untrusted archives
//!
//! Entry names with `..` are refused ([`ImageError::PathEscape`]); symbolic links met while
//! writing are resolved as if the rootfs were `/` (an absolute or `..`-heavy link cannot lead
//! outside), and the last component of a path is never followed. Device nodes are skipped.
//! Layer ids come from the archive's file names and are trusted as cache keys (no digest is
//! verified): use a registry directory that only the operator can write to.

mod archive;
mod config;
mod copy;
mod isolator;
mod layer;
mod rootfs;
mod store;

use std::io;
use std::path::PathBuf;

pub use config::{
    ImageConfig, TaskCommand, TaskRootfs, DEFAULT_PATH, TASK_ROOTFS_ENV, TASK_USER_ENV,
};
pub use copy::provision;
pub use isolator::{ImageIsolator, ImageIsolatorConfig};
pub use layer::unpack_layer;
pub use rootfs::{RootfsPlan, SANDBOX_MOUNT_POINT};
pub use store::{ImageStore, PulledImage};

/// A Docker image name as given by the framework: `[registry/]repository[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    name: String,
    repository: String,
    tag: Option<String>,
}

impl ImageReference {
    /// Checks and parses a name. Digests (`@sha256:…`) are not supported.
    pub fn parse(name: &str) -> Result<Self, ImageError> {
        let invalid = |reason| ImageError::InvalidReference {
            reference: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("is empty"));
        }
        if name.len() > 255 {
            return Err(invalid("is longer than 255 bytes"));
        }
        if name.contains('@') {
            return Err(invalid("digests are not supported"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b':' | b'.' | b'-' | b'_'))
        {
            return Err(invalid(
                "may only contain ASCII letters, digits, '/', ':', '.', '-' and '_'",
            ));
        }
        if name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(invalid("has an empty, '.' or '..' path component"));
        }
        // A ':' after the last '/' separates the tag (one before it is a registry port).
        let last = name.rsplit('/').next().unwrap_or(name);
        let (repository, tag) = match last.rsplit_once(':') {
            Some((_, "")) => return Err(invalid("has an empty tag")),
            Some((_, tag)) => (
                name[..name.len() - tag.len() - 1].to_owned(),
                Some(tag.to_owned()),
            ),
            None => (name.to_owned(), None),
        };
        if repository.rsplit('/').next().is_some_and(str::is_empty) {
            return Err(invalid("has an empty repository"));
        }
        Ok(Self {
            name: name.to_owned(),
            repository,
            tag,
        })
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name without the tag.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Archive file names to look for in a local registry, best first: the name as given,
    /// then with `:latest` added or removed.
    pub fn archive_names(&self) -> Vec<String> {
        let mut names = vec![format!("{}.tar", self.name)];
        match self.tag.as_deref() {
            None => names.push(format!("{}:latest.tar", self.repository)),
            Some("latest") => names.push(format!("{}.tar", self.repository)),
            Some(_) => {}
        }
        names
    }
}

impl std::fmt::Display for ImageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Errors of pulling, unpacking and provisioning images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        reference: String,
        reason: &'static str,
    },
    #[error("image '{reference}' not found in the local registry {}", registry.display())]
    NotFound {
        reference: String,
        registry: PathBuf,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("bad image archive {}: {reason}", archive.display())]
    BadArchive { archive: PathBuf, reason: String },
    #[error("archive entry {entry:?} escapes its root")]
    PathEscape { entry: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl ImageError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = ImageReference::parse("corral-test/marker").unwrap();
        assert_eq!(r.repository(), "corral-test/marker");
        assert_eq!(r.tag(), None);
        assert_eq!(
            r.archive_names(),
            vec!["corral-test/marker.tar", "corral-test/marker:latest.tar"]
        );
        let r = ImageReference::parse("localhost:5000/busybox:1.36").unwrap();
        assert_eq!(r.repository(), "localhost:5000/busybox");
        assert_eq!(r.tag(), Some("1.36"));
        let r = ImageReference::parse("busybox:latest").unwrap();
        assert_eq!(r.archive_names(), vec!["busybox:latest.tar", "busybox.tar"]);
        for bad in [
            "",
            "../etc",
            "a/../b",
            "/abs",
            "a//b",
            "x:",
            "a@sha256:00",
            "sp ace",
            "a/",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?}");
        }
    }
}
