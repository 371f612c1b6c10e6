//! A fixed leader: a single master that always leads, and a detector that always names it.

use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::{Contender, Detector, ElectionError, LeaderInfo, Leadership};

/// Elected at once, never deposed.
#[derive(Debug, Default, Clone, Copy)]
pub struct StandaloneContender;

impl Contender for StandaloneContender {
    fn contend(&self, _data: Vec<u8>) -> BoxFuture<'static, Result<Leadership, ElectionError>> {
        Box::pin(async { Ok(Leadership::forever()) })
    }
}

/// Always names the same leader (or none).
#[derive(Debug)]
pub struct StandaloneDetector {
    tx: watch::Sender<Option<LeaderInfo>>,
}

impl StandaloneDetector {
    /// A detector that names `leader`.
    pub fn new(leader: Option<LeaderInfo>) -> StandaloneDetector {
        let (tx, _) = watch::channel(leader);
        StandaloneDetector { tx }
    }

    /// Names another leader (tests: simulate a failover).
    pub fn appoint(&self, leader: Option<LeaderInfo>) {
        self.tx.send_replace(leader);
    }
}

impl Detector for StandaloneDetector {
    fn leader(&self) -> watch::Receiver<Option<LeaderInfo>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::{Duration, Instant};

    use super::*;

    fn info(port: u16) -> LeaderInfo {
        LeaderInfo {
            id: "m".into(),
            hostname: "h".into(),
            ip: "127.0.0.1".into(),
            port,
            pid: format!("master@127.0.0.1:{port}"),
            node: None,
        }
    }

    #[tokio::test]
    async fn standalone_contender_leads_forever() {
        let mut leadership = StandaloneContender.contend(b"{}".to_vec()).await.unwrap();
        assert!(leadership.is_lost().is_none());
        assert_eq!(
            leadership.lease().remaining(Instant::now()),
            Some(Duration::MAX)
        );
        let lost = tokio::time::timeout(Duration::from_millis(50), leadership.lost()).await;
        assert!(lost.is_err(), "a standalone leader is never deposed");
    }

    #[tokio::test]
    async fn standalone_detector_names_its_leader() {
        let detector = StandaloneDetector::new(Some(info(1)));
        let mut rx = detector.leader();
        assert_eq!(rx.borrow_and_update().as_ref().unwrap().port, 1);
        detector.appoint(Some(info(2)));
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().as_ref().unwrap().address(), "127.0.0.1:2");
    }
}
