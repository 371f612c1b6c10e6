//! Real cgroups: memory balloon, fork bomb, kill leaving no process, usage, recovery.
//!
//! These need root and mounted controllers; without them each test prints why and passes.
//! Every test uses its own cgroup root (`corral-test-<pid>-<name>`), removed by a guard even
//! when the test fails. Everything is bounded in time.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_containerizer::procfs;
use corral_containerizer::{
    build_isolators_with, CgroupMode, CgroupsConfig, Command, ContainerId, Containerizer,
    ExitStatus, KnownProcess, LaunchSpec, LimitationKind, PosixLauncher, Signal, Termination,
};
use nix::sys::signal::kill;
use nix::unistd::{geteuid, Pid};
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(30);

fn id(s: &str) -> ContainerId {
    ContainerId::new(s).expect("valid test id")
}

/// The host's cgroups if this test can run: root, and every controller of `needs` mounted
/// (v1) or offered (v2). Otherwise prints why and returns `None`.
fn host_or_skip(test: &str, needs: &[&str]) -> Option<CgroupMode> {
    if !geteuid().is_root() {
        eprintln!("skipping {test}: needs root to create cgroups");
        return None;
    }
    let mode = match CgroupMode::from_host() {
        Ok(CgroupMode::None) | Err(_) => {
            eprintln!("skipping {test}: no cgroup hierarchy on this host");
            return None;
        }
        Ok(mode) => mode,
    };
    for controller in needs {
        let in_v1 = mode
            .v1()
            .is_some_and(|v1| v1.hierarchy(controller).is_some());
        let in_v2 = mode.v1().is_none()
            && mode
                .v2()
                .and_then(|v2| v2.available_controllers().ok())
                .is_some_and(|set| set.contains(*controller));
        if !in_v1 && !in_v2 {
            eprintln!("skipping {test}: cgroup controller {controller} is not available");
            return None;
        }
    }
    Some(mode)
}

/// A cgroup root for one test, removed (with anything left inside) on drop.
struct TestRoot {
    config: CgroupsConfig,
    mounts: Vec<PathBuf>,
}

impl TestRoot {
    fn new(test: &str, mode: &CgroupMode) -> Self {
        let mut mounts: Vec<PathBuf> = mode
            .v1()
            .map(|v1| v1.hierarchies.iter().map(|h| h.mount.clone()).collect())
            .unwrap_or_default();
        mounts.extend(mode.v2().map(|v2| v2.mount.clone()));
        let config = CgroupsConfig {
            root_name: format!("corral-test-{}-{test}", std::process::id()),
            oom_poll_interval: Duration::from_millis(50),
            ..CgroupsConfig::default()
        };
        Self { config, mounts }
    }

    /// The container's cgroup in the hierarchy of `controller` (v1), or its v2 cgroup.
    fn dir(&self, mode: &CgroupMode, controller: &str, id: &ContainerId) -> PathBuf {
        let mount = match mode.v1().and_then(|v1| v1.hierarchy(controller)) {
            Some(h) => h.mount.clone(),
            None => mode.v2().map(|v2| v2.mount.clone()).unwrap_or_default(),
        };
        mount.join(&self.config.root_name).join(id.as_str())
    }

    fn roots(&self) -> Vec<PathBuf> {
        self.mounts
            .iter()
            .map(|m| m.join(&self.config.root_name))
            .collect()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        for root in self.roots() {
            remove_tree(&root);
        }
    }
}

/// Kills what is left in `dir` and its children and removes them, deepest first.
fn remove_tree(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path());
        }
    }
    let _ = fs::write(dir.join("freezer.state"), "THAWED");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for pid in procs(dir) {
            if pid != std::process::id() {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                eprintln!("could not remove test cgroup {}: {e}", dir.display());
                return;
            }
        }
    }
}

fn procs(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn read_u64(path: &Path) -> u64 {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", path.display()))
}

fn containerizer(spec: &str, mode: &CgroupMode, root: &TestRoot) -> Containerizer {
    let isolators = build_isolators_with(spec, mode, &root.config).expect("build isolators");
    Containerizer::new(Arc::new(PosixLauncher::new()), isolators)
}

fn shell(name: &str, sandbox: &TempDir, script: &str) -> LaunchSpec {
    LaunchSpec::new(id(name), Command::Shell(script.into()), sandbox.path())
}

async fn wait(c: &Containerizer, id: &ContainerId) -> Termination {
    tokio::time::timeout(LIMIT, c.wait(id))
        .await
        .expect("container did not end in time")
        .expect("wait")
}

async fn destroy(c: &Containerizer, id: &ContainerId) -> Termination {
    tokio::time::timeout(LIMIT, c.destroy(id, Duration::ZERO))
        .await
        .expect("destroy did not finish in time")
        .expect("destroy")
}

async fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + LIMIT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `pid` no longer runs (gone, or a zombie waiting for init).
fn is_gone(pid: u32) -> bool {
    match procfs::read_stat(Path::new("/proc"), pid) {
        Ok(Some(stat)) => stat.is_dead(),
        _ => true,
    }
}

#[tokio::test]
async fn memory_balloon_is_a_memory_limitation() {
    let Some(mode) = host_or_skip("memory_balloon_is_a_memory_limitation", &["memory"]) else {
        return;
    };
    let root = TestRoot::new("balloon", &mode);
    let c = containerizer("cgroups/mem,posix/usage", &mode, &root);
    let sandbox = TempDir::new().unwrap();

    // The main process itself balloons: `tail` buffers /dev/zero looking for a newline.
    let mut spec = LaunchSpec::new(
        id("balloon"),
        Command::Exec {
            program: "tail".into(),
            args: vec!["/dev/zero".into()],
        },
        sandbox.path(),
    );
    spec.resources.mem_bytes = Some(32 << 20);
    c.launch(&spec).await.unwrap();
    let dir = root.dir(&mode, "memory", &spec.container_id);
    let limit_file = if dir.join("memory.limit_in_bytes").exists() {
        "memory.limit_in_bytes"
    } else {
        "memory.max"
    };
    assert_eq!(read_u64(&dir.join(limit_file)), 32 << 20);
    let ended = wait(&c, &spec.container_id).await;
    assert_eq!(ended.status, ExitStatus::Signaled(Signal::SIGKILL as i32));
    let limitation = ended.limitation.expect("a memory limitation");
    assert_eq!(limitation.kind, LimitationKind::Memory);
    assert!(
        limitation
            .message
            .starts_with("Memory limit exceeded: Requested: 32MB Maximum Used: "),
        "{}",
        limitation.message
    );
    assert!(
        !limitation.message.contains("unknown"),
        "{}",
        limitation.message
    );
    let destroyed = destroy(&c, &spec.container_id).await;
    assert_eq!(destroyed.limitation, Some(limitation));
    assert!(!dir.exists());

    // A helper process balloons while the main process sleeps and another process has left
    // the session: the watcher sees the OOM kill, and the whole cgroup is killed at once.
    let spec = shell(
        "balloon-child",
        &sandbox,
        "setsid sh -c 'echo $$ > escaped.tmp; mv escaped.tmp escaped.pid; exec sleep 1000' &
         while [ ! -f escaped.pid ]; do sleep 0.01; done
         tail /dev/zero & sleep 1000",
    );
    let mut spec = spec;
    spec.resources.mem_bytes = Some(32 << 20);
    c.launch(&spec).await.unwrap();
    let ended = wait(&c, &spec.container_id).await;
    assert_eq!(ended.status, ExitStatus::Signaled(Signal::SIGKILL as i32));
    let limitation = ended.limitation.expect("a memory limitation");
    assert_eq!(limitation.kind, LimitationKind::Memory);
    assert!(
        limitation.message.contains("Requested: 32MB"),
        "{}",
        limitation.message
    );
    let escaped: u32 = fs::read_to_string(sandbox.path().join("escaped.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    while !is_gone(escaped) {
        assert!(Instant::now() < deadline, "escapee survived the limitation");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    destroy(&c, &spec.container_id).await;
    assert!(c.containers().is_empty());
}

#[tokio::test]
async fn fork_bomb_is_contained_and_destroyed() {
    let Some(mode) = host_or_skip("fork_bomb_is_contained_and_destroyed", &["pids"]) else {
        return;
    };
    let root = TestRoot::new("forkbomb", &mode);
    let c = containerizer("cgroups/pids,posix/usage", &mode, &root);
    let sandbox = TempDir::new().unwrap();
    // A bounded bomb: a binary tree of shells 9 levels deep (1023 processes if nothing
    // stopped it), each leaving a sleeping shell behind.
    let mut spec = shell(
        "bomb",
        &sandbox,
        "b() { if [ \"$1\" -gt 0 ]; then b $(($1 - 1)) & b $(($1 - 1)) & fi; sleep 60; }; b 9",
    );
    spec.resources.pids = Some(32);
    let launched = c.launch(&spec).await.unwrap();
    let dir = root.dir(&mode, "pids", &spec.container_id);
    assert_eq!(
        fs::read_to_string(dir.join("pids.max")).unwrap().trim(),
        "32"
    );

    // Wait until the limit refused a fork; the count never goes over it.
    let deadline = Instant::now() + LIMIT;
    loop {
        let current = read_u64(&dir.join("pids.current"));
        assert!(current <= 32, "pids.current = {current}");
        let refused = fs::read_to_string(dir.join("pids.events"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.split_whitespace().nth(1).is_some_and(|n| n != "0"));
        if refused && current >= 16 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bomb never reached the limit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The agent side stays responsive: it can still fork and exec at once.
    let started = Instant::now();
    let status = std::process::Command::new("true").status().unwrap();
    assert!(status.success() && started.elapsed() < Duration::from_secs(5));
    let usage = c.usage(&spec.container_id).await.unwrap();
    assert_eq!(usage.pids_limit, Some(32));
    assert!(usage.threads.unwrap() <= 32, "{usage:?}");

    destroy(&c, &spec.container_id).await;
    assert!(!dir.exists());
    let stats = procfs::scan(Path::new("/proc")).unwrap();
    assert!(procfs::live_members(&stats, launched.pid, launched.pid).is_empty());
}

/// A container whose process leaves the session (`setsid`) and whose main process exits:
/// only the cgroup still knows the escapee, and destroy must kill it.
async fn escapee_is_killed(spec_list: &str, mode: &CgroupMode, root: &TestRoot) {
    let c = containerizer(spec_list, mode, root);
    let sandbox = TempDir::new().expect("sandbox");
    let spec = shell(
        "escape",
        &sandbox,
        "setsid sh -c 'echo $$ > escaped.tmp; mv escaped.tmp escaped.pid; exec sleep 1000' &
         while [ ! -f escaped.pid ]; do sleep 0.02; done",
    );
    let launched = c.launch(&spec).await.expect("launch");
    wait_for_file(&sandbox.path().join("escaped.pid")).await;
    assert_eq!(
        wait(&c, &spec.container_id).await.status,
        ExitStatus::Exited(0)
    );
    let escaped: u32 = fs::read_to_string(sandbox.path().join("escaped.pid"))
        .expect("read escaped.pid")
        .trim()
        .parse()
        .expect("a pid in escaped.pid");
    let stat = procfs::read_stat(Path::new("/proc"), escaped)
        .expect("read /proc")
        .expect("the escapee runs");
    assert_ne!(stat.session, launched.pid, "the escapee left the session");
    assert!(!is_gone(escaped));

    destroy(&c, &spec.container_id).await;
    let deadline = Instant::now() + LIMIT;
    while !is_gone(escaped) {
        assert!(
            Instant::now() < deadline,
            "escaped process {escaped} survived destroy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for dir in root.roots() {
        assert!(
            !dir.join("escape").exists(),
            "{} left behind",
            dir.display()
        );
    }
}

#[tokio::test]
async fn destroy_kills_processes_that_left_the_session() {
    let test = "destroy_kills_processes_that_left_the_session";
    let Some(mode) = host_or_skip(test, &["pids"]) else {
        return;
    };
    // Control: without cgroups the escapee survives destroy (then the test kills it).
    let sandbox = TempDir::new().unwrap();
    let c = Containerizer::new(Arc::new(PosixLauncher::new()), Vec::new());
    let spec = shell(
        "control",
        &sandbox,
        "setsid sh -c 'echo $$ > escaped.tmp; mv escaped.tmp escaped.pid; exec sleep 1000' &",
    );
    c.launch(&spec).await.unwrap();
    wait_for_file(&sandbox.path().join("escaped.pid")).await;
    destroy(&c, &spec.container_id).await;
    let escaped: u32 = fs::read_to_string(sandbox.path().join("escaped.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let survived = !is_gone(escaped);
    let _ = kill(Pid::from_raw(escaped as i32), Signal::SIGKILL);
    assert!(
        survived,
        "without cgroups a setsid escapee is out of the launcher's reach"
    );

    // The host's own mode (hybrid here: the unified hierarchy's cgroup.kill).
    let root = TestRoot::new("escape-host", &mode);
    escapee_is_killed("cgroups/pids,posix/usage", &mode, &root).await;

    // v1 only: the freezer.
    if let Some(v1) = mode.v1().filter(|v1| v1.hierarchy("freezer").is_some()) {
        let v1 = CgroupMode::V1(v1.clone());
        let root = TestRoot::new("escape-v1", &v1);
        escapee_is_killed("cgroups/pids,posix/usage", &v1, &root).await;
    } else {
        eprintln!("{test}: no v1 freezer; freezer kill not exercised");
    }

    // v2 only, as on a host whose controllers are not delegated: the cgroup isolators
    // degrade, but containers are still tracked (cgroups/procs) and killed as a whole.
    if let Some(v2) = mode.v2() {
        let v2 = CgroupMode::V2(v2.clone());
        let root = TestRoot::new("escape-v2", &v2);
        let isolators = build_isolators_with("cgroups/pids", &v2, &root.config).unwrap();
        let names: Vec<&str> = isolators.iter().map(|i| i.name()).collect();
        if names.contains(&"cgroups/procs") {
            escapee_is_killed("cgroups/pids", &v2, &root).await;
        } else {
            eprintln!("{test}: v2 has the pids controller ({names:?}); covered above");
        }
    } else {
        eprintln!("{test}: no unified hierarchy; cgroup.kill not exercised");
    }
}

#[tokio::test]
async fn usage_of_a_busy_loop_and_cpu_limits() {
    let test = "usage_of_a_busy_loop_and_cpu_limits";
    let Some(mode) = host_or_skip(test, &["cpu", "memory", "pids"]) else {
        return;
    };
    let root = TestRoot::new("busy", &mode);
    let c = containerizer("cgroups/cpu,cgroups/mem,cgroups/pids", &mode, &root);
    let sandbox = TempDir::new().unwrap();
    let mut spec = shell("busy", &sandbox, "while :; do :; done");
    spec.resources.cpus = Some(0.5);
    spec.resources.mem_bytes = Some(64 << 20);
    c.launch(&spec).await.unwrap();

    let cpu = root.dir(&mode, "cpu", &spec.container_id);
    if cpu.join("cpu.shares").exists() {
        assert_eq!(read_u64(&cpu.join("cpu.shares")), 512);
        assert_eq!(read_u64(&cpu.join("cpu.cfs_period_us")), 100_000);
        assert_eq!(read_u64(&cpu.join("cpu.cfs_quota_us")), 50_000);
    } else {
        assert_eq!(
            fs::read_to_string(cpu.join("cpu.max")).unwrap().trim(),
            "50000 100000"
        );
    }
    let deadline = Instant::now() + LIMIT;
    let usage = loop {
        let usage = c.usage(&spec.container_id).await.unwrap();
        let cpu_secs = usage.cpu_user_secs.unwrap_or(0.0) + usage.cpu_system_secs.unwrap_or(0.0);
        if cpu_secs > 0.05 && usage.cpus_nr_throttled.unwrap_or(0) > 0 {
            break usage;
        }
        assert!(Instant::now() < deadline, "{usage:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(usage.cpus_limit, Some(0.5));
    assert!(usage.cpus_nr_periods.unwrap() > 0, "{usage:?}");
    assert!(usage.cpus_throttled_time_secs.unwrap() > 0.0, "{usage:?}");
    assert_eq!(usage.mem_limit_bytes, Some(64 << 20));
    assert!(usage.mem_total_bytes.unwrap() > 0, "{usage:?}");
    assert!(
        usage.mem_rss_bytes.is_some() && usage.mem_cache_bytes.is_some(),
        "{usage:?}"
    );
    assert_eq!(usage.processes, Some(1));
    assert!(usage.threads.unwrap() >= 1);
    assert_eq!(usage.pids_limit, Some(4096), "the default");

    let ended = destroy(&c, &spec.container_id).await;
    assert_eq!(ended.status, ExitStatus::Signaled(Signal::SIGKILL as i32));
    assert_eq!(ended.limitation, None);
    assert!(!cpu.exists());
}

/// A task joining a running executor grows its container; one leaving shrinks the cpu
/// share and cap but never lowers the memory hard limit below what may be in use.
#[tokio::test]
async fn update_resizes_a_running_container() {
    let test = "update_resizes_a_running_container";
    let Some(mode) = host_or_skip(test, &["cpu", "memory"]) else {
        return;
    };
    let root = TestRoot::new("update", &mode);
    let c = containerizer("cgroups/cpu,cgroups/mem", &mode, &root);
    let sandbox = TempDir::new().unwrap();
    let mut spec = shell("update", &sandbox, "sleep 60");
    spec.resources.cpus = Some(0.5);
    spec.resources.mem_bytes = Some(64 << 20);
    c.launch(&spec).await.unwrap();
    let id = spec.container_id.clone();
    let cpu = root.dir(&mode, "cpu", &id);
    let mem = root.dir(&mode, "memory", &id);
    let v1 = cpu.join("cpu.shares").exists();
    let cap = || {
        if v1 {
            fs::read_to_string(cpu.join("cpu.cfs_quota_us"))
                .unwrap()
                .trim()
                .to_string()
        } else {
            fs::read_to_string(cpu.join("cpu.max"))
                .unwrap()
                .trim()
                .to_string()
        }
    };
    let hard = || {
        let file = if v1 {
            "memory.limit_in_bytes"
        } else {
            "memory.max"
        };
        read_u64(&mem.join(file))
    };

    let mut grown = spec.resources;
    grown.cpus = Some(1.5);
    grown.mem_bytes = Some(128 << 20);
    c.update(&id, &grown).await.unwrap();
    assert_eq!(cap(), if v1 { "150000" } else { "150000 100000" });
    if v1 {
        assert_eq!(read_u64(&cpu.join("cpu.shares")), 1536);
    }
    assert_eq!(hard(), 128 << 20);

    let mut shrunk = spec.resources;
    shrunk.cpus = Some(0.25);
    shrunk.mem_bytes = Some(32 << 20);
    c.update(&id, &shrunk).await.unwrap();
    assert_eq!(cap(), if v1 { "25000" } else { "25000 100000" });
    assert_eq!(hard(), 128 << 20, "the hard limit is never lowered");
    if v1 {
        assert_eq!(read_u64(&mem.join("memory.soft_limit_in_bytes")), 32 << 20);
    }

    // Bad limits change nothing; an unknown container is an error.
    let mut bad = grown;
    bad.cpus = Some(f64::NAN);
    assert!(c.update(&id, &bad).await.is_err());
    assert_eq!(cap(), if v1 { "25000" } else { "25000 100000" });
    assert!(c.update(&self::id("nope"), &grown).await.is_err());

    destroy(&c, &id).await;
    assert!(!cpu.exists());
}

#[tokio::test]
async fn recovery_reattaches_and_removes_orphans() {
    let test = "recovery_reattaches_and_removes_orphans";
    let Some(mode) = host_or_skip(test, &["memory"]) else {
        return;
    };
    let root = TestRoot::new("recover", &mode);
    let sandbox = TempDir::new().unwrap();
    let before = containerizer("cgroups/mem", &mode, &root);
    let mut kept = shell("kept", &sandbox, "sleep 1000");
    kept.resources.mem_bytes = Some(48 << 20);
    let kept_pid = before.launch(&kept).await.unwrap();
    let orphan = shell("orphan", &sandbox, "sleep 1000");
    let orphan_pid = before.launch(&orphan).await.unwrap().pid;
    let orphan_dir = root.dir(&mode, "memory", &orphan.container_id);
    assert!(procs(&orphan_dir).contains(&orphan_pid));
    // The agent "restarts": a new containerizer over the same cgroup root that only
    // checkpointed `kept`.
    drop(before);
    let after = containerizer("cgroups/mem", &mode, &root);
    let report = after
        .recover(vec![KnownProcess {
            container_id: kept.container_id.clone(),
            pid: kept_pid.pid,
            start_time: kept_pid.start_time,
        }])
        .await
        .unwrap();
    assert_eq!(report.adopted, vec![kept.container_id.clone()]);
    assert!(!orphan_dir.exists(), "orphan cgroup removed");
    let deadline = Instant::now() + LIMIT;
    while !is_gone(orphan_pid) {
        assert!(Instant::now() < deadline, "orphan process survived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let usage = after.usage(&kept.container_id).await.unwrap();
    assert_eq!(usage.mem_limit_bytes, Some(48 << 20));
    destroy(&after, &kept.container_id).await;
    assert!(!root.dir(&mode, "memory", &kept.container_id).exists());
    let deadline = Instant::now() + LIMIT;
    while !is_gone(kept_pid.pid) {
        assert!(Instant::now() < deadline, "kept process survived destroy");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
