//! The master's HTTP surface: the scheduler API, the agent protocol endpoint, the legacy GET
//! endpoints, and the one mapping from core errors to HTTP status codes.

mod agent;
mod legacy;
mod maintenance;
mod operator;
pub mod policy;
mod registrar;
mod scheduler;
pub mod standby;

use std::sync::Arc;

use axum::routing::{any, get, post};
use axum::Router;
use corral_http::ApiError;
use tokio::sync::{mpsc, oneshot};

use crate::core::view::Identity;
use crate::core::{CoreError, MasterCore};
use crate::runtime::Command;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The actor's mailbox.
    pub commands: mpsc::Sender<Command>,
    /// Facts about this process for the views.
    pub identity: Arc<Identity>,
    /// `host:port` clients should use for this master.
    pub advertised: String,
    /// Where policies (weights, quota) are persisted.
    pub store: Arc<dyn corral_store::Store>,
    /// Serializes policy updates (persist, then apply).
    pub policy_lock: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    /// Run `f` on the core inside the actor and return its result.
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&MasterCore, f64) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(move |core: &MasterCore, now: f64| {
            let _ = tx.send(f(core, now));
        });
        self.commands
            .send(Command::Query(job))
            .await
            .map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())
    }

    /// Run `f` on the core inside the actor, mutably (operator actions), and return its
    /// result; the runtime carries out the effects it produced.
    pub async fn mutate<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut MasterCore, f64) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        // The reply goes out only after the action's effects (registry writes first) are
        // carried out; if a write fails the master stops and the caller gets a 503.
        let job = Box::new(move |core: &mut MasterCore, now: f64| {
            let out = f(core, now);
            Box::new(move || {
                let _ = tx.send(out);
            }) as Box<dyn FnOnce() + Send>
        });
        self.commands
            .send(Command::Commit(job))
            .await
            .map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())
    }
}

pub(crate) fn unavailable() -> ApiError {
    ApiError::ServiceUnavailable("Master is shutting down".to_string())
}

/// The one place where core errors become HTTP statuses.
impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(m) | CoreError::StreamMismatch(m) => ApiError::BadRequest(m),
            CoreError::UnknownFramework(_) => ApiError::BadRequest(e.to_string()),
            CoreError::NotSubscribed(m) | CoreError::AgentGone(m) => ApiError::Forbidden(m),
            CoreError::Fenced(m) => ApiError::Conflict(m),
            CoreError::UnknownAgent(_) => ApiError::NotFound(e.to_string()),
        }
    }
}

/// The router (without the path-normalization and body-limit layers; see [`crate::start`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/scheduler", any(scheduler::handle))
        .route("/api/v1", any(operator::handle))
        .route(corral_api::internal::AGENT_ENDPOINT, any(agent::handle))
        .route("/state", get(legacy::state))
        .route("/registrar(1)/registry", get(registrar::registry))
        .route("/state-summary", get(legacy::state_summary))
        .route("/frameworks", get(legacy::frameworks))
        .route("/slaves", get(legacy::slaves))
        .route("/tasks", get(legacy::tasks))
        .route("/roles", get(legacy::roles))
        .route("/weights", get(legacy::weights))
        .route("/quota", get(legacy::quota))
        .route(
            "/maintenance/schedule",
            get(maintenance::schedule).post(maintenance::post_schedule),
        )
        .route("/maintenance/status", get(maintenance::status))
        .route("/machine/down", post(maintenance::machine_down))
        .route("/machine/up", post(maintenance::machine_up))
        .route("/flags", get(legacy::flags))
        .route("/health", get(legacy::health))
        .route("/version", get(legacy::version))
        .route("/redirect", get(legacy::redirect))
        .route("/metrics/snapshot", get(legacy::metrics))
        .route("/", get(legacy::index))
        .with_state(state)
}
