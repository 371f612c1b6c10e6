//! The HTTP edge of the clients: one pooled HTTP/1.1 client (keep-alive connections per host).

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::endpoint::Endpoint;
use crate::error::ClientError;

/// The media type of every request and response body the clients use.
pub const APPLICATION_JSON: &str = "application/json";
/// The header naming a scheduler subscription.
pub const STREAM_ID: HeaderName = HeaderName::from_static("mesos-stream-id");

/// The default time limit for a non-streaming request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most body bytes read from a non-streaming response.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How much of an error body is kept in [`ClientError::Status`].
const ERROR_BODY_BYTES: usize = 4096;

/// A cheap-to-clone HTTP client with pooled keep-alive connections.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Default for Http {
    fn default() -> Self {
        Http::new(DEFAULT_REQUEST_TIMEOUT)
    }
}

impl Http {
    /// A client whose non-streaming requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Http { client, timeout }
    }

    /// The time limit of non-streaming requests.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request and returns the response head with its body still to be read. Only the
    /// wait for the head is bounded (by `head_timeout`).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
        head_timeout: Duration,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut builder = Request::builder().method(method).uri(url);
        if let Some(h) = builder.headers_mut() {
            h.extend(headers);
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ClientError::InvalidAddress {
                address: url.to_string(),
                reason: e.to_string(),
            })?;
        match tokio::time::timeout(head_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(ClientError::Transport {
                url: url.to_string(),
                message: error_chain(&error),
            }),
            Err(_) => Err(ClientError::Timeout {
                url: url.to_string(),
                after: head_timeout,
            }),
        }
    }

    /// POSTs a JSON body and reads the whole response (bounded by the client's timeout).
    pub async fn post_json(
        &self,
        endpoint: &Endpoint,
        path: &str,
        extra: HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), ClientError> {
        let url = endpoint.url(path);
        let mut headers = json_headers();
        headers.extend(extra);
        self.exchange(Method::POST, &url, headers, body).await
    }

    /// GETs `path_and_query` and reads the whole response (bounded by the client's timeout).
    pub async fn get(
        &self,
        endpoint: &Endpoint,
        path_and_query: &str,
    ) -> Result<(StatusCode, HeaderMap, Bytes), ClientError> {
        let url = endpoint.url(path_and_query);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(APPLICATION_JSON));
        self.exchange(Method::GET, &url, headers, Bytes::new())
            .await
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), ClientError> {
        let work = async {
            let response = self.send(method, url, headers, body, self.timeout).await?;
            let (parts, body) = response.into_parts();
            let bytes = read_body(url, body).await?;
            Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(ClientError::Timeout {
                    url: url.to_string(),
                    after: self.timeout,
                })
            })
    }
}

/// `Content-Type` and `Accept` for a JSON call.
pub fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
    headers.insert(ACCEPT, HeaderValue::from_static(APPLICATION_JSON));
    headers
}

/// Reads a whole response body, at most [`MAX_BODY_BYTES`].
pub async fn read_body(url: &str, body: Incoming) -> Result<Bytes, ClientError> {
    Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| ClientError::Transport {
            url: url.to_string(),
            message: format!("reading the body: {error}"),
        })
}

/// The [`ClientError::Status`] for an unexpected answer.
pub fn status_error(url: &str, status: StatusCode, body: &[u8]) -> ClientError {
    let shown = &body[..body.len().min(ERROR_BODY_BYTES)];
    ClientError::Status {
        url: url.to_string(),
        status,
        body: String::from_utf8_lossy(shown).trim().to_string(),
    }
}

/// The `Location` header of a redirect, as an endpoint.
pub fn redirect_target(headers: &HeaderMap, default_port: u16) -> Result<Endpoint, ClientError> {
    let location = headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ClientError::InvalidAddress {
            address: String::new(),
            reason: "redirect without a Location header".into(),
        })?;
    Endpoint::parse(location, default_port)
}

/// An error with its sources, `a: b: c`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
