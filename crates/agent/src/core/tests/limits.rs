//! Resource limits of launched containers, and containers killed at a limit.

use corral_api::v1::executor::call;
use corral_api::v1::{self, task_status::Reason, task_status::Source, TaskState};
use corral_containerizer::LimitationKind;

use super::*;
use crate::core::Exit;

const OOM_MESSAGE: &str = "Memory limit exceeded: Requested: 64MB Maximum Used: 65MB\n\n\
                           MEMORY STATISTICS: \ntotal_rss 67000000\noom_kill 1\n";

fn resources(cpus: f64, mem: f64) -> Vec<v1::Resource> {
    serde_json::from_value(serde_json::json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
    ]))
    .unwrap()
}

fn sized_command_task(id: &str, cpus: f64, mem: f64) -> v1::TaskInfo {
    v1::TaskInfo {
        resources: resources(cpus, mem),
        ..command_task(id)
    }
}

/// A command task with `mem:32` that is running (acknowledged), and its container id.
fn running_command_task(core: &mut AgentCore) -> String {
    core.run_task(framework(), None, sized_command_task("t1", 0.5, 32.0), NOW);
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!("expected a launch")
    };
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(core, "t1");
    update(core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    core.acknowledge("F", "t1", &[1; 16]);
    core.take_effects();
    request.container_id
}

fn mem_of(limitation: &v1::TaskResourceLimitation) -> f64 {
    let [mem] = limitation.resources.as_slice() else {
        panic!("expected one resource: {limitation:?}")
    };
    assert_eq!(mem.name, "mem");
    mem.scalar.as_ref().unwrap().value
}

#[test]
fn command_task_limits_include_the_executor_overhead() {
    let mut core = core();
    core.run_task(framework(), None, sized_command_task("t1", 0.5, 32.0), NOW);
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!("expected a launch")
    };
    assert!((request.limits.cpus.unwrap() - 0.6).abs() < 1e-9);
    assert_eq!(request.limits.mem_bytes, Some(64 << 20));
}

#[test]
fn task_group_limits_add_the_executor_and_every_task() {
    let mut core = core();
    let executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "e1".into() },
        r#type: Some(v1::executor_info::Type::Default as i32),
        resources: resources(0.1, 32.0),
        ..Default::default()
    };
    let group = v1::TaskGroupInfo {
        tasks: vec![
            sized_command_task("a", 1.0, 100.0),
            sized_command_task("b", 0.5, 28.0),
        ],
    };
    core.run_task_group(framework(), executor, group, NOW);
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!("expected a launch")
    };
    assert!((request.limits.cpus.unwrap() - 1.6).abs() < 1e-9);
    assert_eq!(request.limits.mem_bytes, Some(160 << 20));
}

#[test]
fn container_killed_at_the_memory_limit_fails_its_tasks_with_the_limitation() {
    let mut core = core();
    let container_id = running_command_task(&mut core);
    let exit = Exit {
        status: 137,
        message: "killed by SIGKILL".into(),
        limitation: Some((LimitationKind::Memory, OOM_MESSAGE.into())),
    };
    core.container_exited("F", "t1", &container_id, exit, NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    let [status] = forwarded.as_slice() else {
        panic!("expected one update: {forwarded:?}")
    };
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ContainerLimitationMemory);
    assert_eq!(status.source(), Source::Agent);
    assert!(status.message().contains("Requested: 64MB"), "{status:?}");
    assert!(
        status.message().contains("Maximum Used: 65MB"),
        "{status:?}"
    );
    assert_eq!(mem_of(status.limitation.as_ref().unwrap()), 65.0);
}

#[test]
fn disk_limitation_reports_the_disk_reason_and_resource() {
    let mut core = core();
    let container_id = running_command_task(&mut core);
    let exit = Exit {
        status: 137,
        message: "killed by SIGKILL".into(),
        limitation: Some((
            LimitationKind::Disk,
            "Disk usage (40MB) exceeds quota".into(),
        )),
    };
    core.container_exited("F", "t1", &container_id, exit, NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded[0].reason(), Reason::ContainerLimitationDisk);
    // No disk held: no resource to name.
    assert_eq!(forwarded[0].limitation, None);

    // With disk held, the limitation names it.
    let mut task = sized_command_task("t2", 0.1, 32.0);
    task.resources.extend(
        serde_json::from_value::<Vec<v1::Resource>>(serde_json::json!([
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 100.0}}
        ]))
        .unwrap(),
    );
    core.run_task(framework(), None, task, NOW);
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!("expected a launch")
    };
    core.container_launched("F", "t2", &request.container_id, 43);
    core.take_effects();
    let exit = Exit {
        status: 137,
        message: "killed by SIGKILL".into(),
        limitation: Some((LimitationKind::Disk, "Disk usage exceeds quota".into())),
    };
    core.container_exited("F", "t2", &request.container_id, exit, NOW);
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded[0].reason(), Reason::ContainerLimitationDisk);
    let limitation = forwarded[0].limitation.as_ref().unwrap();
    assert_eq!(limitation.resources[0].name, "disk");
    assert_eq!(
        limitation.resources[0].scalar.as_ref().unwrap().value,
        100.0
    );
}

#[test]
fn executor_reported_failure_at_the_limit_becomes_the_limitation() {
    let mut core = core();
    let container_id = running_command_task(&mut core);
    let mut c = exec_call(call::Type::Update, "t1");
    c.update = Some(call::Update {
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: "t1".into() },
            state: TaskState::TaskFailed as i32,
            message: Some("Command terminated with signal Killed".into()),
            source: Some(Source::Executor as i32),
            uuid: Some(vec![2; 16]),
            ..Default::default()
        },
    });
    assert_eq!(core.failed_task_container(&c), Some(container_id.as_str()));
    let limitation = Some((LimitationKind::Memory, OOM_MESSAGE.to_string()));
    core.executor_call_at_limit(c, limitation, NOW).unwrap();
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    let [status] = forwarded.as_slice() else {
        panic!("expected one update: {forwarded:?}")
    };
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ContainerLimitationMemory);
    assert_eq!(status.source(), Source::Agent);
    assert_eq!(status.message(), OOM_MESSAGE);
    assert_eq!(
        status.uuid,
        Some(vec![2; 16]),
        "the executor's update, relabelled"
    );
    assert_eq!(mem_of(status.limitation.as_ref().unwrap()), 65.0);

    // The container ending later adds nothing: the task is already terminal.
    let exit = Exit {
        status: 137,
        message: "killed by SIGKILL".into(),
        limitation: Some((LimitationKind::Memory, OOM_MESSAGE.into())),
    };
    core.container_exited("F", "t1", &container_id, exit, NOW);
    assert!(status_updates(&core.take_effects()).is_empty());
}

#[test]
fn only_failures_are_checked_against_limits() {
    let mut core = core();
    running_command_task(&mut core);
    let mut c = exec_call(call::Type::Update, "t1");
    c.update = Some(call::Update {
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: "t1".into() },
            state: TaskState::TaskFinished as i32,
            uuid: Some(vec![3; 16]),
            ..Default::default()
        },
    });
    assert_eq!(core.failed_task_container(&c), None);
    // Even if a limitation is passed, a FINISHED stays as the executor said.
    let limitation = Some((LimitationKind::Memory, OOM_MESSAGE.to_string()));
    core.executor_call_at_limit(c, limitation, NOW).unwrap();
    let effects = core.take_effects();
    let forwarded = status_updates(&effects);
    assert_eq!(forwarded[0].state(), TaskState::TaskFinished);
    assert_eq!(forwarded[0].source(), Source::Executor);
    assert_eq!(forwarded[0].limitation, None);
    let unknown = exec_call(call::Type::Update, "nope");
    assert_eq!(core.failed_task_container(&unknown), None);
}

fn resized(effects: &[Effect]) -> Vec<&corral_containerizer::ResourceLimits> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Update { limits, .. } => Some(limits),
            _ => None,
        })
        .collect()
}

#[test]
fn a_custom_executors_container_follows_its_live_tasks() {
    let mut core = core();
    let executor = v1::ExecutorInfo {
        resources: resources(0.1, 32.0),
        ..custom_executor("e1")
    };
    core.run_task(
        framework(),
        Some(executor.clone()),
        sized_command_task("t1", 1.0, 64.0),
        NOW,
    );
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!("expected a launch")
    };
    assert!((request.limits.cpus.unwrap() - 1.1).abs() < 1e-9);
    assert_eq!(request.limits.mem_bytes, Some(96 << 20));
    core.container_launched("F", "e1", &request.container_id, 7);

    // A task queued while the executor starts is added when it is delivered.
    core.run_task(
        framework(),
        Some(executor.clone()),
        sized_command_task("t2", 0.5, 32.0),
        NOW,
    );
    assert!(
        resized(&core.take_effects()).is_empty(),
        "not delivered yet"
    );
    let effects = subscribe(&mut core, "e1");
    let [limits] = resized(&effects)[..] else {
        panic!("expected one resize: {effects:?}")
    };
    assert!((limits.cpus.unwrap() - 1.6).abs() < 1e-9);
    assert_eq!(limits.mem_bytes, Some(128 << 20));

    // One delivered to the running executor is added before it hears of the task.
    core.run_task(
        framework(),
        Some(executor),
        sized_command_task("t3", 0.5, 64.0),
        NOW,
    );
    let effects = core.take_effects();
    let update_at = effects
        .iter()
        .position(|e| matches!(e, Effect::Update { .. }))
        .expect("a resize");
    let launch_at = effects
        .iter()
        .position(|e| matches!(e, Effect::ToExecutor { .. }))
        .expect("a LAUNCH");
    assert!(update_at < launch_at, "{effects:?}");
    let Effect::Update {
        container_id,
        limits,
    } = &effects[update_at]
    else {
        unreachable!()
    };
    assert_eq!(container_id, &request.container_id);
    assert!((limits.cpus.unwrap() - 2.1).abs() < 1e-9);
    assert_eq!(limits.mem_bytes, Some(192 << 20));

    // A running update changes nothing; a terminal one takes the task's share away.
    let effects = update(&mut core, "e1", "t1", TaskState::TaskRunning, 1).unwrap();
    assert!(resized(&effects).is_empty(), "{effects:?}");
    let effects = update(&mut core, "e1", "t1", TaskState::TaskFinished, 2).unwrap();
    let [limits] = resized(&effects)[..] else {
        panic!("expected one resize: {effects:?}")
    };
    assert!((limits.cpus.unwrap() - 1.1).abs() < 1e-9);
    assert_eq!(limits.mem_bytes, Some(128 << 20));
}

#[test]
fn a_command_executors_container_keeps_its_size() {
    let mut core = core();
    running_command_task(&mut core);
    let effects = update(&mut core, "t1", "t1", TaskState::TaskFinished, 2).unwrap();
    assert!(resized(&effects).is_empty(), "{effects:?}");
}
