//! Launching tasks and executors.

use corral_api::v1::executor::{call, event};
use corral_api::v1::{self, TaskState};
use corral_containerizer::Command;

use super::*;
use crate::core::{Effect, ExecutorState, Timer};
use crate::error::CallError;

#[test]
fn run_task_launches_the_command_executor() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    assert_eq!(request.executor_id, "t1");
    assert_eq!(
        request.command,
        Command::Exec {
            program: "/usr/bin/corral".into(),
            args: vec!["executor".into()]
        }
    );
    let expected_dir = format!(
        "/work/slaves/A-S0/frameworks/F/executors/t1/runs/{}",
        request.container_id
    );
    assert_eq!(request.directory.display().to_string(), expected_dir);
    assert!(request
        .env
        .contains(&("MESOS_SLAVE_ID".into(), "A-S0".into())));
    let snapshot = core.snapshot();
    let executor = &snapshot.frameworks[0].executors["t1"];
    assert_eq!(executor.state, ExecutorState::Launching);
    assert_eq!(executor.queued_tasks().count(), 1);

    core.container_launched("F", "t1", &request.container_id, 42);
    let effects = core.take_effects();
    assert!(matches!(
        effects.as_slice(),
        [Effect::Timer {
            timer: Timer::Registration { .. },
            ..
        }]
    ));

    let effects = subscribe(&mut core, "t1");
    assert_eq!(
        executor_events(&effects),
        vec![event::Type::Subscribed, event::Type::Launch]
    );
    let Effect::ToExecutor { event, .. } = &effects[0] else {
        panic!()
    };
    let subscribed = event.subscribed.as_ref().unwrap();
    assert_eq!(subscribed.framework_info.id.as_ref().unwrap().value, "F");
    assert_eq!(subscribed.agent_info.id.as_ref().unwrap().value, "A-S0");
    assert_eq!(
        subscribed.container_id.as_ref().unwrap().value,
        request.container_id
    );
}

#[test]
fn second_task_for_a_running_custom_executor_is_delivered() {
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
    core.run_task(
        framework(),
        Some(custom_executor("e1")),
        command_task("t2"),
        NOW,
    );
    assert!(!core
        .take_effects()
        .iter()
        .any(|e| matches!(e, Effect::Launch(_))));
    let effects = subscribe(&mut core, "e1");
    assert_eq!(
        executor_events(&effects),
        vec![
            event::Type::Subscribed,
            event::Type::Launch,
            event::Type::Launch
        ]
    );
    core.run_task(
        framework(),
        Some(custom_executor("e1")),
        command_task("t3"),
        NOW,
    );
    assert_eq!(
        executor_events(&core.take_effects()),
        vec![event::Type::Launch]
    );
}

#[test]
fn task_group_uses_the_default_executor() {
    let mut core = core();
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: "default".into(),
        },
        r#type: Some(v1::executor_info::Type::Default as i32),
        ..Default::default()
    };
    let mut t1 = command_task("g1");
    t1.command = None;
    let mut t2 = command_task("g2");
    t2.command = None;
    core.run_task_group(
        framework(),
        executor,
        v1::TaskGroupInfo {
            tasks: vec![t1, t2],
        },
        NOW,
    );
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!()
    };
    assert_eq!(
        request.command,
        Command::Exec {
            program: "/usr/bin/corral".into(),
            args: vec!["executor".into(), "--default".into()]
        }
    );
    core.container_launched("F", "default", &request.container_id, 7);
    let effects = subscribe(&mut core, "default");
    assert_eq!(
        executor_events(&effects),
        vec![event::Type::Subscribed, event::Type::LaunchGroup]
    );
}

#[test]
fn bad_ids_are_refused_without_a_launch() {
    let mut core = core();
    core.run_task(
        framework(),
        Some(custom_executor("../../etc")),
        command_task("t1"),
        NOW,
    );
    let effects = core.take_effects();
    assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
    assert_eq!(status_updates(&effects)[0].state(), TaskState::TaskError);
    core.run_task(framework(), None, command_task("a/b"), NOW);
    let effects = core.take_effects();
    assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
}

#[test]
fn unknown_framework_or_executor_calls_are_400() {
    let mut core = core();
    let mut c = exec_call(call::Type::Subscribe, "e");
    c.subscribe = Some(call::Subscribe::default());
    assert_eq!(
        core.executor_call(c, NOW).unwrap_err(),
        CallError::Invalid("Framework cannot be found".into())
    );
}
