//! Plain (non-streaming) responses in Mesos's encodings.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::encoding::{to_ascii_json, try_encode, Encoding, APPLICATION_JSON};
use crate::error::ApiError;

/// `200` with `value` as compact, ASCII-only JSON (`application/json`); a value that cannot be
/// serialized becomes a 500.
pub fn json_response(value: &impl Serialize) -> Response {
    match to_ascii_json(value) {
        Ok(body) => bytes_response(StatusCode::OK, APPLICATION_JSON, body),
        Err(error) => {
            ApiError::Internal(format!("failed to encode response: {error}")).into_response()
        }
    }
}

/// `status` with `message` encoded as the client negotiated (e.g. `200` for operator calls).
pub fn message_response<T>(status: StatusCode, encoding: Encoding, message: &T) -> Response
where
    T: prost::Message + Serialize,
{
    match try_encode(encoding, message) {
        Ok(body) => bytes_response(status, encoding.content_type(), body),
        Err(error) => ApiError::Internal(error.to_string()).into_response(),
    }
}

/// `status` with a prepared body and content type.
pub fn bytes_response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn json_response_is_ascii_json() {
        let response = json_response(&serde_json::json!({"hostname": "hôte"}));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"hostname":"h\u00f4te"}"#);
    }

    #[tokio::test]
    async fn unserializable_values_are_500() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        let response = json_response(&map);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
