//! [`AgentFlags`]: the agent's command-line flags, with Mesos's names (each also read from
//! `MESOS_<NAME>`), and the stout duration syntax (`30secs`, `1mins`, `250ms`) they use.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser};

use crate::error::AgentError;

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

    /// The master: `host:port` or `http://host:port` (`zk://` is not supported yet).
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
        ]
    }
}

/// Where the master is: its base URL, e.g. `http://127.0.0.1:5050`.
pub fn master_url(master: &str) -> Result<String, AgentError> {
    let bad = |reason: &str| AgentError::Flag {
        flag: "master",
        reason: format!("'{master}': {reason}"),
    };
    let text = master.trim();
    if text.starts_with("zk://") || text.starts_with("zoo://") {
        return Err(bad(
            "ZooKeeper master detection is not supported yet; give the master as host:port",
        ));
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
            "zk://127.0.0.1:2181/mesos",
            "https://m:5050",
            "m1",
            ":5050",
            "m1:x",
            "http://m1:5050/path",
        ] {
            assert!(master_url(bad).is_err(), "{bad}");
        }
        let error = master_url("zk://h:2181/mesos").unwrap_err().to_string();
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
}
