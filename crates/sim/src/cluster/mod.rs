//! [`SimCluster`]: a real [`MasterCore`] driven in-process by simulated agents and schedulers.
//!
//! Agents subscribe with [`AgentEnvelope`]s, frameworks with SUBSCRIBE, launches are ACCEPT
//! calls on real offers, and task progress comes back as agent STATUS_UPDATE calls that the
//! schedulers acknowledge. After every input the cluster *settles*: it drains the core's effects
//! and lets the simulated parties react (offers are kept, RUN_TASK is answered with
//! TASK_RUNNING, acknowledgements release the next update, updates are acknowledged) until the
//! core has nothing more to say. Time only moves when the caller advances it.

use std::collections::{HashMap, HashSet, VecDeque};

use corral_api::internal::{AgentCall, AgentEnvelope, MasterMessage, PROTOCOL_VERSION};
use corral_api::v1::scheduler::{call, Call, Event};
use corral_api::v1::{self, framework_info::capability::Type as FwCap, TaskState};
use corral_master::allocator::first::FirstFitAllocator;
use corral_master::allocator::Allocator;
use corral_master::core::{CoreConfig, Effect, MasterCore};
use corral_resources::{Attributes, Resources};

use crate::rng::SimRng;
use crate::SimError;

/// Simulated wall-clock start (seconds since the Unix epoch).
pub const SIM_START: f64 = 1_700_000_000.0;

/// A refusal long enough to never expire during a simulation (Mesos's benchmarks use INT_MAX;
/// masters cap it at a year).
pub const REFUSE_FOREVER: f64 = 2_147_483_647.0;

/// Tasks with this command finish (TASK_FINISHED) as soon as their TASK_RUNNING is
/// acknowledged; any other command keeps running until it is killed.
pub const FINISH_COMMAND: &str = "true";

/// The command of tasks that keep running.
pub const RUN_COMMAND: &str = "sleep 1000000";

mod builder;

pub use builder::SimClusterBuilder;

mod types;

use types::{PendingAck, PendingUpdate};
pub use types::{PopulateReport, SimAgent, SimFramework, SimStats, Workload};

/// See the module documentation.
pub struct SimCluster {
    core: MasterCore,
    now: f64,
    rng: SimRng,
    agents: Vec<SimAgent>,
    agent_index: HashMap<String, usize>,
    frameworks: Vec<SimFramework>,
    framework_index: HashMap<String, usize>,
    updates: VecDeque<PendingUpdate>,
    acks: VecDeque<PendingAck>,
    /// `(agent, framework id, task id)` of tasks to finish once TASK_RUNNING is acknowledged.
    finishing: HashSet<(usize, String, String)>,
    next_uuid: u128,
    next_task: u64,
    auto_ack: bool,
    stats: SimStats,
}

impl SimCluster {
    /// A builder (first-fit allocator, default core configuration, seed 1).
    pub fn builder() -> SimClusterBuilder {
        SimClusterBuilder::default()
    }

    /// Drive an existing core (it may already hold state; the cluster only knows what it adds).
    pub fn around(core: MasterCore, seed: u64) -> Self {
        Self {
            core,
            now: SIM_START,
            rng: SimRng::new(seed),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            frameworks: Vec::new(),
            framework_index: HashMap::new(),
            updates: VecDeque::new(),
            acks: VecDeque::new(),
            finishing: HashSet::new(),
            next_uuid: 1,
            next_task: 0,
            auto_ack: true,
            stats: SimStats::default(),
        }
    }

    /// The core, for views and checks.
    pub fn core(&self) -> &MasterCore {
        &self.core
    }

    /// The core, to drive it directly (call [`Self::settle`] afterwards).
    pub fn core_mut(&mut self) -> &mut MasterCore {
        &mut self.core
    }

    /// Give the core up (e.g. to serve it over HTTP).
    pub fn into_core(self) -> MasterCore {
        self.core
    }

    /// The simulated time.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Move time forward by `secs` (filters and timeouts expire with it).
    pub fn advance(&mut self, secs: f64) {
        self.now += secs.max(0.0);
    }

    /// The cluster's random generator.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// Whether schedulers acknowledge every update they receive (default: yes).
    pub fn set_auto_ack(&mut self, on: bool) {
        self.auto_ack = on;
    }

    /// Counters of what happened.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The agents, in registration order.
    pub fn agents(&self) -> &[SimAgent] {
        &self.agents
    }

    /// The frameworks, in subscription order.
    pub fn frameworks(&self) -> &[SimFramework] {
        &self.frameworks
    }

    /// Index of an agent by id.
    pub fn agent_index(&self, agent_id: &str) -> Option<usize> {
        self.agent_index.get(agent_id).copied()
    }

    /// Outstanding offers held by framework `framework` (an index).
    pub fn offers(&self, framework: usize) -> &[v1::Offer] {
        self.frameworks
            .get(framework)
            .map_or(&[][..], |f| f.offers.as_slice())
    }

    /// Approximate heap and inline bytes of the cluster's own per-agent and per-framework
    /// bookkeeping (ids, stream ids, indexes), to subtract from memory measurements.
    pub fn bookkeeping_bytes(&self) -> usize {
        let agent = std::mem::size_of::<SimAgent>() + std::mem::size_of::<(String, usize)>();
        let agents: usize = self
            .agents
            .iter()
            .map(|a| agent + 2 * a.id.capacity() + a.stream_id.capacity())
            .sum();
        let frameworks: usize = self
            .frameworks
            .iter()
            .map(|f| {
                std::mem::size_of::<SimFramework>()
                    + 2 * f.id.capacity()
                    + f.stream_id.capacity()
                    + f.name.capacity()
            })
            .sum();
        agents + frameworks
    }

    /// Outstanding offers held by all schedulers.
    pub fn outstanding_offers(&self) -> usize {
        self.frameworks.iter().map(|f| f.offers.len()).sum()
    }

    /// Subscribe one framework with `roles` (MULTI_ROLE). Returns its index.
    pub fn add_framework(&mut self, name: &str, roles: &[&str]) -> Result<usize, SimError> {
        let index = self.frameworks.len();
        let info = v1::FrameworkInfo {
            user: "sim".to_string(),
            name: name.to_string(),
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
            failover_timeout: Some(7.0 * 24.0 * 3600.0),
            capabilities: vec![v1::framework_info::Capability {
                r#type: Some(FwCap::MultiRole as i32),
            }],
            ..Default::default()
        };
        let stream_id = format!("sim-fw-stream-{index}");
        let subscribe = call::Subscribe {
            framework_info: info,
            ..Default::default()
        };
        let subscribed = self
            .core
            .subscribe(subscribe, &stream_id, self.now)
            .map_err(|reason| SimError::FrameworkSubscribe {
                name: name.to_string(),
                reason,
            })?;
        self.framework_index
            .insert(subscribed.framework_id.clone(), index);
        self.frameworks.push(SimFramework {
            id: subscribed.framework_id,
            name: name.to_string(),
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
            stream_id,
            offers: Vec::new(),
        });
        self.settle()?;
        Ok(index)
    }

    /// Register `count` agents with `resources` and optional `attributes`. Returns the index of
    /// the first one.
    pub fn add_agents(
        &mut self,
        count: usize,
        resources: &str,
        attributes: Option<&str>,
    ) -> Result<usize, SimError> {
        let total: Resources =
            corral_resources::parse_resources(resources).map_err(|e| SimError::Resources {
                text: resources.to_string(),
                reason: e.to_string(),
            })?;
        let total = total.to_proto();
        let attributes = match attributes {
            Some(text) => Attributes::parse(text)
                .map_err(|e| SimError::Attributes {
                    text: text.to_string(),
                    reason: e.to_string(),
                })?
                .to_proto(),
            None => Vec::new(),
        };
        let first = self.agents.len();
        for _ in 0..count {
            let index = self.agents.len();
            let info = v1::AgentInfo {
                hostname: format!("sim-agent-{index}"),
                port: Some(5051),
                resources: total.clone(),
                attributes: attributes.clone(),
                ..Default::default()
            };
            let stream_id = format!("sim-agent-stream-{index}");
            let envelope = AgentEnvelope {
                version: PROTOCOL_VERSION,
                epoch: 0,
                agent_id: None,
                stream_id: None,
                call: AgentCall::Subscribe {
                    agent_info: info,
                    agent_version: "corral-sim".to_string(),
                    frameworks: Vec::new(),
                    executors: Vec::new(),
                    tasks: Vec::new(),
                    checkpointed_resources: Vec::new(),
                },
            };
            let id = self
                .core
                .agent_subscribe(envelope, &stream_id, self.now)
                .map_err(|source| SimError::AgentSubscribe { index, source })?;
            self.agent_index.insert(id.clone(), index);
            self.agents.push(SimAgent { id, stream_id });
            // Only REGISTERED comes back; drop it without the general routing.
            self.settle()?;
        }
        Ok(first)
    }

    /// Run one allocation and settle. Returns how many offers schedulers received.
    pub fn allocate(&mut self) -> Result<usize, SimError> {
        let before = self.stats.offers_received;
        self.core.allocate(self.now);
        self.settle()?;
        Ok((self.stats.offers_received - before) as usize)
    }

    /// Every scheduler declines all its outstanding offers (one DECLINE call each) with
    /// `refuse_seconds` (`None`: Mesos's default of 5 s). Returns how many were declined.
    pub fn decline_all(&mut self, refuse_seconds: Option<f64>) -> Result<usize, SimError> {
        let mut declined = 0;
        for index in 0..self.frameworks.len() {
            let offers = std::mem::take(&mut self.frameworks[index].offers);
            if offers.is_empty() {
                continue;
            }
            declined += offers.len();
            let decline = call::Decline {
                offer_ids: offers.into_iter().map(|o| o.id).collect(),
                filters: refuse_seconds.map(|s| v1::Filters {
                    refuse_seconds: Some(s),
                }),
            };
            let call = Call {
                framework_id: Some(v1::FrameworkId {
                    value: self.frameworks[index].id.clone(),
                }),
                r#type: Some(call::Type::Decline as i32),
                decline: Some(decline),
                ..Default::default()
            };
            self.scheduler_call(index, call, "DECLINE")?;
        }
        self.settle()?;
        Ok(declined)
    }

    /// Framework `framework` accepts `offer` (which it holds) launching `tasks`; the rest is
    /// refused for `refuse_seconds` (`None`: 5 s). Settles afterwards.
    pub fn accept(
        &mut self,
        framework: usize,
        offer: &v1::OfferId,
        tasks: Vec<v1::TaskInfo>,
        refuse_seconds: Option<f64>,
    ) -> Result<(), SimError> {
        use v1::offer::operation;
        let Some(f) = self.frameworks.get_mut(framework) else {
            return Err(SimError::NoSuchFramework(framework));
        };
        f.offers.retain(|o| o.id != *offer);
        let call = Call {
            framework_id: Some(v1::FrameworkId {
                value: f.id.clone(),
            }),
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids: vec![offer.clone()],
                operations: vec![v1::offer::Operation {
                    r#type: Some(operation::Type::Launch as i32),
                    launch: Some(operation::Launch { task_infos: tasks }),
                    ..Default::default()
                }],
                filters: refuse_seconds.map(|s| v1::Filters {
                    refuse_seconds: Some(s),
                }),
            }),
            ..Default::default()
        };
        self.scheduler_call(framework, call, "ACCEPT")?;
        self.settle()
    }

    /// SUPPRESS for every framework (no offers until REVIVE).
    pub fn suppress_all(&mut self) -> Result<(), SimError> {
        for index in 0..self.frameworks.len() {
            let call = Call {
                framework_id: Some(v1::FrameworkId {
                    value: self.frameworks[index].id.clone(),
                }),
                r#type: Some(call::Type::Suppress as i32),
                suppress: Some(call::Suppress::default()),
                ..Default::default()
            };
            self.scheduler_call(index, call, "SUPPRESS")?;
        }
        self.settle()
    }

    /// REVIVE for every framework (unsuppress, clear filters).
    pub fn revive_all(&mut self) -> Result<(), SimError> {
        for index in 0..self.frameworks.len() {
            let call = Call {
                framework_id: Some(v1::FrameworkId {
                    value: self.frameworks[index].id.clone(),
                }),
                r#type: Some(call::Type::Revive as i32),
                revive: Some(call::Revive::default()),
                ..Default::default()
            };
            self.scheduler_call(index, call, "REVIVE")?;
        }
        self.settle()
    }

    /// Kill a task of framework `framework`; its agent answers TASK_KILLED.
    pub fn kill(&mut self, framework: usize, task_id: &str) -> Result<(), SimError> {
        let Some(f) = self.frameworks.get(framework) else {
            return Err(SimError::NoSuchFramework(framework));
        };
        let call = Call {
            framework_id: Some(v1::FrameworkId {
                value: f.id.clone(),
            }),
            r#type: Some(call::Type::Kill as i32),
            kill: Some(call::Kill {
                task_id: v1::TaskId {
                    value: task_id.to_string(),
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        self.scheduler_call(framework, call, "KILL")?;
        self.settle()
    }

    /// A new task for `agent_id` with a cluster-unique id, `resources` (wire form, e.g. from
    /// `Resources::to_proto`) and `labels` labels. It finishes right after running when
    /// `finishes`, otherwise it keeps running.
    pub fn task(
        &mut self,
        agent_id: &str,
        resources: &[v1::Resource],
        labels: usize,
        finishes: bool,
    ) -> v1::TaskInfo {
        let n = self.next_task;
        self.next_task += 1;
        let id = format!("sim-task-{n}");
        let labels = (labels > 0).then(|| v1::Labels {
            labels: (0..labels)
                .map(|i| v1::Label {
                    key: format!("key{i}"),
                    value: Some(format!("value{i}")),
                })
                .collect(),
        });
        v1::TaskInfo {
            name: id.clone(),
            task_id: v1::TaskId { value: id },
            agent_id: v1::AgentId {
                value: agent_id.to_string(),
            },
            resources: resources.to_vec(),
            command: Some(v1::CommandInfo {
                value: Some(
                    if finishes {
                        FINISH_COMMAND
                    } else {
                        RUN_COMMAND
                    }
                    .to_string(),
                ),
                ..Default::default()
            }),
            labels,
            ..Default::default()
        }
    }

    /// Put `workload` on every agent through offers: each round allocates, and each scheduler
    /// launches on every offer as many tasks as fit and the agent still needs (finishing tasks
    /// first), refusing an agent for good once it has its share. Ends with every outstanding
    /// offer declined and every framework suppressed, so the cluster is quiet.
    pub fn populate(&mut self, workload: &Workload) -> Result<PopulateReport, SimError> {
        let task_resources =
            corral_resources::parse_resources(&workload.task_resources).map_err(|e| {
                SimError::Resources {
                    text: workload.task_resources.clone(),
                    reason: e.to_string(),
                }
            })?;
        let task_proto = task_resources.to_proto();
        // Earlier populations refused agents for good and suppressed: start afresh.
        self.revive_all()?;
        // (still to run, still to complete) per agent.
        let mut left: Vec<(usize, usize)> =
            vec![(workload.running_per_agent, workload.completed_per_agent); self.agents.len()];
        let mut report = PopulateReport::default();
        while left.iter().any(|(r, c)| r + c > 0) && report.rounds < workload.max_rounds {
            report.rounds += 1;
            self.allocate()?;
            let mut launched = 0;
            for framework in 0..self.frameworks.len() {
                let offers = std::mem::take(&mut self.frameworks[framework].offers);
                let mut refused = Vec::new();
                for offer in offers {
                    let Some(agent) = self.agent_index(&offer.agent_id.value) else {
                        refused.push(offer);
                        continue;
                    };
                    let (run, complete) = left[agent];
                    if run + complete == 0 {
                        refused.push(offer);
                        continue;
                    }
                    let mut available = Resources::from_proto(&offer.resources)
                        .map_err(|e| SimError::Resources {
                            text: format!("offer {}", offer.id.value),
                            reason: e.to_string(),
                        })?
                        .stripped();
                    let mut fit = 0;
                    while fit < run + complete && available.subtract(&task_resources).is_ok() {
                        fit += 1;
                    }
                    let finishing = fit.min(complete);
                    let running = (fit - finishing).min(run);
                    left[agent] = (run - running, complete - finishing);
                    let agent_id = offer.agent_id.value.clone();
                    let mut tasks = Vec::with_capacity(fit);
                    for i in 0..finishing + running {
                        tasks.push(self.task(
                            &agent_id,
                            &task_proto,
                            workload.labels_per_task,
                            i < finishing,
                        ));
                    }
                    launched += tasks.len();
                    report.completed += finishing;
                    report.running += running;
                    let done = left[agent] == (0, 0);
                    let refuse = if done { REFUSE_FOREVER } else { 0.0 };
                    self.accept(framework, &offer.id, tasks, Some(refuse))?;
                }
                // Put the refused ones back so that decline_all turns them down in one call.
                self.frameworks[framework].offers.extend(refused);
            }
            self.decline_all(Some(REFUSE_FOREVER))?;
            if launched == 0 {
                // Nothing fits anywhere any more: give up rather than loop.
                break;
            }
        }
        report.complete = left.iter().all(|(r, c)| r + c == 0);
        self.decline_all(Some(REFUSE_FOREVER))?;
        self.suppress_all()?;
        Ok(report)
    }

    fn scheduler_call(
        &mut self,
        framework: usize,
        call: Call,
        what: &'static str,
    ) -> Result<(), SimError> {
        let f = &self.frameworks[framework];
        let id = f.id.clone();
        self.core
            .check_caller(&id, Some(&f.stream_id))
            .map_err(|source| SimError::Call { what, source })?;
        self.core
            .scheduler_call(&id, call, self.now)
            .map_err(|source| SimError::Call { what, source })
    }

    fn agent_call(&mut self, agent: usize, call: AgentCall) -> Result<(), SimError> {
        let a = &self.agents[agent];
        let envelope = AgentEnvelope {
            version: PROTOCOL_VERSION,
            epoch: self.core.epoch(),
            agent_id: Some(v1::AgentId {
                value: a.id.clone(),
            }),
            stream_id: Some(a.stream_id.clone()),
            call,
        };
        self.core
            .agent_call(envelope, self.now)
            .map_err(|source| SimError::Call {
                what: "agent call",
                source,
            })
    }

    /// Drain the core's effects and let agents and schedulers react until nothing is left.
    pub fn settle(&mut self) -> Result<(), SimError> {
        loop {
            let effects = self.core.take_effects();
            let mut busy = !effects.is_empty();
            for effect in effects {
                self.route(effect);
            }
            while let Some(update) = self.updates.pop_front() {
                busy = true;
                self.send_update(update)?;
            }
            while let Some(ack) = self.acks.pop_front() {
                busy = true;
                self.send_ack(ack)?;
            }
            if !busy {
                return Ok(());
            }
        }
    }

    fn route(&mut self, effect: Effect) {
        match effect {
            Effect::ToFramework {
                framework_id,
                event,
            } => {
                if let Some(&index) = self.framework_index.get(&framework_id) {
                    self.framework_event(index, event);
                }
            }
            Effect::ToAgent { agent_id, message } => {
                if let Some(&index) = self.agent_index.get(&agent_id) {
                    self.agent_message(index, message);
                }
            }
            Effect::CloseFramework { .. }
            | Effect::CloseAgent { .. }
            | Effect::Registry(_)
            | Effect::Fatal(_) => {}
        }
    }

    fn framework_event(&mut self, index: usize, event: Event) {
        if let Some(offers) = event.offers {
            self.stats.offers_received += offers.offers.len() as u64;
            self.frameworks[index].offers.extend(offers.offers);
        }
        if let Some(rescind) = event.rescind {
            self.stats.offers_rescinded += 1;
            self.frameworks[index]
                .offers
                .retain(|o| o.id != rescind.offer_id);
        }
        if let Some(update) = event.update {
            self.stats.updates_received += 1;
            let status = update.status;
            match (status.uuid, status.agent_id) {
                (Some(uuid), Some(agent_id)) if self.auto_ack => {
                    self.acks.push_back(PendingAck {
                        framework: index,
                        agent_id,
                        task_id: status.task_id,
                        uuid,
                    });
                }
                (None, _) => {
                    let terminal = corral_master::core::records::is_terminal(
                        TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown),
                    );
                    if terminal {
                        self.stats.master_terminal_updates += 1;
                    }
                }
                _ => {}
            }
        }
    }

    fn agent_message(&mut self, agent: usize, message: MasterMessage) {
        match message {
            MasterMessage::RunTask {
                framework, task, ..
            } => {
                let framework_id = framework.id.map(|i| i.value).unwrap_or_default();
                self.start_task(agent, framework_id, task);
            }
            MasterMessage::RunTaskGroup {
                framework,
                task_group,
                ..
            } => {
                let framework_id = framework.id.map(|i| i.value).unwrap_or_default();
                for task in task_group.tasks {
                    self.start_task(agent, framework_id.clone(), task);
                }
            }
            MasterMessage::KillTask {
                framework_id,
                task_id,
                ..
            } => {
                self.finishing
                    .remove(&(agent, framework_id.value.clone(), task_id.value.clone()));
                self.updates.push_back(PendingUpdate {
                    agent,
                    framework_id: framework_id.value,
                    task_id,
                    state: TaskState::TaskKilled,
                });
            }
            MasterMessage::StatusUpdateAcknowledgement {
                framework_id,
                task_id,
                ..
            } => {
                let key = (agent, framework_id.value, task_id.value);
                if self.finishing.remove(&key) {
                    self.updates.push_back(PendingUpdate {
                        agent,
                        framework_id: key.1,
                        task_id: v1::TaskId { value: key.2 },
                        state: TaskState::TaskFinished,
                    });
                }
            }
            _ => {}
        }
    }

    fn start_task(&mut self, agent: usize, framework_id: String, task: v1::TaskInfo) {
        self.stats.tasks_started += 1;
        let finishes = task
            .command
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .is_some_and(|v| v == FINISH_COMMAND);
        if finishes {
            self.finishing
                .insert((agent, framework_id.clone(), task.task_id.value.clone()));
        }
        self.updates.push_back(PendingUpdate {
            agent,
            framework_id,
            task_id: task.task_id,
            state: TaskState::TaskRunning,
        });
    }

    fn send_update(&mut self, update: PendingUpdate) -> Result<(), SimError> {
        let uuid = self.next_uuid.to_le_bytes().to_vec();
        self.next_uuid += 1;
        if update.state == TaskState::TaskFinished {
            self.stats.tasks_finished += 1;
        }
        self.stats.updates_sent += 1;
        let status = v1::TaskStatus {
            task_id: update.task_id,
            state: update.state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            agent_id: Some(v1::AgentId {
                value: self.agents[update.agent].id.clone(),
            }),
            timestamp: Some(self.now),
            uuid: Some(uuid),
            ..Default::default()
        };
        self.agent_call(
            update.agent,
            AgentCall::StatusUpdate {
                framework_id: v1::FrameworkId {
                    value: update.framework_id,
                },
                status,
                latest_state: None,
            },
        )
    }

    fn send_ack(&mut self, ack: PendingAck) -> Result<(), SimError> {
        self.stats.acks_sent += 1;
        let call = Call {
            framework_id: Some(v1::FrameworkId {
                value: self.frameworks[ack.framework].id.clone(),
            }),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                agent_id: ack.agent_id,
                task_id: ack.task_id,
                uuid: ack.uuid,
            }),
            ..Default::default()
        };
        self.scheduler_call(ack.framework, call, "ACKNOWLEDGE")
    }
}
