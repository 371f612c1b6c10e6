//! One task's life in the executor: launching → running → (killing) → terminal.

use std::time::Duration;

use corral_api::v1::task_status::Reason;
use corral_api::v1::{TaskId, TaskInfo, TaskState};

/// Mesos's default kill grace period when neither the task nor the KILL gives one.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Its process was asked for; no pid yet.
    Launching,
    /// Its process runs.
    Running {
        /// The process (and process group) id.
        pid: u32,
    },
    /// It ended; its terminal update was sent.
    Terminal(TaskState),
}

/// A kill in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Killing {
    /// Grace period between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Bumped whenever a new escalation timer is armed, so stale timers are ignored.
    pub generation: u64,
    /// SIGTERM has been sent.
    pub signalled: bool,
    /// SIGKILL has been sent.
    pub escalated: bool,
    /// Why the executor kills it, when not on request (e.g. max completion time).
    pub reason: Option<Reason>,
}

/// A task the executor was given.
#[derive(Clone, Debug)]
pub struct Task {
    /// As launched.
    pub info: TaskInfo,
    /// Index of its task group (0 for the command executor).
    pub group: usize,
    /// Where it is.
    pub phase: Phase,
    /// Set once a kill was requested or decided.
    pub killing: Option<Killing>,
    /// An update for it has been acknowledged by the agent.
    pub acknowledged: bool,
    /// Its health check asked for the kill.
    pub killed_by_health: bool,
}

impl Task {
    /// A task whose process is about to be spawned.
    pub fn new(info: TaskInfo, group: usize) -> Task {
        Task {
            info,
            group,
            phase: Phase::Launching,
            killing: None,
            acknowledged: false,
            killed_by_health: false,
        }
    }

    /// Its id.
    pub fn id(&self) -> &TaskId {
        &self.info.task_id
    }

    /// Whether it has ended.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase, Phase::Terminal(_))
    }

    /// The pid of its running process.
    pub fn pid(&self) -> Option<u32> {
        match self.phase {
            Phase::Running { pid } => Some(pid),
            _ => None,
        }
    }

    /// The task's own kill grace period (its kill policy, else Mesos's 3 s default).
    pub fn own_grace(&self) -> Duration {
        grace_of(self.info.kill_policy.as_ref()).unwrap_or(DEFAULT_KILL_GRACE)
    }
}

/// The grace period a kill policy gives, if any (negative values count as 0).
pub fn grace_of(policy: Option<&corral_api::v1::KillPolicy>) -> Option<Duration> {
    let nanos = policy?.grace_period.as_ref()?.nanoseconds;
    Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::v1::{DurationInfo, KillPolicy};

    #[test]
    fn grace_comes_from_the_kill_policy() {
        let mut task = Task::new(TaskInfo::default(), 0);
        assert_eq!(task.own_grace(), DEFAULT_KILL_GRACE);
        task.info.kill_policy = Some(KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: 1_500_000_000,
            }),
        });
        assert_eq!(task.own_grace(), Duration::from_millis(1500));
        let negative = KillPolicy {
            grace_period: Some(DurationInfo { nanoseconds: -5 }),
        };
        assert_eq!(grace_of(Some(&negative)), Some(Duration::ZERO));
        assert_eq!(grace_of(Some(&KillPolicy::default())), None);
    }
}
