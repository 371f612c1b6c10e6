//! `namespaces/pid` and `filesystem/tmp` with real processes (root only; skipped otherwise).

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_containerizer::procfs;
use corral_containerizer::{
    build_isolators_with, CgroupMode, CgroupsConfig, Command, ContainerId, Containerizer,
    ExitStatus, Isolator, LaunchSpec, PidNamespaceIsolator, PosixLauncher, PrivateTmpIsolator,
    Signal,
};
use nix::unistd::geteuid;
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(30);

fn root_or_skip(test: &str) -> bool {
    let root = geteuid().is_root();
    if !root {
        eprintln!("skipping {test}: namespaces need root");
    }
    root
}

fn containerizer(isolators: Vec<Box<dyn Isolator>>) -> Containerizer {
    Containerizer::new(Arc::new(PosixLauncher::new()), isolators)
}

fn shell(name: &str, sandbox: &TempDir, script: &str) -> LaunchSpec {
    let id = ContainerId::new(name).expect("valid test id");
    LaunchSpec::new(id, Command::Shell(script.into()), sandbox.path())
}

/// Launches, waits for the end (bounded), destroys; returns the status.
async fn run(c: &Containerizer, spec: &LaunchSpec) -> ExitStatus {
    c.launch(spec).await.expect("launch");
    let ended = tokio::time::timeout(LIMIT, c.wait(&spec.container_id))
        .await
        .expect("container did not end in time")
        .expect("wait");
    c.destroy(&spec.container_id, Duration::ZERO)
        .await
        .expect("destroy");
    ended.status
}

fn read(sandbox: &TempDir, file: &str) -> String {
    fs::read_to_string(sandbox.path().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .to_owned()
}

/// Live processes of session `sid` (the relay's), polled until none is left.
async fn session_ends(sid: u32) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let stats = procfs::scan(Path::new("/proc")).expect("scan /proc");
        let left = procfs::live_members(&stats, sid, sid);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left in the session: {left:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn pid_namespace_runs_the_task_as_pid_2_and_relays_its_end() {
    if !root_or_skip("pid_namespace_runs_the_task_as_pid_2_and_relays_its_end") {
        return;
    }
    let c = containerizer(vec![Box::new(PidNamespaceIsolator)]);
    let sandbox = TempDir::new().unwrap();

    // Own pid namespace and /proc; exit code relayed.
    let spec = shell(
        "pidns",
        &sandbox,
        "echo $$ > mypid; ls /proc | grep -c '^[0-9][0-9]*$' > nprocs; exit 3",
    );
    assert_eq!(run(&c, &spec).await, ExitStatus::Exited(3));
    assert_eq!(read(&sandbox, "mypid"), "2");
    let visible: u32 = read(&sandbox, "nprocs").parse().unwrap();
    assert!((2..10).contains(&visible), "sees {visible} processes");

    // Death by a signal is relayed as that signal.
    let spec = shell("pidns-signal", &sandbox, "kill -USR1 $$");
    assert_eq!(
        run(&c, &spec).await,
        ExitStatus::Signaled(Signal::SIGUSR1 as i32)
    );

    // Orphans are reaped by init (no zombie), and what is left dies with the task.
    let spec = shell(
        "pidns-orphans",
        &sandbox,
        // Waits (up to 10 s) until the short orphan is reaped rather than for a fixed time.
        "(sleep 0.1 & echo $! > orphan); (sleep 1000 &); i=0; \
         while [ -e /proc/$(cat orphan) ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
         cat /proc/[0-9]*/stat 2>/dev/null | cut -d' ' -f3 | grep -c Z > zombies; exit 0",
    );
    let launched = c.launch(&spec).await.unwrap();
    let ended = tokio::time::timeout(LIMIT, c.wait(&spec.container_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, ExitStatus::Exited(0));
    assert_eq!(read(&sandbox, "zombies"), "0");
    session_ends(launched.pid).await;
    c.destroy(&spec.container_id, Duration::ZERO).await.unwrap();

    // Destroy's SIGTERM reaches the task (not the relay or init), which dies of it.
    let spec = shell("pidns-term", &sandbox, "touch ready; exec sleep 1000");
    let launched = c.launch(&spec).await.unwrap();
    let deadline = Instant::now() + LIMIT;
    while !sandbox.path().join("ready").exists() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ended = tokio::time::timeout(LIMIT, c.destroy(&spec.container_id, Duration::from_secs(5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, ExitStatus::Signaled(Signal::SIGTERM as i32));
    session_ends(launched.pid).await;

    // A failing exec is still a launch error.
    let mut spec = shell("pidns-noexec", &sandbox, "");
    spec.command = Command::Exec {
        program: "/nonexistent/program".into(),
        args: vec![],
    };
    assert!(tokio::time::timeout(LIMIT, c.launch(&spec))
        .await
        .expect("spawn must not hang")
        .is_err());
}

#[tokio::test]
async fn private_tmp_is_the_sandbox_tmp() {
    if !root_or_skip("private_tmp_is_the_sandbox_tmp") {
        return;
    }
    let c = containerizer(vec![Box::new(PrivateTmpIsolator)]);
    let sandbox = TempDir::new().unwrap();
    let name = format!("corral-private-tmp-{}", std::process::id());
    let spec = shell(
        "tmp",
        &sandbox,
        &format!("echo hi > /tmp/{name} && ls -a /tmp | wc -l > count"),
    );
    assert_eq!(run(&c, &spec).await, ExitStatus::Exited(0));
    assert_eq!(
        fs::read_to_string(sandbox.path().join("tmp").join(&name)).unwrap(),
        "hi\n"
    );
    assert!(
        !Path::new("/tmp").join(&name).exists(),
        "host /tmp untouched"
    );
    // `.`, `..` and our file: nothing of the host's /tmp is visible.
    assert_eq!(read(&sandbox, "count"), "3");
}

#[tokio::test]
async fn namespaces_after_cgroups_leave_nothing_behind() {
    if !root_or_skip("namespaces_after_cgroups_leave_nothing_behind") {
        return;
    }
    let mode = CgroupMode::from_host().unwrap_or(CgroupMode::None);
    let config = CgroupsConfig {
        root_name: format!("corral-test-{}-ns", std::process::id()),
        ..CgroupsConfig::default()
    };
    // Listed first but ordered after the cgroups isolator.
    let isolators =
        build_isolators_with("namespaces/pid,filesystem/tmp,cgroups/pids", &mode, &config).unwrap();
    let names: Vec<&str> = isolators.iter().map(|i| i.name()).collect();
    let c = containerizer(isolators);
    let sandbox = TempDir::new().unwrap();
    let mut spec = shell(
        "ns-cgroups",
        &sandbox,
        "setsid sleep 1000 & echo $$ > mypid; touch /tmp/x; exit 0",
    );
    spec.resources.pids = Some(64);
    let launched = c.launch(&spec).await.unwrap();
    let ended = tokio::time::timeout(LIMIT, c.wait(&spec.container_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, ExitStatus::Exited(0));
    assert_eq!(read(&sandbox, "mypid"), "2");
    assert!(sandbox.path().join("tmp/x").exists());
    c.destroy(&spec.container_id, Duration::ZERO).await.unwrap();
    session_ends(launched.pid).await;
    if let Some(pids) = mode.v1().and_then(|v1| v1.hierarchy("pids")) {
        assert_eq!(names[0], "cgroups/pids", "{names:?}");
        let root = pids.mount.join(&config.root_name);
        assert!(!root.join("ns-cgroups").exists());
        let _ = fs::remove_dir(&root);
    }
    for root in mode
        .v1()
        .map(|v1| {
            v1.hierarchies
                .iter()
                .map(|h| h.mount.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain(mode.v2().map(|v2| v2.mount.clone()))
    {
        let _ = fs::remove_dir(root.join(&config.root_name));
    }
}
