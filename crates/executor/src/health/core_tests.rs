//! The executor core with health checks and fetch failures, input by input.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use corral_api::v1::executor::event::{Launch, Type as EventType};
use corral_api::v1::executor::Event;
use corral_api::v1::health_check::{TcpCheckInfo, Type as CheckType};
use corral_api::v1::task_status::Reason;
use corral_api::v1::{
    CommandInfo, ExecutorId, HealthCheck, TaskId, TaskInfo, TaskState, TaskStatus,
};

use super::HealthUpdate;
use crate::core::{Config, Effect, Executor, Input, Mode, Signal};
use crate::status::ExitStatus;

fn executor() -> Executor {
    Executor::new(Config {
        mode: Mode::Command,
        executor_id: ExecutorId { value: "ex".into() },
        executor_pid: 1,
        checkpoint: false,
        shutdown_grace_period: Duration::from_secs(5),
        ack_timeout: Duration::from_secs(5),
    })
}

fn tid() -> TaskId {
    TaskId { value: "t".into() }
}

fn task(check: Option<HealthCheck>) -> TaskInfo {
    TaskInfo {
        task_id: tid(),
        command: Some(CommandInfo {
            value: Some("sleep 100".into()),
            ..CommandInfo::default()
        }),
        health_check: check,
        ..TaskInfo::default()
    }
}

fn tcp_check() -> HealthCheck {
    HealthCheck {
        r#type: Some(CheckType::Tcp as i32),
        tcp: Some(TcpCheckInfo {
            port: 8080,
            ..TcpCheckInfo::default()
        }),
        ..HealthCheck::default()
    }
}

fn launch(info: TaskInfo) -> Input {
    Input::Event(Box::new(Event {
        r#type: Some(EventType::Launch as i32),
        launch: Some(Launch { task: info }),
        ..Event::default()
    }))
}

fn updates(effects: &[Effect]) -> Vec<TaskStatus> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Update(status) => Some((**status).clone()),
            _ => None,
        })
        .collect()
}

fn feed(ex: &mut Executor, input: Input) -> Vec<Effect> {
    ex.handle(SystemTime::now(), input)
}

fn health(healthy: bool, kill: bool) -> Input {
    Input::Health {
        task_id: tid(),
        update: HealthUpdate {
            healthy,
            consecutive_failures: u32::from(!healthy),
            kill,
        },
    }
}

#[test]
fn health_changes_become_running_updates_and_failures_kill() {
    let mut ex = executor();
    feed(&mut ex, launch(task(Some(tcp_check()))));
    let effects = feed(
        &mut ex,
        Input::Spawned {
            task_id: tid(),
            pid: 77,
        },
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::StartHealthCheck(info) if info.task_id == tid())),
        "{effects:?}"
    );
    let running = updates(&effects);
    assert_eq!(running[0].state, TaskState::TaskRunning as i32);
    assert_eq!(running[0].healthy, None);

    let up = updates(&feed(&mut ex, health(true, false)));
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].state, TaskState::TaskRunning as i32);
    assert_eq!(up[0].healthy, Some(true));
    assert_eq!(
        up[0].reason,
        Some(Reason::TaskHealthCheckStatusUpdated as i32)
    );
    assert!(up[0].container_status.is_some());

    let down = updates(&feed(&mut ex, health(false, false)));
    assert_eq!(down[0].healthy, Some(false));

    let effects = feed(&mut ex, health(false, true));
    assert_eq!(updates(&effects)[0].healthy, Some(false));
    assert!(
        effects.contains(&Effect::StopHealthCheck(tid())),
        "{effects:?}"
    );
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Signal {
            pid: 77,
            signal: Signal::Term,
            ..
        }
    )));
    // Verdicts still in flight after the kill are ignored.
    assert!(updates(&feed(&mut ex, health(false, true))).is_empty());

    let effects = feed(
        &mut ex,
        Input::Exited {
            task_id: tid(),
            status: ExitStatus::Signal(15),
        },
    );
    let terminal = updates(&effects);
    assert_eq!(terminal[0].state, TaskState::TaskKilled as i32);
    assert_eq!(terminal[0].healthy, Some(false));
}

#[test]
fn a_plain_kill_of_a_checked_task_is_not_unhealthy() {
    let mut ex = executor();
    feed(&mut ex, launch(task(Some(tcp_check()))));
    feed(
        &mut ex,
        Input::Spawned {
            task_id: tid(),
            pid: 77,
        },
    );
    feed(&mut ex, health(true, false));
    let effects = feed(&mut ex, Input::Terminate);
    assert!(effects.contains(&Effect::StopHealthCheck(tid())));
    let terminal = updates(&feed(
        &mut ex,
        Input::Exited {
            task_id: tid(),
            status: ExitStatus::Signal(15),
        },
    ));
    assert_eq!(terminal[0].state, TaskState::TaskKilled as i32);
    assert_eq!(terminal[0].healthy, None);
}

#[test]
fn invalid_health_checks_fail_the_task_at_launch() {
    let mut ex = executor();
    let bad = HealthCheck {
        r#type: Some(CheckType::Http as i32),
        ..HealthCheck::default()
    };
    let effects = feed(&mut ex, launch(task(Some(bad))));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Spawn(_))));
    let failed = updates(&effects);
    assert_eq!(failed[0].state, TaskState::TaskFailed as i32);
    let message = failed[0].message.clone().unwrap();
    assert!(message.starts_with("Invalid health check:"), "{message}");
}

#[test]
fn fetch_failures_fail_the_task_with_the_fetch_message() {
    let mut ex = executor();
    feed(&mut ex, launch(task(None)));
    let message = "Failed to fetch 'http://x/y.tgz': HTTP 404 Not Found".to_string();
    let effects = feed(
        &mut ex,
        Input::FetchFailed {
            task_id: tid(),
            message: message.clone(),
        },
    );
    let failed = updates(&effects);
    assert_eq!(failed[0].state, TaskState::TaskFailed as i32);
    assert_eq!(failed[0].message.as_deref(), Some(message.as_str()));
    assert_eq!(failed[0].reason, Some(Reason::ContainerLaunchFailed as i32));
}
