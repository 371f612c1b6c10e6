//! Re-adopting containers after an agent restart: deciding whether a checkpointed pid is still
//! ours, and watching a process that is not our child.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::is_foreign;
use crate::launcher::{ExitStatus, GoneReason, KnownProcess};
use crate::procfs::{self, ProcStat};
use crate::sys;

/// How often a process is polled when `pidfd_open` is unavailable (Linux < 5.3).
const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The main process runs; `start_time` identifies it.
    Running {
        start_time: u64,
    },
    /// The main process ended while the agent was down, but processes of its session remain.
    LeaderEnded,
    Gone(GoneReason),
}

/// Decides from one `/proc` scan what to do with a checkpointed container.
pub(super) fn classify(stats: &[ProcStat], known: &KnownProcess) -> Verdict {
    if !is_foreign(known.pid) {
        return Verdict::Gone(GoneReason::InvalidPid);
    }
    let leader = stats.iter().find(|s| s.pid == known.pid);
    if let Some(leader) = leader {
        if known.start_time.is_some_and(|t| t != leader.start_time) {
            return Verdict::Gone(GoneReason::PidReused);
        }
        if leader.session != known.pid {
            return Verdict::Gone(GoneReason::NotSessionLeader);
        }
        if !leader.is_dead() {
            return Verdict::Running {
                start_time: leader.start_time,
            };
        }
    }
    // The leader is gone or a zombie. While any process still has the session or group id,
    // Linux cannot have handed the number to another process, so these are ours.
    if procfs::live_members(stats, known.pid, known.pid).is_empty() {
        Verdict::Gone(GoneReason::NotFound)
    } else {
        Verdict::LeaderEnded
    }
}

/// Watches a process that is not our child; the returned status becomes
/// `Some(ExitStatus::Unknown)` when it ends.
pub(super) fn watch(
    proc_root: PathBuf,
    pid: u32,
    start_time: u64,
) -> watch::Receiver<Option<ExitStatus>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        wait_for_exit(&proc_root, pid, start_time).await;
        tracing::info!(pid, "recovered container process ended");
        tx.send_replace(Some(ExitStatus::Unknown));
    });
    rx
}

async fn wait_for_exit(proc_root: &std::path::Path, pid: u32, start_time: u64) {
    match sys::pidfd_open(pid) {
        Ok(fd) => {
            // The descriptor refers to whatever process had the pid when it was opened; make
            // sure that is still the one we classified.
            if !still_running(proc_root, pid, start_time) {
                return;
            }
            match sys::register_pidfd(fd) {
                // A pidfd turns readable when the process terminates.
                Ok(fd) => match fd.readable().await {
                    Ok(_) => return,
                    Err(error) => tracing::debug!(pid, %error, "pidfd readiness failed; polling"),
                },
                Err(error) => tracing::debug!(pid, %error, "cannot register pidfd; polling"),
            }
        }
        Err(error) => tracing::debug!(pid, %error, "pidfd_open failed; polling /proc"),
    }
    while still_running(proc_root, pid, start_time) {
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn still_running(proc_root: &std::path::Path, pid: u32, start_time: u64) -> bool {
    match procfs::read_stat(proc_root, pid) {
        Ok(Some(stat)) => stat.start_time == start_time && !stat.is_dead(),
        Ok(None) => false,
        // Unreadable for another reason: assume it still runs and look again later.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ContainerId;

    fn stat(pid: u32, state: char, session: u32, start_time: u64) -> ProcStat {
        ProcStat {
            pid,
            state,
            ppid: 1,
            pgrp: session,
            session,
            utime: 0,
            stime: 0,
            cutime: 0,
            cstime: 0,
            num_threads: 1,
            start_time,
            rss_pages: 0,
        }
    }

    fn known(pid: u32, start_time: Option<u64>) -> KnownProcess {
        KnownProcess {
            container_id: ContainerId::new("c").unwrap(),
            pid,
            start_time,
        }
    }

    // Large pids so that they cannot be the test's own process, group or session.
    const PID: u32 = 4_000_000;

    #[test]
    fn classifies() {
        let running = [stat(PID, 'S', PID, 77)];
        assert_eq!(
            classify(&running, &known(PID, Some(77))),
            Verdict::Running { start_time: 77 }
        );
        assert_eq!(
            classify(&running, &known(PID, None)),
            Verdict::Running { start_time: 77 }
        );
        assert_eq!(
            classify(&running, &known(PID, Some(78))),
            Verdict::Gone(GoneReason::PidReused)
        );
        let not_leader = [stat(PID, 'S', 12345, 77)];
        assert_eq!(
            classify(&not_leader, &known(PID, Some(77))),
            Verdict::Gone(GoneReason::NotSessionLeader)
        );
        assert_eq!(
            classify(&[], &known(PID, None)),
            Verdict::Gone(GoneReason::NotFound)
        );
        let zombie_only = [stat(PID, 'Z', PID, 77)];
        assert_eq!(
            classify(&zombie_only, &known(PID, Some(77))),
            Verdict::Gone(GoneReason::NotFound)
        );
        let orphans = [stat(PID, 'Z', PID, 77), stat(PID + 1, 'S', PID, 80)];
        assert_eq!(
            classify(&orphans, &known(PID, Some(77))),
            Verdict::LeaderEnded
        );
        assert_eq!(
            classify(&[], &known(1, None)),
            Verdict::Gone(GoneReason::InvalidPid)
        );
        assert_eq!(
            classify(&[], &known(0, None)),
            Verdict::Gone(GoneReason::InvalidPid)
        );
    }
}
