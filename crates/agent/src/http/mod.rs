//! The agent's HTTP endpoints, behind libprocess path aliases (`/slave(1)/...`, trailing
//! slashes, `.json`), JSONP and a body limit.
//!
//! | path | file |
//! |---|---|
//! | `/api/v1/executor` | `executor_api.rs` |
//! | `/state`, `/flags`, `/version`, `/health` | `state.rs` |
//! | `/metrics/snapshot`, `/monitor/statistics`, `/containers` | `metrics.rs` |
//! | `/files/{browse,read,download,debug}` | `files.rs` |
//! | `/api/v1` (operator API) | `operator.rs` |
//! | `/metrics/prometheus` | `prometheus.rs` |

mod files;
mod metrics;
mod operator;
mod prometheus;
mod state;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use corral_containerizer::Containerizer;
use corral_http::{BodyLimitLayer, JsonpLayer, PathNormalizeLayer, PathRules};
use corral_resources::{Attributes, Resources};
use http::Request;
use tower::{Layer, Service};

use crate::convert::sum_resources;
use crate::core::{Executor, ExecutorState};
use crate::runtime::ActorHandle;

/// What the endpoints read besides the actor's snapshots (fixed at start).
#[derive(Debug)]
pub struct AgentStatic {
    /// `/flags`.
    pub flags: Vec<(&'static str, String)>,
    /// The advertised hostname.
    pub hostname: String,
    /// The advertised `ip:port`.
    pub endpoint: SocketAddr,
    /// Start time, seconds since the epoch.
    pub start_time: f64,
    /// For uptime.
    pub started: Instant,
    /// Total resources.
    pub resources: Resources,
    /// Attributes.
    pub attributes: Attributes,
    /// The work directory, canonical.
    pub work_dir: PathBuf,
    /// The master's base URL.
    pub master: String,
}

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The actor (state queries and executor calls).
    pub actor: ActorHandle,
    /// Fixed facts.
    pub info: Arc<AgentStatic>,
    /// For `/monitor/statistics`.
    pub containerizer: Containerizer,
}

/// The router wrapped in the agent's layers, ready for [`corral_http::serve`].
pub fn service(
    state: HttpState,
) -> impl Service<Request<Body>, Response = Response, Error = Infallible, Future: Send>
       + Clone
       + Send
       + 'static {
    let router = Router::new()
        .route("/api/v1/executor", any(crate::executor_api::executor_api))
        .route("/api/v1", any(operator::handle))
        .route("/metrics/prometheus", get(prometheus::prometheus))
        .route("/state", get(state::state))
        .route("/flags", get(state::flags))
        .route("/version", get(state::version))
        .route("/health", get(state::health))
        .route("/metrics/snapshot", get(metrics::snapshot))
        .route("/monitor/statistics", get(metrics::statistics))
        .route("/containers", get(metrics::containers))
        .route("/files/browse", get(files::browse))
        .route("/files/read", get(files::read))
        .route("/files/download", get(files::download))
        .route("/files/debug", get(files::debug))
        .with_state(state);
    let limited = BodyLimitLayer::default().layer(router);
    let jsonp = JsonpLayer.layer(limited);
    PathNormalizeLayer::new(PathRules::agent()).layer(jsonp)
}

/// Resources an executor holds: its own plus those of its queued and live tasks.
pub(crate) fn allocated(executor: &Executor) -> Resources {
    if executor.state == ExecutorState::Terminated {
        return Resources::new();
    }
    let live = executor
        .tasks
        .values()
        .filter(|t| !crate::core::state::is_terminal(t.state()))
        .map(|t| t.resources.as_slice());
    let queued = executor.queued_tasks().map(|t| t.resources.as_slice());
    sum_resources(
        std::iter::once(executor.info.resources.as_slice())
            .chain(live)
            .chain(queued),
    )
}
