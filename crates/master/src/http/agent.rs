//! `POST /internal/v1/agent`: Corral's master↔agent protocol (see `corral_api::internal`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corral_api::internal::{
    decode_agent_envelope, AgentCall, AgentEnvelope, DecodeError, MasterEnvelope, MasterMessage,
    AGENT_GONE_STATUS, PROTOCOL_VERSION,
};
use corral_http::{recordio_stream_response, ApiError, ApiRequest, Encoding};
use http::{HeaderMap, StatusCode};
use tokio::sync::{mpsc, oneshot};

use super::{unavailable, AppState};
use crate::core::CoreError;
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
    // Decoded here, on the handler's worker thread (in parallel with other handlers), so the
    // actor only gets the built envelope. A peer of another protocol version is told so.
    let envelope: AgentEnvelope = decode_agent_envelope(&request.body).map_err(|e| match e {
        DecodeError::Version { .. } => ApiError::BadRequest(format!("Agent call refused: {e}")),
        e => ApiError::BadRequest(format!("Failed to parse agent call: {e}")),
    })?;
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
        let agent_id = match reply_rx.await.map_err(|_| unavailable())? {
            Ok(agent_id) => agent_id,
            Err(CoreError::AgentGone(message)) => {
                let epoch = state.query(|core, _| core.epoch()).await?;
                return Ok(gone(epoch, message));
            }
            Err(e) => return Err(e.into()),
        };
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

/// The answer to a gone agent's SUBSCRIBE: [`AGENT_GONE_STATUS`] with a SHUTDOWN message
/// under the leader's `epoch`.
fn gone(epoch: u64, message: String) -> Response {
    let envelope = MasterEnvelope {
        version: PROTOCOL_VERSION,
        epoch,
        message: MasterMessage::Shutdown { message },
    };
    let status = StatusCode::from_u16(AGENT_GONE_STATUS).unwrap_or(StatusCode::GONE);
    match serde_json::to_vec(&envelope) {
        Ok(body) => (
            status,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => ApiError::BadRequest(format!("cannot encode SHUTDOWN: {e}")).into_response(),
    }
}
