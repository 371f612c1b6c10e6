//! Streaming RecordIO responses (scheduler, executor and operator SUBSCRIBE).
//!
//! The handler creates a bounded `tokio::sync::mpsc` channel, spawns (or hands to its actor) the
//! sender, and returns [`recordio_stream_response`] over the receiver. Each message sent is one
//! *encoded* event (e.g. [`encode`](crate::encoding::encode) output); it is framed here and
//! written as one HTTP chunk.
//!
//! **Noticing that the client went away.** When the connection closes, hyper drops the response
//! body and with it the receiver. The sender then sees it: `Sender::closed().await` resolves and
//! `send` returns an error. hyper notices a closed connection when it reads EOF from the socket
//! or, at the latest, when the next write fails, so a periodic heartbeat bounds the delay. The
//! stream ends cleanly (terminating chunk) when every sender is dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Frame;
use tokio::sync::mpsc;

use crate::encoding::Encoding;
use crate::recordio::encode_record;

/// A `200` response streaming each message from `rx` as one RecordIO record per chunk.
///
/// `Content-Type` is set to `encoding`'s media type unless `headers` already holds one (the
/// agent's attach calls answer `application/recordio` with a `Message-Content-Type`). Other
/// `headers` (e.g. `Mesos-Stream-Id`) are copied. No `Content-Length` is set, so HTTP/1.1 uses
/// chunked transfer encoding, as pymesos requires.
pub fn recordio_stream_response(
    encoding: Encoding,
    headers: HeaderMap,
    rx: mpsc::Receiver<Bytes>,
) -> Response {
    let mut response = Response::new(Body::new(RecordIoBody { rx }));
    *response.status_mut() = StatusCode::OK;
    let out = response.headers_mut();
    out.extend(headers);
    out.remove(http::header::CONTENT_LENGTH);
    if !out.contains_key(CONTENT_TYPE) {
        out.insert(CONTENT_TYPE, encoding.header_value());
    }
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A response body yielding one framed record per received message.
struct RecordIoBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for RecordIoBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        loop {
            return match self.rx.poll_recv(cx) {
                // An empty record cannot be framed (length 0 is invalid); skip it.
                Poll::Ready(Some(message)) if message.is_empty() => continue,
                Poll::Ready(Some(message)) => {
                    Poll::Ready(Some(Ok(Frame::data(encode_record(&message)))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn frames_each_message_and_ends_when_the_sender_drops() {
        let (tx, rx) = mpsc::channel(4);
        let mut headers = HeaderMap::new();
        headers.insert("mesos-stream-id", HeaderValue::from_static("abc"));
        let response = recordio_stream_response(Encoding::Json, headers, rx);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()["mesos-stream-id"], "abc");
        assert!(response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .is_none());

        tx.send(Bytes::from_static(b"{\"type\":\"SUBSCRIBED\"}"))
            .await
            .unwrap();
        tx.send(Bytes::new()).await.unwrap();
        tx.send(Bytes::from_static(b"{\"type\":\"HEARTBEAT\"}"))
            .await
            .unwrap();
        drop(tx);

        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"21\n{\"type\":\"SUBSCRIBED\"}");
        let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&second[..], b"20\n{\"type\":\"HEARTBEAT\"}");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn dropping_the_body_closes_the_sender() {
        let (tx, rx) = mpsc::channel(1);
        let response = recordio_stream_response(Encoding::Protobuf, HeaderMap::new(), rx);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/x-protobuf");
        drop(response);
        tokio::time::timeout(std::time::Duration::from_secs(1), tx.closed())
            .await
            .unwrap();
        assert!(tx.send(Bytes::from_static(b"x")).await.is_err());
    }

    #[tokio::test]
    async fn explicit_content_type_is_kept() {
        let (_tx, rx) = mpsc::channel(1);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/recordio"),
        );
        let response = recordio_stream_response(Encoding::Json, headers, rx);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/recordio");
    }
}
