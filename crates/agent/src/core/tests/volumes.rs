//! CHECKPOINT_RESOURCES and persistent volumes: the diff of checkpointed sets, destroying
//! volumes once unused, and launches that use volumes.

use std::path::PathBuf;

use corral_api::internal::MasterMessage;
use corral_api::v1::{self, executor::event, task_status::Reason, TaskState};

use super::*;
use crate::volumes::tests::volume_resource;

fn path(id: &str) -> PathBuf {
    PathBuf::from(format!("/work/volumes/roles/web/{id}"))
}

/// Sends CHECKPOINT_RESOURCES and commits the plan (as the runtime does once it is durable);
/// returns the plan and the effects of the commit.
fn checkpoint(core: &mut AgentCore, ids: &[&str]) -> (CheckpointPlan, Vec<Effect>) {
    let resources: Vec<v1::Resource> = ids
        .iter()
        .map(|id| volume_resource("web", id, "data"))
        .collect();
    core.handle_master(MasterMessage::CheckpointResources { resources }, NOW);
    let plan = match core.take_effects().as_slice() {
        [Effect::Checkpoint(plan)] => (**plan).clone(),
        other => panic!("expected a checkpoint, got {other:?}"),
    };
    core.commit_checkpoint(plan.clone());
    (plan, core.take_effects())
}

fn task_with_volume(id: &str, volume: &str, container_path: &str) -> v1::TaskInfo {
    let mut task = command_task(id);
    task.resources = vec![volume_resource("web", volume, container_path)];
    task
}

fn destroyed(effects: &[Effect]) -> Vec<PathBuf> {
    effects
        .iter()
        .flat_map(|e| match e {
            Effect::DestroyVolumes(paths) => paths.clone(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn new_volumes_are_created_and_reported_on_subscribe() {
    let mut core = core();
    let (plan, effects) = checkpoint(&mut core, &["v1"]);
    assert_eq!(
        plan.record().resources,
        vec![volume_resource("web", "v1", "data")]
    );
    assert_eq!(effects, vec![Effect::CreateVolumes(vec![path("v1")])]);
    let AgentCall::Subscribe {
        checkpointed_resources,
        ..
    } = core.subscribe_call("test")
    else {
        panic!()
    };
    assert_eq!(
        checkpointed_resources,
        vec![volume_resource("web", "v1", "data")]
    );

    // The same set again changes nothing on disk.
    let (_, effects) = checkpoint(&mut core, &["v1"]);
    assert_eq!(effects, vec![]);
}

#[test]
fn removed_volumes_are_destroyed() {
    let mut core = core();
    checkpoint(&mut core, &["v1", "v2"]);
    let (plan, effects) = checkpoint(&mut core, &["v2", "v3"]);
    assert_eq!(
        effects,
        vec![
            Effect::CreateVolumes(vec![path("v3")]),
            Effect::DestroyVolumes(vec![path("v1")])
        ]
    );
    // The deletion is recorded with the set, so a restart finishes it.
    assert_eq!(
        plan.record().pending_destroy,
        vec![volume_resource("web", "v1", "data")]
    );
}

#[test]
fn a_volume_removed_while_in_use_is_destroyed_when_its_task_ends() {
    let mut core = core();
    checkpoint(&mut core, &["v1"]);
    core.run_task(framework(), None, task_with_volume("t1", "v1", "data"), NOW);
    let request = match core.take_effects().as_slice() {
        [Effect::Launch(request)] => (**request).clone(),
        other => panic!("expected a launch, got {other:?}"),
    };
    assert_eq!(request.volumes.len(), 1);
    assert_eq!(request.volumes[0].container_path, PathBuf::from("data"));
    assert_eq!(request.volumes[0].volume.path, Some(path("v1")));

    let (plan, effects) = checkpoint(&mut core, &[]);
    assert_eq!(destroyed(&effects), Vec::<PathBuf>::new(), "still in use");
    assert_eq!(plan.record().pending_destroy.len(), 1);
    let status = &core.snapshot().volumes[0];
    assert!(status.in_use && status.destroyed);

    core.container_launched("F", "t1", &request.container_id, 42);
    subscribe(&mut core, "t1");
    let effects = update(&mut core, "t1", "t1", TaskState::TaskRunning, 1).unwrap();
    assert_eq!(destroyed(&effects), Vec::<PathBuf>::new());
    let effects = update(&mut core, "t1", "t1", TaskState::TaskFinished, 2).unwrap();
    assert_eq!(destroyed(&effects), vec![path("v1")]);
    assert!(core.snapshot().volumes.is_empty());
}

#[test]
fn a_volume_removed_while_its_executor_runs_goes_when_the_container_ends() {
    let mut core = core();
    checkpoint(&mut core, &["v1"]);
    let mut executor = custom_executor("e1");
    executor.resources = vec![volume_resource("web", "v1", "data")];
    core.run_task(framework(), Some(executor), command_task("t1"), NOW);
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!()
    };
    assert_eq!(request.volumes.len(), 1, "the executor's own volume");
    checkpoint(&mut core, &[]);
    let exit = Exit {
        status: 0,
        message: "exited with status 0".into(),
        limitation: None,
    };
    core.container_exited("F", "e1", &request.container_id, exit, NOW);
    assert_eq!(destroyed(&core.take_effects()), vec![path("v1")]);
}

#[test]
fn invalid_sets_are_refused() {
    let mut core = core();
    checkpoint(&mut core, &["v1"]);
    let mut unreserved = volume_resource("web", "v2", "data");
    unreserved.reservations.clear();
    core.handle_master(
        MasterMessage::CheckpointResources {
            resources: vec![unreserved],
        },
        NOW,
    );
    assert_eq!(core.take_effects(), vec![]);
    assert_eq!(core.checkpointed(), &[volume_resource("web", "v1", "data")]);
}

#[test]
fn tasks_with_unknown_or_absolute_volumes_are_not_launched() {
    let mut core = core();
    checkpoint(&mut core, &["v1"]);

    core.run_task(framework(), None, task_with_volume("t1", "v9", "data"), NOW);
    let effects = core.take_effects();
    assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
    let updates = status_updates(&effects);
    assert_eq!(updates[0].state(), TaskState::TaskLost);
    assert_eq!(updates[0].reason(), Reason::ResourcesUnknown);

    core.run_task(
        framework(),
        None,
        task_with_volume("t2", "v1", "/data"),
        NOW,
    );
    let effects = core.take_effects();
    assert!(!effects.iter().any(|e| matches!(e, Effect::Launch(_))));
    let updates = status_updates(&effects);
    assert_eq!(updates[0].state(), TaskState::TaskFailed);
    assert_eq!(updates[0].reason(), Reason::ContainerLaunchFailed);
    assert!(
        updates[0].message().contains("relative to the sandbox"),
        "{:?}",
        updates[0]
    );
    assert!(core.snapshot().frameworks.is_empty(), "nothing recorded");
}

#[test]
fn a_task_for_a_running_executor_gets_its_volume_before_delivery() {
    let mut core = core();
    checkpoint(&mut core, &["v1"]);
    core.run_task(
        framework(),
        Some(custom_executor("e1")),
        command_task("t1"),
        NOW,
    );
    let Effect::Launch(request) = core.take_effects().remove(0) else {
        panic!()
    };
    assert!(request.volumes.is_empty());
    core.container_launched("F", "e1", &request.container_id, 7);
    subscribe(&mut core, "e1");

    let task = task_with_volume("t2", "v1", "data");
    core.run_task(framework(), Some(custom_executor("e1")), task, NOW);
    let effects = core.take_effects();
    match effects.as_slice() {
        [Effect::AttachVolumes {
            executor_id,
            container_id,
            directory,
            volumes,
            ..
        }, Effect::ToExecutor { .. }] => {
            assert_eq!(executor_id, "e1");
            assert_eq!(container_id, &request.container_id);
            assert_eq!(directory, &request.directory);
            assert_eq!(volumes[0].volume.id, "v1");
        }
        other => panic!("expected attach then launch, got {other:?}"),
    }
    assert_eq!(executor_events(&effects), vec![event::Type::Launch]);

    // Exposing it failed: the container is shut down and its tasks fail as Mesos's do.
    core.volumes_failed("F", "e1", &request.container_id, "boom");
    assert_eq!(
        executor_events(&core.take_effects()),
        vec![event::Type::Shutdown]
    );
    let exit = Exit {
        status: 0,
        message: "exited with status 0".into(),
        limitation: None,
    };
    core.container_exited("F", "e1", &request.container_id, exit, NOW);
    let effects = core.take_effects();
    let updates = status_updates(&effects);
    assert!(!updates.is_empty());
    assert_eq!(updates[0].reason(), Reason::ContainerUpdateFailed);
}
