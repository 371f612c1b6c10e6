//! `cgroups/pids`: a cap on processes and threads (`pids.max`, same file on v1 and v2), so a
//! fork bomb stays inside its container: `fork` and `clone` fail with `EAGAIN` at the limit.
//! Mesos had no such limit; it defaults to [`DEFAULT_PIDS_MAX`](super::DEFAULT_PIDS_MAX).
//!
//! Also `cgroups/procs`, which uses no controller: it only makes sure the container has its
//! tracking cgroups, so that destroy kills all its processes.

use std::path::Path;

use super::isolator::Subsystem;
use super::{fs, CgroupVersion, ContainerCgroup, Controller};
use crate::error::IsolatorError;
use crate::spec::ResourceLimits;
use crate::usage::ResourceUsage;

#[derive(Debug)]
pub(crate) struct Pids {
    default_max: u64,
}

impl Pids {
    pub(crate) fn new(default_max: u64) -> Self {
        Self {
            default_max: default_max.max(1),
        }
    }
}

/// Number of lines (pids or tids) of a `cgroup.procs`-like file; `None` if missing.
fn count(path: &Path) -> Result<Option<u64>, IsolatorError> {
    Ok(fs::read_opt(path)?.map(|text| fs::parse_pids(&text).len() as u64))
}

impl Subsystem for Pids {
    fn name(&self) -> &'static str {
        "cgroups/pids"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Pids]
    }

    fn apply(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError> {
        let Some(dir) = cg.dir(Controller::Pids) else {
            return Ok(());
        };
        let max = limits.pids.unwrap_or(self.default_max);
        fs::write(&dir.join("pids.max"), &max.to_string())?;
        tracing::debug!(container_id = %cg.id, max, "applied pids limit");
        Ok(())
    }

    fn usage(&self, cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError> {
        let Some(dir) = cg.dir(Controller::Pids) else {
            return Ok(ResourceUsage::default());
        };
        Ok(ResourceUsage {
            processes: count(&dir.join("cgroup.procs"))?,
            // The pids controller counts tasks, i.e. threads (and not yet reaped zombies).
            threads: fs::read_u64(&dir.join("pids.current"))?,
            pids_limit: fs::read_u64(&dir.join("pids.max"))?,
            ..ResourceUsage::default()
        })
    }
}

/// `cgroups/procs`: tracking only.
#[derive(Debug)]
pub(crate) struct Procs;

impl Subsystem for Procs {
    fn name(&self) -> &'static str {
        "cgroups/procs"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[]
    }

    fn apply(&self, _cg: &ContainerCgroup, _limits: &ResourceLimits) -> Result<(), IsolatorError> {
        Ok(())
    }

    fn usage(&self, cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError> {
        let Some(dir) = cg.tracking.first() else {
            return Ok(ResourceUsage::default());
        };
        let threads_file = match cg.version {
            CgroupVersion::V1 => "tasks",
            CgroupVersion::V2 => "cgroup.threads",
        };
        Ok(ResourceUsage {
            processes: count(&dir.join("cgroup.procs"))?,
            threads: count(&dir.join(threads_file))?,
            ..ResourceUsage::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs as stdfs;

    use super::*;
    use crate::cgroups::{V1Backend, V2Backend};
    use crate::spec::ContainerId;

    #[test]
    fn pids_limit_and_usage() {
        let tmp = tempfile::tempdir().unwrap();
        let id = ContainerId::new("c").unwrap();
        for backend in [
            Box::new(V1Backend::new([(
                Controller::Pids,
                tmp.path().to_path_buf(),
            )])) as Box<dyn crate::cgroups::CgroupBackend>,
            Box::new(V2Backend::new(tmp.path(), [Controller::Pids])),
        ] {
            let pids = Pids::new(4096);
            let cg = ContainerCgroup::new(backend.as_ref(), &id, pids.controllers());
            let dir = tmp.path().join("c");
            stdfs::create_dir_all(&dir).unwrap();
            stdfs::write(dir.join("pids.max"), "max\n").unwrap();
            stdfs::write(dir.join("pids.current"), "5\n").unwrap();
            stdfs::write(dir.join("cgroup.procs"), "10\n11\n").unwrap();
            assert_eq!(pids.usage(&cg).unwrap().pids_limit, None);

            pids.apply(&cg, &ResourceLimits::default()).unwrap();
            assert_eq!(stdfs::read_to_string(dir.join("pids.max")).unwrap(), "4096");
            let limits = ResourceLimits {
                pids: Some(32),
                ..ResourceLimits::default()
            };
            pids.apply(&cg, &limits).unwrap();
            let usage = pids.usage(&cg).unwrap();
            assert_eq!(usage.pids_limit, Some(32));
            assert_eq!(usage.threads, Some(5));
            assert_eq!(usage.processes, Some(2));
        }
    }

    #[test]
    fn procs_counts_the_tracking_cgroup() {
        let tmp = tempfile::tempdir().unwrap();
        let id = ContainerId::new("c").unwrap();
        let backend = V1Backend::new([(Controller::Freezer, tmp.path().to_path_buf())]);
        let cg = ContainerCgroup::new(&backend, &id, Procs.controllers());
        let dir = tmp.path().join("c");
        stdfs::create_dir_all(&dir).unwrap();
        stdfs::write(dir.join("cgroup.procs"), "10\n").unwrap();
        stdfs::write(dir.join("tasks"), "10\n12\n13\n").unwrap();
        let usage = Procs.usage(&cg).unwrap();
        assert_eq!((usage.processes, usage.threads), (Some(1), Some(3)));
        Procs.apply(&cg, &ResourceLimits::default()).unwrap();
    }
}
