//! [`CgroupIsolator`]: one [`Isolator`] per cgroup concern, over a shared [`CgroupTree`].
//!
//! The lifecycle (create and join in `prepare`, re-attach in `recover`, kill and remove in
//! `cleanup`) is the tree's and the same for all; what differs per concern (which files to
//! write, what to read for usage, which limit to watch) is a [`Subsystem`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{cpu, mem, pids, CgroupTree, ContainerCgroup, Controller};
use crate::error::IsolatorError;
use crate::isolator::{Isolator, Limitation, RecoveredContainer};
use crate::launcher::{BoxFuture, LaunchInfo};
use crate::spec::{ContainerId, LaunchSpec, ResourceLimits};
use crate::usage::ResourceUsage;

/// What one cgroup isolator does with the container's cgroups.
pub(crate) trait Subsystem: Send + Sync + fmt::Debug {
    /// The isolator name, e.g. `cgroups/mem`.
    fn name(&self) -> &'static str;

    /// Controllers whose cgroups it uses; the first, if any, is required.
    fn controllers(&self) -> &'static [Controller];

    /// Writes the limits into freshly created cgroups.
    fn apply(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError>;

    fn usage(&self, cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError>;

    /// Writes new limits into a running container's cgroups. The default changes nothing:
    /// a subsystem whose limit does not follow the container's resources (pids) keeps it.
    fn update(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError> {
        let _ = (cg, limits);
        Ok(())
    }

    /// Called for each container re-attached after an agent restart.
    fn recovered(&self, cg: &ContainerCgroup) {
        let _ = cg;
    }

    /// See [`Isolator::watch_limitation`].
    fn watch(&self, cg: ContainerCgroup) -> Option<BoxFuture<'static, Limitation>> {
        let _ = cg;
        None
    }

    /// See [`Isolator::check_limitation`].
    fn check(&self, cg: &ContainerCgroup) -> Option<Limitation> {
        let _ = cg;
        None
    }

    /// The container's cgroups are gone.
    fn forget(&self, id: &ContainerId) {
        let _ = id;
    }
}

/// A cgroup isolator: `cgroups/cpu`, `cgroups/mem`, `cgroups/pids` or `cgroups/procs`.
/// Isolators built on one [`CgroupTree`] share the container's cgroups.
#[derive(Debug)]
pub struct CgroupIsolator {
    subsystem: Box<dyn Subsystem>,
    tree: Arc<CgroupTree>,
}

impl CgroupIsolator {
    /// `cgroups/cpu`: proportional share from `cpus` (v1 `cpu.shares`, v2 `cpu.weight`) and,
    /// with `enable_cfs`, a hard cap (v1 CFS quota, v2 `cpu.max`). Usage: CPU times and
    /// throttling.
    pub fn cpu(tree: Arc<CgroupTree>, enable_cfs: bool) -> Self {
        Self::with(tree, cpu::Cpu::new(enable_cfs))
    }

    /// `cgroups/mem`: hard memory limit from `mem_bytes`, no swap; reports the OOM killer
    /// acting in the container as a [`LimitationKind::Memory`](crate::LimitationKind)
    /// limitation. Usage: memory statistics.
    pub fn mem(tree: Arc<CgroupTree>, oom_poll_interval: Duration) -> Self {
        Self::with(tree, mem::Mem::new(oom_poll_interval))
    }

    /// `cgroups/pids`: `pids.max` from `pids`, or `default_max`, so a fork bomb stays inside.
    /// Usage: processes and threads.
    pub fn pids(tree: Arc<CgroupTree>, default_max: u64) -> Self {
        Self::with(tree, pids::Pids::new(default_max))
    }

    /// `cgroups/procs`: no controller; only puts the container in the tracking cgroups so
    /// that destroy kills all its processes. Used where the controllers are missing.
    pub fn procs(tree: Arc<CgroupTree>) -> Self {
        Self::with(tree, pids::Procs)
    }

    fn with(tree: Arc<CgroupTree>, subsystem: impl Subsystem + 'static) -> Self {
        Self {
            subsystem: Box::new(subsystem),
            tree,
        }
    }

    pub fn tree(&self) -> &Arc<CgroupTree> {
        &self.tree
    }

    /// Whether the tree's backend has the controller this isolator needs.
    pub fn is_supported(&self) -> bool {
        self.subsystem
            .controllers()
            .first()
            .is_none_or(|&c| self.tree.backend().supports(c))
    }

    fn cgroup(&self, id: &ContainerId) -> Option<ContainerCgroup> {
        (self.tree.has_cgroups(id) == Some(true))
            .then(|| self.tree.cgroup(id, self.subsystem.controllers()))
    }
}

impl Isolator for CgroupIsolator {
    fn name(&self) -> &'static str {
        self.subsystem.name()
    }

    fn recover<'a>(
        &'a self,
        containers: &'a [RecoveredContainer],
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        Box::pin(async move {
            self.tree.recover(containers).await?;
            for c in containers {
                if let Some(cg) = self.cgroup(&c.container_id) {
                    self.subsystem.recovered(&cg);
                }
            }
            Ok(())
        })
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        Box::pin(async move {
            if !self.is_supported() {
                return Err(IsolatorError::Unsupported {
                    what: self.subsystem.name(),
                });
            }
            let id = &spec.container_id;
            let pre_exec = self.tree.attach(id, self.subsystem.controllers())?;
            let cg = self.tree.cgroup(id, self.subsystem.controllers());
            self.subsystem.apply(&cg, &spec.resources)?;
            Ok(LaunchInfo {
                env: Vec::new(),
                pre_exec,
            })
        })
    }

    /// The subsystem's watch; when it fires, everything in the container's cgroups is killed
    /// at once (like v2's `memory.oom.group`), not only the session the containerizer kills.
    fn watch_limitation(&self, id: &ContainerId) -> Option<BoxFuture<'static, Limitation>> {
        let watch = self.subsystem.watch(self.cgroup(id)?)?;
        let tree = Arc::clone(&self.tree);
        let id = id.clone();
        Some(Box::pin(async move {
            let hit = watch.await;
            if let Err(error) = tree.kill(&id).await {
                tracing::warn!(container_id = %id, %error, "killing the limited cgroup failed");
            }
            hit
        }))
    }

    fn check_limitation(&self, id: &ContainerId) -> Option<Limitation> {
        self.subsystem.check(&self.cgroup(id)?)
    }

    fn usage<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ResourceUsage, IsolatorError>> {
        Box::pin(async move {
            match self.tree.has_cgroups(id) {
                None => Err(IsolatorError::UnknownContainer(id.clone())),
                Some(false) => Ok(ResourceUsage::default()),
                Some(true) => self
                    .subsystem
                    .usage(&self.tree.cgroup(id, self.subsystem.controllers())),
            }
        })
    }

    fn update<'a>(
        &'a self,
        id: &'a ContainerId,
        limits: &'a ResourceLimits,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        Box::pin(async move {
            match self.cgroup(id) {
                Some(cg) => self.subsystem.update(&cg, limits),
                None => Ok(()),
            }
        })
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        Box::pin(async move {
            self.tree.destroy(id).await?;
            self.subsystem.forget(id);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::cgroups::V2Backend;
    use crate::launcher::PreExec;
    use crate::spec::Command;

    fn fake_v2_cgroup(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        for (name, content) in [
            ("cgroup.procs", ""),
            ("cgroup.kill", ""),
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.stat", "usage_usec 10\nuser_usec 7\nsystem_usec 3\n"),
            ("memory.max", "max\n"),
            ("memory.current", "4096\n"),
            ("memory.events", "oom 0\noom_kill 0\n"),
            ("memory.stat", "anon 4096\nfile 0\n"),
            ("pids.max", "max\n"),
            ("pids.current", "1\n"),
        ] {
            fs::write(dir.join(name), content).unwrap();
        }
    }

    #[tokio::test]
    async fn isolators_share_one_cgroup_through_the_lifecycle() {
        let tmp = tempfile::tempdir().unwrap();
        let enabled = [Controller::Cpu, Controller::Memory, Controller::Pids];
        let tree = Arc::new(CgroupTree::new(Arc::new(V2Backend::new(
            tmp.path(),
            enabled,
        ))));
        let isolators = [
            CgroupIsolator::cpu(Arc::clone(&tree), true),
            CgroupIsolator::mem(Arc::clone(&tree), Duration::from_millis(5)),
            CgroupIsolator::pids(Arc::clone(&tree), 4096),
        ];
        let mut spec = LaunchSpec::new(
            ContainerId::new("c1").unwrap(),
            Command::Shell("true".into()),
            "/tmp",
        );
        spec.resources = ResourceLimits {
            cpus: Some(2.0),
            mem_bytes: Some(64 << 20),
            pids: Some(32),
            disk_bytes: None,
        };
        let id = &spec.container_id;
        let dir = tmp.path().join("c1");
        fake_v2_cgroup(&dir);

        let mut joins = Vec::new();
        for isolator in &isolators {
            assert!(isolator.is_supported());
            joins.push(isolator.prepare(&spec).await.unwrap().pre_exec);
        }
        // One cgroup on v2: the first isolator hands out its join, the others nothing.
        assert!(matches!(joins[0].as_slice(), [PreExec::WriteFd { .. }]));
        assert!(joins[1].is_empty() && joins[2].is_empty());
        assert_eq!(
            fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "200000 100000"
        );
        assert_eq!(
            fs::read_to_string(dir.join("memory.max")).unwrap(),
            (64u64 << 20).to_string()
        );
        assert_eq!(fs::read_to_string(dir.join("pids.max")).unwrap(), "32");

        let mut usage = ResourceUsage::default();
        for isolator in &isolators {
            usage.merge(isolator.usage(id).await.unwrap());
        }
        assert_eq!(usage.cpus_limit, Some(2.0));
        assert_eq!(usage.mem_limit_bytes, Some(64 << 20));
        assert_eq!(usage.mem_total_bytes, Some(4096));
        assert_eq!(usage.pids_limit, Some(32));
        assert_eq!(usage.threads, Some(1));

        assert!(isolators.iter().all(|i| i.check_limitation(id).is_none()));
        fs::write(dir.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        let hit = isolators[1].check_limitation(id).unwrap();
        assert!(hit.message.contains("Requested: 64MB"), "{}", hit.message);
        assert!(isolators[1].watch_limitation(id).is_some());
        assert!(isolators[0].watch_limitation(id).is_none());

        for isolator in isolators.iter().rev() {
            isolator.cleanup(id).await.unwrap();
        }
        assert!(!dir.exists());
        assert!(matches!(
            isolators[0].usage(id).await,
            Err(IsolatorError::UnknownContainer(_))
        ));
        assert!(isolators[1].watch_limitation(id).is_none());
    }

    #[tokio::test]
    async fn unsupported_controller_refuses_to_prepare() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = Arc::new(CgroupTree::new(Arc::new(V2Backend::new(tmp.path(), []))));
        let mem = CgroupIsolator::mem(Arc::clone(&tree), Duration::from_millis(5));
        assert!(!mem.is_supported());
        assert!(CgroupIsolator::procs(tree).is_supported());
        let spec = LaunchSpec::new(
            ContainerId::new("c1").unwrap(),
            Command::Shell("true".into()),
            "/tmp",
        );
        assert!(matches!(
            mem.prepare(&spec).await,
            Err(IsolatorError::Unsupported {
                what: "cgroups/mem"
            })
        ));
    }
}
