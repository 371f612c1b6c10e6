//! Checkpointed resources and persistent volumes in the core: CHECKPOINT_RESOURCES becomes a
//! [`CheckpointPlan`] the runtime persists before the core commits it; volumes that disappear
//! from the set are destroyed once no live task or executor uses them.

use std::path::PathBuf;

use corral_api::v1::{self, task_status::Reason};

use super::state::{is_terminal, Ending, ExecutorState};
use super::{AgentCore, Effect};
use crate::checkpoint::Checkpointed;
use crate::volumes::{
    checkpointed_volumes, mounts_for, volume_key, MountError, VolumeMount, VolumeRef,
};

/// A validated new checkpointed set and what it changes. The runtime persists
/// [`CheckpointPlan::record`] and only then calls [`AgentCore::commit_checkpoint`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointPlan {
    resources: Vec<v1::Resource>,
    volumes: Vec<VolumeRef>,
    create: Vec<VolumeRef>,
    destroy: Vec<VolumeRef>,
    doomed: Vec<VolumeRef>,
}

impl CheckpointPlan {
    /// What to write to the checkpoint file: the set, and every volume whose directory is to
    /// be deleted (now or once unused), so that a restart finishes the job.
    pub fn record(&self) -> Checkpointed {
        Checkpointed {
            resources: self.resources.clone(),
            pending_destroy: (self.destroy.iter().chain(&self.doomed))
                .map(|v| v.resource.clone())
                .collect(),
        }
    }

    /// The new set's persistent volumes.
    pub fn volumes(&self) -> &[VolumeRef] {
        &self.volumes
    }
}

/// A persistent volume as `/state` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeStatus {
    /// The volume.
    pub volume: VolumeRef,
    /// A live task or executor uses it.
    pub in_use: bool,
    /// It was destroyed; its directory goes when it is no longer used.
    pub destroyed: bool,
}

impl AgentCore {
    /// Validates a complete new set (CHECKPOINT_RESOURCES) against the current one: volumes
    /// that appear are created; volumes that disappear are destroyed now, or later if in use.
    pub fn plan_checkpoint(&self, resources: Vec<v1::Resource>) -> Result<CheckpointPlan, String> {
        let volumes = checkpointed_volumes(&self.config.launch.work_dir, &resources)?;
        let create = volumes
            .iter()
            .filter(|v| !self.volumes.iter().any(|old| old.same(v)))
            .cloned()
            .collect();
        for volume in volumes
            .iter()
            .filter(|v| self.doomed.iter().any(|d| d.same(v)))
        {
            tracing::warn!(volume = %volume.name(), "a destroyed volume still in use was created again: it keeps its contents");
        }
        let in_use = self.volumes_in_use();
        let (mut destroy, mut doomed) = (Vec::new(), Vec::new());
        let gone = self.volumes.iter().chain(&self.doomed);
        for volume in gone.filter(|old| !volumes.iter().any(|v| v.same(old))) {
            if in_use.iter().any(|key| volume.is(key)) {
                doomed.push(volume.clone());
            } else {
                destroy.push(volume.clone());
            }
        }
        Ok(CheckpointPlan {
            resources,
            volumes,
            create,
            destroy,
            doomed,
        })
    }

    /// The plan is durable: adopt the set, create the new volumes' directories and delete the
    /// unused destroyed ones.
    pub fn commit_checkpoint(&mut self, plan: CheckpointPlan) {
        self.generation += 1;
        let paths = |list: &[VolumeRef]| -> Vec<PathBuf> {
            list.iter().filter_map(|v| v.path.clone()).collect()
        };
        for volume in &plan.doomed {
            if !self.doomed.iter().any(|d| d.same(volume)) {
                tracing::info!(volume = %volume.name(), "persistent volume destroyed while in use; its directory goes when its last user ends");
            }
        }
        tracing::info!(
            resources = plan.resources.len(),
            created = plan.create.len(),
            destroyed = plan.destroy.len(),
            "checkpointed resources updated"
        );
        let (create, destroy) = (paths(&plan.create), paths(&plan.destroy));
        self.restore_checkpointed(plan);
        if !create.is_empty() {
            self.emit(Effect::CreateVolumes(create));
        }
        if !destroy.is_empty() {
            self.emit(Effect::DestroyVolumes(destroy));
        }
    }

    /// Adopts a set whose directories are already in place (at start, after recovery).
    pub fn restore_checkpointed(&mut self, plan: CheckpointPlan) {
        self.generation += 1;
        self.checkpointed = plan.resources;
        self.volumes = plan.volumes;
        self.doomed = plan.doomed;
    }

    /// The agent's work directory.
    pub fn work_dir(&self) -> &std::path::Path {
        &self.config.launch.work_dir
    }

    /// The current checkpointed set, as the master sent it.
    pub fn checkpointed(&self) -> &[v1::Resource] {
        &self.checkpointed
    }

    /// The checkpointed volumes and the destroyed ones still in use.
    pub fn volume_statuses(&self) -> Vec<VolumeStatus> {
        let in_use = self.volumes_in_use();
        let status = |volume: &VolumeRef, destroyed| VolumeStatus {
            volume: volume.clone(),
            in_use: in_use.iter().any(|key| volume.is(key)),
            destroyed,
        };
        let live = self.volumes.iter().map(|v| status(v, false));
        live.chain(self.doomed.iter().map(|v| status(v, true)))
            .collect()
    }

    /// Deletes the destroyed volumes nobody uses any more (a task or executor ended).
    pub(super) fn reap_volumes(&mut self) {
        if self.doomed.is_empty() {
            return;
        }
        let in_use = self.volumes_in_use();
        let (still, free): (Vec<VolumeRef>, Vec<VolumeRef>) = std::mem::take(&mut self.doomed)
            .into_iter()
            .partition(|d| in_use.iter().any(|key| d.is(key)));
        self.doomed = still;
        let paths: Vec<PathBuf> = free
            .iter()
            .inspect(|v| tracing::info!(volume = %v.name(), "the last user of a destroyed persistent volume ended; deleting it"))
            .filter_map(|v| v.path.clone())
            .collect();
        if !paths.is_empty() {
            self.generation += 1;
            self.emit(Effect::DestroyVolumes(paths));
        }
    }

    /// The (role, persistence id) of every volume a live executor or a live or queued task
    /// holds.
    fn volumes_in_use(&self) -> Vec<(String, String)> {
        let mut used: Vec<(String, String)> = Vec::new();
        let executors = self.frameworks.values().flat_map(|f| f.executors.values());
        for executor in executors.filter(|e| e.state != ExecutorState::Terminated) {
            let live = executor.tasks.values().filter(|t| !is_terminal(t.state()));
            let lists = std::iter::once(executor.info.resources.as_slice())
                .chain(live.map(|t| t.resources.as_slice()))
                .chain(executor.queued_tasks().map(|t| t.resources.as_slice()));
            for key in lists.flatten().filter_map(volume_key) {
                if !used.contains(&key) {
                    used.push(key);
                }
            }
        }
        used
    }

    /// The volumes a launch must expose: those of `resources`, all checkpointed.
    pub(super) fn launch_mounts<'a>(
        &self,
        resources: impl IntoIterator<Item = &'a v1::Resource>,
        has_image: bool,
    ) -> Result<Vec<VolumeMount>, MountError> {
        mounts_for(resources, &self.volumes, has_image)
    }

    /// Volumes could not be exposed in a running container: it is destroyed and its tasks fail
    /// with REASON_CONTAINER_UPDATE_FAILED (as Mesos does when a container update fails).
    pub fn volumes_failed(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        error: &str,
    ) {
        tracing::error!(
            framework_id,
            executor_id,
            container_id,
            error,
            "cannot expose persistent volumes in the sandbox"
        );
        let current = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .is_some_and(|e| e.container_id == container_id);
        if current {
            let ending = Ending {
                reason: Reason::ContainerUpdateFailed,
                message: format!("Failed to update the container's volumes: {error}"),
            };
            self.shutdown_executor(framework_id, executor_id, Some(ending));
        }
    }
}
