//! ZooKeeper election and detection with Mesos's layout (`reference/mesos-v1-api.md` §5).
//!
//! Every contender creates an ephemeral sequential znode `<path>/json.info_<seq>` holding its
//! `MasterInfo` JSON; the member with the lowest sequence number leads. Contenders and
//! detectors watch the children of `<path>`. Other children (`log_replicas`, nodes without a
//! sequence number) are ignored.

mod contender;
mod detector;

use std::time::Duration;

use zookeeper_client as zk;

pub use contender::ZkContender;
pub use detector::ZkDetector;

use crate::{ElectionError, ZkUrl, MASTER_INFO_LABEL};

/// Mesos's default `--zk_session_timeout`.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The sequence number of a contender node `json.info_<seq>`, if `name` is one.
pub fn sequence_of(name: &str) -> Option<i64> {
    let (label, seq) = name.rsplit_once('_')?;
    if label != MASTER_INFO_LABEL || seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse().ok()
}

/// The leading member among `children`: the contender node with the lowest sequence number.
pub fn leader_of(children: &[String]) -> Option<&str> {
    children
        .iter()
        .filter_map(|c| sequence_of(c).map(|s| (s, c.as_str())))
        .min()
        .map(|(_, c)| c)
}

fn zk_error(op: &'static str, e: &zk::Error) -> ElectionError {
    ElectionError::ZooKeeper {
        op,
        reason: e.to_string(),
    }
}

/// Whether the session behind an error is gone for good (a new session is needed).
fn session_gone(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
    )
}

/// Opens a session to the servers of `url`.
async fn connect(url: &ZkUrl, session_timeout: Duration) -> Result<zk::Client, ElectionError> {
    let mut connector = zk::Client::connector().with_session_timeout(session_timeout);
    if let Some(auth) = &url.auth {
        connector = connector.with_auth("digest", auth.as_bytes());
    }
    let limit = session_timeout.max(Duration::from_secs(1)) * 2;
    match tokio::time::timeout(limit, connector.connect(&url.connect_string())).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(zk_error("connect", &e)),
        Err(_) => Err(ElectionError::ZooKeeper {
            op: "connect",
            reason: format!("no session within {limit:?}"),
        }),
    }
}

/// Creates `path` and its parents (persistent), if missing.
async fn ensure_path(client: &zk::Client, path: &str) -> Result<(), ElectionError> {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client
        .mkdir(path, &options)
        .await
        .map_err(|e| zk_error("create the election path", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_sequence_leads() {
        let children: Vec<String> = [
            "log_replicas",
            "json.info_0000000012",
            "info_0000000001",
            "json.info_0000000003",
            "json.info_x",
            "json.info_",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(leader_of(&children), Some("json.info_0000000003"));
        assert_eq!(leader_of(&children[..1]), None);
        assert_eq!(sequence_of("json.info_0000000012"), Some(12));
        assert_eq!(sequence_of("info_0000000001"), None);
        // Sequence numbers past i32 (19 digits) still order numerically.
        let wide = vec![
            "json.info_9999999999".to_string(),
            "json.info_0000000000000000001".to_string(),
        ];
        assert_eq!(leader_of(&wide), Some("json.info_0000000000000000001"));
    }
}
