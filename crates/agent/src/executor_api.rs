//! `POST /api/v1/executor`: the Mesos v1 executor API (`reference/mesos-v1-api.md` §2).
//!
//! The handler checks the transport (method, `Content-Type`, `Accept`), decodes the call and
//! hands it to the actor, which validates it against the executor's state. SUBSCRIBE answers
//! `200` with a RecordIO stream of events in the negotiated encoding; every other accepted call
//! answers `202`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use corral_api::v1::executor;
use corral_http::{recordio_stream_response, ApiError, ApiRequest};
use http::{HeaderMap, StatusCode};

use crate::http::HttpState;
use crate::runtime::ExecutorReply;

/// The executor API handler.
pub async fn executor_api(
    State(state): State<HttpState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let encoding = request.response_encoding()?;
    let call: executor::Call = request.decode()?;
    match state.actor.executor_call(call, encoding).await? {
        ExecutorReply::Stream(events) => {
            Ok(recordio_stream_response(encoding, HeaderMap::new(), events))
        }
        ExecutorReply::Accepted => Ok(StatusCode::ACCEPTED.into_response()),
    }
}
