//! Request body size cap (Mesos had none: `reference/reliability-matrix.md` §6).
//!
//! [`BodyLimitLayer`] wraps a whole service (typically the axum `Router`):
//! * a declared `Content-Length` above the limit is answered `413` before the handler runs;
//! * any other body is wrapped so that reading past the limit fails, which [`read_body`] and the
//!   [`ApiRequest`](crate::ApiRequest) extractor turn into `413`;
//! * the limit is stored in the request extensions ([`BodyLimit`]) and also given to axum's own
//!   extractors (`Bytes`, `Json`, `String`) through [`axum::extract::DefaultBodyLimit`], replacing
//!   their 2 MB default;
//! * streamed requests (`Content-Type: application/recordio`) are not capped in total; their
//!   records are capped by [`RecordIoDecoder`](crate::recordio::RecordIoDecoder) instead.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::Request;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::{Layer, Service};

use crate::encoding::APPLICATION_RECORDIO;
use crate::error::ApiError;

/// The default request body limit: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The body limit in force for a request (a request extension set by [`BodyLimitLayer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(DEFAULT_MAX_BODY_BYTES)
    }
}

/// A tower layer capping request bodies at `limit` bytes; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// Caps bodies at `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BodyLimitLayer { limit }
    }
}

impl Default for BodyLimitLayer {
    fn default() -> Self {
        BodyLimitLayer::new(DEFAULT_MAX_BODY_BYTES)
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimitService {
            inner: DefaultBodyLimit::max(self.limit).layer(inner),
            limit: self.limit,
        }
    }
}

/// The service made by [`BodyLimitLayer`].
#[derive(Clone, Debug)]
pub struct BodyLimitService<S> {
    inner: <DefaultBodyLimit as Layer<S>>::Service,
    limit: usize,
}

impl<S, B> Service<Request<B>> for BodyLimitService<S>
where
    S: Service<Request<Body>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let limit = self.limit;
        let streamed = is_recordio(&request);
        if !streamed && declared_length(&request).is_some_and(|length| length > limit as u64) {
            let response = ApiError::PayloadTooLarge {
                limit: limit as u64,
            }
            .into_response();
            return Box::pin(std::future::ready(Ok(response)));
        }
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(BodyLimit(limit));
        let body = if streamed {
            Body::new(body)
        } else {
            Body::new(Limited::new(body, limit))
        };
        Box::pin(self.inner.call(Request::from_parts(parts, body)))
    }
}

fn declared_length<B>(request: &Request<B>) -> Option<u64> {
    request
        .headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn is_recordio<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(APPLICATION_RECORDIO))
}

/// Reads a whole request body, failing with `413` past `limit` bytes and `400` when the
/// connection breaks mid-body.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if is_length_limit(&*error) => Err(ApiError::PayloadTooLarge {
            limit: limit as u64,
        }),
        Err(error) => Err(ApiError::BadRequest(format!(
            "Failed to read request body: {error}"
        ))),
    }
}

/// Whether `error` (or an error it wraps) is a body length limit error.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<LengthLimitError>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_body_enforces_the_limit() {
        let body = Body::from(vec![b'x'; 11]);
        let error = read_body(body, 10).await.unwrap_err();
        assert_eq!(error, ApiError::PayloadTooLarge { limit: 10 });
        let body = Body::from(vec![b'x'; 10]);
        assert_eq!(read_body(body, 10).await.unwrap().len(), 10);
    }

    #[tokio::test]
    async fn nested_limits_are_recognised() {
        // The layer wraps the body in `Limited`; a handler reading it with its own (larger)
        // limit must still report 413.
        let inner = Body::new(Limited::new(Body::from(vec![b'x'; 11]), 10));
        let error = read_body(inner, 100).await.unwrap_err();
        assert_eq!(error.status().as_u16(), 413);
    }
}
