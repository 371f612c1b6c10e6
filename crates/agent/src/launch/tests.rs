//! Tests of the pure launch functions: limits, environment, sandbox paths, rlimits.

use super::*;

fn config() -> LaunchConfig {
    LaunchConfig {
        work_dir: "/w".into(),
        endpoint: "127.0.0.1:5051".parse().unwrap(),
        executor_binary: "/bin/corral".into(),
        shutdown_grace: Duration::from_secs(5),
        switch_user: false,
        path: Some("/bin".into()),
        home: None,
        pids_limit: None,
        docker: Default::default(),
        fetcher: Default::default(),
    }
}

fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn environment_has_the_mesos_variables() {
    let framework = v1::FrameworkInfo {
        id: Some(v1::FrameworkId { value: "fw".into() }),
        checkpoint: Some(true),
        ..Default::default()
    };
    let info = v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: "e1".into() },
        shutdown_grace_period: Some(v1::DurationInfo {
            nanoseconds: 3_000_000_000,
        }),
        command: Some(v1::CommandInfo {
            environment: Some(v1::Environment {
                variables: vec![
                    v1::environment::Variable {
                        name: "PATH".into(),
                        value: Some("/custom".into()),
                        ..Default::default()
                    },
                    v1::environment::Variable {
                        name: "BAD=NAME".into(),
                        value: Some("x".into()),
                        ..Default::default()
                    },
                ],
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let env = executor_env(&config(), "a1", &framework, &info, Path::new("/w/sb"));
    assert_eq!(get(&env, "MESOS_FRAMEWORK_ID"), Some("fw"));
    assert_eq!(get(&env, "MESOS_EXECUTOR_ID"), Some("e1"));
    assert_eq!(get(&env, "MESOS_SANDBOX"), Some("/w/sb"));
    assert_eq!(get(&env, "MESOS_AGENT_ENDPOINT"), Some("127.0.0.1:5051"));
    assert_eq!(
        get(&env, "MESOS_SLAVE_PID"),
        Some("slave(1)@127.0.0.1:5051")
    );
    assert_eq!(get(&env, "MESOS_CHECKPOINT"), Some("1"));
    assert_eq!(
        get(&env, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"),
        Some("3secs")
    );
    assert_eq!(get(&env, "PATH"), Some("/custom"));
    assert_eq!(get(&env, "BAD=NAME"), None);
    assert_eq!(env.iter().filter(|(n, _)| n == "PATH").count(), 1);
}

#[test]
fn commands() {
    let bin = Path::new("/bin/corral");
    let info = v1::ExecutorInfo::default();
    assert_eq!(
        executor_command(ExecutorKind::Default, &info, bin).unwrap(),
        Command::Exec {
            program: "/bin/corral".into(),
            args: vec!["executor".into(), "--default".into()]
        }
    );
    assert!(executor_command(ExecutorKind::Custom, &info, bin).is_err());
    let info = v1::ExecutorInfo {
        command: Some(v1::CommandInfo {
            value: Some("/usr/bin/python3".into()),
            shell: Some(false),
            arguments: vec!["python3".into(), "-c".into(), "pass".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        executor_command(ExecutorKind::Custom, &info, bin).unwrap(),
        Command::Exec {
            program: "/usr/bin/python3".into(),
            args: vec!["-c".into(), "pass".into()]
        }
    );
}

fn with_resources(cpus: f64, mem: f64) -> Vec<v1::Resource> {
    serde_json::from_value(serde_json::json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
    ]))
    .unwrap()
}

fn task(cpus: f64, mem: f64) -> v1::TaskInfo {
    v1::TaskInfo {
        resources: with_resources(cpus, mem),
        ..Default::default()
    }
}

#[test]
fn command_tasks_get_the_command_executor_overhead() {
    let limits = container_limits(
        ExecutorKind::Command,
        &v1::ExecutorInfo::default(),
        &[task(0.5, 32.0)],
        Some(64),
    );
    assert!((limits.cpus.unwrap() - 0.6).abs() < 1e-9, "{limits:?}");
    assert_eq!(limits.mem_bytes, Some(64 << 20));
    assert_eq!(limits.pids, Some(64));
}

#[test]
fn persistent_volumes_are_not_part_of_the_sandbox_disk_quota() {
    let mut t = task(0.5, 32.0);
    t.resources.extend(
        serde_json::from_value::<Vec<v1::Resource>>(serde_json::json!([
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 100.0}},
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 500.0},
             "reservations": [{"type": "DYNAMIC", "role": "web"}],
             "disk": {"persistence": {"id": "v1"},
                      "volume": {"mode": "RW", "container_path": "data"}}}
        ]))
        .unwrap(),
    );
    let limits = container_limits(
        ExecutorKind::Command,
        &v1::ExecutorInfo::default(),
        &[t],
        None,
    );
    assert_eq!(limits.disk_bytes, Some(100 << 20), "{limits:?}");
}

#[test]
fn executor_limits_add_its_resources_and_its_tasks() {
    let info = v1::ExecutorInfo {
        resources: with_resources(0.1, 32.0),
        ..Default::default()
    };
    let tasks = [task(1.0, 100.0), task(0.5, 28.0)];
    let limits = container_limits(ExecutorKind::Default, &info, &tasks, None);
    assert!((limits.cpus.unwrap() - 1.6).abs() < 1e-9, "{limits:?}");
    assert_eq!(limits.mem_bytes, Some(160 << 20));
    assert_eq!(limits.pids, None);
    // Custom executors get no overhead.
    let limits = container_limits(
        ExecutorKind::Custom,
        &v1::ExecutorInfo::default(),
        &[task(2.0, 48.0)],
        None,
    );
    assert_eq!(limits.cpus, Some(2.0));
    assert_eq!(limits.mem_bytes, Some(48 << 20));
}

#[test]
fn limits_have_floors_and_absent_resources_are_unlimited() {
    let limits = container_limits(
        ExecutorKind::Custom,
        &v1::ExecutorInfo::default(),
        &[task(0.001, 1.0)],
        Some(0),
    );
    assert_eq!(limits.cpus, Some(MIN_CPUS));
    assert_eq!(limits.mem_bytes, Some(32 << 20));
    assert_eq!(limits.pids, None);
    let limits = container_limits(
        ExecutorKind::Custom,
        &v1::ExecutorInfo::default(),
        &[],
        None,
    );
    assert_eq!(limits, ResourceLimits::default());
    // Invalid resources are skipped, not trusted.
    let bad = v1::TaskInfo {
        resources: serde_json::from_value(serde_json::json!([
            {"name": "mem", "type": "SCALAR", "scalar": {"value": -5.0}}
        ]))
        .unwrap(),
        ..Default::default()
    };
    let limits = container_limits(
        ExecutorKind::Custom,
        &v1::ExecutorInfo::default(),
        &[bad],
        None,
    );
    assert_eq!(limits.mem_bytes, None);
}

#[test]
fn task_limits_replace_requests() {
    let mut limited = task(0.5, 64.0);
    limited
        .limits
        .insert("mem".into(), v1::value::Scalar { value: 256.0 });
    limited.limits.insert(
        "cpus".into(),
        v1::value::Scalar {
            value: f64::INFINITY,
        },
    );
    let limits = container_limits(
        ExecutorKind::Command,
        &v1::ExecutorInfo::default(),
        &[limited],
        None,
    );
    assert_eq!(limits.mem_bytes, Some((256 + 32) << 20));
    assert_eq!(limits.cpus, None, "an infinite limit lifts the cap");
}

fn rlimit_container(limits: &[(i32, Option<u64>, Option<u64>)]) -> v1::ContainerInfo {
    v1::ContainerInfo {
        rlimit_info: Some(v1::RLimitInfo {
            rlimits: limits
                .iter()
                .map(|(kind, soft, hard)| v1::r_limit_info::RLimit {
                    r#type: Some(*kind),
                    soft: *soft,
                    hard: *hard,
                })
                .collect(),
        }),
        ..Default::default()
    }
}

#[test]
fn rlimits_come_from_the_task_for_command_tasks() {
    use corral_containerizer::{RlimitResource, RlimitValue};
    use v1::r_limit_info::r_limit::Type;
    let mut t = task(1.0, 32.0);
    t.container = Some(rlimit_container(&[
        (Type::RlmtNofile as i32, Some(123), Some(123)),
        (Type::RlmtCore as i32, None, None),
    ]));
    let info = v1::ExecutorInfo::default();
    let limits = container_rlimits(ExecutorKind::Command, &info, std::slice::from_ref(&t)).unwrap();
    assert_eq!(limits.len(), 2);
    assert_eq!(limits[0].resource, RlimitResource::Nofile);
    assert_eq!(
        limits[0].value,
        RlimitValue::Limited {
            soft: 123,
            hard: 123
        }
    );
    assert_eq!(limits[1].value, RlimitValue::Unlimited);
    // A custom executor's limits are its own container's.
    assert!(container_rlimits(ExecutorKind::Custom, &info, &[])
        .unwrap()
        .is_empty());

    for (bad, message) in [
        (
            (Type::RlmtNofile as i32, Some(1), None),
            "must be set together",
        ),
        (
            (Type::RlmtNofile as i32, Some(2), Some(1)),
            "greater than hard limit",
        ),
        ((0, None, None), "unknown type"),
    ] {
        t.container = Some(rlimit_container(&[bad]));
        let err =
            container_rlimits(ExecutorKind::Command, &info, std::slice::from_ref(&t)).unwrap_err();
        assert!(err.contains(message), "{err}");
    }
}

#[test]
fn launch_spec_carries_the_limits() {
    let limits = ResourceLimits {
        cpus: Some(0.6),
        mem_bytes: Some(64 << 20),
        pids: Some(32),
        disk_bytes: None,
    };
    let request = LaunchRequest {
        framework_id: "f".into(),
        executor_id: "e".into(),
        container_id: "c1".into(),
        directory: "/tmp".into(),
        command: Command::Shell("true".into()),
        env: vec![],
        user: None,
        volumes: vec![],
        limits,
        image: None,
        gpus: 0,
        rlimits: vec![],
        fetch: FetchPlan::default(),
    };
    assert_eq!(launch_spec(&request).unwrap().resources, limits);
}

#[test]
fn sandbox_and_latest_link() {
    let dir = tempfile::tempdir().unwrap();
    let run = sandbox_dir(dir.path(), "a", "f", "e", "c1");
    prepare_sandbox(&run, None).unwrap();
    let run2 = sandbox_dir(dir.path(), "a", "f", "e", "c2");
    prepare_sandbox(&run2, None).unwrap();
    let latest = run.parent().unwrap().join("latest");
    assert_eq!(std::fs::read_link(&latest).unwrap(), Path::new("c2"));
    assert!(latest.join(".").is_dir());
}
