//! Persistent volumes: where their directories live, which volumes a launch needs, and (in
//! the submodules) the I/O that creates, destroys and exposes them.
//!
//! **Layout.** A persistent volume on the agent's default disk lives at
//! `<work_dir>/volumes/roles/<role>/<persistence_id>`; one on a `PATH` disk source at
//! `<source root>/volumes/roles/<role>/<persistence_id>` (a relative root is relative to the
//! work directory). `<role>` is the role of the volume's innermost reservation, escaped with
//! [`escape_role`]: `%` becomes `%25` and `/` becomes `%2F`, so hierarchical roles stay one
//! path component and the escaping is reversible ([`unescape_role`]). (Mesos writes `/` as a
//! space instead.) Volumes on `MOUNT`, `BLOCK` and `RAW` disks are kept in the checkpointed
//! set but get no directory; tasks using them fail to launch.
//!
//! **Identity.** A volume is its (role, persistence id) pair: Mesos requires persistence ids to
//! be unique per role on an agent, and so the master sends each pair at most once.
//!
//! **Sandboxes.** A launch's volumes (the executor's and its tasks') are exposed in the
//! executor's sandbox; tasks of a task group run there too, so they share them.
//!
//! **Destroying** renames the directory into `<root>/volumes/trash/` first (atomic, so a volume
//! re-created with the same id right after is never hit by a late delete) and removes it from
//! there. Deleting never follows symbolic links, so data reached through a sandbox's link is
//! only ever deleted with the volume itself.
//!
//! | file | concept |
//! |---|---|
//! | `dirs.rs` | creating, destroying and recovering volume directories |
//! | `sandbox.rs` | making a volume visible in a sandbox ([`mount_volume`]) |

mod dirs;
mod sandbox;

use std::path::{Component, Path, PathBuf};

use corral_api::ids::validate_id;
use corral_api::v1;
use corral_resources::{DiskSourceKind, Resource, Resources, VolumeMode};

pub use dirs::{create_volume, destroy_volume, purge_trash, recover_volumes};
pub use sandbox::mount_volume;

/// A persistent volume the agent manages.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRef {
    /// The role of the innermost reservation.
    pub role: String,
    /// `disk.persistence.id`.
    pub id: String,
    /// Its directory; `None` for disks whose volumes the agent cannot place (MOUNT, BLOCK, RAW).
    pub path: Option<PathBuf>,
    /// The resource as the master sent it.
    pub resource: v1::Resource,
}

impl VolumeRef {
    /// Whether `other` is the same volume (same role and persistence id).
    pub fn same(&self, other: &VolumeRef) -> bool {
        self.role == other.role && self.id == other.id
    }

    /// Whether this is the volume `key` names (see [`volume_key`]).
    pub fn is(&self, key: &(String, String)) -> bool {
        self.role == key.0 && self.id == key.1
    }

    /// "'id' (role 'role')", for messages.
    pub fn name(&self) -> String {
        format!("'{}' (role '{}')", self.id, self.role)
    }
}

/// A volume to expose in a sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMount {
    /// The volume (its `path` is set).
    pub volume: VolumeRef,
    /// Where it appears, relative to the sandbox (validated: only normal components).
    pub container_path: PathBuf,
    /// `mode: RO` (not enforced by the symlink fallback, see [`mount_volume`]).
    pub read_only: bool,
}

/// Why a launch cannot get its volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountError {
    /// The task uses a volume the agent has not checkpointed (Mesos: REASON_RESOURCES_UNKNOWN).
    Unknown(String),
    /// The volume cannot be exposed as asked (REASON_CONTAINER_LAUNCH_FAILED).
    Invalid(String),
}

/// `<root>/volumes` for the default disk.
pub fn volume_root(work_dir: &Path) -> PathBuf {
    work_dir.join("volumes")
}

/// A role as one path component: `%` → `%25`, `/` → `%2F`.
pub fn escape_role(role: &str) -> String {
    role.replace('%', "%25").replace('/', "%2F")
}

/// The inverse of [`escape_role`]; `None` for text it cannot have produced.
pub fn unescape_role(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "2F" => '/',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    (escape_role(&out) == text).then_some(out)
}

/// The (role, persistence id) of a resource that is a persistent volume; `None` for other
/// resources and for ones that do not parse.
pub fn volume_key(proto: &v1::Resource) -> Option<(String, String)> {
    let id = proto.disk.as_ref()?.persistence.as_ref()?.id.clone();
    let resource = Resource::from_proto(proto).ok()?;
    Some((resource.reservation_role()?.to_string(), id))
}

/// The volume a resource is, if it is a persistent volume. Fails when it is not reserved or
/// its persistence id cannot name a directory.
pub fn volume_of(work_dir: &Path, proto: &v1::Resource) -> Result<Option<VolumeRef>, String> {
    let resource = Resource::from_proto(proto).map_err(|e| e.to_string())?;
    let Some(persistence) = resource.disk.as_ref().and_then(|d| d.persistence.as_ref()) else {
        return Ok(None);
    };
    let id = persistence.id.clone();
    validate_id("Persistence", &id).map_err(|e| e.to_string())?;
    let Some(role) = resource.reservation_role().map(str::to_string) else {
        return Err(format!(
            "persistent volume '{id}' is not reserved: volumes can only be made of reserved disk"
        ));
    };
    let source = resource.disk.as_ref().and_then(|d| d.source.as_ref());
    let root = match source {
        None => Some(volume_root(work_dir)),
        Some(source) if source.kind == DiskSourceKind::Path => {
            let root = source.root.as_deref().unwrap_or_default();
            Some(work_dir.join(root).join("volumes"))
        }
        Some(_) => None,
    };
    let path = root.map(|root| root.join("roles").join(escape_role(&role)).join(&id));
    Ok(Some(VolumeRef {
        role,
        id,
        path,
        resource: proto.clone(),
    }))
}

/// Validates a checkpointed set (every resource parses; volumes are reserved and have usable
/// ids; no (role, id) twice) and returns its persistent volumes.
pub fn checkpointed_volumes(
    work_dir: &Path,
    resources: &[v1::Resource],
) -> Result<Vec<VolumeRef>, String> {
    let mut volumes: Vec<VolumeRef> = Vec::new();
    for (index, proto) in resources.iter().enumerate() {
        let volume = volume_of(work_dir, proto).map_err(|e| format!("resource {index}: {e}"))?;
        let Some(volume) = volume else { continue };
        if let Some(twin) = volumes.iter().find(|v| v.same(&volume)) {
            // A shared volume may be listed once per copy; anything else is a conflict.
            if twin.resource != volume.resource {
                return Err(format!(
                    "resource {index}: persistent volume {} is listed twice",
                    volume.name()
                ));
            }
            continue;
        }
        volumes.push(volume);
    }
    Ok(volumes)
}

/// The mounts a launch needs for the persistent volumes among `resources`, each checked
/// against the checkpointed `volumes`. `has_image` only changes the message for absolute paths.
pub fn mounts_for<'a>(
    resources: impl IntoIterator<Item = &'a v1::Resource>,
    volumes: &[VolumeRef],
    has_image: bool,
) -> Result<Vec<VolumeMount>, MountError> {
    let mut mounts: Vec<VolumeMount> = Vec::new();
    for proto in resources {
        let Some(persistence) = proto.disk.as_ref().and_then(|d| d.persistence.as_ref()) else {
            continue;
        };
        let resource = Resource::from_proto(proto).map_err(|e| {
            MountError::Invalid(format!(
                "persistent volume '{}' is invalid: {e}",
                persistence.id
            ))
        })?;
        let role = resource.reservation_role().unwrap_or("*");
        let Some(volume) = volumes
            .iter()
            .find(|v| v.role == role && v.id == persistence.id)
        else {
            return Err(MountError::Unknown(format!(
                "The persistent volume '{}' (role '{role}') used by the task is unknown to the agent",
                persistence.id
            )));
        };
        let name = volume.name();
        if volume.path.is_none() {
            return Err(MountError::Invalid(format!(
                "persistent volume {name} is on a disk whose volumes this agent cannot expose yet"
            )));
        }
        let info = resource.disk.as_ref().and_then(|d| d.volume.as_ref());
        let Some(info) = info else {
            return Err(MountError::Invalid(format!(
                "persistent volume {name} has no 'volume.container_path'"
            )));
        };
        let container_path = container_path(&info.container_path, &name, has_image)?;
        let mount = VolumeMount {
            volume: volume.clone(),
            container_path,
            read_only: info.mode == Some(VolumeMode::Ro),
        };
        match mounts
            .iter()
            .find(|m| m.container_path == mount.container_path)
        {
            Some(other) if other.volume.same(&mount.volume) => {}
            Some(_) => {
                return Err(MountError::Invalid(format!(
                    "two volumes use the container path '{}'",
                    mount.container_path.display()
                )))
            }
            None => mounts.push(mount),
        }
    }
    Ok(mounts)
}

/// A container path as a sandbox-relative path of normal components.
fn container_path(text: &str, name: &str, has_image: bool) -> Result<PathBuf, MountError> {
    let path = Path::new(text);
    if path.is_absolute() {
        let why = if has_image {
            "container images (and with them absolute container paths) are not supported yet"
        } else {
            "without a container image the path must be relative to the sandbox"
        };
        return Err(MountError::Invalid(format!(
            "persistent volume {name} has the absolute container path '{text}': {why}"
        )));
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(MountError::Invalid(format!(
                    "persistent volume {name} has the container path '{text}', which leaves the sandbox"
                )))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(MountError::Invalid(format!(
            "persistent volume {name} has an empty container path"
        )));
    }
    Ok(out)
}

/// A checkpointed resource as it was before RESERVE/CREATE: dynamic reservations popped,
/// persistence and volume info removed (Mesos's "stripped" form, for total resources).
fn unconverted(resource: &Resource) -> Resource {
    let mut out = resource.clone();
    while out.is_dynamically_reserved() {
        out.reservations.pop();
    }
    if let Some(disk) = &mut out.disk {
        disk.persistence = None;
        disk.volume = None;
        if disk.source.is_none() {
            out.disk = None;
        }
    }
    out.shared = false;
    out.allocation_role = None;
    out
}

/// The agent's total resources: the flag resources with the checkpointed ones applied
/// (what was reserved or made a volume is taken out of its unreserved form and added back).
pub fn apply_checkpointed(total: &Resources, checkpointed: &Resources) -> Resources {
    let mut before = Resources::new();
    for resource in checkpointed.iter() {
        before.add(unconverted(resource));
    }
    let mut out = total.saturating_sub(&before);
    out.add_all(checkpointed);
    out
}

#[cfg(test)]
pub(crate) mod tests;
