//! [`AgentFlags`]: the agent's command-line flags, with Mesos's names (each also read from
//! `MESOS_<NAME>`), and the stout duration syntax (`30secs`, `1mins`, `250ms`) they use.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser};
use corral_containerizer::cgroups::{DEFAULT_PIDS_MAX, DEFAULT_ROOT_NAME};
use corral_containerizer::Isolation;

use crate::error::AgentError;

mod sandbox;
pub use sandbox::SandboxFlags;

/// Mesos's default `--isolation`: usage reports from `/proc`, no enforcement.
pub const DEFAULT_ISOLATION: &str = "posix/cpu,posix/mem";

/// Flags of `corral agent` (Mesos `mesos-agent` names where the meaning is the same).
#[derive(Debug, Clone, Args)]
pub struct AgentFlags {
    /// IP address to listen on.
    #[arg(long = "ip", env = "MESOS_IP", default_value = "127.0.0.1")]
    pub ip: IpAddr,

    /// Port to listen on (0 picks a free port).
    #[arg(long = "port", env = "MESOS_PORT", default_value_t = 5051)]
    pub port: u16,

    /// Hostname advertised to the master (default: `--advertise_ip`, else `--ip`, else the
    /// system hostname when listening on all addresses).
    #[arg(long = "hostname", env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,

    /// IP address advertised to the master and to executors (default: `--ip`).
    #[arg(long = "advertise_ip", env = "MESOS_ADVERTISE_IP")]
    pub advertise_ip: Option<IpAddr>,

    /// The master: `host:port`, `http://host:port`, or `zk://host:port[,host:port...]/path`
    /// to follow the leader elected in ZooKeeper.
    #[arg(long = "master", env = "MESOS_MASTER")]
    pub master: String,

    /// Directory for sandboxes and agent state.
    #[arg(
        long = "work_dir",
        env = "MESOS_WORK_DIR",
        default_value = "./.corral/agent"
    )]
    pub work_dir: PathBuf,

    /// Total resources, Mesos text syntax (`cpus:4;mem:8192;ports:[31000-32000]`) or a JSON
    /// array; cpus, mem, disk and ports not named are detected from the machine.
    #[arg(long = "resources", env = "MESOS_RESOURCES")]
    pub resources: Option<String>,

    /// Attributes, e.g. `rack:r1;zone:a;slots:4`.
    #[arg(long = "attributes", env = "MESOS_ATTRIBUTES")]
    pub attributes: Option<String>,

    /// How long an executor may take to subscribe before it is destroyed.
    #[arg(
        long = "executor_registration_timeout",
        env = "MESOS_EXECUTOR_REGISTRATION_TIMEOUT",
        default_value = "1mins",
        value_parser = parse_duration
    )]
    pub executor_registration_timeout: Duration,

    /// How long an executor is given to exit after SHUTDOWN before its container is destroyed.
    #[arg(
        long = "executor_shutdown_grace_period",
        env = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
        default_value = "5secs",
        value_parser = parse_duration
    )]
    pub executor_shutdown_grace_period: Duration,

    /// The `corral` binary that runs the built-in executors (default: this program).
    #[arg(long = "executor_binary", env = "MESOS_EXECUTOR_BINARY")]
    pub executor_binary: Option<PathBuf>,

    /// First retry interval of an unacknowledged status update (doubles up to 10 mins).
    #[arg(
        long = "status_update_retry_interval",
        env = "MESOS_STATUS_UPDATE_RETRY_INTERVAL",
        default_value = "10secs",
        value_parser = parse_duration
    )]
    pub status_update_retry_interval: Duration,

    /// Run executors as the task's (or framework's) user when the agent runs as root.
    #[arg(
        long = "switch_user",
        env = "MESOS_SWITCH_USER",
        default_value_t = true,
        action = ArgAction::Set
    )]
    pub switch_user: bool,

    /// Size limit of the fetcher cache (`2GB`, `512MB`, bytes); least recently used entries
    /// are evicted beyond it.
    #[arg(
        long = "fetcher_cache_size",
        env = "MESOS_FETCHER_CACHE_SIZE",
        default_value = "2GB",
        value_parser = corral_fetcher::parse_size
    )]
    pub fetcher_cache_size: u64,

    /// Directory of the fetcher cache (URIs with `cache: true`); default `<work_dir>/fetch`.
    #[arg(long = "fetcher_cache_dir", env = "MESOS_FETCHER_CACHE_DIR")]
    pub fetcher_cache_dir: Option<PathBuf>,

    /// Isolators, comma-separated (Mesos's `--isolation`): `posix/cpu`, `posix/mem`,
    /// `posix/usage` (usage from `/proc` only), `cgroups/cpu` (shares, plus a CFS quota with
    /// `--cgroups_enable_cfs`), `cgroups/mem` (hard limit; the OOM killer acting fails the
    /// tasks with `REASON_CONTAINER_LIMITATION_MEMORY`), `cgroups/pids` (`pids.max`, see
    /// `--default_container_pids_limit`), `namespaces/pid`, `filesystem/tmp`, `posix/rlimits`
    /// (POSIX resource limits from `ContainerInfo.rlimit_info`). On a host
    /// without cgroups the `cgroups/*` isolators fall back to `posix/usage` with a warning.
    #[arg(
        long = "isolation",
        env = "MESOS_ISOLATION",
        default_value = DEFAULT_ISOLATION,
        value_parser = parse_isolation
    )]
    pub isolation: Isolation,

    /// With `cgroups/cpu`, also cap CPU time at the container's `cpus` (CFS quota), not only
    /// share it proportionally.
    #[arg(
        long = "cgroups_enable_cfs",
        env = "MESOS_CGROUPS_ENABLE_CFS",
        default_value_t = true,
        action = ArgAction::Set
    )]
    pub cgroups_enable_cfs: bool,

    /// Name of the cgroup, under each hierarchy's mount, that holds the container cgroups
    /// (relative, e.g. `corral` or `corral/agent1`).
    #[arg(
        long = "cgroups_root",
        env = "MESOS_CGROUPS_ROOT",
        default_value = DEFAULT_ROOT_NAME,
        value_parser = parse_cgroups_root
    )]
    pub cgroups_root: String,

    /// With `cgroups/pids`: the most processes plus threads one container may have at once
    /// (its `pids.max`); a fork bomb stops there. Not a Mesos flag (Mesos sets no limit).
    #[arg(
        long = "default_container_pids_limit",
        env = "MESOS_DEFAULT_CONTAINER_PIDS_LIMIT",
        default_value_t = DEFAULT_PIDS_MAX,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub default_container_pids_limit: u64,

    /// Largest interval between resends of an unacknowledged status update (Mesos's
    /// `STATUS_UPDATE_RETRY_INTERVAL_MAX`, 10 mins; tests shrink it).
    #[arg(
        long = "status_update_retry_interval_max",
        env = "MESOS_STATUS_UPDATE_RETRY_INTERVAL_MAX",
        default_value = "10mins",
        value_parser = parse_duration
    )]
    pub status_update_retry_interval_max: Duration,

    /// What to do with the executors of checkpointing frameworks found at start:
    /// `reconnect` (re-adopt them and wait for them to re-subscribe) or `cleanup` (kill them,
    /// report their tasks terminal, and exit).
    #[arg(
        long = "recover",
        env = "MESOS_RECOVER",
        default_value = "reconnect",
        value_parser = ["reconnect", "cleanup"]
    )]
    pub recover: String,

    /// Whether unreadable checkpoints fail recovery (`true`) or are skipped (`false`).
    #[arg(
        long = "strict",
        env = "MESOS_STRICT",
        default_value_t = true,
        action = ArgAction::Set
    )]
    pub strict: bool,

    /// How long executors of checkpointing frameworks keep trying to reach a restarting agent
    /// before they shut down (their `MESOS_RECOVERY_TIMEOUT`).
    #[arg(
        long = "recovery_timeout",
        env = "MESOS_RECOVERY_TIMEOUT",
        default_value = "15mins",
        value_parser = parse_duration
    )]
    pub recovery_timeout: Duration,

    /// How long a restarted agent waits for recovered executors to re-subscribe before it
    /// destroys the others and registers with the master (at most 15 secs, as in Mesos).
    #[arg(
        long = "executor_reregistration_timeout",
        env = "MESOS_EXECUTOR_REREGISTRATION_TIMEOUT",
        default_value = "2secs",
        value_parser = parse_reregistration_timeout
    )]
    pub executor_reregistration_timeout: Duration,

    /// Container image providers, comma-separated: `docker` (Mesos's `--image_providers`;
    /// `appc` is not supported). Needs `filesystem/linux,docker/runtime` in `--isolation`.
    #[arg(long = "image_providers", env = "MESOS_IMAGE_PROVIDERS")]
    pub image_providers: Option<String>,

    /// Where Docker images come from. Only a local directory is supported: image archives
    /// (`docker save` or OCI layout tarballs) named `<image name>.tar`, e.g.
    /// `busybox:latest.tar` or `corral-test/marker.tar`.
    #[arg(
        long = "docker_registry",
        env = "MESOS_DOCKER_REGISTRY",
        default_value = "https://registry-1.docker.io"
    )]
    pub docker_registry: String,

    /// The cache of unpacked image layers.
    #[arg(
        long = "docker_store_dir",
        env = "MESOS_DOCKER_STORE_DIR",
        default_value = "/tmp/mesos/store/docker"
    )]
    pub docker_store_dir: PathBuf,

    /// How container rootfses are built from image layers: only `copy` is supported.
    #[arg(
        long = "image_provisioner_backend",
        env = "MESOS_IMAGE_PROVISIONER_BACKEND"
    )]
    pub image_provisioner_backend: Option<String>,

    /// With `gpu/nvidia`: the GPUs (minor numbers, e.g. `0,1`) this agent offers; default all
    /// `/dev/nvidia<N>` found.
    #[arg(long = "nvidia_gpu_devices", env = "MESOS_NVIDIA_GPU_DEVICES")]
    pub nvidia_gpu_devices: Option<String>,

    /// Containerizers, comma-separated (Mesos's `--containerizers`): `mesos` runs tasks as
    /// processes; `docker` runs tasks whose ContainerInfo is DOCKER as Docker containers
    /// through the Docker executor (`corral executor --docker`).
    #[arg(
        long = "containerizers",
        env = "MESOS_CONTAINERIZERS",
        default_value = "mesos",
        value_parser = crate::docker::parse_containerizers
    )]
    pub containerizers: crate::docker::Containerizers,

    /// The docker CLI (Mesos's `--docker`). Corral talks to the engine through its API on
    /// `--docker_socket`; the CLI only runs COMMAND health checks of Docker tasks
    /// (`docker exec`).
    #[arg(long = "docker", env = "MESOS_DOCKER", default_value = "docker")]
    pub docker: String,

    /// The Docker engine's Unix socket.
    #[arg(
        long = "docker_socket",
        env = "MESOS_DOCKER_SOCKET",
        default_value = crate::docker::DEFAULT_SOCKET
    )]
    pub docker_socket: PathBuf,

    /// Grace period between `docker stop`'s signal and SIGKILL for tasks without a kill
    /// policy (Mesos's `--docker_stop_timeout`).
    #[arg(
        long = "docker_stop_timeout",
        env = "MESOS_DOCKER_STOP_TIMEOUT",
        default_value = "0ns",
        value_parser = parse_duration
    )]
    pub docker_stop_timeout: Duration,

    /// On recovery, stop and remove this agent's Docker containers (`mesos-…`) that belong to
    /// no checkpointed run (Mesos's `--docker_kill_orphans`).
    #[arg(
        long = "docker_kill_orphans",
        env = "MESOS_DOCKER_KILL_ORPHANS",
        default_value_t = true,
        action = ArgAction::Set
    )]
    pub docker_kill_orphans: bool,

    /// Task output rotation and rate limit, sandbox GC, `disk/du` ([`SandboxFlags`]).
    #[command(flatten)]
    pub sandbox: SandboxFlags,
}

/// Mesos's cap on `--executor_reregistration_timeout`.
pub const MAX_EXECUTOR_REREGISTRATION_TIMEOUT: Duration = Duration::from_secs(15);

fn parse_reregistration_timeout(text: &str) -> Result<Duration, String> {
    let value = parse_duration(text)?;
    if value > MAX_EXECUTOR_REREGISTRATION_TIMEOUT {
        return Err(format!("'{text}' is more than the maximum of 15secs"));
    }
    Ok(value)
}

#[derive(Parser)]
struct Standalone {
    #[command(flatten)]
    flags: AgentFlags,
}

impl AgentFlags {
    /// Parses flags from an argument list (the first item is the program name), e.g. in tests:
    /// `AgentFlags::try_parse_from(["agent", "--master=127.0.0.1:5050"])`.
    pub fn try_parse_from<I, T>(args: I) -> Result<AgentFlags, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Standalone::try_parse_from(args).map(|s| s.flags)
    }

    /// The flags as `/flags` reports them: name → value string.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("ip", self.ip.to_string()),
            ("port", self.port.to_string()),
            ("hostname", opt(&self.hostname)),
            (
                "advertise_ip",
                self.advertise_ip
                    .map(|ip| ip.to_string())
                    .unwrap_or_default(),
            ),
            ("master", self.master.clone()),
            ("work_dir", self.work_dir.display().to_string()),
            ("resources", opt(&self.resources)),
            ("attributes", opt(&self.attributes)),
            (
                "executor_registration_timeout",
                format_duration(self.executor_registration_timeout),
            ),
            (
                "executor_shutdown_grace_period",
                format_duration(self.executor_shutdown_grace_period),
            ),
            (
                "executor_binary",
                self.executor_binary
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "status_update_retry_interval",
                format_duration(self.status_update_retry_interval),
            ),
            ("switch_user", self.switch_user.to_string()),
            ("fetcher_cache_size", self.fetcher_cache_size.to_string()),
            (
                "fetcher_cache_dir",
                self.fetcher_cache_dir
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("isolation", self.isolation.to_string()),
            ("cgroups_enable_cfs", self.cgroups_enable_cfs.to_string()),
            ("cgroups_root", self.cgroups_root.clone()),
            (
                "default_container_pids_limit",
                self.default_container_pids_limit.to_string(),
            ),
            (
                "status_update_retry_interval_max",
                format_duration(self.status_update_retry_interval_max),
            ),
            ("recover", self.recover.clone()),
            ("strict", self.strict.to_string()),
            ("recovery_timeout", format_duration(self.recovery_timeout)),
            (
                "executor_reregistration_timeout",
                format_duration(self.executor_reregistration_timeout),
            ),
            ("image_providers", opt(&self.image_providers)),
            ("docker_registry", self.docker_registry.clone()),
            (
                "docker_store_dir",
                self.docker_store_dir.display().to_string(),
            ),
            (
                "image_provisioner_backend",
                opt(&self.image_provisioner_backend),
            ),
            ("nvidia_gpu_devices", opt(&self.nvidia_gpu_devices)),
            ("containerizers", self.containerizers.to_string()),
            ("docker", self.docker.clone()),
            ("docker_socket", self.docker_socket.display().to_string()),
            (
                "docker_stop_timeout",
                format_duration(self.docker_stop_timeout),
            ),
            ("docker_kill_orphans", self.docker_kill_orphans.to_string()),
        ]
        .into_iter()
        .chain(self.sandbox.to_map())
        .collect()
    }
}

/// Parses `--isolation`: known isolator names, comma-separated (an empty list means none).
pub fn parse_isolation(text: &str) -> Result<Isolation, String> {
    Isolation::parse(text).map_err(|e| e.to_string())
}

/// Checks `--cgroups_root`: a relative path of plain names (no `.`, `..` or empty parts),
/// since it is joined to every hierarchy's mount point.
pub fn parse_cgroups_root(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.starts_with('/') {
        return Err(format!(
            "'{text}' must be relative to the cgroup mounts (e.g. 'corral')"
        ));
    }
    for part in trimmed.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "'{text}' may only contain plain names separated by '/'"
            ));
        }
        if part.contains(['\0', '\n']) {
            return Err(format!(
                "'{}' contains a control character",
                text.escape_default()
            ));
        }
    }
    Ok(trimmed.to_string())
}

/// Where the master is: its base URL, e.g. `http://127.0.0.1:5050`.
pub fn master_url(master: &str) -> Result<String, AgentError> {
    let bad = |reason: &str| AgentError::Flag {
        flag: "master",
        reason: format!("'{master}': {reason}"),
    };
    let text = master.trim();
    if corral_election::ZkUrl::is_zk(text) {
        // The leader is detected in ZooKeeper (see `master_link`).
        return corral_election::ZkUrl::parse(text)
            .map(|_| text.to_string())
            .map_err(|e| bad(&e.to_string()));
    }
    if text.starts_with("https://") {
        return Err(bad("TLS to the master is not supported yet; use http://"));
    }
    if text.starts_with("file://") {
        return Err(bad("file:// master lists are not supported"));
    }
    let rest = text.strip_prefix("http://").unwrap_or(text);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(bad("expected host:port or http://host:port"));
    }
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("the port is missing (expected host:port)"))?;
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    port.parse::<u16>()
        .map_err(|_| bad("the port is not a number between 0 and 65535"))?;
    Ok(format!("http://{rest}"))
}

/// Parses a Mesos (stout) duration such as `30secs`, `1mins`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    corral_api::duration::parse(text).map_err(|e| e.to_string())
}

/// Formats a duration as stout does (`5secs`, `1.5mins`, `250ms`).
pub fn format_duration(duration: Duration) -> String {
    corral_api::duration::format(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30secs").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1mins").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("1.5secs").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("2hrs").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("10ns").unwrap(), Duration::from_nanos(10));
        // A bare number means seconds (the shared rule, for environment variables).
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        for bad in ["", "secs", "5 parsecs", "1e999secs", "-1secs"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_format_like_stout() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5secs");
        assert_eq!(format_duration(Duration::from_secs(60)), "1mins");
        assert_eq!(format_duration(Duration::from_secs(90)), "1.5mins");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0ns");
        for d in [Duration::from_millis(1500), Duration::from_secs(604_800)] {
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn master_urls() {
        assert_eq!(
            master_url("127.0.0.1:5050").unwrap(),
            "http://127.0.0.1:5050"
        );
        assert_eq!(master_url("http://m1:5050/").unwrap(), "http://m1:5050");
        for bad in [
            "zk://127.0.0.1:2181",
            "https://m:5050",
            "m1",
            ":5050",
            "m1:x",
            "http://m1:5050/path",
        ] {
            assert!(master_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            master_url("zk://h1:2181,h2:2181/mesos").unwrap(),
            "zk://h1:2181,h2:2181/mesos"
        );
        let error = master_url("zk://h:x/mesos").unwrap_err().to_string();
        assert!(error.contains("ZooKeeper"), "{error}");
    }

    #[test]
    fn flags_parse_with_defaults() {
        let flags = AgentFlags::try_parse_from(["agent", "--master=127.0.0.1:5050"]).unwrap();
        assert_eq!(flags.port, 5051);
        assert_eq!(flags.executor_registration_timeout, Duration::from_secs(60));
        assert_eq!(flags.executor_shutdown_grace_period, Duration::from_secs(5));
        assert_eq!(flags.status_update_retry_interval, Duration::from_secs(10));
        assert!(flags.switch_user);
        let flags = AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--executor_registration_timeout=30secs",
            "--switch_user=false",
        ])
        .unwrap();
        assert_eq!(flags.executor_registration_timeout, Duration::from_secs(30));
        assert!(!flags.switch_user);
        assert!(AgentFlags::try_parse_from(["agent"]).is_err());
    }

    #[test]
    fn isolation_flags_default_like_mesos() {
        let flags = AgentFlags::try_parse_from(["agent", "--master=m:5050"]).unwrap();
        assert_eq!(flags.isolation.to_string(), "posix/cpu,posix/mem");
        assert!(flags.cgroups_enable_cfs);
        assert_eq!(flags.cgroups_root, "corral");
        assert_eq!(flags.default_container_pids_limit, DEFAULT_PIDS_MAX);
        let map = flags.to_map();
        let get = |name: &str| map.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(get("isolation").as_deref(), Some("posix/cpu,posix/mem"));
        assert_eq!(get("cgroups_enable_cfs").as_deref(), Some("true"));
        assert_eq!(get("cgroups_root").as_deref(), Some("corral"));
        assert_eq!(
            get("default_container_pids_limit"),
            Some(DEFAULT_PIDS_MAX.to_string())
        );
    }

    #[test]
    fn isolation_flags_parse() {
        let flags = AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--isolation=cgroups/cpu, cgroups/mem,cgroups/pids,namespaces/pid,filesystem/tmp",
            "--cgroups_enable_cfs=false",
            "--cgroups_root=corral/a1/",
            "--default_container_pids_limit=128",
        ])
        .unwrap();
        assert_eq!(
            flags.isolation.to_string(),
            "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,filesystem/tmp"
        );
        assert!(!flags.cgroups_enable_cfs);
        assert_eq!(flags.cgroups_root, "corral/a1");
        assert_eq!(flags.default_container_pids_limit, 128);
    }

    #[test]
    fn bad_isolation_flags_are_refused_with_the_reason() {
        let error = AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--isolation=cgroups/cpu,cgroups/memory",
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("cgroups/memory"), "{error}");
        assert!(error.contains("known:"), "{error}");
        for bad in ["/sys/fs/cgroup", "a/../b", "", "./x", "a//b"] {
            assert!(parse_cgroups_root(bad).is_err(), "{bad:?}");
        }
        for bad in ["0", "-1", "x"] {
            let arg = format!("--default_container_pids_limit={bad}");
            assert!(
                AgentFlags::try_parse_from(["agent", "--master=m:5050", arg.as_str()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn isolation_flags_come_from_the_environment() {
        // Parsed through clap's env support; the names are checked, not the process env.
        let command = <Standalone as clap::CommandFactory>::command();
        let envs: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        for name in [
            "MESOS_ISOLATION",
            "MESOS_CGROUPS_ENABLE_CFS",
            "MESOS_CGROUPS_ROOT",
            "MESOS_DEFAULT_CONTAINER_PIDS_LIMIT",
        ] {
            assert!(envs.iter().any(|e| e == name), "{name} missing: {envs:?}");
        }
    }
}
