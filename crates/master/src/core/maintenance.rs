//! Maintenance primitives (Mesos's `master/maintenance.cpp`): the schedule, machine modes
//! UP → DRAINING → DOWN → UP, unavailability on offers, and inverse offers.
//!
//! * UPDATE_MAINTENANCE_SCHEDULE: machines new to the schedule become DRAINING; machines left
//!   out go back UP; a DOWN machine cannot be left out. Offers for agents on scheduled machines
//!   carry the machine's `unavailability`; outstanding offers and inverse offers for agents
//!   whose unavailability changed are rescinded.
//! * Frameworks holding resources (tasks, executors or offers) on an agent of a scheduled
//!   machine get one INVERSE_OFFERS at a time for it; ACCEPT/DECLINE_INVERSE_OFFERS record
//!   the framework's answer (GET_MAINTENANCE_STATUS) and filter it for `refuse_seconds`.
//! * START_MAINTENANCE (DRAINING → DOWN): agents on the machines are told to shut down and
//!   removed (their tasks TASK_LOST with REASON_AGENT_REMOVED, FAILURE to frameworks, the
//!   registry record deleted); an agent on a DOWN machine is refused when it subscribes.
//! * STOP_MAINTENANCE (DOWN → UP): the machines leave the schedule.
//!
//! Machine ids match agents by hostname (case-insensitive) or by ip (the agent's hostname
//! when it is an IP address): an id matches if any field it sets matches. Mesos compares the
//! full id; Corral agents do not report their IP apart from their hostname.
//!
//! Every change is pushed as an [`Effect::Registry`] write of the whole
//! [`MaintenanceRecord`] before anything that depends on it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use corral_api::v1::allocator::{inverse_offer_status, InverseOfferStatus};
use corral_api::v1::machine_info::Mode;
use corral_api::v1::maintenance::{cluster_status, ClusterStatus, Schedule};
use corral_api::v1::scheduler::{event, Event};
use corral_api::v1::{self, task_status::Reason, TaskState};

use super::records::Time;
use super::status::master_status;
use super::{CoreError, Effect, MasterCore};
use crate::registry::{MaintenanceRecord, RegistryWrite};

/// How long a framework's answer to an inverse offer holds before it is asked again, unless
/// its call carries `filters.refuse_seconds` (Mesos's default filter).
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

/// A machine id normalized for comparison (hostnames are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MachineKey {
    hostname: Option<String>,
    ip: Option<String>,
}

impl MachineKey {
    fn of(id: &v1::MachineId) -> Self {
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Self {
            hostname: nonempty(&id.hostname).map(|h| h.to_lowercase()),
            ip: nonempty(&id.ip),
        }
    }

    /// Whether an agent with `hostname` runs on this machine.
    fn matches(&self, hostname: &str) -> bool {
        let by_name = self
            .hostname
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(hostname));
        let by_ip = self.ip.as_deref().is_some_and(|ip| ip == hostname);
        by_name || by_ip
    }
}

/// A machine of the schedule (UP machines are not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The id as the operator gave it.
    pub id: v1::MachineId,
    /// DRAINING or DOWN.
    pub mode: Mode,
    /// Its window's unavailability.
    pub unavailability: v1::Unavailability,
}

/// An outstanding inverse offer.
#[derive(Debug, Clone)]
pub struct InverseOfferRecord {
    /// As sent.
    pub offer: v1::InverseOffer,
    /// The agent.
    pub agent_id: String,
    /// The framework.
    pub framework_id: String,
    /// The subscription stream it was sent on (a re-subscribed framework is asked again).
    pub stream_id: String,
}

/// The master's maintenance state.
#[derive(Debug, Clone, Default)]
pub struct Maintenance {
    schedule: Schedule,
    machines: BTreeMap<MachineKey, Machine>,
    inverse_offers: BTreeMap<String, InverseOfferRecord>,
    /// (agent, framework) → the framework's latest answer for the agent.
    statuses: BTreeMap<(String, String), InverseOfferStatus>,
    /// (agent, framework) → no inverse offer before this time.
    filters: BTreeMap<(String, String), Time>,
}

fn invalid(m: impl Into<String>) -> CoreError {
    CoreError::Invalid(m.into())
}

fn show(id: &v1::MachineId) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// A single machine id: a hostname or an ip (a valid IPv4 address) is required.
pub fn validate_machine(id: &v1::MachineId) -> Result<MachineKey, CoreError> {
    let key = MachineKey::of(id);
    if key.hostname.is_none() && key.ip.is_none() {
        return Err(invalid("One of 'hostname' or 'ip' must be specified"));
    }
    if let Some(ip) = &key.ip {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| invalid(format!("Failed to parse IP '{ip}' of machine {}", show(id))))?;
    }
    Ok(key)
}

/// A list of machines (START/STOP_MAINTENANCE): non-empty, each valid, no duplicates.
pub fn validate_machines(ids: &[v1::MachineId]) -> Result<Vec<MachineKey>, CoreError> {
    if ids.is_empty() {
        return Err(invalid("List of machines is empty"));
    }
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        let key = validate_machine(id)?;
        if keys.contains(&key) {
            return Err(invalid(format!(
                "Machine {} appears more than once in the list",
                show(id)
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// An unavailability: neither its start nor its duration is negative.
pub fn validate_unavailability(u: &v1::Unavailability) -> Result<(), CoreError> {
    if u.start.nanoseconds < 0 {
        return Err(invalid("Unavailability 'start' field is negative"));
    }
    if u.duration.is_some_and(|d| d.nanoseconds < 0) {
        return Err(invalid("Unavailability 'duration' field is negative"));
    }
    Ok(())
}

impl Maintenance {
    /// The schedule as the operator last set it (minus machines brought back up).
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The scheduled machines (DRAINING or DOWN).
    pub fn machines(&self) -> impl Iterator<Item = &Machine> {
        self.machines.values()
    }

    /// The outstanding inverse offers.
    pub fn inverse_offers(&self) -> &BTreeMap<String, InverseOfferRecord> {
        &self.inverse_offers
    }

    /// The durable form.
    pub fn record(&self) -> MaintenanceRecord {
        MaintenanceRecord {
            schedule: self.schedule.clone(),
            down: self
                .machines
                .values()
                .filter(|m| m.mode == Mode::Down)
                .map(|m| m.id.clone())
                .collect(),
        }
    }

    /// Rebuild from the registry (after a restart or failover).
    pub fn from_record(record: &MaintenanceRecord) -> Self {
        let down: BTreeSet<MachineKey> = record.down.iter().map(MachineKey::of).collect();
        let mut machines = BTreeMap::new();
        for window in &record.schedule.windows {
            for id in &window.machine_ids {
                let key = MachineKey::of(id);
                let mode = if down.contains(&key) {
                    Mode::Down
                } else {
                    Mode::Draining
                };
                machines.insert(
                    key,
                    Machine {
                        id: id.clone(),
                        mode,
                        unavailability: window.unavailability,
                    },
                );
            }
        }
        Self {
            schedule: record.schedule.clone(),
            machines,
            ..Default::default()
        }
    }

    /// The scheduled machine an agent with `hostname` runs on (a DOWN one first).
    pub fn machine_of(&self, hostname: &str) -> Option<&Machine> {
        if self.machines.is_empty() {
            return None;
        }
        let mut found: Option<&Machine> = None;
        for (key, machine) in &self.machines {
            if key.matches(hostname) {
                if machine.mode == Mode::Down {
                    return Some(machine);
                }
                found = found.or(Some(machine));
            }
        }
        found
    }

    /// The unavailability offers for an agent with `hostname` carry.
    pub fn unavailability_of(&self, hostname: &str) -> Option<v1::Unavailability> {
        self.machine_of(hostname).map(|m| m.unavailability)
    }

    /// UPDATE_MAINTENANCE_SCHEDULE: the state after `schedule`, or why it is refused.
    pub fn with_schedule(&self, schedule: &Schedule) -> Result<Maintenance, CoreError> {
        let mut updated: BTreeMap<MachineKey, (v1::MachineId, v1::Unavailability)> =
            BTreeMap::new();
        for window in &schedule.windows {
            if window.machine_ids.is_empty() {
                return Err(invalid(
                    "List of machines in the maintenance window is empty",
                ));
            }
            validate_unavailability(&window.unavailability)?;
            for id in &window.machine_ids {
                let key = validate_machine(id)?;
                if updated
                    .insert(key, (id.clone(), window.unavailability))
                    .is_some()
                {
                    return Err(invalid(format!(
                        "Machine {} appears more than once in the schedule",
                        show(id)
                    )));
                }
            }
        }
        for (key, machine) in &self.machines {
            if machine.mode == Mode::Down && !updated.contains_key(key) {
                return Err(invalid(format!(
                    "Machine {} is deactivated and cannot be removed from the schedule",
                    show(&machine.id)
                )));
            }
        }
        let machines = updated
            .into_iter()
            .map(|(key, (id, unavailability))| {
                let mode = self
                    .machines
                    .get(&key)
                    .map(|m| m.mode)
                    .unwrap_or(Mode::Draining);
                (
                    key,
                    Machine {
                        id,
                        mode,
                        unavailability,
                    },
                )
            })
            .collect();
        Ok(Maintenance {
            schedule: schedule.clone(),
            machines,
            ..self.clone()
        })
    }

    fn check_mode(
        &self,
        ids: &[v1::MachineId],
        want: Mode,
        action: &str,
    ) -> Result<Vec<MachineKey>, CoreError> {
        let keys = validate_machines(ids)?;
        for key in &keys {
            let Some(machine) = self.machines.get(key) else {
                return Err(invalid(format!(
                    "Machine {} is not part of a maintenance schedule",
                    show(&self.display_id(key))
                )));
            };
            if machine.mode != want {
                return Err(invalid(format!(
                    "Machine {} is not in {} mode and cannot be {action}",
                    show(&machine.id),
                    want.as_str_name()
                )));
            }
        }
        Ok(keys)
    }

    fn display_id(&self, key: &MachineKey) -> v1::MachineId {
        v1::MachineId {
            hostname: key.hostname.clone(),
            ip: key.ip.clone(),
        }
    }

    /// START_MAINTENANCE: the state with `ids` DOWN, or why it is refused.
    pub fn with_down(&self, ids: &[v1::MachineId]) -> Result<Maintenance, CoreError> {
        let keys = self.check_mode(ids, Mode::Draining, "brought down")?;
        let mut next = self.clone();
        for key in keys {
            if let Some(m) = next.machines.get_mut(&key) {
                m.mode = Mode::Down;
            }
        }
        Ok(next)
    }

    /// STOP_MAINTENANCE: the state with `ids` UP and out of the schedule, or why it is refused.
    pub fn with_up(&self, ids: &[v1::MachineId]) -> Result<Maintenance, CoreError> {
        let keys = self.check_mode(ids, Mode::Down, "brought up")?;
        let mut next = self.clone();
        for key in &keys {
            next.machines.remove(key);
        }
        for window in &mut next.schedule.windows {
            window
                .machine_ids
                .retain(|id| !keys.contains(&MachineKey::of(id)));
        }
        next.schedule.windows.retain(|w| !w.machine_ids.is_empty());
        Ok(next)
    }
}

impl MasterCore {
    /// The maintenance state.
    pub fn maintenance(&self) -> &Maintenance {
        &self.maintenance
    }

    /// Load the maintenance state of the registry (at start, before serving).
    pub(crate) fn recover_maintenance(&mut self, record: Option<MaintenanceRecord>) {
        if let Some(record) = record {
            self.maintenance = Maintenance::from_record(&record);
        }
    }

    fn persist_maintenance(&mut self) {
        let record = self.maintenance.record();
        self.emit(Effect::Registry(RegistryWrite::Maintenance(record)));
    }

    /// UPDATE_MAINTENANCE_SCHEDULE. Persisted before the reply; offers and inverse offers for
    /// agents whose unavailability changed are rescinded and made again.
    pub fn update_maintenance_schedule(
        &mut self,
        schedule: &Schedule,
        now: Time,
    ) -> Result<(), CoreError> {
        let next = self.maintenance.with_schedule(schedule)?;
        let changed: Vec<String> = self
            .agents
            .values()
            .filter(|a| {
                self.maintenance.unavailability_of(&a.info.hostname)
                    != next.unavailability_of(&a.info.hostname)
            })
            .map(|a| a.id.clone())
            .collect();
        self.maintenance = next;
        self.persist_maintenance();
        for agent_id in changed {
            self.reset_agent_maintenance(&agent_id, now);
        }
        self.allocation_pending = true;
        Ok(())
    }

    /// Rescind an agent's offers and inverse offers and forget the frameworks' answers.
    fn reset_agent_maintenance(&mut self, agent_id: &str, now: Time) {
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in offers {
            self.rescind_offer(&id, now);
        }
        self.drop_inverse_offers(|r| r.agent_id == agent_id, true);
        self.maintenance.statuses.retain(|(a, _), _| a != agent_id);
        self.maintenance.filters.retain(|(a, _), _| a != agent_id);
    }

    /// Remove the inverse offers `pred` selects, telling their frameworks if `rescind`.
    fn drop_inverse_offers(&mut self, pred: impl Fn(&InverseOfferRecord) -> bool, rescind: bool) {
        let ids: Vec<String> = self
            .maintenance
            .inverse_offers
            .iter()
            .filter(|(_, r)| pred(r))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let Some(r) = self.maintenance.inverse_offers.remove(&id) else {
                continue;
            };
            if rescind {
                let event = Event {
                    r#type: Some(event::Type::RescindInverseOffer as i32),
                    rescind_inverse_offer: Some(event::RescindInverseOffer {
                        inverse_offer_id: v1::OfferId { value: id },
                    }),
                    ..Default::default()
                };
                self.send_event(&r.framework_id, event);
            }
        }
    }

    /// START_MAINTENANCE: the machines go DOWN (persisted first); their agents are told to
    /// shut down and removed as Mesos removes them.
    pub fn start_maintenance(&mut self, ids: &[v1::MachineId], now: Time) -> Result<(), CoreError> {
        let next = self.maintenance.with_down(ids)?;
        self.maintenance = next;
        self.persist_maintenance();
        let down: Vec<String> = self
            .agents
            .values()
            .filter(|a| self.machine_down(&a.info.hostname))
            .map(|a| a.id.clone())
            .collect();
        for agent_id in down {
            self.remove_agent_for_maintenance(&agent_id, now);
        }
        let recovered: Vec<String> = self
            .recovery
            .recovered
            .iter()
            .filter(|(_, r)| self.machine_down(&r.info.hostname))
            .map(|(id, _)| id.clone())
            .collect();
        for agent_id in recovered {
            self.emit(Effect::Registry(RegistryWrite::RemoveAgent(
                agent_id.clone(),
            )));
            self.recovery.recovered.remove(&agent_id);
        }
        Ok(())
    }

    /// STOP_MAINTENANCE: the machines are UP again and leave the schedule (persisted first).
    pub fn stop_maintenance(&mut self, ids: &[v1::MachineId]) -> Result<(), CoreError> {
        let next = self.maintenance.with_up(ids)?;
        self.maintenance = next;
        self.persist_maintenance();
        self.allocation_pending = true;
        Ok(())
    }

    fn machine_down(&self, hostname: &str) -> bool {
        self.maintenance
            .machine_of(hostname)
            .is_some_and(|m| m.mode == Mode::Down)
    }

    /// Refuse the registration of an agent whose machine is DOWN (it is told to shut down).
    pub(crate) fn check_machine_up(&self, info: &v1::AgentInfo) -> Result<(), CoreError> {
        match self.maintenance.machine_of(&info.hostname) {
            Some(m) if m.mode == Mode::Down => {
                tracing::warn!(
                    hostname = %info.hostname,
                    "refusing the registration of an agent on a DOWN machine"
                );
                Err(CoreError::AgentGone(format!(
                    "Machine {} is DOWN for maintenance; agent on '{}' cannot register",
                    show(&m.id),
                    info.hostname
                )))
            }
            _ => Ok(()),
        }
    }

    /// Mesos's `removeSlave` for "Machine DOWN": the registry forgets the agent first, then
    /// its tasks are TASK_LOST, every framework hears FAILURE and the agent SHUTDOWN.
    fn remove_agent_for_maintenance(&mut self, agent_id: &str, now: Time) {
        const WHY: &str = "Operator initiated 'Machine DOWN'";
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let hostname = agent.info.hostname.clone();
        let tasks: Vec<(String, String)> = agent.tasks.iter().cloned().collect();
        tracing::warn!(agent_id, hostname, "removing agent: machine is DOWN");
        self.emit(Effect::Registry(RegistryWrite::RemoveAgent(
            agent_id.to_string(),
        )));
        for (framework_id, task_id) in tasks {
            let live = self
                .tasks
                .get(&(framework_id.clone(), task_id.clone()))
                .is_some_and(|r| !r.terminal);
            if !live {
                continue;
            }
            let status = master_status(
                &task_id,
                TaskState::TaskLost,
                Reason::AgentRemoved,
                format!("Agent {hostname} removed: {WHY}"),
                Some(agent_id),
                now,
            );
            self.record_status(&framework_id, &task_id, &status, now);
            self.complete_task(&framework_id, &task_id);
            self.send_master_update(&framework_id, status);
        }
        let frameworks: Vec<String> = self.frameworks.keys().cloned().collect();
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
        self.drop_inverse_offers(|r| r.agent_id == agent_id, false);
        self.maintenance.statuses.retain(|(a, _), _| a != agent_id);
        self.maintenance.filters.retain(|(a, _), _| a != agent_id);
        self.drop_agent_bookkeeping(agent_id, now);
        self.emit(Effect::ToAgent {
            agent_id: agent_id.to_string(),
            message: corral_api::internal::MasterMessage::Shutdown {
                message: WHY.to_string(),
            },
        });
        self.emit(Effect::CloseAgent {
            agent_id: agent_id.to_string(),
        });
        self.counters.agents_removed += 1;
    }

    /// Send INVERSE_OFFERS to connected frameworks holding resources on agents of scheduled
    /// machines (one outstanding per agent and framework). Run after each allocation.
    pub(crate) fn send_inverse_offers(&mut self, now: Time) {
        if self.maintenance.machines.is_empty() && self.maintenance.inverse_offers.is_empty() {
            return;
        }
        // Inverse offers of frameworks that left, or of agents that are gone, are dropped.
        let stale: Vec<String> = self
            .maintenance
            .inverse_offers
            .iter()
            .filter(|(_, r)| {
                !self.agents.contains_key(&r.agent_id)
                    || self.stream_of(&r.framework_id) != Some(r.stream_id.as_str())
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.maintenance.inverse_offers.remove(&id);
        }
        let outstanding: BTreeSet<(String, String)> = self
            .maintenance
            .inverse_offers
            .values()
            .map(|r| (r.agent_id.clone(), r.framework_id.clone()))
            .collect();
        let mut new: Vec<(String, String, v1::Unavailability)> = Vec::new();
        for agent in self.agents.values() {
            let Some(unavailability) = self.maintenance.unavailability_of(&agent.info.hostname)
            else {
                continue;
            };
            let mut holders: BTreeSet<&String> = agent.tasks.iter().map(|(f, _)| f).collect();
            holders.extend(agent.executors.iter().map(|(f, _)| f));
            for offer in self.offers.values().filter(|o| o.agent_id == agent.id) {
                holders.insert(&offer.framework_id);
            }
            for framework_id in holders {
                let key = (agent.id.clone(), framework_id.clone());
                let filtered = self
                    .maintenance
                    .filters
                    .get(&key)
                    .is_some_and(|until| now < *until);
                let connected = self.stream_of(framework_id).is_some();
                if connected && !filtered && !outstanding.contains(&key) {
                    new.push((key.0, key.1, unavailability));
                }
            }
        }
        let mut by_framework: BTreeMap<String, Vec<v1::InverseOffer>> = BTreeMap::new();
        for (agent_id, framework_id, unavailability) in new {
            let id = format!("{}-O{}", self.info.id, self.next_offer);
            self.next_offer += 1;
            let url = self
                .agents
                .get(&agent_id)
                .map(|a| super::agent_url(&a.info));
            let offer = v1::InverseOffer {
                id: v1::OfferId { value: id.clone() },
                url,
                framework_id: v1::FrameworkId {
                    value: framework_id.clone(),
                },
                agent_id: Some(v1::AgentId {
                    value: agent_id.clone(),
                }),
                unavailability,
                resources: vec![],
            };
            let stream_id = self
                .stream_of(&framework_id)
                .unwrap_or_default()
                .to_string();
            self.maintenance.inverse_offers.insert(
                id,
                InverseOfferRecord {
                    offer: offer.clone(),
                    agent_id,
                    framework_id: framework_id.clone(),
                    stream_id,
                },
            );
            by_framework.entry(framework_id).or_default().push(offer);
        }
        for (framework_id, inverse_offers) in by_framework {
            let event = Event {
                r#type: Some(event::Type::InverseOffers as i32),
                inverse_offers: Some(event::InverseOffers { inverse_offers }),
                ..Default::default()
            };
            self.send_event(&framework_id, event);
        }
    }

    /// The stream of a connected framework.
    fn stream_of(&self, framework_id: &str) -> Option<&str> {
        match self.frameworks.get(framework_id).map(|f| &f.connection) {
            Some(super::records::Connection::Connected { stream_id }) => Some(stream_id),
            _ => None,
        }
    }

    /// ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS from `framework_id`: the answer is kept
    /// for GET_MAINTENANCE_STATUS and no new inverse offer comes for `refuse_seconds`. Ids that
    /// are unknown or not the framework's are ignored (as Mesos does).
    pub(crate) fn answer_inverse_offers(
        &mut self,
        framework_id: &str,
        ids: &[v1::OfferId],
        accept: bool,
        refuse_seconds: Option<f64>,
        now: Time,
    ) {
        let status = if accept {
            inverse_offer_status::Status::Accept
        } else {
            inverse_offer_status::Status::Decline
        };
        let refuse = refuse_seconds
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(DEFAULT_REFUSE_SECONDS);
        for id in ids {
            let owned = self
                .maintenance
                .inverse_offers
                .get(&id.value)
                .is_some_and(|r| r.framework_id == framework_id);
            if !owned {
                tracing::debug!(framework_id, inverse_offer_id = %id.value, "unknown inverse offer ignored");
                continue;
            }
            let Some(r) = self.maintenance.inverse_offers.remove(&id.value) else {
                continue;
            };
            let key = (r.agent_id, r.framework_id);
            self.maintenance.statuses.insert(
                key.clone(),
                InverseOfferStatus {
                    status: status as i32,
                    framework_id: v1::FrameworkId {
                        value: framework_id.to_string(),
                    },
                    timestamp: v1::TimeInfo {
                        nanoseconds: (now * 1e9) as i64,
                    },
                },
            );
            self.maintenance.filters.insert(key, now + refuse);
        }
    }

    /// GET_MAINTENANCE_STATUS: DRAINING machines with the frameworks' answers for their
    /// agents, and DOWN machines.
    pub fn maintenance_status(&self) -> ClusterStatus {
        let mut status = ClusterStatus::default();
        for (key, machine) in &self.maintenance.machines {
            match machine.mode {
                Mode::Down => status.down_machines.push(machine.id.clone()),
                _ => {
                    let agents: BTreeSet<&String> = self
                        .agents
                        .values()
                        .filter(|a| key.matches(&a.info.hostname))
                        .map(|a| &a.id)
                        .collect();
                    let statuses = self
                        .maintenance
                        .statuses
                        .iter()
                        .filter(|((a, _), _)| agents.contains(a))
                        .map(|(_, s)| s.clone())
                        .collect();
                    status
                        .draining_machines
                        .push(cluster_status::DrainingMachine {
                            id: machine.id.clone(),
                            statuses,
                        });
                }
            }
        }
        status
    }
}
