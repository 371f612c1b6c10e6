//! One checker per health-checked task: waits `delay`, probes every `interval`, and hands
//! the state machine's updates to the executor core.

use std::path::PathBuf;
use std::time::Instant;

use corral_api::v1::TaskInfo;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::policy::{HealthState, Policy};
use super::probe::Probe;
use crate::core::Input;

/// Starts checking `task` (which has a valid `health_check`); the checker stops by itself
/// after asking for a kill, or when `tx` closes; abort the handle to stop it sooner.
pub fn start(
    task: &TaskInfo,
    sandbox: Option<PathBuf>,
    tx: UnboundedSender<Input>,
) -> Result<JoinHandle<()>, String> {
    let check = task
        .health_check
        .clone()
        .ok_or("the task has no health check")?;
    let policy = Policy::of(&check);
    let probe = Probe::of(&check, task)?;
    // Like Mesos's checks, HTTPS checks do not verify certificates.
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| format!("cannot create the health check client: {e}"))?;
    let task_id = task.task_id.clone();
    let started = Instant::now();
    tracing::info!(task_id = %task_id.value, ?policy, ?probe, "starting health checks");
    Ok(tokio::spawn(async move {
        tokio::time::sleep(policy.delay).await;
        let mut state = HealthState::new(policy);
        loop {
            let outcome = probe.run(&client, policy.timeout, sandbox.as_deref()).await;
            if let Err(why) = &outcome {
                tracing::warn!(task_id = %task_id.value, %why, failures = state.consecutive_failures() + 1, "health check failed");
            }
            if let Some(update) = state.record(started.elapsed(), outcome.is_ok()) {
                let input = Input::Health {
                    task_id: task_id.clone(),
                    update,
                };
                if tx.send(input).is_err() || update.kill {
                    return;
                }
            }
            tokio::time::sleep(policy.interval).await;
        }
    }))
}
