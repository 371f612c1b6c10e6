//! How a task's end is reported: exit statuses, their Mesos wording, and TaskStatus messages.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use corral_api::v1::task_status::{Reason, Source};
use corral_api::v1::{
    AgentId, ContainerId, ContainerStatus, ExecutorId, TaskId, TaskState, TaskStatus,
};

/// How a task's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal (this number) terminated it.
    Signal(i32),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
}

impl fmt::Display for ExitStatus {
    /// Mesos's `WSTRINGIFY` wording: `exited with status 1`, `terminated with signal Killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signal(signal) => {
                write!(f, "terminated with signal {}", signal_name(*signal))
            }
        }
    }
}

/// `strsignal`'s description of the common signals (Linux numbering).
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "Hangup",
        2 => "Interrupt",
        3 => "Quit",
        4 => "Illegal instruction",
        5 => "Trace/breakpoint trap",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        10 => "User defined signal 1",
        11 => "Segmentation fault",
        12 => "User defined signal 2",
        13 => "Broken pipe",
        14 => "Alarm clock",
        15 => "Terminated",
        24 => "CPU time limit exceeded",
        25 => "File size limit exceeded",
        _ => return format!("Unknown signal {signal}"),
    };
    name.to_string()
}

/// The message of a task whose command ended: `Command exited with status 3`.
pub fn exit_message(status: ExitStatus) -> String {
    format!("Command {status}")
}

/// Parses the exit code back out of `Command exited with status N` (what `corral run` uses
/// for its own exit code).
pub fn parse_exit_code(message: &str) -> Option<i32> {
    let rest = message.split("exited with status ").nth(1)?;
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// Who the executor is, as every update reports it.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The executor's id.
    pub executor_id: ExecutorId,
    /// The agent's id (from SUBSCRIBED).
    pub agent_id: Option<AgentId>,
    /// The executor's container (from SUBSCRIBED).
    pub container_id: Option<ContainerId>,
    /// The executor's own pid, reported with TASK_RUNNING.
    pub executor_pid: u32,
}

/// What one update says.
#[derive(Clone, Debug)]
pub struct Report {
    /// The state.
    pub state: TaskState,
    /// Human-readable detail.
    pub message: Option<String>,
    /// Machine-readable reason.
    pub reason: Option<Reason>,
    /// Attach the container status (TASK_RUNNING).
    pub with_container: bool,
    /// The task's health, when a health check says so.
    pub healthy: Option<bool>,
}

impl Report {
    /// A bare state.
    pub fn state(state: TaskState) -> Report {
        Report {
            state,
            message: None,
            reason: None,
            with_container: false,
            healthy: None,
        }
    }

    /// With a message.
    pub fn message(mut self, message: impl Into<String>) -> Report {
        self.message = Some(message.into());
        self
    }

    /// With a reason.
    pub fn reason(mut self, reason: Reason) -> Report {
        self.reason = Some(reason);
        self
    }
}

/// A TaskStatus from the executor: fresh 16-byte uuid, SOURCE_EXECUTOR, timestamp `now`.
pub fn task_status(
    identity: &Identity,
    task_id: &TaskId,
    report: Report,
    now: SystemTime,
) -> TaskStatus {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let container_status = report.with_container.then(|| ContainerStatus {
        container_id: identity.container_id.clone(),
        executor_pid: Some(identity.executor_pid),
        ..ContainerStatus::default()
    });
    TaskStatus {
        task_id: task_id.clone(),
        state: report.state as i32,
        message: report.message,
        source: Some(Source::Executor as i32),
        reason: report.reason.map(|r| r as i32),
        agent_id: identity.agent_id.clone(),
        executor_id: Some(identity.executor_id.clone()),
        timestamp: Some(timestamp),
        uuid: Some(corral_api::ids::new_uuid_bytes()),
        container_status,
        healthy: report.healthy,
        ..TaskStatus::default()
    }
}

/// Whether `state` ends a task for good.
pub fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskLost
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_exits_as_mesos_does() {
        assert_eq!(
            exit_message(ExitStatus::Code(3)),
            "Command exited with status 3"
        );
        assert_eq!(
            exit_message(ExitStatus::Signal(9)),
            "Command terminated with signal Killed"
        );
        assert_eq!(
            exit_message(ExitStatus::Signal(15)),
            "Command terminated with signal Terminated"
        );
        assert_eq!(signal_name(64), "Unknown signal 64");
    }

    #[test]
    fn parses_exit_codes_back() {
        assert_eq!(parse_exit_code("Command exited with status 42"), Some(42));
        assert_eq!(
            parse_exit_code("Command exited with status 1 (pid 7)"),
            Some(1)
        );
        assert_eq!(
            parse_exit_code("Command terminated with signal Killed"),
            None
        );
    }

    #[test]
    fn statuses_are_reliable_executor_updates() {
        let identity = Identity {
            executor_id: ExecutorId { value: "e".into() },
            executor_pid: 42,
            ..Identity::default()
        };
        let task = TaskId { value: "t".into() };
        let a = task_status(
            &identity,
            &task,
            Report {
                with_container: true,
                ..Report::state(TaskState::TaskRunning)
            },
            SystemTime::now(),
        );
        let b = task_status(
            &identity,
            &task,
            Report::state(TaskState::TaskRunning),
            SystemTime::now(),
        );
        assert_eq!(a.uuid.as_ref().map(Vec::len), Some(16));
        assert_ne!(a.uuid, b.uuid);
        assert_eq!(a.source, Some(Source::Executor as i32));
        assert_eq!(a.executor_id.as_ref().map(|e| e.value.as_str()), Some("e"));
        assert_eq!(a.container_status.and_then(|c| c.executor_pid), Some(42));
        assert!(b.container_status.is_none());
        assert!(a.timestamp.unwrap_or_default() > 1e9);
    }
}
