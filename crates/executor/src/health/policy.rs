//! The health check's timing, its validation, and the pure state machine of its results.

use std::time::Duration;

use corral_api::v1::HealthCheck;

/// The check's timing (Mesos's defaults for absent fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Wait before the first check (`delay_seconds`, default 15).
    pub delay: Duration,
    /// Between checks (`interval_seconds`, default 10).
    pub interval: Duration,
    /// A check running longer fails (`timeout_seconds`, default 20; 0: no timeout).
    pub timeout: Option<Duration>,
    /// Failures in a row that kill the task (`consecutive_failures`, default 3).
    pub consecutive_failures: u32,
    /// Failures this soon after launch are ignored until the first success
    /// (`grace_period_seconds`, default 10; counts from launch, so it includes the delay).
    pub grace: Duration,
}

/// The smallest interval between checks (a 0 interval would spin).
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

impl Policy {
    /// The timing of `check` (assumed [`validate`]d).
    pub fn of(check: &HealthCheck) -> Policy {
        let timeout = seconds(check.timeout_seconds());
        Policy {
            delay: seconds(check.delay_seconds()),
            interval: seconds(check.interval_seconds()).max(MIN_INTERVAL),
            timeout: (!timeout.is_zero()).then_some(timeout),
            consecutive_failures: check.consecutive_failures(),
            grace: seconds(check.grace_period_seconds()),
        }
    }
}

pub use corral_api::checks::validate_health_check as validate;

/// What a check result means for the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthUpdate {
    /// Report the task healthy or not.
    pub healthy: bool,
    /// Failures in a row so far.
    pub consecutive_failures: u32,
    /// Kill the task.
    pub kill: bool,
}

/// The results so far.
#[derive(Clone, Debug)]
pub struct HealthState {
    policy: Policy,
    consecutive_failures: u32,
    initializing: bool,
}

impl HealthState {
    /// No results yet.
    pub fn new(policy: Policy) -> HealthState {
        HealthState {
            policy,
            consecutive_failures: 0,
            initializing: true,
        }
    }

    /// Records a check that ended `elapsed` after the task started; `Some` when an update is
    /// due.
    pub fn record(&mut self, elapsed: Duration, passed: bool) -> Option<HealthUpdate> {
        if passed {
            let report = self.initializing || self.consecutive_failures > 0;
            self.initializing = false;
            self.consecutive_failures = 0;
            return report.then_some(HealthUpdate {
                healthy: true,
                consecutive_failures: 0,
                kill: false,
            });
        }
        if self.initializing && !self.policy.grace.is_zero() && elapsed <= self.policy.grace {
            return None;
        }
        self.consecutive_failures += 1;
        Some(HealthUpdate {
            healthy: false,
            consecutive_failures: self.consecutive_failures,
            kill: self.consecutive_failures >= self.policy.consecutive_failures,
        })
    }

    /// Failures in a row so far.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use corral_api::v1::health_check::Type as CheckType;
    use corral_api::v1::health_check::{HttpCheckInfo, TcpCheckInfo};
    use corral_api::v1::CommandInfo;

    fn policy(failures: u32, grace_secs: u64) -> Policy {
        Policy {
            delay: Duration::ZERO,
            interval: Duration::from_secs(1),
            timeout: Some(Duration::from_secs(1)),
            consecutive_failures: failures,
            grace: Duration::from_secs(grace_secs),
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn mesos_defaults() {
        let check = HealthCheck {
            r#type: Some(CheckType::Tcp as i32),
            ..HealthCheck::default()
        };
        let p = Policy::of(&check);
        assert_eq!(p.delay, secs(15));
        assert_eq!(p.interval, secs(10));
        assert_eq!(p.timeout, Some(secs(20)));
        assert_eq!(p.consecutive_failures, 3);
        assert_eq!(p.grace, secs(10));
    }

    #[test]
    fn healthy_is_reported_first_and_after_failures_only() {
        let mut state = HealthState::new(policy(3, 0));
        assert_eq!(state.record(secs(1), true).map(|u| u.healthy), Some(true));
        assert_eq!(state.record(secs(2), true), None);
        let failed = state.record(secs(3), false).unwrap();
        assert!(!failed.healthy && !failed.kill && failed.consecutive_failures == 1);
        assert_eq!(state.record(secs(4), true).map(|u| u.healthy), Some(true));
        assert_eq!(state.consecutive_failures(), 0);
    }

    #[test]
    fn consecutive_failures_kill() {
        let mut state = HealthState::new(policy(3, 0));
        let updates: Vec<_> = (1..=3)
            .map(|s| state.record(secs(s), false).unwrap())
            .collect();
        assert_eq!(
            updates
                .iter()
                .map(|u| (u.healthy, u.kill))
                .collect::<Vec<_>>(),
            [(false, false), (false, false), (false, true)]
        );
        // A success in between resets the count.
        let mut state = HealthState::new(policy(2, 0));
        assert!(!state.record(secs(1), false).unwrap().kill);
        state.record(secs(2), true);
        assert!(!state.record(secs(3), false).unwrap().kill);
        assert!(state.record(secs(4), false).unwrap().kill);
    }

    #[test]
    fn failures_in_the_grace_period_are_ignored_until_the_first_success() {
        let mut state = HealthState::new(policy(1, 10));
        assert_eq!(state.record(secs(5), false), None);
        assert_eq!(state.record(secs(10), false), None);
        let after = state.record(secs(11), false).unwrap();
        assert!(after.kill && !after.healthy);
        // Once healthy, the grace period no longer applies.
        let mut state = HealthState::new(policy(1, 10));
        state.record(secs(2), true);
        assert!(state.record(secs(3), false).unwrap().kill);
    }

    #[test]
    fn zero_consecutive_failures_kills_on_the_first_counted_failure() {
        let mut state = HealthState::new(policy(0, 0));
        assert!(state.record(secs(1), false).unwrap().kill);
    }

    #[test]
    fn validation() {
        let mut check = HealthCheck::default();
        assert!(validate(&check).unwrap_err().contains("'type'"));
        check.r#type = Some(CheckType::Http as i32);
        assert!(validate(&check).unwrap_err().contains("'http'"));
        check.http = Some(HttpCheckInfo {
            port: 8080,
            scheme: Some("ftp".into()),
            ..HttpCheckInfo::default()
        });
        assert!(validate(&check).unwrap_err().contains("ftp"));
        check.http = Some(HttpCheckInfo {
            port: 8080,
            path: Some("/health".into()),
            ..HttpCheckInfo::default()
        });
        assert!(validate(&check).is_ok());
        check.r#type = Some(CheckType::Tcp as i32);
        check.tcp = Some(TcpCheckInfo {
            port: 70000,
            ..TcpCheckInfo::default()
        });
        assert!(validate(&check).unwrap_err().contains("70000"));
        check.r#type = Some(CheckType::Command as i32);
        check.command = Some(CommandInfo::default());
        assert!(validate(&check).unwrap_err().contains("value"));
        check.command = Some(CommandInfo {
            value: Some("true".into()),
            ..CommandInfo::default()
        });
        assert!(validate(&check).is_ok());
        check.interval_seconds = Some(-1.0);
        assert!(validate(&check).unwrap_err().contains("interval_seconds"));
        check.interval_seconds = None;
        check.r#type = Some(42);
        assert!(validate(&check).is_err());
    }
}
