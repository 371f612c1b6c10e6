//! Choosing isolators by name, like Mesos's `--isolation=cgroups/cpu,cgroups/mem`.
//!
//! Names: `cgroups/cpu`, `cgroups/mem`, `cgroups/pids` (enforce through cgroups, see
//! [`cgroups`](crate::cgroups)); `posix/cpu`, `posix/mem`, `posix/usage` (enforce nothing,
//! only report usage from `/proc`; all three are the same [`PosixUsageIsolator`]);
//! `posix/rlimits` ([`PosixRlimitsIsolator`]: POSIX resource limits, before the namespaces);
//! `namespaces/pid` and `filesystem/tmp` (see [`PidNamespaceIsolator`] and
//! [`PrivateTmpIsolator`]; they need root, and come after the cgroup isolators whatever the
//! order of the list, so that the cgroups are joined first). `filesystem/linux`,
//! `docker/runtime` and `gpu/nvidia` are accepted here but not built: they need the agent's
//! image and GPU flags, so the agent builds them ([`ImageIsolator`](crate::image::ImageIsolator),
//! [`GpuIsolator`](crate::gpu::GpuIsolator)) and appends them last.
//!
//! # Fallback
//!
//! On a host without cgroups ([`CgroupMode::None`]) the `cgroups/*` isolators degrade to
//! `posix/usage` with a warning instead of failing, so that an agent still runs there (with
//! usage reports but no enforcement). The same happens to one isolator whose controller is
//! missing (e.g. cgroup v2 without `memory` delegated); if no cgroup isolator is left, the
//! containers still go into tracking cgroups (`cgroups/procs`) so that destroy kills all of
//! their processes. cgroups that are present but unusable (e.g. the agent is not root) are
//! an error: enforcement was asked for and would silently be missing.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::cgroups::{
    CgroupBackend, CgroupIsolator, CgroupMode, CgroupTree, CgroupsConfig, Controller, V1Backend,
    V2Backend,
};
use nix::unistd::geteuid;

use crate::error::{IsolationError, IsolatorError};
use crate::isolator::Isolator;
use crate::namespaces::{PidNamespaceIsolator, PrivateTmpIsolator};
use crate::rlimits::PosixRlimitsIsolator;
use crate::spec::ContainerId;
use crate::usage::{PosixUsageIsolator, ProcfsUsage};

/// One isolator name of an `--isolation` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolatorKind {
    CgroupsCpu,
    CgroupsMem,
    CgroupsPids,
    PosixCpu,
    PosixMem,
    PosixUsage,
    NamespacesPid,
    FilesystemTmp,
    /// `filesystem/linux`: needed for container images (built by the agent with
    /// [`ImageIsolator`](crate::image::ImageIsolator)).
    FilesystemLinux,
    /// `docker/runtime`: the [`ImageIsolator`](crate::image::ImageIsolator), built by the
    /// agent from `--docker_registry`/`--docker_store_dir`.
    DockerRuntime,
    /// `gpu/nvidia`: the [`GpuIsolator`](crate::gpu::GpuIsolator), built by the agent.
    GpuNvidia,
    /// `disk/du`: sandbox disk usage (and quota with `--enforce_container_disk_quota`), built
    /// by the agent.
    DiskDu,
    /// `posix/rlimits`: POSIX resource limits ([`PosixRlimitsIsolator`]).
    PosixRlimits,
}

impl IsolatorKind {
    pub const ALL: [IsolatorKind; 13] = [
        IsolatorKind::CgroupsCpu,
        IsolatorKind::CgroupsMem,
        IsolatorKind::CgroupsPids,
        IsolatorKind::PosixCpu,
        IsolatorKind::PosixMem,
        IsolatorKind::PosixUsage,
        IsolatorKind::NamespacesPid,
        IsolatorKind::FilesystemTmp,
        IsolatorKind::FilesystemLinux,
        IsolatorKind::DockerRuntime,
        IsolatorKind::GpuNvidia,
        IsolatorKind::DiskDu,
        IsolatorKind::PosixRlimits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            IsolatorKind::CgroupsCpu => "cgroups/cpu",
            IsolatorKind::CgroupsMem => "cgroups/mem",
            IsolatorKind::CgroupsPids => "cgroups/pids",
            IsolatorKind::PosixCpu => "posix/cpu",
            IsolatorKind::PosixMem => "posix/mem",
            IsolatorKind::PosixUsage => "posix/usage",
            IsolatorKind::NamespacesPid => "namespaces/pid",
            IsolatorKind::FilesystemTmp => "filesystem/tmp",
            IsolatorKind::FilesystemLinux => "filesystem/linux",
            IsolatorKind::DockerRuntime => "docker/runtime",
            IsolatorKind::GpuNvidia => "gpu/nvidia",
            IsolatorKind::DiskDu => "disk/du",
            IsolatorKind::PosixRlimits => crate::rlimits::POSIX_RLIMITS,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Controllers a `cgroups/*` isolator needs (empty for `posix/*`).
    fn controllers(self) -> &'static [Controller] {
        match self {
            IsolatorKind::CgroupsCpu => &[Controller::Cpu, Controller::CpuAcct],
            IsolatorKind::CgroupsMem => &[Controller::Memory],
            IsolatorKind::CgroupsPids => &[Controller::Pids],
            _ => &[],
        }
    }

    fn is_cgroups(self) -> bool {
        !self.controllers().is_empty()
    }

    fn is_posix(self) -> bool {
        matches!(
            self,
            IsolatorKind::PosixCpu | IsolatorKind::PosixMem | IsolatorKind::PosixUsage
        )
    }
}

impl fmt::Display for IsolatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed `--isolation` list, in order and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    kinds: Vec<IsolatorKind>,
}

impl Isolation {
    /// Parses a comma-separated list of names; blanks around names and empty entries are
    /// ignored, duplicates kept once.
    pub fn parse(spec: &str) -> Result<Self, IsolationError> {
        let mut kinds = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind =
                IsolatorKind::from_name(name).ok_or_else(|| IsolationError::UnknownIsolator {
                    name: name.to_owned(),
                    known: IsolatorKind::ALL.map(IsolatorKind::name).join(", "),
                })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(Self { kinds })
    }

    pub fn kinds(&self) -> &[IsolatorKind] {
        &self.kinds
    }

    /// Builds the isolators for `mode` (cgroup isolators first, so their more precise usage
    /// wins the merge), creating the cgroup roots. See the module docs for the fallback.
    pub fn build(
        &self,
        mode: &CgroupMode,
        config: &CgroupsConfig,
    ) -> Result<Vec<Box<dyn Isolator>>, IsolationError> {
        let cgroup_kinds: Vec<IsolatorKind> = self
            .kinds
            .iter()
            .copied()
            .filter(|k| k.is_cgroups())
            .collect();
        let mut isolators: Vec<Box<dyn Isolator>> = Vec::new();
        let mut degraded = false;
        if !cgroup_kinds.is_empty() {
            match open_backend(mode, config, &cgroup_kinds)? {
                None => {
                    tracing::warn!(isolators = ?names(&cgroup_kinds),
                        "no cgroups on this host: using posix/usage (usage only, no limits enforced)");
                    degraded = true;
                }
                Some(backend) => {
                    let tree = Arc::new(
                        CgroupTree::new(Arc::clone(&backend))
                            .with_kill_timeout(config.kill_timeout),
                    );
                    for kind in &cgroup_kinds {
                        let isolator = cgroup_isolator(*kind, Arc::clone(&tree), config);
                        if isolator.is_supported() {
                            isolators.push(Box::new(isolator));
                        } else {
                            tracing::warn!(isolator = kind.name(), mode = mode.name(),
                                "cgroup controller unavailable: using posix/usage instead (not enforced)");
                            degraded = true;
                        }
                    }
                    let tracks = ContainerId::new("probe")
                        .is_ok_and(|probe| !backend.tracking_dirs(&probe).is_empty());
                    if isolators.is_empty() && tracks {
                        isolators.push(Box::new(CgroupIsolator::procs(tree)));
                    }
                }
            }
        }
        if self.kinds.contains(&IsolatorKind::PosixRlimits) {
            isolators.push(Box::new(PosixRlimitsIsolator));
        }
        for (kind, isolator) in [
            (
                IsolatorKind::NamespacesPid,
                Box::new(PidNamespaceIsolator) as Box<dyn Isolator>,
            ),
            (IsolatorKind::FilesystemTmp, Box::new(PrivateTmpIsolator)),
        ] {
            if self.kinds.contains(&kind) {
                if !geteuid().is_root() {
                    return Err(IsolationError::Setup {
                        isolator: kind.name(),
                        source: IsolatorError::Unsupported {
                            what: "namespaces without root",
                        },
                    });
                }
                isolators.push(isolator);
            }
        }
        if degraded || self.kinds.iter().any(|k| k.is_posix()) {
            isolators.push(Box::new(PosixUsageIsolator::new(ProcfsUsage::new())));
        }
        Ok(isolators)
    }
}

fn names(kinds: &[IsolatorKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.name()).collect()
}

fn cgroup_isolator(
    kind: IsolatorKind,
    tree: Arc<CgroupTree>,
    config: &CgroupsConfig,
) -> CgroupIsolator {
    match kind {
        IsolatorKind::CgroupsCpu => CgroupIsolator::cpu(tree, config.enable_cfs),
        IsolatorKind::CgroupsMem => CgroupIsolator::mem(tree, config.oom_poll_interval),
        IsolatorKind::CgroupsPids => CgroupIsolator::pids(tree, config.default_pids_max),
        // Not a cgroup kind; never asked for.
        _ => CgroupIsolator::procs(tree),
    }
}

/// The backend for `mode`, or `None` without cgroups.
fn open_backend(
    mode: &CgroupMode,
    config: &CgroupsConfig,
    kinds: &[IsolatorKind],
) -> Result<Option<Arc<dyn CgroupBackend>>, IsolationError> {
    let wanted: Vec<Controller> = kinds
        .iter()
        .flat_map(|k| k.controllers())
        .copied()
        .collect();
    let setup = |source| IsolationError::Setup {
        isolator: "cgroups",
        source,
    };
    let root = config.root_name.as_str();
    Ok(match mode {
        CgroupMode::None => None,
        CgroupMode::V1(v1) => Some(Arc::new(
            V1Backend::open(v1, None, root, &wanted).map_err(setup)?,
        )),
        CgroupMode::Hybrid { v1, v2 } => Some(Arc::new(
            V1Backend::open(v1, Some(v2), root, &wanted).map_err(setup)?,
        )),
        CgroupMode::V2(v2) => Some(Arc::new(
            V2Backend::open(&v2.mount, root, &wanted).map_err(setup)?,
        )),
    })
}

impl FromStr for Isolation {
    type Err = IsolationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&names(&self.kinds).join(","))
    }
}

/// Parses `spec` and builds its isolators for `mode` with the default [`CgroupsConfig`].
pub fn build_isolators(
    spec: &str,
    mode: &CgroupMode,
) -> Result<Vec<Box<dyn Isolator>>, IsolationError> {
    build_isolators_with(spec, mode, &CgroupsConfig::default())
}

/// [`build_isolators`] with explicit cgroup settings.
pub fn build_isolators_with(
    spec: &str,
    mode: &CgroupMode,
    config: &CgroupsConfig,
) -> Result<Vec<Box<dyn Isolator>>, IsolationError> {
    Isolation::parse(spec)?.build(mode, config)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::cgroups::{V1Hierarchy, V1Layout, V2Layout};

    fn names_of(isolators: &[Box<dyn Isolator>]) -> Vec<&'static str> {
        isolators.iter().map(|i| i.name()).collect()
    }

    #[test]
    fn parses_names() {
        let i = Isolation::parse(" cgroups/cpu,cgroups/mem,,cgroups/pids, posix/usage,cgroups/cpu")
            .unwrap();
        assert_eq!(
            i.to_string(),
            "cgroups/cpu,cgroups/mem,cgroups/pids,posix/usage"
        );
        assert!(Isolation::parse("").unwrap().kinds().is_empty());
        let err = Isolation::parse("cgroups/cpu,cgroups/memory").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown isolator \"cgroups/memory\" (known: cgroups/cpu,"),
            "{err}"
        );
        assert!("posix/cpu,posix/mem".parse::<Isolation>().is_ok());
    }

    #[test]
    fn without_cgroups_everything_degrades_to_posix_usage() {
        let isolators = build_isolators(
            "cgroups/cpu,cgroups/mem,cgroups/pids,posix/usage",
            &CgroupMode::None,
        )
        .unwrap();
        assert_eq!(names_of(&isolators), vec!["posix/usage"]);
        let isolators = build_isolators("posix/cpu,posix/mem", &CgroupMode::None).unwrap();
        assert_eq!(names_of(&isolators), vec!["posix/usage"]);
        let isolators = build_isolators("posix/rlimits,posix/cpu", &CgroupMode::None).unwrap();
        assert_eq!(names_of(&isolators), vec!["posix/rlimits", "posix/usage"]);
        assert!(build_isolators("", &CgroupMode::None).unwrap().is_empty());
    }

    fn fixture_v1(root: &Path, controllers: &[&str]) -> V1Layout {
        V1Layout {
            hierarchies: controllers
                .iter()
                .map(|c| {
                    fs::create_dir_all(root.join(c)).unwrap();
                    V1Hierarchy {
                        mount: root.join(c),
                        controllers: vec![(*c).to_owned()],
                        self_cgroup: Some("/".into()),
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn builds_for_v1_and_degrades_missing_controllers() {
        let tmp = tempfile::tempdir().unwrap();
        let mode = CgroupMode::V1(fixture_v1(
            tmp.path(),
            &["cpu", "cpuacct", "memory", "freezer"],
        ));
        let config = CgroupsConfig {
            root_name: "test-root".into(),
            ..CgroupsConfig::default()
        };
        let isolators =
            build_isolators_with("cgroups/cpu,cgroups/mem,cgroups/pids", &mode, &config).unwrap();
        assert_eq!(
            names_of(&isolators),
            vec!["cgroups/cpu", "cgroups/mem", "posix/usage"]
        );
        for c in ["cpu", "cpuacct", "memory", "freezer"] {
            assert!(tmp.path().join(c).join("test-root").is_dir(), "{c}");
        }

        // Namespaces come after the cgroup isolators, whatever the order of the list.
        let built =
            build_isolators_with("filesystem/tmp,namespaces/pid,cgroups/mem", &mode, &config);
        match built {
            Ok(isolators) => {
                assert!(geteuid().is_root());
                assert_eq!(
                    names_of(&isolators),
                    vec!["cgroups/mem", "namespaces/pid", "filesystem/tmp"]
                );
            }
            Err(err) => {
                assert!(!geteuid().is_root());
                assert!(matches!(
                    err,
                    IsolationError::Setup {
                        isolator: "namespaces/pid",
                        ..
                    }
                ));
            }
        }
    }

    #[test]
    fn v2_without_controllers_still_tracks() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("cgroup.controllers"), "").unwrap();
        fs::write(tmp.path().join("cgroup.subtree_control"), "").unwrap();
        let mode = CgroupMode::V2(V2Layout {
            mount: tmp.path().to_path_buf(),
            self_cgroup: Some("/".into()),
        });
        let isolators = build_isolators("cgroups/mem,cgroups/pids", &mode).unwrap();
        assert_eq!(names_of(&isolators), vec!["cgroups/procs", "posix/usage"]);
        assert!(tmp.path().join("corral").is_dir());
    }

    #[test]
    fn unusable_cgroups_are_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        // A "mount" that is a file: the root cannot be created.
        fs::write(tmp.path().join("memory"), "").unwrap();
        let mode = CgroupMode::V1(V1Layout {
            hierarchies: vec![V1Hierarchy {
                mount: tmp.path().join("memory"),
                controllers: vec!["memory".into()],
                self_cgroup: None,
            }],
        });
        let Err(err) = build_isolators("cgroups/mem", &mode) else {
            panic!("a root that cannot be created must fail");
        };
        assert!(matches!(err, IsolationError::Setup { .. }), "{err}");
    }
}
