//! Flags for sandboxes: task output rotation and rate limit (the command executor's logger),
//! sandbox garbage collection and the `disk/du` isolator.

use std::time::Duration;

use clap::{ArgAction, Args};

use super::{format_duration, parse_duration};

/// Sandbox logging, garbage collection and disk quota flags (Mesos names where they exist).
#[derive(Debug, Clone, Args)]
pub struct SandboxFlags {
    /// Rotate a task's `stdout` when it reaches this size (Mesos's
    /// `LogrotateContainerLogger` `--logrotate_max_stdout_size`).
    #[arg(
        long = "logrotate_max_stdout_size",
        env = "MESOS_LOGROTATE_MAX_STDOUT_SIZE",
        default_value = "10MB",
        value_parser = corral_fetcher::parse_size
    )]
    pub logrotate_max_stdout_size: u64,

    /// Rotate a task's `stderr` when it reaches this size.
    #[arg(
        long = "logrotate_max_stderr_size",
        env = "MESOS_LOGROTATE_MAX_STDERR_SIZE",
        default_value = "10MB",
        value_parser = corral_fetcher::parse_size
    )]
    pub logrotate_max_stderr_size: u64,

    /// Files kept per output stream, the current one included (`stdout`, `stdout.1`, …).
    /// Not a Mesos flag (Mesos takes logrotate's `rotate N` option).
    #[arg(
        long = "logrotate_max_files",
        env = "MESOS_LOGROTATE_MAX_FILES",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub logrotate_max_files: u32,

    /// Bytes per second a task may write to each of `stdout`/`stderr`; the excess is dropped
    /// and a marker line says how much (`0`: unlimited). Not a Mesos flag.
    #[arg(
        long = "container_log_rate_limit",
        env = "MESOS_CONTAINER_LOG_RATE_LIMIT",
        default_value = "1MB",
        value_parser = parse_size_or_zero
    )]
    pub container_log_rate_limit: u64,

    /// Bytes a task may write at once above the rate (default: one second of the rate).
    #[arg(
        long = "container_log_rate_burst",
        env = "MESOS_CONTAINER_LOG_RATE_BURST",
        value_parser = parse_size_or_zero
    )]
    pub container_log_rate_burst: Option<u64>,

    /// How long after its executor ended a sandbox is kept at most (Mesos's `--gc_delay`);
    /// less as the disk fills (see `--gc_disk_headroom`).
    #[arg(
        long = "gc_delay",
        env = "MESOS_GC_DELAY",
        default_value = "1weeks",
        value_parser = parse_duration
    )]
    pub gc_delay: Duration,

    /// Fraction of the disk to keep free: sandboxes older than
    /// `gc_delay * max(0, 1 - gc_disk_headroom - disk usage)` are removed.
    #[arg(
        long = "gc_disk_headroom",
        env = "MESOS_GC_DISK_HEADROOM",
        default_value_t = 0.1,
        value_parser = parse_fraction
    )]
    pub gc_disk_headroom: f64,

    /// How often the disk usage is checked and old sandboxes removed.
    #[arg(
        long = "disk_watch_interval",
        env = "MESOS_DISK_WATCH_INTERVAL",
        default_value = "1mins",
        value_parser = parse_duration
    )]
    pub disk_watch_interval: Duration,

    /// With `disk/du`: kill containers whose sandbox exceeds their `disk` resource
    /// (`TASK_FAILED`, `REASON_CONTAINER_LIMITATION_DISK`); otherwise usage is only measured.
    #[arg(
        long = "enforce_container_disk_quota",
        env = "MESOS_ENFORCE_CONTAINER_DISK_QUOTA",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set
    )]
    pub enforce_container_disk_quota: bool,

    /// With `disk/du`: how often each container's sandbox is measured.
    #[arg(
        long = "container_disk_watch_interval",
        env = "MESOS_CONTAINER_DISK_WATCH_INTERVAL",
        default_value = "15secs",
        value_parser = parse_duration
    )]
    pub container_disk_watch_interval: Duration,
}

impl SandboxFlags {
    /// The flags as `/flags` reports them.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "logrotate_max_stdout_size",
                self.logrotate_max_stdout_size.to_string(),
            ),
            (
                "logrotate_max_stderr_size",
                self.logrotate_max_stderr_size.to_string(),
            ),
            ("logrotate_max_files", self.logrotate_max_files.to_string()),
            (
                "container_log_rate_limit",
                self.container_log_rate_limit.to_string(),
            ),
            ("gc_delay", format_duration(self.gc_delay)),
            ("gc_disk_headroom", self.gc_disk_headroom.to_string()),
            (
                "disk_watch_interval",
                format_duration(self.disk_watch_interval),
            ),
            (
                "enforce_container_disk_quota",
                self.enforce_container_disk_quota.to_string(),
            ),
            (
                "container_disk_watch_interval",
                format_duration(self.container_disk_watch_interval),
            ),
        ]
    }

    /// The executor environment that configures its task logger
    /// (`corral_executor::logger::LoggerConfig::from_env`).
    pub fn logger_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "CORRAL_LOGROTATE_MAX_STDOUT_SIZE".to_string(),
                self.logrotate_max_stdout_size.to_string(),
            ),
            (
                "CORRAL_LOGROTATE_MAX_STDERR_SIZE".to_string(),
                self.logrotate_max_stderr_size.to_string(),
            ),
            (
                "CORRAL_LOGROTATE_MAX_FILES".to_string(),
                self.logrotate_max_files.to_string(),
            ),
            (
                "CORRAL_CONTAINER_LOG_RATE_LIMIT".to_string(),
                self.container_log_rate_limit.to_string(),
            ),
        ];
        if let Some(burst) = self.container_log_rate_burst {
            env.push((
                "CORRAL_CONTAINER_LOG_RATE_BURST".to_string(),
                burst.to_string(),
            ));
        }
        env
    }
}

/// A size like `10MB`, or `0`.
fn parse_size_or_zero(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    corral_fetcher::parse_size(text)
}

/// A number in `[0, 1]`.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("'{text}' must be between 0 and 1"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::AgentFlags;
    use std::time::Duration;

    #[test]
    fn sandbox_flags_default_like_mesos() {
        let flags = AgentFlags::try_parse_from(["agent", "--master=127.0.0.1:5050"]).unwrap();
        let s = &flags.sandbox;
        assert_eq!(s.gc_delay, Duration::from_secs(7 * 24 * 3600));
        assert!((s.gc_disk_headroom - 0.1).abs() < 1e-12);
        assert_eq!(s.disk_watch_interval, Duration::from_secs(60));
        assert_eq!(s.container_disk_watch_interval, Duration::from_secs(15));
        assert!(!s.enforce_container_disk_quota);
        assert_eq!(s.logrotate_max_stdout_size, 10 << 20);
        assert_eq!(s.logrotate_max_files, 5);
    }

    #[test]
    fn sandbox_flags_parse_and_refuse_bad_values() {
        let flags = AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--gc_delay=2secs",
            "--gc_disk_headroom=0.5",
            "--enforce_container_disk_quota",
            "--logrotate_max_stdout_size=64KB",
            "--container_log_rate_limit=0",
        ])
        .unwrap();
        assert_eq!(flags.sandbox.gc_delay, Duration::from_secs(2));
        assert!(flags.sandbox.enforce_container_disk_quota);
        assert_eq!(flags.sandbox.logrotate_max_stdout_size, 64 << 10);
        assert_eq!(flags.sandbox.container_log_rate_limit, 0);
        assert!(
            AgentFlags::try_parse_from(["agent", "--master=m", "--gc_disk_headroom=2"]).is_err()
        );
        assert!(
            AgentFlags::try_parse_from(["agent", "--master=m", "--logrotate_max_files=0"]).is_err()
        );
    }
}
