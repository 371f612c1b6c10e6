//! [`ApiRequest`]: an axum extractor for v1 API calls (`POST /api/v1/...`).
//!
//! It checks the method and `Content-Type` ([`negotiate_request`]) and reads the body within the
//! [`BodyLimit`] in force, rejecting with [`ApiError`] (405, 400, 415, 413). `Accept` is left to
//! the handler ([`ApiRequest::response_encoding`]) because the scheduler endpoint checks it only
//! for some calls. Register such routes with `axum::routing::any` so that other methods reach the
//! extractor and get Mesos's 405 (`post` alone also answers 405 with `Allow: POST`, with an empty
//! body).

use axum::body::Body;
use axum::extract::FromRequest;
use bytes::Bytes;
use http::{HeaderMap, Request};
use serde::de::DeserializeOwned;

use crate::encoding::{decode, Encoding};
use crate::error::ApiError;
use crate::limit::{read_body, BodyLimit};
use crate::negotiate::{negotiate_request, negotiate_response, Negotiated};

/// A v1 API call whose method and `Content-Type` were checked and whose body was read.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The encoding of `body`.
    pub encoding: Encoding,
    /// The request headers (`Accept`, `Mesos-Stream-Id`, `Authorization`, …).
    pub headers: HeaderMap,
    /// The raw body, at most the [`BodyLimit`] long.
    pub body: Bytes,
}

impl ApiRequest {
    /// Decodes the body as `T`; a failure is a 400 with Mesos's wording.
    pub fn decode<T>(&self) -> Result<T, ApiError>
    where
        T: prost::Message + Default + DeserializeOwned,
    {
        Ok(decode(self.encoding, &self.body)?)
    }

    /// The response encoding chosen by `Accept` (406 when nothing acceptable).
    pub fn response_encoding(&self) -> Result<Encoding, ApiError> {
        negotiate_response(&self.headers)
    }

    /// Both encodings; fails with 406 when `Accept` allows neither JSON nor protobuf.
    pub fn negotiated(&self) -> Result<Negotiated, ApiError> {
        Ok(Negotiated {
            request: self.encoding,
            response: self.response_encoding()?,
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for ApiRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        let encoding = negotiate_request(request.method(), request.headers())?;
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or_default();
        let (parts, body) = request.into_parts();
        let body = read_body(body, limit.0).await?;
        Ok(ApiRequest {
            encoding,
            headers: parts.headers,
            body,
        })
    }
}
