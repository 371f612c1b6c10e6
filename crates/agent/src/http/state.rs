//! `/state` in Mesos's agent layout (`reference/mesos-v1-api.md` §4), `/flags`, `/version`,
//! `/health`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use corral_api::v1;
use corral_api::MESOS_COMPAT_VERSION;
use corral_http::{json_response, ApiError};
use corral_resources::{to_flat_json, to_flat_json_by_role, Resources};
use serde_json::{json, Map, Value as Json};

use super::{allocated, AgentStatic, HttpState};
use crate::convert::{resources_from_proto, resources_to_proto};
use crate::core::state::new_task;
use crate::core::{Executor, ExecutorKind, Framework, Snapshot, VolumeStatus};
use crate::volumes::{apply_checkpointed, volume_root};

/// Capabilities the agent reports.
const CAPABILITIES: &[&str] = &["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"];

pub(super) async fn health() -> StatusCode {
    StatusCode::OK
}

pub(super) async fn version() -> Response {
    json_response(&version_json())
}

fn version_json() -> Json {
    json!({
        "version": MESOS_COMPAT_VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "corral",
        "corral_version": env!("CARGO_PKG_VERSION"),
    })
}

pub(super) async fn flags(State(state): State<HttpState>) -> Response {
    json_response(&json!({ "flags": flags_json(&state.info) }))
}

fn flags_json(info: &AgentStatic) -> Map<String, Json> {
    info.flags
        .iter()
        .map(|(name, value)| ((*name).to_string(), Json::String(value.clone())))
        .collect()
}

pub(super) async fn state(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    Ok(json_response(&state_json(&state.info, &snapshot)))
}

fn state_json(info: &AgentStatic, snapshot: &Snapshot) -> Json {
    // The total: the flag resources with the dynamic reservations and volumes applied.
    let checkpointed = match resources_from_proto(&snapshot.checkpointed) {
        Ok(checkpointed) => checkpointed,
        Err(error) => {
            tracing::error!(%error, "invalid checkpointed resources in the state");
            Resources::new()
        }
    };
    let total = apply_checkpointed(&info.resources, &checkpointed);
    let mut reserved: BTreeMap<String, Resources> = BTreeMap::new();
    let mut unreserved = Resources::new();
    for resource in total.iter() {
        match resource.reservation_role() {
            Some(role) => reserved
                .entry(role.to_string())
                .or_default()
                .add(resource.clone()),
            None => unreserved.add(resource.clone()),
        }
    }
    let mut used = Resources::new();
    for framework in &snapshot.frameworks {
        for executor in framework.executors.values() {
            used.add_all(&allocated(executor));
        }
    }
    let reserved_full: Map<String, Json> = reserved
        .iter()
        .map(|(role, r)| (role.clone(), json!(resources_to_proto(r))))
        .collect();
    let master_hostname = info
        .master
        .trim_start_matches("http://")
        .rsplit_once(':')
        .map_or(info.master.as_str(), |(host, _)| host)
        .to_string();
    let mut out = match version_json() {
        Json::Object(map) => map,
        _ => Map::new(),
    };
    out.remove("corral_version");
    let fields = json!({
        "start_time": info.start_time,
        "id": snapshot.agent_id.clone().unwrap_or_default(),
        "pid": format!("slave(1)@{}", info.endpoint),
        "hostname": info.hostname,
        "capabilities": CAPABILITIES,
        "resources": to_flat_json(&total),
        "reserved_resources": to_flat_json_by_role(&reserved),
        "unreserved_resources": to_flat_json(&unreserved),
        "reserved_resources_full": reserved_full,
        "unreserved_resources_full": resources_to_proto(&unreserved),
        "reserved_resources_allocated": {},
        "unreserved_resources_allocated": to_flat_json(&used),
        "attributes": info.attributes.to_flat_json(),
        "master_hostname": master_hostname,
        "flags": flags_json(info),
        "frameworks": snapshot.frameworks.iter().map(framework_json).collect::<Vec<_>>(),
        "completed_frameworks": snapshot.completed_frameworks.iter().map(framework_json).collect::<Vec<_>>(),
        "checkpointed_resources_full": snapshot.checkpointed,
        "volume_root": volume_root(&info.work_dir).display().to_string(),
        "persistent_volumes": snapshot.volumes.iter().map(volume_json).collect::<Vec<_>>(),
    });
    if let Json::Object(fields) = fields {
        out.extend(fields);
    }
    Json::Object(out)
}

/// A persistent volume and its directory (Corral's addition to `/state`).
fn volume_json(status: &VolumeStatus) -> Json {
    let volume = &status.volume;
    json!({
        "persistence_id": volume.id,
        "role": volume.role,
        "path": volume.path.as_ref().map(|p| p.display().to_string()),
        "in_use": status.in_use,
        "destroyed": status.destroyed,
    })
}

#[allow(deprecated)] // `role` is deprecated in Mesos but still part of `/state`.
fn framework_json(framework: &Framework) -> Json {
    let info = &framework.info;
    let capabilities: Vec<Json> = info
        .capabilities
        .iter()
        .filter_map(|c| c.r#type)
        .filter_map(|t| v1::framework_info::capability::Type::try_from(t).ok())
        .map(|t| json!(t.as_str_name()))
        .collect();
    let mut out = json!({
        "id": framework.id(),
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "role": info.role.clone().unwrap_or_else(|| "*".to_string()),
        "capabilities": capabilities,
        "executors": framework.executors.values().map(|e| executor_json(framework, e)).collect::<Vec<_>>(),
        "completed_executors": framework.completed_executors.iter().map(|e| executor_json(framework, e)).collect::<Vec<_>>(),
    });
    if let Json::Object(map) = &mut out {
        if !info.roles.is_empty() {
            map.insert("roles".into(), json!(info.roles));
        }
        if let Some(principal) = &info.principal {
            map.insert("principal".into(), json!(principal));
        }
    }
    out
}

#[allow(deprecated)] // `source` is deprecated in Mesos but still part of `/state`.
fn executor_json(framework: &Framework, executor: &Executor) -> Json {
    let task_executor_id = (executor.kind != ExecutorKind::Command).then(|| executor.id());
    let queued: Vec<Json> = executor
        .queued_tasks()
        .map(|t| task_json(&new_task(t, framework.id(), task_executor_id)))
        .collect();
    let mut out = json!({
        "id": executor.id(),
        "name": executor.info.name.clone().unwrap_or_default(),
        "source": executor.info.source.clone().unwrap_or_default(),
        "container": executor.container_id,
        "directory": executor.directory.display().to_string(),
        "resources": to_flat_json(&allocated(executor)),
        "tasks": executor.tasks.values().map(task_json).collect::<Vec<_>>(),
        "queued_tasks": queued,
        "completed_tasks": executor.completed_tasks.iter().map(task_json).collect::<Vec<_>>(),
    });
    if let Json::Object(map) = &mut out {
        if let Some(labels) = &executor.info.labels {
            map.insert("labels".into(), labels_json(labels));
        }
        if let Some(kind) = executor
            .info
            .r#type
            .and_then(|t| v1::executor_info::Type::try_from(t).ok())
        {
            map.insert("type".into(), json!(kind.as_str_name()));
        }
    }
    out
}

/// A task as Mesos's `json(const Task&)` writes it.
pub(crate) fn task_json(task: &v1::Task) -> Json {
    let resources = resources_from_proto(&task.resources).unwrap_or_default();
    let statuses: Vec<Json> = task.statuses.iter().map(status_json).collect();
    let mut out = json!({
        "id": task.task_id.value,
        "name": task.name,
        "framework_id": task.framework_id.value,
        "executor_id": task.executor_id.as_ref().map_or("", |e| e.value.as_str()),
        "slave_id": task.agent_id.value,
        "state": crate::core::state::state_name(task.state),
        "resources": to_flat_json(&resources),
        "statuses": statuses,
    });
    if let Json::Object(map) = &mut out {
        if let Some(role) = task
            .resources
            .iter()
            .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()))
        {
            map.insert("role".into(), json!(role));
        }
        if let Some(labels) = &task.labels {
            map.insert("labels".into(), labels_json(labels));
        }
        for (key, value) in [
            ("discovery", serde_json::to_value(&task.discovery)),
            ("container", serde_json::to_value(&task.container)),
            ("health_check", serde_json::to_value(&task.health_check)),
            ("kill_policy", serde_json::to_value(task.kill_policy)),
        ] {
            if let Ok(value) = value {
                if !value.is_null() {
                    map.insert(key.into(), value);
                }
            }
        }
        if let Some(user) = &task.user {
            map.insert("user".into(), json!(user));
        }
    }
    out
}

fn status_json(status: &v1::TaskStatus) -> Json {
    const KEPT: &[&str] = &[
        "state",
        "timestamp",
        "labels",
        "container_status",
        "healthy",
        "check_status",
    ];
    match serde_json::to_value(status) {
        Ok(Json::Object(mut map)) => {
            map.retain(|key, _| KEPT.contains(&key.as_str()));
            if let Some(Json::Object(labels)) = map.get("labels").cloned() {
                map.insert(
                    "labels".into(),
                    labels.get("labels").cloned().unwrap_or(json!([])),
                );
            }
            Json::Object(map)
        }
        _ => json!({ "state": crate::core::state::state_name(status.state) }),
    }
}

fn labels_json(labels: &v1::Labels) -> Json {
    serde_json::to_value(&labels.labels).unwrap_or_else(|_| json!([]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_json_has_the_legacy_fields() {
        let task = v1::Task {
            name: "t".into(),
            task_id: v1::TaskId { value: "t1".into() },
            framework_id: v1::FrameworkId { value: "F".into() },
            agent_id: v1::AgentId { value: "A".into() },
            state: v1::TaskState::TaskRunning as i32,
            resources: resources_to_proto(
                &corral_resources::parse_resources("cpus:1;mem:32").unwrap(),
            ),
            statuses: vec![v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                state: v1::TaskState::TaskRunning as i32,
                timestamp: Some(1.0),
                message: Some("dropped".into()),
                ..Default::default()
            }],
            labels: Some(v1::Labels {
                labels: vec![v1::Label {
                    key: "k".into(),
                    value: Some("v".into()),
                }],
            }),
            ..Default::default()
        };
        let json = task_json(&task);
        assert_eq!(json["executor_id"], "");
        assert_eq!(json["slave_id"], "A");
        assert_eq!(json["state"], "TASK_RUNNING");
        assert_eq!(json["resources"]["cpus"], 1.0);
        assert_eq!(json["statuses"][0]["state"], "TASK_RUNNING");
        assert!(json["statuses"][0].get("message").is_none());
        assert_eq!(json["labels"][0]["key"], "k");
    }
}
