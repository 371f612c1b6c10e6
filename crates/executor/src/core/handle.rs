//! [`Executor::handle`]: inputs to effects.

use super::*;

impl Executor {
    /// A fresh executor, not yet subscribed.
    pub fn new(config: Config) -> Executor {
        let identity = Identity {
            executor_id: config.executor_id.clone(),
            executor_pid: config.executor_pid,
            ..Identity::default()
        };
        Executor {
            config,
            identity,
            tasks: Vec::new(),
            groups: 0,
            pending: Vec::new(),
            connected: false,
            subscribed_once: false,
            killing_state: false,
            shutdown: None,
            ack_wait_armed: false,
            exited: false,
            now: SystemTime::UNIX_EPOCH,
            out: Vec::new(),
        }
    }

    /// Applies `input` at time `now` and returns what to do.
    pub fn handle(&mut self, now: SystemTime, input: Input) -> Vec<Effect> {
        self.now = now;
        if !self.exited {
            match input {
                Input::Event(event) => self.on_event(*event),
                Input::Spawned { task_id, pid } => self.on_spawned(&task_id, pid),
                Input::SpawnFailed { task_id, message } => self.on_spawn_failed(&task_id, message),
                Input::FetchFailed { task_id, message } => self.on_fetch_failed(&task_id, message),
                Input::Health { task_id, update } => self.on_health(&task_id, update),
                Input::Exited { task_id, status } => self.on_exited(&task_id, status),
                Input::Timer(timer) => self.on_timer(timer),
                Input::Disconnected => self.on_disconnected(),
                Input::RecoveryTimedOut => self.begin_shutdown(Shutdown::AgentLost),
                Input::Terminate => self.begin_shutdown(Shutdown::Requested),
            }
            self.maybe_finish();
        }
        std::mem::take(&mut self.out)
    }

    /// What to report on re-subscription: tasks with no acknowledged update yet, and the
    /// updates not acknowledged, oldest first.
    pub fn unacknowledged(&self) -> (Vec<TaskInfo>, Vec<TaskStatus>) {
        let tasks = self
            .tasks
            .iter()
            .filter(|t| !t.acknowledged)
            .map(|t| t.info.clone())
            .collect();
        (tasks, self.pending.clone())
    }

    /// The tasks, in launch order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Whether the agent subscription is up.
    pub fn connected(&self) -> bool {
        self.connected
    }

    /// Whether the executor has ever been subscribed.
    pub fn subscribed_once(&self) -> bool {
        self.subscribed_once
    }

    fn on_event(&mut self, event: Event) {
        match event.r#type() {
            EventType::Subscribed => {
                if let Some(subscribed) = event.subscribed {
                    self.on_subscribed(subscribed);
                }
            }
            EventType::Launch => {
                if let Some(launch) = event.launch {
                    self.on_launch(vec![launch.task], false);
                }
            }
            EventType::LaunchGroup => {
                if let Some(group) = event.launch_group {
                    self.on_launch(group.task_group.tasks, true);
                }
            }
            EventType::Kill => {
                if let Some(kill) = event.kill {
                    self.on_kill(&kill.task_id, grace_of(kill.kill_policy.as_ref()));
                }
            }
            EventType::Acknowledged => {
                if let Some(ack) = event.acknowledged {
                    self.on_acknowledged(&ack.task_id, &ack.uuid);
                }
            }
            EventType::Shutdown => self.begin_shutdown(Shutdown::Requested),
            EventType::Message => {
                tracing::info!("framework message received (ignored by this executor)")
            }
            EventType::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                tracing::warn!(%message, "error event from the agent");
            }
            EventType::Heartbeat | EventType::Unknown => {}
        }
    }

    fn on_subscribed(&mut self, subscribed: event::Subscribed) {
        self.connected = true;
        self.subscribed_once = true;
        self.ack_wait_armed = false;
        self.identity.agent_id = subscribed.agent_info.id.clone();
        self.identity.container_id = subscribed.container_id.clone();
        self.killing_state = subscribed
            .framework_info
            .capabilities
            .iter()
            .any(|c| c.r#type() == Capability::TaskKillingState);
    }

    fn on_launch(&mut self, infos: Vec<TaskInfo>, as_group: bool) {
        let group = self.groups;
        self.groups += 1;
        let refusal = match (self.config.mode, as_group) {
            _ if self.shutdown.is_some() => Some("The executor is shutting down"),
            (Mode::Command, true) => Some("The command executor does not run task groups"),
            (Mode::Default, false) => {
                Some("The default executor only runs task groups (LAUNCH_GROUP)")
            }
            (Mode::Command, false) if !self.tasks.is_empty() => {
                Some("Attempted to run multiple tasks using a \"command\" executor")
            }
            _ => None,
        };
        for info in infos {
            if self.find(&info.task_id).is_some() {
                tracing::warn!(task_id = %info.task_id.value, "ignoring a second launch of a known task");
                continue;
            }
            // A DOCKER task may leave the command to its image (`shell: false`, no value).
            let no_command = !crate::docker::is_docker(&info)
                && info
                    .command
                    .as_ref()
                    .and_then(|c| c.value.as_deref())
                    .is_none_or(str::is_empty);
            let bad_health = info
                .health_check
                .as_ref()
                .and_then(|check| crate::health::validate(check).err())
                .map(|why| format!("Invalid health check: {why}"));
            let task_id = info.task_id.clone();
            let mut task = Task::new(info, group);
            let refused = refusal
                .map(str::to_string)
                .or(no_command.then(|| "The task has no command to run".to_string()))
                .or(bad_health);
            if let Some(message) = refused {
                task.phase = Phase::Terminal(TaskState::TaskFailed);
                self.tasks.push(task);
                self.report(
                    &task_id,
                    Report::state(TaskState::TaskFailed).message(message),
                );
                continue;
            }
            let spawn = task.info.clone();
            self.tasks.push(task);
            self.report(&task_id, Report::state(TaskState::TaskStarting));
            self.out.push(Effect::Spawn(Box::new(spawn)));
        }
    }

    fn on_spawned(&mut self, task_id: &TaskId, pid: u32) {
        let Some(index) = self.find(task_id) else {
            return;
        };
        let task = &mut self.tasks[index];
        if task.phase != Phase::Launching {
            return;
        }
        task.phase = Phase::Running { pid };
        if task.killing.is_some() {
            // Killed before it started: go straight to SIGTERM, no TASK_RUNNING.
            self.signal_term(index);
            return;
        }
        let deadline = task
            .info
            .max_completion_time
            .as_ref()
            .map(|d| d.nanoseconds);
        let checked = task
            .info
            .health_check
            .is_some()
            .then(|| Box::new(task.info.clone()));
        self.report(
            task_id,
            Report {
                with_container: true,
                ..Report::state(TaskState::TaskRunning)
            },
        );
        if let Some(nanos) = deadline {
            self.out.push(Effect::Schedule {
                timer: Timer::MaxCompletion(task_id.clone()),
                after: Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)),
            });
        }
        if let Some(info) = checked {
            self.out.push(Effect::StartHealthCheck(info));
        }
    }

    fn on_fetch_failed(&mut self, task_id: &TaskId, message: String) {
        let Some(index) = self.find(task_id) else {
            return;
        };
        if self.tasks[index].is_terminal() {
            return;
        }
        let report = Report::state(TaskState::TaskFailed)
            .message(message)
            .reason(Reason::ContainerLaunchFailed);
        self.finish_task(index, report);
    }

    /// A health verdict: `TASK_RUNNING` with `healthy` (and the container status, like the
    /// task's running update), then the kill when the checker asks for it. Ignored once the
    /// task is being killed.
    fn on_health(&mut self, task_id: &TaskId, update: crate::health::HealthUpdate) {
        let Some(index) = self.find(task_id) else {
            return;
        };
        let task = &self.tasks[index];
        if task.is_terminal() || task.killing.is_some() || task.pid().is_none() {
            return;
        }
        tracing::info!(task_id = %task_id.value, healthy = update.healthy, failures = update.consecutive_failures, kill = update.kill, "task health changed");
        self.report(
            task_id,
            Report {
                with_container: true,
                healthy: Some(update.healthy),
                ..Report::state(TaskState::TaskRunning)
            }
            .reason(Reason::TaskHealthCheckStatusUpdated),
        );
        if update.kill {
            self.tasks[index].killed_by_health = true;
            let grace = self.tasks[index].own_grace();
            self.kill(index, grace, None);
        }
    }

    fn on_spawn_failed(&mut self, task_id: &TaskId, message: String) {
        let Some(index) = self.find(task_id) else {
            return;
        };
        if self.tasks[index].is_terminal() {
            return;
        }
        let report = Report::state(TaskState::TaskFailed)
            .message(format!("Failed to launch the command: {message}"))
            .reason(Reason::CommandExecutorFailed);
        self.finish_task(index, report);
    }

    fn on_exited(&mut self, task_id: &TaskId, status: ExitStatus) {
        let Some(index) = self.find(task_id) else {
            return;
        };
        if self.tasks[index].is_terminal() {
            return;
        }
        let message = exit_message(status);
        let report = match &self.tasks[index].killing {
            Some(Killing {
                reason: Some(reason),
                ..
            }) => Report::state(TaskState::TaskFailed)
                .message(message)
                .reason(*reason),
            Some(_) if self.tasks[index].killed_by_health => Report {
                healthy: Some(false),
                ..Report::state(TaskState::TaskKilled).message(message)
            },
            Some(_) => Report::state(TaskState::TaskKilled).message(message),
            None if status.success() => Report::state(TaskState::TaskFinished).message(message),
            None => Report::state(TaskState::TaskFailed).message(message),
        };
        self.finish_task(index, report);
    }

    /// Sends the terminal update; in the default executor a failed or killed task takes its
    /// group down with it.
    fn finish_task(&mut self, index: usize, report: Report) {
        let state = report.state;
        let task_id = self.tasks[index].id().clone();
        self.tasks[index].phase = Phase::Terminal(state);
        if self.tasks[index].info.health_check.is_some() {
            self.out.push(Effect::StopHealthCheck(task_id.clone()));
        }
        self.report(&task_id, report);
        if self.config.mode == Mode::Default
            && state != TaskState::TaskFinished
            && self.shutdown.is_none()
        {
            let group = self.tasks[index].group;
            for other in 0..self.tasks.len() {
                if self.tasks[other].group == group && !self.tasks[other].is_terminal() {
                    let grace = self.tasks[other].own_grace();
                    self.kill(other, grace, None);
                }
            }
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::Escalate {
                task_id,
                generation,
            } => {
                let Some(index) = self.find(&task_id) else {
                    return;
                };
                let current = self.tasks[index].killing.as_ref().map(|k| k.generation);
                if current == Some(generation) {
                    self.escalate(index);
                }
            }
            Timer::MaxCompletion(task_id) => {
                let Some(index) = self.find(&task_id) else {
                    return;
                };
                if self.tasks[index].killing.is_none() {
                    let grace = self.tasks[index].own_grace();
                    self.kill(index, grace, Some(Reason::MaxCompletionTimeReached));
                }
            }
            Timer::AckWait => {
                self.ack_wait_armed = false;
                if self.connected && self.all_done() {
                    tracing::warn!(
                        pending = self.pending.len(),
                        "giving up waiting for acknowledgements"
                    );
                    self.exit(0);
                }
            }
        }
    }

    fn on_disconnected(&mut self) {
        self.connected = false;
        self.ack_wait_armed = false;
        if self.subscribed_once && !self.config.checkpoint {
            // Mesos: without checkpointing, an executor does not outlive its agent connection.
            self.begin_shutdown(Shutdown::AgentLost);
        }
    }

    fn on_acknowledged(&mut self, task_id: &TaskId, uuid: &[u8]) {
        self.pending.retain(|s| s.uuid.as_deref() != Some(uuid));
        if let Some(index) = self.find(task_id) {
            self.tasks[index].acknowledged = true;
        }
    }

    fn all_done(&self) -> bool {
        self.tasks.iter().all(Task::is_terminal)
            && (self.shutdown.is_some() || !self.tasks.is_empty())
    }

    fn maybe_finish(&mut self) {
        if self.exited || !self.all_done() {
            return;
        }
        match self.shutdown {
            Some(Shutdown::AgentLost) if !self.connected => return self.exit(1),
            _ if self.pending.is_empty() => return self.exit(0),
            _ => {}
        }
        if self.connected && !self.ack_wait_armed {
            self.ack_wait_armed = true;
            self.out.push(Effect::Schedule {
                timer: Timer::AckWait,
                after: self.config.ack_timeout,
            });
        }
    }

    fn exit(&mut self, code: i32) {
        self.exited = true;
        self.out.push(Effect::Exit(code));
    }

    pub(super) fn report(&mut self, task_id: &TaskId, report: Report) {
        let status = task_status(&self.identity, task_id, report, self.now);
        self.pending.push(status.clone());
        self.out.push(Effect::Update(Box::new(status)));
    }

    pub(super) fn find(&self, task_id: &TaskId) -> Option<usize> {
        self.tasks.iter().position(|t| t.id() == task_id)
    }
}
