//! The real server on loopback, driven by a raw socket the way pymesos drives Mesos.

// Test helpers outside `#[test]` functions panic on purpose when the server misbehaves.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use corral_http::{
    encode_record, recordio_stream_response, serve, ApiError, ApiRequest, BodyLimitLayer,
    PathNormalizeLayer, PathRules, RecordIoDecoder, ServerLimits,
};
use http::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tower::{Layer, ServiceBuilder};

const WAIT: Duration = Duration::from_secs(5);

struct Running {
    addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    closed: mpsc::UnboundedReceiver<()>,
}

/// Serves a subscribe endpoint whose event pump reports on `closed` when the client is gone.
async fn start(limits: ServerLimits) -> Running {
    start_on(limits, "127.0.0.1:0").await
}

/// Like [`start`], on `bind`, or on 127.0.0.1 if `bind` is not available on this host.
async fn start_on(limits: ServerLimits, bind: &str) -> Running {
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let subscribe = move |request: ApiRequest| {
        let closed_tx = closed_tx.clone();
        async move {
            let encoding = request.response_encoding()?;
            let (tx, rx) = mpsc::channel::<Bytes>(16);
            tokio::spawn(async move {
                let _ = tx
                    .send(Bytes::from_static(br#"{"type":"SUBSCRIBED"}"#))
                    .await;
                // An idle stream: nothing more is sent, yet the pump learns of the disconnect.
                tx.closed().await;
                let _ = closed_tx.send(());
            });
            let mut headers = HeaderMap::new();
            headers.insert("mesos-stream-id", HeaderValue::from_static("stream-1"));
            Ok::<Response, ApiError>(recordio_stream_response(encoding, headers, rx))
        }
    };
    let router = Router::new()
        .route("/api/v1/scheduler", any(subscribe))
        .route("/health", get(|| async { "" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                ""
            }),
        );
    let service = ServiceBuilder::new()
        .layer(PathNormalizeLayer::new(PathRules::master()))
        .layer(BodyLimitLayer::default())
        .service(router);
    let listener = match TcpListener::bind(bind).await {
        Ok(listener) => listener,
        Err(_) => TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let addr = listener.local_addr().unwrap();
    let (stop, mut stop_rx) = watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await.map(|_| ());
    };
    let server = tokio::spawn(serve(listener, service, limits, shutdown));
    Running {
        addr,
        stop,
        server,
        closed,
    }
}

/// Reads until the end of the response head; returns (head, bytes read past it).
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return (
                String::from_utf8(buffer).unwrap().to_ascii_lowercase(),
                rest,
            );
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed before the response head");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Reads one HTTP/1.1 chunk's payload (`buffer` holds bytes already read).
async fn read_chunk(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Vec<u8> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(line_end) = buffer.windows(2).position(|w| w == b"\r\n") {
            let size_text = std::str::from_utf8(&buffer[..line_end]).unwrap();
            let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
            if buffer.len() >= line_end + 2 + size + 2 {
                let payload = buffer[line_end + 2..line_end + 2 + size].to_vec();
                buffer.drain(..line_end + 2 + size + 2);
                return payload;
            }
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed inside the body");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

const SUBSCRIBE_REQUEST: &str = "POST /api/v1/scheduler HTTP/1.1\r\nHost: m\r\n\
    Content-Type: application/json\r\nAccept: application/json\r\nConnection: close\r\n\
    Content-Length: 20\r\n\r\n{\"type\":\"SUBSCRIBE\"}";

#[tokio::test]
async fn subscribe_streams_chunked_recordio_and_notices_the_client_leaving() {
    let mut running = start(ServerLimits::default()).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(SUBSCRIBE_REQUEST.as_bytes())
        .await
        .unwrap();

    let (head, mut rest) = read_head(&mut stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("mesos-stream-id: stream-1"), "{head}");
    assert!(!head.contains("content-length"), "{head}");

    let record = read_chunk(&mut stream, &mut rest).await;
    assert_eq!(record, encode_record(br#"{"type":"SUBSCRIBED"}"#).to_vec());
    let mut decoder = RecordIoDecoder::default();
    assert_eq!(
        decoder.decode(&record).unwrap(),
        vec![Bytes::from_static(br#"{"type":"SUBSCRIBED"}"#)]
    );

    drop(stream);
    tokio::time::timeout(WAIT, running.closed.recv())
        .await
        .unwrap()
        .unwrap();

    running.stop.send(true).unwrap();
    tokio::time::timeout(WAIT, running.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn path_aliases_work_over_the_wire() {
    let running = start(ServerLimits::default()).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let request = SUBSCRIBE_REQUEST.replace("/api/v1/scheduler", "/master/api/v1/scheduler/");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, _) = read_head(&mut stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    };
    let running = start(limits).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: m\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "connection was not closed");
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let limits = ServerLimits {
        max_header_bytes: 8 * 1024,
        ..ServerLimits::default()
    };
    let running = start(limits).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let big = "a".repeat(16 * 1024);
    let request = format!("GET /health HTTP/1.1\r\nHost: m\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let (head, _) = read_head(&mut stream).await;
    assert!(head.starts_with("http/1.1 431"), "{head}");
}

#[tokio::test]
async fn slow_handlers_get_503() {
    let limits = ServerLimits {
        request_timeout: Some(Duration::from_millis(100)),
        ..ServerLimits::default()
    };
    let running = start(limits).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: m\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_head(&mut stream).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
}

#[tokio::test]
async fn shutdown_drains_idle_connections_and_cuts_streams_after_the_grace() {
    let limits = ServerLimits {
        shutdown_grace: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    // On an address no other test binds, so that its port, once closed, cannot be re-bound
    // by a parallel test before the check that nothing listens there any more.
    let running = start_on(limits, "127.0.0.2:0").await;

    // An idle keep-alive connection and an open event stream.
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: m\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_head(&mut idle).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let mut subscriber = TcpStream::connect(running.addr).await.unwrap();
    subscriber
        .write_all(SUBSCRIBE_REQUEST.as_bytes())
        .await
        .unwrap();
    let _ = read_head(&mut subscriber).await;

    let started = tokio::time::Instant::now();
    running.stop.send(true).unwrap();
    tokio::time::timeout(WAIT, running.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));

    // Both connections are closed and the listener is gone.
    let mut buffer = Vec::new();
    tokio::time::timeout(WAIT, idle.read_to_end(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(WAIT, subscriber.read_to_end(&mut buffer))
        .await
        .unwrap()
        .ok();
    assert!(TcpStream::connect(running.addr).await.is_err());
}

#[tokio::test]
async fn stopping_without_connections_is_immediate() {
    let (tx, rx) = oneshot::channel::<()>();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let router = Router::new().route("/health", get(|| async { "" }));
    let service = PathNormalizeLayer::new(PathRules::agent()).layer(router);
    let server = tokio::spawn(serve(
        listener,
        service,
        ServerLimits::default(),
        async move {
            let _ = rx.await;
        },
    ));
    tx.send(()).unwrap();
    // Well under the default 10 s grace, so waiting for it would still fail the test.
    tokio::time::timeout(WAIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
