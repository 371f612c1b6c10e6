//! The real agent with `--isolation cgroups/cpu,cgroups/mem,cgroups/pids` against the fake
//! master: a memory balloon fails with REASON_CONTAINER_LIMITATION_MEMORY, usage comes from
//! the cgroups, and a kill leaves nothing behind, not even a process that left the session.
//!
//! These need root and the cpu, memory and pids controllers; without them each test prints
//! why and passes. Each test uses its own cgroup root, removed at the end even on failure.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_containerizer::CgroupMode;
use serde_json::Value as Json;
use support::{run_command_task, run_custom_task, FakeMaster};

/// The host's cgroup mode if these tests can run here, else why not.
fn cgroups_or_skip(test: &str) -> Option<CgroupMode> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping {test}: needs root to create cgroups");
        return None;
    }
    let mode = match CgroupMode::from_host() {
        Ok(CgroupMode::None) | Err(_) => {
            eprintln!("skipping {test}: no cgroups on this host");
            return None;
        }
        Ok(mode) => mode,
    };
    for controller in ["cpu", "memory", "pids"] {
        let v1 = mode
            .v1()
            .is_some_and(|v1| v1.hierarchy(controller).is_some());
        let v2 = mode.v1().is_none()
            && mode
                .v2()
                .and_then(|v2| v2.available_controllers().ok())
                .is_some_and(|set| set.contains(controller));
        if !v1 && !v2 {
            eprintln!("skipping {test}: cgroup controller {controller} is unavailable");
            return None;
        }
    }
    Some(mode)
}

/// A cgroup root of one test: removed, with whatever is left in it, on drop.
struct CgroupRoot {
    name: String,
    dirs: Vec<PathBuf>,
}

impl CgroupRoot {
    fn new(mode: &CgroupMode, test: &str) -> Self {
        let name = format!("corral-agent-test-{}-{test}", std::process::id());
        let mut dirs: Vec<PathBuf> = mode
            .v1()
            .map(|v1| v1.hierarchies.iter().map(|h| h.mount.join(&name)).collect())
            .unwrap_or_default();
        if let Some(v2) = mode.v2() {
            dirs.push(v2.mount.join(&name));
        }
        Self { name, dirs }
    }
}

impl Drop for CgroupRoot {
    fn drop(&mut self) {
        for dir in &self.dirs {
            remove_cgroup(dir);
        }
    }
}

/// Kills what is in a cgroup tree and removes it, children first (best effort).
fn remove_cgroup(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path());
        }
    }
    for _ in 0..50 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("could not remove test cgroup {}", dir.display());
}

async fn start_isolated_agent(
    master: &FakeMaster,
    work_dir: &std::path::Path,
    root: &CgroupRoot,
) -> corral_agent::RunningAgent {
    start_isolated_agent_with(master, work_dir, root, "/bin/false").await
}

async fn start_isolated_agent_with(
    master: &FakeMaster,
    work_dir: &std::path::Path,
    root: &CgroupRoot,
    executor_binary: &str,
) -> corral_agent::RunningAgent {
    let flags = corral_agent::AgentFlags::try_parse_from([
        "agent".to_string(),
        format!("--master=127.0.0.1:{}", master.addr.port()),
        "--port=0".to_string(),
        format!("--work_dir={}", work_dir.display()),
        "--resources=cpus:2;mem:1024;disk:2048;ports:[31000-31010]".to_string(),
        "--status_update_retry_interval=300ms".to_string(),
        format!("--executor_binary={executor_binary}"),
        "--isolation=cgroups/cpu,cgroups/mem,cgroups/pids".to_string(),
        format!("--cgroups_root={}", root.name),
        "--default_container_pids_limit=64".to_string(),
    ])
    .unwrap();
    corral_agent::start(flags).await.unwrap()
}

/// A task for a custom executor running `command`, with `cpus` and `mem` (MB).
fn sized_custom_task(task_id: &str, command: &str, cpus: f64, mem: f64) -> MasterMessage {
    let MasterMessage::RunTask {
        framework,
        executor,
        mut task,
    } = run_custom_task(task_id, &format!("{task_id}-executor"), command)
    else {
        unreachable!()
    };
    task.resources = serde_json::from_value(serde_json::json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}
    ]))
    .unwrap();
    MasterMessage::RunTask {
        framework,
        executor,
        task,
    }
}

async fn get_json(url: String) -> Json {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// Pids of live processes whose environment mentions `needle` (the container id is in the
/// sandbox path of `MESOS_SANDBOX`, which every process of the container inherits).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'));
            !zombie
                && (environ
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
                    || cgroup.contains(needle))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_balloon_fails_with_the_memory_limitation() {
    let Some(mode) = cgroups_or_skip("memory_balloon_fails_with_the_memory_limitation") else {
        return;
    };
    let root = CgroupRoot::new(&mode, "balloon");
    let work = tempfile::tempdir().unwrap();
    // `tail` keeps the whole (endless) line of /dev/zero in memory.
    let script = vec![sized_custom_task("t1", "exec tail /dev/zero", 0.5, 32.0)];
    let mut master = FakeMaster::start(script).await;
    let agent = start_isolated_agent(&master, work.path(), &root).await;
    let base = format!("http://{}", agent.addr);

    let started = Instant::now();
    let status = master
        .next_call(|call| match call {
            AgentCall::StatusUpdate { status, .. } => Some(status.clone()),
            _ => None,
        })
        .await;
    eprintln!(
        "update after {:?}: {:?} {:?} {}",
        started.elapsed(),
        status.state(),
        status.reason(),
        status.message()
    );
    assert_eq!(status.task_id.value, "t1");
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(status.reason(), Reason::ContainerLimitationMemory);
    assert_eq!(status.source(), v1::task_status::Source::Agent);
    assert!(
        status
            .message()
            .contains("Memory limit exceeded: Requested: 32MB"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("Maximum Used: "),
        "{}",
        status.message()
    );
    let limitation = status.limitation.clone().unwrap();
    assert_eq!(limitation.resources[0].name, "mem");
    assert!(limitation.resources[0].scalar.as_ref().unwrap().value >= 31.0);

    // The agent survived and its container is gone.
    let state = get_json(format!("{base}/state")).await;
    let container = state["frameworks"][0]["executors"][0]["container"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!container.is_empty(), "{state}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(&container).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(processes_mentioning(&container), Vec::<u32>::new());
    let flags = get_json(format!("{base}/flags")).await;
    assert_eq!(
        flags["flags"]["isolation"],
        "cgroups/cpu,cgroups/mem,cgroups/pids"
    );
    assert_eq!(flags["flags"]["cgroups_root"], root.name.as_str());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgroup_usage_is_reported_and_kill_leaves_no_process() {
    let Some(mode) = cgroups_or_skip("cgroup_usage_is_reported_and_kill_leaves_no_process") else {
        return;
    };
    let root = CgroupRoot::new(&mode, "usage");
    let work = tempfile::tempdir().unwrap();
    // A busy loop, plus a sleep that leaves the container's session.
    let command = "setsid sleep 1000 & while :; do :; done";
    let script = vec![sized_custom_task("t1", command, 0.5, 64.0)];
    let mut master = FakeMaster::start(script).await;
    let agent = start_isolated_agent(&master, work.path(), &root).await;
    let base = format!("http://{}", agent.addr);

    // Usage from the cgroups, with the limits the agent computed.
    let mut statistics = Json::Null;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let entries = get_json(format!("{base}/monitor/statistics")).await;
        if let Some(s) = entries.get(0).map(|e| e["statistics"].clone()) {
            if s["cpus_user_time_secs"].as_f64().unwrap_or(0.0) > 0.0
                && s["processes"].as_u64().unwrap_or(0) >= 2
            {
                statistics = s;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("statistics: {statistics}");
    assert_eq!(statistics["cpus_limit"], 0.5, "{statistics}");
    assert_eq!(statistics["mem_limit_bytes"], 64u64 << 20, "{statistics}");
    assert!(statistics["mem_total_bytes"].as_u64().unwrap_or(0) > 0);
    assert!(statistics["mem_rss_bytes"].is_u64(), "{statistics}");
    assert!(statistics["cpus_nr_periods"].is_u64(), "{statistics}");
    assert!(statistics["threads"].as_u64().unwrap_or(0) >= 2);
    let containers = get_json(format!("{base}/containers")).await;
    let container = containers[0]["container_id"].as_str().unwrap().to_string();
    assert_eq!(containers[0]["executor_id"], "t1-executor");
    assert!(!processes_mentioning(&container).is_empty());

    // KILL before the executor subscribed: the agent destroys the container, and the
    // cgroups take the sleep that left the session with them.
    master
        .send(MasterMessage::KillTask {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t1".into() },
            kill_policy: None,
        })
        .await;
    let status = master
        .next_call(|call| match call {
            AgentCall::StatusUpdate { status, .. } => Some(status.clone()),
            _ => None,
        })
        .await;
    assert_eq!(status.state(), TaskState::TaskKilled, "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processes_mentioning(&container).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(processes_mentioning(&container), Vec::<u32>::new());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_task_balloon_fails_with_the_memory_limitation() {
    let test = "command_task_balloon_fails_with_the_memory_limitation";
    let Ok(binary) = std::env::var("CORRAL_BIN") else {
        eprintln!("skipping {test}: set CORRAL_BIN to the corral binary to run it");
        return;
    };
    let Some(mode) = cgroups_or_skip(test) else {
        return;
    };
    let root = CgroupRoot::new(&mode, "command");
    let work = tempfile::tempdir().unwrap();
    let MasterMessage::RunTask {
        framework,
        executor,
        mut task,
    } = run_command_task("t1", "exec tail /dev/zero")
    else {
        unreachable!()
    };
    task.resources = serde_json::from_value(serde_json::json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.2}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}
    ]))
    .unwrap();
    let script = vec![MasterMessage::RunTask {
        framework,
        executor,
        task,
    }];
    let mut master = FakeMaster::start(script).await;
    let agent = start_isolated_agent_with(&master, work.path(), &root, &binary).await;

    // Acknowledge every update as a scheduler would, until a terminal one.
    let terminal = loop {
        let status = master
            .next_call(|call| match call {
                AgentCall::StatusUpdate { status, .. } => Some(status.clone()),
                _ => None,
            })
            .await;
        master
            .send(MasterMessage::StatusUpdateAcknowledgement {
                framework_id: v1::FrameworkId { value: "F".into() },
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            })
            .await;
        if !matches!(
            status.state(),
            TaskState::TaskStarting | TaskState::TaskRunning
        ) {
            break status;
        }
    };
    eprintln!(
        "terminal: {:?} {:?} {:?} {}",
        terminal.state(),
        terminal.reason(),
        terminal.source(),
        terminal.message()
    );
    assert_eq!(terminal.state(), TaskState::TaskFailed);
    assert_eq!(terminal.reason(), Reason::ContainerLimitationMemory);
    assert_eq!(terminal.source(), v1::task_status::Source::Agent);
    // 32 MB for the task plus 32 MB for the command executor.
    assert!(
        terminal.message().contains("Requested: 64MB"),
        "{}",
        terminal.message()
    );
    assert_eq!(terminal.limitation.unwrap().resources[0].name, "mem");
    agent.shutdown().await;
}
