//! Master failover: the state rebuilt from the registry, agents that must re-register, the
//! safety valves on removing them, and the operator's MARK_AGENT_GONE.
//!
//! After a failover the registry's admitted agents are *recovered*: not offered, listed under
//! `recovered_slaves`, and made active again (with the tasks and executors they report) when
//! they re-register. Those that do not re-register within `agent_reregister_timeout` are marked
//! unreachable in the registry, unless more than `recovery_agent_removal_limit` of them would
//! be, in which case the master stops (fails over) instead. Removals are paced by
//! `agent_removal_rate_limit`. Every registry change is pushed as an
//! [`Effect::Registry`] *before* whatever acknowledges it.

use std::collections::BTreeMap;

use corral_api::internal::MasterMessage;
use corral_api::v1::{self, task_status::Reason, TaskState};

use super::partition::partitioned_task;
use super::records::{Time, UnreachableAgent};
use super::status::master_status;
use super::{CoreError, Effect, MasterCore};
use crate::registry::{AgentRecord, AgentState, RegistryState, RegistryWrite};

/// An agent from the registry that has not re-registered since the failover.
#[derive(Debug, Clone)]
pub struct RecoveredAgent {
    /// The AgentInfo the registry holds.
    pub info: v1::AgentInfo,
}

/// Recovery bookkeeping of the core.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// Admitted agents that have not re-registered yet, by id.
    pub recovered: BTreeMap<String, RecoveredAgent>,
    /// Agents the operator marked gone, by id (with when).
    pub gone: BTreeMap<String, UnreachableAgent>,
    /// When recovered agents that are still missing get marked unreachable.
    pub deadline: Option<Time>,
    /// How many agents were admitted when the registry was loaded.
    pub admitted_at_start: usize,
    /// Set once the removal limit tripped (the master is stopping).
    pub limit_tripped: bool,
    /// Set once the removal limit was checked (at the deadline, once).
    pub limit_checked: bool,
    /// When the latest agent was marked unreachable (for the rate limit).
    pub last_removal: Option<Time>,
    /// Versions of the registry keys read at recovery, for the runtime's compare-and-set
    /// writes (taken once with [`MasterCore::take_registry_versions`]).
    pub registry_versions: BTreeMap<String, u64>,
}

impl MasterCore {
    /// Load the registry's view after a (re)start: admitted agents become recovered,
    /// unreachable and gone agents are remembered as such. Call before serving.
    pub fn recover(&mut self, state: RegistryState, now: Time) {
        self.recovery.registry_versions = state.versions;
        self.recover_maintenance(state.maintenance);
        for (id, record) in state.agents {
            match record.state {
                AgentState::Admitted => {
                    self.recovery
                        .recovered
                        .insert(id, RecoveredAgent { info: record.info });
                }
                AgentState::Unreachable { since } => {
                    self.unreachable_agents.insert(
                        id,
                        UnreachableAgent {
                            info: record.info,
                            since,
                        },
                    );
                }
                AgentState::Gone { since } => {
                    self.recovery.gone.insert(
                        id,
                        UnreachableAgent {
                            info: record.info,
                            since,
                        },
                    );
                }
            }
        }
        // Frameworks come back disconnected with their original failover deadlines.
        self.recover_frameworks(state.frameworks.into_values(), now);
        self.recovery.admitted_at_start = self.recovery.recovered.len();
        if !self.recovery.recovered.is_empty() {
            self.recovery.deadline = Some(now + self.config.agent_reregister_timeout_secs);
            tracing::info!(
                recovered = self.recovery.recovered.len(),
                unreachable = self.unreachable_agents.len(),
                gone = self.recovery.gone.len(),
                timeout_secs = self.config.agent_reregister_timeout_secs,
                "recovered the registry; waiting for agents to re-register"
            );
        }
    }

    /// The versions of the registry keys read by [`MasterCore::recover`] (once).
    pub fn take_registry_versions(&mut self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.recovery.registry_versions)
    }

    /// Agents recovered from the registry that have not re-registered yet.
    pub fn recovered_agents(&self) -> &BTreeMap<String, RecoveredAgent> {
        &self.recovery.recovered
    }

    /// Whether `agent_id` is known to be gone.
    pub fn agent_is_gone(&self, agent_id: &str) -> bool {
        self.recovery.gone.contains_key(agent_id)
    }

    /// Mark recovered agents that missed the re-registration deadline unreachable (or stop the
    /// master if too many would be). Called from [`MasterCore::tick`].
    pub(crate) fn expire_recovered_agents(&mut self, now: Time) {
        let Some(deadline) = self.recovery.deadline else {
            return;
        };
        if now < deadline || self.recovery.limit_tripped {
            return;
        }
        if self.recovery.recovered.is_empty() {
            self.recovery.deadline = None;
            return;
        }
        let check_limit = !self.recovery.limit_checked;
        self.recovery.limit_checked = true;
        if check_limit && self.recovery_limit_exceeded() {
            self.recovery.limit_tripped = true;
            let reason = format!(
                "{} of {} recovered agents did not re-register within {}s, more than \
                 --recovery_agent_removal_limit={}%; failing over instead of removing them",
                self.recovery.recovered.len(),
                self.recovery.admitted_at_start,
                self.config.agent_reregister_timeout_secs,
                self.config.recovery_agent_removal_limit * 100.0
            );
            tracing::error!("{reason}");
            self.emit(Effect::Fatal(reason));
            return;
        }
        let ids: Vec<String> = self.recovery.recovered.keys().cloned().collect();
        for id in ids {
            if !self.agent_removal_permitted(now) {
                break;
            }
            if let Some(agent) = self.recovery.recovered.remove(&id) {
                tracing::warn!(agent_id = %id, "recovered agent did not re-register; marking it unreachable");
                self.counters.agents_removed += 1;
                self.emit(Effect::Registry(RegistryWrite::Agent(AgentRecord {
                    info: agent.info.clone(),
                    state: AgentState::Unreachable { since: now },
                })));
                self.unreachable_agents.insert(
                    id,
                    UnreachableAgent {
                        info: agent.info,
                        since: now,
                    },
                );
            }
        }
    }

    fn recovery_limit_exceeded(&self) -> bool {
        let total = self.recovery.admitted_at_start;
        if total == 0 {
            return false;
        }
        let fraction = self.recovery.recovered.len() as f64 / total as f64;
        fraction > self.config.recovery_agent_removal_limit + 1e-9
    }

    /// Whether an agent may be marked unreachable now (`--agent_removal_rate_limit`); takes
    /// the permit if so.
    pub(crate) fn agent_removal_permitted(&mut self, now: Time) -> bool {
        let Some(interval) = self.config.agent_removal_interval_secs else {
            return true;
        };
        match self.recovery.last_removal {
            Some(last) if now - last < interval => false,
            _ => {
                self.recovery.last_removal = Some(now);
                true
            }
        }
    }

    /// Decide an agent's admission on SUBSCRIBE: refuse a gone agent; push the registry write
    /// for an agent that is new or comes back from unreachable (before REGISTERED is sent).
    /// Returns whether the agent was recovered from the registry.
    pub(crate) fn admit_agent(
        &mut self,
        agent_id: &str,
        info: &v1::AgentInfo,
    ) -> Result<bool, CoreError> {
        if self.recovery.gone.contains_key(agent_id) {
            tracing::warn!(
                agent_id,
                "a gone agent tried to re-register; telling it to shut down"
            );
            return Err(CoreError::AgentGone(gone_message(agent_id)));
        }
        let recovered = self.recovery.recovered.remove(agent_id);
        let known_active = self.agents.contains_key(agent_id);
        let needs_write = match (&recovered, known_active) {
            (Some(r), _) => r.info != *info,
            (None, true) => self.agents.get(agent_id).is_some_and(|a| a.info != *info),
            (None, false) => true, // new, or back from unreachable
        };
        if needs_write {
            self.emit(Effect::Registry(RegistryWrite::Agent(AgentRecord {
                info: info.clone(),
                state: AgentState::Admitted,
            })));
        }
        if recovered.is_some() && self.recovery.recovered.is_empty() {
            tracing::info!("every recovered agent has re-registered");
            self.recovery.deadline = None;
        }
        Ok(recovered.is_some())
    }

    /// The operator's MARK_AGENT_GONE: the registry records the agent as gone (first), its
    /// tasks become TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
    /// partition-aware) and its session is closed; it may never come back.
    pub fn mark_agent_gone(&mut self, agent_id: &str, now: Time) -> Result<(), CoreError> {
        if self.recovery.gone.contains_key(agent_id) {
            return Ok(());
        }
        let info = if let Some(a) = self.agents.get(agent_id) {
            a.info.clone()
        } else if let Some(a) = self.recovery.recovered.get(agent_id) {
            a.info.clone()
        } else if let Some(a) = self.unreachable_agents.get(agent_id) {
            a.info.clone()
        } else {
            return Err(CoreError::UnknownAgent(agent_id.to_string()));
        };
        self.emit(Effect::Registry(RegistryWrite::Agent(AgentRecord {
            info: info.clone(),
            state: AgentState::Gone { since: now },
        })));
        if let Some(agent) = self.agents.get(agent_id) {
            let tasks: Vec<(String, String)> = agent.tasks.iter().cloned().collect();
            for (framework_id, task_id) in tasks {
                let terminal = self
                    .tasks
                    .get(&(framework_id.clone(), task_id.clone()))
                    .is_none_or(|r| r.terminal);
                if terminal {
                    continue;
                }
                let status = master_status(
                    &task_id,
                    TaskState::TaskGoneByOperator,
                    Reason::AgentRemovedByOperator,
                    "Agent was marked gone by the operator",
                    Some(agent_id),
                    now,
                );
                self.send_master_update(&framework_id, status);
            }
            self.drop_agent_bookkeeping(agent_id, now);
            // The agent shuts down for good; the stream closes after the message is read.
            self.emit(Effect::ToAgent {
                agent_id: agent_id.to_string(),
                message: MasterMessage::Shutdown {
                    message: gone_message(agent_id),
                },
            });
            self.emit(Effect::CloseAgent {
                agent_id: agent_id.to_string(),
            });
        }
        self.recovery.recovered.remove(agent_id);
        self.unreachable_agents.remove(agent_id);
        self.partitioned_tasks_gone(agent_id, now);
        self.recovery
            .gone
            .insert(agent_id.to_string(), UnreachableAgent { info, since: now });
        Ok(())
    }
}

impl MasterCore {
    /// The tasks remembered on `agent_id` while it was unreachable are gone with it: `/state`
    /// shows them completed as TASK_GONE_BY_OPERATOR (TASK_LOST when not partition-aware);
    /// they stay remembered so that reconciliation answers the same.
    fn partitioned_tasks_gone(&mut self, agent_id: &str, now: Time) {
        for (framework_id, tasks) in self.unreachable_tasks.iter_mut() {
            let partition_aware = self
                .frameworks
                .get(framework_id)
                .is_some_and(|f| f.partition_aware());
            for remembered in tasks.values_mut().filter(|t| t.agent_id == agent_id) {
                remembered.task = partitioned_task(
                    &remembered.task,
                    partition_aware,
                    TaskState::TaskGoneByOperator,
                    Reason::AgentRemovedByOperator,
                    "Agent was marked gone by the operator",
                    now,
                );
            }
        }
    }
}

/// Why a gone agent must shut down (its SHUTDOWN message).
fn gone_message(agent_id: &str) -> String {
    format!("Agent {agent_id} has been marked gone by the operator; it must shut down")
}
