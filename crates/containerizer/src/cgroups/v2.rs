//! [`V2Backend`]: one root in the unified hierarchy (`/sys/fs/cgroup/corral`); container `c`
//! is `<root>/c` and holds every controller's files.
//!
//! Controllers must be enabled in `cgroup.subtree_control` of each cgroup from the mount down
//! to the root for container cgroups to have their files. [`V2Backend::open`] enables the
//! ones that are available; the root itself holds no process, so v2's "no internal
//! processes" rule allows it. What could not be enabled is reported by
//! [`supports`](CgroupBackend::supports), and the isolators needing it degrade.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::detect::parse_controller_list;
use super::{fs, CgroupBackend, CgroupVersion, Controller, KillMethod};
use crate::error::IsolatorError;
use crate::spec::ContainerId;

/// cgroup v2: container `c` is `<root>/c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Backend {
    root: PathBuf,
    enabled: BTreeSet<Controller>,
}

impl V2Backend {
    /// A backend whose container cgroups have the `enabled` controllers. Does no I/O.
    pub fn new(root: impl Into<PathBuf>, enabled: impl IntoIterator<Item = Controller>) -> Self {
        Self {
            root: root.into(),
            enabled: enabled.into_iter().collect(),
        }
    }

    /// The host backend at `<mount>/<root_name>`: creates the root and enables the `wanted`
    /// controllers (those offered by `cgroup.controllers`) in `cgroup.subtree_control` of
    /// each cgroup from the mount down to the root. A controller that cannot be enabled is
    /// logged and left out.
    pub fn open(
        mount: &Path,
        root_name: &str,
        wanted: &[Controller],
    ) -> Result<Self, IsolatorError> {
        let root = mount.join(root_name);
        fs::create_cgroup(&root)?;
        let mut dir = mount.to_path_buf();
        let mut path = vec![dir.clone()];
        for component in Path::new(root_name).components() {
            dir.push(component);
            path.push(dir.clone());
        }
        for dir in &path {
            enable(dir, wanted)?;
        }
        let on = fs::read_opt(&root.join("cgroup.subtree_control"))?
            .map(|text| parse_controller_list(&text))
            .unwrap_or_default();
        let enabled = wanted
            .iter()
            .copied()
            .filter(|c| c.v2_name().is_some_and(|name| on.contains(name)));
        Ok(Self::new(root, enabled))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Enables in `dir`'s `cgroup.subtree_control` the wanted controllers that `dir` offers and
/// that are not yet on, in one write (the kernel applies all or none).
fn enable(dir: &Path, wanted: &[Controller]) -> Result<(), IsolatorError> {
    let read = |file: &str| -> Result<BTreeSet<String>, IsolatorError> {
        Ok(fs::read_opt(&dir.join(file))?
            .map(|text| parse_controller_list(&text))
            .unwrap_or_default())
    };
    let available = read("cgroup.controllers")?;
    let on = read("cgroup.subtree_control")?;
    let missing: Vec<String> = wanted
        .iter()
        .filter_map(|c| c.v2_name())
        .filter(|name| available.contains(*name) && !on.contains(*name))
        .map(|name| format!("+{name}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if let Err(error) = fs::write(&dir.join("cgroup.subtree_control"), &missing.join(" ")) {
        tracing::warn!(cgroup = %dir.display(), controllers = ?missing, %error,
            "cannot enable cgroup v2 controllers (is the cgroup delegated and free of processes?)");
    }
    Ok(())
}

impl CgroupBackend for V2Backend {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V2
    }

    fn supports(&self, controller: Controller) -> bool {
        controller.v2_name().is_none() || self.enabled.contains(&controller)
    }

    fn dir(&self, controller: Controller, id: &ContainerId) -> Option<PathBuf> {
        self.supports(controller)
            .then(|| self.root.join(id.as_str()))
    }

    fn tracking_dirs(&self, id: &ContainerId) -> Vec<PathBuf> {
        vec![self.root.join(id.as_str())]
    }

    fn container_dirs(&self, id: &ContainerId) -> Vec<PathBuf> {
        self.tracking_dirs(id)
    }

    fn roots(&self) -> Vec<PathBuf> {
        vec![self.root.clone()]
    }

    fn kill_method(&self, id: &ContainerId) -> KillMethod {
        let dir = self.root.join(id.as_str());
        // Without a cgroup (yet) assume a kernel with cgroup.kill; nothing is in it anyway.
        if dir.join("cgroup.kill").exists() || !dir.join("cgroup.freeze").exists() {
            KillMethod::CgroupKill(dir)
        } else {
            KillMethod::FreezeV2(dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs as stdfs;

    use super::*;

    #[test]
    fn enables_available_controllers_along_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let mount = tmp.path();
        stdfs::write(
            mount.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        stdfs::write(mount.join("cgroup.subtree_control"), "cpu\n").unwrap();
        let root = mount.join("corral");
        stdfs::create_dir(&root).unwrap();
        stdfs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        stdfs::write(root.join("cgroup.subtree_control"), "").unwrap();

        let wanted = [
            Controller::Cpu,
            Controller::Memory,
            Controller::Pids,
            Controller::CpuAcct,
        ];
        let b = V2Backend::open(mount, "corral", &wanted).unwrap();
        // The mount already had cpu on; memory and pids were added in one write.
        assert_eq!(
            stdfs::read_to_string(mount.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        assert_eq!(
            stdfs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );
        for c in Controller::ALL {
            assert!(b.supports(c), "{c}");
        }
        let id = ContainerId::new("c1").unwrap();
        assert_eq!(b.dir(Controller::Memory, &id), Some(root.join("c1")));
        assert_eq!(b.container_dirs(&id), vec![root.join("c1")]);
        assert_eq!(b.kill_method(&id), KillMethod::CgroupKill(root.join("c1")));
        stdfs::create_dir(root.join("c1")).unwrap();
        stdfs::write(root.join("c1/cgroup.freeze"), "0").unwrap();
        assert_eq!(b.kill_method(&id), KillMethod::FreezeV2(root.join("c1")));
    }

    #[test]
    fn without_controllers_only_tracks() {
        let tmp = tempfile::tempdir().unwrap();
        // Like /sys/fs/cgroup/unified on a hybrid host: no controller offered.
        stdfs::write(tmp.path().join("cgroup.controllers"), "\n").unwrap();
        stdfs::write(tmp.path().join("cgroup.subtree_control"), "").unwrap();
        let b = V2Backend::open(
            tmp.path(),
            "a/b",
            &[Controller::Memory, Controller::CpuAcct],
        )
        .unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        assert!(!b.supports(Controller::Memory));
        assert!(b.supports(Controller::CpuAcct) && b.supports(Controller::Freezer));
        let id = ContainerId::new("c").unwrap();
        assert_eq!(b.dir(Controller::Memory, &id), None);
        assert_eq!(
            b.dir(Controller::CpuAcct, &id),
            Some(tmp.path().join("a/b/c"))
        );
        assert_eq!(
            stdfs::read_to_string(tmp.path().join("cgroup.subtree_control")).unwrap(),
            ""
        );
    }
}
