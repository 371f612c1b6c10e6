//! Leader election and leader detection for Corral masters.
//!
//! * A [`Contender`] joins the election with the contender's data (the `MasterInfo` JSON) and
//!   resolves once it leads, with a [`Leadership`]: a watch that says when leadership is lost and
//!   a [`Lease`] that says until when the leadership is known to be held.
//! * A [`Detector`] publishes the current leader ([`LeaderInfo`]) on a `watch` channel.
//!
//! Implementations: [`standalone`] (a fixed leader: `corral up`, a single master, tests) and
//! [`zk`] (ZooKeeper with Mesos's layout: every contender creates an ephemeral sequential znode
//! `<path>/json.info_<seq>` holding its `MasterInfo` JSON, and the lowest sequence leads).
//! [`ZkUrl`] parses `zk://[user:pass@]host:port[,host:port...]/path`.

pub mod standalone;
mod url;
pub mod zk;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use thiserror::Error;
use tokio::sync::watch;

pub use url::ZkUrl;

/// Mesos's label of contender nodes: `<path>/json.info_<seq>`.
pub const MASTER_INFO_LABEL: &str = "json.info";

/// Why an election operation failed.
#[derive(Debug, Error)]
pub enum ElectionError {
    /// The `zk://` URL is malformed.
    #[error("invalid ZooKeeper URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// ZooKeeper failed or the session ended.
    #[error("ZooKeeper {op}: {reason}")]
    ZooKeeper {
        /// What was being done.
        op: &'static str,
        /// The client's error.
        reason: String,
    },
    /// The contender's session ended (expired or closed) before it was elected.
    #[error("the ZooKeeper session ended before this contender was elected: {0}")]
    SessionLost(String),
    /// A leader node holds data that is not a usable `MasterInfo`.
    #[error("leader node '{node}' is not a usable MasterInfo: {reason}")]
    BadLeaderInfo {
        /// The node.
        node: String,
        /// What is wrong.
        reason: String,
    },
}

/// The leading master, as contenders advertise it (Mesos's `MasterInfo` JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderInfo {
    /// The master's id.
    pub id: String,
    /// `address.hostname` (or `hostname`; empty if neither).
    pub hostname: String,
    /// `address.ip` (dotted quad).
    pub ip: String,
    /// `address.port`.
    pub port: u16,
    /// `pid` (`master@ip:port`).
    pub pid: String,
    /// The znode it came from (`json.info_0000000003`), when detected through ZooKeeper.
    pub node: Option<String>,
}

impl LeaderInfo {
    /// Reads a `MasterInfo` JSON document: `address.{ip,port}` (required, as pymesos requires
    /// them), `address.hostname`/`hostname`, `id`, `pid`.
    pub fn from_json(node: &str, data: &[u8]) -> Result<LeaderInfo, ElectionError> {
        let bad = |reason: &str| ElectionError::BadLeaderInfo {
            node: node.to_string(),
            reason: reason.to_string(),
        };
        let v: serde_json::Value =
            serde_json::from_slice(data).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let address = v.get("address").ok_or_else(|| bad("no 'address'"))?;
        let ip = address
            .get("ip")
            .and_then(|ip| ip.as_str())
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| bad("no 'address.ip'"))?;
        let port = address
            .get("port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("no valid 'address.port'"))?;
        let text = |v: Option<&serde_json::Value>| {
            v.and_then(|s| s.as_str())
                .map(str::to_string)
                .unwrap_or_default()
        };
        let mut hostname = text(address.get("hostname"));
        if hostname.is_empty() {
            hostname = text(v.get("hostname"));
        }
        Ok(LeaderInfo {
            id: text(v.get("id")),
            hostname,
            ip: ip.to_string(),
            port,
            pid: text(v.get("pid")),
            node: Some(node.to_string()),
        })
    }

    /// `ip:port`: where to connect.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// `hostname:port` (the ip when there is no hostname): what Mesos puts in a redirect's
    /// `Location`.
    pub fn host_port(&self) -> String {
        let host = if self.hostname.is_empty() {
            &self.ip
        } else {
            &self.hostname
        };
        format!("{host}:{}", self.port)
    }
}

/// Joins the election.
pub trait Contender: Send + Sync {
    /// Contend with `data` (the `MasterInfo` JSON). Resolves once this contender leads; an
    /// error means the candidacy ended (e.g. the session expired) and the caller may contend
    /// again.
    fn contend(&self, data: Vec<u8>) -> BoxFuture<'static, Result<Leadership, ElectionError>>;
}

/// Publishes the current leader.
pub trait Detector: Send + Sync {
    /// The current leader (`None`: no leader known) and every change after it.
    fn leader(&self) -> watch::Receiver<Option<LeaderInfo>>;
}

/// The leadership a [`Contender`] won. Dropping it gives the leadership up (the ZooKeeper
/// session is closed and the contender's node disappears).
pub struct Leadership {
    lost: watch::Receiver<Option<String>>,
    lease: Lease,
    _keeper: Option<KeeperGuard>,
    /// Keeps the channel open for a leadership nobody can take away.
    _forever: Option<watch::Sender<Option<String>>>,
}

/// Aborts the task that keeps the leadership alive when dropped.
struct KeeperGuard(tokio::task::JoinHandle<()>);

impl Drop for KeeperGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Leadership {
    /// A leadership that is never lost (standalone).
    pub fn forever() -> Leadership {
        let (tx, lost) = watch::channel(None);
        Leadership {
            lost,
            lease: Lease::forever(),
            _keeper: None,
            _forever: Some(tx),
        }
    }

    pub(crate) fn new(
        lost: watch::Receiver<Option<String>>,
        lease: Lease,
        keeper: tokio::task::JoinHandle<()>,
    ) -> Leadership {
        Leadership {
            lost,
            lease,
            _keeper: Some(KeeperGuard(keeper)),
            _forever: None,
        }
    }

    /// Resolves with the reason once leadership is lost (never, for a standalone leader).
    pub async fn lost(&mut self) -> String {
        match self.lost.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "the leadership keeper stopped".to_string(),
        }
    }

    /// Whether leadership is already known to be lost.
    pub fn is_lost(&self) -> Option<String> {
        self.lost.borrow().clone()
    }

    /// Until when the leadership is known to be held.
    pub fn lease(&self) -> Lease {
        self.lease.clone()
    }
}

/// How long the leadership is known to be held: the send time of the last request that
/// confirmed the contender's node, plus a limit shorter than the session timeout. ZooKeeper
/// cannot expire the session (and so cannot let another contender win) sooner than a session
/// timeout after it last heard from the client, and it heard from it after that send time, so
/// a leader that stops when its lease runs out stops before another can be elected.
#[derive(Clone, Debug)]
pub struct Lease {
    inner: Option<Arc<LeaseInner>>,
}

#[derive(Debug)]
struct LeaseInner {
    base: Instant,
    /// Nanoseconds after `base` of the last confirmation.
    confirmed: AtomicU64,
    limit: Duration,
}

impl Lease {
    /// A lease that never runs out.
    pub fn forever() -> Lease {
        Lease { inner: None }
    }

    /// A lease confirmed at `confirmed_at` that runs out `limit` after its last confirmation.
    pub fn new(confirmed_at: Instant, limit: Duration) -> Lease {
        Lease {
            inner: Some(Arc::new(LeaseInner {
                base: confirmed_at,
                confirmed: AtomicU64::new(0),
                limit,
            })),
        }
    }

    /// Record a confirmation by a request sent at `sent_at` (older confirmations are ignored).
    pub fn confirm(&self, sent_at: Instant) {
        if let Some(inner) = &self.inner {
            let nanos = sent_at.saturating_duration_since(inner.base).as_nanos();
            let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
            inner.confirmed.fetch_max(nanos, Ordering::SeqCst);
        }
    }

    /// How long after `now` the lease still holds (`None`: it ran out; `Some(MAX)`: forever).
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        let Some(inner) = &self.inner else {
            return Some(Duration::MAX);
        };
        let confirmed = inner.base + Duration::from_nanos(inner.confirmed.load(Ordering::SeqCst));
        let until = confirmed + inner.limit;
        until.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    /// The lease's limit (`None` for a lease that never runs out).
    pub fn limit(&self) -> Option<Duration> {
        self.inner.as_ref().map(|i| i.limit)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn leader_info_reads_mesos_master_info() {
        let json = br#"{"address":{"hostname":"m1","ip":"10.0.0.1","port":5050},"hostname":"m1","id":"abc","ip":16777226,"pid":"master@10.0.0.1:5050","port":5050,"version":"1.11.0"}"#;
        let info = LeaderInfo::from_json("json.info_0000000001", json).unwrap();
        assert_eq!(info.ip, "10.0.0.1");
        assert_eq!(info.port, 5050);
        assert_eq!(info.pid, "master@10.0.0.1:5050");
        assert_eq!(info.address(), "10.0.0.1:5050");
        assert_eq!(info.host_port(), "m1:5050");
        assert_eq!(info.node.as_deref(), Some("json.info_0000000001"));
    }

    #[test]
    fn leader_info_refuses_unusable_data() {
        for bad in [
            &b"not json"[..],
            br#"{"pid":"master@1.2.3.4:5"}"#,
            br#"{"address":{"ip":"1.2.3.4"}}"#,
            br#"{"address":{"ip":"1.2.3.4","port":70000}}"#,
            br#"{"address":{"ip":"","port":5}}"#,
        ] {
            assert!(LeaderInfo::from_json("n", bad).is_err());
        }
    }

    #[test]
    fn lease_runs_out_after_its_limit() {
        let start = Instant::now();
        let lease = Lease::new(start, Duration::from_secs(2));
        assert!(lease.remaining(start + Duration::from_secs(1)).is_some());
        assert!(lease.remaining(start + Duration::from_secs(2)).is_none());
        lease.confirm(start + Duration::from_secs(1));
        // An older confirmation does not move it back.
        lease.confirm(start);
        assert_eq!(
            lease.remaining(start + Duration::from_secs(2)),
            Some(Duration::from_secs(1))
        );
        assert!(lease.remaining(start + Duration::from_secs(3)).is_none());
        assert_eq!(Lease::forever().remaining(start), Some(Duration::MAX));
    }
}
