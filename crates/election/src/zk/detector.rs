//! [`ZkDetector`]: watches `<path>` and publishes the member with the lowest sequence.

use std::time::Duration;

use tokio::sync::watch;
use zookeeper_client as zk;

use super::{connect, leader_of, session_gone};
use crate::{Detector, LeaderInfo, ZkUrl};

const RETRY: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Detects the leader through ZooKeeper, in a background task that reconnects (with a new
/// session) whenever its session ends. Dropping the detector stops the task.
#[derive(Debug)]
pub struct ZkDetector {
    rx: watch::Receiver<Option<LeaderInfo>>,
    task: tokio::task::JoinHandle<()>,
}

impl ZkDetector {
    /// Starts detecting on `url` (needs a tokio runtime). The leader is `None` until known.
    pub fn start(url: ZkUrl, session_timeout: Duration) -> ZkDetector {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(detect(url, session_timeout, tx));
        ZkDetector { rx, task }
    }
}

impl Drop for ZkDetector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Detector for ZkDetector {
    fn leader(&self) -> watch::Receiver<Option<LeaderInfo>> {
        self.rx.clone()
    }
}

async fn detect(url: ZkUrl, session_timeout: Duration, tx: watch::Sender<Option<LeaderInfo>>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let client = match connect(&url, session_timeout).await {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, zk = %url, "leader detection cannot reach ZooKeeper; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        watch_leader(&client, &url.path, &tx).await;
        tracing::warn!(zk = %url, "leader detection lost its ZooKeeper session; reconnecting");
    }
}

fn publish(tx: &watch::Sender<Option<LeaderInfo>>, leader: Option<LeaderInfo>) {
    tx.send_if_modified(|current| {
        if *current == leader {
            return false;
        }
        match &leader {
            Some(l) => {
                tracing::info!(leader = %l.address(), node = ?l.node, id = %l.id, "detected a new leading master")
            }
            None => tracing::warn!("no leading master"),
        }
        *current = leader;
        true
    });
}

/// Follows the leader until the session ends.
async fn watch_leader(client: &zk::Client, path: &str, tx: &watch::Sender<Option<LeaderInfo>>) {
    let mut state = client.state_watcher();
    loop {
        let (children, watcher) = match client.list_and_watch_children(path).await {
            Ok(listed) => listed,
            Err(zk::Error::NoNode) => {
                publish(tx, None);
                match client.check_and_watch_stat(path).await {
                    Ok((Some(_), _)) => continue,
                    Ok((None, watcher)) => {
                        tokio::select! {
                            _ = watcher.changed() => {}
                            s = state.changed() => if s.is_terminated() { return },
                        }
                    }
                    Err(e) if session_gone(&e) => return,
                    Err(_) => tokio::time::sleep(RETRY).await,
                }
                continue;
            }
            Err(e) if session_gone(&e) => return,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the contenders; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let leader = match leader_of(&children) {
            None => None,
            Some(node) => match client.get_data(&format!("{path}/{node}")).await {
                Ok((data, _)) => match LeaderInfo::from_json(node, &data) {
                    Ok(info) => Some(info),
                    Err(error) => {
                        tracing::warn!(%error, "the leader's node is unusable");
                        None
                    }
                },
                // It went away between the listing and the read: list again.
                Err(zk::Error::NoNode) => continue,
                Err(e) if session_gone(&e) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the leader's node; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        publish(tx, leader);
        tokio::select! {
            _ = watcher.changed() => {}
            s = state.changed() => if s.is_terminated() { return },
        }
    }
}
