//! Sandbox GC and `disk/du` measurement on a real directory tree.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use corral_agent::gc::{disk_usage_fraction, find_runs, max_age, sweep};

fn run_dir(work: &Path, fw: &str, ex: &str, container: &str) -> PathBuf {
    let dir = work
        .join("slaves/A1/frameworks")
        .join(fw)
        .join("executors")
        .join(ex)
        .join("runs")
        .join(container);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stdout"), b"hello\n").unwrap();
    dir
}

/// Makes a run directory and its files look `by` old.
fn age(dir: &Path, by: Duration) {
    let then = SystemTime::now() - by;
    std::fs::File::open(dir.join("stdout"))
        .unwrap()
        .set_modified(then)
        .unwrap();
    std::fs::File::open(dir)
        .unwrap()
        .set_modified(then)
        .unwrap();
}

#[test]
fn old_finished_sandboxes_go_live_ones_and_volumes_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let volume = work.join("volumes/roles/r/vol1");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("keep"), b"data").unwrap();

    let old = run_dir(work, "F1", "done", "c-old");
    std::os::unix::fs::symlink(&volume, old.join("vol")).unwrap();
    std::os::unix::fs::symlink(&old, old.parent().unwrap().join("latest")).unwrap();
    age(&old, Duration::from_secs(3600));
    let live = run_dir(work, "F1", "running", "c-live");
    age(&live, Duration::from_secs(3600));
    let young = run_dir(work, "F2", "recent", "c-young");
    let other_old = run_dir(work, "F2", "old2", "c-old2");
    age(&other_old, Duration::from_secs(3600));

    let runs = find_runs(work, SystemTime::now());
    assert_eq!(runs.len(), 4, "{runs:?}");

    let live_set: HashSet<String> = ["c-live".to_string()].into();
    let limit = max_age(Duration::from_secs(600), 0.0, 0.0);
    let report = sweep(work, &live_set, SystemTime::now(), limit);

    assert!(!old.exists());
    assert!(!other_old.exists());
    assert!(live.exists(), "a live sandbox is never removed");
    assert!(young.exists(), "a young sandbox is kept");
    assert_eq!(report.removed_runs.len(), 2);
    // The volume behind the link survives.
    assert_eq!(std::fs::read(volume.join("keep")).unwrap(), b"data");
    // Emptied executor directories go; frameworks with something left stay.
    let f1 = work.join("slaves/A1/frameworks/F1");
    assert!(!f1.join("executors/done").exists());
    assert!(f1.join("executors/running").exists());
    assert!(work
        .join("slaves/A1/frameworks/F2/executors/recent")
        .exists());
    assert!(!work.join("slaves/A1/frameworks/F2/executors/old2").exists());

    // Once the live one ends and ages out, its framework directory goes too.
    let report = sweep(work, &HashSet::new(), SystemTime::now(), Duration::ZERO);
    assert!(!live.exists());
    assert!(!young.exists());
    assert!(!f1.exists(), "{report:?}");
    assert!(volume.join("keep").exists());
}

#[test]
fn disk_usage_is_a_fraction() {
    let tmp = tempfile::tempdir().unwrap();
    let usage = disk_usage_fraction(tmp.path()).unwrap();
    assert!((0.0..=1.0).contains(&usage), "{usage}");
    assert!(disk_usage_fraction(&tmp.path().join("missing")).is_err());
}

#[test]
fn du_ignores_linked_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = tmp.path().join("sb");
    let volume = tmp.path().join("vol");
    std::fs::create_dir_all(&sandbox).unwrap();
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("big"), vec![0u8; 8 << 20]).unwrap();
    std::os::unix::fs::symlink(&volume, sandbox.join("vol")).unwrap();
    let used = corral_agent::disk::disk_usage(&sandbox).unwrap();
    assert!(used < 1 << 20, "{used}");
}

#[test]
fn a_run_whose_output_changed_recently_is_young() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let run = run_dir(work, "F", "E", "c1");
    age(&run, Duration::from_secs(3600));
    // The task wrote output a moment ago (the directory itself did not change).
    std::fs::write(run.join("stdout"), b"more\n").unwrap();
    let report = sweep(
        work,
        &HashSet::new(),
        SystemTime::now(),
        Duration::from_secs(600),
    );
    assert!(report.removed_runs.is_empty(), "{report:?}");
    assert!(run.exists());
    let runs = find_runs(work, SystemTime::now());
    assert!(runs[0].age < Duration::from_secs(60), "{runs:?}");
}
