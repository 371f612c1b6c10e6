//! `GET /registrar(1)/registry`: the durable registry as Mesos's registrar shows it (admitted
//! agents under `slaves`, then `unreachable` and `gone`; maintenance `machines` and
//! `schedules`; plus the framework records).

use axum::extract::State;
use axum::response::Response;
use corral_http::{json_response, ApiError};
use serde_json::{json, Value};

use super::AppState;
use crate::registry::{self, AgentState};

fn time(t: f64) -> Value {
    json!({ "nanoseconds": (t * 1e9) as i64 })
}

/// The registry as JSON (read from the store, not from the core's memory).
pub(super) async fn registry(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let loaded = tokio::task::spawn_blocking(move || registry::load(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::ServiceUnavailable(e.to_string()))?;
    let (mut admitted, mut unreachable, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for (id, record) in &loaded.agents {
        let info = serde_json::to_value(&record.info).unwrap_or(Value::Null);
        match record.state {
            AgentState::Admitted => admitted.push(json!({ "info": info })),
            AgentState::Unreachable { since } => {
                unreachable.push(json!({ "id": { "value": id }, "timestamp": time(since) }))
            }
            AgentState::Gone { since } => {
                gone.push(json!({ "id": { "value": id }, "timestamp": time(since) }))
            }
        }
    }
    let frameworks: Vec<Value> = loaded
        .frameworks
        .values()
        .map(|f| json!({ "info": serde_json::to_value(&f.info).unwrap_or(Value::Null) }))
        .collect();
    // Maintenance as Mesos's registry holds it: machine modes and the schedules.
    let (machines, schedules) = match &loaded.maintenance {
        Some(record) => {
            let m = crate::core::maintenance::Maintenance::from_record(record);
            let machines: Vec<Value> = m
                .machines()
                .map(|m| json!({ "info": { "id": m.id, "mode": m.mode.as_str_name() } }))
                .collect();
            (machines, vec![record.schedule.clone()])
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(json_response(&json!({
        "machines": { "machines": machines },
        "schedules": schedules,
        "slaves": { "slaves": admitted },
        "unreachable": { "slaves": unreachable },
        "gone": { "slaves": gone },
        "frameworks": { "frameworks": frameworks },
    })))
}
