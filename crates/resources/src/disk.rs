//! Disk markers of a resource (`Resource.DiskInfo`): persistent volumes and disk sources.

use std::fmt;

/// `Volume.Mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VolumeMode {
    Rw,
    Ro,
}

/// `DiskInfo.Persistence`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Persistence {
    pub id: String,
    pub principal: Option<String>,
}

/// `DiskInfo.volume`: where a volume is mounted in the container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Volume {
    pub container_path: String,
    pub mode: Option<VolumeMode>,
}

/// `DiskInfo.Source.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiskSourceKind {
    Path,
    Mount,
    Block,
    Raw,
}

impl DiskSourceKind {
    /// The protobuf enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskSourceKind::Path => "PATH",
            DiskSourceKind::Mount => "MOUNT",
            DiskSourceKind::Block => "BLOCK",
            DiskSourceKind::Raw => "RAW",
        }
    }
}

impl fmt::Display for DiskSourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `DiskInfo.Source` (CSI `vendor` and `metadata` are not modelled).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DiskSource {
    pub kind: DiskSourceKind,
    /// `path.root` or `mount.root`.
    pub root: Option<String>,
    pub id: Option<String>,
    pub profile: Option<String>,
}

/// `Resource.DiskInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DiskInfo {
    pub persistence: Option<Persistence>,
    pub volume: Option<Volume>,
    pub source: Option<DiskSource>,
}

impl DiskInfo {
    /// Mesos's notion of "the same disk": same source and same persistence id.
    /// `volume` (how a task mounts it) and the persistence principal are ignored.
    pub fn same_disk(&self, other: &DiskInfo) -> bool {
        self.source == other.source
            && self.persistence.as_ref().map(|p| &p.id) == other.persistence.as_ref().map(|p| &p.id)
    }

    /// True for MOUNT/BLOCK disks and RAW disks with an id: these are indivisible
    /// and never merged with another resource.
    pub(crate) fn is_exclusive(&self) -> bool {
        match &self.source {
            Some(s) => match s.kind {
                DiskSourceKind::Mount | DiskSourceKind::Block => true,
                DiskSourceKind::Raw => s.id.is_some(),
                DiskSourceKind::Path => false,
            },
            None => false,
        }
    }
}
