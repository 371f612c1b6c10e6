//! The executor API (`POST /api/v1/executor`, `reference/mesos-v1-api.md` §2): SUBSCRIBE,
//! UPDATE, MESSAGE and HEARTBEAT, validated as Mesos does.

use corral_api::internal::AgentCall;
use corral_api::v1::executor::{call, event, Call, Event};
use corral_api::v1::{self, task_status::Source, TaskState};
use corral_containerizer::LimitationKind;

use super::lifecycle::{limitation_reason, task_limitation};
use super::run::deliver;
use super::state::ExecutorState;
use super::{container_status, materialize_queued, AgentCore, Effect};
use crate::error::CallError;
use crate::status_updates::Accepted;

/// What a successful executor call produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// SUBSCRIBE: the runtime opens a stream with this connection id (before running effects).
    Subscribed(u64),
    /// Any other call: 202.
    Accepted,
}

/// A container limitation: which limit, and the isolator's message.
pub type ContainerLimitation = (LimitationKind, String);

impl AgentCore {
    /// An executor API call.
    pub fn executor_call(&mut self, call: Call, now: f64) -> Result<CallOutcome, CallError> {
        self.executor_call_at_limit(call, None, now)
    }

    /// The container of the executor making `call`, if the call reports a TASK_FAILED: the
    /// runtime then asks the isolators whether that container is at a limit (the OOM killer's
    /// victim is usually reported by its executor before the isolator's watcher notices).
    pub fn failed_task_container(&self, call: &Call) -> Option<&str> {
        let update = call.update.as_ref()?;
        if call.r#type != Some(call::Type::Update as i32)
            || update.status.state() != TaskState::TaskFailed
        {
            return None;
        }
        let executor = self
            .frameworks
            .get(&call.framework_id.value)?
            .executors
            .get(&call.executor_id.value)?;
        (executor.state != ExecutorState::Terminated).then_some(executor.container_id.as_str())
    }

    /// [`executor_call`](Self::executor_call) from an executor whose container is at
    /// `limitation`: a TASK_FAILED it reports becomes the limitation's, as the agent reports it
    /// when the container is killed for it (reason `REASON_CONTAINER_LIMITATION_*`, the
    /// isolator's message, `SOURCE_AGENT`, `limitation.resources`). Other updates are kept.
    pub fn executor_call_at_limit(
        &mut self,
        call: Call,
        limitation: Option<ContainerLimitation>,
        now: f64,
    ) -> Result<CallOutcome, CallError> {
        let framework_id = call.framework_id.value.clone();
        let executor_id = call.executor_id.value.clone();
        let _span = tracing::debug_span!("executor_call", framework_id, executor_id).entered();
        let kind = call
            .r#type
            .and_then(|t| call::Type::try_from(t).ok())
            .ok_or_else(|| CallError::Invalid("Expecting 'type' to be present".into()))?;
        let executor = self
            .frameworks
            .get(&framework_id)
            .ok_or_else(|| CallError::Invalid("Framework cannot be found".into()))?
            .executors
            .get(&executor_id)
            .ok_or_else(|| CallError::Invalid("Executor cannot be found".into()))?;
        let subscribed = !matches!(
            executor.state,
            ExecutorState::Launching | ExecutorState::Registering
        );
        if kind != call::Type::Subscribe && kind != call::Type::Unknown && !subscribed {
            return Err(CallError::NotSubscribed(
                "Executor is not subscribed".into(),
            ));
        }
        match kind {
            call::Type::Unknown => Err(CallError::NotImplemented("Received 'UNKNOWN' call".into())),
            call::Type::Subscribe => {
                let subscribe = call.subscribe.ok_or_else(|| {
                    CallError::Invalid("Expecting 'subscribe' to be present".into())
                })?;
                self.subscribe(&framework_id, &executor_id, subscribe, now)
                    .map(CallOutcome::Subscribed)
            }
            call::Type::Update => {
                let update = call
                    .update
                    .ok_or_else(|| CallError::Invalid("Expecting 'update' to be present".into()))?;
                let result = self.update(
                    &framework_id,
                    &executor_id,
                    update.status,
                    limitation.as_ref(),
                    now,
                );
                match &result {
                    Ok(()) => self.counters.valid_status_updates += 1,
                    Err(_) => self.counters.invalid_status_updates += 1,
                }
                result.map(|()| CallOutcome::Accepted)
            }
            call::Type::Message => {
                let message = call.message.ok_or_else(|| {
                    CallError::Invalid("Expecting 'message' to be present".into())
                })?;
                self.emit(Effect::ToMaster(AgentCall::ExecutorMessage {
                    framework_id: call.framework_id,
                    executor_id: call.executor_id,
                    data: message.data,
                }));
                Ok(CallOutcome::Accepted)
            }
            call::Type::Heartbeat => Ok(CallOutcome::Accepted),
        }
    }

    fn subscribe(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        subscribe: call::Subscribe,
        now: f64,
    ) -> Result<u64, CallError> {
        self.generation += 1;
        let agent_info = self.agent_info();
        self.next_connection += 1;
        let connection = self.next_connection;
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .ok_or_else(|| CallError::Invalid("Framework cannot be found".into()))?;
        let framework_info = framework.info.clone();
        let executor = framework
            .executors
            .get_mut(executor_id)
            .ok_or_else(|| CallError::Invalid("Executor cannot be found".into()))?;
        if matches!(
            executor.state,
            ExecutorState::Terminating | ExecutorState::Terminated
        ) {
            return Err(CallError::Invalid("Executor is terminating".into()));
        }
        tracing::info!(
            framework_id,
            executor_id,
            resubscribe = executor.connection.is_some(),
            "executor subscribed"
        );
        executor.state = ExecutorState::Running;
        executor.connection = Some(connection);
        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                executor_info: executor.info.clone(),
                framework_info,
                agent_info,
                container_id: Some(v1::ContainerId {
                    value: executor.container_id.clone(),
                    parent: None,
                }),
            }),
            ..Default::default()
        };
        // Tasks the executor already has are no longer queued.
        for task in &subscribe.unacknowledged_tasks {
            materialize_queued(executor, framework_id, &task.task_id.value);
        }
        self.emit(Effect::ToExecutor {
            framework_id: framework_id.to_string(),
            executor_id: executor_id.to_string(),
            event: subscribed,
        });
        // Updates the executor sent but never saw acknowledged: take custody now (duplicates
        // of updates already held are ignored, and acknowledged again).
        for update in subscribe.unacknowledged_updates {
            if let Err(error) = self.update(framework_id, executor_id, update.status, None, now) {
                tracing::warn!(%error, "ignoring an invalid unacknowledged update");
            }
        }
        self.resubscribed(
            framework_id,
            executor_id,
            &subscribe.unacknowledged_tasks,
            now,
        );
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return Ok(connection);
        };
        let queued = std::mem::take(&mut executor.queued);
        let mut launches = Vec::with_capacity(queued.len());
        for pending in queued {
            launches.push(deliver(executor, framework_id, pending));
        }
        self.resize(framework_id, executor_id);
        self.effects.extend(launches);
        Ok(connection)
    }

    /// UPDATE: validate, fill in, take custody, acknowledge to the executor. A TASK_FAILED
    /// while the container is at `limitation` is reported as that limitation.
    fn update(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        mut status: v1::TaskStatus,
        limitation: Option<&ContainerLimitation>,
        now: f64,
    ) -> Result<(), CallError> {
        let uuid = status
            .uuid
            .clone()
            .ok_or_else(|| CallError::Invalid("Expecting 'uuid' to be present".into()))?;
        if uuid::Uuid::from_slice(&uuid).is_err() {
            return Err(CallError::Invalid(format!(
                "Invalid status update uuid: expected 16 bytes, got {}",
                uuid.len()
            )));
        }
        match status.source.map(Source::try_from) {
            None => status.source = Some(Source::Executor as i32),
            Some(Ok(Source::Executor)) => {}
            Some(_) => {
                return Err(CallError::Invalid(
                    "Received Call from executor with invalid status source (expecting SOURCE_EXECUTOR)".into(),
                ))
            }
        }
        if status.state() == TaskState::TaskStaging {
            return Err(CallError::Invalid(
                "Received TASK_STAGING from executor".into(),
            ));
        }
        if let Some(id) = &status.executor_id {
            if id.value != executor_id {
                return Err(CallError::Invalid(format!(
                    "ExecutorID in Call: '{executor_id}' does not match ExecutorID in TaskStatus: '{}'",
                    id.value
                )));
            }
        }
        let task_id = status.task_id.value.clone();
        let Some(executor) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
        else {
            return Err(CallError::Invalid("Executor cannot be found".into()));
        };
        status.agent_id = self.agent_id.clone().map(|value| v1::AgentId { value });
        status.executor_id = Some(v1::ExecutorId {
            value: executor_id.to_string(),
        });
        status.timestamp.get_or_insert(now);
        if status.container_status.is_none() {
            status.container_status = Some(container_status(executor));
        }
        if let Some((kind, message)) =
            limitation.filter(|_| status.state() == TaskState::TaskFailed)
        {
            tracing::warn!(
                framework_id,
                executor_id,
                task_id = %status.task_id.value,
                limitation = ?kind,
                "the executor reports a failed task while its container is at a limit; reporting the limitation"
            );
            status.reason = Some(limitation_reason(*kind) as i32);
            status.message = Some(message.clone());
            status.source = Some(Source::Agent as i32);
            status.limitation = task_limitation(*kind, message, executor);
        }
        let already_completed = executor
            .completed_tasks
            .iter()
            .any(|t| t.task_id.value == task_id);
        let known = executor.tasks.contains_key(&task_id)
            || executor.queued_tasks().any(|t| t.task_id.value == task_id);
        let _span = tracing::debug_span!(
            "status_update",
            task_id,
            state = status.state().as_str_name()
        )
        .entered();
        if already_completed {
            tracing::warn!("ignoring an update for a task whose terminal update was acknowledged");
        } else {
            if !known {
                tracing::warn!("forwarding an update for a task this executor does not have");
            }
            if self.handle_update(framework_id, status) == Accepted::Duplicate {
                tracing::debug!("ignoring a duplicate status update");
            }
            self.resize(framework_id, executor_id);
        }
        self.emit(Effect::ToExecutor {
            framework_id: framework_id.to_string(),
            executor_id: executor_id.to_string(),
            event: Event {
                r#type: Some(event::Type::Acknowledged as i32),
                acknowledged: Some(event::Acknowledged {
                    task_id: v1::TaskId { value: task_id },
                    uuid,
                }),
                ..Default::default()
            },
        });
        Ok(())
    }

    /// An executor's subscription stream closed (it may subscribe again).
    pub fn executor_disconnected(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        connection: u64,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor.connection == Some(connection) {
            self.generation += 1;
            tracing::info!(framework_id, executor_id, "executor disconnected");
            executor.connection = None;
        }
    }
}
