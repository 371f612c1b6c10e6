//! JSONP for the legacy GET endpoints: `GET /state?jsonp=cb` answers
//! `cb(<json>);` as `application/javascript`.
//!
//! Use the helpers in a handler ([`jsonp_callback`], [`json_or_jsonp`]), or wrap the whole router
//! in [`JsonpLayer`], which converts every successful `application/json` answer to a `GET` that
//! carries `jsonp=`. Callbacks must be JavaScript identifier paths (`[A-Za-z_$][A-Za-z0-9_$.]*`,
//! at most 128 bytes): anything else is a 400, so a callback cannot inject script.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use tower::{Layer, Service};

use crate::encoding::to_ascii_json;
use crate::error::ApiError;
use crate::response::{bytes_response, json_response};

/// `application/javascript`.
pub const APPLICATION_JAVASCRIPT: &str = "application/javascript";

const MAX_CALLBACK_LEN: usize = 128;

/// The `jsonp` parameter of a raw query string, if present and non-empty; 400 if it is not a
/// safe callback name.
pub fn jsonp_callback(query: Option<&str>) -> Result<Option<&str>, ApiError> {
    let Some(value) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == "jsonp").then_some(value)
        })
    else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    if is_valid_callback(value) {
        Ok(Some(value))
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid 'jsonp' callback name {value:?}"
        )))
    }
}

fn is_valid_callback(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$');
    first_ok
        && name.len() <= MAX_CALLBACK_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.')
}

/// Wraps JSON text as `callback(<json>);`.
pub fn wrap_jsonp(callback: &str, json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(callback.len() + json.len() + 3);
    out.put_slice(callback.as_bytes());
    out.put_u8(b'(');
    out.put_slice(json);
    out.put_slice(b");");
    out.freeze()
}

/// `200` with `callback(<json>);` as `application/javascript`. The callback is not validated
/// here; take it from [`jsonp_callback`].
pub fn jsonp_response(callback: &str, value: &impl Serialize) -> Response {
    match to_ascii_json(value) {
        Ok(json) => bytes_response(
            StatusCode::OK,
            APPLICATION_JAVASCRIPT,
            wrap_jsonp(callback, &json),
        ),
        Err(error) => {
            ApiError::Internal(format!("failed to encode response: {error}")).into_response()
        }
    }
}

/// [`jsonp_response`] when a callback is given, else [`json_response`].
pub fn json_or_jsonp(value: &impl Serialize, callback: Option<&str>) -> Response {
    match callback {
        Some(callback) => jsonp_response(callback, value),
        None => json_response(value),
    }
}

/// A tower layer applying JSONP to every successful JSON answer of a `GET`; see the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonpLayer;

impl<S> Layer<S> for JsonpLayer {
    type Service = Jsonp<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Jsonp { inner }
    }
}

/// The service made by [`JsonpLayer`].
#[derive(Clone, Debug)]
pub struct Jsonp<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Jsonp<S>
where
    S: Service<Request<B>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() != Method::GET {
            return Box::pin(self.inner.call(request));
        }
        let callback = match jsonp_callback(request.uri().query()) {
            Ok(Some(callback)) => callback.to_string(),
            Ok(None) => return Box::pin(self.inner.call(request)),
            Err(error) => return Box::pin(std::future::ready(Ok(error.into_response()))),
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(wrap_response(&callback, response).await)
        })
    }
}

async fn wrap_response(callback: &str, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !response.status().is_success() || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let json = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return ApiError::Internal(format!("failed to read response body: {error}"))
                .into_response()
        }
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(APPLICATION_JAVASCRIPT),
    );
    Response::from_parts(parts, Body::from(wrap_jsonp(callback, &json)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_parsing() {
        assert_eq!(jsonp_callback(None).unwrap(), None);
        assert_eq!(jsonp_callback(Some("a=1")).unwrap(), None);
        assert_eq!(jsonp_callback(Some("jsonp=")).unwrap(), None);
        assert_eq!(jsonp_callback(Some("x=1&jsonp=cb")).unwrap(), Some("cb"));
        assert_eq!(
            jsonp_callback(Some("jsonp=angular.callbacks._0")).unwrap(),
            Some("angular.callbacks._0")
        );
        for bad in ["jsonp=alert(1)", "jsonp=1abc", "jsonp=a%3Cb", "jsonp=a-b"] {
            let error = jsonp_callback(Some(bad)).unwrap_err();
            assert_eq!(error.status().as_u16(), 400, "{bad}");
        }
        let long = format!("jsonp={}", "a".repeat(129));
        assert!(jsonp_callback(Some(&long)).is_err());
    }

    #[tokio::test]
    async fn wraps_json() {
        let response = jsonp_response("cb", &serde_json::json!({"a": "é"}));
        assert_eq!(response.headers()[CONTENT_TYPE], APPLICATION_JAVASCRIPT);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"cb({"a":"\u00e9"});"#);
    }

    #[tokio::test]
    async fn json_or_jsonp_without_callback_is_json() {
        let response = json_or_jsonp(&serde_json::json!([1]), None);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}
