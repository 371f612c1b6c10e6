//! Checkpointing and recovery: what the core persists (and in which order), and how a core
//! rebuilt from the checkpoint behaves.

use corral_api::v1::executor::{call, event};
use corral_api::v1::{self, task_status::Reason, TaskState};

use super::*;
use crate::core::{Effect, Exit};
use crate::meta::{read_state, MetaDir, MetaWrite};

fn checkpointing() -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        checkpoint: Some(true),
        ..framework()
    }
}

/// Writes the Persist effects to `meta` and returns the others.
fn persist(meta: &MetaDir, effects: Vec<Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .filter(|effect| match effect {
            Effect::Persist(write) => {
                meta.apply(write).unwrap();
                false
            }
            _ => true,
        })
        .collect()
}

/// A core with a checkpointing command task "t1" whose executor (pid 42) subscribed and
/// reported RUNNING (uuid 1, acknowledged) and RUNNING again (uuid 2, not acknowledged).
fn running(meta: &MetaDir) -> (AgentCore, String) {
    let mut core = core();
    meta.save_agent(&core.agent_info()).unwrap();
    core.run_task(checkpointing(), None, command_task("t1"), NOW);
    let effects = persist(meta, core.take_effects());
    let Some(Effect::Launch(request)) = effects.first() else {
        panic!("no launch: {effects:?}");
    };
    let container_id = request.container_id.clone();
    core.container_launched_with("F", "t1", &container_id, 42, Some(777));
    persist(meta, core.take_effects());
    let mut c = exec_call(call::Type::Subscribe, "t1");
    c.subscribe = Some(call::Subscribe::default());
    core.executor_call(c, NOW).unwrap();
    persist(meta, core.take_effects());
    for uuid in [1, 2] {
        let effects = update(&mut core, "t1", "t1", TaskState::TaskRunning, uuid).unwrap();
        // The update is in the log before the executor hears it was received.
        let persisted = effects
            .iter()
            .position(|e| matches!(e, Effect::Persist(MetaWrite::Update { .. })))
            .expect("update persisted");
        let acked = effects
            .iter()
            .position(|e| matches!(e, Effect::ToExecutor { event, .. } if event.r#type == Some(event::Type::Acknowledged as i32)))
            .expect("executor acknowledged");
        assert!(persisted < acked, "{effects:?}");
        persist(meta, effects);
        if uuid == 1 {
            core.acknowledge("F", "t1", &[1; 16]);
            let effects = core.take_effects();
            assert!(matches!(
                effects.first(),
                Some(Effect::Persist(MetaWrite::Ack { .. }))
            ));
            persist(meta, effects);
        }
    }
    (core, container_id)
}

fn recovered(meta: &MetaDir) -> (AgentCore, Vec<crate::core::RecoveredRun>) {
    let mut core = AgentCore::new(core().config.clone());
    core.agent_id = None;
    let runs = core.recover(read_state(meta, true).unwrap());
    (core, runs)
}

#[test]
fn a_restarted_core_finds_its_executor_task_and_unacknowledged_update() {
    let dir = tempfile::tempdir().unwrap();
    let meta = MetaDir::new(dir.path());
    let (_old, container_id) = running(&meta);

    let (mut core, runs) = recovered(&meta);
    assert_eq!(core.agent_id(), Some("A-S0"));
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].container_id, container_id);
    assert_eq!((runs[0].pid, runs[0].start_time), (Some(42), Some(777)));
    assert_eq!(core.awaiting_reregistration(), 1);
    let snapshot = core.snapshot();
    assert_eq!(snapshot.pending_updates, 1);
    let task = &snapshot.frameworks[0].executors["t1"].tasks["t1"];
    assert_eq!(task.state(), TaskState::TaskRunning);

    // The executor re-subscribes, re-sending the update it never saw acknowledged: a
    // duplicate, acknowledged to it again but not taken twice.
    let mut c = exec_call(call::Type::Subscribe, "t1");
    c.subscribe = Some(call::Subscribe {
        unacknowledged_tasks: vec![],
        unacknowledged_updates: vec![call::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                state: TaskState::TaskRunning as i32,
                uuid: Some(vec![2; 16]),
                ..Default::default()
            },
        }],
    });
    core.executor_call(c, NOW).unwrap();
    let effects = core.take_effects();
    assert!(status_updates(&effects).is_empty(), "{effects:?}");
    assert_eq!(
        executor_events(&effects),
        vec![event::Type::Subscribed, event::Type::Acknowledged]
    );
    assert_eq!(core.awaiting_reregistration(), 0);
    // The re-registration report carries the task; the unacknowledged update is resent with
    // its uuid once registered.
    let AgentCall::Subscribe {
        agent_info, tasks, ..
    } = core.subscribe_call("test")
    else {
        panic!()
    };
    assert_eq!(agent_info.id.unwrap().value, "A-S0");
    assert_eq!(tasks.len(), 1);
    core.registered("A-S0");
    let effects = core.take_effects();
    let resent = status_updates(&effects);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].uuid, Some(vec![2; 16]));
}

#[test]
fn a_task_whose_executor_died_while_the_agent_was_down_fails_once() {
    let dir = tempfile::tempdir().unwrap();
    let meta = MetaDir::new(dir.path());
    let (_old, container_id) = running(&meta);
    let (mut core, _) = recovered(&meta);
    let exit = Exit {
        status: -1,
        message: "terminated while the agent was down".into(),
        limitation: None,
    };
    core.container_exited("F", "t1", &container_id, exit.clone(), NOW);
    core.container_exited("F", "t1", &container_id, exit, NOW);
    core.registered("A-S0");
    let effects = core.take_effects();
    let updates = status_updates(&effects);
    let failed: Vec<_> = updates
        .iter()
        .filter(|s| s.state() == TaskState::TaskFailed)
        .collect();
    // Only the stream head is sent: the unacknowledged RUNNING first.
    assert_eq!(updates[0].uuid, Some(vec![2; 16]));
    assert!(failed.is_empty());
    core.acknowledge("F", "t1", &[2; 16]);
    let effects = core.take_effects();
    let updates = status_updates(&effects);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state(), TaskState::TaskFailed);
    assert_eq!(updates[0].reason(), Reason::ExecutorTerminated);
    // Once acknowledged, the run is marked completed in the checkpoint.
    let uuid = updates[0].uuid.clone().unwrap();
    persist(&meta, effects);
    core.acknowledge("F", "t1", &uuid);
    persist(&meta, core.take_effects());
    assert!(read_state(&meta, true).unwrap().frameworks.is_empty());
}

#[test]
fn executors_that_do_not_reregister_are_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let meta = MetaDir::new(dir.path());
    let (_old, container_id) = running(&meta);
    let (mut core, _) = recovered(&meta);
    core.reregistration_timed_out(Duration::from_secs(2));
    let effects = core.take_effects();
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Destroy { container_id: c, .. } if *c == container_id)),
        "{effects:?}"
    );
    let exit = Exit {
        status: 137,
        message: "killed by SIGKILL".into(),
        limitation: None,
    };
    core.container_exited("F", "t1", &container_id, exit, NOW);
    let effects = core.take_effects();
    let updates = status_updates(&effects);
    assert_eq!(updates.len(), 0, "not registered yet: {effects:?}");
    core.registered("A-S0");
    let effects = core.take_effects();
    let updates = status_updates(&effects);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].uuid, Some(vec![2; 16]));
    core.acknowledge("F", "t1", &[2; 16]);
    let updates = status_updates(&core.take_effects())
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state(), TaskState::TaskFailed);
    assert_eq!(updates[0].reason(), Reason::ExecutorReregistrationTimeout);
}

#[test]
fn frameworks_without_checkpointing_are_not_persisted() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched_with("F", "t1", &request.container_id, 42, Some(1));
    let effects = subscribe(&mut core, "t1");
    let mut all = core.take_effects();
    all.extend(effects);
    all.extend(update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap());
    assert!(
        !all.iter().any(|e| matches!(e, Effect::Persist(_))),
        "{all:?}"
    );
}

#[test]
fn checkpointing_executors_get_the_recovery_environment() {
    let mut core = core();
    core.run_task(checkpointing(), None, command_task("t1"), NOW);
    let effects = core.take_effects();
    let request = effects
        .iter()
        .find_map(|e| match e {
            Effect::Launch(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let get = |name: &str| {
        request
            .env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("MESOS_CHECKPOINT").as_deref(), Some("1"));
    assert_eq!(get("MESOS_RECOVERY_TIMEOUT").as_deref(), Some("15mins"));
    assert_eq!(
        get("MESOS_SUBSCRIPTION_BACKOFF_MAX").as_deref(),
        Some("500ms")
    );
    // Framework, run and task are checkpointed before the launch.
    let launch = effects
        .iter()
        .position(|e| matches!(e, Effect::Launch(_)))
        .unwrap();
    let writes = effects[..launch]
        .iter()
        .filter(|e| matches!(e, Effect::Persist(_)))
        .count();
    assert_eq!(writes, 3, "{effects:?}");
}

#[test]
fn a_task_with_an_unacknowledged_terminal_update_is_reported_live() {
    let mut core = core();
    let request = launch_command_task(&mut core, "t1");
    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    core.acknowledge("F", "t1", &[1; 16]);
    update(&mut core, "t1", "t1", TaskState::TaskFinished, 2).unwrap();
    let reported = |core: &AgentCore| {
        let AgentCall::Subscribe { tasks, .. } = core.subscribe_call("test") else {
            panic!()
        };
        tasks.iter().map(|t| t.state()).collect::<Vec<_>>()
    };
    // The master must still forward the FINISHED update when it is resent.
    assert_eq!(reported(&core), vec![TaskState::TaskRunning]);
    core.acknowledge("F", "t1", &[2; 16]);
    assert!(reported(&core).is_empty());
}
