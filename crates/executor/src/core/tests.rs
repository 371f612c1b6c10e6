//! The executor core, input by input.

use corral_api::v1::executor::event::{Acknowledged, Kill, Launch, LaunchGroup, Subscribed};
use corral_api::v1::framework_info::Capability as FwCapability;
use corral_api::v1::{
    AgentId, AgentInfo, CommandInfo, DurationInfo, ExecutorInfo, FrameworkInfo, KillPolicy,
    TaskGroupInfo,
};

use super::*;

fn config(mode: Mode) -> Config {
    Config {
        mode,
        executor_id: ExecutorId { value: "ex".into() },
        executor_pid: 4242,
        checkpoint: false,
        shutdown_grace_period: Duration::from_secs(5),
        ack_timeout: Duration::from_secs(5),
    }
}

fn tid(id: &str) -> TaskId {
    TaskId { value: id.into() }
}

fn task(id: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: tid(id),
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..CommandInfo::default()
        }),
        ..TaskInfo::default()
    }
}

fn event(kind: EventType) -> Event {
    Event {
        r#type: Some(kind as i32),
        ..Event::default()
    }
}

fn subscribed(killing_state: bool) -> Input {
    let mut framework_info = FrameworkInfo::default();
    if killing_state {
        framework_info.capabilities.push(FwCapability {
            r#type: Some(Capability::TaskKillingState as i32),
        });
    }
    Input::Event(Box::new(Event {
        subscribed: Some(Subscribed {
            executor_info: ExecutorInfo::default(),
            framework_info,
            agent_info: AgentInfo {
                id: Some(AgentId {
                    value: "agent".into(),
                }),
                ..AgentInfo::default()
            },
            container_id: None,
        }),
        ..event(EventType::Subscribed)
    }))
}

fn launch(info: TaskInfo) -> Input {
    Input::Event(Box::new(Event {
        launch: Some(Launch { task: info }),
        ..event(EventType::Launch)
    }))
}

fn launch_group(tasks: Vec<TaskInfo>) -> Input {
    Input::Event(Box::new(Event {
        launch_group: Some(LaunchGroup {
            task_group: TaskGroupInfo { tasks },
        }),
        ..event(EventType::LaunchGroup)
    }))
}

fn kill(id: &str, grace_ms: Option<i64>) -> Input {
    Input::Event(Box::new(Event {
        kill: Some(Kill {
            task_id: tid(id),
            kill_policy: grace_ms.map(|ms| KillPolicy {
                grace_period: Some(DurationInfo {
                    nanoseconds: ms * 1_000_000,
                }),
            }),
        }),
        ..event(EventType::Kill)
    }))
}

fn ack(status: &TaskStatus) -> Input {
    Input::Event(Box::new(Event {
        acknowledged: Some(Acknowledged {
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone().unwrap_or_default(),
        }),
        ..event(EventType::Acknowledged)
    }))
}

struct Harness {
    executor: Executor,
}

impl Harness {
    fn new(mode: Mode) -> Harness {
        let mut h = Harness {
            executor: Executor::new(config(mode)),
        };
        assert!(h.feed(subscribed(false)).is_empty());
        h
    }

    fn feed(&mut self, input: Input) -> Vec<Effect> {
        self.executor.handle(SystemTime::now(), input)
    }

    /// Feeds `input` and acknowledges every update it produced.
    fn feed_acked(&mut self, input: Input) -> Vec<Effect> {
        let effects = self.feed(input);
        let mut all = effects.clone();
        for status in updates(&effects) {
            all.extend(self.feed(ack(&status)));
        }
        all
    }
}

fn updates(effects: &[Effect]) -> Vec<TaskStatus> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Update(s) => Some((**s).clone()),
            _ => None,
        })
        .collect()
}

fn states(effects: &[Effect]) -> Vec<(String, TaskState)> {
    updates(effects)
        .into_iter()
        .map(|s| (s.task_id.value.clone(), s.state()))
        .collect()
}

fn st(id: &str, state: TaskState) -> (String, TaskState) {
    (id.to_string(), state)
}

#[test]
fn command_task_runs_to_completion_and_the_executor_exits_after_the_ack() {
    let mut h = Harness::new(Mode::Command);
    let effects = h.feed(launch(task("t")));
    assert_eq!(states(&effects), [st("t", TaskState::TaskStarting)]);
    assert!(matches!(&effects[1], Effect::Spawn(info) if info.task_id == tid("t")));

    let effects = h.feed(Input::Spawned {
        task_id: tid("t"),
        pid: 77,
    });
    let running = updates(&effects).remove(0);
    assert_eq!(running.state(), TaskState::TaskRunning);
    assert_eq!(
        running
            .container_status
            .as_ref()
            .and_then(|c| c.executor_pid),
        Some(4242)
    );
    assert_eq!(
        running.agent_id,
        Some(AgentId {
            value: "agent".into()
        })
    );

    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Code(0),
    });
    assert_eq!(states(&effects), [st("t", TaskState::TaskFinished)]);
    assert!(effects.contains(&Effect::Schedule {
        timer: Timer::AckWait,
        after: Duration::from_secs(5)
    }));
    let finished = updates(&effects).remove(0);
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );

    let (tasks, pending) = h.executor.unacknowledged();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        pending.len(),
        3,
        "STARTING, RUNNING, FINISHED all unacknowledged"
    );
    let mut all = Vec::new();
    for status in pending {
        all.extend(h.feed(ack(&status)));
    }
    assert_eq!(all, [Effect::Exit(0)]);
}

#[test]
fn a_failing_command_reports_its_exit_status() {
    let mut h = Harness::new(Mode::Command);
    h.feed_acked(launch(task("t")));
    h.feed_acked(Input::Spawned {
        task_id: tid("t"),
        pid: 7,
    });
    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Code(3),
    });
    let failed = updates(&effects).remove(0);
    assert_eq!(failed.state(), TaskState::TaskFailed);
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
    // The ack timeout also ends the executor.
    assert_eq!(h.feed(Input::Timer(Timer::AckWait)), [Effect::Exit(0)]);
}

#[test]
fn kill_escalates_after_the_grace_period() {
    let mut h = Harness::new(Mode::Command);
    let mut info = task("t");
    info.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 2_000_000_000,
        }),
    });
    h.feed_acked(launch(info));
    h.feed_acked(Input::Spawned {
        task_id: tid("t"),
        pid: 9,
    });

    let effects = h.feed(kill("t", None));
    assert_eq!(
        effects,
        [
            Effect::Signal {
                task_id: tid("t"),
                pid: 9,
                signal: Signal::Term
            },
            Effect::Schedule {
                timer: Timer::Escalate {
                    task_id: tid("t"),
                    generation: 0
                },
                after: Duration::from_secs(2)
            },
        ]
    );
    // A second KILL with a shorter grace period re-arms the escalation.
    let effects = h.feed(kill("t", Some(100)));
    assert_eq!(
        effects,
        [Effect::Schedule {
            timer: Timer::Escalate {
                task_id: tid("t"),
                generation: 1
            },
            after: Duration::from_millis(100)
        }]
    );
    // The stale timer does nothing; the current one sends SIGKILL.
    assert!(h
        .feed(Input::Timer(Timer::Escalate {
            task_id: tid("t"),
            generation: 0
        }))
        .is_empty());
    assert_eq!(
        h.feed(Input::Timer(Timer::Escalate {
            task_id: tid("t"),
            generation: 1
        })),
        [Effect::Signal {
            task_id: tid("t"),
            pid: 9,
            signal: Signal::Kill
        }]
    );
    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Signal(9),
    });
    let killed = updates(&effects).remove(0);
    assert_eq!(killed.state(), TaskState::TaskKilled);
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
}

#[test]
fn task_killing_state_is_reported_when_the_framework_supports_it() {
    let mut h = Harness {
        executor: Executor::new(config(Mode::Command)),
    };
    h.feed(subscribed(true));
    h.feed_acked(launch(task("t")));
    h.feed_acked(Input::Spawned {
        task_id: tid("t"),
        pid: 9,
    });
    let effects = h.feed(kill("t", Some(0)));
    assert_eq!(states(&effects), [st("t", TaskState::TaskKilling)]);
    assert!(effects.contains(&Effect::Signal {
        task_id: tid("t"),
        pid: 9,
        signal: Signal::Term
    }));
    assert!(effects.contains(&Effect::Signal {
        task_id: tid("t"),
        pid: 9,
        signal: Signal::Kill
    }));
}

#[test]
fn kill_before_spawn_signals_once_the_process_exists() {
    let mut h = Harness::new(Mode::Command);
    h.feed_acked(launch(task("t")));
    assert!(h.feed(kill("t", Some(1000))).is_empty());
    let effects = h.feed(Input::Spawned {
        task_id: tid("t"),
        pid: 5,
    });
    assert!(
        states(&effects).is_empty(),
        "no TASK_RUNNING for a task being killed"
    );
    assert_eq!(
        effects[0],
        Effect::Signal {
            task_id: tid("t"),
            pid: 5,
            signal: Signal::Term
        }
    );
}

#[test]
fn shutdown_kills_within_the_shutdown_grace_period_and_exits() {
    let mut h = Harness::new(Mode::Command);
    let mut info = task("t");
    info.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 60_000_000_000,
        }),
    });
    h.feed_acked(launch(info));
    h.feed_acked(Input::Spawned {
        task_id: tid("t"),
        pid: 5,
    });
    let effects = h.feed(Input::Event(Box::new(event(EventType::Shutdown))));
    assert!(effects.contains(&Effect::Schedule {
        timer: Timer::Escalate {
            task_id: tid("t"),
            generation: 0
        },
        after: Duration::from_secs(4)
    }));
    let effects = h.feed_acked(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Signal(15),
    });
    assert_eq!(states(&effects), [st("t", TaskState::TaskKilled)]);
    assert_eq!(effects.last(), Some(&Effect::Exit(0)));
}

#[test]
fn shutdown_without_tasks_exits_at_once() {
    let mut h = Harness::new(Mode::Command);
    assert_eq!(
        h.feed(Input::Event(Box::new(event(EventType::Shutdown)))),
        [Effect::Exit(0)]
    );
    assert!(h.feed(launch(task("t"))).is_empty(), "nothing after exit");
}

#[test]
fn a_second_task_is_refused_by_the_command_executor() {
    let mut h = Harness::new(Mode::Command);
    h.feed_acked(launch(task("a")));
    let effects = h.feed(launch(task("b")));
    let refused = updates(&effects).remove(0);
    assert_eq!(refused.state(), TaskState::TaskFailed);
    assert!(refused
        .message
        .unwrap_or_default()
        .contains("multiple tasks"));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Spawn(_))));
}

#[test]
fn spawn_failure_fails_the_task() {
    let mut h = Harness::new(Mode::Command);
    h.feed_acked(launch(task("t")));
    let effects = h.feed(Input::SpawnFailed {
        task_id: tid("t"),
        message: "No such file".into(),
    });
    let failed = updates(&effects).remove(0);
    assert_eq!(failed.state(), TaskState::TaskFailed);
    assert!(failed.message.unwrap_or_default().contains("No such file"));
}

#[test]
fn unacknowledged_updates_survive_a_reconnection() {
    let mut h = Harness {
        executor: Executor::new(Config {
            checkpoint: true,
            ..config(Mode::Command)
        }),
    };
    h.feed(subscribed(false));
    h.feed(launch(task("t")));
    h.feed(Input::Spawned {
        task_id: tid("t"),
        pid: 5,
    });
    assert!(
        h.feed(Input::Disconnected).is_empty(),
        "a checkpointing executor waits for the agent"
    );
    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Code(0),
    });
    assert_eq!(states(&effects), [st("t", TaskState::TaskFinished)]);
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::Schedule { .. } | Effect::Exit(_))));
    let (tasks, pending) = h.executor.unacknowledged();
    assert_eq!(tasks.len(), 1);
    let pending_states: Vec<_> = pending.iter().map(TaskStatus::state).collect();
    assert_eq!(
        pending_states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    // Re-subscribed: the acknowledgement wait starts again.
    let effects = h.feed(subscribed(false));
    assert_eq!(
        effects,
        [Effect::Schedule {
            timer: Timer::AckWait,
            after: Duration::from_secs(5)
        }]
    );
    assert_eq!(h.feed(Input::Timer(Timer::AckWait)), [Effect::Exit(0)]);
}

#[test]
fn an_agent_that_never_comes_back_ends_the_executor() {
    let mut h = Harness {
        executor: Executor::new(Config {
            checkpoint: true,
            ..config(Mode::Command)
        }),
    };
    h.feed(subscribed(false));
    h.feed(launch(task("t")));
    h.feed(Input::Spawned {
        task_id: tid("t"),
        pid: 5,
    });
    h.feed(Input::Disconnected);
    let effects = h.feed(Input::RecoveryTimedOut);
    assert_eq!(
        effects[0],
        Effect::Signal {
            task_id: tid("t"),
            pid: 5,
            signal: Signal::Term
        }
    );
    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Signal(15),
    });
    assert_eq!(effects.last(), Some(&Effect::Exit(1)));
}

#[test]
fn losing_the_agent_without_checkpointing_kills_the_task() {
    let mut h = Harness::new(Mode::Command);
    h.feed_acked(launch(task("t")));
    h.feed_acked(Input::Spawned {
        task_id: tid("t"),
        pid: 5,
    });
    let effects = h.feed(Input::Disconnected);
    assert_eq!(
        effects[0],
        Effect::Signal {
            task_id: tid("t"),
            pid: 5,
            signal: Signal::Term
        }
    );
    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Signal(15),
    });
    assert_eq!(effects.last(), Some(&Effect::Exit(1)));
}

#[test]
fn max_completion_time_fails_the_task() {
    let mut h = Harness::new(Mode::Command);
    let mut info = task("t");
    info.max_completion_time = Some(DurationInfo {
        nanoseconds: 1_000_000_000,
    });
    h.feed_acked(launch(info));
    let effects = h.feed_acked(Input::Spawned {
        task_id: tid("t"),
        pid: 5,
    });
    assert!(effects.contains(&Effect::Schedule {
        timer: Timer::MaxCompletion(tid("t")),
        after: Duration::from_secs(1)
    }));
    let effects = h.feed(Input::Timer(Timer::MaxCompletion(tid("t"))));
    assert_eq!(
        effects[0],
        Effect::Signal {
            task_id: tid("t"),
            pid: 5,
            signal: Signal::Term
        }
    );
    let effects = h.feed(Input::Exited {
        task_id: tid("t"),
        status: ExitStatus::Signal(15),
    });
    let failed = updates(&effects).remove(0);
    assert_eq!(failed.state(), TaskState::TaskFailed);
    assert_eq!(failed.reason, Some(Reason::MaxCompletionTimeReached as i32));
}

#[test]
fn default_executor_kills_the_group_when_a_task_fails() {
    let mut h = Harness::new(Mode::Default);
    let effects = h.feed_acked(launch_group(vec![task("a"), task("b")]));
    assert_eq!(
        states(&effects),
        [
            st("a", TaskState::TaskStarting),
            st("b", TaskState::TaskStarting)
        ]
    );
    h.feed_acked(Input::Spawned {
        task_id: tid("a"),
        pid: 10,
    });
    h.feed_acked(Input::Spawned {
        task_id: tid("b"),
        pid: 11,
    });
    let effects = h.feed_acked(Input::Exited {
        task_id: tid("a"),
        status: ExitStatus::Code(1),
    });
    assert_eq!(states(&effects), [st("a", TaskState::TaskFailed)]);
    assert!(effects.contains(&Effect::Signal {
        task_id: tid("b"),
        pid: 11,
        signal: Signal::Term
    }));
    let effects = h.feed_acked(Input::Exited {
        task_id: tid("b"),
        status: ExitStatus::Signal(15),
    });
    assert_eq!(states(&effects), [st("b", TaskState::TaskKilled)]);
    assert_eq!(effects.last(), Some(&Effect::Exit(0)));
}

#[test]
fn default_executor_finishes_when_every_task_succeeds() {
    let mut h = Harness::new(Mode::Default);
    h.feed_acked(launch_group(vec![task("a"), task("b")]));
    h.feed_acked(Input::Spawned {
        task_id: tid("a"),
        pid: 10,
    });
    h.feed_acked(Input::Spawned {
        task_id: tid("b"),
        pid: 11,
    });
    let effects = h.feed_acked(Input::Exited {
        task_id: tid("a"),
        status: ExitStatus::Code(0),
    });
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::Signal { .. } | Effect::Exit(_))));
    let effects = h.feed_acked(Input::Exited {
        task_id: tid("b"),
        status: ExitStatus::Code(0),
    });
    assert_eq!(effects.last(), Some(&Effect::Exit(0)));
}

#[test]
fn default_executor_kill_takes_the_whole_group() {
    let mut h = Harness::new(Mode::Default);
    h.feed_acked(launch_group(vec![task("a"), task("b")]));
    h.feed_acked(launch_group(vec![task("c")]));
    for (id, pid) in [("a", 1), ("b", 2), ("c", 3)] {
        h.feed_acked(Input::Spawned {
            task_id: tid(id),
            pid,
        });
    }
    let effects = h.feed(kill("a", Some(500)));
    let signalled: Vec<u32> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Signal {
                pid,
                signal: Signal::Term,
                ..
            } => Some(*pid),
            _ => None,
        })
        .collect();
    assert_eq!(signalled, [1, 2]);
}

#[test]
fn default_executor_refuses_plain_launch() {
    let mut h = Harness::new(Mode::Default);
    let effects = h.feed(launch(task("t")));
    assert_eq!(states(&effects), [st("t", TaskState::TaskFailed)]);
}
