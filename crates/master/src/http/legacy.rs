//! Legacy GET endpoints with Mesos's JSON shapes (`reference/mesos-v1-api.md` §4).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use corral_http::{json_response, ApiError};
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

use super::AppState;
use crate::core::view::TasksQuery;

type Params = Query<HashMap<String, String>>;

pub(super) async fn state(State(s): State<AppState>) -> Result<Response, ApiError> {
    let identity = s.identity.clone();
    let v = s.query(move |core, _| core.state_json(&identity)).await?;
    Ok(json_response(&v))
}

pub(super) async fn state_summary(State(s): State<AppState>) -> Result<Response, ApiError> {
    let identity = s.identity.clone();
    let v = s
        .query(move |core, _| core.state_summary_json(&identity))
        .await?;
    Ok(json_response(&v))
}

pub(super) async fn frameworks(
    State(s): State<AppState>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let only = p.get("framework_id").cloned();
    let v = s
        .query(move |core, _| core.frameworks_json(only.as_deref()))
        .await?;
    Ok(json_response(&v))
}

pub(super) async fn slaves(
    State(s): State<AppState>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let only = p.get("slave_id").or_else(|| p.get("agent_id")).cloned();
    let v = s
        .query(move |core, _| core.slaves_json(only.as_deref()))
        .await?;
    Ok(json_response(&v))
}

pub(super) async fn tasks(
    State(s): State<AppState>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let limit = match p.get("limit") {
        Some(l) => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("Invalid 'limit': {l}")))?,
        ),
        None => None,
    };
    let offset = match p.get("offset") {
        Some(o) => Some(
            o.parse::<usize>()
                .map_err(|_| ApiError::BadRequest(format!("Invalid 'offset': {o}")))?,
        ),
        None => None,
    };
    let order_asc = match p.get("order").map(String::as_str) {
        None | Some("des") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "Invalid 'order': {other} (asc or des)"
            )))
        }
    };
    let q = TasksQuery {
        limit,
        offset,
        order_asc,
        framework_id: p.get("framework_id").cloned(),
        task_id: p.get("task_id").cloned(),
    };
    let v = s.query(move |core, _| core.tasks_json(&q)).await?;
    Ok(json_response(&v))
}

pub(super) async fn roles(State(s): State<AppState>) -> Result<Response, ApiError> {
    let v = s.query(|core, _| core.roles_json()).await?;
    Ok(json_response(&v))
}

pub(super) async fn weights(State(s): State<AppState>) -> Result<Response, ApiError> {
    let v = s.query(|core, _| core.policies().weight_infos()).await?;
    Ok(json_response(&v))
}

pub(super) async fn quota(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(json_response(&super::policy::quota_status(&s).await?))
}

pub(super) async fn flags(State(s): State<AppState>) -> Response {
    json_response(&json!({"flags": s.identity.flags}))
}

pub(super) async fn health() -> StatusCode {
    StatusCode::OK
}

pub(super) async fn version() -> Response {
    json_response(&version_json())
}

/// `/version`: numeric, because pymesos parses it with `int()`.
pub fn version_json() -> serde_json::Value {
    json!({
        "version": corral_api::MESOS_COMPAT_VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "corral",
        "corral_version": env!("CARGO_PKG_VERSION"),
    })
}

pub(super) async fn redirect(State(s): State<AppState>) -> Response {
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("//{}", s.advertised)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

pub(super) async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let v = s.query(|core, now| core.metrics(now)).await?;
    Ok(json_response(&v))
}

pub(super) async fn index(State(s): State<AppState>) -> Html<String> {
    Html(crate::ui::INDEX_HTML.replace("{{MASTER}}", &s.advertised))
}
