//! [`ZkContender`]: joins the election with an ephemeral sequential `json.info_` node.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::watch;
use zookeeper_client as zk;

use super::{connect, ensure_path, leader_of, session_gone, zk_error};
use crate::{Contender, ElectionError, Leadership, Lease, ZkUrl, MASTER_INFO_LABEL};

/// The lease limit as a fraction of the negotiated session timeout: a leader that has not
/// confirmed its node for this long stops, well before ZooKeeper can expire its session.
const LEASE_FRACTION: (u32, u32) = (2, 3);

/// Contends through ZooKeeper. Each [`Contender::contend`] opens its own session; the node
/// and the session live as long as the returned [`Leadership`] (or the pending future).
#[derive(Debug, Clone)]
pub struct ZkContender {
    url: ZkUrl,
    session_timeout: Duration,
}

impl ZkContender {
    /// A contender on `url` asking for `session_timeout` sessions.
    pub fn new(url: ZkUrl, session_timeout: Duration) -> ZkContender {
        ZkContender {
            url,
            session_timeout,
        }
    }
}

impl Contender for ZkContender {
    fn contend(&self, data: Vec<u8>) -> BoxFuture<'static, Result<Leadership, ElectionError>> {
        let (url, timeout) = (self.url.clone(), self.session_timeout);
        Box::pin(async move { contend(url, timeout, data).await })
    }
}

async fn contend(
    url: ZkUrl,
    session_timeout: Duration,
    data: Vec<u8>,
) -> Result<Leadership, ElectionError> {
    let client = connect(&url, session_timeout).await?;
    ensure_path(&client, &url.path).await?;
    let prefix = format!("{}/{MASTER_INFO_LABEL}_", url.path);
    let options = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let (_, sequence) = client
        .create(&prefix, &data, &options)
        .await
        .map_err(|e| zk_error("create the contender node", &e))?;
    let node = format!("{MASTER_INFO_LABEL}_{sequence}");
    let node_path = format!("{}/{node}", url.path);
    tracing::info!(node = %node_path, session_timeout = ?client.session_timeout(), "contending for leadership");
    let mut state = client.state_watcher();
    loop {
        let sent = Instant::now();
        let (children, watcher) = match client.list_and_watch_children(&url.path).await {
            Ok(listed) => listed,
            Err(e) if session_gone(&e) => return Err(ElectionError::SessionLost(e.to_string())),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the contenders; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if !children.contains(&node) {
            return Err(ElectionError::SessionLost(format!(
                "the contender node {node_path} disappeared"
            )));
        }
        if leader_of(&children) == Some(node.as_str()) {
            let (num, den) = LEASE_FRACTION;
            let limit = client.session_timeout() * num / den;
            let lease = Lease::new(sent, limit);
            let (lost_tx, lost_rx) = watch::channel(None);
            tracing::info!(node = %node_path, lease = ?limit, "elected as the leading master");
            let keeper = tokio::spawn(keep(client, node_path, lease.clone(), lost_tx));
            return Ok(Leadership::new(lost_rx, lease, keeper));
        }
        tracing::debug!(node = %node, leader = ?leader_of(&children), "waiting for the leader to go");
        tokio::select! {
            _ = watcher.changed() => {}
            s = state.changed() => {
                if s.is_terminated() {
                    return Err(ElectionError::SessionLost(format!("session {s:?}")));
                }
            }
        }
    }
}

/// Confirms the leader's node several times per session timeout (renewing the lease) and
/// reports the loss of leadership: session expired or closed, or the node gone.
async fn keep(
    client: zk::Client,
    node_path: String,
    lease: Lease,
    lost: watch::Sender<Option<String>>,
) {
    let period = (client.session_timeout() / 8).max(Duration::from_millis(50));
    let mut state = client.state_watcher();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let reason = loop {
        tokio::select! {
            _ = tick.tick() => {
                let sent = Instant::now();
                match tokio::time::timeout(period * 2, client.check_stat(&node_path)).await {
                    Ok(Ok(Some(_))) => lease.confirm(sent),
                    Ok(Ok(None)) => break format!("the leader node {node_path} is gone"),
                    Ok(Err(e)) if session_gone(&e) => break format!("ZooKeeper session: {e}"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot confirm leadership"),
                    Err(_) => tracing::warn!("confirming leadership timed out"),
                }
            }
            s = state.changed() => {
                if s.is_terminated() {
                    break format!("ZooKeeper session {s:?}");
                }
                tracing::warn!(state = ?s, "ZooKeeper session state changed");
            }
        }
    };
    tracing::error!(%reason, "leadership lost");
    lost.send_replace(Some(reason));
    // Keep the sender (and so the reason) until the leadership is dropped.
    std::future::pending::<()>().await;
}
