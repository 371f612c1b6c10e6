//! PosixLauncher against real processes.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use corral_containerizer::procfs;
use corral_containerizer::{
    Command, ContainerError, ContainerId, ExitStatus, GoneReason, KnownProcess, LaunchError,
    LaunchInfo, LaunchSpec, Launcher, PosixLauncher, PreExec, Resource, Signal,
};
use nix::sys::signal::kill;
use nix::unistd::{getsid, Pid};
use tempfile::TempDir;

fn id(s: &str) -> ContainerId {
    ContainerId::new(s).expect("valid test id")
}

fn shell(name: &str, sandbox: &TempDir, script: &str) -> LaunchSpec {
    LaunchSpec::new(id(name), Command::Shell(script.into()), sandbox.path())
}

async fn launch(launcher: &PosixLauncher, spec: &LaunchSpec) -> u32 {
    launcher
        .launch(spec, &LaunchInfo::default())
        .await
        .expect("launch")
        .pid
}

/// Waits until `path` exists (a script's "I am ready" marker).
async fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Live (non-zombie) processes of session `sid`.
fn session_pids(sid: u32) -> Vec<u32> {
    let stats = procfs::scan(Path::new("/proc")).expect("scan /proc");
    procfs::live_members(&stats, sid, sid)
        .iter()
        .map(|s| s.pid)
        .collect()
}

fn is_gone(pid: u32) -> bool {
    match procfs::read_stat(Path::new("/proc"), pid).expect("read stat") {
        None => kill(Pid::from_raw(pid as i32), None).is_err(),
        Some(stat) => stat.is_dead(),
    }
}

#[tokio::test]
async fn output_goes_to_sandbox_files() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("out", &sandbox, "echo hi; echo err >&2");
    launch(&launcher, &spec).await;
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(0)
    );
    assert_eq!(
        fs::read_to_string(sandbox.path().join("stdout")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        fs::read_to_string(sandbox.path().join("stderr")).unwrap(),
        "err\n"
    );

    // Output files are appended to, and waiting again returns the same status.
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(0)
    );
    launcher
        .destroy(&spec.container_id, Duration::ZERO)
        .await
        .unwrap();
    launch(&launcher, &spec).await;
    launcher.wait(&spec.container_id).await.unwrap();
    assert_eq!(
        fs::read_to_string(sandbox.path().join("stdout")).unwrap(),
        "hi\nhi\n"
    );
}

#[tokio::test]
async fn exit_code_and_signal() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("code", &sandbox, "exit 3");
    launch(&launcher, &spec).await;
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(3)
    );

    let spec = shell("sig", &sandbox, "kill -USR1 $$");
    launch(&launcher, &spec).await;
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Signaled(Signal::SIGUSR1 as i32)
    );
}

#[tokio::test]
async fn stdin_is_dev_null_and_multiple_waiters() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("stdin", &sandbox, "cat; echo done");
    launch(&launcher, &spec).await;
    let (a, b) = tokio::join!(
        launcher.wait(&spec.container_id),
        launcher.wait(&spec.container_id)
    );
    assert_eq!(a.unwrap(), ExitStatus::Exited(0));
    assert_eq!(b.unwrap(), ExitStatus::Exited(0));
    assert_eq!(
        fs::read_to_string(sandbox.path().join("stdout")).unwrap(),
        "done\n"
    );
}

#[tokio::test]
async fn child_is_in_new_session_and_group() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("session", &sandbox, "touch ready; sleep 1000");
    let launched = launcher
        .launch(&spec, &LaunchInfo::default())
        .await
        .unwrap();
    wait_for_file(&sandbox.path().join("ready")).await;
    let pid = Pid::from_raw(launched.pid as i32);
    assert_eq!(getsid(Some(pid)).unwrap(), pid);
    assert_eq!(nix::unistd::getpgid(Some(pid)).unwrap(), pid);
    let stat = procfs::read_stat(Path::new("/proc"), launched.pid)
        .unwrap()
        .unwrap();
    assert_eq!(launched.start_time, Some(stat.start_time));
    launcher
        .destroy(&spec.container_id, Duration::ZERO)
        .await
        .unwrap();
}

#[tokio::test]
async fn env_is_exactly_what_was_given() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let mut spec = LaunchSpec::new(
        id("env"),
        Command::Exec {
            program: "/usr/bin/env".into(),
            args: vec![],
        },
        sandbox.path(),
    );
    spec.env = vec![
        ("FOO".into(), "bar baz".into()),
        ("EMPTY".into(), String::new()),
    ];
    let info = LaunchInfo {
        env: vec![("FROM_ISOLATOR".into(), "1".into())],
        pre_exec: vec![],
    };
    launcher.launch(&spec, &info).await.unwrap();
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(0)
    );
    let out = fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, vec!["EMPTY=", "FOO=bar baz", "FROM_ISOLATOR=1"]);
}

#[tokio::test]
async fn inherit_env_keeps_agent_environment() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let mut spec = shell("inherit", &sandbox, "echo \"$CARGO_MANIFEST_DIR|$X\"");
    spec.inherit_env = true;
    spec.env = vec![("X".into(), "y".into())];
    launch(&launcher, &spec).await;
    launcher.wait(&spec.container_id).await.unwrap();
    let out = fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    let expected = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    assert_eq!(out, format!("{expected}|y\n"));
}

#[tokio::test]
async fn working_dir_and_custom_output_paths() {
    let sandbox = TempDir::new().unwrap();
    fs::create_dir(sandbox.path().join("logs")).unwrap();
    let launcher = PosixLauncher::new();
    let mut spec = shell("cwd", &sandbox, "pwd");
    spec.stdout_path = "logs/out.txt".into();
    launch(&launcher, &spec).await;
    launcher.wait(&spec.container_id).await.unwrap();
    let out = fs::read_to_string(sandbox.path().join("logs/out.txt")).unwrap();
    assert_eq!(
        Path::new(out.trim()),
        sandbox.path().canonicalize().unwrap()
    );
}

#[tokio::test]
async fn destroy_kills_the_whole_group() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell(
        "tree",
        &sandbox,
        "sleep 1000 & sleep 1000 & touch ready; wait",
    );
    let pid = launch(&launcher, &spec).await;
    wait_for_file(&sandbox.path().join("ready")).await;
    let before = session_pids(pid);
    assert!(before.len() >= 3, "{before:?}");

    // Destroy returns as soon as the group is gone; the grace only bounds a slow SIGTERM.
    let status = launcher
        .destroy(&spec.container_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Signaled(Signal::SIGTERM as i32));
    assert!(session_pids(pid).is_empty());
    for p in before {
        assert!(is_gone(p), "{p} survived");
    }
    assert!(launcher.containers().is_empty());
    assert!(matches!(
        launcher.wait(&spec.container_id).await,
        Err(ContainerError::UnknownContainer(_))
    ));
}

#[tokio::test]
async fn destroy_reaches_processes_that_left_the_group() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    // The background job moves to its own process group (same session).
    let spec = shell(
        "pgrp",
        &sandbox,
        "perl -e 'setpgrp(0, 0); open(F, \">ready\"); close(F); sleep 1000' & wait",
    );
    let pid = launch(&launcher, &spec).await;
    wait_for_file(&sandbox.path().join("ready")).await;
    let stats = procfs::scan(Path::new("/proc")).unwrap();
    let escaped: Vec<u32> = procfs::live_members(&stats, pid, pid)
        .iter()
        .filter(|s| s.pgrp != pid)
        .map(|s| s.pid)
        .collect();
    assert_eq!(escaped.len(), 1, "expected one process in another group");
    launcher
        .destroy(&spec.container_id, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(is_gone(escaped[0]));
    assert!(session_pids(pid).is_empty());
}

#[tokio::test]
async fn sigterm_ignoring_process_is_killed_after_grace() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell(
        "stubborn",
        &sandbox,
        "trap '' TERM; touch ready; sleep 1000 & wait",
    );
    let pid = launch(&launcher, &spec).await;
    wait_for_file(&sandbox.path().join("ready")).await;
    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let status = launcher.destroy(&spec.container_id, grace).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(status, ExitStatus::Signaled(Signal::SIGKILL as i32));
    assert!(elapsed >= grace, "killed after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(session_pids(pid).is_empty());
}

#[tokio::test]
async fn destroy_stopped_process() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("stopped", &sandbox, "touch ready; sleep 1000");
    let pid = launch(&launcher, &spec).await;
    wait_for_file(&sandbox.path().join("ready")).await;
    launcher
        .signal(&spec.container_id, Signal::SIGSTOP)
        .await
        .unwrap();
    let started = Instant::now();
    launcher
        .destroy(&spec.container_id, Duration::from_secs(5))
        .await
        .unwrap();
    // SIGCONT lets the stopped process act on SIGTERM well before the grace ends.
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(session_pids(pid).is_empty());
}

#[tokio::test]
async fn signal_reaches_group_and_fails_when_nothing_runs() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell(
        "signal",
        &sandbox,
        "trap 'echo got; exit 7' USR1; touch ready; while :; do sleep 0.01; done",
    );
    launch(&launcher, &spec).await;
    wait_for_file(&sandbox.path().join("ready")).await;
    launcher
        .signal(&spec.container_id, Signal::SIGUSR1)
        .await
        .unwrap();
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(7)
    );
    assert!(matches!(
        launcher.signal(&spec.container_id, Signal::SIGTERM).await,
        Err(ContainerError::NotRunning(_))
    ));
    assert!(matches!(
        launcher.signal(&id("nope"), Signal::SIGTERM).await,
        Err(ContainerError::UnknownContainer(_))
    ));
}

#[tokio::test]
async fn unknown_user_is_a_typed_error() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let mut spec = shell("user", &sandbox, "true");
    spec.user = Some("corral-no-such-user".into());
    match launcher.launch(&spec, &LaunchInfo::default()).await {
        Err(LaunchError::UnknownUser { user }) => assert_eq!(user, "corral-no-such-user"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(launcher.containers().is_empty());
    // The id is free again.
    spec.user = None;
    launch(&launcher, &spec).await;
}

#[tokio::test]
async fn runs_as_another_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let mut spec = shell("nobody", &sandbox, "id -u; id -g");
    spec.user = Some("nobody".into());
    launch(&launcher, &spec).await;
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(0)
    );
    let user = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let out = fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    assert_eq!(out, format!("{}\n{}\n", user.uid, user.gid));
}

#[tokio::test]
async fn launch_errors() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();

    let spec = LaunchSpec::new(
        id("missing"),
        Command::Exec {
            program: "/nonexistent/program".into(),
            args: vec![],
        },
        sandbox.path(),
    );
    assert!(matches!(
        launcher.launch(&spec, &LaunchInfo::default()).await,
        Err(LaunchError::Spawn { .. })
    ));

    let spec = LaunchSpec::new(
        id("nodir"),
        Command::Shell("true".into()),
        "/nonexistent/sandbox",
    );
    assert!(matches!(
        launcher.launch(&spec, &LaunchInfo::default()).await,
        Err(LaunchError::WorkingDir { .. })
    ));

    let mut spec = shell("bad", &sandbox, "true");
    spec.stderr_path = "../escape".into();
    assert!(matches!(
        launcher.launch(&spec, &LaunchInfo::default()).await,
        Err(LaunchError::InvalidSpec(_))
    ));

    let spec = shell("dup", &sandbox, "sleep 1000");
    launch(&launcher, &spec).await;
    assert!(matches!(
        launcher.launch(&spec, &LaunchInfo::default()).await,
        Err(LaunchError::AlreadyExists(_))
    ));
    assert_eq!(launcher.containers(), vec![id("dup")]);
    launcher
        .destroy(&spec.container_id, Duration::ZERO)
        .await
        .unwrap();
}

#[tokio::test]
async fn pre_exec_rlimit_applies() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("rlimit", &sandbox, "ulimit -n");
    let info = LaunchInfo {
        env: vec![],
        pre_exec: vec![PreExec::SetRlimit {
            resource: Resource::RLIMIT_NOFILE,
            soft: 64,
            hard: 128,
        }],
    };
    launcher.launch(&spec, &info).await.unwrap();
    launcher.wait(&spec.container_id).await.unwrap();
    assert_eq!(
        fs::read_to_string(sandbox.path().join("stdout")).unwrap(),
        "64\n"
    );
}

#[tokio::test]
async fn recover_adopts_process_of_another_launcher() {
    let sandbox = TempDir::new().unwrap();
    let first = PosixLauncher::new();
    // Long enough that adopting (slow on a loaded machine) ends well before the process does.
    let spec = shell("adopted", &sandbox, "touch ready; sleep 3");
    let launched = first.launch(&spec, &LaunchInfo::default()).await.unwrap();
    wait_for_file(&sandbox.path().join("ready")).await;

    let second = PosixLauncher::new();
    let report = second
        .recover(vec![
            KnownProcess {
                container_id: spec.container_id.clone(),
                pid: launched.pid,
                start_time: launched.start_time,
            },
            KnownProcess {
                container_id: id("reused"),
                pid: launched.pid,
                start_time: launched.start_time.map(|t| t + 1),
            },
            KnownProcess {
                container_id: id("vanished"),
                pid: 4_000_000,
                start_time: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(report.adopted, vec![spec.container_id.clone()]);
    assert_eq!(
        report.gone,
        vec![
            (id("reused"), GoneReason::PidReused),
            (id("vanished"), GoneReason::NotFound)
        ]
    );

    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), second.wait(&spec.container_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, ExitStatus::Unknown);
    assert!(started.elapsed() > Duration::from_millis(100));
    assert_eq!(
        first.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Exited(0)
    );
    assert_eq!(
        second
            .destroy(&spec.container_id, Duration::ZERO)
            .await
            .unwrap(),
        ExitStatus::Unknown
    );
}

#[tokio::test]
async fn recovered_container_can_be_destroyed() {
    let sandbox = TempDir::new().unwrap();
    let first = PosixLauncher::new();
    let spec = shell("adopted-kill", &sandbox, "sleep 1000 & touch ready; wait");
    let launched = first.launch(&spec, &LaunchInfo::default()).await.unwrap();
    wait_for_file(&sandbox.path().join("ready")).await;

    let second = PosixLauncher::new();
    let known = KnownProcess {
        container_id: spec.container_id.clone(),
        pid: launched.pid,
        start_time: launched.start_time,
    };
    let report = second.recover(vec![known.clone()]).await.unwrap();
    assert_eq!(report.adopted.len(), 1);
    // Recovering a known container again is harmless.
    assert_eq!(second.recover(vec![known]).await.unwrap().adopted.len(), 1);

    second
        .destroy(&spec.container_id, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(session_pids(launched.pid).is_empty());
    assert_eq!(
        first.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Signaled(Signal::SIGTERM as i32)
    );
}

#[tokio::test]
async fn recover_refuses_agents_own_session() {
    let launcher = PosixLauncher::new();
    let own = std::process::id();
    let report = launcher
        .recover(vec![KnownProcess {
            container_id: id("self"),
            pid: own,
            start_time: None,
        }])
        .await
        .unwrap();
    assert!(report.adopted.is_empty());
    assert_eq!(report.gone.len(), 1);
}

#[tokio::test]
async fn refuses_output_files_that_lead_out_of_the_sandbox() {
    let sandbox = TempDir::new().unwrap();
    let outside = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    std::os::unix::fs::symlink(outside.path().join("victim"), sandbox.path().join("stdout"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), sandbox.path().join("dir")).unwrap();
    nix::unistd::mkfifo(&sandbox.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();

    let mut spec = shell("links", &sandbox, "echo hi");
    for (stdout, reason) in [
        ("stdout", "it is a symbolic link"),
        ("dir/out", "its directory resolves outside the sandbox"),
        ("fifo", "it is not a regular file"),
    ] {
        spec.stdout_path = stdout.into();
        match launcher.launch(&spec, &LaunchInfo::default()).await {
            Err(LaunchError::UnsafeOutput { reason: r, .. }) => assert_eq!(r, reason),
            other => panic!("{stdout}: unexpected {other:?}"),
        }
    }
    assert!(!outside.path().join("victim").exists());
    assert!(!outside.path().join("out").exists());
    assert!(launcher.containers().is_empty());
}

/// pymesos executors end with `killpg(0, SIGKILL)`: that must only hit the container.
#[tokio::test]
async fn killpg_zero_inside_container_spares_the_agent() {
    let sandbox = TempDir::new().unwrap();
    let launcher = PosixLauncher::new();
    let spec = shell("killpg0", &sandbox, "sleep 1000 & kill -KILL 0");
    let pid = launch(&launcher, &spec).await;
    assert_eq!(
        launcher.wait(&spec.container_id).await.unwrap(),
        ExitStatus::Signaled(Signal::SIGKILL as i32)
    );
    // The background sleep got the same SIGKILL but may still be on its way out.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !session_pids(pid).is_empty() {
        assert!(Instant::now() < deadline, "{:?}", session_pids(pid));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    launcher
        .destroy(&spec.container_id, Duration::ZERO)
        .await
        .unwrap();
}
