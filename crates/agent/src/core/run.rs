//! Launching: RUN_TASK and RUN_TASK_GROUP, starting executors, delivering tasks to them.

use corral_api::ids::validate_id;
use corral_api::v1::{self, executor::event, task_status::Reason, TaskState};

use super::state::{Executor, ExecutorKind, ExecutorState, Framework, Pending};
use super::{AgentCore, Effect};
use crate::launch::{
    command_executor_info, container_limits, executor_command, executor_env, executor_user,
    sandbox_dir, LaunchRequest,
};
use crate::meta::MetaWrite;
use crate::volumes::{MountError, VolumeMount};

/// The executor id recorded in an executor's tasks (none for the command executor).
fn task_executor_id(executor: &Executor) -> Option<&str> {
    (executor.kind != ExecutorKind::Command).then(|| executor.id())
}

impl AgentCore {
    /// RUN_TASK: a command task (built-in command executor) or a task for a custom executor.
    pub fn run_task(
        &mut self,
        framework: v1::FrameworkInfo,
        executor: Option<v1::ExecutorInfo>,
        task: v1::TaskInfo,
        now: f64,
    ) {
        let Some(framework_id) = self.checked_framework_id(&framework) else {
            return;
        };
        let task_id = task.task_id.value.clone();
        let _span = tracing::info_span!("run_task", framework_id, task_id).entered();
        let executor = executor.or_else(|| task.executor.clone());
        let (kind, info) = match executor {
            Some(mut info) => {
                info.framework_id.get_or_insert_with(|| v1::FrameworkId {
                    value: framework_id.clone(),
                });
                (ExecutorKind::Custom, info)
            }
            None if task.command.is_some() => {
                let binary = &self.config.launch.executor_binary;
                (
                    ExecutorKind::Command,
                    command_executor_info(&task, &framework_id, binary),
                )
            }
            None => {
                let reason = "Task has neither 'command' nor 'executor'".to_string();
                return self.refuse(&framework, &[task], reason, now);
            }
        };
        self.launch(framework, kind, info, Pending::Task(Box::new(task)), now);
    }

    /// RUN_TASK_GROUP: tasks launched together on a (default) executor.
    pub fn run_task_group(
        &mut self,
        framework: v1::FrameworkInfo,
        mut executor: v1::ExecutorInfo,
        group: v1::TaskGroupInfo,
        now: f64,
    ) {
        let Some(framework_id) = self.checked_framework_id(&framework) else {
            return;
        };
        let _span = tracing::info_span!("run_task_group", framework_id, executor_id = %executor.executor_id.value).entered();
        if group.tasks.is_empty() {
            tracing::warn!("ignoring an empty task group");
            return;
        }
        executor.framework_id.get_or_insert(v1::FrameworkId {
            value: framework_id,
        });
        use v1::executor_info::Type;
        let kind = if executor.r#type == Some(Type::Custom as i32) && executor.command.is_some() {
            ExecutorKind::Custom
        } else {
            ExecutorKind::Default
        };
        self.launch(framework, kind, executor, Pending::Group(group), now);
    }

    fn checked_framework_id(&self, framework: &v1::FrameworkInfo) -> Option<String> {
        let id = framework.id.as_ref().map(|id| id.value.clone());
        match id {
            Some(id) if validate_id("Framework", &id).is_ok() => Some(id),
            _ => {
                tracing::warn!(?id, "ignoring a launch without a valid framework id");
                None
            }
        }
    }

    /// TASK_ERROR for tasks the agent refuses to launch.
    fn refuse(
        &mut self,
        framework: &v1::FrameworkInfo,
        tasks: &[v1::TaskInfo],
        reason: String,
        now: f64,
    ) {
        let framework_id = framework
            .id
            .as_ref()
            .map_or("", |id| id.value.as_str())
            .to_string();
        for task in tasks {
            let message = format!("Task '{}' is invalid: {reason}", task.task_id.value);
            self.agent_update(
                &framework_id,
                None,
                &task.task_id.value,
                TaskState::TaskError,
                Reason::TaskInvalid,
                message,
                now,
            );
        }
    }

    fn launch(
        &mut self,
        framework_info: v1::FrameworkInfo,
        kind: ExecutorKind,
        info: v1::ExecutorInfo,
        pending: Pending,
        now: f64,
    ) {
        self.generation += 1;
        let framework_id = framework_info
            .id
            .as_ref()
            .map_or(String::new(), |id| id.value.clone());
        let executor_id = info.executor_id.value.clone();
        let invalid = validate_id("Executor", &executor_id).err().or_else(|| {
            pending
                .tasks()
                .iter()
                .find_map(|t| validate_id("Task", &t.task_id.value).err())
        });
        if let Some(error) = invalid {
            return self.refuse(&framework_info, pending.tasks(), error.to_string(), now);
        }
        if let Some(framework) = self.frameworks.get(&framework_id) {
            if framework.terminating {
                tracing::warn!(
                    framework_id,
                    "ignoring a launch for a framework that is being shut down"
                );
                return;
            }
            if let Some(t) = pending
                .tasks()
                .iter()
                .find(|t| framework.task_index.contains_key(&t.task_id.value))
            {
                tracing::warn!(framework_id, task_id = %t.task_id.value, "ignoring a launch of a task id that is already in use");
                return;
            }
        }
        let mounts = match self.pending_mounts(&framework_id, &info, &pending) {
            Ok(mounts) => mounts,
            Err(MountError::Unknown(message)) => {
                // Mesos: the CHECKPOINT_RESOURCES may still come; retrying may succeed.
                let aware = Framework::new(framework_info.clone()).partition_aware();
                let state = if aware {
                    TaskState::TaskDropped
                } else {
                    TaskState::TaskLost
                };
                let reason = Reason::ResourcesUnknown;
                return self.fail_launch(&framework_id, &pending, state, reason, &message, now);
            }
            Err(MountError::Invalid(message)) => {
                let (state, reason) = (TaskState::TaskFailed, Reason::ContainerLaunchFailed);
                let message = format!("Failed to launch container: {message}");
                return self.fail_launch(&framework_id, &pending, state, reason, &message, now);
            }
        };
        let framework = self
            .frameworks
            .entry(framework_id.clone())
            .or_insert_with(|| Framework::new(framework_info.clone()));
        framework.info = framework_info.clone();
        for task in pending.tasks() {
            framework
                .task_index
                .insert(task.task_id.value.clone(), executor_id.clone());
        }
        if framework.executors.contains_key(&executor_id) {
            self.persist_tasks(&framework_info, &executor_id, &pending);
        }
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            return;
        };
        if let Some(executor) = framework.executors.get_mut(&executor_id) {
            let user = executor_user(&self.config.launch, &framework_info, &executor.info);
            let attach = attach_volumes(executor, &framework_id, user, mounts);
            match executor.state {
                ExecutorState::Terminating | ExecutorState::Terminated => {
                    let task_ids: Vec<String> = pending
                        .tasks()
                        .iter()
                        .map(|t| t.task_id.value.clone())
                        .collect();
                    executor.queued.push(pending);
                    let state = self.lost_state(&framework_id);
                    for task_id in task_ids {
                        let message = "Executor is terminating".to_string();
                        self.agent_update(
                            &framework_id,
                            Some(&executor_id),
                            &task_id,
                            state,
                            Reason::ExecutorTerminated,
                            message,
                            now,
                        );
                    }
                }
                ExecutorState::Running if executor.connection.is_some() => {
                    let effect = deliver(executor, &framework_id, pending);
                    self.effects.extend(attach);
                    // Grown before the executor hears of the task.
                    self.resize(&framework_id, &executor_id);
                    self.emit(effect);
                }
                _ => {
                    executor.queued.push(pending);
                    self.effects.extend(attach);
                }
            }
            return;
        }
        self.start_executor(framework_info, kind, info, pending, mounts, now);
    }

    /// Checkpoints the framework's info and `pending`'s tasks for an existing executor run.
    fn persist_tasks(
        &mut self,
        framework_info: &v1::FrameworkInfo,
        executor_id: &str,
        pending: &Pending,
    ) {
        let framework_id = framework_info
            .id
            .as_ref()
            .map_or("", |id| id.value.as_str());
        let Some(run) = self.run_path(framework_id, executor_id) else {
            return;
        };
        let executor_kind = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .map(|e| e.kind);
        let task_executor = (executor_kind != Some(ExecutorKind::Command)).then_some(executor_id);
        self.emit(Effect::Persist(MetaWrite::Framework {
            agent_id: run.agent_id.clone(),
            info: framework_info.clone(),
        }));
        for info in pending.tasks() {
            let task = super::state::new_task(info, framework_id, task_executor);
            self.emit(Effect::Persist(MetaWrite::Task {
                run: run.clone(),
                task,
            }));
        }
    }

    /// The volumes `pending` needs exposed: its tasks', plus the executor's own when the
    /// executor is new.
    fn pending_mounts(
        &self,
        framework_id: &str,
        info: &v1::ExecutorInfo,
        pending: &Pending,
    ) -> Result<Vec<VolumeMount>, MountError> {
        let exists = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.executors.contains_key(&info.executor_id.value));
        let own = (!exists).then_some(info.resources.as_slice());
        let tasks = pending.tasks();
        let has_image = has_image(info.container.as_ref())
            || tasks.iter().any(|t| has_image(t.container.as_ref()));
        let resources = own
            .into_iter()
            .flatten()
            .chain(tasks.iter().flat_map(|t| &t.resources));
        self.launch_mounts(resources, has_image)
    }

    /// Updates for tasks the agent will not launch (they are recorded nowhere).
    fn fail_launch(
        &mut self,
        framework_id: &str,
        pending: &Pending,
        state: TaskState,
        reason: Reason,
        message: &str,
        now: f64,
    ) {
        for task in pending.tasks() {
            let task_id = &task.task_id.value;
            let message = message.to_string();
            self.agent_update(framework_id, None, task_id, state, reason, message, now);
        }
    }

    /// Creates an executor for `pending` and asks the runtime to launch its container.
    fn start_executor(
        &mut self,
        framework_info: v1::FrameworkInfo,
        kind: ExecutorKind,
        info: v1::ExecutorInfo,
        pending: Pending,
        volumes: Vec<VolumeMount>,
        now: f64,
    ) {
        let framework_id = framework_info
            .id
            .as_ref()
            .map_or(String::new(), |id| id.value.clone());
        let executor_id = info.executor_id.value.clone();
        let container_id = uuid::Uuid::new_v4().to_string();
        let agent_id = self.agent_id.clone().unwrap_or_default();
        let launch = &self.config.launch;
        let directory = sandbox_dir(
            &launch.work_dir,
            &agent_id,
            &framework_id,
            &executor_id,
            &container_id,
        );
        let command = crate::docker::check_launch(launch.docker.containerizers, kind, &info)
            .and_then(|()| executor_command(kind, &info, &launch.executor_binary));
        let mut env = executor_env(launch, &agent_id, &framework_info, &info, &directory);
        if framework_info.checkpoint.unwrap_or(false) {
            for (name, value) in self.config.recovery_env() {
                match env.iter_mut().find(|(n, _)| *n == name) {
                    Some(entry) => entry.1 = value,
                    None => env.push((name, value)),
                }
            }
        }
        let user = executor_user(launch, &framework_info, &info);
        let limits = container_limits(kind, &info, pending.tasks(), launch.pids_limit);
        let fetch = crate::launch::fetch_plan(kind, &info, launch);
        // Image-based containers and GPUs (`crate::image`).
        let image = crate::image::container_image(kind, &info, pending.tasks());
        let gpus = crate::image::container_gpus(&info, pending.tasks());
        let rlimits = crate::launch::container_rlimits(kind, &info, pending.tasks());
        tracing::info!(framework_id, executor_id, container_id, kind = ?kind, ?limits, "launching executor");
        let executor = Executor {
            info,
            kind,
            container_id: container_id.clone(),
            directory: directory.clone(),
            state: ExecutorState::Launching,
            connection: None,
            pid: None,
            queued: vec![pending],
            tasks: Default::default(),
            completed_tasks: Default::default(),
            ending: None,
            exit: None,
            limits: Some(limits),
        };
        let task_records: Vec<v1::Task> = executor
            .queued_tasks()
            .map(|t| super::state::new_task(t, &framework_id, task_executor_id(&executor)))
            .collect();
        let (executor_info, kind) = (executor.info.clone(), executor.kind);
        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            framework.executors.insert(executor_id.clone(), executor);
        }
        // Checkpointed before the container exists, so a restarted agent knows the run.
        if let Some(run) = self.run_path(&framework_id, &executor_id) {
            self.emit(Effect::Persist(MetaWrite::Framework {
                agent_id: run.agent_id.clone(),
                info: framework_info.clone(),
            }));
            self.emit(Effect::Persist(MetaWrite::Run {
                run: run.clone(),
                info: executor_info,
                kind,
                directory: directory.clone(),
            }));
            for task in task_records {
                self.emit(Effect::Persist(MetaWrite::Task {
                    run: run.clone(),
                    task,
                }));
            }
        }
        let command = command
            .and_then(|command| image.map(|image| (command, image)))
            .and_then(|(command, image)| rlimits.map(|rlimits| (command, image, rlimits)));
        match command {
            Ok((command, image, rlimits)) => self.emit(Effect::Launch(Box::new(LaunchRequest {
                framework_id,
                executor_id,
                container_id,
                directory,
                command,
                env,
                user,
                volumes,
                limits,
                image,
                gpus,
                rlimits,
                fetch,
            }))),
            Err(error) => self.container_launch_failed(
                &framework_id,
                &executor_id,
                &container_id,
                &error,
                now,
            ),
        }
    }
}

/// The effect exposing `volumes` in an existing executor's sandbox, if there are any.
fn attach_volumes(
    executor: &Executor,
    framework_id: &str,
    user: Option<String>,
    volumes: Vec<VolumeMount>,
) -> Option<Effect> {
    (!volumes.is_empty()).then(|| Effect::AttachVolumes {
        framework_id: framework_id.to_string(),
        executor_id: executor.id().to_string(),
        container_id: executor.container_id.clone(),
        directory: executor.directory.clone(),
        user,
        volumes,
    })
}

fn has_image(container: Option<&v1::ContainerInfo>) -> bool {
    container
        .and_then(|c| c.mesos.as_ref())
        .is_some_and(|m| m.image.is_some())
}

/// Records `pending` as delivered and builds its LAUNCH / LAUNCH_GROUP event.
pub(super) fn deliver(executor: &mut Executor, framework_id: &str, pending: Pending) -> Effect {
    let executor_id = executor.id().to_string();
    let task_executor_id = (executor.kind != ExecutorKind::Command).then_some(executor_id.as_str());
    for info in pending.tasks() {
        let task = super::state::new_task(info, framework_id, task_executor_id);
        executor.tasks.insert(info.task_id.value.clone(), task);
    }
    let event = match pending {
        Pending::Task(task) => v1::executor::Event {
            r#type: Some(event::Type::Launch as i32),
            launch: Some(event::Launch { task: *task }),
            ..Default::default()
        },
        Pending::Group(task_group) => v1::executor::Event {
            r#type: Some(event::Type::LaunchGroup as i32),
            launch_group: Some(event::LaunchGroup { task_group }),
            ..Default::default()
        },
    };
    Effect::ToExecutor {
        framework_id: framework_id.to_string(),
        executor_id,
        event,
    }
}
