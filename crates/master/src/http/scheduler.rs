//! `POST /api/v1/scheduler`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corral_api::v1::scheduler::{call, event, Call, Event};
use corral_http::{encode, negotiate_response, recordio_stream_response, ApiError, ApiRequest};
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::sync::{mpsc, oneshot};

use super::{unavailable, AppState};
use crate::runtime::{Command, STREAM_CAPACITY};

const STREAM_ID: &str = "Mesos-Stream-Id";

pub(super) async fn handle(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let call: Call = request.decode()?;
    let kind = call.r#type.and_then(|t| call::Type::try_from(t).ok());
    match kind {
        None => Err(ApiError::BadRequest(
            "Expecting 'type' to be present".to_string(),
        )),
        Some(call::Type::Unknown) => Err(ApiError::NotImplemented(
            "Received an unknown call type".to_string(),
        )),
        Some(call::Type::Subscribe) => subscribe(state, request, call).await,
        Some(_) => other(state, request, call).await,
    }
}

async fn subscribe(state: AppState, request: ApiRequest, call: Call) -> Result<Response, ApiError> {
    let encoding = negotiate_response(&request.headers)?;
    if request.headers.contains_key(STREAM_ID) {
        return Err(ApiError::BadRequest(
            "Subscribe calls should not include the 'Mesos-Stream-Id' header".to_string(),
        ));
    }
    let Some(subscribe) = call.subscribe else {
        return Err(ApiError::BadRequest(
            "Expecting 'subscribe' to be present".to_string(),
        ));
    };
    let header_id = call.framework_id.as_ref().map(|f| f.value.as_str());
    let info_id = subscribe
        .framework_info
        .id
        .as_ref()
        .map(|f| f.value.as_str());
    if header_id != info_id {
        return Err(ApiError::BadRequest(
            "'framework_id' differs from 'subscribe.framework_info.id'".to_string(),
        ));
    }
    validate_framework_info(&subscribe.framework_info)?;
    let (tx, rx) = mpsc::channel::<Bytes>(STREAM_CAPACITY);
    let (reply_tx, reply_rx) = oneshot::channel();
    state
        .commands
        .send(Command::Subscribe {
            subscribe,
            encoding,
            events: tx.clone(),
            reply: reply_tx,
        })
        .await
        .map_err(|_| unavailable())?;
    let mut headers = HeaderMap::new();
    match reply_rx.await.map_err(|_| unavailable())? {
        Ok((stream_id, framework_id)) => {
            tracing::debug!(framework_id, stream_id, "subscription stream opened");
            let value =
                HeaderValue::from_str(&stream_id).map_err(|e| ApiError::Internal(e.to_string()))?;
            headers.insert(STREAM_ID, value);
            drop(tx); // the runtime holds its own sender
        }
        Err(message) => {
            // Mesos answers 200 and a single ERROR event, then closes the stream.
            let error = Event {
                r#type: Some(event::Type::Error as i32),
                error: Some(event::Error { message }),
                ..Default::default()
            };
            let _ = tx.try_send(encode(encoding, &error));
            drop(tx);
        }
    }
    Ok(recordio_stream_response(encoding, headers, rx))
}

fn validate_framework_info(info: &corral_api::v1::FrameworkInfo) -> Result<(), ApiError> {
    if info.user.is_empty() {
        return Err(ApiError::BadRequest(
            "Missing required fields: framework_info.user".to_string(),
        ));
    }
    if info.name.is_empty() {
        return Err(ApiError::BadRequest(
            "Missing required fields: framework_info.name".to_string(),
        ));
    }
    if let Some(id) = &info.id {
        corral_api::ids::validate_id("Framework", &id.value)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    Ok(())
}

async fn other(state: AppState, request: ApiRequest, call: Call) -> Result<Response, ApiError> {
    let stream_id = match request.headers.get(STREAM_ID) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::BadRequest("'Mesos-Stream-Id' is not valid text".to_string())
                })?
                .to_string(),
        ),
        None => None,
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    state
        .commands
        .send(Command::Call {
            call,
            stream_id,
            reply: reply_tx,
        })
        .await
        .map_err(|_| unavailable())?;
    reply_rx.await.map_err(|_| unavailable())??;
    Ok(StatusCode::ACCEPTED.into_response())
}
