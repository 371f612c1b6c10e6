//! Killing every process of a container's cgroups, including processes that left its session.
//!
//! A kill *pass* is one attempt; [`CgroupTree`](super::CgroupTree) repeats passes until
//! `cgroup.procs` is empty (or its kill timeout passes), then removes the cgroups.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::fs;
use crate::error::IsolatorError;

/// How long a pass waits for a freeze to take effect before killing anyway (the next pass
/// tries again).
const FREEZE_WAIT: Duration = Duration::from_millis(200);

/// Sends SIGKILL to one pid; replaced by a recorder in unit tests.
pub(crate) type Signaller = Arc<dyn Fn(u32) -> io::Result<()> + Send + Sync>;

/// How a container's cgroups are killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillMethod {
    /// v2 `cgroup.kill` (Linux 5.14+): the kernel kills every process of the cgroup, and
    /// forks racing with it cannot escape.
    CgroupKill(PathBuf),
    /// v2 without `cgroup.kill`: `cgroup.freeze` = 1, SIGKILL every pid, `cgroup.freeze` = 0.
    FreezeV2(PathBuf),
    /// v1 freezer: `freezer.state` = FROZEN, SIGKILL every pid, THAWED. Frozen processes
    /// cannot fork, so none escapes between reading `cgroup.procs` and the kill.
    FreezerV1(PathBuf),
    /// No freezer: SIGKILL every pid of these cgroups. A fork racing with the kill is caught
    /// by the next pass.
    Signal(Vec<PathBuf>),
}

/// SIGKILL to `pid`, never to the agent itself (or its group or session) or init.
pub(crate) fn sigkill(pid: u32) -> io::Result<()> {
    if !crate::posix::is_foreign(pid) {
        tracing::warn!(
            pid,
            "not killing a process of the agent found in a container cgroup"
        );
        return Ok(());
    }
    let Ok(raw) = i32::try_from(pid) else {
        return Ok(());
    };
    match kill(Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
    }
}

/// One kill pass.
pub(crate) async fn kill_pass(
    method: &KillMethod,
    signal: &Signaller,
) -> Result<(), IsolatorError> {
    match method {
        KillMethod::CgroupKill(dir) => {
            if dir.exists() {
                fs::write(&dir.join("cgroup.kill"), "1")?;
            }
            Ok(())
        }
        KillMethod::FreezeV2(dir) => {
            frozen(
                dir,
                "cgroup.freeze",
                "1",
                "0",
                |dir| {
                    Ok(fs::read_opt(&dir.join("cgroup.events"))?
                        .is_some_and(|events| events.lines().any(|l| l.trim() == "frozen 1")))
                },
                signal,
            )
            .await
        }
        KillMethod::FreezerV1(dir) => {
            frozen(
                dir,
                "freezer.state",
                "FROZEN",
                "THAWED",
                |dir| {
                    Ok(fs::read_opt(&dir.join("freezer.state"))?
                        .is_some_and(|state| state.trim() == "FROZEN"))
                },
                signal,
            )
            .await
        }
        KillMethod::Signal(dirs) => {
            for dir in dirs {
                signal_all(dir, signal)?;
            }
            Ok(())
        }
    }
}

/// Freezes through `file`, waits (briefly) until `is_frozen`, kills every pid, thaws.
async fn frozen(
    dir: &Path,
    file: &str,
    freeze: &str,
    thaw: &str,
    is_frozen: impl Fn(&Path) -> Result<bool, IsolatorError>,
    signal: &Signaller,
) -> Result<(), IsolatorError> {
    if !dir.exists() {
        return Ok(());
    }
    let control = dir.join(file);
    fs::write(&control, freeze)?;
    let deadline = Instant::now() + FREEZE_WAIT;
    let mut pause = Duration::from_millis(1);
    let killed = loop {
        match is_frozen(dir) {
            Ok(true) => break signal_all(dir, signal),
            Ok(false) if Instant::now() >= deadline => {
                tracing::debug!(cgroup = %dir.display(), "freeze incomplete; killing anyway");
                break signal_all(dir, signal);
            }
            Ok(false) => {}
            Err(error) => break Err(error),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // Always thaw: the SIGKILLs are only acted on by running processes.
    let thawed = fs::write(&control, thaw);
    killed.and(thawed)
}

fn signal_all(dir: &Path, signal: &Signaller) -> Result<(), IsolatorError> {
    for pid in fs::procs_recursive(dir)? {
        if let Err(error) = signal(pid) {
            tracing::warn!(pid, cgroup = %dir.display(), %error, "SIGKILL failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A signaller that records pids and empties `cgroup.procs`, like a kill would.
    fn recorder(dir: PathBuf) -> (Signaller, Arc<Mutex<Vec<u32>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let signal: Signaller = Arc::new(move |pid| {
            record.lock().unwrap().push(pid);
            std::fs::write(dir.join("cgroup.procs"), "")
        });
        (signal, seen)
    }

    #[tokio::test]
    async fn v1_freezer_pass_freezes_kills_and_thaws() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().to_path_buf();
        std::fs::write(cg.join("freezer.state"), "THAWED\n").unwrap();
        std::fs::write(cg.join("cgroup.procs"), "4000001\n4000002\n").unwrap();
        let (signal, seen) = recorder(cg.clone());
        kill_pass(&KillMethod::FreezerV1(cg.clone()), &signal)
            .await
            .unwrap();
        // Both pids were read while frozen (the first kill empties the fixture).
        assert_eq!(*seen.lock().unwrap(), vec![4_000_001, 4_000_002]);
        assert_eq!(
            std::fs::read_to_string(cg.join("freezer.state")).unwrap(),
            "THAWED"
        );
    }

    #[tokio::test]
    async fn v2_passes() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().to_path_buf();
        std::fs::write(cg.join("cgroup.kill"), "").unwrap();
        let (signal, seen) = recorder(cg.clone());
        kill_pass(&KillMethod::CgroupKill(cg.clone()), &signal)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(cg.join("cgroup.kill")).unwrap(),
            "1"
        );
        assert!(seen.lock().unwrap().is_empty());

        std::fs::write(cg.join("cgroup.freeze"), "0").unwrap();
        std::fs::write(cg.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        std::fs::write(cg.join("cgroup.procs"), "4000003\n").unwrap();
        kill_pass(&KillMethod::FreezeV2(cg.clone()), &signal)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![4_000_003]);
        assert_eq!(
            std::fs::read_to_string(cg.join("cgroup.freeze")).unwrap(),
            "0"
        );
    }

    #[tokio::test]
    async fn signal_pass_and_missing_cgroups() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().to_path_buf();
        std::fs::write(cg.join("cgroup.procs"), "4000004\n").unwrap();
        let (signal, seen) = recorder(cg.clone());
        let gone = cg.join("gone");
        kill_pass(&KillMethod::Signal(vec![cg.clone(), gone.clone()]), &signal)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![4_000_004]);
        for method in [
            KillMethod::CgroupKill(gone.clone()),
            KillMethod::FreezerV1(gone.clone()),
            KillMethod::FreezeV2(gone.clone()),
        ] {
            kill_pass(&method, &signal).await.unwrap();
        }
    }

    #[test]
    fn never_kills_the_agent() {
        sigkill(std::process::id()).unwrap();
        sigkill(1).unwrap();
        sigkill(0).unwrap();
    }
}
