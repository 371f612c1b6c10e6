//! Status updates: validation, forwarding, acknowledgements, re-registration.

use corral_api::internal::AgentCall;
use corral_api::v1::executor::{call, event};
use corral_api::v1::{self, TaskState};

use super::*;
use crate::core::{Effect, Timer};
use crate::error::CallError;

#[test]
fn updates_are_forwarded_in_order_and_acknowledged() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");

    let effects = update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded.len(), 1);
    let status = forwarded[0];
    assert_eq!(status.agent_id.as_ref().unwrap().value, "A-S0");
    assert_eq!(status.executor_id.as_ref().unwrap().value, "t1");
    assert!(status.timestamp.is_some());
    assert_eq!(
        status.container_status.as_ref().unwrap().executor_pid,
        Some(42)
    );
    assert!(executor_events(&effects).contains(&event::Type::Acknowledged));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Timer {
            timer: Timer::StatusRetry { .. },
            ..
        }
    )));

    // The next update waits for the acknowledgement of the head.
    let effects = update(&mut core, "t1", "t1", TaskState::TaskFinished, 2).unwrap();
    assert!(status_updates(&effects).is_empty());
    assert_eq!(executor_events(&effects), vec![event::Type::Acknowledged]);

    core.acknowledge("F", "t1", &[1; 16]);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].state(), TaskState::TaskFinished);

    core.acknowledge("F", "t1", &[2; 16]);
    let snapshot = core.snapshot();
    let executor = &snapshot.frameworks[0].executors["t1"];
    assert!(executor.tasks.is_empty());
    assert_eq!(executor.completed_tasks.len(), 1);
    assert_eq!(
        snapshot.counters.terminal_tasks.get("TASK_FINISHED"),
        Some(&1)
    );
}

#[test]
fn duplicate_updates_are_ignored_but_acknowledged() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    let effects = update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    assert!(status_updates(&effects).is_empty());
    assert_eq!(executor_events(&effects), vec![event::Type::Acknowledged]);
    assert_eq!(core.snapshot().pending_updates, 1);
}

#[test]
fn invalid_updates_are_refused() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    // Before SUBSCRIBE: 403.
    let error = update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap_err();
    assert!(matches!(error, CallError::NotSubscribed(_)));
    subscribe(&mut core, "t1");
    let error = update(&mut core, "t1", "t1", TaskState::TaskStaging, 1).unwrap_err();
    assert!(matches!(error, CallError::Invalid(_)));
    let error = update(&mut core, "nope", "t1", TaskState::TaskRunning, 1).unwrap_err();
    assert_eq!(error, CallError::Invalid("Executor cannot be found".into()));

    let mut c = exec_call(call::Type::Update, "t1");
    c.update = Some(call::Update {
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: "t1".into() },
            state: TaskState::TaskRunning as i32,
            uuid: Some(vec![1; 3]),
            ..Default::default()
        },
    });
    assert!(matches!(
        core.executor_call(c, NOW),
        Err(CallError::Invalid(_))
    ));
    let mut c = exec_call(call::Type::Update, "t1");
    c.update = Some(call::Update {
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: "t1".into() },
            state: TaskState::TaskRunning as i32,
            uuid: Some(vec![1; 16]),
            source: Some(v1::task_status::Source::Master as i32),
            ..Default::default()
        },
    });
    assert!(matches!(
        core.executor_call(c, NOW),
        Err(CallError::Invalid(_))
    ));
    assert!(core
        .take_effects()
        .iter()
        .all(|e| !matches!(e, Effect::ToMaster(_))));
}

#[test]
fn updates_wait_for_a_master_and_are_resent_on_registration() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    core.disconnected();
    let effects = update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    assert!(status_updates(&effects).is_empty());
    core.registered("A-S0");
    assert_eq!(status_updates(&core.take_effects()).len(), 1);

    // The re-registration reports the executor's task.
    let AgentCall::Subscribe {
        agent_info,
        tasks,
        executors,
        ..
    } = core.subscribe_call("0.1.0")
    else {
        panic!()
    };
    assert_eq!(agent_info.id.unwrap().value, "A-S0");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].state(), TaskState::TaskRunning);
    assert!(executors.is_empty(), "command executors are not reported");
}

#[test]
fn unsubscribed_resubscribe_delivers_unacknowledged_updates() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    let mut c = exec_call(call::Type::Subscribe, "t1");
    c.subscribe = Some(call::Subscribe {
        unacknowledged_tasks: vec![command_task("t1")],
        unacknowledged_updates: vec![call::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                state: TaskState::TaskRunning as i32,
                uuid: Some(vec![9; 16]),
                ..Default::default()
            },
        }],
    });
    core.executor_call(c, NOW).unwrap();
    let effects = core.take_effects();
    assert_eq!(
        executor_events(&effects),
        vec![event::Type::Subscribed, event::Type::Acknowledged]
    );
    assert_eq!(status_updates(&effects).len(), 1);
}
