//! The `corral` binary end to end: `corral up` on free loopback ports, then the client verbs
//! against it, then Ctrl-C.
#![allow(clippy::unwrap_used)] // test fixtures: a failed unwrap is a failed test

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_corral");

/// Two distinct loopback ports that are free now (both held until both are picked).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

struct Up {
    child: Child,
    master: String,
    _dir: tempfile::TempDir,
}

impl Up {
    /// `corral up` on free ports; a port can still be taken between picking it and `corral up`
    /// binding it, so an early exit is retried on other ports.
    fn start() -> Up {
        for _ in 0..3 {
            if let Some(up) = Up::try_start() {
                return up;
            }
            eprintln!("corral up exited while starting (port taken?); retrying");
        }
        panic!("corral up did not come up");
    }

    fn try_start() -> Option<Up> {
        let dir = tempfile::tempdir().unwrap();
        let (port, agent_port) = free_ports();
        let child = Command::new(BIN)
            .args([
                "up",
                "--port",
                &port.to_string(),
                "--agent-port",
                &agent_port.to_string(),
            ])
            .arg("--work_dir")
            .arg(dir.path())
            .args(["--resources", "cpus:2;mem:1024;disk:1000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut up = Up {
            child,
            master: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = up.corral(&["agents"]);
            if String::from_utf8_lossy(&out.stdout).contains("true") {
                return Some(up);
            }
            if up.child.try_wait().unwrap().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "corral up did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn corral(&self, args: &[&str]) -> Output {
        let (verb, rest) = args.split_first().unwrap();
        Command::new(BIN)
            .arg(verb)
            .args(["--master", &self.master])
            .args(rest)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        kill(pid, Signal::SIGINT).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "corral up did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn up_run_list_and_stop() {
    let up = Up::start();

    let out = up.corral(&["run", "--", "echo", "hello world"]);
    assert_eq!(
        text(&out.stdout),
        "hello world\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));

    let out = up.corral(&["run", "--", "echo out; echo err >&2; exit 3"]);
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    assert_eq!(out.status.code(), Some(3));

    let out = up.corral(&[
        "run",
        "--mem",
        "999999",
        "--offer-timeout",
        "1",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no offer with"),
        "{}",
        text(&out.stderr)
    );

    let out = up.corral(&["tasks", "--all"]);
    let tasks = text(&out.stdout);
    assert!(tasks.starts_with("ID"), "{tasks}");
    assert!(
        tasks.contains("TASK_FINISHED") && tasks.contains("TASK_FAILED"),
        "{tasks}"
    );
    assert_eq!(
        up.corral(&["tasks"])
            .stdout
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
        1,
        "no live tasks"
    );

    let out = up.corral(&["frameworks", "--all"]);
    assert!(text(&out.stdout).contains("corral-run"));
    let out = up.corral(&["agents", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["slaves"].as_array().map(Vec::len), Some(1));

    assert_eq!(up.stop().code(), Some(0));
}
