//! [`V1Backend`]: one root per controller hierarchy (`/sys/fs/cgroup/memory/corral`, …),
//! plus optionally a root in the unified hierarchy of a hybrid host, used only to track and
//! kill (`cgroup.kill`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::detect::{V1Layout, V2Layout};
use super::{fs, CgroupBackend, CgroupVersion, Controller, KillMethod};
use crate::error::IsolatorError;
use crate::spec::ContainerId;

/// cgroup v1: container `c` of controller `x` is `<roots[x]>/c`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V1Backend {
    roots: BTreeMap<Controller, PathBuf>,
    unified: Option<PathBuf>,
}

impl V1Backend {
    /// A backend over the given roots (which may share a directory when controllers are
    /// co-mounted, e.g. `cpu,cpuacct`). Does no I/O.
    pub fn new(roots: impl IntoIterator<Item = (Controller, PathBuf)>) -> Self {
        Self {
            roots: roots.into_iter().collect(),
            unified: None,
        }
    }

    /// Also puts every container in `<root>/<id>` of a unified (v2) hierarchy, whose
    /// `cgroup.kill` then kills it.
    pub fn with_unified(mut self, root: impl Into<PathBuf>) -> Self {
        self.unified = Some(root.into());
        self
    }

    /// The host backend: `<mount>/<root_name>` for each controller of `wanted` that is
    /// mounted, plus the freezer, and the unified hierarchy of a hybrid host. Creates the roots.
    pub fn open(
        layout: &V1Layout,
        unified: Option<&V2Layout>,
        root_name: &str,
        wanted: &[Controller],
    ) -> Result<Self, IsolatorError> {
        let mut roots = BTreeMap::new();
        for &controller in wanted.iter().chain([&Controller::Freezer]) {
            if let Some(hierarchy) = layout.hierarchy(controller.v1_name()) {
                let root = hierarchy.mount.join(root_name);
                fs::create_cgroup(&root)?;
                roots.insert(controller, root);
            }
        }
        let mut backend = Self::new(roots);
        if let Some(v2) = unified {
            let root = v2.mount.join(root_name);
            match fs::create_cgroup(&root) {
                Ok(()) => backend = backend.with_unified(root),
                Err(error) => {
                    tracing::warn!(%error, "not tracking containers in the unified hierarchy")
                }
            }
        }
        Ok(backend)
    }

    /// The root of `controller`'s hierarchy.
    pub fn root(&self, controller: Controller) -> Option<&Path> {
        self.roots.get(&controller).map(PathBuf::as_path)
    }

    /// The unified root of a hybrid host.
    pub fn unified_root(&self) -> Option<&Path> {
        self.unified.as_deref()
    }
}

impl CgroupBackend for V1Backend {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V1
    }

    fn supports(&self, controller: Controller) -> bool {
        self.roots.contains_key(&controller)
    }

    fn dir(&self, controller: Controller, id: &ContainerId) -> Option<PathBuf> {
        self.roots
            .get(&controller)
            .map(|root| root.join(id.as_str()))
    }

    fn tracking_dirs(&self, id: &ContainerId) -> Vec<PathBuf> {
        let unified = self.unified.as_ref().map(|root| root.join(id.as_str()));
        unified
            .into_iter()
            .chain(self.dir(Controller::Freezer, id))
            .collect()
    }

    fn container_dirs(&self, id: &ContainerId) -> Vec<PathBuf> {
        let mut out = self.tracking_dirs(id);
        for root in self.roots.values() {
            let dir = root.join(id.as_str());
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
        out
    }

    fn roots(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.unified.iter().cloned().collect();
        for root in self.roots.values() {
            if !out.contains(root) {
                out.push(root.clone());
            }
        }
        out
    }

    fn kill_method(&self, id: &ContainerId) -> KillMethod {
        if let Some(unified) = &self.unified {
            let dir = unified.join(id.as_str());
            if dir.join("cgroup.kill").exists() {
                return KillMethod::CgroupKill(dir);
            }
        }
        match self.dir(Controller::Freezer, id) {
            Some(dir) => KillMethod::FreezerV1(dir),
            None => KillMethod::Signal(self.container_dirs(id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::detect::V1Hierarchy;

    fn id() -> ContainerId {
        ContainerId::new("c1").unwrap()
    }

    #[test]
    fn layout_and_kill_method() {
        let b = V1Backend::new([
            (Controller::Cpu, PathBuf::from("/cg/cpu,cpuacct/corral")),
            (Controller::CpuAcct, PathBuf::from("/cg/cpu,cpuacct/corral")),
            (Controller::Memory, PathBuf::from("/cg/memory/corral")),
            (Controller::Freezer, PathBuf::from("/cg/freezer/corral")),
        ]);
        assert!(b.supports(Controller::Memory) && !b.supports(Controller::Pids));
        assert_eq!(
            b.dir(Controller::Memory, &id()),
            Some(PathBuf::from("/cg/memory/corral/c1"))
        );
        assert_eq!(b.dir(Controller::Pids, &id()), None);
        assert_eq!(
            b.tracking_dirs(&id()),
            vec![PathBuf::from("/cg/freezer/corral/c1")]
        );
        assert_eq!(
            b.container_dirs(&id()).len(),
            3,
            "co-mounted cpu,cpuacct counted once"
        );
        assert_eq!(b.roots().len(), 3);
        assert_eq!(
            b.kill_method(&id()),
            KillMethod::FreezerV1(PathBuf::from("/cg/freezer/corral/c1"))
        );

        let no_freezer = V1Backend::new([(Controller::Pids, PathBuf::from("/cg/pids/corral"))]);
        assert_eq!(
            no_freezer.kill_method(&id()),
            KillMethod::Signal(vec![PathBuf::from("/cg/pids/corral/c1")])
        );
    }

    #[test]
    fn opens_roots_in_a_fixture_and_prefers_cgroup_kill() {
        let tmp = tempfile::tempdir().unwrap();
        let mount = |name: &str| tmp.path().join(name);
        let layout = V1Layout {
            hierarchies: ["memory", "freezer", "cpu"]
                .iter()
                .map(|name| V1Hierarchy {
                    mount: mount(name),
                    controllers: vec![(*name).to_owned()],
                    self_cgroup: Some("/".into()),
                })
                .collect(),
        };
        let unified = V2Layout {
            mount: mount("unified"),
            self_cgroup: Some("/".into()),
        };
        let b = V1Backend::open(
            &layout,
            Some(&unified),
            "corral",
            &[Controller::Memory, Controller::Pids],
        )
        .unwrap();
        assert!(b.supports(Controller::Memory));
        assert!(!b.supports(Controller::Pids), "not mounted");
        assert!(!b.supports(Controller::Cpu), "not wanted");
        assert!(mount("memory/corral").is_dir() && mount("freezer/corral").is_dir());
        assert!(!mount("cpu/corral").exists());
        assert_eq!(b.unified_root(), Some(mount("unified/corral").as_path()));
        assert_eq!(b.tracking_dirs(&id())[0], mount("unified/corral/c1"));
        assert!(matches!(b.kill_method(&id()), KillMethod::FreezerV1(_)));
        std::fs::create_dir_all(mount("unified/corral/c1")).unwrap();
        std::fs::write(mount("unified/corral/c1/cgroup.kill"), "").unwrap();
        assert_eq!(
            b.kill_method(&id()),
            KillMethod::CgroupKill(mount("unified/corral/c1"))
        );
    }
}
