//! Task health checks (`TaskInfo.health_check`, Mesos's `docs/health-checks.md`).
//!
//! * [`policy`]: the pure part — the check's timing with Mesos's defaults (15 s delay, 10 s
//!   interval, 20 s timeout, 3 consecutive failures, 10 s grace), validation at launch, and
//!   the state machine turning probe outcomes into health updates: the first success and the
//!   first success after failures report `healthy: true`; every failure outside the grace
//!   period reports `healthy: false`; the `consecutive_failures`-th failure in a row asks for
//!   the task to be killed. Failures inside the grace period are ignored until the first
//!   success.
//! * [`probe`]: the edge — `COMMAND` (the command in the sandbox, with the task's environment
//!   and user), `HTTP` (GET `scheme://127.0.0.1:port/path`, 200–399 passes) and `TCP` (a
//!   connection to `127.0.0.1:port`).
//! * [`runner`]: one checker task per health-checked task, started when the task runs and
//!   stopped when it is killed or ends; its verdicts go to the executor core as
//!   [`crate::core::Input::Health`], which sends `TASK_RUNNING` updates with `healthy` and
//!   `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`, and kills the task when asked (its terminal
//!   update is then `TASK_KILLED` with `healthy: false`).

pub mod policy;
pub mod probe;
pub mod runner;

pub use policy::{validate, HealthState, HealthUpdate, Policy};

#[cfg(test)]
mod core_tests;
