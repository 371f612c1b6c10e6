//! The master's decision core: a sans-IO state machine.
//!
//! Every entry point takes `now` and an input, updates the state and pushes [`Effect`]s; the
//! runtime ([`crate::runtime`]) drains them with [`MasterCore::take_effects`] and does the I/O.
//! The core reads no clock, opens no socket and never blocks, so tests drive it step by step.
//!
//! ```text
//!  HTTP handlers ──commands──▶ runtime actor ──(now, input)──▶ MasterCore ──▶ Vec<Effect>
//!                                   ▲                                             │
//!                                   └──────────── streams to frameworks/agents ◀──┘
//! ```

pub mod accept;
pub mod agents;
pub mod effect;
pub mod failover;
pub mod maintenance;
pub mod operator;
pub mod ops;
pub mod partition;
pub mod reconcile;
pub mod records;
pub mod recovery;
pub mod scheduler;
pub mod status;
pub mod view;
pub mod weights;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use corral_api::v1;
use corral_api::v1::scheduler::{event, Event};
use corral_resources::Resources;

pub use effect::{CoreError, Effect, Subscribed};
use records::{Agent, Framework, OfferRecord, TaskRecord, Time, UnreachableAgent};

use crate::allocator::Allocator;

/// Tunables of the core (from the master's flags).
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Advertised to schedulers in SUBSCRIBED.
    pub heartbeat_interval_secs: f64,
    /// How often agents are pinged.
    pub agent_ping_timeout_secs: f64,
    /// Missed pings before an agent is marked unreachable.
    pub max_agent_ping_timeouts: u32,
    /// Rescind offers older than this (none by default, as in Mesos).
    pub offer_timeout_secs: Option<f64>,
    /// Completed frameworks kept for `/state`.
    pub max_completed_frameworks: usize,
    /// Completed tasks kept per framework.
    pub max_completed_tasks_per_framework: usize,
    /// After a failover, how long recovered agents have to re-register before they are
    /// marked unreachable (`--agent_reregister_timeout`).
    pub agent_reregister_timeout_secs: f64,
    /// Largest fraction (0..=1) of recovered agents that may be marked unreachable after a
    /// failover; above it the master fails over instead (`--recovery_agent_removal_limit`).
    pub recovery_agent_removal_limit: f64,
    /// Least time between two agents being marked unreachable (`--agent_removal_rate_limit`);
    /// `None`: no limit.
    pub agent_removal_interval_secs: Option<f64>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_secs: 15.0,
            agent_ping_timeout_secs: 15.0,
            max_agent_ping_timeouts: 5,
            offer_timeout_secs: None,
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            agent_reregister_timeout_secs: 600.0,
            recovery_agent_removal_limit: 1.0,
            agent_removal_interval_secs: None,
        }
    }
}

/// Counters for `/metrics/snapshot`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Status updates accepted from agents.
    pub valid_status_updates: u64,
    /// Status updates for unknown tasks or frameworks.
    pub invalid_status_updates: u64,
    /// Offers sent.
    pub offers_sent: u64,
    /// Offers declined.
    pub offers_declined: u64,
    /// Offers rescinded.
    pub offers_rescinded: u64,
    /// Tasks that reached each terminal state, by state name.
    pub tasks_terminal: BTreeMap<String, u64>,
    /// Agents removed after missing pings.
    pub agents_removed: u64,
}

/// The master's state and decisions. See the module docs.
pub struct MasterCore {
    pub(crate) config: CoreConfig,
    pub(crate) info: v1::MasterInfo,
    pub(crate) epoch: u64,
    pub(crate) start_time: Time,
    pub(crate) frameworks: BTreeMap<String, Framework>,
    pub(crate) completed_frameworks: VecDeque<Framework>,
    pub(crate) agents: BTreeMap<String, Agent>,
    pub(crate) unreachable_agents: BTreeMap<String, UnreachableAgent>,
    /// Non-completed tasks by (framework id, task id).
    pub(crate) tasks: BTreeMap<(String, String), Box<TaskRecord>>,
    pub(crate) offers: BTreeMap<String, OfferRecord>,
    pub(crate) allocator: Box<dyn Allocator>,
    pub(crate) next_framework: u64,
    pub(crate) next_agent: u64,
    pub(crate) next_offer: u64,
    pub(crate) counters: Counters,
    pub(crate) allocation_pending: bool,
    /// The latest `now` seen by [`Self::tick`], for views that need a time.
    pub(crate) clock: Time,
    pub(crate) policies: weights::Policies,
    /// Failover recovery: agents from the registry not yet re-registered, gone agents.
    pub(crate) recovery: recovery::Recovery,
    /// Tasks last seen on agents that became unreachable (for reconciliation).
    pub(crate) unreachable_tasks: partition::UnreachableTasks,
    /// Forwarded status updates not yet acknowledged (redelivered on re-subscription).
    pub(crate) unacked_updates: failover::UnackedUpdates,
    /// Maintenance schedule, machine modes and inverse offers.
    pub(crate) maintenance: maintenance::Maintenance,
    effects: Vec<Effect>,
}

impl MasterCore {
    /// A master with no agents or frameworks. `epoch` fences messages of earlier leaders.
    pub fn new(
        config: CoreConfig,
        info: v1::MasterInfo,
        epoch: u64,
        allocator: Box<dyn Allocator>,
        now: Time,
    ) -> Self {
        Self {
            config,
            info,
            epoch,
            start_time: now,
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            agents: BTreeMap::new(),
            unreachable_agents: BTreeMap::new(),
            tasks: BTreeMap::new(),
            offers: BTreeMap::new(),
            allocator,
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
            counters: Counters::default(),
            allocation_pending: false,
            clock: now,
            policies: weights::Policies::default(),
            recovery: recovery::Recovery::default(),
            unreachable_tasks: Default::default(),
            unacked_updates: Default::default(),
            maintenance: Default::default(),
            effects: Vec::new(),
        }
    }

    /// The effects produced and not yet taken, in order.
    pub fn pending_effects(&self) -> &[Effect] {
        &self.effects
    }

    /// The effects produced since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The master's id.
    pub fn master_id(&self) -> &str {
        &self.info.id
    }

    /// The leader epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The MasterInfo advertised to schedulers.
    pub fn master_info(&self) -> &v1::MasterInfo {
        &self.info
    }

    pub(crate) fn emit(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub(crate) fn send_event(&mut self, framework_id: &str, event: Event) {
        self.emit(Effect::ToFramework {
            framework_id: framework_id.to_string(),
            event,
        });
    }

    /// Periodic work: failover timeouts, agent pings, offer timeouts, allocation.
    pub fn tick(&mut self, now: Time) {
        self.clock = now;
        self.expire_failover_timeouts(now);
        self.expire_recovered_agents(now);
        self.expire_offers(now);
        self.allocate(now);
    }

    /// Ping every connected agent; mark those that missed too many pings unreachable.
    /// Called every `agent_ping_timeout_secs` by the runtime.
    pub fn ping_agents(&mut self, now: Time) {
        let max = self.config.max_agent_ping_timeouts;
        let mut lost = Vec::new();
        for agent in self.agents.values_mut() {
            if agent.missed_pings >= max {
                lost.push(agent.id.clone());
                continue;
            }
            agent.missed_pings += 1;
            agent.ping_seq += 1;
            let message = corral_api::internal::MasterMessage::Ping {
                seq: agent.ping_seq,
            };
            self.effects.push(Effect::ToAgent {
                agent_id: agent.id.clone(),
                message,
            });
        }
        for agent_id in lost {
            if !self.agent_removal_permitted(now) {
                // --agent_removal_rate_limit: try again at the next ping round.
                continue;
            }
            tracing::warn!(agent_id, "agent missed {max} pings; marking it unreachable");
            self.counters.agents_removed += 1;
            self.mark_agent_unreachable(&agent_id, now);
        }
    }

    /// Run the allocator and turn its decisions into offers.
    pub fn allocate(&mut self, now: Time) {
        self.allocation_pending = false;
        let allocations = self.allocator.allocate(now);
        let mut by_framework: BTreeMap<String, Vec<v1::Offer>> = BTreeMap::new();
        for a in allocations {
            let (Some(agent), Some(framework)) = (
                self.agents.get_mut(&a.agent_id),
                self.frameworks.get_mut(&a.framework_id),
            ) else {
                // The allocator raced a removal; hand the resources straight back.
                self.allocator.recover(
                    &a.framework_id,
                    &a.agent_id,
                    &a.role,
                    &a.resources,
                    None,
                    now,
                );
                continue;
            };
            let offer_id = format!("{}-O{}", self.info.id, self.next_offer);
            self.next_offer += 1;
            let mut allocated = a.resources.clone();
            allocated.allocate(&a.role);
            let offer = v1::Offer {
                id: v1::OfferId {
                    value: offer_id.clone(),
                },
                framework_id: v1::FrameworkId {
                    value: a.framework_id.clone(),
                },
                agent_id: v1::AgentId {
                    value: a.agent_id.clone(),
                },
                hostname: agent.info.hostname.clone(),
                url: Some(agent_url(&agent.info)),
                resources: allocated.to_proto(),
                attributes: agent.info.attributes.clone(),
                executor_ids: framework
                    .executors
                    .get(&a.agent_id)
                    .map(|e| {
                        e.keys()
                            .map(|id| v1::ExecutorId { value: id.clone() })
                            .collect()
                    })
                    .unwrap_or_default(),
                allocation_info: Some(v1::resource::AllocationInfo {
                    role: Some(a.role.clone()),
                }),
                unavailability: self.maintenance.unavailability_of(&agent.info.hostname),
                ..Default::default()
            };
            agent.offered.add_all(&a.resources);
            framework.offers.insert(offer_id.clone());
            self.offers.insert(
                offer_id,
                OfferRecord {
                    offer: offer.clone(),
                    resources: a.resources,
                    agent_id: a.agent_id.clone(),
                    framework_id: a.framework_id.clone(),
                    role: a.role,
                    created: now,
                },
            );
            by_framework.entry(a.framework_id).or_default().push(offer);
        }
        for (framework_id, offers) in by_framework {
            self.counters.offers_sent += offers.len() as u64;
            let event = Event {
                r#type: Some(event::Type::Offers as i32),
                offers: Some(event::Offers { offers }),
                ..Default::default()
            };
            self.send_event(&framework_id, event);
        }
        self.send_inverse_offers(now);
    }

    /// Remove an outstanding offer; its resources go back to the allocator with `refuse`.
    /// Returns the offer if it existed.
    pub(crate) fn remove_offer(
        &mut self,
        offer_id: &str,
        refuse_seconds: Option<f64>,
        now: Time,
    ) -> Option<OfferRecord> {
        let offer = self.offers.remove(offer_id)?;
        if let Some(agent) = self.agents.get_mut(&offer.agent_id) {
            let _ = agent.offered.subtract(&offer.resources);
        }
        if let Some(f) = self.frameworks.get_mut(&offer.framework_id) {
            f.offers.remove(offer_id);
        }
        self.allocator.recover(
            &offer.framework_id,
            &offer.agent_id,
            &offer.role,
            &offer.resources,
            refuse_seconds,
            now,
        );
        self.allocation_pending = true;
        Some(offer)
    }

    /// Rescind an offer: remove it and tell its framework.
    pub(crate) fn rescind_offer(&mut self, offer_id: &str, now: Time) {
        if let Some(offer) = self.remove_offer(offer_id, None, now) {
            self.counters.offers_rescinded += 1;
            let event = Event {
                r#type: Some(event::Type::Rescind as i32),
                rescind: Some(event::Rescind {
                    offer_id: v1::OfferId {
                        value: offer_id.to_string(),
                    },
                }),
                ..Default::default()
            };
            self.send_event(&offer.framework_id, event);
        }
    }

    fn expire_offers(&mut self, now: Time) {
        let Some(timeout) = self.config.offer_timeout_secs else {
            return;
        };
        let expired: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| now - o.created >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.rescind_offer(&id, now);
        }
    }

    /// Whether an allocation should run soon (resources came back or something joined).
    pub fn allocation_pending(&self) -> bool {
        self.allocation_pending
    }

    /// Resources used on agents plus offered, for metrics.
    pub(crate) fn cluster_totals(&self) -> (Resources, Resources, Resources) {
        let mut total = Resources::default();
        let mut used = Resources::default();
        let mut offered = Resources::default();
        for a in self.agents.values() {
            total.add_all(&a.total);
            used.add_all(&a.used);
            offered.add_all(&a.offered);
        }
        (total, used, offered)
    }
}

/// `http://<agent>:<port>/slave(1)`, as offers carry it.
pub(crate) fn agent_url(info: &v1::AgentInfo) -> v1::Url {
    v1::Url {
        scheme: "http".to_string(),
        address: v1::Address {
            hostname: Some(info.hostname.clone()),
            ip: None,
            port: info.port.unwrap_or(5051),
        },
        path: Some("/slave(1)".to_string()),
        ..Default::default()
    }
}
