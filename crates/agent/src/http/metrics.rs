//! `/metrics/snapshot` (flat `slave/*` gauges and counters) and `/monitor/statistics`
//! (per-executor resource usage from the containerizer).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use corral_api::v1::{self, TaskState};
use corral_containerizer::{ContainerId, ResourceUsage};
use corral_http::{json_response, ApiError};
use corral_resources::Resources;
use serde_json::{json, Map, Value as Json};

use super::{allocated, HttpState};
use crate::core::state::{is_terminal, state_name};
use crate::core::{Executor, ExecutorState, Snapshot};
use crate::runtime::now_secs;

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

/// A live executor's container and its usage.
pub(super) struct Measured<'a> {
    pub(super) framework_id: &'a str,
    pub(super) executor: &'a Executor,
    pub(super) statistics: v1::ResourceStatistics,
}

/// Usage of every live executor container the containerizer can measure.
pub(super) async fn measure<'a>(state: &HttpState, snapshot: &'a Snapshot) -> Vec<Measured<'a>> {
    let mut out = Vec::new();
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
            out.push(Measured {
                framework_id: framework.id(),
                executor,
                statistics: resource_statistics(&usage, &allocated(executor), now_secs()),
            });
        }
    }
    out
}

/// Above this a cgroup v1 memory limit means "no limit" (the kernel reports 2^63 rounded
/// down to a page).
const UNLIMITED_BYTES: u64 = 1 << 60;

/// Mesos's `ResourceStatistics` from the isolators' usage; limits nobody reports fall back to
/// what the executor holds.
pub(crate) fn resource_statistics(
    usage: &ResourceUsage,
    held: &Resources,
    timestamp: f64,
) -> v1::ResourceStatistics {
    let count = |n: Option<u64>| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let held_cpus = held.scalar("cpus").as_f64();
    let held_mem = held.scalar("mem").as_f64();
    // Whole bytes of the MB figure; truncation is intended.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let held_mem_bytes = (held_mem > 0.0).then_some((held_mem * 1024.0 * 1024.0) as u64);
    v1::ResourceStatistics {
        timestamp,
        processes: count(usage.processes),
        threads: count(usage.threads),
        cpus_user_time_secs: usage.cpu_user_secs,
        cpus_system_time_secs: usage.cpu_system_secs,
        cpus_limit: usage
            .cpus_limit
            .or_else(|| Some(held_cpus).filter(|c| *c > 0.0)),
        cpus_nr_periods: count(usage.cpus_nr_periods),
        cpus_nr_throttled: count(usage.cpus_nr_throttled),
        cpus_throttled_time_secs: usage.cpus_throttled_time_secs,
        mem_rss_bytes: usage.mem_rss_bytes,
        mem_total_bytes: usage.mem_total_bytes,
        mem_limit_bytes: usage
            .mem_limit_bytes
            .filter(|b| *b < UNLIMITED_BYTES)
            .or(held_mem_bytes),
        mem_cache_bytes: usage.mem_cache_bytes,
        mem_anon_bytes: usage.mem_anon_bytes,
        mem_file_bytes: usage.mem_file_bytes,
        mem_mapped_file_bytes: usage.mem_mapped_file_bytes,
        mem_swap_bytes: usage.mem_swap_bytes,
        disk_used_bytes: usage.disk_used_bytes,
        disk_limit_bytes: usage.disk_limit_bytes,
        ..Default::default()
    }
}

/// `/monitor/statistics`: one entry per live executor container.
#[allow(deprecated)] // `source` is deprecated in Mesos but still reported here.
pub(super) async fn statistics(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let entries: Vec<Json> = measure(&state, &snapshot)
        .await
        .into_iter()
        .map(|m| {
            json!({
                "framework_id": m.framework_id,
                "executor_id": m.executor.id(),
                "executor_name": m.executor.info.name.clone().unwrap_or_default(),
                "source": m.executor.info.source.clone().unwrap_or_default(),
                "statistics": m.statistics,
            })
        })
        .collect();
    Ok(json_response(&entries))
}

/// `/containers`: like `/monitor/statistics`, with the container id and status (Mesos's
/// agent `/containers` for executor containers).
#[allow(deprecated)] // `source` is deprecated in Mesos but still reported here.
pub(super) async fn containers(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let entries: Vec<Json> = measure(&state, &snapshot)
        .await
        .into_iter()
        .map(|m| {
            json!({
                "framework_id": m.framework_id,
                "executor_id": m.executor.id(),
                "executor_name": m.executor.info.name.clone().unwrap_or_default(),
                "source": m.executor.info.source.clone().unwrap_or_default(),
                "container_id": m.executor.container_id,
                "status": {
                    "container_id": {"value": m.executor.container_id},
                    "executor_pid": m.executor.pid,
                },
                "statistics": m.statistics,
            })
        })
        .collect();
    Ok(json_response(&entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_resources::parse_resources;

    #[test]
    fn statistics_carry_every_measured_field() {
        let usage = ResourceUsage {
            cpu_user_secs: Some(1.5),
            cpu_system_secs: Some(0.25),
            cpus_limit: Some(0.6),
            cpus_nr_periods: Some(10),
            cpus_nr_throttled: Some(3),
            cpus_throttled_time_secs: Some(0.1),
            mem_rss_bytes: Some(1 << 20),
            mem_limit_bytes: Some(64 << 20),
            mem_total_bytes: Some(2 << 20),
            mem_peak_bytes: Some(3 << 20),
            mem_cache_bytes: Some(4096),
            mem_anon_bytes: Some(8192),
            mem_file_bytes: Some(4096),
            mem_mapped_file_bytes: Some(512),
            mem_swap_bytes: Some(0),
            processes: Some(2),
            threads: Some(5),
            pids_limit: Some(64),
            disk_used_bytes: Some(1 << 20),
            disk_limit_bytes: Some(2 << 20),
        };
        let held = parse_resources("cpus:1;mem:128").unwrap();
        let s = resource_statistics(&usage, &held, 7.0);
        let json = serde_json::to_value(&s).unwrap();
        for (field, value) in [
            ("timestamp", json!(7.0)),
            ("cpus_user_time_secs", json!(1.5)),
            ("cpus_system_time_secs", json!(0.25)),
            ("cpus_limit", json!(0.6)),
            ("cpus_nr_periods", json!(10)),
            ("cpus_nr_throttled", json!(3)),
            ("cpus_throttled_time_secs", json!(0.1)),
            ("mem_rss_bytes", json!(1 << 20)),
            ("mem_total_bytes", json!(2 << 20)),
            ("mem_limit_bytes", json!(64 << 20)),
            ("mem_cache_bytes", json!(4096)),
            ("mem_anon_bytes", json!(8192)),
            ("mem_file_bytes", json!(4096)),
            ("mem_mapped_file_bytes", json!(512)),
            ("mem_swap_bytes", json!(0)),
            ("processes", json!(2)),
            ("threads", json!(5)),
            ("disk_used_bytes", json!(1 << 20)),
            ("disk_limit_bytes", json!(2 << 20)),
        ] {
            assert_eq!(json[field], value, "{field} in {json}");
        }
    }

    #[test]
    fn limits_fall_back_to_what_the_executor_holds() {
        let held = parse_resources("cpus:0.5;mem:32").unwrap();
        let unlimited = ResourceUsage {
            mem_limit_bytes: Some(9_223_372_036_854_771_712),
            ..ResourceUsage::default()
        };
        let s = resource_statistics(&unlimited, &held, 1.0);
        assert_eq!(s.cpus_limit, Some(0.5));
        assert_eq!(s.mem_limit_bytes, Some(32 << 20));
        let s = resource_statistics(&ResourceUsage::default(), &Resources::new(), 1.0);
        assert_eq!(s.cpus_limit, None);
        assert_eq!(s.mem_limit_bytes, None);
        assert_eq!(s.cpus_user_time_secs, None);
    }
}
