//! [`serve`]: the HTTP/1.1 server of the master and the agent, with the limits Mesos lacked
//! (`reference/reliability-matrix.md` §6): a header-read timeout (slowloris), a header size cap
//! (431), a connection cap, a deadline to produce a response head, and a graceful shutdown with
//! a drain deadline.
//!
//! `serve` takes any tower service over `Request<axum::body::Body>`; an axum `Router` (after
//! `with_state`) is one, and so is the router wrapped in [`PathNormalizeLayer`](crate::PathNormalizeLayer),
//! [`JsonpLayer`](crate::JsonpLayer) and [`BodyLimitLayer`](crate::BodyLimitLayer).
//!
//! Shutdown: when the `shutdown` future completes, the listener is closed, every connection is
//! asked to finish its in-flight request and close (idle keep-alive connections close at once),
//! and connections still open after [`ServerLimits::shutdown_grace`] (e.g. event streams) are
//! dropped. Pass e.g. `async move { let _ = rx.wait_for(|stop| *stop).await; }` for a
//! `tokio::sync::watch` flag, or a signal future.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::{Service, ServiceExt};

use crate::error::ApiError;

/// Connection-level limits of [`serve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time allowed to receive a complete request head; also bounds how long a keep-alive
    /// connection may sit idle between requests. Default 30 s.
    pub header_read_timeout: Duration,
    /// Time allowed for a handler to produce the response head (reading the request body
    /// included); `None` disables it. A streaming response only needs its head in time.
    /// Exceeding it answers `503`. Default 60 s.
    pub request_timeout: Option<Duration>,
    /// Largest request head (request line and headers) in bytes; larger ones get `431`.
    /// Default 64 KiB.
    pub max_header_bytes: usize,
    /// Connections served at once; further clients wait in the listen backlog. Default 16,384.
    pub max_connections: usize,
    /// How long shutdown waits for open connections before dropping them. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Some(Duration::from_secs(60)),
            max_header_bytes: 64 * 1024,
            max_connections: 16_384,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// hyper's smallest allowed read buffer.
const MIN_BUFFER_BYTES: usize = 8 * 1024;

/// Serves `service` on `listener` until `shutdown` completes, then drains; see the module docs.
pub async fn serve<S, F>(
    listener: TcpListener,
    service: S,
    limits: ServerLimits,
    shutdown: F,
) -> io::Result<()>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    F: Future<Output = ()> + Send,
{
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%error, "failed to accept connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = service.clone();
        let limits = limits.clone();
        let drain = drain_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            serve_connection(stream, service, &limits, drain).await;
            tracing::trace!(%peer, "connection closed");
        });
    }

    drop(listener);
    let _ = drain_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection<S>(
    stream: TcpStream,
    service: S,
    limits: &ServerLimits,
    mut drain: watch::Receiver<bool>,
) where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "failed to set TCP_NODELAY");
    }
    let request_timeout = limits.request_timeout;
    let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
        let call = service.clone().oneshot(request.map(Body::new));
        async move {
            let Some(limit) = request_timeout else {
                return call.await;
            };
            match tokio::time::timeout(limit, call).await {
                Ok(response) => response,
                Err(_) => Ok(ApiError::ServiceUnavailable(format!(
                    "Request not completed within {} seconds",
                    limit.as_secs_f64()
                ))
                .into_response()),
            }
        }
    });

    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(MIN_BUFFER_BYTES) + MIN_BUFFER_BYTES)
        .half_close(false);
    let connection = builder.serve_connection(TokioIo::new(stream), handler);
    tokio::pin!(connection);

    let draining = async move {
        // The returned guard must not live across an await: drop it here.
        let _ = drain.wait_for(|draining| *draining).await.map(|_| ());
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = draining => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
