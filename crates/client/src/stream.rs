//! Reading a subscription: a chunked RecordIO body decoded incrementally into events, with an
//! optional idle limit (missed heartbeats).

use std::marker::PhantomData;
use std::time::Duration;

use bytes::{Buf, Bytes};
use corral_http::{Encoding, RecordIoDecoder};
use futures::stream::BoxStream;
use futures::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use crate::error::ClientError;

/// The largest event accepted (an OFFERS event with thousands of offers stays far below it).
const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// A stream of decoded events; it ends after yielding its first error.
pub type EventStream<E> = BoxStream<'static, Result<E, ClientError>>;

/// An open subscription body.
pub struct RecordStream<E> {
    url: String,
    body: Incoming,
    decoder: RecordIoDecoder,
    idle_limit: Option<Duration>,
    done: bool,
    _event: PhantomData<fn() -> E>,
}

impl<E> RecordStream<E>
where
    E: prost::Message + Default + DeserializeOwned + Send + 'static,
{
    /// Reads `body`, the response of a SUBSCRIBE to `url`.
    pub fn new(url: String, body: Incoming) -> Self {
        RecordStream {
            url,
            body,
            decoder: RecordIoDecoder::new(MAX_RECORD_BYTES),
            idle_limit: None,
            done: false,
            _event: PhantomData,
        }
    }

    /// Fails the stream with [`ClientError::MissedHeartbeats`] when no record arrives for
    /// `limit`.
    pub fn set_idle_limit(&mut self, limit: Option<Duration>) {
        self.idle_limit = limit;
    }

    /// The next event; `None` once the stream has ended or failed.
    pub async fn next_event(&mut self) -> Option<Result<E, ClientError>> {
        if self.done {
            return None;
        }
        let result = self.next_record().await.and_then(|record| {
            corral_http::decode::<E>(Encoding::Json, &record).map_err(ClientError::from)
        });
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }

    /// Turns the rest of the subscription into a stream, `first` (already read) in front.
    pub fn into_stream(self, first: Option<E>) -> EventStream<E> {
        let rest = futures::stream::unfold(self, |mut reader| async move {
            reader.next_event().await.map(|item| (item, reader))
        });
        match first {
            Some(event) => futures::stream::once(async move { Ok(event) })
                .chain(rest)
                .boxed(),
            None => rest.boxed(),
        }
    }

    async fn next_record(&mut self) -> Result<Bytes, ClientError> {
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(record);
            }
            let frame = match self.idle_limit {
                Some(limit) => tokio::time::timeout(limit, self.body.frame())
                    .await
                    .map_err(|_| ClientError::MissedHeartbeats(limit))?,
                None => self.body.frame().await,
            };
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            let len = chunk.len();
                            self.decoder.feed(chunk);
                            data.advance(len);
                        }
                    }
                }
                Some(Err(error)) => {
                    return Err(ClientError::Transport {
                        url: self.url.clone(),
                        message: format!("reading the event stream: {error}"),
                    })
                }
                None => {
                    self.decoder.finish()?;
                    return Err(ClientError::StreamEnded);
                }
            }
        }
    }
}
