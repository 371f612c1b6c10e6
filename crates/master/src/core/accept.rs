//! ACCEPT: offer checks, launch validation, and the hand-off of tasks to agents.
//!
//! Rules (Mesos's, written out):
//! * every offer id must be outstanding, belong to the caller, appear once, and all offers must
//!   be on one agent; otherwise every task in the call gets TASK_LOST (TASK_DROPPED for
//!   partition-aware frameworks) with REASON_INVALID_OFFERS and the valid offers are released;
//! * each task is validated on its own; an invalid one gets TASK_ERROR with REASON_TASK_INVALID
//!   and a message, and consumes nothing; valid ones consume from what the offers still hold;
//! * whatever is left unused goes back to the allocator, filtered for `refuse_seconds`.

use std::collections::BTreeSet;

use corral_api::internal::MasterMessage;
use corral_api::v1::offer::operation::Type as OpType;
use corral_api::v1::scheduler::call;
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_resources::Resources;

use super::records::{OfferRecord, TaskRecord, Time};
use super::status::master_status;
use super::{Effect, MasterCore};

/// Default `refuse_seconds` for unused resources (Mesos's Filters default).
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

impl MasterCore {
    pub(crate) fn accept(&mut self, framework_id: &str, accept: call::Accept, now: Time) {
        let refuse = accept
            .filters
            .as_ref()
            .map(|f| f.refuse_seconds())
            .unwrap_or(DEFAULT_REFUSE_SECONDS);
        let offers = match self.take_offers(framework_id, &accept.offer_ids, now) {
            Ok(offers) => offers,
            Err(why) => {
                for task in launched_tasks(&accept.operations) {
                    let status = master_status(
                        &task.task_id.value,
                        TaskState::TaskDropped,
                        Reason::InvalidOffers,
                        why.clone(),
                        Some(&task.agent_id.value),
                        now,
                    );
                    self.send_master_update(framework_id, status);
                }
                return;
            }
        };
        let Some(first) = offers.first() else { return };
        let agent_id = first.agent_id.clone();
        let role = first.role.clone();
        let mut remaining = Resources::default();
        for o in &offers {
            remaining.add_all(&o.resources);
        }
        let mut launched_now: BTreeSet<String> = BTreeSet::new();
        for operation in accept.operations {
            let kind = operation.r#type.and_then(|t| OpType::try_from(t).ok());
            if matches!(
                kind,
                Some(OpType::Reserve | OpType::Unreserve | OpType::Create | OpType::Destroy)
            ) {
                self.accept_operation(framework_id, &agent_id, &role, &operation, &mut remaining);
                continue;
            }
            match (kind, operation.launch, operation.launch_group) {
                (Some(OpType::Launch), Some(launch), _) => {
                    for task in launch.task_infos {
                        self.launch_one(
                            framework_id,
                            &agent_id,
                            &role,
                            task,
                            &mut remaining,
                            &mut launched_now,
                            now,
                        );
                    }
                }
                (Some(OpType::LaunchGroup), _, Some(group)) => {
                    self.launch_group(
                        framework_id,
                        &agent_id,
                        &role,
                        group,
                        &mut remaining,
                        &mut launched_now,
                        now,
                    );
                }
                (kind, _, _) => {
                    tracing::warn!(
                        framework_id,
                        ?kind,
                        "offer operation not supported yet; ignored"
                    );
                }
            }
        }
        // Unused resources go back, filtered for this framework on this agent.
        if !remaining.is_empty() {
            self.allocator.recover(
                framework_id,
                &agent_id,
                &role,
                &remaining,
                Some(refuse),
                now,
            );
        }
        self.allocation_pending = true;
    }

    /// Check and remove the offers an ACCEPT names. On error nothing is consumed: valid offers
    /// are released back to the allocator (without a filter).
    fn take_offers(
        &mut self,
        framework_id: &str,
        offer_ids: &[v1::OfferId],
        now: Time,
    ) -> Result<Vec<OfferRecord>, String> {
        let mut problem = None;
        let mut seen = BTreeSet::new();
        let mut agent: Option<String> = None;
        if offer_ids.is_empty() {
            problem = Some("No offers specified".to_string());
        }
        for id in offer_ids {
            if !seen.insert(id.value.clone()) {
                problem.get_or_insert(format!("Offer {} appears more than once", id.value));
                continue;
            }
            match self.offers.get(&id.value) {
                None => {
                    problem.get_or_insert(format!("Offer {} is no longer valid", id.value));
                }
                Some(o) if o.framework_id != framework_id => {
                    problem.get_or_insert(format!("Offer {} is not for this framework", id.value));
                }
                Some(o) => match &agent {
                    Some(a) if *a != o.agent_id => {
                        problem.get_or_insert(
                            "Aggregated offers must belong to one agent".to_string(),
                        );
                    }
                    _ => agent = Some(o.agent_id.clone()),
                },
            }
        }
        if let Some(why) = problem {
            for id in &seen {
                if self.owned_offer(framework_id, id) {
                    self.remove_offer(id, None, now);
                }
            }
            return Err(why);
        }
        let mut taken = Vec::new();
        for id in offer_ids {
            if let Some(offer) = self.offers.remove(&id.value) {
                if let Some(agent) = self.agents.get_mut(&offer.agent_id) {
                    let _ = agent.offered.subtract(&offer.resources);
                }
                if let Some(f) = self.frameworks.get_mut(framework_id) {
                    f.offers.remove(&id.value);
                }
                taken.push(offer);
            }
        }
        Ok(taken)
    }

    /// Validate one LAUNCH task; on success consume its resources and send it to the agent.
    #[allow(clippy::too_many_arguments)]
    fn launch_one(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        task: v1::TaskInfo,
        remaining: &mut Resources,
        launched_now: &mut BTreeSet<String>,
        now: Time,
    ) {
        let needed = self.validate_task(framework_id, agent_id, &task, launched_now, false);
        let needed = needed.and_then(|mut needed| {
            if let Some(executor) = &task.executor {
                needed.add_all(&self.new_executor_resources(framework_id, agent_id, executor)?);
            }
            if !remaining.contains(&needed) {
                return Err(format!(
                    "Task uses more resources ({needed}) than available in the accepted offers ({remaining})"
                ));
            }
            Ok(needed)
        });
        let needed = match needed {
            Ok(n) => n,
            Err(why) => {
                return self.task_error(framework_id, agent_id, &task.task_id.value, why, now)
            }
        };
        let _ = remaining.subtract(&needed);
        launched_now.insert(task.task_id.value.clone());
        let executor = task.executor.clone();
        if let Some(executor) = &executor {
            self.add_executor(framework_id, agent_id, executor);
        }
        let task_resources = Resources::from_proto(&task.resources)
            .unwrap_or_default()
            .stripped();
        self.track_task(framework_id, agent_id, role, &task, task_resources);
        let framework = self.framework_info_for_agent(framework_id);
        self.emit(Effect::ToAgent {
            agent_id: agent_id.to_string(),
            message: MasterMessage::RunTask {
                framework,
                executor,
                task,
            },
        });
    }

    /// Validate a LAUNCH_GROUP as a whole (all or nothing).
    #[allow(clippy::too_many_arguments)]
    fn launch_group(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        group: v1::offer::operation::LaunchGroup,
        remaining: &mut Resources,
        launched_now: &mut BTreeSet<String>,
        now: Time,
    ) {
        let executor = group.executor;
        let tasks = group.task_group.tasks;
        let check = || -> Result<Resources, String> {
            if tasks.is_empty() {
                return Err("Task group is empty".to_string());
            }
            if executor.r#type.is_none() {
                return Err("'ExecutorInfo.type' must be set for LAUNCH_GROUP".to_string());
            }
            let mut needed = self.new_executor_resources(framework_id, agent_id, &executor)?;
            let mut ids = launched_now.clone();
            for task in &tasks {
                if task.executor.is_some() {
                    return Err(format!(
                        "Task '{}' in a task group must not set 'executor'",
                        task.task_id.value
                    ));
                }
                needed.add_all(&self.validate_task(framework_id, agent_id, task, &ids, true)?);
                ids.insert(task.task_id.value.clone());
            }
            if !remaining.contains(&needed) {
                return Err(format!(
                    "Task group uses more resources ({needed}) than available in the accepted offers ({remaining})"
                ));
            }
            Ok(needed)
        };
        let needed = match check() {
            Ok(n) => n,
            Err(why) => {
                for task in &tasks {
                    self.task_error(
                        framework_id,
                        agent_id,
                        &task.task_id.value,
                        why.clone(),
                        now,
                    );
                }
                return;
            }
        };
        let _ = remaining.subtract(&needed);
        self.add_executor(framework_id, agent_id, &executor);
        for task in &tasks {
            launched_now.insert(task.task_id.value.clone());
            let mut with_executor = task.clone();
            with_executor.executor = None;
            let r = Resources::from_proto(&task.resources)
                .unwrap_or_default()
                .stripped();
            self.track_task_with_executor(
                framework_id,
                agent_id,
                role,
                &with_executor,
                r,
                Some(&executor.executor_id),
            );
        }
        let framework = self.framework_info_for_agent(framework_id);
        self.emit(Effect::ToAgent {
            agent_id: agent_id.to_string(),
            message: MasterMessage::RunTaskGroup {
                framework,
                executor,
                task_group: v1::TaskGroupInfo { tasks },
            },
        });
    }

    /// The task's own resources if it is valid, or why not.
    fn validate_task(
        &self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        launched_now: &BTreeSet<String>,
        in_group: bool,
    ) -> Result<Resources, String> {
        let task_id = &task.task_id.value;
        corral_api::ids::validate_id("Task", task_id).map_err(|e| e.to_string())?;
        let key = (framework_id.to_string(), task_id.clone());
        if self.tasks.contains_key(&key) || launched_now.contains(task_id) {
            return Err(format!("Task has duplicate ID: {task_id}"));
        }
        if task.agent_id.value != agent_id {
            return Err(format!(
                "Task uses agent {} but the offers are for agent {agent_id}",
                task.agent_id.value
            ));
        }
        match (&task.command, &task.executor, in_group) {
            (Some(_), Some(_), _) => {
                return Err(
                    "Task should have at most one of CommandInfo or ExecutorInfo present"
                        .to_string(),
                )
            }
            (None, None, false) => {
                return Err(
                    "Task should have at least one of CommandInfo or ExecutorInfo present"
                        .to_string(),
                )
            }
            _ => {}
        }
        if let Some(executor) = &task.executor {
            corral_api::ids::validate_id("Executor", &executor.executor_id.value)
                .map_err(|e| e.to_string())?;
            if executor.command.is_none() && executor.container.is_none() {
                return Err("Executor must have a CommandInfo".to_string());
            }
            if let Some(f) = &executor.framework_id {
                if f.value != framework_id {
                    return Err("ExecutorInfo has an invalid FrameworkID".to_string());
                }
            }
        }
        validate_rlimit_info(task.container.as_ref())?;
        if let Some(executor) = &task.executor {
            validate_rlimit_info(executor.container.as_ref())?;
        }
        if let Some(check) = &task.health_check {
            corral_api::checks::validate_health_check(check)
                .map_err(|e| format!("Task's health check is invalid: {e}"))?;
        }
        if task.resources.is_empty() {
            return Err("Task uses no resources".to_string());
        }
        let resources = Resources::from_proto(&task.resources)
            .map_err(|e| format!("Task uses invalid resources: {e}"))?;
        Ok(resources.stripped())
    }

    /// Resources a not-yet-running executor needs (empty if it already runs on the agent).
    fn new_executor_resources(
        &self,
        framework_id: &str,
        agent_id: &str,
        executor: &v1::ExecutorInfo,
    ) -> Result<Resources, String> {
        let running = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(agent_id))
            .is_some_and(|e| e.contains_key(&executor.executor_id.value));
        if running {
            return Ok(Resources::default());
        }
        Resources::from_proto(&executor.resources)
            .map(|r| r.stripped())
            .map_err(|e| format!("Executor uses invalid resources: {e}"))
    }

    fn task_error(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task_id: &str,
        why: String,
        now: Time,
    ) {
        tracing::info!(framework_id, task_id, %why, "invalid task");
        let status = master_status(
            task_id,
            TaskState::TaskError,
            Reason::TaskInvalid,
            why,
            Some(agent_id),
            now,
        );
        self.send_master_update(framework_id, status);
    }

    fn add_executor(&mut self, framework_id: &str, agent_id: &str, executor: &v1::ExecutorInfo) {
        let id = executor.executor_id.value.clone();
        let Some(f) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let executors = f.executors.entry(agent_id.to_string()).or_default();
        if executors.contains_key(&id) {
            return;
        }
        let mut info = executor.clone();
        info.framework_id = Some(v1::FrameworkId {
            value: framework_id.to_string(),
        });
        executors.insert(id.clone(), info);
        let resources = Resources::from_proto(&executor.resources)
            .unwrap_or_default()
            .stripped();
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.used.add_all(&resources);
            agent.executors.insert((framework_id.to_string(), id));
        }
    }

    /// An executor exited or was removed: release what it held.
    pub(crate) fn remove_executor(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        executor_id: &str,
        now: Time,
    ) {
        let info = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(agent_id))
            .and_then(|e| e.remove(executor_id));
        let Some(info) = info else { return };
        let resources = Resources::from_proto(&info.resources)
            .unwrap_or_default()
            .stripped();
        if let Some(agent) = self.agents.get_mut(agent_id) {
            let _ = agent.used.subtract(&resources);
            agent
                .executors
                .remove(&(framework_id.to_string(), executor_id.to_string()));
        }
        let role = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.roles.first().cloned())
            .unwrap_or_else(|| "*".to_string());
        self.allocator
            .recover(framework_id, agent_id, &role, &resources, None, now);
        self.allocation_pending = true;
    }

    fn track_task(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        task: &v1::TaskInfo,
        resources: Resources,
    ) {
        let executor_id = task.executor.as_ref().map(|e| e.executor_id.clone());
        self.track_task_with_executor(
            framework_id,
            agent_id,
            role,
            task,
            resources,
            executor_id.as_ref(),
        );
    }

    fn track_task_with_executor(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        task: &v1::TaskInfo,
        resources: Resources,
        executor_id: Option<&v1::ExecutorId>,
    ) {
        let user = task
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .or_else(|| {
                self.frameworks
                    .get(framework_id)
                    .map(|f| f.info.user.clone())
            });
        let mut allocated = resources.clone();
        allocated.allocate(role);
        let record = TaskRecord {
            task: v1::Task {
                name: task.name.clone(),
                task_id: task.task_id.clone(),
                framework_id: v1::FrameworkId {
                    value: framework_id.to_string(),
                },
                executor_id: executor_id.cloned(),
                agent_id: v1::AgentId {
                    value: agent_id.to_string(),
                },
                state: TaskState::TaskStaging as i32,
                resources: allocated.to_proto(),
                labels: task.labels.clone(),
                discovery: task.discovery.clone(),
                container: task.container.clone(),
                health_check: task.health_check.clone(),
                kill_policy: task.kill_policy,
                user,
                limits: task.limits.clone(),
                ..Default::default()
            },
            resources,
            role: role.to_string(),
            terminal: false,
        };
        self.add_task(record);
    }

    /// The FrameworkInfo agents get (id always set).
    pub(crate) fn framework_info_for_agent(&self, framework_id: &str) -> v1::FrameworkInfo {
        self.frameworks
            .get(framework_id)
            .map(|f| f.info.clone())
            .unwrap_or_else(|| v1::FrameworkInfo {
                id: Some(v1::FrameworkId {
                    value: framework_id.to_string(),
                }),
                ..Default::default()
            })
    }
}

/// Every TaskInfo an ACCEPT would launch, for error reporting.
/// Checks a container's `rlimit_info` like the agent's `posix/rlimits` isolator would: a known
/// type, soft and hard set together (both unset is unlimited), `soft <= hard`, and no type
/// twice.
fn validate_rlimit_info(container: Option<&v1::ContainerInfo>) -> Result<(), String> {
    use v1::r_limit_info::r_limit::Type;
    let Some(info) = container.and_then(|c| c.rlimit_info.as_ref()) else {
        return Ok(());
    };
    let mut seen = BTreeSet::new();
    for limit in &info.rlimits {
        let kind = limit.r#type();
        if kind == Type::Unknown {
            return Err(format!("Invalid rlimit: unknown type {:?}", limit.r#type));
        }
        let name = kind.as_str_name();
        match (limit.soft, limit.hard) {
            (Some(soft), Some(hard)) if soft > hard => {
                return Err(format!(
                    "Invalid rlimit {name}: soft limit {soft} is greater than hard limit {hard}"
                ))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(format!(
                    "Invalid rlimit {name}: soft and hard limits must be set together \
                     (both unset means unlimited)"
                ))
            }
            _ => {}
        }
        if !seen.insert(name) {
            return Err(format!("Invalid rlimit {name}: set more than once"));
        }
    }
    Ok(())
}

fn launched_tasks(operations: &[v1::offer::Operation]) -> Vec<v1::TaskInfo> {
    let mut out = Vec::new();
    for op in operations {
        if let Some(l) = &op.launch {
            out.extend(l.task_infos.iter().cloned());
        }
        if let Some(g) = &op.launch_group {
            out.extend(g.task_group.tasks.iter().cloned());
        }
    }
    out
}
