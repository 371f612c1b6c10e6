//! Executor lifecycle: exits, kills, timeouts, shutdowns.

use std::time::Duration;

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::executor::event;
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_containerizer::Command;

use super::*;
use crate::core::{Effect, Exit};

#[test]
fn executor_exit_fails_live_tasks() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    core.acknowledge("F", "t1", &[1; 16]);
    core.take_effects();

    let exit = Exit {
        status: 3,
        message: "exited with status 3".into(),
        limitation: None,
    };
    core.container_exited("F", "t1", &request.container_id, exit, NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded.len(), 1);
    let status = forwarded[0];
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ExecutorTerminated);
    assert_eq!(status.source(), v1::task_status::Source::Agent);
    assert_eq!(status.uuid.as_ref().unwrap().len(), 16);
    assert!(
        status.message().contains("exited with status 3"),
        "{}",
        status.message()
    );
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::CloseExecutor { .. })));
    // Command executors are not reported to the master (as in Mesos).
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::ToMaster(AgentCall::ExitedExecutor { .. }))));

    // Once the terminal update is acknowledged the executor and framework complete.
    let uuid = status.uuid.clone().unwrap();
    core.acknowledge("F", "t1", &uuid);
    let snapshot = core.snapshot();
    assert!(snapshot.frameworks.is_empty());
    assert_eq!(
        snapshot.completed_frameworks[0].completed_executors.len(),
        1
    );
}

#[test]
fn custom_executor_exit_is_reported_and_queued_tasks_fail() {
    let mut core = core();
    core.run_task(
        framework(),
        Some(custom_executor("e1")),
        command_task("t1"),
        NOW,
    );
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!()
    };
    assert_eq!(request.command, Command::Shell("./my-executor".into()));
    core.container_launched("F", "e1", &request.container_id, 7);
    core.take_effects();
    let exit = Exit {
        status: 0,
        message: "exited with status 0".into(),
        limitation: None,
    };
    core.container_exited("F", "e1", &request.container_id, exit, NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].state(), TaskState::TaskFailed);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::ToMaster(AgentCall::ExitedExecutor { status: 0, .. })
    )));
}

#[test]
fn kill_before_subscribe_kills_the_queued_task_and_the_executor() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    core.take_effects();
    core.handle_master(
        MasterMessage::KillTask {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t1".into() },
            kill_policy: None,
        },
        NOW,
    );
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].state(), TaskState::TaskKilled);
    assert_eq!(forwarded[0].source(), v1::task_status::Source::Agent);
    assert!(effects.iter().any(|e| matches!(e, Effect::Destroy { .. })));
}

#[test]
fn kill_of_a_delivered_task_goes_to_the_executor() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    let policy = v1::KillPolicy {
        grace_period: Some(v1::DurationInfo { nanoseconds: 1 }),
    };
    core.kill_task("F", "t1", Some(policy), NOW);
    let effects = core.take_effects();
    let [Effect::ToExecutor { event, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let kill = event.kill.as_ref().unwrap();
    assert_eq!(kill.task_id.value, "t1");
    assert_eq!(kill.kill_policy.as_ref(), Some(&policy));
}

#[test]
fn launch_failure_fails_the_task() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launch_failed("F", "t1", &request.container_id, "no such file", NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].state(), TaskState::TaskFailed);
    assert_eq!(forwarded[0].reason(), Reason::ContainerLaunchFailed);
    assert!(forwarded[0].message().contains("no such file"));
}

#[test]
fn registration_timeout_destroys_and_fails() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    let effects = core.take_effects();
    let Effect::Timer { timer, after } = effects[0].clone() else {
        panic!()
    };
    assert_eq!(after, Duration::from_secs(60));
    core.timer_fired(timer, NOW);
    assert!(matches!(
        core.take_effects().as_slice(),
        [Effect::Destroy { .. }]
    ));
    let exit = Exit {
        status: 137,
        message: "killed by SIGKILL".into(),
        limitation: None,
    };
    core.container_exited("F", "t1", &request.container_id, exit, NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded[0].reason(), Reason::ExecutorRegistrationTimeout);
    assert_eq!(
        forwarded[0].message(),
        "Executor did not register within 1mins"
    );
}

#[test]
fn shutdown_sends_shutdown_then_destroys_after_grace() {
    let mut core = core();
    core.run_task(
        framework(),
        Some(custom_executor("e1")),
        command_task("t1"),
        NOW,
    );
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!()
    };
    core.container_launched("F", "e1", &request.container_id, 7);
    subscribe(&mut core, "e1");
    core.shutdown_executor("F", "e1", None);
    let effects = core.take_effects();
    assert_eq!(executor_events(&effects), vec![event::Type::Shutdown]);
    let timer = effects
        .iter()
        .find_map(|e| match e {
            Effect::Timer { timer, after } => {
                assert_eq!(*after, Duration::from_secs(5));
                Some(timer.clone())
            }
            _ => None,
        })
        .unwrap();
    core.timer_fired(timer, NOW);
    assert!(matches!(
        core.take_effects().as_slice(),
        [Effect::Destroy { .. }]
    ));
}

#[test]
fn shutdown_framework_sends_no_updates() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    core.shutdown_framework("F");
    core.take_effects();
    let exit = Exit {
        status: 0,
        message: "exited with status 0".into(),
        limitation: None,
    };
    core.container_exited("F", "t1", &request.container_id, exit, NOW);
    assert!(status_updates(&core.take_effects()).is_empty());
    let snapshot = core.snapshot();
    assert!(snapshot.frameworks.is_empty());
    assert_eq!(snapshot.completed_frameworks.len(), 1);
}
