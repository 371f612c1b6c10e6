//! Operator calls that change the cluster's policy or resources: UPDATE_WEIGHTS, UPDATE_QUOTA,
//! RESERVE/UNRESERVE_RESOURCES, CREATE/DESTROY_VOLUMES; and the reads GET_WEIGHTS, GET_QUOTA.
//!
//! Weights and quota are persisted in the store before they are applied and acknowledged; one
//! lock serializes updates so that what is stored is always what is applied.

use axum::response::{IntoResponse, Response};
use corral_api::v1::master::{call, response, Call, Response as Reply};
use corral_api::v1::quota::QuotaStatus;
use corral_http::{message_response, ApiError, Negotiated};
use http::StatusCode;

use super::AppState;
use crate::core::ops::{self, OpError};
use crate::core::weights::Policies;

/// The store key of the persisted policies.
pub const POLICIES_KEY: &str = "policies";

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid(m) => ApiError::BadRequest(m),
            OpError::Conflict(m) => ApiError::Conflict(m),
            OpError::UnknownAgent(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// Persist `next`, then install it in the core.
async fn persist_and_apply(state: &AppState, next: Policies) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(&next).map_err(|e| ApiError::Internal(e.to_string()))?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || -> Result<(), corral_store::StoreError> {
        let expected = store.get(POLICIES_KEY)?.map(|v| v.version);
        store.put(POLICIES_KEY, &bytes, expected)?;
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::ServiceUnavailable(format!("Cannot persist the update: {e}")))?;
    state.mutate(move |core, _| core.apply_policies(next)).await
}

/// Handle one of the calls of this module; `None` if `call` is not one of them.
pub(super) async fn handle(
    state: &AppState,
    call: &Call,
    negotiated: Negotiated,
) -> Option<Result<Response, ApiError>> {
    use call::Type as T;
    let kind = call.r#type.and_then(|t| T::try_from(t).ok())?;
    let result = match kind {
        T::UpdateWeights => update_weights(state, call).await,
        T::UpdateQuota => update_quota(state, call).await,
        T::GetWeights => get_weights(state, negotiated).await,
        T::GetQuota => get_quota(state, negotiated).await,
        T::ReserveResources | T::UnreserveResources | T::CreateVolumes | T::DestroyVolumes => {
            resources(state, kind, call).await
        }
        _ => return None,
    };
    Some(result)
}

async fn update_weights(state: &AppState, call: &Call) -> Result<Response, ApiError> {
    let infos = call
        .update_weights
        .as_ref()
        .ok_or_else(|| {
            ApiError::BadRequest("Expecting 'update_weights' to be present".to_string())
        })?
        .weight_infos
        .clone();
    let _guard = state.policy_lock.lock().await;
    let next = state
        .query(move |core, _| core.policies().with_weights(&infos))
        .await??;
    persist_and_apply(state, next).await?;
    Ok(StatusCode::OK.into_response())
}

async fn update_quota(state: &AppState, call: &Call) -> Result<Response, ApiError> {
    let configs = call
        .update_quota
        .as_ref()
        .ok_or_else(|| ApiError::BadRequest("Expecting 'update_quota' to be present".to_string()))?
        .quota_configs
        .clone();
    let _guard = state.policy_lock.lock().await;
    let next = state
        .query(move |core, _| core.policies().with_quotas(&configs))
        .await??;
    persist_and_apply(state, next).await?;
    Ok(StatusCode::OK.into_response())
}

async fn get_weights(state: &AppState, negotiated: Negotiated) -> Result<Response, ApiError> {
    let weight_infos = state
        .query(|core, _| core.policies().weight_infos())
        .await?;
    let reply = Reply {
        r#type: Some(response::Type::GetWeights as i32),
        get_weights: Some(response::GetWeights { weight_infos }),
        ..Default::default()
    };
    Ok(message_response(
        StatusCode::OK,
        negotiated.response,
        &reply,
    ))
}

/// The quota status as GET_QUOTA and `/quota` show it.
pub(super) async fn quota_status(state: &AppState) -> Result<QuotaStatus, ApiError> {
    state
        .query(|core, _| QuotaStatus {
            configs: core.policies().quotas.values().cloned().collect(),
            ..Default::default()
        })
        .await
}

async fn get_quota(state: &AppState, negotiated: Negotiated) -> Result<Response, ApiError> {
    let status = quota_status(state).await?;
    let reply = Reply {
        r#type: Some(response::Type::GetQuota as i32),
        get_quota: Some(response::GetQuota { status }),
        ..Default::default()
    };
    Ok(message_response(
        StatusCode::OK,
        negotiated.response,
        &reply,
    ))
}

async fn resources(state: &AppState, kind: call::Type, call: &Call) -> Result<Response, ApiError> {
    use call::Type as T;
    let missing = |f: &str| ApiError::BadRequest(format!("Expecting '{f}' to be present"));
    let (agent_id, conversion) = match kind {
        T::ReserveResources => {
            let c = call
                .reserve_resources
                .as_ref()
                .ok_or_else(|| missing("reserve_resources"))?;
            (
                c.agent_id.value.clone(),
                ops::reserve(&c.resources, None, None),
            )
        }
        T::UnreserveResources => {
            let c = call
                .unreserve_resources
                .as_ref()
                .ok_or_else(|| missing("unreserve_resources"))?;
            (c.agent_id.value.clone(), ops::unreserve(&c.resources))
        }
        T::CreateVolumes => {
            let c = call
                .create_volumes
                .as_ref()
                .ok_or_else(|| missing("create_volumes"))?;
            let volumes = c.volumes.clone();
            let agent = c.agent_id.value.clone();
            let existing = state
                .query(move |core, _| core.agent_total(&agent))
                .await?
                .unwrap_or_default();
            (
                c.agent_id.value.clone(),
                ops::create(&volumes, &existing, None),
            )
        }
        _ => {
            let c = call
                .destroy_volumes
                .as_ref()
                .ok_or_else(|| missing("destroy_volumes"))?;
            (c.agent_id.value.clone(), ops::destroy(&c.volumes))
        }
    };
    state
        .mutate(move |core, now| core.operator_operation(&agent_id, conversion, now))
        .await??;
    Ok(StatusCode::ACCEPTED.into_response())
}
