//! [`CgroupTree`]: the container cgroups shared by all cgroup isolators of one agent.
//!
//! Each isolator attaches the controllers it needs in `prepare`; the tree creates the
//! container's cgroups (those controllers' plus the tracking ones) and hands out one join
//! action per cgroup, so that the child joins each exactly once. Whichever isolator cleans up
//! first destroys them all: kill passes until no process is left (escapees included), then
//! `rmdir`. Later cleanups find nothing to do, which also makes cleanup idempotent.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::kill::{self, KillMethod, Signaller};
use super::{fs, CgroupBackend, ContainerCgroup, Controller};
use crate::error::IsolatorError;
use crate::isolator::RecoveredContainer;
use crate::launcher::PreExec;
use crate::spec::ContainerId;

const MAX_PAUSE: Duration = Duration::from_millis(50);

/// The container cgroups of one agent over one [`CgroupBackend`]. Share it (`Arc`) between
/// the cgroup isolators. One agent per root: recovery removes cgroups it does not know.
pub struct CgroupTree {
    backend: Arc<dyn CgroupBackend>,
    kill_timeout: Duration,
    signal: Signaller,
    state: Mutex<HashMap<ContainerId, Entry>>,
}

#[derive(Debug, Default)]
struct Entry {
    /// Cgroups the container's child joins (or, once recovered, that exist).
    joined: BTreeSet<PathBuf>,
}

impl fmt::Debug for CgroupTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CgroupTree")
            .field("backend", &self.backend)
            .field("kill_timeout", &self.kill_timeout)
            .finish_non_exhaustive()
    }
}

impl CgroupTree {
    pub fn new(backend: Arc<dyn CgroupBackend>) -> Self {
        Self {
            backend,
            kill_timeout: super::CgroupsConfig::default().kill_timeout,
            signal: Arc::new(kill::sigkill),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// How long [`destroy`](Self::destroy) keeps killing before it gives up.
    pub fn with_kill_timeout(mut self, kill_timeout: Duration) -> Self {
        self.kill_timeout = kill_timeout;
        self
    }

    #[cfg(test)]
    pub(crate) fn with_signaller(mut self, signal: Signaller) -> Self {
        self.signal = signal;
        self
    }

    pub fn backend(&self) -> &Arc<dyn CgroupBackend> {
        &self.backend
    }

    fn state(&self) -> MutexGuard<'_, HashMap<ContainerId, Entry>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The containers attached or recovered and not yet destroyed.
    pub fn containers(&self) -> Vec<ContainerId> {
        let mut ids: Vec<ContainerId> = self.state().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// `None` for an unknown container, `Some(false)` for a recovered one without cgroups
    /// (started before cgroup isolation was enabled).
    pub(crate) fn has_cgroups(&self, id: &ContainerId) -> Option<bool> {
        self.state().get(id).map(|e| !e.joined.is_empty())
    }

    /// The container's cgroup dirs for `controllers`, as an isolator sees them.
    pub(crate) fn cgroup(&self, id: &ContainerId, controllers: &[Controller]) -> ContainerCgroup {
        ContainerCgroup::new(self.backend.as_ref(), id, controllers)
    }

    /// Creates the container's cgroups for `controllers` and the tracking ones, and returns
    /// a join action for each that no earlier isolator joined.
    pub(crate) fn attach(
        &self,
        id: &ContainerId,
        controllers: &[Controller],
    ) -> Result<Vec<PreExec>, IsolatorError> {
        let mut dirs = self.backend.tracking_dirs(id);
        for dir in self.cgroup(id, controllers).dirs() {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        let mut state = self.state();
        let entry = state.entry(id.clone()).or_default();
        let mut actions = Vec::new();
        for dir in dirs {
            if entry.joined.contains(&dir) {
                continue;
            }
            fs::create_cgroup(&dir)?;
            actions.push(fs::join_action(&dir)?);
            entry.joined.insert(dir);
        }
        Ok(actions)
    }

    /// Re-attaches recovered containers to their existing cgroups, then destroys the cgroups
    /// of containers that are not known (orphans of an earlier agent run). Idempotent, so
    /// every cgroup isolator may call it.
    pub async fn recover(&self, containers: &[RecoveredContainer]) -> Result<(), IsolatorError> {
        {
            let mut state = self.state();
            for c in containers {
                let joined = self
                    .backend
                    .container_dirs(&c.container_id)
                    .into_iter()
                    .filter(|dir| dir.is_dir())
                    .collect();
                state.insert(c.container_id.clone(), Entry { joined });
            }
        }
        let mut orphans = BTreeSet::new();
        for root in self.backend.roots() {
            for name in fs::child_cgroups(&root)? {
                match ContainerId::new(name.as_str()) {
                    Ok(id) if !self.state().contains_key(&id) => {
                        orphans.insert(id);
                    }
                    Ok(_) => {}
                    Err(_) => tracing::warn!(cgroup = %root.join(&name).display(),
                        "leaving a cgroup that is not named like a container"),
                }
            }
        }
        for id in orphans {
            tracing::info!(container_id = %id, "destroying orphan cgroups");
            self.destroy(&id).await?;
        }
        Ok(())
    }

    /// Live pids in all of the container's cgroups (and their children).
    pub fn procs(&self, id: &ContainerId) -> Result<Vec<u32>, IsolatorError> {
        let mut pids = BTreeSet::new();
        for dir in self.backend.container_dirs(id) {
            pids.extend(fs::procs_recursive(&dir)?);
        }
        Ok(pids.into_iter().collect())
    }

    /// One kill pass over the container's cgroups, without waiting or removing them: used when
    /// a limit was hit, so that processes outside the container's session die at once too.
    pub async fn kill(&self, id: &ContainerId) -> Result<(), IsolatorError> {
        let dirs = self.backend.container_dirs(id);
        kill::kill_pass(&self.backend.kill_method(id), &self.signal).await?;
        kill::kill_pass(&KillMethod::Signal(dirs), &self.signal).await
    }

    /// Kills every process in the container's cgroups, waits until none is left and removes
    /// the cgroups. Succeeds at once if there are none. Fails with
    /// [`IsolatorError::DestroyIncomplete`] after the kill timeout; it can be retried.
    pub async fn destroy(&self, id: &ContainerId) -> Result<(), IsolatorError> {
        let dirs: Vec<PathBuf> = self
            .backend
            .container_dirs(id)
            .into_iter()
            .filter(|dir| dir.is_dir())
            .collect();
        if !dirs.is_empty() {
            let deadline = Instant::now() + self.kill_timeout;
            self.kill_all(id, &dirs, deadline).await?;
            for dir in &dirs {
                self.remove(id, dir, deadline).await?;
            }
            tracing::debug!(container_id = %id, "removed cgroups");
        }
        self.state().remove(id);
        Ok(())
    }

    async fn kill_all(
        &self,
        id: &ContainerId,
        dirs: &[PathBuf],
        deadline: Instant,
    ) -> Result<(), IsolatorError> {
        let method = self.backend.kill_method(id);
        let fallback = KillMethod::Signal(dirs.to_vec());
        let mut pause = Duration::from_millis(1);
        for pass in 0u32.. {
            let remaining = self.procs(id)?;
            if remaining.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                tracing::error!(container_id = %id, ?remaining, "processes survived the cgroup kill");
                return Err(IsolatorError::DestroyIncomplete {
                    id: id.clone(),
                    remaining,
                });
            }
            tracing::debug!(container_id = %id, ?remaining, ?method, pass, "killing cgroup");
            if let Err(error) = kill::kill_pass(&method, &self.signal).await {
                tracing::warn!(container_id = %id, %error, "cgroup kill pass failed");
            }
            // A process the method cannot reach (e.g. in a v1 cgroup but not in the unified
            // one, after an agent upgrade) is signalled directly from the second pass on.
            if pass > 0 {
                kill::kill_pass(&fallback, &self.signal).await?;
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
        Ok(())
    }

    /// `rmdir`, retried while the kernel still reports the cgroup busy.
    async fn remove(
        &self,
        id: &ContainerId,
        dir: &std::path::Path,
        deadline: Instant,
    ) -> Result<(), IsolatorError> {
        loop {
            match fs::remove_cgroup_tree(dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    tracing::debug!(container_id = %id, cgroup = %dir.display(), "cgroup busy");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(fs::io_error(dir, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs as stdfs;
    use std::path::Path;

    use super::*;
    use crate::cgroups::{V1Backend, V2Backend};

    fn id(s: &str) -> ContainerId {
        ContainerId::new(s).unwrap()
    }

    /// A fixture cgroup dir with an empty `cgroup.procs`, as the kernel would create it.
    fn fake_cgroup(dir: &Path) {
        stdfs::create_dir_all(dir).unwrap();
        stdfs::write(dir.join("cgroup.procs"), "").unwrap();
    }

    #[tokio::test]
    async fn attach_joins_each_cgroup_once_and_destroy_removes_all() {
        let tmp = tempfile::tempdir().unwrap();
        let root = |c: &str| tmp.path().join(c).join("corral");
        let backend = V1Backend::new([
            (Controller::Memory, root("memory")),
            (Controller::Pids, root("pids")),
            (Controller::Freezer, root("freezer")),
        ]);
        let tree = CgroupTree::new(Arc::new(backend));
        let c1 = id("c1");
        for c in ["memory", "pids", "freezer"] {
            fake_cgroup(&root(c).join("c1"));
        }
        stdfs::write(root("freezer").join("c1/freezer.state"), "THAWED").unwrap();
        // Freezer (tracking) and memory for the first isolator, only pids for the second.
        assert_eq!(tree.attach(&c1, &[Controller::Memory]).unwrap().len(), 2);
        assert_eq!(
            tree.attach(&c1, &[Controller::Pids, Controller::Memory])
                .unwrap()
                .len(),
            1
        );
        assert_eq!(tree.has_cgroups(&c1), Some(true));
        assert_eq!(tree.containers(), vec![c1.clone()]);

        // A process left in the memory cgroup gets killed before the rmdir.
        stdfs::write(root("memory").join("c1/cgroup.procs"), "4000010\n").unwrap();
        let killed = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&killed);
        let memory_procs = root("memory").join("c1/cgroup.procs");
        let tree = CgroupTree {
            signal: Arc::new(move |pid| {
                record.lock().unwrap().push(pid);
                stdfs::write(&memory_procs, "")
            }),
            ..tree
        };
        tree.destroy(&c1).await.unwrap();
        assert_eq!(*killed.lock().unwrap(), vec![4_000_010]);
        for c in ["memory", "pids", "freezer"] {
            assert!(!root(c).join("c1").exists(), "{c}");
            assert!(root(c).exists());
        }
        assert_eq!(tree.has_cgroups(&c1), None);
        tree.destroy(&c1).await.unwrap();
    }

    #[tokio::test]
    async fn destroy_gives_up_after_the_timeout() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = V2Backend::new(tmp.path(), []);
        let tree = CgroupTree::new(Arc::new(backend))
            .with_kill_timeout(Duration::from_millis(50))
            .with_signaller(Arc::new(|_| Ok(())));
        fake_cgroup(&tmp.path().join("stuck"));
        stdfs::write(tmp.path().join("stuck/cgroup.kill"), "").unwrap();
        stdfs::write(tmp.path().join("stuck/cgroup.procs"), "4000011\n").unwrap();
        let err = tree.destroy(&id("stuck")).await.unwrap_err();
        assert!(
            matches!(err, IsolatorError::DestroyIncomplete { ref remaining, .. } if remaining == &[4_000_011]),
            "{err}"
        );
        assert!(tmp.path().join("stuck").exists());
    }

    #[tokio::test]
    async fn recover_reattaches_and_removes_orphans() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = CgroupTree::new(Arc::new(V2Backend::new(tmp.path(), [Controller::Memory])));
        fake_cgroup(&tmp.path().join("alive"));
        fake_cgroup(&tmp.path().join("orphan"));
        fake_cgroup(&tmp.path().join("orphan/nested"));
        stdfs::create_dir(tmp.path().join("not a container")).unwrap();
        let recovered = [
            RecoveredContainer {
                container_id: id("alive"),
                pid: 4_000_012,
            },
            RecoveredContainer {
                container_id: id("nocgroup"),
                pid: 4_000_013,
            },
        ];
        tree.recover(&recovered).await.unwrap();
        assert!(tmp.path().join("alive").exists());
        assert!(!tmp.path().join("orphan").exists());
        assert!(tmp.path().join("not a container").exists());
        assert_eq!(tree.has_cgroups(&id("alive")), Some(true));
        assert_eq!(tree.has_cgroups(&id("nocgroup")), Some(false));
        // Already joined: nothing more to join.
        assert!(tree
            .attach(&id("alive"), &[Controller::Memory])
            .unwrap()
            .is_empty());
        tree.recover(&recovered).await.unwrap();
        assert!(tmp.path().join("alive").exists());
    }
}
