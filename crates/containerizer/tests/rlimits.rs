//! The `posix/rlimits` isolator with real processes.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::sync::Arc;

use corral_containerizer::{
    build_isolators, CgroupMode, Command, ContainerId, Containerizer, ContainerizerError,
    LaunchError, LaunchSpec, PosixLauncher, Resource, Rlimit, RlimitResource, RlimitValue,
};
use nix::sys::resource::{getrlimit, RLIM_INFINITY};
use nix::unistd::geteuid;
use tempfile::TempDir;

fn containerizer() -> Containerizer {
    let isolators = build_isolators("posix/rlimits", &CgroupMode::None).unwrap();
    let names: Vec<&str> = isolators.iter().map(|i| i.name()).collect();
    assert_eq!(names, vec!["posix/rlimits"]);
    Containerizer::new(Arc::new(PosixLauncher::new()), isolators)
}

fn spec(name: &str, sandbox: &TempDir, script: &str) -> LaunchSpec {
    LaunchSpec::new(
        ContainerId::new(name).unwrap(),
        Command::Shell(script.into()),
        sandbox.path(),
    )
}

/// Whether this process may set an unlimited core hard limit.
fn can_unlimit_core() -> bool {
    geteuid().is_root() || getrlimit(Resource::RLIMIT_CORE).is_ok_and(|(_, h)| h == RLIM_INFINITY)
}

#[tokio::test]
async fn limits_are_set_in_the_child() {
    let sandbox = TempDir::new().unwrap();
    let c = containerizer();
    let mut s = spec("rl-ok", &sandbox, "ulimit -n; ulimit -Hn; ulimit -c");
    s.rlimits = vec![
        Rlimit::from_parts(RlimitResource::Nofile, Some(123), Some(123)).unwrap(),
        Rlimit::from_parts(RlimitResource::Core, None, None).unwrap(),
    ];
    if !can_unlimit_core() {
        let err = c.launch(&s).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot raise the hard limit of RLMT_CORE"),
            "{err}"
        );
        eprintln!("skipping the output check: not root and the core hard limit is finite");
        return;
    }
    c.launch(&s).await.unwrap();
    let termination = c.wait(&s.container_id).await.unwrap();
    let stdout = fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    let stderr = fs::read_to_string(sandbox.path().join("stderr")).unwrap();
    assert_eq!(
        stdout, "123\n123\nunlimited\n",
        "stderr: {stderr}; {termination:?}"
    );

    // The agent's own limits are untouched.
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert_ne!(soft, 123);
}

#[tokio::test]
async fn soft_below_hard_is_kept() {
    let sandbox = TempDir::new().unwrap();
    let c = containerizer();
    let mut s = spec("rl-soft", &sandbox, "ulimit -Sn; ulimit -Hn");
    s.rlimits = vec![Rlimit::from_parts(RlimitResource::Nofile, Some(50), Some(60)).unwrap()];
    c.launch(&s).await.unwrap();
    c.wait(&s.container_id).await.unwrap();
    assert_eq!(
        fs::read_to_string(sandbox.path().join("stdout")).unwrap(),
        "50\n60\n"
    );
}

#[test]
fn half_set_limits_are_rejected() {
    let err = Rlimit::from_parts(RlimitResource::Nofile, Some(10), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid rlimit RLMT_NOFILE: soft and hard limits must be set together \
         (both unset means unlimited)"
    );
}

#[tokio::test]
async fn invalid_limits_fail_before_launch() {
    let sandbox = TempDir::new().unwrap();
    let c = containerizer();
    let marker = sandbox.path().join("ran");
    let mut s = spec("rl-bad", &sandbox, "touch ran");
    // Built directly (not through `from_parts`, which would already refuse it).
    s.rlimits = vec![Rlimit {
        resource: RlimitResource::Nofile,
        value: RlimitValue::Limited {
            soft: 200,
            hard: 100,
        },
    }];
    let err = c.launch(&s).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid rlimit RLMT_NOFILE: soft limit 200 is greater than hard limit 100"),
        "{err}"
    );
    assert!(
        matches!(err, ContainerizerError::Launch(LaunchError::InvalidSpec(_))),
        "{err:?}"
    );

    // The same resource twice.
    let mut s = spec("rl-dup", &sandbox, "touch ran");
    s.rlimits = vec![
        Rlimit::from_parts(RlimitResource::Core, Some(0), Some(0)).unwrap(),
        Rlimit::from_parts(RlimitResource::Core, None, None).unwrap(),
    ];
    let err = c.launch(&s).await.unwrap_err();
    assert!(
        err.to_string().contains("RLMT_CORE: set more than once"),
        "{err}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !marker.exists(),
        "an invalid spec must not start the program"
    );
    assert!(c.containers().is_empty());
}
