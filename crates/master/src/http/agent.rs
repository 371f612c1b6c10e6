//! `POST /internal/v1/agent`: Corral's master↔agent protocol (see `corral_api::internal`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corral_api::internal::{AgentCall, AgentEnvelope};
use corral_http::{recordio_stream_response, ApiError, ApiRequest, Encoding};
use http::{HeaderMap, StatusCode};
use tokio::sync::{mpsc, oneshot};

use super::{unavailable, AppState};
use crate::runtime::{Command, STREAM_CAPACITY};

pub(super) async fn handle(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    if request.encoding != Encoding::Json {
        return Err(ApiError::UnsupportedMediaType(
            "The agent protocol speaks application/json".to_string(),
        ));
    }
    let envelope: AgentEnvelope = serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::BadRequest(format!("Failed to parse agent call: {e}")))?;
    if matches!(envelope.call, AgentCall::Subscribe { .. }) {
        let (tx, rx) = mpsc::channel::<Bytes>(STREAM_CAPACITY);
        let (reply_tx, reply_rx) = oneshot::channel();
        state
            .commands
            .send(Command::AgentSubscribe {
                envelope,
                messages: tx,
                reply: reply_tx,
            })
            .await
            .map_err(|_| unavailable())?;
        let agent_id = reply_rx.await.map_err(|_| unavailable())??;
        tracing::debug!(agent_id, "agent session opened");
        return Ok(recordio_stream_response(
            Encoding::Json,
            HeaderMap::new(),
            rx,
        ));
    }
    let (reply_tx, reply_rx) = oneshot::channel();
    state
        .commands
        .send(Command::AgentCall {
            envelope,
            reply: reply_tx,
        })
        .await
        .map_err(|_| unavailable())?;
    reply_rx.await.map_err(|_| unavailable())??;
    Ok(StatusCode::ACCEPTED.into_response())
}
