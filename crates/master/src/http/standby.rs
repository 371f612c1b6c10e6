//! What a master that does not lead (a standby, or a new leader still recovering) serves.
//!
//! As Mesos does: scheduler, operator, agent and state calls are answered with
//! `307 Temporary Redirect` and `Location: //<leader-host>:<port>/master<path>` (protocol-relative,
//! with the `/master` prefix), or `503` when no leader is known (or this master was just
//! elected and is not serving yet). `/redirect` points at the leader; `/health`, `/version`,
//! `/flags` and `/metrics/snapshot` are this process's own; `/state` shows this master with the
//! `leader` it knows and no agents or frameworks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use corral_election::LeaderInfo;
use corral_http::{json_response, ApiError, RequestedUri};
use http::{header, HeaderValue, StatusCode};
use serde_json::json;
use tokio::sync::watch;

/// What the standby handlers know.
#[derive(Clone)]
pub struct StandbyState {
    /// The leader as detected.
    pub leader: watch::Receiver<Option<LeaderInfo>>,
    /// This master's id.
    pub id: String,
    /// This master's pid (`master@ip:port`).
    pub pid: String,
    /// This master's advertised hostname.
    pub hostname: String,
    /// This master's `MasterInfo`, as JSON.
    pub info: serde_json::Value,
    /// The flags, as `/flags` shows them.
    pub flags: Arc<std::collections::BTreeMap<String, String>>,
    /// The cluster name.
    pub cluster: Option<String>,
    /// When this process started (seconds since the epoch).
    pub start_time: f64,
    /// Set once this master won the election (it is recovering and will serve shortly).
    pub elected: Arc<AtomicBool>,
}

impl StandbyState {
    /// The leader, unless it is this master (elected, not serving yet) or unknown. Once this
    /// master won, the detected leader may still be the previous one: no redirects then.
    fn other_leader(&self) -> Option<LeaderInfo> {
        if self.elected.load(Ordering::SeqCst) {
            return None;
        }
        self.leader.borrow().clone().filter(|l| l.id != self.id)
    }
}

/// The standby router (without the path-normalization layers; see [`crate::start`]).
pub fn router(state: StandbyState) -> Router {
    Router::new()
        .route("/health", get(super::legacy::health))
        .route("/version", get(super::legacy::version))
        .route("/redirect", get(redirect))
        .route("/state", get(state_view))
        .route("/flags", get(flags))
        .route("/metrics/snapshot", get(metrics))
        // Agents follow the leader they detect; a redirect could name a stale one.
        .route(
            corral_api::internal::AGENT_ENDPOINT,
            axum::routing::any(not_leading),
        )
        .fallback(to_leader)
        .with_state(state)
}

/// `Location: //host:port<path>`.
fn redirect_to(target: &str) -> Response {
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("//{target}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn no_leader(s: &StandbyState) -> ApiError {
    if s.elected.load(Ordering::SeqCst) || s.leader.borrow().as_ref().is_some_and(|l| l.id == s.id)
    {
        ApiError::ServiceUnavailable("Master is not yet recovered".to_string())
    } else {
        ApiError::ServiceUnavailable("No leader elected".to_string())
    }
}

async fn not_leading(State(s): State<StandbyState>) -> ApiError {
    if s.elected.load(Ordering::SeqCst) {
        ApiError::ServiceUnavailable("Master is not yet recovered".to_string())
    } else {
        ApiError::ServiceUnavailable("Not the leading master".to_string())
    }
}

async fn redirect(State(s): State<StandbyState>) -> Result<Response, ApiError> {
    let leader = s.other_leader().ok_or_else(|| no_leader(&s))?;
    Ok(redirect_to(&leader.host_port()))
}

/// Every other request: to the leader, with the path the client asked for under `/master`.
async fn to_leader(State(s): State<StandbyState>, request: Request) -> Result<Response, ApiError> {
    let leader = s.other_leader().ok_or_else(|| no_leader(&s))?;
    let uri = request
        .extensions()
        .get::<RequestedUri>()
        .map_or_else(|| request.uri().clone(), |u| u.0.clone());
    Ok(redirect_to(&format!(
        "{}{}",
        leader.host_port(),
        leader_path(uri.path(), uri.query())
    )))
}

/// `/api/v1/scheduler` → `/master/api/v1/scheduler` (kept when it already has the prefix).
fn leader_path(path: &str, query: Option<&str>) -> String {
    let prefix = corral_http::paths::MASTER_PREFIX;
    let mut out = if path == prefix || path.starts_with(&format!("{prefix}/")) {
        path.to_string()
    } else {
        format!("{prefix}{path}")
    };
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn state_view(State(s): State<StandbyState>) -> Response {
    let mut v = json!({
        "version": corral_api::MESOS_COMPAT_VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "corral",
        "start_time": s.start_time,
        "id": s.id,
        "pid": s.pid,
        "hostname": s.hostname,
        "capabilities": s.info.get("capabilities").cloned().unwrap_or_else(|| json!([])),
        "activated_slaves": 0,
        "deactivated_slaves": 0,
        "unreachable_slaves": 0,
        "flags": *s.flags,
        "slaves": [],
        "recovered_slaves": [],
        "frameworks": [],
        "completed_frameworks": [],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    });
    if let (Some(leader), Some(map)) = (s.leader.borrow().clone(), v.as_object_mut()) {
        map.insert("leader".into(), json!(leader.pid));
        map.insert(
            "leader_info".into(),
            json!({
                "id": leader.id,
                "pid": leader.pid,
                "port": leader.port,
                "hostname": leader.hostname,
                "address": {"hostname": leader.hostname, "ip": leader.ip, "port": leader.port},
            }),
        );
    }
    if let (Some(cluster), Some(map)) = (&s.cluster, v.as_object_mut()) {
        map.insert("cluster".into(), json!(cluster));
    }
    json_response(&v)
}

async fn flags(State(s): State<StandbyState>) -> Response {
    json_response(&json!({"flags": *s.flags}))
}

async fn metrics(State(s): State<StandbyState>) -> Response {
    let leading = s.elected.load(Ordering::SeqCst)
        || s.leader.borrow().as_ref().is_some_and(|l| l.id == s.id);
    json_response(&json!({
        "master/elected": if leading { 1.0 } else { 0.0 },
        "master/uptime_secs": (crate::clock::Clock::now(&crate::clock::SystemClock) - s.start_time).max(0.0),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    fn leader(id: &str, port: u16) -> LeaderInfo {
        LeaderInfo {
            id: id.into(),
            hostname: "m2".into(),
            ip: "10.0.0.2".into(),
            port,
            pid: format!("master@10.0.0.2:{port}"),
            node: Some("json.info_0000000001".into()),
        }
    }

    fn standby(leader: Option<LeaderInfo>) -> (Router, watch::Sender<Option<LeaderInfo>>) {
        let (tx, rx) = watch::channel(leader);
        let state = StandbyState {
            leader: rx,
            id: "me".into(),
            pid: "master@10.0.0.1:5050".into(),
            hostname: "m1".into(),
            info: json!({"capabilities": []}),
            flags: Arc::default(),
            cluster: None,
            start_time: 0.0,
            elected: Arc::default(),
        };
        (router(state), tx)
    }

    async fn call(
        router: &Router,
        method: &str,
        path: &str,
    ) -> (StatusCode, Option<String>, String) {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from("{}"))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            location,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn a_standby_redirects_to_the_leader_or_answers_503() {
        let (router, tx) = standby(None);
        let (status, _, body) = call(&router, "POST", "/api/v1/scheduler").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("No leader elected"), "{body}");
        assert_eq!(
            call(&router, "GET", "/redirect").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(call(&router, "GET", "/health").await.0, StatusCode::OK);

        tx.send_replace(Some(leader("other", 5051)));
        let (status, location, _) = call(&router, "POST", "/api/v1/scheduler").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            location.as_deref(),
            Some("//m2:5051/master/api/v1/scheduler")
        );
        let (status, location, _) = call(&router, "POST", "/api/v1").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(location.as_deref(), Some("//m2:5051/master/api/v1"));
        let (_, location, _) = call(&router, "GET", "/slaves?slave_id=x").await;
        assert_eq!(
            location.as_deref(),
            Some("//m2:5051/master/slaves?slave_id=x")
        );
        let (_, location, _) = call(&router, "GET", "/redirect").await;
        assert_eq!(location.as_deref(), Some("//m2:5051"));
        let (status, _, body) = call(&router, "GET", "/state").await;
        assert_eq!(status, StatusCode::OK);
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(state["leader"], "master@10.0.0.2:5051");
        assert_eq!(state["leader_info"]["address"]["ip"], "10.0.0.2");
        assert_eq!(state["frameworks"], json!([]));
        assert_eq!(state["pid"], "master@10.0.0.1:5050");
        let (_, _, body) = call(&router, "GET", "/metrics/snapshot").await;
        assert!(body.contains("\"master/elected\":0"), "{body}");

        let (status, _, _) = call(&router, "POST", corral_api::internal::AGENT_ENDPOINT).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

        // Elected, not serving yet: no redirect to itself.
        tx.send_replace(Some(leader("me", 5050)));
        let (status, _, body) = call(&router, "POST", "/api/v1/scheduler").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("not yet recovered"), "{body}");
    }

    #[test]
    fn leader_paths_carry_the_master_prefix() {
        assert_eq!(
            leader_path("/api/v1/scheduler", None),
            "/master/api/v1/scheduler"
        );
        assert_eq!(
            leader_path("/master/api/v1/scheduler", None),
            "/master/api/v1/scheduler"
        );
        assert_eq!(leader_path("/masterx", None), "/master/masterx");
        assert_eq!(
            leader_path("/tasks", Some("limit=1")),
            "/master/tasks?limit=1"
        );
        assert_eq!(leader_path("/", Some("")), "/master/");
    }
}
