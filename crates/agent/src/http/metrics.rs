//! `/metrics/snapshot` (flat `slave/*` gauges and counters) and `/monitor/statistics`
//! (per-executor resource usage from the containerizer).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use corral_api::v1::{self, TaskState};
use corral_containerizer::ContainerId;
use corral_http::{json_response, ApiError};
use corral_resources::Resources;
use serde_json::{json, Map, Value as Json};

use super::{allocated, HttpState};
use crate::core::state::{is_terminal, state_name};
use crate::core::{ExecutorState, Snapshot};

pub(super) async fn snapshot(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let uptime = state.info.started.elapsed().as_secs_f64();
    Ok(json_response(&metrics(
        &state.info.resources,
        &snapshot,
        uptime,
    )))
}

/// The flat metrics map.
pub(crate) fn metrics(
    total: &Resources,
    snapshot: &Snapshot,
    uptime_secs: f64,
) -> Map<String, Json> {
    let mut out = Map::new();
    let mut put = |name: &str, value: f64| {
        out.insert(format!("slave/{name}"), json!(value));
    };
    put("registered", if snapshot.registered { 1.0 } else { 0.0 });
    put("uptime_secs", uptime_secs);

    let mut used = Resources::new();
    let mut executors: BTreeMap<&str, f64> = BTreeMap::new();
    let mut live_tasks: BTreeMap<&str, f64> = BTreeMap::new();
    for framework in &snapshot.frameworks {
        for executor in framework.executors.values() {
            used.add_all(&allocated(executor));
            let bucket = match executor.state {
                ExecutorState::Launching | ExecutorState::Registering => "registering",
                ExecutorState::Running => "running",
                ExecutorState::Terminating => "terminating",
                ExecutorState::Terminated => continue,
            };
            *executors.entry(bucket).or_default() += 1.0;
            for task in executor.tasks.values().filter(|t| !is_terminal(t.state())) {
                *live_tasks.entry(state_name(task.state)).or_default() += 1.0;
            }
            *live_tasks.entry("TASK_STAGING").or_default() +=
                executor.queued_tasks().count() as f64;
        }
    }
    for name in ["cpus", "mem", "disk", "gpus"] {
        let total = total.scalar(name).as_f64();
        let used = used.scalar(name).as_f64();
        put(&format!("{name}_total"), total);
        put(&format!("{name}_used"), used);
        put(
            &format!("{name}_percent"),
            if total > 0.0 { used / total } else { 0.0 },
        );
    }
    for bucket in ["registering", "running", "terminating"] {
        put(
            &format!("executors_{bucket}"),
            executors.get(bucket).copied().unwrap_or(0.0),
        );
    }
    put(
        "executors_terminated",
        snapshot.counters.executors_terminated as f64,
    );
    for state in [
        TaskState::TaskStaging,
        TaskState::TaskStarting,
        TaskState::TaskRunning,
        TaskState::TaskKilling,
    ] {
        let name = state.as_str_name();
        put(
            &metric_name(name),
            live_tasks.get(name).copied().unwrap_or(0.0),
        );
    }
    for state in [
        TaskState::TaskFinished,
        TaskState::TaskFailed,
        TaskState::TaskKilled,
        TaskState::TaskLost,
        TaskState::TaskError,
        TaskState::TaskDropped,
        TaskState::TaskGone,
    ] {
        let name = state.as_str_name();
        let count = snapshot
            .counters
            .terminal_tasks
            .get(name)
            .copied()
            .unwrap_or(0);
        put(&metric_name(name), count as f64);
    }
    put("frameworks_active", snapshot.frameworks.len() as f64);
    put(
        "valid_status_updates",
        snapshot.counters.valid_status_updates as f64,
    );
    put(
        "invalid_status_updates",
        snapshot.counters.invalid_status_updates as f64,
    );
    put(
        "valid_framework_messages",
        snapshot.counters.valid_framework_messages as f64,
    );
    put(
        "invalid_framework_messages",
        snapshot.counters.invalid_framework_messages as f64,
    );
    put("recovery_errors", 0.0);
    put("status_updates_pending", snapshot.pending_updates as f64);
    out
}

/// `TASK_RUNNING` → `tasks_running`.
fn metric_name(state: &str) -> String {
    format!(
        "tasks_{}",
        state.trim_start_matches("TASK_").to_ascii_lowercase()
    )
}

#[allow(deprecated)] // `source` is deprecated in Mesos but still reported here.
pub(super) async fn statistics(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let mut entries = Vec::new();
    for framework in &snapshot.frameworks {
        for executor in framework.executors.values() {
            if executor.pid.is_none() || executor.state == ExecutorState::Terminated {
                continue;
            }
            let Ok(id) = ContainerId::new(executor.container_id.clone()) else {
                continue;
            };
            let Ok(usage) = state.containerizer.usage(&id).await else {
                continue;
            };
            let held = allocated(executor);
            let mem_mb = held.scalar("mem").as_f64();
            let statistics = v1::ResourceStatistics {
                timestamp: crate::runtime::now_secs(),
                processes: usage.processes.and_then(|n| u32::try_from(n).ok()),
                threads: usage.threads.and_then(|n| u32::try_from(n).ok()),
                cpus_user_time_secs: usage.cpu_user_secs,
                cpus_system_time_secs: usage.cpu_system_secs,
                cpus_limit: usage
                    .cpus_limit
                    .or_else(|| Some(held.scalar("cpus").as_f64()).filter(|c| *c > 0.0)),
                mem_rss_bytes: usage.mem_rss_bytes,
                // Whole bytes of the MB figure; truncation is intended.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                mem_limit_bytes: usage
                    .mem_limit_bytes
                    .or_else(|| (mem_mb > 0.0).then_some((mem_mb * 1024.0 * 1024.0) as u64)),
                ..Default::default()
            };
            entries.push(json!({
                "framework_id": framework.id(),
                "executor_id": executor.id(),
                "executor_name": executor.info.name.clone().unwrap_or_default(),
                "source": executor.info.source.clone().unwrap_or_default(),
                "statistics": statistics,
            }));
        }
    }
    Ok(json_response(&entries))
}
