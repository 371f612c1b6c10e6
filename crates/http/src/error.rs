//! [`ApiError`]: the one error type of the HTTP edge, mapped to status codes in one place.
//!
//! Daemons convert their domain errors into `ApiError` (`impl From<RegisterError> for ApiError`)
//! and return `Result<_, ApiError>` from handlers.

use axum::response::{IntoResponse, Response};
use http::header::{ALLOW, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

use crate::encoding::DecodeError;

/// Every failure an HTTP handler can report. The `Display` text is the `text/plain` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed body, missing field, failed validation.
    #[error("{0}")]
    BadRequest(String),
    /// 401 with `WWW-Authenticate: Basic realm="mesos"`.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403: authenticated but not allowed, or the framework is not subscribed.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405 with `Allow: POST`.
    #[error("Expecting 'POST' request method")]
    MethodNotAllowed,
    /// 406: neither JSON nor protobuf is acceptable.
    #[error("Expecting 'Accept' to allow 'application/json' or 'application/x-protobuf'")]
    NotAcceptable,
    /// 415: a `Content-Type` other than JSON or protobuf.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 413: the request body is larger than the configured limit.
    #[error("Request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 503: not recovered yet, no leader known, overloaded, timed out.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 501: e.g. a call `type` of UNKNOWN.
    #[error("{0}")]
    NotImplemented(String),
    /// 307 to the leading master; `location` is e.g. `//m2:5050/master/api/v1/scheduler`.
    #[error("Redirecting to {location}")]
    TemporaryRedirect {
        /// The `Location` header value.
        location: String,
    },
    /// 500: a bug or an unexpected failure inside the daemon.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::TemporaryRedirect { .. } => StatusCode::TEMPORARY_REDIRECT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DecodeError> for ApiError {
    fn from(error: DecodeError) -> Self {
        ApiError::BadRequest(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "request failed");
        }
        let extra = match &self {
            ApiError::MethodNotAllowed => Some((ALLOW, HeaderValue::from_static("POST"))),
            ApiError::Unauthorized => Some((
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mesos\""),
            )),
            ApiError::TemporaryRedirect { location } => match HeaderValue::from_str(location) {
                Ok(value) => Some((LOCATION, value)),
                Err(_) => {
                    let error = ApiError::Internal(format!(
                        "leader location {location:?} is not a valid header value"
                    ));
                    return error.into_response();
                }
            },
            _ => None,
        };
        let mut response = (status, self.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some((name, value)) = extra {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_text(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn every_variant_maps_to_its_status() {
        let cases = [
            (ApiError::BadRequest("b".into()), 400),
            (ApiError::Unauthorized, 401),
            (ApiError::Forbidden("f".into()), 403),
            (ApiError::NotFound("n".into()), 404),
            (ApiError::MethodNotAllowed, 405),
            (ApiError::NotAcceptable, 406),
            (ApiError::UnsupportedMediaType("u".into()), 415),
            (ApiError::PayloadTooLarge { limit: 10 }, 413),
            (ApiError::Conflict("c".into()), 409),
            (ApiError::ServiceUnavailable("s".into()), 503),
            (ApiError::NotImplemented("i".into()), 501),
            (
                ApiError::TemporaryRedirect {
                    location: "//m2:5050/master/api/v1/scheduler".into(),
                },
                307,
            ),
            (ApiError::Internal("x".into()), 500),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), code);
            assert_eq!(
                response.headers()[CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
            assert_eq!(body_text(response).await, message);
        }
    }

    #[test]
    fn special_headers() {
        let response = ApiError::MethodNotAllowed.into_response();
        assert_eq!(response.headers()[ALLOW], "POST");

        let response = ApiError::Unauthorized.into_response();
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"mesos\""
        );

        let response = ApiError::TemporaryRedirect {
            location: "//m2:5050/master/state".into(),
        }
        .into_response();
        assert_eq!(response.headers()[LOCATION], "//m2:5050/master/state");
    }

    #[test]
    fn invalid_location_is_an_internal_error_not_a_panic() {
        let response = ApiError::TemporaryRedirect {
            location: "bad\nvalue".into(),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(LOCATION).is_none());
    }

    #[test]
    fn payload_too_large_names_the_limit() {
        let text = ApiError::PayloadTooLarge { limit: 4096 }.to_string();
        assert!(text.contains("4096 bytes"), "{text}");
    }
}
