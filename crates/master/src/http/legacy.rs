//! Legacy GET endpoints with Mesos's JSON shapes (`reference/mesos-v1-api.md` §4).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use corral_http::encoding::APPLICATION_JSON;
use corral_http::response::bytes_response;
use corral_http::{json_response, ApiError};
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

use tokio::sync::oneshot;

use super::{unavailable, AppState};
use crate::core::view::{to_bytes, Identity, TasksQuery};

type Params = Query<HashMap<String, String>>;

/// Runs a rendering on the actor without stalling the other tasks of its worker thread: on a
/// multi-threaded runtime the worker hands its queue to another thread while this one
/// serializes (`block_in_place`); a current-thread runtime (tests) just runs it.
fn render<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// `200` with JSON the actor already serialized (as `json_response` would have), or a 500.
fn json_bytes(body: Result<Bytes, serde_json::Error>) -> Response {
    match body {
        Ok(body) => bytes_response(StatusCode::OK, APPLICATION_JSON, body),
        Err(error) => {
            ApiError::Internal(format!("failed to encode response: {error}")).into_response()
        }
    }
}

/// `/state`. Concurrent requests share renderings, as Mesos batches them: a request joins the
/// batch of the next rendering to *start* (so it never sees state older than its arrival), and
/// at most one `/state` rendering per master waits in the actor's mailbox, however many clients
/// poll — scheduler and agent calls queue behind one rendering, not one per client.
pub(super) async fn state(State(s): State<AppState>) -> Result<Response, ApiError> {
    let batch = StateBatch::of(&s.identity);
    let (tx, rx) = oneshot::channel();
    let start = {
        let mut b = batch.lock().unwrap_or_else(PoisonError::into_inner);
        b.waiters.push(tx);
        !std::mem::replace(&mut b.rendering, true)
    };
    if start {
        tokio::spawn(render_state_batches(s, batch));
    }
    match rx.await {
        Ok(Ok(body)) => Ok(json_bytes(Ok(body))),
        Ok(Err(Some(error))) => Ok(ApiError::Internal(error).into_response()),
        Ok(Err(None)) | Err(_) => Err(unavailable()),
    }
}

/// A `/state` rendering as shared with its batch: the body, or the 500 message (`Some`) or
/// "the master is gone" (`None`).
type Rendered = Result<Bytes, Option<String>>;

/// The `/state` requests of one master waiting for the next rendering.
#[derive(Default)]
struct StateBatch {
    /// A rendering loop is running (it takes `waiters` when it starts a rendering).
    rendering: bool,
    waiters: Vec<oneshot::Sender<Rendered>>,
}

impl StateBatch {
    /// The batch of the master whose handlers share `identity` (one per running master).
    fn of(identity: &Arc<Identity>) -> Arc<Mutex<StateBatch>> {
        type Registry = Mutex<Vec<(Weak<Identity>, Arc<Mutex<StateBatch>>)>>;
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        let mut all = REGISTRY
            .get_or_init(Registry::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Live entries only: a live `Weak` at the same address is the same identity.
        all.retain(|(w, _)| w.strong_count() > 0);
        if let Some((_, b)) = all
            .iter()
            .find(|(w, _)| w.as_ptr() == Arc::as_ptr(identity))
        {
            return b.clone();
        }
        let b = Arc::new(Mutex::new(StateBatch::default()));
        all.push((Arc::downgrade(identity), b.clone()));
        b
    }
}

/// Render `/state` for each batch of waiters until none are left.
async fn render_state_batches(s: AppState, batch: Arc<Mutex<StateBatch>>) {
    loop {
        let waiters = {
            let mut b = batch.lock().unwrap_or_else(PoisonError::into_inner);
            if b.waiters.is_empty() {
                b.rendering = false;
                return;
            }
            std::mem::take(&mut b.waiters)
        };
        let identity = s.identity.clone();
        let rendered: Rendered = match s
            .query(move |core, _| render(|| to_bytes(&core.state_view(&identity))))
            .await
        {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(error)) => Err(Some(format!("failed to encode response: {error}"))),
            Err(_) => Err(None),
        };
        for waiter in waiters {
            let _ = waiter.send(rendered.clone());
        }
    }
}

pub(super) async fn state_summary(State(s): State<AppState>) -> Result<Response, ApiError> {
    let identity = s.identity.clone();
    let body = s
        .query(move |core, _| render(|| to_bytes(&core.state_summary_view(&identity))))
        .await?;
    Ok(json_bytes(body))
}

pub(super) async fn frameworks(
    State(s): State<AppState>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let only = p.get("framework_id").cloned();
    let body = s
        .query(move |core, _| render(|| to_bytes(&core.frameworks_view(only.as_deref()))))
        .await?;
    Ok(json_bytes(body))
}

pub(super) async fn slaves(
    State(s): State<AppState>,
    Query(p): Params,
) -> Result<Response, ApiError> {
    let only = p.get("slave_id").or_else(|| p.get("agent_id")).cloned();
    let body = s
        .query(move |core, _| render(|| to_bytes(&core.slaves_view(only.as_deref()))))
        .await?;
    Ok(json_bytes(body))
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
    let body = s
        .query(move |core, _| render(|| to_bytes(&core.tasks_view(&q))))
        .await?;
    Ok(json_bytes(body))
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
