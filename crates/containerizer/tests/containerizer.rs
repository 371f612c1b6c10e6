//! Containerizer lifecycle with fakes, and once with real processes.

use std::sync::Arc;
use std::time::Duration;

use corral_containerizer::fake::{FakeIsolator, FakeLauncher, IsolatorCall, FIRST_FAKE_PID};
use corral_containerizer::{
    Command, ContainerError, ContainerId, Containerizer, ContainerizerError, ExitStatus,
    GoneReason, KnownProcess, LaunchError, LaunchInfo, LaunchSpec, Launcher, Limitation,
    LimitationKind, PosixLauncher, PosixUsageIsolator, ProcfsUsage, ResourceUsage, Signal,
};

fn id(s: &str) -> ContainerId {
    ContainerId::new(s).expect("valid test id")
}

fn spec(name: &str) -> LaunchSpec {
    LaunchSpec::new(id(name), Command::Shell("true".into()), "/tmp")
}

/// A containerizer over fakes; the isolators are shared so the test can inspect them.
fn fakes() -> (
    Containerizer,
    Arc<FakeLauncher>,
    Arc<FakeIsolator>,
    Arc<FakeIsolator>,
) {
    let launcher = Arc::new(FakeLauncher::new());
    let a = Arc::new(FakeIsolator::new("a"));
    let b = Arc::new(FakeIsolator::new("b"));
    let containerizer = Containerizer::new(
        launcher.clone(),
        vec![Box::new(a.clone()), Box::new(b.clone())],
    );
    (containerizer, launcher, a, b)
}

#[tokio::test]
async fn fake_launcher_records_and_completes() {
    let launcher = FakeLauncher::new();
    let s = spec("c1");
    let launched = launcher.launch(&s, &LaunchInfo::default()).await.unwrap();
    assert_eq!(launched.pid, FIRST_FAKE_PID);
    assert_eq!(launcher.launches(), vec![s.clone()]);
    assert!(launcher.is_running(&s.container_id));

    let waiter = launcher.wait(&s.container_id);
    assert!(launcher.complete(&s.container_id, ExitStatus::Exited(42)));
    assert_eq!(waiter.await.unwrap(), ExitStatus::Exited(42));
    assert!(!launcher.complete(&s.container_id, ExitStatus::Exited(0)));
    assert!(matches!(
        launcher.signal(&s.container_id, Signal::SIGTERM).await,
        Err(ContainerError::NotRunning(_))
    ));
    assert_eq!(
        launcher
            .destroy(&s.container_id, Duration::ZERO)
            .await
            .unwrap(),
        ExitStatus::Exited(42)
    );
    assert_eq!(launcher.destroyed(), vec![s.container_id.clone()]);

    launcher.fail_next_launch();
    assert!(matches!(
        launcher.launch(&s, &LaunchInfo::default()).await,
        Err(LaunchError::Spawn { .. })
    ));
    launcher.launch(&s, &LaunchInfo::default()).await.unwrap();
    launcher
        .signal(&s.container_id, Signal::SIGKILL)
        .await
        .unwrap();
    assert_eq!(
        launcher.wait(&s.container_id).await.unwrap(),
        ExitStatus::Signaled(Signal::SIGKILL as i32)
    );
}

#[tokio::test]
async fn lifecycle_calls_isolators_in_order() {
    let (containerizer, launcher, a, b) = fakes();
    let s = spec("c1");
    let launched = containerizer.launch(&s).await.unwrap();
    assert!(matches!(
        containerizer.launch(&s).await,
        Err(ContainerizerError::AlreadyExists(_))
    ));

    b.set_usage(
        &s.container_id,
        ResourceUsage {
            mem_rss_bytes: Some(10),
            cpu_user_secs: Some(1.5),
            ..ResourceUsage::default()
        },
    );
    a.set_usage(
        &s.container_id,
        ResourceUsage {
            mem_rss_bytes: Some(20),
            ..ResourceUsage::default()
        },
    );
    let usage = containerizer.usage(&s.container_id).await.unwrap();
    assert_eq!(usage.mem_rss_bytes, Some(20));
    assert_eq!(usage.cpu_user_secs, Some(1.5));

    launcher.complete(&s.container_id, ExitStatus::Exited(0));
    let termination = containerizer.wait(&s.container_id).await.unwrap();
    assert_eq!(termination.status, ExitStatus::Exited(0));
    assert_eq!(termination.limitation, None);
    let destroyed = containerizer
        .destroy(&s.container_id, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(destroyed.status, ExitStatus::Exited(0));

    let c = s.container_id.clone();
    assert_eq!(
        a.calls(),
        vec![
            IsolatorCall::Prepare(c.clone()),
            IsolatorCall::Isolate(c.clone(), launched.pid),
            IsolatorCall::Cleanup(c.clone()),
        ]
    );
    assert_eq!(b.calls(), a.calls());
    assert!(containerizer.containers().is_empty());
    assert!(matches!(
        containerizer.wait(&c).await,
        Err(ContainerizerError::UnknownContainer(_))
    ));
}

#[tokio::test]
async fn failed_prepare_or_isolate_undoes_everything() {
    let (containerizer, launcher, a, b) = fakes();
    b.fail_prepare(true);
    let s = spec("c1");
    assert!(matches!(
        containerizer.launch(&s).await,
        Err(ContainerizerError::Isolator {
            isolator: "b",
            op: "prepare",
            ..
        })
    ));
    assert!(launcher.launches().is_empty());
    assert!(a
        .calls()
        .contains(&IsolatorCall::Cleanup(s.container_id.clone())));
    assert!(containerizer.containers().is_empty());

    b.fail_prepare(false);
    a.fail_isolate(true);
    assert!(matches!(
        containerizer.launch(&s).await,
        Err(ContainerizerError::Isolator {
            isolator: "a",
            op: "isolate",
            ..
        })
    ));
    assert_eq!(launcher.destroyed(), vec![s.container_id.clone()]);
    assert!(containerizer.containers().is_empty());

    a.fail_isolate(false);
    launcher.fail_next_launch();
    assert!(matches!(
        containerizer.launch(&s).await,
        Err(ContainerizerError::Launch(LaunchError::Spawn { .. }))
    ));
    containerizer.launch(&s).await.unwrap();
}

#[tokio::test]
async fn limitation_kills_container_and_is_reported() {
    let (containerizer, launcher, _a, b) = fakes();
    let s = spec("c1");
    containerizer.launch(&s).await.unwrap();
    let limitation = Limitation {
        kind: LimitationKind::Memory,
        message: "memory limit exceeded".into(),
    };
    b.limit(&s.container_id, limitation.clone());
    let termination =
        tokio::time::timeout(Duration::from_secs(5), containerizer.wait(&s.container_id))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        termination.status,
        ExitStatus::Signaled(Signal::SIGKILL as i32)
    );
    assert_eq!(termination.limitation, Some(limitation.clone()));
    assert_eq!(
        launcher.signals(),
        vec![(s.container_id.clone(), Signal::SIGKILL)]
    );
    let destroyed = containerizer
        .destroy(&s.container_id, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(destroyed.limitation, Some(limitation));
}

#[tokio::test]
async fn recover_adopts_and_cleans_up_gone() {
    let (containerizer, launcher, a, _b) = fakes();
    launcher.set_gone_on_recover([id("gone")]);
    let report = containerizer
        .recover(vec![
            KnownProcess {
                container_id: id("alive"),
                pid: 123,
                start_time: None,
            },
            KnownProcess {
                container_id: id("gone"),
                pid: 124,
                start_time: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(report.adopted, vec![id("alive")]);
    assert_eq!(report.gone, vec![(id("gone"), GoneReason::NotFound)]);
    assert_eq!(
        a.calls(),
        vec![
            IsolatorCall::Recover(id("alive")),
            IsolatorCall::Cleanup(id("gone"))
        ]
    );
    assert_eq!(containerizer.containers(), vec![id("alive")]);
    launcher.complete(&id("alive"), ExitStatus::Exited(1));
    assert_eq!(
        containerizer.wait(&id("alive")).await.unwrap().status,
        ExitStatus::Exited(1)
    );
}

#[tokio::test]
async fn real_processes_with_usage() {
    let sandbox = tempfile::TempDir::new().unwrap();
    let containerizer = Containerizer::new(
        Arc::new(PosixLauncher::new()),
        vec![Box::new(PosixUsageIsolator::new(ProcfsUsage::new()))],
    );
    let mut s = LaunchSpec::new(
        id("real"),
        Command::Shell("touch ready; sleep 1000 & sleep 1000 & wait".into()),
        sandbox.path(),
    );
    s.resources.mem_bytes = Some(64 << 20);
    containerizer.launch(&s).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let usage = loop {
        let usage = containerizer.usage(&s.container_id).await.unwrap();
        if usage.processes == Some(3) {
            break usage;
        }
        assert!(std::time::Instant::now() < deadline, "{usage:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(usage.mem_rss_bytes.unwrap() > 0);
    assert!(usage.threads.unwrap() >= 3);
    assert!(usage.cpu_user_secs.is_some());
    assert_eq!(usage.mem_limit_bytes, Some(64 << 20));

    // A generous grace: the shell dies of SIGTERM at once, and destroy returns then; a short
    // one would turn a slow scheduling on a loaded machine into SIGKILL.
    let termination = containerizer
        .destroy(&s.container_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        termination.status,
        ExitStatus::Signaled(Signal::SIGTERM as i32)
    );
    assert!(containerizer.containers().is_empty());
}
