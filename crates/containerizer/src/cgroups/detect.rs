//! Detecting the host's cgroup setup from `/proc/self/mounts` and `/proc/self/cgroup`.
//!
//! [`CgroupMode::detect`] is pure parsing over the two files' text; [`CgroupMode::from_host`]
//! reads them. Whether v2 controllers can be enabled is decided later, when a
//! [`V2Backend`](super::V2Backend) is opened, because that needs the hierarchy's files.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// The v1 subsystems a `cgroup` mount may carry as options (other options, such as `rw` or
/// `name=systemd`, are not controllers).
const V1_SUBSYSTEMS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// Which cgroup hierarchies the host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMode {
    /// No cgroup hierarchy with controllers: the cgroup isolators fall back to `posix/usage`.
    None,
    /// Only v1 controller hierarchies.
    V1(V1Layout),
    /// Only the unified v2 hierarchy (modern hosts).
    V2(V2Layout),
    /// v1 controller hierarchies plus a unified hierarchy (systemd's "hybrid" setup, usually
    /// at `/sys/fs/cgroup/unified`), which then serves only to track processes.
    Hybrid { v1: V1Layout, v2: V2Layout },
}

/// The v1 controller hierarchies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V1Layout {
    pub hierarchies: Vec<V1Hierarchy>,
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub mount: PathBuf,
    /// Controllers bound to it, e.g. `["cpu", "cpuacct"]`.
    pub controllers: Vec<String>,
    /// This process's cgroup in it, from `/proc/self/cgroup` (e.g. `/` or `/system.slice/x`).
    pub self_cgroup: Option<String>,
}

/// The unified (v2) hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Layout {
    pub mount: PathBuf,
    /// This process's cgroup, from the `0::` line of `/proc/self/cgroup`.
    pub self_cgroup: Option<String>,
}

impl V1Layout {
    /// The hierarchy that carries `controller` (a v1 subsystem name).
    pub fn hierarchy(&self, controller: &str) -> Option<&V1Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
    }
}

impl V2Layout {
    /// Controllers that the hierarchy's root offers (`cgroup.controllers`), i.e. the ones that
    /// can be enabled for our cgroups.
    pub fn available_controllers(&self) -> io::Result<BTreeSet<String>> {
        let text = std::fs::read_to_string(self.mount.join("cgroup.controllers"))?;
        Ok(parse_controller_list(&text))
    }
}

impl CgroupMode {
    /// Classifies the host from the text of `/proc/self/mounts` (or `/proc/mounts`) and of
    /// `/proc/self/cgroup`. Unparseable lines are skipped.
    pub fn detect(proc_mounts: &str, proc_self_cgroup: &str) -> CgroupMode {
        let memberships = parse_self_cgroup(proc_self_cgroup);
        let mut v1 = V1Layout::default();
        let mut v2: Option<V2Layout> = None;
        for line in proc_mounts.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(target), Some(fstype), Some(options)) =
                (fields.get(1), fields.get(2), fields.get(3))
            else {
                continue;
            };
            let mount = PathBuf::from(unescape_mount_path(target));
            match *fstype {
                "cgroup2" if v2.is_none() => {
                    let self_cgroup = memberships
                        .iter()
                        .find(|(id, controllers, _)| *id == 0 && controllers.is_empty())
                        .map(|(_, _, path)| path.clone());
                    v2 = Some(V2Layout { mount, self_cgroup });
                }
                "cgroup" => {
                    let controllers: Vec<String> = options
                        .split(',')
                        .filter(|o| V1_SUBSYSTEMS.contains(o))
                        .map(str::to_owned)
                        .collect();
                    // Named hierarchies (name=systemd) carry no controller; a hierarchy mounted
                    // twice keeps its first mount.
                    if controllers.is_empty()
                        || v1.hierarchy(&controllers[0]).is_some()
                        || !Path::new(&mount).is_absolute()
                    {
                        continue;
                    }
                    let self_cgroup = memberships
                        .iter()
                        .find(|(_, list, _)| {
                            let mut list: Vec<&str> = list.iter().map(String::as_str).collect();
                            let mut ours: Vec<&str> =
                                controllers.iter().map(String::as_str).collect();
                            list.sort_unstable();
                            ours.sort_unstable();
                            list == ours
                        })
                        .map(|(_, _, path)| path.clone());
                    v1.hierarchies.push(V1Hierarchy {
                        mount,
                        controllers,
                        self_cgroup,
                    });
                }
                _ => {}
            }
        }
        match (v1.hierarchies.is_empty(), v2) {
            (true, None) => CgroupMode::None,
            (true, Some(v2)) => CgroupMode::V2(v2),
            (false, None) => CgroupMode::V1(v1),
            (false, Some(v2)) => CgroupMode::Hybrid { v1, v2 },
        }
    }

    /// Reads this host's `/proc/self/mounts` and `/proc/self/cgroup`.
    pub fn from_host() -> io::Result<CgroupMode> {
        Self::from_proc(Path::new("/proc"))
    }

    /// Like [`from_host`](Self::from_host) with another proc root.
    pub fn from_proc(proc_root: &Path) -> io::Result<CgroupMode> {
        let mounts = std::fs::read_to_string(proc_root.join("self/mounts"))?;
        // Without cgroup support the kernel has no /proc/self/cgroup.
        let cgroup = match std::fs::read_to_string(proc_root.join("self/cgroup")) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        Ok(Self::detect(&mounts, &cgroup))
    }

    /// `none`, `v1`, `v2` or `hybrid`.
    pub fn name(&self) -> &'static str {
        match self {
            CgroupMode::None => "none",
            CgroupMode::V1(_) => "v1",
            CgroupMode::V2(_) => "v2",
            CgroupMode::Hybrid { .. } => "hybrid",
        }
    }

    /// The v1 hierarchies, if any.
    pub fn v1(&self) -> Option<&V1Layout> {
        match self {
            CgroupMode::V1(v1) | CgroupMode::Hybrid { v1, .. } => Some(v1),
            _ => None,
        }
    }

    /// The unified hierarchy, if mounted.
    pub fn v2(&self) -> Option<&V2Layout> {
        match self {
            CgroupMode::V2(v2) | CgroupMode::Hybrid { v2, .. } => Some(v2),
            _ => None,
        }
    }
}

/// Parses `cgroup.controllers` or `cgroup.subtree_control` ("cpu io memory", maybe with `+`).
pub fn parse_controller_list(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .map(|c| c.trim_start_matches(['+', '-']).to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

/// `/proc/self/cgroup` lines: `hierarchy-id:controller,list:path`.
fn parse_self_cgroup(text: &str) -> Vec<(u32, Vec<String>, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let id = parts.next()?.trim().parse().ok()?;
            let controllers = parts
                .next()?
                .split(',')
                .filter(|c| !c.is_empty() && !c.starts_with("name="))
                .map(str::to_owned)
                .collect();
            let path = parts.next()?.to_owned();
            Some((id, controllers, path))
        })
        .collect()
}

/// Mount points escape space, tab, newline and backslash as `\040`-style octal.
fn unescape_mount_path(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/freezer cgroup rw,relatime,freezer 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
";
    const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/07f4
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn detects_hybrid() {
        let mode = CgroupMode::detect(HYBRID_MOUNTS, HYBRID_SELF);
        assert_eq!(mode.name(), "hybrid");
        let v1 = mode.v1().unwrap();
        assert_eq!(v1.hierarchies.len(), 5);
        let memory = v1.hierarchy("memory").unwrap();
        assert_eq!(memory.mount, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(memory.self_cgroup.as_deref(), Some("/process_api/07f4"));
        assert!(v1.hierarchy("cpuset").is_none());
        let v2 = mode.v2().unwrap();
        assert_eq!(v2.mount, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(v2.self_cgroup.as_deref(), Some("/"));
    }

    #[test]
    fn detects_v1_with_comounted_controllers() {
        let mounts = "\
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0
cgroup /mnt/again cgroup rw,memory 0 0
";
        let self_cgroup = "3:cpuacct,cpu:/agent\n2:memory:/\n";
        let mode = CgroupMode::detect(mounts, self_cgroup);
        assert_eq!(mode.name(), "v1");
        let v1 = mode.v1().unwrap();
        assert_eq!(v1.hierarchies.len(), 2, "second memory mount ignored");
        let cpu = v1.hierarchy("cpuacct").unwrap();
        assert_eq!(cpu.mount, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(cpu.self_cgroup.as_deref(), Some("/agent"));
        assert!(mode.v2().is_none());
    }

    #[test]
    fn detects_v2_and_none() {
        let mode = CgroupMode::detect(
            "cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n",
            "0::/user.slice/session-1.scope\n",
        );
        assert_eq!(
            mode,
            CgroupMode::V2(V2Layout {
                mount: PathBuf::from("/sys/fs/cgroup"),
                self_cgroup: Some("/user.slice/session-1.scope".into()),
            })
        );
        assert_eq!(
            CgroupMode::detect("proc /proc proc rw 0 0\n", ""),
            CgroupMode::None
        );
        // Only a named hierarchy: no controllers.
        let named = "cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n";
        assert_eq!(
            CgroupMode::detect(named, "1:name=systemd:/\n"),
            CgroupMode::None
        );
        assert_eq!(
            CgroupMode::detect("garbage\n\n x y\n", "::\nx\n"),
            CgroupMode::None
        );
    }

    #[test]
    fn unescapes_mount_points() {
        assert_eq!(unescape_mount_path(r"/mnt/my\040cg"), "/mnt/my cg");
        assert_eq!(unescape_mount_path(r"/a\\b\09"), r"/a\\b\09");
        let mode = CgroupMode::detect("cgroup2 /mnt/c\\040g cgroup2 rw 0 0\n", "");
        assert_eq!(mode.v2().unwrap().mount, PathBuf::from("/mnt/c g"));
    }

    #[test]
    fn parses_controller_lists() {
        let set = parse_controller_list("cpuset cpu io memory pids\n");
        assert!(set.contains("memory") && set.contains("pids") && set.len() == 5);
        let set = parse_controller_list("+cpu +memory");
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec!["cpu", "memory"]);
        assert!(parse_controller_list("").is_empty());
    }

    #[test]
    fn reads_this_host() {
        // Whatever the host is, reading it must not fail where /proc exists.
        if Path::new("/proc/self/mounts").exists() {
            CgroupMode::from_host().unwrap();
        }
    }
}
