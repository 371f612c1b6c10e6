use std::io::Write;

use corral_api::v1::{self, TaskState};

use super::log::{self, Record};
use super::*;

fn run() -> RunPath {
    RunPath {
        agent_id: "A-S0".into(),
        framework_id: "F".into(),
        executor_id: "E".into(),
        container_id: "C".into(),
    }
}

fn status(task: &str, state: TaskState, uuid: u8) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: v1::TaskId { value: task.into() },
        state: state as i32,
        uuid: Some(vec![uuid; 16]),
        ..Default::default()
    }
}

fn task(id: &str) -> v1::Task {
    v1::Task {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        framework_id: v1::FrameworkId { value: "F".into() },
        state: TaskState::TaskStaging as i32,
        ..Default::default()
    }
}

/// A checkpointed agent with one framework, one executor run and task "t" (two updates, the
/// first acknowledged).
fn populated() -> (tempfile::TempDir, MetaDir) {
    let dir = tempfile::tempdir().unwrap();
    let meta = MetaDir::new(dir.path());
    meta.save_agent(&v1::AgentInfo {
        id: Some(v1::AgentId {
            value: "A-S0".into(),
        }),
        hostname: "h".into(),
        ..Default::default()
    })
    .unwrap();
    let writes = [
        MetaWrite::Framework {
            agent_id: "A-S0".into(),
            info: v1::FrameworkInfo {
                id: Some(v1::FrameworkId { value: "F".into() }),
                name: "fw".into(),
                checkpoint: Some(true),
                ..Default::default()
            },
        },
        MetaWrite::Run {
            run: run(),
            info: v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "E".into() },
                ..Default::default()
            },
            kind: ExecutorKind::Command,
            directory: "/sandbox".into(),
        },
        MetaWrite::Task {
            run: run(),
            task: task("t"),
        },
        MetaWrite::Pid {
            run: run(),
            pid: 4321,
            start_time: Some(99),
        },
        MetaWrite::Update {
            run: run(),
            status: status("t", TaskState::TaskRunning, 1),
        },
        MetaWrite::Update {
            run: run(),
            status: status("t", TaskState::TaskFinished, 2),
        },
        MetaWrite::Ack {
            run: run(),
            task_id: "t".into(),
            uuid: vec![1; 16],
        },
    ];
    for write in &writes {
        meta.apply(write).unwrap();
    }
    (dir, meta)
}

#[test]
fn a_fresh_work_dir_recovers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = read_state(&MetaDir::new(dir.path()), true).unwrap();
    assert!(state.agent_info.is_none());
    assert!(state.frameworks.is_empty());
}

#[test]
fn everything_written_is_read_back() {
    let (_dir, meta) = populated();
    let state = read_state(&meta, true).unwrap();
    assert_eq!(state.agent_info.unwrap().id.unwrap().value, "A-S0");
    assert_eq!(state.frameworks.len(), 1);
    let framework = &state.frameworks[0];
    assert_eq!(framework.info.name, "fw");
    let executor = &framework.executors[0];
    assert_eq!(executor.container_id, "C");
    assert_eq!(executor.kind, ExecutorKind::Command);
    assert_eq!(executor.pid, Some(4321));
    assert_eq!(executor.start_time, Some(99));
    assert_eq!(executor.directory, std::path::Path::new("/sandbox"));
    let task = &executor.tasks[0];
    assert_eq!(task.task.task_id.value, "t");
    assert_eq!(task.updates.len(), 2);
    assert_eq!(task.updates[1].state(), TaskState::TaskFinished);
    assert!(task.acked.contains(&vec![1u8; 16]));
    assert!(!task.acked.contains(&vec![2u8; 16]));
    assert_eq!(state.truncated_logs, 0);
}

#[test]
fn completed_runs_are_not_recovered() {
    let (_dir, meta) = populated();
    meta.apply(&MetaWrite::Completed { run: run() }).unwrap();
    let state = read_state(&meta, true).unwrap();
    assert!(state.frameworks.is_empty());
}

#[test]
fn a_torn_last_record_is_cut_off() {
    let (_dir, meta) = populated();
    let path = meta.updates_file(&run(), "t");
    let before = std::fs::read(&path).unwrap();
    // Half of a third record, as a crash in the middle of an append leaves it.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"{\"update\":{\"task_id\":{\"val").unwrap();
    drop(file);
    let state = read_state(&meta, true).unwrap();
    assert_eq!(state.truncated_logs, 1);
    assert_eq!(state.frameworks[0].executors[0].tasks[0].updates.len(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), before, "file truncated");
    // Appending works after the cut.
    log::append(&path, &Record::Ack(vec![2; 16])).unwrap();
    let contents = log::read(&path).unwrap();
    assert_eq!(contents.records.len(), 4);
    assert_eq!(contents.truncated, 0);
}

#[test]
fn a_record_cut_in_the_middle_of_the_file_is_cut_with_everything_after() {
    let (_dir, meta) = populated();
    let path = meta.updates_file(&run(), "t");
    let bytes = std::fs::read(&path).unwrap();
    // Cut inside the second record: only the first survives.
    let first_end = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    std::fs::write(&path, &bytes[..first_end + 10]).unwrap();
    let contents = log::read(&path).unwrap();
    assert_eq!(contents.records.len(), 1);
    assert_eq!(contents.truncated, 10);
}

#[test]
fn corruption_fails_strict_recovery_and_is_skipped_otherwise() {
    let (_dir, meta) = populated();
    let path = meta.updates_file(&run(), "t");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.splice(0..0, b"garbage\n".iter().copied());
    std::fs::write(&path, &bytes).unwrap();
    let error = read_state(&meta, true).unwrap_err().to_string();
    assert!(error.contains("task.updates"), "{error}");
    assert!(error.contains("record 1"), "{error}");
    let state = read_state(&meta, false).unwrap();
    assert_eq!(state.skipped.len(), 1);
    assert!(state.frameworks[0].executors[0].tasks.is_empty());
}

#[test]
fn a_corrupt_run_record_names_the_file() {
    let (_dir, meta) = populated();
    std::fs::write(meta.run_dir(&run()).join("run.info"), b"{\"kind\":\"x\"}").unwrap();
    let error = read_state(&meta, true).unwrap_err().to_string();
    assert!(error.contains("run.info"), "{error}");
    let state = read_state(&meta, false).unwrap();
    assert!(state.frameworks.is_empty());
    assert_eq!(state.skipped.len(), 1);
}

#[test]
fn boot_id_round_trip_and_atomic_writes_leave_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let meta = MetaDir::new(dir.path());
    assert_eq!(meta.saved_boot_id().unwrap(), None);
    meta.save_boot_id("abc").unwrap();
    meta.save_boot_id("def").unwrap();
    assert_eq!(meta.saved_boot_id().unwrap().as_deref(), Some("def"));
    let names: Vec<String> = std::fs::read_dir(meta.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["boot_id".to_string()]);
}
