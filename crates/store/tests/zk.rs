//! `ZkStore` against a real ZooKeeper: the shared contract, fencing, CAS races, size limits,
//! outages and node restarts. Each test starts its own server(s) with scripts/zk-ensemble.sh
//! (or, for the tests that do not restart servers, uses `CORRAL_TEST_ZK=host:port,...` if set).
//! Skips with a message when java or the ZooKeeper jars are missing.
#![allow(clippy::unwrap_used)]

#[path = "../src/contract.rs"]
mod contract;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_store::{
    bump_counter, Store, StoreError, ZkStore, ZkStoreOptions, ZkUrl, ZK_MAX_VALUE_BYTES,
};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/zk-ensemble.sh")
}

fn zookeeper_installed() -> bool {
    let java = Command::new("java").arg("-version").output().is_ok();
    java && Path::new("/usr/share/java/zookeeper.jar").exists()
}

/// Servers started for one test; stopped on drop.
struct Ensemble {
    dir: tempfile::TempDir,
    connect: String,
}

/// Serializes `start` so that concurrent tests do not pick the same free ports.
static STARTING: Mutex<()> = Mutex::new(());

impl Ensemble {
    fn start(n: usize) -> Option<Self> {
        if !zookeeper_installed() {
            eprintln!("SKIP: java or /usr/share/java/zookeeper.jar missing (apt-get install zookeeper default-jre-headless)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let _guard = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        let out = Command::new("bash")
            .arg(script())
            .args([
                "start",
                dir.path().to_str().unwrap(),
                &n.to_string(),
                "auto",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "zk-ensemble.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let connect = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .to_string();
        Some(Self { dir, connect })
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new("bash")
            .arg(script())
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "zk-ensemble.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn mode(&self, node: usize) -> String {
        let out = Command::new("bash")
            .arg(script())
            .args(["status", self.dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(node - 1)
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("down")
            .to_string()
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Where a test that does not restart servers runs: `CORRAL_TEST_ZK` or a fresh standalone.
fn shared_or_own() -> Option<(String, Option<Ensemble>)> {
    if let Ok(connect) = std::env::var("CORRAL_TEST_ZK") {
        let connect = connect.trim_start_matches("zk://").to_string();
        return Some((connect.split('/').next().unwrap().to_string(), None));
    }
    let ensemble = Ensemble::start(1)?;
    Some((ensemble.connect.clone(), Some(ensemble)))
}

/// A URL with a chroot no other test (or earlier run) uses.
fn url(connect: &str) -> ZkUrl {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    ZkUrl::parse(&format!(
        "zk://{connect}/corral-test/{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ))
    .unwrap()
}

fn options() -> ZkStoreOptions {
    ZkStoreOptions {
        session_timeout: Duration::from_secs(4),
        operation_timeout: Duration::from_secs(8),
    }
}

#[test]
fn zk_store_meets_the_contract() {
    let Some((connect, _zk)) = shared_or_own() else {
        return;
    };
    let store = ZkStore::connect(&url(&connect), options()).unwrap();
    contract::run(&store);
    contract::atomic_batch(&store);
}

#[test]
fn a_stale_writer_is_fenced() {
    let Some((connect, _zk)) = shared_or_own() else {
        return;
    };
    let url = url(&connect);
    let leader = ZkStore::connect(&url, options()).unwrap();
    let deposed = ZkStore::connect(&url, options()).unwrap();
    contract::fencing(&leader, &deposed);
}

#[test]
fn concurrent_compare_and_set_has_one_winner() {
    let Some((connect, _zk)) = shared_or_own() else {
        return;
    };
    let url = url(&connect);
    let stores: Vec<Arc<ZkStore>> = (0..4)
        .map(|_| Arc::new(ZkStore::connect(&url, options()).unwrap()))
        .collect();
    stores[0].put("race", b"0", None).unwrap();
    let handles: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let s = Arc::clone(s);
            std::thread::spawn(move || s.put("race", format!("{i}").as_bytes(), Some(1)))
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .filter(|r| r.is_err())
        .all(|r| matches!(r, Err(StoreError::Conflict { found: Some(2), .. }))));

    // bump_counter from several clients at once never loses an increment.
    let handles: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = Arc::clone(s);
            std::thread::spawn(move || {
                for _ in 0..10 {
                    bump_counter(s.as_ref(), "epoch").unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let epoch = stores[1].get("epoch").unwrap().unwrap();
    assert_eq!(epoch.value, b"40");
    assert_eq!(epoch.version, 40);
}

#[test]
fn values_over_the_limit_are_refused_and_the_limit_fits() {
    let Some((connect, _zk)) = shared_or_own() else {
        return;
    };
    let store = ZkStore::connect(&url(&connect), options()).unwrap();
    let big = vec![7u8; ZK_MAX_VALUE_BYTES + 1];
    assert!(matches!(
        store.put("big", &big, None),
        Err(StoreError::TooLarge { size, limit, .. }) if size == ZK_MAX_VALUE_BYTES + 1 && limit == ZK_MAX_VALUE_BYTES
    ));
    assert!(store.get("big").unwrap().is_none());
    let max = vec![9u8; ZK_MAX_VALUE_BYTES];
    assert_eq!(store.put("big", &max, None).unwrap(), 1);
    assert_eq!(
        store.get("big").unwrap().unwrap().value.len(),
        ZK_MAX_VALUE_BYTES
    );
}

#[tokio::test(flavor = "current_thread")]
async fn znodes_live_under_chroot_registry_and_calls_work_inside_a_runtime() {
    let Some((connect, _zk)) = shared_or_own() else {
        return;
    };
    let url = url(&connect);
    // Called from a single-threaded runtime: the store must not need this runtime.
    let store = ZkStore::connect(&url, options()).unwrap();
    assert_eq!(store.put("agent-1", b"hello", None).unwrap(), 1);
    let path = url.node("registry/agent-1");
    assert_eq!(store.znode("agent-1"), path);

    let raw = zookeeper_client::Client::connect(&connect).await.unwrap();
    let (data, stat) = raw.get_data(&path).await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(stat.version, 0);
    // A write behind the store's back bumps the version the store reports.
    raw.set_data(&path, b"other", Some(0)).await.unwrap();
    let seen = store.get("agent-1").unwrap().unwrap();
    assert_eq!((seen.version, seen.value.as_slice()), (2, &b"other"[..]));
    assert!(matches!(
        store.put("agent-1", b"x", Some(1)),
        Err(StoreError::Conflict { found: Some(2), .. })
    ));
    // Children that are not valid keys are not listed.
    raw.create(
        &url.node("registry/bad key"),
        b"",
        &zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all()),
    )
    .await
    .unwrap();
    assert_eq!(store.keys("").unwrap(), vec!["agent-1".to_string()]);
}

#[test]
fn an_outage_is_unavailable_then_the_store_recovers() {
    let Some(zk) = Ensemble::start(1) else { return };
    let url = url(&zk.connect);
    let opts = ZkStoreOptions {
        session_timeout: Duration::from_secs(4),
        operation_timeout: Duration::from_secs(3),
    };
    let store = ZkStore::connect(&url, opts).unwrap();
    store.put("k", b"1", None).unwrap();
    zk.run(&["kill", "1"]);

    let started = Instant::now();
    let err = store.put("k", b"2", Some(1)).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    let got = store.get("k");
    assert!(
        matches!(got, Err(StoreError::Unavailable { .. })),
        "{got:?} after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    zk.run(&["restart", "1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.get("k") {
            Ok(v) => {
                assert_eq!(
                    v.unwrap().value,
                    b"1",
                    "the failed put must not have happened"
                );
                break;
            }
            Err(e) if Instant::now() < deadline => eprintln!("waiting for recovery: {e}"),
            Err(e) => panic!("store did not recover: {e}"),
        }
    }
    assert_eq!(store.put("k", b"2", Some(1)).unwrap(), 2);
}

/// Retries a write that failed with `Unavailable`, re-reading first (its outcome is unknown).
fn put_through_failover(store: &ZkStore, key: &str, value: &[u8]) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let current = store.get(key);
        let attempt = current.and_then(|c| match c {
            Some(c) if c.value == value => Ok(c.version),
            c => store.put(key, value, c.map(|c| c.version)),
        });
        match attempt {
            Ok(v) => return v,
            Err(e @ (StoreError::Unavailable { .. } | StoreError::Conflict { .. }))
                if Instant::now() < deadline =>
            {
                eprintln!("retrying the write of {key} after: {e}");
                std::thread::sleep(Duration::from_millis(200))
            }
            Err(e) => panic!("write of {key} failed: {e}"),
        }
    }
}

#[test]
fn survives_restarting_each_node_of_a_three_node_ensemble() {
    let Some(zk) = Ensemble::start(3) else { return };
    let url = url(&zk.connect);
    let store = ZkStore::connect(&url, options()).unwrap();
    let other = ZkStore::connect(&url, options()).unwrap();
    store.put("registry", b"v0", None).unwrap();
    for node in 1..=3 {
        let was = zk.mode(node);
        let started = Instant::now();
        zk.run(&["kill", &node.to_string()]);
        // Two of three still form a quorum: writes and reads go on.
        let value = format!("after-kill-{node}");
        put_through_failover(&store, "registry", value.as_bytes());
        let seen = other.get("registry").unwrap().unwrap();
        assert_eq!(seen.value, value.as_bytes(), "node {node} ({was}) down");
        eprintln!(
            "node {node} ({was}) killed: write and read done in {:?}",
            started.elapsed()
        );
        zk.run(&["restart", &node.to_string()]);
    }
    let last = other.get("registry").unwrap().unwrap();
    assert_eq!(last.value, b"after-kill-3");
    assert_eq!(last.version, 4);
    assert_eq!(store.keys("").unwrap(), vec!["registry".to_string()]);

    // Without a quorum nothing is written and nothing claims to be.
    let impatient = ZkStore::connect(
        &url,
        ZkStoreOptions {
            session_timeout: Duration::from_secs(4),
            operation_timeout: Duration::from_secs(3),
        },
    )
    .unwrap();
    zk.run(&["kill", "2"]);
    zk.run(&["kill", "3"]);
    let err = impatient
        .put("registry", b"no quorum", Some(4))
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    zk.run(&["restart", "2"]);
    zk.run(&["restart", "3"]);
    let v = put_through_failover(&store, "registry", b"quorum back");
    assert_eq!(v, 5, "the write without quorum must not have happened");
}
