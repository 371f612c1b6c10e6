//! `POST /api/v1`: the agent's v1 operator API (Mesos `mesos.v1.agent.Call`), JSON or
//! protobuf per `Content-Type`/`Accept`. Supported: GET_HEALTH, GET_VERSION, GET_FLAGS,
//! GET_METRICS, GET_STATE, GET_TASKS, GET_EXECUTORS, GET_FRAMEWORKS ([`state`]) and
//! GET_CONTAINERS (executor containers with their `ResourceStatistics`, the same
//! measurement as `/monitor/statistics`). Other calls answer 501.

mod state;

use axum::extract::State;
use axum::response::Response;
use corral_api::v1::agent::{call, response, Call, Response as Reply};
use corral_api::v1::{
    ContainerId, ContainerStatus, ExecutorId, Flag, FrameworkId, Metric, VersionInfo,
};
use corral_http::{message_response, ApiError, ApiRequest};
use http::StatusCode;

use super::metrics::{measure, metrics};
use super::HttpState;

pub(super) async fn handle(
    State(state): State<HttpState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let negotiated = request.negotiated()?;
    let call: Call = request.decode()?;
    use call::Type as T;
    use response::Type as R;
    let Some(kind) = call.r#type.and_then(|t| T::try_from(t).ok()) else {
        return Err(ApiError::BadRequest(
            "Expecting 'type' to be present".to_string(),
        ));
    };
    let reply = match kind {
        T::GetHealth => Reply {
            r#type: Some(R::GetHealth as i32),
            get_health: Some(response::GetHealth { healthy: true }),
            ..Default::default()
        },
        T::GetVersion => Reply {
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
        T::GetFlags => Reply {
            r#type: Some(R::GetFlags as i32),
            get_flags: Some(response::GetFlags {
                flags: state
                    .info
                    .flags
                    .iter()
                    .map(|(name, value)| Flag {
                        name: (*name).to_string(),
                        value: Some(value.clone()),
                    })
                    .collect(),
            }),
            ..Default::default()
        },
        T::GetMetrics => {
            let snapshot = state.actor.snapshot().await?;
            let uptime = state.info.started.elapsed().as_secs_f64();
            let values = metrics(&state.info.resources, &snapshot, uptime);
            Reply {
                r#type: Some(R::GetMetrics as i32),
                get_metrics: Some(response::GetMetrics {
                    metrics: values
                        .into_iter()
                        .map(|(name, value)| Metric {
                            name,
                            value: value.as_f64(),
                        })
                        .collect(),
                }),
                ..Default::default()
            }
        }
        T::GetState => Reply {
            r#type: Some(R::GetState as i32),
            get_state: Some(state::state(&*state.actor.snapshot().await?)),
            ..Default::default()
        },
        T::GetTasks => Reply {
            r#type: Some(R::GetTasks as i32),
            get_tasks: Some(state::tasks(&*state.actor.snapshot().await?)),
            ..Default::default()
        },
        T::GetExecutors => Reply {
            r#type: Some(R::GetExecutors as i32),
            get_executors: Some(state::executors(&*state.actor.snapshot().await?)),
            ..Default::default()
        },
        T::GetFrameworks => Reply {
            r#type: Some(R::GetFrameworks as i32),
            get_frameworks: Some(state::frameworks(&*state.actor.snapshot().await?)),
            ..Default::default()
        },
        T::GetContainers => Reply {
            r#type: Some(R::GetContainers as i32),
            get_containers: Some(get_containers(&state).await?),
            ..Default::default()
        },
        other => {
            return Err(ApiError::NotImplemented(format!(
                "{} is not supported by this agent",
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

/// Every live executor container the containerizer can measure.
async fn get_containers(state: &HttpState) -> Result<response::GetContainers, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let containers = measure(state, &snapshot)
        .await
        .into_iter()
        .map(|m| {
            let container_id = ContainerId {
                value: m.executor.container_id.clone(),
                ..Default::default()
            };
            response::get_containers::Container {
                framework_id: Some(FrameworkId {
                    value: m.framework_id.to_string(),
                }),
                executor_id: Some(ExecutorId {
                    value: m.executor.id().to_string(),
                }),
                executor_name: m.executor.info.name.clone(),
                container_id: container_id.clone(),
                container_status: Some(ContainerStatus {
                    container_id: Some(container_id),
                    executor_pid: m.executor.pid,
                    ..Default::default()
                }),
                resource_statistics: Some(m.statistics),
            }
        })
        .collect();
    Ok(response::GetContainers { containers })
}
