//! The agent's side of the fetcher and of running as a user: custom executors' URIs are
//! fetched into the sandbox before they start, the task user gets a cache directory, and an
//! unknown user fails the launch before anything is created.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use corral_agent::core::state::ExecutorKind;
use corral_agent::launch::{fetch_plan, prepare_fetch, prepare_sandbox, FetchPlan};
use corral_api::v1;

fn uri(value: &str) -> v1::command_info::Uri {
    v1::command_info::Uri {
        value: value.into(),
        ..Default::default()
    }
}

#[test]
fn only_custom_executors_fetch_their_own_uris_in_the_agent() {
    let info = v1::ExecutorInfo {
        command: Some(v1::CommandInfo {
            uris: vec![uri("http://h/e.tgz")],
            ..Default::default()
        }),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    assert_eq!(
        fetch_plan(ExecutorKind::Custom, &info, &config).uris.len(),
        1
    );
    assert!(fetch_plan(ExecutorKind::Command, &info, &config)
        .uris
        .is_empty());
    assert!(fetch_plan(ExecutorKind::Default, &info, &config)
        .uris
        .is_empty());
}

fn test_config(work_dir: &std::path::Path) -> corral_agent::launch::LaunchConfig {
    corral_agent::launch::LaunchConfig {
        work_dir: work_dir.to_path_buf(),
        endpoint: "127.0.0.1:5051".parse().unwrap(),
        executor_binary: "/bin/corral".into(),
        shutdown_grace: std::time::Duration::from_secs(5),
        switch_user: true,
        path: None,
        home: None,
        pids_limit: None,
        docker: Default::default(),
        fetcher: corral_agent::launch::FetcherLaunch {
            cache: Some(corral_fetcher::CacheConfig {
                dir: work_dir.join("fetch"),
                max_bytes: 1 << 20,
            }),
        },
    }
}

#[test]
fn executors_learn_the_cache_from_their_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let env = corral_agent::launch::executor_env(
        &config,
        "a",
        &v1::FrameworkInfo::default(),
        &v1::ExecutorInfo::default(),
        dir.path(),
    );
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(
        get("MESOS_FETCHER_CACHE_DIR"),
        Some(dir.path().join("fetch").display().to_string())
    );
    assert_eq!(get("MESOS_FETCHER_CACHE_SIZE").as_deref(), Some("1048576"));
}

#[test]
fn an_unknown_user_creates_no_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("runs/c1");
    let err = prepare_sandbox(&sandbox, Some("no-such-user-corral")).unwrap_err();
    assert!(
        err.to_string()
            .contains("user 'no-such-user-corral' does not exist"),
        "{err}"
    );
    assert!(!sandbox.exists());
}

#[tokio::test]
async fn custom_executor_uris_land_in_the_sandbox_owned_by_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("executor.sh");
    std::fs::write(&source, "#!/bin/sh\nexit 0\n").unwrap();
    let sandbox = dir.path().join("sandbox");
    let root = nix::unistd::geteuid().is_root();
    let user = root.then_some("nobody");
    prepare_sandbox(&sandbox, user).unwrap();
    let mut executable = uri(&source.display().to_string());
    executable.executable = Some(true);
    let cache_dir = dir.path().join("cache");
    let plan = FetchPlan {
        uris: vec![executable],
        cache: Some(corral_fetcher::CacheConfig {
            dir: cache_dir.clone(),
            max_bytes: 1 << 20,
        }),
    };
    prepare_fetch(&plan, &sandbox, user).await.unwrap();
    let fetched = sandbox.join("executor.sh");
    let meta = std::fs::metadata(&fetched).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    let sandbox_meta = std::fs::metadata(&sandbox).unwrap();
    assert_eq!(sandbox_meta.permissions().mode() & 0o777, 0o750);
    if root {
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert_eq!(meta.uid(), nobody.uid.as_raw());
        assert_eq!(sandbox_meta.uid(), nobody.uid.as_raw());
        let user_cache = std::fs::metadata(cache_dir.join("nobody")).unwrap();
        assert_eq!(user_cache.uid(), nobody.uid.as_raw());
        assert_eq!(user_cache.permissions().mode() & 0o777, 0o700);
    }
    // A missing URI fails with the fetcher's message.
    let plan = FetchPlan {
        uris: vec![uri("/nonexistent/corral-executor.tgz")],
        cache: None,
    };
    let err = prepare_fetch(&plan, &sandbox, user).await.unwrap_err();
    assert!(
        err.starts_with("Failed to fetch '/nonexistent/corral-executor.tgz'"),
        "{err}"
    );
}

#[test]
fn fetcher_flags_parse_mesos_sizes() {
    let flags =
        corral_agent::AgentFlags::try_parse_from(["agent", "--master=127.0.0.1:5050"]).unwrap();
    assert_eq!(flags.fetcher_cache_size, 2 << 30, "Mesos's default is 2GB");
    assert_eq!(flags.fetcher_cache_dir, None);
    let flags = corral_agent::AgentFlags::try_parse_from([
        "agent",
        "--master=127.0.0.1:5050",
        "--fetcher_cache_size=512MB",
        "--fetcher_cache_dir=/var/cache/corral",
    ])
    .unwrap();
    assert_eq!(flags.fetcher_cache_size, 512 << 20);
    assert_eq!(
        flags.fetcher_cache_dir.as_deref(),
        Some(std::path::Path::new("/var/cache/corral"))
    );
    assert!(corral_agent::AgentFlags::try_parse_from([
        "agent",
        "--master=127.0.0.1:5050",
        "--fetcher_cache_size=lots",
    ])
    .is_err());
}
