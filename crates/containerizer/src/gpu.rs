//! NVIDIA GPUs (`gpu/nvidia`, Mesos's `NvidiaGpuIsolator`).
//!
//! * [`NvidiaDevices::detect`]: the GPUs of a device tree (`/dev/nvidia<minor>`) and the
//!   control devices every GPU user needs (`/dev/nvidiactl`, `/dev/nvidia-uvm`,
//!   `/dev/nvidia-uvm-tools`, `/dev/nvidia-modeset`), optionally restricted to
//!   `--nvidia_gpu_devices`. The root is a parameter, so tests use a fake tree: a node that is
//!   not a character device gets NVIDIA's fixed numbers (major 195, minor from the name,
//!   `nvidiactl` 195:255, `nvidia-modeset` 195:254); `nvidia-uvm*` have a dynamic major and
//!   are only taken from real nodes.
//! * [`GpuAllocator`]: hands whole GPUs (by minor) to containers and takes them back.
//! * [`GpuIsolator`]: at `prepare`, allocates [`LaunchSpec::gpus`] GPUs and puts the
//!   container in its own cgroup v1 `devices` cgroup where every GPU it was not given is
//!   denied ([`device_rules`]); at `cleanup`, removes the cgroup and frees the GPUs.
//!
//! cgroup v2 has no `devices.allow`/`devices.deny` files: device access is controlled by BPF
//! programs attached to the cgroup, which Corral does not load. On a v2-only host the
//! isolator still allocates GPUs (so two containers never get the same one) but cannot stop
//! a task from opening another GPU's node; it says so with a warning at start-up.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::cgroups::CgroupMode;
use crate::error::IsolatorError;
use crate::isolator::Isolator;
use crate::launcher::{BoxFuture, LaunchInfo, PreExec};
use crate::spec::{ContainerId, LaunchSpec};

/// The major number of NVIDIA's character devices (`nvidia-frontend`).
pub const NVIDIA_MAJOR: u32 = 195;
/// The minor of `/dev/nvidiactl`.
pub const NVIDIACTL_MINOR: u32 = 255;
const MODESET_MINOR: u32 = 254;

/// Errors of GPU detection and flags.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid GPU list {text:?}: {reason}")]
    InvalidList { text: String, reason: String },
    #[error("GPU {minor} of --nvidia_gpu_devices is not in {}", root.display())]
    Missing { minor: u32, root: PathBuf },
}

/// One character device node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: PathBuf,
    pub major: u32,
    pub minor: u32,
}

impl DeviceNode {
    /// The cgroup v1 rule for the node: `c <major>:<minor> rwm`.
    pub fn rule(&self) -> String {
        format!("c {}:{} rwm", self.major, self.minor)
    }
}

/// The NVIDIA devices of a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NvidiaDevices {
    gpus: Vec<DeviceNode>,
    control: Vec<DeviceNode>,
}

/// Parses `--nvidia_gpu_devices`: comma-separated GPU minors, e.g. `0,1`.
pub fn parse_gpu_list(text: &str) -> Result<Vec<u32>, GpuError> {
    let mut minors = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let minor: u32 = part.parse().map_err(|_| GpuError::InvalidList {
            text: text.to_owned(),
            reason: format!("{part:?} is not a GPU minor number"),
        })?;
        if !minors.insert(minor) {
            return Err(GpuError::InvalidList {
                text: text.to_owned(),
                reason: format!("GPU {minor} is listed twice"),
            });
        }
    }
    Ok(minors.into_iter().collect())
}

/// The numbers of a node: from the node itself if it is a character device, else `fallback`.
fn numbers(meta: &fs::Metadata, fallback: Option<(u32, u32)>) -> Option<(u32, u32)> {
    if meta.file_type().is_char_device() {
        let rdev = meta.rdev();
        Some((
            nix::sys::stat::major(rdev) as u32,
            nix::sys::stat::minor(rdev) as u32,
        ))
    } else {
        fallback
    }
}

impl NvidiaDevices {
    /// Finds the GPUs and control devices under `root` (normally `/dev`). With `wanted`
    /// (`--nvidia_gpu_devices`), only those GPUs are used and each must exist.
    pub fn detect(root: &Path, wanted: Option<&[u32]>) -> Result<Self, GpuError> {
        let mut devices = Self::default();
        let entries = match fs::read_dir(root) {
            Ok(entries) => entries,
            Err(source) => {
                return Err(GpuError::Io {
                    path: root.to_path_buf(),
                    source,
                })
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            let Some(rest) = name.strip_prefix("nvidia") else {
                continue;
            };
            let fallback = if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                rest.parse().ok().map(|minor| (NVIDIA_MAJOR, minor))
            } else {
                match rest {
                    "ctl" => Some((NVIDIA_MAJOR, NVIDIACTL_MINOR)),
                    "-modeset" => Some((NVIDIA_MAJOR, MODESET_MINOR)),
                    "-uvm" | "-uvm-tools" => None,
                    _ => continue,
                }
            };
            let Some((major, minor)) = numbers(&meta, fallback) else {
                continue;
            };
            let node = DeviceNode { path, major, minor };
            if rest.bytes().all(|b| b.is_ascii_digit()) {
                devices.gpus.push(node);
            } else {
                devices.control.push(node);
            }
        }
        devices.gpus.sort_by_key(|g| g.minor);
        devices.control.sort_by_key(|c| (c.major, c.minor));
        if let Some(wanted) = wanted {
            for minor in wanted {
                if !devices.gpus.iter().any(|g| g.minor == *minor) {
                    return Err(GpuError::Missing {
                        minor: *minor,
                        root: root.to_path_buf(),
                    });
                }
            }
            devices.gpus.retain(|g| wanted.contains(&g.minor));
        }
        Ok(devices)
    }

    /// The GPUs, by minor.
    pub fn gpus(&self) -> &[DeviceNode] {
        &self.gpus
    }

    /// The control devices.
    pub fn control(&self) -> &[DeviceNode] {
        &self.control
    }
}

/// The cgroup v1 `devices` rules of a container given the GPUs `allocated` (minors):
/// `(deny, allow)`. Every other GPU is denied; its GPUs and the control devices are allowed.
pub fn device_rules(devices: &NvidiaDevices, allocated: &[u32]) -> (Vec<String>, Vec<String>) {
    let deny = devices
        .gpus
        .iter()
        .filter(|g| !allocated.contains(&g.minor))
        .map(DeviceNode::rule)
        .collect();
    let allow = devices
        .gpus
        .iter()
        .filter(|g| allocated.contains(&g.minor))
        .chain(&devices.control)
        .map(DeviceNode::rule)
        .collect();
    (deny, allow)
}

/// `--resources` with `gpus:<count>` appended when it names no `gpus` and `count > 0`. Both
/// the `name:value;…` text and the JSON array form are handled.
pub fn add_gpus_resource(resources: Option<&str>, count: usize) -> String {
    let text = resources.unwrap_or("").trim();
    if count == 0 || text.contains("gpus") {
        return text.to_owned();
    }
    if text.starts_with('[') {
        if let Ok(serde_json::Value::Array(mut list)) = serde_json::from_str(text) {
            list.push(serde_json::json!({
                "name": "gpus", "type": "SCALAR", "scalar": {"value": count}
            }));
            return serde_json::Value::Array(list).to_string();
        }
        return text.to_owned();
    }
    if text.is_empty() {
        format!("gpus:{count}")
    } else {
        format!("{};gpus:{count}", text.trim_end_matches(';'))
    }
}

/// Hands whole GPUs to containers. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct GpuAllocator {
    devices: Arc<NvidiaDevices>,
    state: Arc<Mutex<Allocations>>,
}

#[derive(Debug, Default)]
struct Allocations {
    free: BTreeSet<u32>,
    taken: HashMap<ContainerId, Vec<u32>>,
}

impl GpuAllocator {
    /// All of `devices`' GPUs start free.
    pub fn new(devices: NvidiaDevices) -> Self {
        let free = devices.gpus.iter().map(|g| g.minor).collect();
        Self {
            devices: Arc::new(devices),
            state: Arc::new(Mutex::new(Allocations {
                free,
                taken: HashMap::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, Allocations> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The devices managed.
    pub fn devices(&self) -> &NvidiaDevices {
        &self.devices
    }

    /// Gives `count` GPUs (lowest minors first) to `id`, all or none. Asking again for a
    /// container that has GPUs returns the ones it has.
    pub fn allocate(&self, id: &ContainerId, count: u32) -> Result<Vec<u32>, IsolatorError> {
        let mut state = self.state();
        if let Some(taken) = state.taken.get(id) {
            return Ok(taken.clone());
        }
        let free = u32::try_from(state.free.len()).unwrap_or(u32::MAX);
        if count > free {
            return Err(IsolatorError::GpusUnavailable {
                requested: count,
                free,
            });
        }
        let chosen: Vec<u32> = state.free.iter().take(count as usize).copied().collect();
        for minor in &chosen {
            state.free.remove(minor);
        }
        state.taken.insert(id.clone(), chosen.clone());
        Ok(chosen)
    }

    /// Takes back `id`'s GPUs (none is fine).
    pub fn release(&self, id: &ContainerId) {
        let mut state = self.state();
        if let Some(taken) = state.taken.remove(id) {
            state.free.extend(taken);
        }
    }

    /// The GPUs of `id`.
    pub fn allocated(&self, id: &ContainerId) -> Vec<u32> {
        self.state().taken.get(id).cloned().unwrap_or_default()
    }

    /// How many GPUs are free.
    pub fn free(&self) -> usize {
        self.state().free.len()
    }
}

/// `gpu/nvidia`: see the module docs.
#[derive(Debug, Clone)]
pub struct GpuIsolator {
    allocator: GpuAllocator,
    /// `<devices hierarchy>/<cgroups_root>`, or `None` on hosts without the v1 controller.
    devices_root: Option<PathBuf>,
}

impl GpuIsolator {
    /// With the v1 `devices` cgroup at `devices_root` (`<mount>/<cgroups_root>`), or without
    /// device control (`None`).
    pub fn new(allocator: GpuAllocator, devices_root: Option<PathBuf>) -> Self {
        Self {
            allocator,
            devices_root,
        }
    }

    /// For this host: the v1 `devices` hierarchy if mounted; otherwise (cgroup v2, no
    /// cgroups) GPUs are allocated but access is not restricted, with a warning.
    pub fn from_host(allocator: GpuAllocator, cgroups_root: &str) -> Result<Self, IsolatorError> {
        let mode = CgroupMode::from_host().unwrap_or(CgroupMode::None);
        let hierarchy = match &mode {
            CgroupMode::V1(v1) | CgroupMode::Hybrid { v1, .. } => v1
                .hierarchies
                .iter()
                .find(|h| h.controllers.iter().any(|c| c == "devices"))
                .map(|h| h.mount.join(cgroups_root)),
            _ => None,
        };
        match &hierarchy {
            Some(root) => fs::create_dir_all(root).map_err(|source| IsolatorError::Io {
                path: root.clone(),
                source,
            })?,
            None => tracing::warn!(
                cgroups = mode.name(),
                "gpu/nvidia: no cgroup v1 'devices' controller (cgroup v2 needs BPF device \
                 programs, which are not supported): GPUs are allocated but access to other \
                 GPUs is NOT restricted"
            ),
        }
        Ok(Self::new(allocator, hierarchy))
    }

    /// The allocator (shared).
    pub fn allocator(&self) -> &GpuAllocator {
        &self.allocator
    }

    fn cgroup(&self, id: &ContainerId) -> Option<PathBuf> {
        self.devices_root
            .as_ref()
            .map(|root| root.join(id.as_str()))
    }

    /// Creates the container's devices cgroup with its rules; returns the join action.
    fn restrict(&self, cgroup: &Path, allocated: &[u32]) -> Result<PreExec, IsolatorError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IsolatorError::Io { path, source }
        };
        match fs::create_dir(cgroup) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(cgroup)(e)),
        }
        let (deny, allow) = device_rules(self.allocator.devices(), allocated);
        for (file, rules) in [("devices.deny", deny), ("devices.allow", allow)] {
            let path = cgroup.join(file);
            for rule in rules {
                // One rule per write: the kernel parses one per call.
                fs::write(&path, rule).map_err(io(&path))?;
            }
        }
        let procs = cgroup.join("cgroup.procs");
        let fd: OwnedFd = OpenOptions::new()
            .write(true)
            .open(&procs)
            .map_err(io(&procs))?
            .into();
        Ok(PreExec::WriteFd {
            fd: Arc::new(fd),
            bytes: b"0".to_vec(),
        })
    }
}

impl Isolator for GpuIsolator {
    fn name(&self) -> &'static str {
        "gpu/nvidia"
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        Box::pin(async move {
            let id = &spec.container_id;
            let allocated = self.allocator.allocate(id, spec.gpus)?;
            tracing::info!(container_id = %id, gpus = ?allocated, "allocated GPUs");
            let mut info = LaunchInfo::default();
            if let Some(cgroup) = self.cgroup(id) {
                match self.restrict(&cgroup, &allocated) {
                    Ok(join) => info.pre_exec.push(join),
                    Err(error) => {
                        self.allocator.release(id);
                        let _ = fs::remove_dir(&cgroup);
                        return Err(error);
                    }
                }
            }
            Ok(info)
        })
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        Box::pin(async move {
            if let Some(cgroup) = self.cgroup(id) {
                match fs::remove_dir(&cgroup) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(IsolatorError::Io {
                            path: cgroup,
                            source,
                        })
                    }
                }
            }
            self.allocator.release(id);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `/dev`: regular files named like NVIDIA's nodes, plus noise.
    fn fake_dev(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            fs::write(dir.path().join(name), "").unwrap();
        }
        dir
    }

    const HOST: [&str; 8] = [
        "nvidia0",
        "nvidia1",
        "nvidia3",
        "nvidiactl",
        "nvidia-uvm",
        "nvidia-modeset",
        "null",
        "nvidia-caps",
    ];

    fn id(s: &str) -> ContainerId {
        ContainerId::new(s).unwrap()
    }

    #[test]
    fn detects_gpus_and_control_devices_in_a_fake_tree() {
        let dev = fake_dev(&HOST);
        let found = NvidiaDevices::detect(dev.path(), None).unwrap();
        let minors: Vec<u32> = found.gpus().iter().map(|g| g.minor).collect();
        assert_eq!(minors, vec![0, 1, 3]);
        assert!(found.gpus().iter().all(|g| g.major == NVIDIA_MAJOR));
        // nvidia-uvm has a dynamic major: only taken from a real node.
        let control: Vec<String> = found.control().iter().map(DeviceNode::rule).collect();
        assert_eq!(control, vec!["c 195:254 rwm", "c 195:255 rwm"]);

        let some = NvidiaDevices::detect(dev.path(), Some(&[3, 0])).unwrap();
        let minors: Vec<u32> = some.gpus().iter().map(|g| g.minor).collect();
        assert_eq!(minors, vec![0, 3]);
        assert!(matches!(
            NvidiaDevices::detect(dev.path(), Some(&[2])),
            Err(GpuError::Missing { minor: 2, .. })
        ));
        let none = fake_dev(&["null", "zero"]);
        assert!(NvidiaDevices::detect(none.path(), None)
            .unwrap()
            .gpus()
            .is_empty());
        assert!(NvidiaDevices::detect(&none.path().join("missing"), None).is_err());
    }

    #[test]
    fn real_character_devices_give_their_own_numbers() {
        // /dev/null is 1:3; a node named like a GPU takes the node's numbers.
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dev = tempfile::tempdir().unwrap();
        let node = dev.path().join("nvidia7");
        nix::sys::stat::mknod(
            &node,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(195, 7),
        )
        .unwrap();
        let uvm = dev.path().join("nvidia-uvm");
        nix::sys::stat::mknod(
            &uvm,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(511, 0),
        )
        .unwrap();
        let found = NvidiaDevices::detect(dev.path(), None).unwrap();
        assert_eq!(found.gpus()[0].rule(), "c 195:7 rwm");
        assert_eq!(found.control()[0].rule(), "c 511:0 rwm");
    }

    #[test]
    fn gpu_lists_parse() {
        assert_eq!(parse_gpu_list("1, 0").unwrap(), vec![0, 1]);
        assert_eq!(parse_gpu_list("").unwrap(), Vec::<u32>::new());
        assert!(parse_gpu_list("0,x").is_err());
        assert!(parse_gpu_list("1,1").is_err());
        assert!(parse_gpu_list("-1").is_err());
    }

    #[test]
    fn allocation_is_exclusive_and_freed() {
        let dev = fake_dev(&HOST);
        let alloc = GpuAllocator::new(NvidiaDevices::detect(dev.path(), None).unwrap());
        assert_eq!(alloc.allocate(&id("a"), 2).unwrap(), vec![0, 1]);
        // Asking again is idempotent.
        assert_eq!(alloc.allocate(&id("a"), 2).unwrap(), vec![0, 1]);
        assert!(matches!(
            alloc.allocate(&id("b"), 2),
            Err(IsolatorError::GpusUnavailable {
                requested: 2,
                free: 1
            })
        ));
        // A failed request takes nothing.
        assert_eq!(alloc.free(), 1);
        assert_eq!(alloc.allocate(&id("b"), 1).unwrap(), vec![3]);
        assert_eq!(alloc.allocate(&id("c"), 0).unwrap(), Vec::<u32>::new());
        alloc.release(&id("a"));
        alloc.release(&id("unknown"));
        assert_eq!(alloc.free(), 2);
        assert_eq!(alloc.allocated(&id("b")), vec![3]);
        assert_eq!(alloc.allocate(&id("d"), 2).unwrap(), vec![0, 1]);
    }

    #[test]
    fn devices_cgroup_rules() {
        let dev = fake_dev(&HOST);
        let devices = NvidiaDevices::detect(dev.path(), None).unwrap();
        let (deny, allow) = device_rules(&devices, &[1]);
        assert_eq!(deny, vec!["c 195:0 rwm", "c 195:3 rwm"]);
        assert_eq!(allow, vec!["c 195:1 rwm", "c 195:254 rwm", "c 195:255 rwm"]);
        let (deny, _) = device_rules(&devices, &[]);
        assert_eq!(deny.len(), 3);
    }

    #[test]
    fn gpus_are_added_to_the_resources() {
        assert_eq!(add_gpus_resource(None, 2), "gpus:2");
        assert_eq!(
            add_gpus_resource(Some("cpus:4;mem:1024"), 2),
            "cpus:4;mem:1024;gpus:2"
        );
        assert_eq!(add_gpus_resource(Some("cpus:4;gpus:1"), 2), "cpus:4;gpus:1");
        assert_eq!(add_gpus_resource(Some("cpus:4"), 0), "cpus:4");
        let json = add_gpus_resource(
            Some(r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]"#),
            1,
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[1]["name"], "gpus");
        assert_eq!(v[1]["scalar"]["value"], 1);
    }

    #[tokio::test]
    async fn the_isolator_writes_device_rules_in_a_fake_hierarchy() {
        let dev = fake_dev(&HOST);
        let cgroups = tempfile::tempdir().unwrap();
        let alloc = GpuAllocator::new(NvidiaDevices::detect(dev.path(), None).unwrap());
        let isolator = GpuIsolator::new(alloc.clone(), Some(cgroups.path().to_path_buf()));
        let sandbox = tempfile::tempdir().unwrap();
        let mut spec = LaunchSpec::new(
            id("g1"),
            crate::spec::Command::Shell("true".into()),
            sandbox.path(),
        );
        spec.gpus = 1;
        // In a plain directory the rule files are ordinary files: the last write stays.
        let cg = cgroups.path().join("g1");
        fs::create_dir(&cg).unwrap();
        fs::write(cg.join("cgroup.procs"), "").unwrap();
        let info = isolator.prepare(&spec).await.unwrap();
        assert!(matches!(
            info.pre_exec.as_slice(),
            [PreExec::WriteFd { .. }]
        ));
        assert_eq!(
            fs::read_to_string(cg.join("devices.deny")).unwrap(),
            "c 195:3 rwm"
        );
        assert_eq!(
            fs::read_to_string(cg.join("devices.allow")).unwrap(),
            "c 195:255 rwm"
        );
        assert_eq!(alloc.allocated(&id("g1")), vec![0]);
        // Too many GPUs: refused, nothing kept.
        spec.container_id = id("g2");
        spec.gpus = 5;
        assert!(isolator.prepare(&spec).await.is_err());
        assert_eq!(alloc.free(), 2);
        // Without device control, GPUs are still allocated.
        let loose = GpuIsolator::new(alloc.clone(), None);
        spec.gpus = 2;
        assert!(loose.prepare(&spec).await.unwrap().pre_exec.is_empty());
        assert_eq!(alloc.free(), 0);
        loose.cleanup(&id("g2")).await.unwrap();
        assert_eq!(alloc.free(), 2);
    }
}
