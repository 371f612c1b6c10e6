//! Election and detection against a real ZooKeeper server (the Debian `zookeeper` package,
//! started here as a standalone server on a free port). Skips with a message when Java or the
//! ZooKeeper jars are missing.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use corral_election::zk::{ZkContender, ZkDetector};
use corral_election::{Contender, Detector, LeaderInfo, ZkUrl};

/// The session timeout. The lease is 2/3 of it and is renewed by round trips to a JVM, so it
/// stays well above a scheduling hiccup on a loaded 2-core machine.
const SESSION: Duration = Duration::from_secs(4);

struct ZkServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that is free now and was not handed to another test of this binary (the tests run
/// in parallel and each starts its own server; the JVM binds it only a while later).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A standalone ZooKeeper with a 500 ms tick (sessions from 1 s), or `None` to skip.
fn zookeeper() -> Option<ZkServer> {
    let jars = Path::new("/usr/share/java/zookeeper.jar");
    if !jars.exists() || Command::new("java").arg("-version").output().is_err() {
        eprintln!("SKIP: ZooKeeper is not installed (apt-get install -y zookeeper)");
        return None;
    }
    // The port may be taken (e.g. as a client's source port) before the JVM binds it: the
    // server then exits, and we try again on another one.
    for _ in 0..3 {
        if let Some(server) = start_zookeeper() {
            return Some(server);
        }
        eprintln!("ZooKeeper exited while starting (port taken?); retrying on another port");
    }
    panic!("ZooKeeper did not start");
}

/// Starts a standalone server on a free port; `None` if it exited before serving.
fn start_zookeeper() -> Option<ZkServer> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new("java")
        .args([
            "-Xmx128m",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            "/usr/share/java/*",
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            &port.to_string(),
            &dir.path().display().to_string(),
            "500",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = ZkServer {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if server.child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(Instant::now() < deadline, "ZooKeeper did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

fn master_info(port: u16) -> Vec<u8> {
    format!(
        r#"{{"address":{{"hostname":"m{port}","ip":"127.0.0.1","port":{port}}},"hostname":"m{port}","id":"id-{port}","ip":16777343,"pid":"master@127.0.0.1:{port}","port":{port},"version":"1.11.0"}}"#
    )
    .into_bytes()
}

async fn wait_leader(detector: &ZkDetector, port: u16) -> LeaderInfo {
    let mut rx = detector.leader();
    let found = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|l| l.as_ref().is_some_and(|l| l.port == port)),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "leader {port} not detected: {:?}",
            detector.leader().borrow()
        )
    })
    .unwrap()
    .clone();
    found.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_contender_leads_and_the_next_takes_over() {
    let Some(zk) = zookeeper() else { return };
    let url = ZkUrl::parse(&format!("zk://127.0.0.1:{}/corral/mesos", zk.port)).unwrap();
    let a = ZkContender::new(url.clone(), SESSION);
    let b = ZkContender::new(url.clone(), SESSION);
    let detector = ZkDetector::start(url.clone(), SESSION);

    let leader_a = a.contend(master_info(1001)).await.unwrap();
    let info = wait_leader(&detector, 1001).await;
    assert_eq!(info.pid, "master@127.0.0.1:1001");
    assert!(info.node.as_deref().unwrap().starts_with("json.info_"));

    // B waits while A leads.
    let pending_b = tokio::spawn(b.contend(master_info(1002)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!pending_b.is_finished(), "B must not lead while A does");
    // The lease is renewed while A leads.
    tokio::time::sleep(SESSION).await;
    assert!(leader_a.lease().remaining(Instant::now()).is_some());
    assert!(leader_a.is_lost().is_none());

    // A gives up (its session closes): B leads, the detector follows.
    let handover = Instant::now();
    drop(leader_a);
    let leader_b = tokio::time::timeout(Duration::from_secs(10), pending_b)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    wait_leader(&detector, 1002).await;
    eprintln!(
        "handover after a clean resignation: {:?}",
        handover.elapsed()
    );
    assert!(leader_b.is_lost().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_zookeeper_loses_its_lease_before_the_session_expires() {
    let Some(mut zk) = zookeeper() else { return };
    let url = ZkUrl::parse(&format!("zk://127.0.0.1:{}/mesos", zk.port)).unwrap();
    let leader = ZkContender::new(url, SESSION)
        .contend(master_info(2001))
        .await
        .unwrap();
    let limit = leader.lease().limit().unwrap();
    assert!(
        limit < SESSION,
        "the lease must be shorter than the session"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(leader.lease().remaining(Instant::now()).is_some());

    // ZooKeeper disappears: nothing confirms the node any more.
    let cut = Instant::now();
    zk.child.kill().unwrap();
    let deadline = cut + SESSION;
    loop {
        if leader.lease().remaining(Instant::now()).is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lease outlived the session timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("lease ran out {:?} after the cut", cut.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detector_sees_no_leader_then_one() {
    let Some(zk) = zookeeper() else { return };
    let url = ZkUrl::parse(&format!("zk://127.0.0.1:{}/empty/path", zk.port)).unwrap();
    let detector = ZkDetector::start(url.clone(), SESSION);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(detector.leader().borrow().is_none());
    let _leader = ZkContender::new(url, SESSION)
        .contend(master_info(3001))
        .await
        .unwrap();
    wait_leader(&detector, 3001).await;
}
