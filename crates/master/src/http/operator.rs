//! `POST /api/v1` (and `/api/v1/operator`): the operator API, read calls and TEARDOWN.

use axum::extract::State;
use axum::response::Response;
use corral_api::v1::master::{call, response, Call, Response as Reply};
use corral_api::v1::{Flag, Metric, VersionInfo};
use corral_http::{message_response, ApiError, ApiRequest};
use http::StatusCode;

use super::AppState;

pub(super) async fn handle(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let negotiated = request.negotiated()?;
    let call: Call = request.decode()?;
    if let Some(result) = super::policy::handle(&state, &call, negotiated).await {
        return result;
    }
    if let Some(result) = super::maintenance::handle(&state, &call, negotiated).await {
        return result;
    }
    use call::Type as T;
    use response::Type as R;
    let kind = call.r#type.and_then(|t| T::try_from(t).ok());
    let reply = match kind {
        None => {
            return Err(ApiError::BadRequest(
                "Expecting 'type' to be present".to_string(),
            ))
        }
        Some(T::GetHealth) => Reply {
            r#type: Some(R::GetHealth as i32),
            get_health: Some(response::GetHealth { healthy: true }),
            ..Default::default()
        },
        Some(T::GetVersion) => Reply {
            r#type: Some(R::GetVersion as i32),
            get_version: Some(response::GetVersion {
                version_info: VersionInfo {
                    version: corral_api::MESOS_COMPAT_VERSION.to_string(),
                    build_user: Some("corral".to_string()),
                    ..Default::default()
                },
            }),
            ..Default::default()
        },
        Some(T::GetFlags) => Reply {
            r#type: Some(R::GetFlags as i32),
            get_flags: Some(response::GetFlags {
                flags: state
                    .identity
                    .flags
                    .iter()
                    .map(|(k, v)| Flag {
                        name: k.clone(),
                        value: Some(v.clone()),
                    })
                    .collect(),
            }),
            ..Default::default()
        },
        Some(T::GetMetrics) => {
            let metrics = state.query(|core, now| core.metrics(now)).await?;
            Reply {
                r#type: Some(R::GetMetrics as i32),
                get_metrics: Some(response::GetMetrics {
                    metrics: metrics
                        .into_iter()
                        .map(|(name, v)| Metric {
                            name,
                            value: Some(v),
                        })
                        .collect(),
                }),
                ..Default::default()
            }
        }
        Some(T::GetState) => {
            let get_state = state
                .query(|core, _| response::GetState {
                    get_tasks: Some(core.get_tasks()),
                    get_executors: Some(core.get_executors()),
                    get_frameworks: Some(core.get_frameworks()),
                    get_agents: Some(core.get_agents()),
                })
                .await?;
            Reply {
                r#type: Some(R::GetState as i32),
                get_state: Some(get_state),
                ..Default::default()
            }
        }
        Some(T::GetAgents) => {
            let v = state.query(|core, _| core.get_agents()).await?;
            Reply {
                r#type: Some(R::GetAgents as i32),
                get_agents: Some(v),
                ..Default::default()
            }
        }
        Some(T::GetFrameworks) => {
            let v = state.query(|core, _| core.get_frameworks()).await?;
            Reply {
                r#type: Some(R::GetFrameworks as i32),
                get_frameworks: Some(v),
                ..Default::default()
            }
        }
        Some(T::GetExecutors) => {
            let v = state.query(|core, _| core.get_executors()).await?;
            Reply {
                r#type: Some(R::GetExecutors as i32),
                get_executors: Some(v),
                ..Default::default()
            }
        }
        Some(T::GetTasks) => {
            let v = state.query(|core, _| core.get_tasks()).await?;
            Reply {
                r#type: Some(R::GetTasks as i32),
                get_tasks: Some(v),
                ..Default::default()
            }
        }
        Some(T::GetRoles) => {
            let v = state.query(|core, _| core.get_roles()).await?;
            Reply {
                r#type: Some(R::GetRoles as i32),
                get_roles: Some(v),
                ..Default::default()
            }
        }
        Some(T::GetMaster) => {
            let v = state.query(|core, _| core.get_master()).await?;
            Reply {
                r#type: Some(R::GetMaster as i32),
                get_master: Some(v),
                ..Default::default()
            }
        }
        Some(T::Teardown) => {
            let Some(teardown) = call.teardown else {
                return Err(ApiError::BadRequest(
                    "Expecting 'teardown' to be present".to_string(),
                ));
            };
            let id = teardown.framework_id.value;
            let known = state
                .mutate(move |core, now| {
                    let known = core.has_framework(&id);
                    core.remove_framework(&id, now);
                    known
                })
                .await?;
            if !known {
                return Err(ApiError::BadRequest(
                    "Framework cannot be found".to_string(),
                ));
            }
            return Ok(message_response(
                StatusCode::OK,
                negotiated.response,
                &Reply::default(),
            ));
        }
        Some(T::MarkAgentGone) => {
            let Some(gone) = call.mark_agent_gone else {
                return Err(ApiError::BadRequest(
                    "Expecting 'mark_agent_gone' to be present".to_string(),
                ));
            };
            let id = gone.agent_id.value;
            // Replies only once the registry holds the agent as gone.
            state
                .mutate(move |core, now| core.mark_agent_gone(&id, now))
                .await?
                .map_err(ApiError::from)?;
            return Ok(message_response(
                StatusCode::OK,
                negotiated.response,
                &Reply::default(),
            ));
        }
        Some(other) => {
            return Err(ApiError::NotImplemented(format!(
                "Operator call {} is not supported yet",
                other.as_str_name()
            )))
        }
    };
    Ok(message_response(
        StatusCode::OK,
        negotiated.response,
        &reply,
    ))
}
