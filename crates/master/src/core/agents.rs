//! Agents: registration, re-registration, liveness, and what they report (status updates,
//! exited executors, executor messages).

use std::collections::BTreeSet;

use corral_api::internal::{AgentCall, AgentEnvelope, MasterMessage, PROTOCOL_VERSION};
use corral_api::v1::scheduler::{event, Event};
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_resources::Resources;

use super::records::{
    framework_roles, is_terminal, Agent, Connection, Framework, TaskRecord, Time, UnreachableAgent,
};
use super::status::{master_status, update_event};
use super::{CoreError, Effect, MasterCore};
use crate::allocator::Held;

impl MasterCore {
    /// An agent's SUBSCRIBE on a new stream. Returns the agent id; the REGISTERED message has
    /// been emitted.
    pub fn agent_subscribe(
        &mut self,
        envelope: AgentEnvelope,
        stream_id: &str,
        now: Time,
    ) -> Result<String, CoreError> {
        check_version(&envelope)?;
        let AgentCall::Subscribe {
            mut agent_info,
            agent_version,
            frameworks,
            executors,
            tasks,
            checkpointed_resources,
        } = envelope.call
        else {
            return Err(CoreError::Invalid("Expecting a SUBSCRIBE call".to_string()));
        };
        let reported = super::failover::reported_frameworks(&frameworks, &executors, &tasks);
        let static_total = Resources::from_proto(&agent_info.resources)
            .map_err(|e| CoreError::Invalid(format!("Agent resources are invalid: {e}")))?;
        let checkpointed = Resources::from_proto(&checkpointed_resources).map_err(|e| {
            CoreError::Invalid(format!("Agent checkpointed resources are invalid: {e}"))
        })?;
        let total = super::ops::apply_checkpointed(&static_total, &checkpointed.stripped())
            .map_err(CoreError::Invalid)?;
        let agent_id = match agent_info.id.as_ref() {
            Some(id) => {
                corral_api::ids::validate_id("Agent", &id.value)
                    .map_err(|e| CoreError::Invalid(e.to_string()))?;
                id.value.clone()
            }
            None => {
                let id = format!("{}-S{}", self.info.id, self.next_agent);
                self.next_agent += 1;
                id
            }
        };
        agent_info.id = Some(v1::AgentId {
            value: agent_id.clone(),
        });
        // An agent on a machine that is DOWN for maintenance is refused (told to shut down).
        self.check_machine_up(&agent_info)?;
        // The registry decides first: a gone agent is refused; a new or returning agent's
        // admission is written before REGISTERED (pushed below) is sent.
        let recovered = self.admit_agent(&agent_id, &agent_info)?;
        let reregistering = recovered
            || self.agents.contains_key(&agent_id)
            || self.unreachable_agents.contains_key(&agent_id);
        // Live tasks the master knew on this agent: the ones missing from the report below
        // are gone (e.g. their executors died with a restarted agent); the framework hears so.
        let known_live: Vec<(String, String)> = self
            .agents
            .get(&agent_id)
            .map(|a| {
                a.tasks
                    .iter()
                    .filter(|key| self.tasks.get(*key).is_some_and(|r| !r.terminal))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let reported_tasks: BTreeSet<(String, String)> = tasks
            .iter()
            .map(|t| (t.framework_id.value.clone(), t.task_id.value.clone()))
            .collect();
        if self.agents.contains_key(&agent_id) {
            // Same agent, new session (restart or reconnect): forget what the old session
            // implied; its report below is the truth.
            self.drop_agent_bookkeeping(&agent_id, now);
        }
        for (framework_id, task_id) in known_live {
            if reported_tasks.contains(&(framework_id.clone(), task_id.clone())) {
                continue;
            }
            tracing::warn!(
                agent_id,
                framework_id,
                task_id,
                "task missing from the re-registering agent"
            );
            let status = master_status(
                &task_id,
                TaskState::TaskDropped,
                Reason::Reconciliation,
                "Task is unknown to the agent",
                Some(&agent_id),
                now,
            );
            self.send_master_update(&framework_id, status);
        }
        self.unreachable_agents.remove(&agent_id);
        let pid = format!(
            "slave(1)@{}:{}",
            agent_info.hostname,
            agent_info.port.unwrap_or(5051)
        );
        let agent = Agent {
            id: agent_id.clone(),
            info: agent_info,
            pid,
            version: agent_version,
            total: total.clone(),
            used: Resources::default(),
            offered: Resources::default(),
            stream_id: Some(stream_id.to_string()),
            missed_pings: 0,
            ping_seq: 0,
            registered_time: now,
            reregistered_time: reregistering.then_some(now),
            tasks: BTreeSet::new(),
            executors: BTreeSet::new(),
        };
        self.agents.insert(agent_id.clone(), agent);

        // Frameworks the master does not know (e.g. after a master restart) come back as
        // disconnected until their schedulers re-subscribe.
        for info in frameworks {
            let Some(id) = info.id.as_ref().map(|i| i.value.clone()) else {
                continue;
            };
            if self.frameworks.contains_key(&id)
                || self.completed_frameworks.iter().any(|f| f.id == id)
            {
                continue;
            }
            let roles = framework_roles(&info);
            let spec = super::records::framework_spec(&info, &[]);
            // Its scheduler lost the old master, not its stream: it gets time to find us.
            let timeout = self.recovery_grace(info.failover_timeout());
            self.frameworks.insert(
                id.clone(),
                Framework {
                    id: id.clone(),
                    roles: roles.clone(),
                    info,
                    connection: Connection::Disconnected {
                        since: now,
                        failover_deadline: now + timeout,
                    },
                    suppressed_roles: BTreeSet::new(),
                    registered_time: now,
                    reregistered_time: None,
                    unregistered_time: None,
                    tasks: BTreeSet::new(),
                    completed_tasks: Default::default(),
                    offers: BTreeSet::new(),
                    executors: Default::default(),
                    recovered: true,
                },
            );
            self.allocator.add_framework(&id, &spec);
            self.allocator.deactivate_framework(&id);
            self.persist_recovered_framework(&id);
        }
        let mut used: Vec<Held> = Vec::new();
        for executor in executors {
            let Some(framework_id) = executor.framework_id.as_ref().map(|f| f.value.clone()) else {
                continue;
            };
            if !self.frameworks.contains_key(&framework_id) {
                continue;
            }
            let mut r = Resources::from_proto(&executor.resources).unwrap_or_default();
            r.unallocate();
            let role = self.frameworks[&framework_id]
                .roles
                .first()
                .cloned()
                .unwrap_or_else(|| "*".into());
            used.push(Held {
                framework_id: framework_id.clone(),
                role,
                resources: r,
            });
            self.adopt_executor(&framework_id, &agent_id, executor);
        }
        for task in tasks {
            let framework_id = task.framework_id.value.clone();
            if !self.frameworks.contains_key(&framework_id) {
                continue;
            }
            let mut resources = Resources::from_proto(&task.resources).unwrap_or_default();
            let role = resources
                .allocation_role()
                .unwrap_or_else(|| "*".to_string());
            resources.unallocate(); // in place: no copy per task
            let terminal = is_terminal(task.state());
            if !terminal {
                used.push(Held {
                    framework_id: framework_id.clone(),
                    role: role.clone(),
                    resources: resources.clone(),
                });
            }
            self.tasks
                .remove(&(framework_id.clone(), task.task_id.value.clone()));
            self.add_task(TaskRecord {
                task,
                resources,
                role,
                terminal,
            });
        }
        // Charge the agent for what its running tasks and executors hold.
        if let Some(a) = self.agents.get_mut(&agent_id) {
            let mut held = Resources::default();
            for h in &used {
                held.add_all(&h.resources);
            }
            a.used = held;
        }
        self.allocator.add_agent(&agent_id, &total, &used);
        tracing::info!(agent_id, reregistering, "agent subscribed");
        self.emit(Effect::ToAgent {
            agent_id: agent_id.clone(),
            message: MasterMessage::Registered {
                agent_id: v1::AgentId {
                    value: agent_id.clone(),
                },
                stream_id: stream_id.to_string(),
                master_id: self.info.id.clone(),
                ping_interval_secs: self.config.agent_ping_timeout_secs,
            },
        });
        self.shutdown_removed_frameworks(&agent_id, &reported);
        self.allocation_pending = true;
        Ok(agent_id)
    }

    fn adopt_executor(&mut self, framework_id: &str, agent_id: &str, executor: v1::ExecutorInfo) {
        let id = executor.executor_id.value.clone();
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.executors
                .entry(agent_id.to_string())
                .or_default()
                .insert(id.clone(), executor);
        }
        if let Some(a) = self.agents.get_mut(agent_id) {
            a.executors.insert((framework_id.to_string(), id));
        }
    }

    /// Check a non-SUBSCRIBE agent call's session and epoch.
    fn check_agent_call(&self, envelope: &AgentEnvelope) -> Result<String, CoreError> {
        check_version(envelope)?;
        if envelope.epoch != self.epoch {
            return Err(CoreError::Fenced(format!(
                "Call made under leader epoch {} but the current epoch is {}",
                envelope.epoch, self.epoch
            )));
        }
        let Some(agent_id) = envelope.agent_id.as_ref().map(|a| a.value.clone()) else {
            return Err(CoreError::Invalid(
                "Expecting 'agent_id' to be present".to_string(),
            ));
        };
        let Some(agent) = self.agents.get(&agent_id) else {
            return Err(CoreError::UnknownAgent(agent_id));
        };
        if agent.stream_id.is_none() || agent.stream_id != envelope.stream_id {
            return Err(CoreError::Fenced(
                "The stream ID does not match the agent's session".to_string(),
            ));
        }
        Ok(agent_id)
    }

    /// Any agent call but SUBSCRIBE.
    pub fn agent_call(&mut self, envelope: AgentEnvelope, now: Time) -> Result<(), CoreError> {
        let agent_id = self.check_agent_call(&envelope)?;
        match envelope.call {
            AgentCall::Subscribe { .. } => {
                return Err(CoreError::Invalid(
                    "SUBSCRIBE must open its own stream".to_string(),
                ))
            }
            AgentCall::Pong { seq } => {
                if let Some(a) = self.agents.get_mut(&agent_id) {
                    if seq <= a.ping_seq {
                        a.missed_pings = 0;
                    }
                }
            }
            AgentCall::StatusUpdate {
                framework_id,
                status,
                ..
            } => {
                self.status_update(&agent_id, &framework_id.value, status, now);
            }
            AgentCall::ExitedExecutor {
                framework_id,
                executor_id,
                status,
            } => {
                self.remove_executor(&framework_id.value, &agent_id, &executor_id.value, now);
                let event = Event {
                    r#type: Some(event::Type::Failure as i32),
                    failure: Some(event::Failure {
                        agent_id: Some(v1::AgentId {
                            value: agent_id.clone(),
                        }),
                        executor_id: Some(executor_id),
                        status: Some(status),
                    }),
                    ..Default::default()
                };
                self.send_event(&framework_id.value, event);
            }
            AgentCall::ExecutorMessage {
                framework_id,
                executor_id,
                data,
            } => {
                let event = Event {
                    r#type: Some(event::Type::Message as i32),
                    message: Some(event::Message {
                        agent_id: v1::AgentId {
                            value: agent_id.clone(),
                        },
                        executor_id,
                        data,
                    }),
                    ..Default::default()
                };
                self.send_event(&framework_id.value, event);
            }
        }
        Ok(())
    }

    /// A reliable status update from an agent: record it and forward it with its uuid. If the
    /// scheduler is away, the update is not acknowledged and the agent will resend it.
    fn status_update(
        &mut self,
        agent_id: &str,
        framework_id: &str,
        mut status: v1::TaskStatus,
        now: Time,
    ) {
        let task_id = status.task_id.value.clone();
        let key = (framework_id.to_string(), task_id.clone());
        status.agent_id = Some(v1::AgentId {
            value: agent_id.to_string(),
        });
        if status.timestamp.is_none() {
            status.timestamp = Some(now);
        }
        let known = self
            .tasks
            .get(&key)
            .is_some_and(|r| r.task.agent_id.value == agent_id);
        let framework_known = self.frameworks.contains_key(framework_id);
        if !known || !framework_known {
            self.counters.invalid_status_updates += 1;
            // Nobody will acknowledge it: do so here so the agent does not resend forever.
            if let Some(uuid) = status.uuid.clone() {
                self.emit(Effect::ToAgent {
                    agent_id: agent_id.to_string(),
                    message: MasterMessage::StatusUpdateAcknowledgement {
                        framework_id: v1::FrameworkId {
                            value: framework_id.to_string(),
                        },
                        task_id: status.task_id.clone(),
                        uuid,
                    },
                });
            }
            return;
        }
        self.counters.valid_status_updates += 1;
        if status.executor_id.is_none() {
            status.executor_id = self
                .tasks
                .get(&key)
                .and_then(|r| r.task.executor_id.clone());
        }
        self.record_status(framework_id, &task_id, &status, now);
        self.send_event(framework_id, update_event(status));
    }

    /// The agent's stream closed. It stays registered; missed pings decide its fate.
    pub fn agent_disconnected(&mut self, agent_id: &str, stream_id: &str) {
        if let Some(a) = self.agents.get_mut(agent_id) {
            if a.stream_id.as_deref() == Some(stream_id) {
                tracing::warn!(agent_id, "agent session stream closed");
                a.stream_id = None;
            }
        }
    }

    /// Remove what the master tracked for an agent's previous session: offers, and the task
    /// and executor charges (its new report replaces them).
    pub(crate) fn drop_agent_bookkeeping(&mut self, agent_id: &str, now: Time) {
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in offers {
            self.rescind_offer(&id, now);
        }
        self.allocator.remove_agent(agent_id);
        if let Some(agent) = self.agents.remove(agent_id) {
            for (framework_id, executor_id) in agent.executors {
                if let Some(f) = self.frameworks.get_mut(&framework_id) {
                    if let Some(es) = f.executors.get_mut(agent_id) {
                        es.remove(&executor_id);
                    }
                }
            }
            for key in agent.tasks {
                if let Some(f) = self.frameworks.get_mut(&key.0) {
                    f.tasks.remove(&key.1);
                }
                self.tasks.remove(&key);
            }
        }
    }

    /// The agent missed its pings: its tasks become TASK_UNREACHABLE (TASK_LOST for frameworks
    /// that are not partition-aware) and it is kept as unreachable until it comes back.
    pub(crate) fn mark_agent_unreachable(&mut self, agent_id: &str, now: Time) {
        self.remember_unreachable_tasks(agent_id, now);
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let info = agent.info.clone();
        let tasks: Vec<(String, String)> = agent.tasks.iter().cloned().collect();
        let frameworks: BTreeSet<String> = agent.executors.iter().map(|(f, _)| f.clone()).collect();
        // Durable first: the updates below acknowledge the marking.
        self.emit(Effect::Registry(crate::registry::RegistryWrite::Agent(
            crate::registry::AgentRecord {
                info: info.clone(),
                state: crate::registry::AgentState::Unreachable { since: now },
            },
        )));
        for (framework_id, task_id) in &tasks {
            let terminal = self
                .tasks
                .get(&(framework_id.clone(), task_id.clone()))
                .is_some_and(|r| r.terminal);
            if terminal {
                continue;
            }
            let mut status = master_status(
                task_id,
                TaskState::TaskUnreachable,
                Reason::AgentRemoved,
                "Agent is unreachable: it missed its health checks",
                Some(agent_id),
                now,
            );
            status.unreachable_time = Some(v1::TimeInfo {
                nanoseconds: (now * 1e9) as i64,
            });
            self.send_master_update(framework_id, status);
        }
        for framework_id in frameworks {
            let event = Event {
                r#type: Some(event::Type::Failure as i32),
                failure: Some(event::Failure {
                    agent_id: Some(v1::AgentId {
                        value: agent_id.to_string(),
                    }),
                    executor_id: None,
                    status: None,
                }),
                ..Default::default()
            };
            self.send_event(&framework_id, event);
        }
        self.drop_agent_bookkeeping(agent_id, now);
        self.unreachable_agents
            .insert(agent_id.to_string(), UnreachableAgent { info, since: now });
        self.emit(Effect::CloseAgent {
            agent_id: agent_id.to_string(),
        });
    }
}

fn check_version(envelope: &AgentEnvelope) -> Result<(), CoreError> {
    if envelope.version != PROTOCOL_VERSION {
        return Err(CoreError::Invalid(format!(
            "Agent protocol version {} is not supported (this master speaks {PROTOCOL_VERSION})",
            envelope.version
        )));
    }
    Ok(())
}
