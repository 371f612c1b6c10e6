//! Agent recovery at start (`docs/agent-recovery.md`): reading the checkpointed state, the
//! boot id check, waiting for recovered executors to re-subscribe, and `--recover=cleanup`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::AgentError;
use crate::meta::{current_boot_id, read_state, MetaDir, RecoveredState};
use crate::runtime::{ActorHandle, Command};

/// How often the actor is asked whether recovery is done.
const POLL: Duration = Duration::from_millis(50);
/// How long `--recover=cleanup` waits for the terminal updates to be acknowledged.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads `meta/` (`strict`: unreadable checkpoints are an error) and records the current
/// boot id. If the host rebooted since the last agent ran, no process is adopted: every
/// recovered executor is treated as gone (its pid may belong to anybody now).
pub fn load(work_dir: &Path, strict: bool) -> Result<RecoveredState, AgentError> {
    let meta = MetaDir::new(work_dir);
    let error = |e: crate::meta::MetaError| AgentError::Recovery(e.to_string());
    let mut state = read_state(&meta, strict).map_err(error)?;
    let saved = meta.saved_boot_id().map_err(error)?;
    let current = current_boot_id();
    if rebooted(saved.as_deref(), current.as_deref()) {
        tracing::warn!(
            saved = ?saved,
            current = ?current,
            "the host rebooted since the agent last ran; recovered executors are gone"
        );
        forget_pids(&mut state);
    }
    if let Some(current) = &current {
        meta.save_boot_id(current).map_err(error)?;
    }
    let executors: usize = state.frameworks.iter().map(|f| f.executors.len()).sum();
    if state.agent_info.is_some() {
        tracing::info!(
            frameworks = state.frameworks.len(),
            executors,
            truncated_logs = state.truncated_logs,
            skipped = state.skipped.len(),
            "recovered the checkpointed state"
        );
    }
    Ok(state)
}

/// Whether the boot id changed (unknown ids never count as a reboot).
pub fn rebooted(saved: Option<&str>, current: Option<&str>) -> bool {
    matches!((saved, current), (Some(saved), Some(current)) if saved != current)
}

/// Drops every recorded pid, so that nothing is adopted.
pub fn forget_pids(state: &mut RecoveredState) {
    for framework in &mut state.frameworks {
        for executor in &mut framework.executors {
            executor.pid = None;
            executor.start_time = None;
        }
    }
}

/// With the docker containerizer: removes this agent's Docker containers that no re-adopted
/// executor drives ([`crate::docker::sweep`]): those of the recovered runs (`runs`) that were
/// not `adopted`, and with `kill_orphans` those of no checkpointed run at all.
pub async fn sweep_docker(
    socket: &Path,
    agent_id: &str,
    runs: &[String],
    adopted: &[String],
    kill_orphans: bool,
) {
    let gone: Vec<String> = runs
        .iter()
        .filter(|id| !adopted.contains(id))
        .cloned()
        .collect();
    let input = crate::docker::SweepInput {
        agent_id,
        adopted,
        gone: &gone,
        kill_orphans,
    };
    let removed = crate::docker::sweep(socket, &input).await;
    if !removed.is_empty() {
        tracing::info!(
            removed = removed.len(),
            "removed Docker containers of no live run"
        );
    }
}

/// Waits until every recovered executor re-subscribed or `timeout` passed; then the actor
/// destroys the ones still away.
pub async fn await_reregistration(actor: &ActorHandle, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let awaiting = actor
            .ask(Command::AwaitingReregistration)
            .await
            .unwrap_or(0);
        if awaiting == 0 {
            tracing::info!("every recovered executor re-subscribed");
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(awaiting, "executor re-registration timed out");
            actor.send(Command::ReregistrationTimeout(timeout));
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `--recover=cleanup`: waits until every executor is gone and every update acknowledged
/// (at most `limit`).
pub async fn await_cleanup(actor: &ActorHandle, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let (executors, updates) = actor.ask(Command::Outstanding).await.unwrap_or((0, 0));
        if executors == 0 && updates == 0 {
            tracing::info!("recovery cleanup finished");
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                executors,
                updates,
                "recovery cleanup did not finish in time"
            );
            return;
        }
        tokio::time::sleep(POLL * 4).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_boot_id_is_a_reboot() {
        assert!(rebooted(Some("a"), Some("b")));
        assert!(!rebooted(Some("a"), Some("a")));
        assert!(!rebooted(None, Some("a")));
        assert!(!rebooted(Some("a"), None));
    }
}
