//! Acknowledged writes survive a crash: a child process writes to a `RedbStore` and reports
//! each acknowledged version; it is SIGKILLed mid-stream; the reopened database (an unclean
//! shutdown for redb) holds every acknowledged value.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use corral_store::{RedbStore, Store};

const CHILD_ENV: &str = "CORRAL_REDB_CRASH_CHILD";

/// Runs only as the child: writes forever, printing `key version` after each `put` returns.
#[test]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = RedbStore::open(&path).unwrap();
    let mut version = None;
    for i in 0u64.. {
        let v = store
            .put("counter", i.to_string().as_bytes(), version)
            .unwrap();
        version = Some(v);
        store
            .put(&format!("agent-{i}"), &vec![b'x'; 512], None)
            .unwrap();
        println!("{i} {v}");
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let mut parts = line.split_whitespace();
        let (Some(i), Some(v)) = (parts.next(), parts.next()) else {
            continue; // the harness's own output
        };
        let (Ok(i), Ok(v)) = (i.parse::<u64>(), v.parse::<u64>()) else {
            continue;
        };
        last = Some((i, v));
        if i >= 150 {
            break;
        }
    }
    // SIGKILL: no destructors, no clean close of the database.
    child.kill().unwrap();
    child.wait().unwrap();
    let (i, v) = last.expect("the child acknowledged no write");

    let store = RedbStore::open(&path).unwrap();
    let counter = store.get("counter").unwrap().unwrap();
    // Every acknowledged write is there (the child may have finished one more).
    assert!(
        counter.version >= v,
        "{} < acknowledged {v}",
        counter.version
    );
    let stored: u64 = String::from_utf8(counter.value).unwrap().parse().unwrap();
    assert!(stored >= i);
    for k in 0..=i {
        assert!(
            store.get(&format!("agent-{k}")).unwrap().is_some(),
            "agent-{k} lost"
        );
    }
    assert_eq!(
        store
            .put("counter", b"after", Some(counter.version))
            .unwrap(),
        counter.version + 1
    );
}
