//! `corral master` flags: Mesos's names and `MESOS_*` environment variables where the meaning is
//! the same, so existing deployment scripts keep working.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::core::CoreConfig;
use crate::runtime::Timers;
use crate::MasterError;

/// Flags of `corral master`.
#[derive(Debug, Clone, Args)]
pub struct MasterFlags {
    /// IP address to listen on.
    #[arg(long, env = "MESOS_IP", default_value = "127.0.0.1")]
    pub ip: Ipv4Addr,
    /// Port to listen on (0: any free port).
    #[arg(long, env = "MESOS_PORT", default_value_t = 5050)]
    pub port: u16,
    /// Hostname to advertise (default: the advertised IP).
    #[arg(long, env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,
    /// IP address to advertise to clients (default: --ip).
    #[arg(long = "advertise_ip", env = "MESOS_ADVERTISE_IP")]
    pub advertise_ip: Option<Ipv4Addr>,
    /// Port to advertise to clients (default: the bound port).
    #[arg(long = "advertise_port", env = "MESOS_ADVERTISE_PORT")]
    pub advertise_port: Option<u16>,
    /// Where the master keeps its state.
    #[arg(
        long = "work_dir",
        env = "MESOS_WORK_DIR",
        default_value = "./.corral/master"
    )]
    pub work_dir: PathBuf,
    /// Human-readable cluster name.
    #[arg(long, env = "MESOS_CLUSTER")]
    pub cluster: Option<String>,
    /// Rescind offers outstanding this long (e.g. `30secs`; none by default).
    #[arg(long = "offer_timeout", env = "MESOS_OFFER_TIMEOUT")]
    pub offer_timeout: Option<String>,
    /// How often agents are pinged.
    #[arg(
        long = "agent_ping_timeout",
        env = "MESOS_AGENT_PING_TIMEOUT",
        default_value = "15secs"
    )]
    pub agent_ping_timeout: String,
    /// Missed pings before an agent is marked unreachable.
    #[arg(
        long = "max_agent_ping_timeouts",
        env = "MESOS_MAX_AGENT_PING_TIMEOUTS",
        default_value_t = 5
    )]
    pub max_agent_ping_timeouts: u32,
    /// Completed frameworks kept in memory.
    #[arg(
        long = "max_completed_frameworks",
        env = "MESOS_MAX_COMPLETED_FRAMEWORKS",
        default_value_t = 50
    )]
    pub max_completed_frameworks: usize,
    /// Completed tasks kept per framework.
    #[arg(
        long = "max_completed_tasks_per_framework",
        env = "MESOS_MAX_COMPLETED_TASKS_PER_FRAMEWORK",
        default_value_t = 1000
    )]
    pub max_completed_tasks_per_framework: usize,
    /// How often HEARTBEAT events are actually sent (the advertised interval stays 15 s). A
    /// short interval makes clients that handle an event only when the next record arrives
    /// (mesoshttp) prompt.
    #[arg(
        long = "heartbeat_send_interval",
        env = "CORRAL_HEARTBEAT_SECS",
        default_value = "15secs"
    )]
    pub heartbeat_send_interval: String,
    /// The allocator: `drf` (hierarchical DRF with weights, quota and reservations) or
    /// `first` (the simple first-fit allocator, kept for comparison in benchmarks).
    #[arg(long, env = "CORRAL_ALLOCATOR", default_value = "drf")]
    pub allocator: String,
    /// Minimum resources an offer must hold: alternatives separated by `|`, each in resource
    /// syntax (Mesos's default `cpus:0.01|mem:32`).
    #[arg(
        long = "min_allocatable_resources",
        env = "MESOS_MIN_ALLOCATABLE_RESOURCES",
        default_value = "cpus:0.01|mem:32"
    )]
    pub min_allocatable_resources: String,
    /// Where the registry of agents and frameworks lives: `redb` (an embedded database at
    /// `<work_dir>/registry.redb`, the default) or `in_memory` (lost when the master stops;
    /// for tests). With `--zk` the registry is kept in ZooKeeper instead.
    #[arg(long, env = "MESOS_REGISTRY", default_value = "redb")]
    pub registry: String,
    /// After a failover, how long agents from the registry have to re-register before they
    /// are marked unreachable.
    #[arg(
        long = "agent_reregister_timeout",
        env = "MESOS_AGENT_REREGISTER_TIMEOUT",
        default_value = "10mins"
    )]
    pub agent_reregister_timeout: String,
    /// Largest share of the registry's agents that may be marked unreachable after a failover
    /// (e.g. `50%` or `0.5`); if more would be, the master fails over instead.
    #[arg(
        long = "recovery_agent_removal_limit",
        env = "MESOS_RECOVERY_AGENT_REMOVAL_LIMIT",
        default_value = "100%"
    )]
    pub recovery_agent_removal_limit: String,
    /// Most agents marked unreachable per period, e.g. `1/10mins` (no limit when unset).
    #[arg(
        long = "agent_removal_rate_limit",
        env = "MESOS_AGENT_REMOVAL_RATE_LIMIT"
    )]
    pub agent_removal_rate_limit: Option<String>,
    /// ZooKeeper URL for leader election among masters, e.g.
    /// `zk://host1:2181,host2:2181/mesos` (Mesos's layout: `<path>/json.info_<seq>`). Without
    /// it the master leads alone.
    #[arg(long, env = "MESOS_ZK")]
    pub zk: Option<String>,
    /// ZooKeeper session timeout. A leader that cannot confirm its session for two thirds of
    /// it stops (the process exits) before another master can be elected.
    #[arg(
        long = "zk_session_timeout",
        env = "MESOS_ZK_SESSION_TIMEOUT",
        default_value = "10secs"
    )]
    pub zk_session_timeout: String,
    /// Size of the quorum of masters (accepted for compatibility with Mesos; ZooKeeper's own
    /// quorum decides here).
    #[arg(long, env = "MESOS_QUORUM")]
    pub quorum: Option<u32>,
    /// Largest accepted request body, in bytes.
    #[arg(long = "max_body_bytes", env = "CORRAL_MAX_BODY_BYTES", default_value_t = 4 << 20)]
    pub max_body_bytes: usize,
}

/// What the flags mean, checked.
pub(crate) struct Settings {
    pub core: CoreConfig,
    pub timers: Timers,
    pub max_body_bytes: usize,
}

fn duration(flag: &'static str, text: &str) -> Result<Duration, MasterError> {
    corral_api::duration::parse(text).map_err(|e| MasterError::Flag {
        flag,
        reason: e.to_string(),
    })
}

/// `--recovery_agent_removal_limit`: a percentage (`50%`) or a fraction (`0.5`), 0 to 1.
fn removal_limit(text: &str) -> Result<f64, MasterError> {
    let bad = |reason: String| MasterError::Flag {
        flag: "recovery_agent_removal_limit",
        reason,
    };
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .map(|v| v / 100.0)
            .map_err(|e| bad(e.to_string()))?,
        None => t.parse::<f64>().map_err(|e| bad(e.to_string()))?,
    };
    if !(0.0..=1.0).contains(&value) {
        return Err(bad(format!("'{text}' is not between 0% and 100%")));
    }
    Ok(value)
}

/// `--agent_removal_rate_limit` `N/duration` → the least seconds between two removals.
fn removal_rate(text: &str) -> Result<f64, MasterError> {
    let bad = |reason: String| MasterError::Flag {
        flag: "agent_removal_rate_limit",
        reason,
    };
    let (n, period) = text.split_once('/').ok_or_else(|| {
        bad(format!(
            "'{text}' is not of the form N/duration, e.g. 1/10mins"
        ))
    })?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|e| bad(format!("bad count in '{text}': {e}")))?;
    let period = corral_api::duration::parse(period.trim())
        .map_err(|e| bad(format!("bad period in '{text}': {e}")))?;
    if n == 0 || period.is_zero() {
        return Err(bad(format!(
            "'{text}' must allow at least one removal per period"
        )));
    }
    Ok(period.as_secs_f64() / f64::from(n))
}

impl MasterFlags {
    pub(crate) fn settings(&self) -> Result<Settings, MasterError> {
        let ping = duration("agent_ping_timeout", &self.agent_ping_timeout)?;
        if ping.is_zero() {
            return Err(MasterError::Flag {
                flag: "agent_ping_timeout",
                reason: "must be positive".into(),
            });
        }
        let offer_timeout = match &self.offer_timeout {
            Some(t) => Some(duration("offer_timeout", t)?.as_secs_f64()),
            None => None,
        };
        let heartbeat = duration("heartbeat_send_interval", &self.heartbeat_send_interval)?;
        if heartbeat < Duration::from_millis(100) {
            return Err(MasterError::Flag {
                flag: "heartbeat_send_interval",
                reason: "must be at least 100ms".into(),
            });
        }
        let core = CoreConfig {
            heartbeat_interval_secs: 15.0,
            agent_ping_timeout_secs: ping.as_secs_f64(),
            max_agent_ping_timeouts: self.max_agent_ping_timeouts.max(1),
            offer_timeout_secs: offer_timeout,
            max_completed_frameworks: self.max_completed_frameworks,
            max_completed_tasks_per_framework: self.max_completed_tasks_per_framework,
            agent_reregister_timeout_secs: duration(
                "agent_reregister_timeout",
                &self.agent_reregister_timeout,
            )?
            .as_secs_f64(),
            recovery_agent_removal_limit: removal_limit(&self.recovery_agent_removal_limit)?,
            agent_removal_interval_secs: match &self.agent_removal_rate_limit {
                Some(text) => Some(removal_rate(text)?),
                None => None,
            },
        };
        if !matches!(self.registry.as_str(), "redb" | "in_memory") {
            return Err(MasterError::Flag {
                flag: "registry",
                reason: format!("unknown registry '{}' (redb or in_memory)", self.registry),
            });
        }
        self.build_allocator()?; // checks --allocator and --min_allocatable_resources early
        let timers = Timers {
            heartbeat,
            agent_ping: ping,
            tick: Duration::from_millis(100),
        };
        Ok(Settings {
            core,
            timers,
            max_body_bytes: self.max_body_bytes.max(1024),
        })
    }

    pub(crate) fn build_allocator(
        &self,
    ) -> Result<Box<dyn crate::allocator::Allocator>, MasterError> {
        use crate::allocator::drf::{DrfConfig, HierarchicalAllocator};
        match self.allocator.as_str() {
            "first" => Ok(Box::new(crate::allocator::first::FirstFitAllocator::new())),
            "drf" => {
                let mut min_allocatable = Vec::new();
                for alternative in self
                    .min_allocatable_resources
                    .split('|')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                {
                    let q =
                        corral_resources::ResourceQuantities::parse(alternative).map_err(|e| {
                            MasterError::Flag {
                                flag: "min_allocatable_resources",
                                reason: e.to_string(),
                            }
                        })?;
                    min_allocatable.push(q);
                }
                Ok(Box::new(HierarchicalAllocator::new(DrfConfig {
                    min_allocatable,
                    ..DrfConfig::default()
                })))
            }
            other => Err(MasterError::Flag {
                flag: "allocator",
                reason: format!("unknown allocator '{other}' (drf or first)"),
            }),
        }
    }

    /// The flags as `/flags` and `/state` show them.
    pub fn as_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("ip".into(), self.ip.to_string());
        m.insert("port".into(), self.port.to_string());
        if let Some(h) = &self.hostname {
            m.insert("hostname".into(), h.clone());
        }
        m.insert("work_dir".into(), self.work_dir.display().to_string());
        m.insert("agent_ping_timeout".into(), self.agent_ping_timeout.clone());
        m.insert(
            "max_agent_ping_timeouts".into(),
            self.max_agent_ping_timeouts.to_string(),
        );
        m.insert(
            "max_completed_frameworks".into(),
            self.max_completed_frameworks.to_string(),
        );
        m.insert(
            "max_completed_tasks_per_framework".into(),
            self.max_completed_tasks_per_framework.to_string(),
        );
        if let Some(t) = &self.offer_timeout {
            m.insert("offer_timeout".into(), t.clone());
        }
        m.insert("registry".into(), self.registry.clone());
        m.insert(
            "agent_reregister_timeout".into(),
            self.agent_reregister_timeout.clone(),
        );
        m.insert(
            "recovery_agent_removal_limit".into(),
            self.recovery_agent_removal_limit.clone(),
        );
        if let Some(r) = &self.agent_removal_rate_limit {
            m.insert("agent_removal_rate_limit".into(), r.clone());
        }
        if let Some(zk) = &self.zk {
            // Without the credentials.
            let shown =
                corral_election::ZkUrl::parse(zk).map_or_else(|_| zk.clone(), |u| u.to_string());
            m.insert("zk".into(), shown);
            m.insert("zk_session_timeout".into(), self.zk_session_timeout.clone());
        }
        if let Some(q) = self.quorum {
            m.insert("quorum".into(), q.to_string());
        }
        m.insert("allocator".into(), self.allocator.clone());
        m.insert(
            "min_allocatable_resources".into(),
            self.min_allocatable_resources.clone(),
        );
        m
    }

    /// Flags with their defaults (for `corral up`, tests and benchmarks).
    pub fn defaults() -> Self {
        Self {
            ip: Ipv4Addr::LOCALHOST,
            port: 5050,
            hostname: None,
            advertise_ip: None,
            advertise_port: None,
            work_dir: PathBuf::from("./.corral/master"),
            cluster: None,
            offer_timeout: None,
            agent_ping_timeout: "15secs".into(),
            max_agent_ping_timeouts: 5,
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            heartbeat_send_interval: "15secs".into(),
            allocator: "drf".into(),
            min_allocatable_resources: "cpus:0.01|mem:32".into(),
            max_body_bytes: 4 << 20,
            zk: None,
            zk_session_timeout: "10secs".into(),
            quorum: None,
            registry: "redb".into(),
            agent_reregister_timeout: "10mins".into(),
            recovery_agent_removal_limit: "100%".into(),
            agent_removal_rate_limit: None,
        }
    }
}

#[cfg(test)]
mod recovery_flag_tests {
    #![allow(clippy::unwrap_used)]
    use super::{removal_limit, removal_rate};

    #[test]
    fn removal_limit_takes_percentages_and_fractions() {
        assert_eq!(removal_limit("100%").unwrap(), 1.0);
        assert_eq!(removal_limit("50%").unwrap(), 0.5);
        assert_eq!(removal_limit("0.25").unwrap(), 0.25);
        assert!(removal_limit("150%").is_err());
        assert!(removal_limit("lots").is_err());
    }

    #[test]
    fn removal_rate_is_the_time_between_removals() {
        assert_eq!(removal_rate("1/10mins").unwrap(), 600.0);
        assert_eq!(removal_rate("2/1secs").unwrap(), 0.5);
        assert!(removal_rate("0/1secs").is_err());
        assert!(removal_rate("1").is_err());
        assert!(removal_rate("x/1secs").is_err());
    }
}
