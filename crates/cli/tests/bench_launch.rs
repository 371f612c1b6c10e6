//! `corral bench launch --executors=inline`: every task goes through a real master and real
//! agents (in this process, and as `corral agent` processes) and reaches TASK_FINISHED.
#![allow(clippy::unwrap_used)] // test fixtures: a failed unwrap is a failed test

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_corral");

fn bench(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["bench", "launch", "--executors=inline", "--no-floor"])
        .args([
            "--agents=2",
            "--tasks=300",
            "--concurrency=64",
            "--timeout=60",
        ])
        .arg("--work_dir")
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn inline_executors_in_process_finish_every_task() {
    let out = bench(&["--checkpoint=false"]);
    assert!(
        out.contains("launched 300, finished 300, failed 0"),
        "{out}"
    );
    assert!(out.contains("ACCEPT → TASK_RUNNING   p50"), "{out}");
    assert!(out.contains("(n=300)"), "{out}");
    assert!(out.contains("target: ≥ 10,000/s"), "{out}");
}

#[test]
fn inline_executors_in_agent_processes_checkpoint_and_finish_every_task() {
    let out = bench(&["--agent-processes", "--checkpoint=true"]);
    assert!(out.contains("agent processes"), "{out}");
    assert!(
        out.contains("launched 300, finished 300, failed 0"),
        "{out}"
    );
    assert!(out.contains("target: ≥ 5,000/s"), "{out}");
}
