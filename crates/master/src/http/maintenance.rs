//! Maintenance over HTTP: the operator calls UPDATE_MAINTENANCE_SCHEDULE,
//! GET_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS, START_MAINTENANCE, STOP_MAINTENANCE, and
//! Mesos's legacy endpoints `/maintenance/schedule` (GET, POST), `/maintenance/status`,
//! `/machine/down` and `/machine/up` (POST a JSON array of machine ids).
//!
//! Validation and state changes happen in one step on the actor
//! ([`crate::core::maintenance`]); the reply goes out once the registry holds the change.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use corral_api::v1::maintenance::Schedule;
use corral_api::v1::master::{call, response, Call, Response as Reply};
use corral_api::v1::MachineId;
use corral_http::{json_response, message_response, ApiError, Negotiated};
use http::StatusCode;

use super::AppState;

/// Handle one of the maintenance calls; `None` if `call` is not one of them.
pub(super) async fn handle(
    state: &AppState,
    call: &Call,
    negotiated: Negotiated,
) -> Option<Result<Response, ApiError>> {
    use call::Type as T;
    let kind = call.r#type.and_then(|t| T::try_from(t).ok())?;
    let missing = |f: &str| ApiError::BadRequest(format!("Expecting '{f}' to be present"));
    let result = match kind {
        T::GetMaintenanceSchedule => get_schedule(state, negotiated).await,
        T::GetMaintenanceStatus => get_status(state, negotiated).await,
        T::UpdateMaintenanceSchedule => match &call.update_maintenance_schedule {
            Some(u) => update_schedule(state, u.schedule.clone()).await,
            None => Err(missing("update_maintenance_schedule")),
        },
        T::StartMaintenance => match &call.start_maintenance {
            Some(s) => machines(state, s.machines.clone(), true).await,
            None => Err(missing("start_maintenance")),
        },
        T::StopMaintenance => match &call.stop_maintenance {
            Some(s) => machines(state, s.machines.clone(), false).await,
            None => Err(missing("stop_maintenance")),
        },
        _ => return None,
    };
    Some(result)
}

async fn get_schedule(state: &AppState, negotiated: Negotiated) -> Result<Response, ApiError> {
    let schedule = state
        .query(|core, _| core.maintenance().schedule().clone())
        .await?;
    let reply = Reply {
        r#type: Some(response::Type::GetMaintenanceSchedule as i32),
        get_maintenance_schedule: Some(response::GetMaintenanceSchedule { schedule }),
        ..Default::default()
    };
    Ok(message_response(
        StatusCode::OK,
        negotiated.response,
        &reply,
    ))
}

async fn get_status(state: &AppState, negotiated: Negotiated) -> Result<Response, ApiError> {
    let status = state.query(|core, _| core.maintenance_status()).await?;
    let reply = Reply {
        r#type: Some(response::Type::GetMaintenanceStatus as i32),
        get_maintenance_status: Some(response::GetMaintenanceStatus { status }),
        ..Default::default()
    };
    Ok(message_response(
        StatusCode::OK,
        negotiated.response,
        &reply,
    ))
}

/// Validate and apply a schedule; replies once it is durable.
async fn update_schedule(state: &AppState, schedule: Schedule) -> Result<Response, ApiError> {
    state
        .mutate(move |core, now| core.update_maintenance_schedule(&schedule, now))
        .await??;
    Ok(StatusCode::OK.into_response())
}

/// START_MAINTENANCE (`down`) or STOP_MAINTENANCE; replies once the change is durable.
async fn machines(state: &AppState, ids: Vec<MachineId>, down: bool) -> Result<Response, ApiError> {
    state
        .mutate(move |core, now| {
            if down {
                core.start_maintenance(&ids, now)
            } else {
                core.stop_maintenance(&ids)
            }
        })
        .await??;
    Ok(StatusCode::OK.into_response())
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("Failed to parse the {what}: {e}")))
}

/// `GET /maintenance/schedule`.
pub(super) async fn schedule(State(state): State<AppState>) -> Result<Response, ApiError> {
    let schedule = state
        .query(|core, _| core.maintenance().schedule().clone())
        .await?;
    Ok(json_response(&schedule))
}

/// `POST /maintenance/schedule` with a JSON `Schedule`.
pub(super) async fn post_schedule(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let schedule: Schedule = parse(&body, "maintenance schedule")?;
    update_schedule(&state, schedule).await
}

/// `GET /maintenance/status`.
pub(super) async fn status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let status = state.query(|core, _| core.maintenance_status()).await?;
    Ok(json_response(&status))
}

/// `POST /machine/down` with a JSON array of machine ids.
pub(super) async fn machine_down(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ids: Vec<MachineId> = parse(&body, "list of machines")?;
    machines(&state, ids, true).await
}

/// `POST /machine/up` with a JSON array of machine ids.
pub(super) async fn machine_up(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ids: Vec<MachineId> = parse(&body, "list of machines")?;
    machines(&state, ids, false).await
}
