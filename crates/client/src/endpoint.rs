//! Where a daemon listens: `host:port`, from the forms operators and Mesos headers use; and
//! [`DetectedLeader`], the leading master as ZooKeeper names it (`zk://host:port/path`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use corral_election::zk::ZkDetector;
use corral_election::{Detector, LeaderInfo, ZkUrl};
use tokio::sync::watch;

use crate::error::ClientError;

/// The default port of a master.
pub const MASTER_PORT: u16 = 5050;
/// The default port of an agent.
pub const AGENT_PORT: u16 = 5051;

/// A plain-HTTP endpoint, `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    host: String,
    port: u16,
}

impl Endpoint {
    /// An endpoint from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    /// Parses `host:port`, `host` (then `default_port`), `http://host:port[/path]`,
    /// `//host:port/path` (a protocol-relative `Location`), `master@host:port` and
    /// `slave(1)@host:port` (libprocess pids). `https://` is refused: Corral speaks plain HTTP.
    pub fn parse(text: &str, default_port: u16) -> Result<Endpoint, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidAddress {
            address: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let rest = if let Some(rest) = strip_prefix_ignore_case(trimmed, "http://") {
            rest
        } else if strip_prefix_ignore_case(trimmed, "https://").is_some() {
            return Err(invalid("https is not supported"));
        } else if let Some(rest) = trimmed.strip_prefix("//") {
            rest
        } else if let Some((_, rest)) = trimmed.split_once('@') {
            rest
        } else {
            trimmed
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        let (host, port) = split_host_port(authority).map_err(|r| invalid(&r))?;
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        Ok(Endpoint {
            host: host.to_string(),
            port: port.unwrap_or(default_port),
        })
    }

    /// The host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://host:port<path_and_query>`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{self}{path_and_query}")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The leading master as detected in ZooKeeper (Mesos's `<path>/json.info_<seq>` nodes). The
/// detection runs in the background while a clone of this lives. Cheap to clone.
#[derive(Clone)]
pub struct DetectedLeader {
    _detector: Arc<ZkDetector>,
    leader: watch::Receiver<Option<LeaderInfo>>,
}

impl fmt::Debug for DetectedLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetectedLeader")
            .field("leader", &self.current())
            .finish()
    }
}

impl DetectedLeader {
    /// Whether `master` is a ZooKeeper URL (`zk://…`).
    pub fn is_zk(master: &str) -> bool {
        ZkUrl::is_zk(master)
    }

    /// Starts detecting on `zk://host:port[,host:port...]/path` (needs a tokio runtime).
    pub fn start(zk: &str) -> Result<DetectedLeader, ClientError> {
        let url = ZkUrl::parse(zk).map_err(|e| ClientError::InvalidAddress {
            address: zk.to_string(),
            reason: e.to_string(),
        })?;
        let detector = ZkDetector::start(url, corral_election::zk::DEFAULT_SESSION_TIMEOUT);
        let leader = detector.leader();
        Ok(DetectedLeader {
            _detector: Arc::new(detector),
            leader,
        })
    }

    /// The leader now, if one is known.
    pub fn current(&self) -> Option<Endpoint> {
        self.leader.borrow().as_ref().map(leader_endpoint)
    }

    /// The leader, waiting up to `limit` for one to be known.
    pub async fn wait(&self, limit: Duration) -> Option<Endpoint> {
        let mut leader = self.leader.clone();
        let found = tokio::time::timeout(limit, leader.wait_for(Option::is_some)).await;
        match found {
            Ok(Ok(l)) => l.as_ref().map(leader_endpoint),
            _ => None,
        }
    }
}

fn leader_endpoint(leader: &LeaderInfo) -> Endpoint {
    Endpoint::new(leader.ip.clone(), leader.port)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("invalid port '{p}'"))
            .and_then(|port| match port {
                0 => Err("port 0".to_string()),
                port => Ok(port),
            })
    };
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '['".to_string())?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(parse_port(port)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected '{after}' after the address")),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Err("IPv6 addresses need brackets".into()),
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(text: &str) -> String {
        Endpoint::parse(text, MASTER_PORT).unwrap().to_string()
    }

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(ep("127.0.0.1:5050"), "127.0.0.1:5050");
        assert_eq!(ep("localhost"), "localhost:5050");
        assert_eq!(ep("http://m1:5051/"), "m1:5051");
        assert_eq!(ep("HTTP://m1:6000/master/state"), "m1:6000");
        assert_eq!(ep("//m2:5050/master/api/v1/scheduler"), "m2:5050");
        assert_eq!(ep("master@10.0.0.1:5050"), "10.0.0.1:5050");
        assert_eq!(ep("slave(1)@10.0.0.2:5051"), "10.0.0.2:5051");
        assert_eq!(ep("[::1]:7000"), "[::1]:7000");
        assert_eq!(ep(" h:1 "), "h:1");
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "http://",
            ":5050",
            "h:x",
            "h:0",
            "h:70000",
            "https://h:1",
            "::1:5",
        ] {
            assert!(Endpoint::parse(bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_urls() {
        let e = Endpoint::new("h", 1);
        assert_eq!(e.url("/state"), "http://h:1/state");
    }
}
