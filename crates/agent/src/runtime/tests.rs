//! The actor with the fake containerizer: effects become launches, waits and master calls.

use std::sync::Arc;
use std::time::Duration;

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_containerizer::fake::FakeLauncher;
use corral_containerizer::{Command as Program, Containerizer, ExitStatus};
use tokio::sync::mpsc;

use super::*;
use crate::core::CoreConfig;
use crate::launch::LaunchConfig;

struct Harness {
    actor: ActorHandle,
    launcher: Arc<FakeLauncher>,
    to_master: mpsc::UnboundedReceiver<AgentCall>,
    /// The master's reason once it told the agent to shut down for good.
    master_shutdown: Arc<std::sync::Mutex<Option<String>>>,
    /// The actor's task (it ends on shutdown).
    running: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let core = AgentCore::new(CoreConfig {
        launch: LaunchConfig {
            work_dir: dir.path().to_path_buf(),
            endpoint: "127.0.0.1:5051".parse().unwrap(),
            executor_binary: "/usr/bin/corral".into(),
            shutdown_grace: Duration::from_secs(5),
            switch_user: false,
            path: Some("/usr/bin:/bin".into()),
            home: None,
            pids_limit: None,
            docker: Default::default(),
            fetcher: Default::default(),
        },
        agent_info: v1::AgentInfo {
            hostname: "h".into(),
            ..Default::default()
        },
        registration_timeout: Duration::from_secs(60),
        status_update_retry: Duration::from_millis(50),
        status_update_retry_max: Duration::from_secs(600),
        executor_recovery_timeout: Duration::from_secs(900),
        executor_reregistration_timeout: Duration::from_secs(2),
    });
    let launcher = Arc::new(FakeLauncher::new());
    let containerizer = Containerizer::new(launcher.clone(), vec![]);
    let (tx, to_master) = mpsc::unbounded_channel();
    let actor = Actor::new(core, containerizer, tx);
    let handle = actor.handle();
    let master_shutdown = actor.master_shutdown_notice();
    let running = tokio::spawn(actor.run());
    handle.send(Command::Link(LinkEvent::Registered {
        agent_id: "A".into(),
    }));
    Harness {
        actor: handle,
        launcher,
        to_master,
        master_shutdown,
        running,
        _dir: dir,
    }
}

fn run_task(id: &str) -> MasterMessage {
    MasterMessage::RunTask {
        framework: v1::FrameworkInfo {
            user: "root".into(),
            name: "fw".into(),
            id: Some(v1::FrameworkId { value: "F".into() }),
            ..Default::default()
        },
        executor: None,
        task: v1::TaskInfo {
            name: id.into(),
            task_id: v1::TaskId { value: id.into() },
            agent_id: v1::AgentId { value: "A".into() },
            command: Some(v1::CommandInfo {
                value: Some("exit 3".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

async fn eventually<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..1000 {
        if let Some(value) = probe() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in time");
}

async fn next_update(to_master: &mut mpsc::UnboundedReceiver<AgentCall>) -> v1::TaskStatus {
    loop {
        let call = tokio::time::timeout(Duration::from_secs(5), to_master.recv())
            .await
            .expect("no call for the master in time")
            .expect("channel closed");
        if let AgentCall::StatusUpdate { status, .. } = call {
            return status;
        }
    }
}

#[tokio::test]
async fn launch_exit_and_retry_through_the_fake_containerizer() {
    let mut h = harness();
    h.actor
        .send(Command::Link(LinkEvent::Message(Box::new(run_task("t1")))));
    let spec = eventually(|| h.launcher.launches().into_iter().next()).await;
    assert_eq!(
        spec.command,
        Program::Exec {
            program: "/usr/bin/corral".into(),
            args: vec!["executor".into()]
        }
    );
    assert!(spec.working_dir.is_dir(), "sandbox created");
    assert!(spec.working_dir.parent().unwrap().join("latest").exists());
    assert!(spec
        .env
        .contains(&("MESOS_EXECUTOR_ID".into(), "t1".into())));
    assert!(!spec.inherit_env);

    // The executor dies before subscribing: the task fails.
    assert!(h
        .launcher
        .complete(&spec.container_id, ExitStatus::Exited(3)));
    let status = next_update(&mut h.to_master).await;
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ExecutorTerminated);
    eventually(|| {
        h.launcher
            .destroyed()
            .contains(&spec.container_id)
            .then_some(())
    })
    .await;

    // Unacknowledged: resent after the retry interval, with the same uuid.
    let again = next_update(&mut h.to_master).await;
    assert_eq!(again.uuid, status.uuid);

    // Acknowledged: the executor and its framework complete.
    let ack = MasterMessage::StatusUpdateAcknowledgement {
        framework_id: v1::FrameworkId { value: "F".into() },
        task_id: v1::TaskId { value: "t1".into() },
        uuid: status.uuid.clone().unwrap(),
    };
    h.actor
        .send(Command::Link(LinkEvent::Message(Box::new(ack))));
    let snapshot = h.actor.snapshot().await.unwrap();
    assert!(snapshot.frameworks.is_empty());
    assert_eq!(snapshot.completed_frameworks.len(), 1);
}

#[tokio::test]
async fn executor_subscribe_streams_events() {
    let h = harness();
    h.actor
        .send(Command::Link(LinkEvent::Message(Box::new(run_task("t1")))));
    eventually(|| h.launcher.launches().into_iter().next()).await;
    let call = v1::executor::Call {
        executor_id: v1::ExecutorId { value: "t1".into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(v1::executor::call::Type::Subscribe as i32),
        subscribe: Some(Default::default()),
        ..Default::default()
    };
    let ExecutorReply::Stream(mut events) =
        h.actor.executor_call(call, Encoding::Json).await.unwrap()
    else {
        panic!("expected a stream");
    };
    let first = events.recv().await.unwrap();
    let first: v1::executor::Event = serde_json::from_slice(&first).unwrap();
    assert_eq!(first.r#type, Some(event::Type::Subscribed as i32));
    let second: v1::executor::Event =
        serde_json::from_slice(&events.recv().await.unwrap()).unwrap();
    assert_eq!(second.launch.unwrap().task.task_id.value, "t1");

    // Shutdown destroys the container and ends the stream.
    let (reply, done) = tokio::sync::oneshot::channel();
    h.actor.send(Command::Shutdown(reply));
    done.await.unwrap();
    assert_eq!(h.launcher.destroyed().len(), 1);
    assert!(events.recv().await.is_none());
}

#[tokio::test]
async fn a_new_subscribe_closes_the_previous_stream() {
    let h = harness();
    h.actor
        .send(Command::Link(LinkEvent::Message(Box::new(run_task("t1")))));
    eventually(|| h.launcher.launches().into_iter().next()).await;
    let subscribe = || v1::executor::Call {
        executor_id: v1::ExecutorId { value: "t1".into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(v1::executor::call::Type::Subscribe as i32),
        subscribe: Some(Default::default()),
        ..Default::default()
    };
    let ExecutorReply::Stream(mut first) = h
        .actor
        .executor_call(subscribe(), Encoding::Protobuf)
        .await
        .unwrap()
    else {
        panic!("expected a stream");
    };
    let ExecutorReply::Stream(mut second) = h
        .actor
        .executor_call(subscribe(), Encoding::Json)
        .await
        .unwrap()
    else {
        panic!("expected a stream");
    };
    // The first stream got SUBSCRIBED and LAUNCH (protobuf), then ended.
    let event =
        <v1::executor::Event as prost::Message>::decode(first.recv().await.unwrap()).unwrap();
    assert_eq!(event.r#type, Some(event::Type::Subscribed as i32));
    first.recv().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), first.recv())
        .await
        .unwrap();
    assert!(ended.is_none());
    let event: v1::executor::Event = serde_json::from_slice(&second.recv().await.unwrap()).unwrap();
    assert_eq!(event.r#type, Some(event::Type::Subscribed as i32));
}

#[tokio::test]
async fn checkpointed_volumes_on_disk_and_in_sandboxes() {
    use crate::volumes::tests::volume_resource;
    let mut h = harness();
    let work = h._dir.path().to_path_buf();
    let volume = volume_resource("eng/web", "v1", "state/data");
    h.actor.send(Command::Link(LinkEvent::Message(Box::new(
        MasterMessage::CheckpointResources {
            resources: vec![volume.clone()],
        },
    ))));
    // Persisted, and the directory exists (the role escaped).
    let directory = work.join("volumes/roles/eng%2Fweb/v1");
    eventually(|| directory.is_dir().then_some(())).await;
    let stored = crate::checkpoint::CheckpointStore::new(&work)
        .load()
        .unwrap();
    assert_eq!(stored.resources, vec![volume.clone()]);
    let snapshot = h.actor.snapshot().await.unwrap();
    assert_eq!(snapshot.checkpointed, vec![volume.clone()]);

    // A task using the volume sees it at its container path.
    let MasterMessage::RunTask {
        framework,
        executor,
        mut task,
    } = run_task("t1")
    else {
        unreachable!()
    };
    task.resources = vec![volume];
    h.actor.send(Command::Link(LinkEvent::Message(Box::new(
        MasterMessage::RunTask {
            framework,
            executor,
            task,
        },
    ))));
    let spec = eventually(|| h.launcher.launches().into_iter().next()).await;
    let link = spec.working_dir.join("state/data");
    assert_eq!(std::fs::read_link(&link).unwrap(), directory);
    std::fs::write(link.join("file"), "kept").unwrap();

    // Destroyed while the task runs: kept until the task ends, then deleted.
    h.actor.send(Command::Link(LinkEvent::Message(Box::new(
        MasterMessage::CheckpointResources { resources: vec![] },
    ))));
    let snapshot = h.actor.snapshot().await.unwrap();
    assert!(snapshot.volumes[0].destroyed && snapshot.volumes[0].in_use);
    assert!(directory.join("file").is_file());
    assert!(h
        .launcher
        .complete(&spec.container_id, ExitStatus::Exited(0)));
    let status = next_update(&mut h.to_master).await;
    assert_eq!(status.state(), TaskState::TaskFailed);
    eventually(|| (!directory.exists()).then_some(())).await;
    assert!(spec.working_dir.is_dir(), "the sandbox stays");
    let stored = crate::checkpoint::CheckpointStore::new(&work)
        .load()
        .unwrap();
    assert!(stored.resources.is_empty());
}

#[tokio::test]
async fn a_shutdown_from_the_master_destroys_every_container_and_stops_the_actor() {
    let h = harness();
    let mut sleeper = run_task("t1");
    if let MasterMessage::RunTask { task, .. } = &mut sleeper {
        task.command = Some(v1::CommandInfo {
            value: Some("sleep 600".into()),
            ..Default::default()
        });
    }
    h.actor
        .send(Command::Link(LinkEvent::Message(Box::new(sleeper))));
    let spec = eventually(|| h.launcher.launches().into_iter().next()).await;
    assert!(h.launcher.is_running(&spec.container_id));
    assert!(h.master_shutdown.lock().unwrap().is_none());

    h.actor.send(Command::Link(LinkEvent::Shutdown {
        message: "marked gone".into(),
    }));
    tokio::time::timeout(Duration::from_secs(10), h.running)
        .await
        .expect("the actor stops")
        .unwrap();
    assert!(h.launcher.destroyed().contains(&spec.container_id));
    assert!(!h.launcher.is_running(&spec.container_id));
    assert_eq!(
        h.master_shutdown.lock().unwrap().as_deref(),
        Some("marked gone")
    );
    // Nothing answers any more.
    assert!(h.actor.snapshot().await.is_err());
}
