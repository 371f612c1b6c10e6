//! Framework failover: a scheduler whose stream breaks keeps its tasks for its
//! `failover_timeout`; re-subscribing with the same id within it gets its unacknowledged
//! status updates again (same uuids); after it the framework is removed and its tasks killed.
//!
//! Unlike Mesos (MESOS-4659) the deadline survives a master failover: the framework's record
//! is written to the registry before SUBSCRIBED is sent, and again (with the time of the
//! disconnection) when its stream breaks; a recovering master restores the framework as
//! disconnected with its original deadline ([`MasterCore::recover_frameworks`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use corral_api::internal::MasterMessage;
use corral_api::v1::{self, task_status::Reason, TaskState};

use super::records::{framework_roles, framework_spec, Connection, Framework, Time};
use super::status::{master_status, update_event};
use super::{Effect, MasterCore};
use crate::registry::{FrameworkRecord, RegistryWrite};

/// Latest update with a uuid forwarded to each task's framework and not yet acknowledged, by
/// (framework id, task id). Redelivered when the framework re-subscribes.
pub type UnackedUpdates = BTreeMap<(String, String), v1::TaskStatus>;

impl MasterCore {
    /// The durable record of a framework, as it stands now.
    pub fn framework_record(&self, framework_id: &str) -> Option<FrameworkRecord> {
        let f = self.frameworks.get(framework_id)?;
        let disconnected_since = match f.connection {
            Connection::Connected { .. } => None,
            Connection::Disconnected { since, .. } => Some(since),
        };
        Some(FrameworkRecord {
            info: f.info.clone(),
            disconnected_since,
        })
    }

    /// Ask the runtime to make the framework's record durable (before any later effect).
    pub(crate) fn persist_framework(&mut self, framework_id: &str) {
        if let Some(record) = self.framework_record(framework_id) {
            self.emit(Effect::Registry(RegistryWrite::Framework(record)));
        }
    }

    /// How long a framework that was connected when the previous master died has to
    /// re-subscribe: its `failover_timeout`, but at least `agent_reregister_timeout` (its
    /// scheduler lost the master, not its stream; Mesos waits forever here, MESOS-4659).
    pub fn recovery_grace(&self, failover_timeout: f64) -> Time {
        failover_timeout
            .max(0.0)
            .max(self.config.agent_reregister_timeout_secs)
    }

    /// Record a framework learned from an agent's report as one that was connected when the
    /// previous master died (so a later failover grants it the grace again).
    pub(crate) fn persist_recovered_framework(&mut self, framework_id: &str) {
        if let Some(mut record) = self.framework_record(framework_id) {
            record.disconnected_since = None;
            self.emit(Effect::Registry(RegistryWrite::Framework(record)));
        }
    }

    /// Restore the frameworks of the registry after a master failover. Each comes back
    /// disconnected: one that was disconnected keeps its original deadline
    /// (`disconnected_since + failover_timeout`, the fix of MESOS-4659); one that was
    /// connected lost the old master, not its stream, and gets [`Self::recovery_grace`] from
    /// now. Frameworks whose deadline has passed are removed at the next
    /// [`MasterCore::tick`]. Their tasks come back as their agents re-register.
    pub fn recover_frameworks(
        &mut self,
        records: impl IntoIterator<Item = FrameworkRecord>,
        now: Time,
    ) {
        for record in records {
            let Some(id) = record.info.id.as_ref().map(|i| i.value.clone()) else {
                continue;
            };
            if self.frameworks.contains_key(&id) {
                continue;
            }
            let (since, deadline) = match record.disconnected_since {
                Some(since) => (since, since + record.info.failover_timeout().max(0.0)),
                None => (
                    now,
                    now + self.recovery_grace(record.info.failover_timeout()),
                ),
            };
            let roles = framework_roles(&record.info);
            let spec = framework_spec(&record.info, &[]);
            tracing::info!(
                framework_id = %id,
                deadline_in = deadline - now,
                "framework recovered from the registry"
            );
            self.frameworks.insert(
                id.clone(),
                Framework {
                    id: id.clone(),
                    info: record.info,
                    connection: Connection::Disconnected {
                        since,
                        failover_deadline: deadline,
                    },
                    roles,
                    suppressed_roles: BTreeSet::new(),
                    registered_time: since,
                    reregistered_time: None,
                    unregistered_time: Some(since),
                    tasks: BTreeSet::new(),
                    completed_tasks: VecDeque::new(),
                    offers: BTreeSet::new(),
                    executors: BTreeMap::new(),
                    recovered: true,
                },
            );
            self.allocator.add_framework(&id, &spec);
            self.allocator.deactivate_framework(&id);
        }
    }

    /// Remember the latest update with a uuid forwarded for a task (called for every
    /// recorded status; master-made statuses carry no uuid and leave it alone).
    pub(crate) fn note_forwarded_update(&mut self, framework_id: &str, status: &v1::TaskStatus) {
        if status.uuid.is_some() {
            self.unacked_updates.insert(
                (framework_id.to_string(), status.task_id.value.clone()),
                status.clone(),
            );
        }
    }

    /// The scheduler acknowledged `uuid` for a task.
    pub(crate) fn note_acknowledged(&mut self, framework_id: &str, task_id: &str, uuid: &[u8]) {
        let key = (framework_id.to_string(), task_id.to_string());
        if self
            .unacked_updates
            .get(&key)
            .is_some_and(|s| s.uuid.as_deref() == Some(uuid))
        {
            self.unacked_updates.remove(&key);
        }
    }

    /// Send a re-subscribed framework the updates it has not acknowledged, with their
    /// original uuids (the agents keep resending them too; duplicates are acknowledged
    /// harmlessly).
    pub(crate) fn redeliver_unacknowledged(&mut self, framework_id: &str) {
        let pending: Vec<v1::TaskStatus> = self
            .unacked_updates
            .range((framework_id.to_string(), String::new())..)
            .take_while(|((f, _), _)| f == framework_id)
            .map(|(_, s)| s.clone())
            .collect();
        if !pending.is_empty() {
            tracing::info!(
                framework_id,
                count = pending.len(),
                "redelivering unacknowledged status updates"
            );
        }
        for status in pending {
            self.send_event(framework_id, update_event(status));
        }
    }

    /// The framework's stream broke. It keeps its tasks for `failover_timeout`; the time of
    /// the disconnection is made durable so that the deadline survives a master failover.
    pub fn framework_disconnected(&mut self, framework_id: &str, stream_id: &str, now: Time) {
        let Some(f) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        match &f.connection {
            Connection::Connected { stream_id: current } if current == stream_id => {}
            _ => return, // an older stream closing after a re-subscription
        }
        let timeout = f.info.failover_timeout().max(0.0);
        tracing::info!(
            framework_id,
            failover_timeout = timeout,
            "framework disconnected"
        );
        f.connection = Connection::Disconnected {
            since: now,
            failover_deadline: now + timeout,
        };
        f.unregistered_time = Some(now);
        self.allocator.deactivate_framework(framework_id);
        let offers: Vec<String> = f.offers.iter().cloned().collect();
        for offer_id in offers {
            self.remove_offer(&offer_id, None, now);
        }
        if timeout == 0.0 {
            self.remove_framework(framework_id, now);
        } else {
            self.persist_framework(framework_id);
        }
    }

    pub(crate) fn expire_failover_timeouts(&mut self, now: Time) {
        let expired: Vec<String> = self
            .frameworks
            .values()
            .filter(|f| matches!(f.connection, Connection::Disconnected { failover_deadline, .. } if failover_deadline <= now))
            .map(|f| f.id.clone())
            .collect();
        for id in expired {
            tracing::info!(framework_id = %id, "framework failover timeout expired; removing it");
            self.remove_framework(&id, now);
        }
    }

    /// Remove a framework: rescind its offers, shut down its executors and tasks on every
    /// agent (its tasks end as TASK_KILLED with REASON_FRAMEWORK_REMOVED), forget its record
    /// and keep it in the completed list, so that a later SUBSCRIBE with its id is refused.
    pub fn remove_framework(&mut self, framework_id: &str, now: Time) {
        let Some(f) = self.frameworks.get(framework_id) else {
            return;
        };
        let offers: Vec<String> = f.offers.iter().cloned().collect();
        let executor_agents: Vec<String> = f.executors.keys().cloned().collect();
        for offer_id in offers {
            self.remove_offer(&offer_id, None, now);
        }
        let agents: BTreeSet<String> = self
            .tasks
            .iter()
            .filter(|((fw, _), _)| fw == framework_id)
            .map(|(_, r)| r.task.agent_id.value.clone())
            .chain(executor_agents)
            .collect();
        for agent_id in agents {
            self.emit(Effect::ToAgent {
                agent_id,
                message: MasterMessage::ShutdownFramework {
                    framework_id: fid(framework_id),
                },
            });
        }
        // Its tasks end as KILLED from the master's point of view; the agents kill them.
        let task_ids: Vec<(String, String)> = self
            .tasks
            .iter()
            .filter(|((fw, _), _)| fw == framework_id)
            .map(|((_, t), r)| (t.clone(), r.task.agent_id.value.clone()))
            .collect();
        for (task_id, agent) in task_ids {
            let status = master_status(
                &task_id,
                TaskState::TaskKilled,
                Reason::FrameworkRemoved,
                format!("Framework {framework_id} removed"),
                Some(&agent),
                now,
            );
            self.record_status(framework_id, &task_id, &status, now);
            self.complete_task(framework_id, &task_id);
        }
        // Executor resources go back too.
        let executors: Vec<(String, String)> = self.frameworks[framework_id]
            .executors
            .iter()
            .flat_map(|(a, es)| es.keys().map(move |e| (a.clone(), e.clone())))
            .collect();
        for (agent_id, executor_id) in executors {
            self.remove_executor(framework_id, &agent_id, &executor_id, now);
        }
        self.allocator.remove_framework(framework_id);
        self.unreachable_tasks.remove(framework_id);
        let stale: Vec<(String, String)> = self
            .unacked_updates
            .range((framework_id.to_string(), String::new())..)
            .take_while(|((f, _), _)| f == framework_id)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.unacked_updates.remove(&key);
        }
        self.emit(Effect::Registry(RegistryWrite::RemoveFramework(
            framework_id.to_string(),
        )));
        self.emit(Effect::CloseFramework {
            framework_id: framework_id.to_string(),
        });
        if let Some(mut f) = self.frameworks.remove(framework_id) {
            f.unregistered_time = Some(now);
            f.connection = Connection::Disconnected {
                since: now,
                failover_deadline: now,
            };
            self.completed_frameworks.push_back(f);
            while self.completed_frameworks.len() > self.config.max_completed_frameworks {
                self.completed_frameworks.pop_front();
            }
        }
        tracing::info!(framework_id, "framework removed");
    }

    /// Whether `framework_id` was removed (torn down or timed out) and may not come back.
    pub fn framework_removed(&self, framework_id: &str) -> bool {
        !self.frameworks.contains_key(framework_id)
            && self
                .completed_frameworks
                .iter()
                .any(|f| f.id == framework_id)
    }

    /// An agent (re-)registered reporting tasks or executors of `reported` frameworks: tell
    /// it to shut down those that were removed meanwhile (e.g. their failover timeout expired
    /// while the agent was partitioned or the master was failing over). Called after the
    /// REGISTERED message has been emitted.
    pub(crate) fn shutdown_removed_frameworks(
        &mut self,
        agent_id: &str,
        reported: &BTreeSet<String>,
    ) {
        for framework_id in reported {
            if self.framework_removed(framework_id) {
                tracing::info!(
                    agent_id,
                    framework_id,
                    "agent reported tasks of a removed framework; shutting them down"
                );
                self.emit(Effect::ToAgent {
                    agent_id: agent_id.to_string(),
                    message: MasterMessage::ShutdownFramework {
                        framework_id: fid(framework_id),
                    },
                });
            }
        }
    }
}

/// A `failover_timeout` must be a duration Mesos can represent: a number whose nanoseconds fit
/// in an `i64` (a negative one means "remove at once", as 0) (Mesos: `MasterTest.RejectFrameworkWithInvalidFailoverTimeout`).
pub fn validate_failover_timeout(info: &v1::FrameworkInfo) -> Result<(), String> {
    let Some(t) = info.failover_timeout else {
        return Ok(());
    };
    let nanos = t * 1e9;
    if !nanos.is_finite() || nanos >= i64::MAX as f64 || nanos <= i64::MIN as f64 {
        return Err(format!("Invalid framework's failover timeout: {t}"));
    }
    Ok(())
}

/// The frameworks an agent's SUBSCRIBE report mentions (tasks, executors, framework infos).
pub(crate) fn reported_frameworks(
    frameworks: &[v1::FrameworkInfo],
    executors: &[v1::ExecutorInfo],
    tasks: &[v1::Task],
) -> BTreeSet<String> {
    // Borrowed first: a report names few frameworks but many tasks.
    let ids: BTreeSet<&str> = frameworks
        .iter()
        .filter_map(|f| f.id.as_ref().map(|i| i.value.as_str()))
        .chain(
            executors
                .iter()
                .filter_map(|e| e.framework_id.as_ref().map(|i| i.value.as_str())),
        )
        .chain(tasks.iter().map(|t| t.framework_id.value.as_str()))
        .collect();
    ids.into_iter().map(str::to_string).collect()
}

pub(crate) fn fid(id: &str) -> v1::FrameworkId {
    v1::FrameworkId {
        value: id.to_string(),
    }
}
