//! RecordIO framing (`docs/recordio.md` in Mesos): `<decimal byte length>\n<record bytes>`,
//! repeated, with no separator after a record. Lengths are never 0.
//!
//! Chunk boundaries carry no meaning: [`RecordIoDecoder`] accepts bytes in any split and yields
//! whole records.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The default cap on one decoded record: 16 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Frames one record: `<len>\n<bytes>`. Mesos never sends an empty record; callers should not
/// either (the decoder rejects a zero length).
pub fn encode_record(record: &[u8]) -> Bytes {
    let length = record.len().to_string();
    let mut out = BytesMut::with_capacity(length.len() + 1 + record.len());
    out.put_slice(length.as_bytes());
    out.put_u8(b'\n');
    out.put_slice(record);
    out.freeze()
}

/// A malformed RecordIO stream. The decoder stays failed after returning one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIoError {
    /// A byte other than an ASCII digit (or the `\n` ending the length) in a length prefix.
    #[error("invalid RecordIO length prefix: unexpected byte 0x{0:02x}")]
    InvalidLength(u8),
    /// A length prefix with no digits before its `\n`.
    #[error("invalid RecordIO length prefix: no digits")]
    EmptyLength,
    /// A record length of 0.
    #[error("invalid RecordIO record length 0")]
    ZeroLength,
    /// A record longer than the decoder's maximum.
    #[error("RecordIO record length exceeds the maximum of {max} bytes")]
    TooLong {
        /// The decoder's maximum record length.
        max: usize,
    },
    /// The stream ended inside a length prefix or a record.
    #[error("RecordIO stream ended inside a record")]
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the length prefix; `digits` read so far add up to `value`.
    Length { value: usize, digits: usize },
    /// Waiting for `len` record bytes.
    Record { len: usize },
}

/// An incremental RecordIO decoder: [`feed`](Self::feed) bytes as they arrive, then pop complete
/// records with [`next_record`](Self::next_record) until it returns `Ok(None)`.
#[derive(Debug)]
pub struct RecordIoDecoder {
    buffer: BytesMut,
    state: State,
    max_record: usize,
    failed: Option<RecordIoError>,
}

impl Default for RecordIoDecoder {
    fn default() -> Self {
        RecordIoDecoder::new(DEFAULT_MAX_RECORD_BYTES)
    }
}

impl RecordIoDecoder {
    /// A decoder rejecting records longer than `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        RecordIoDecoder {
            buffer: BytesMut::new(),
            state: State::Length {
                value: 0,
                digits: 0,
            },
            max_record,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next complete record, `Ok(None)` when more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.step() {
            Ok(record) => Ok(record),
            Err(error) => {
                self.buffer = BytesMut::new();
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Feeds `bytes` and returns every record completed by them.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        self.feed(bytes);
        let mut records = Vec::new();
        while let Some(record) = self.next_record()? {
            records.push(record);
        }
        Ok(records)
    }

    /// Checks that the stream ended on a record boundary; call it at end of input.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let idle = self.buffer.is_empty()
            && self.state
                == State::Length {
                    value: 0,
                    digits: 0,
                };
        if idle {
            Ok(())
        } else {
            Err(RecordIoError::Truncated)
        }
    }

    fn step(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        loop {
            match self.state {
                State::Length { .. } => {
                    if !self.read_length()? {
                        return Ok(None);
                    }
                }
                State::Record { len } => {
                    if self.buffer.len() < len {
                        return Ok(None);
                    }
                    let record = self.buffer.split_to(len).freeze();
                    self.state = State::Length {
                        value: 0,
                        digits: 0,
                    };
                    return Ok(Some(record));
                }
            }
        }
    }

    /// Consumes length-prefix bytes; true once the prefix is complete.
    fn read_length(&mut self) -> Result<bool, RecordIoError> {
        let State::Length {
            mut value,
            mut digits,
        } = self.state
        else {
            return Ok(true);
        };
        let mut consumed = 0;
        let mut complete = false;
        for &byte in self.buffer.iter() {
            consumed += 1;
            match byte {
                b'0'..=b'9' => {
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(usize::from(byte - b'0')))
                        .filter(|v| *v <= self.max_record)
                        .ok_or(RecordIoError::TooLong {
                            max: self.max_record,
                        })?;
                    digits += 1;
                }
                b'\n' => {
                    complete = true;
                    break;
                }
                other => return Err(RecordIoError::InvalidLength(other)),
            }
        }
        self.buffer.advance(consumed);
        if !complete {
            self.state = State::Length { value, digits };
            return Ok(false);
        }
        if digits == 0 {
            return Err(RecordIoError::EmptyLength);
        }
        if value == 0 {
            return Err(RecordIoError::ZeroLength);
        }
        self.state = State::Record { len: value };
        Ok(true)
    }
}

/// A failure while reading records from an HTTP body.
#[derive(Debug, thiserror::Error)]
pub enum RecordIoReadError {
    /// The bytes are not valid RecordIO (or a record is too long, or the stream was cut).
    #[error(transparent)]
    Decode(#[from] RecordIoError),
    /// The body itself failed (connection reset, length limit, …).
    #[error("failed to read RecordIO body: {0}")]
    Body(String),
}

/// Reads records from any HTTP body (an axum request body with
/// `Content-Type: application/recordio`, or a client's response body).
#[derive(Debug)]
pub struct RecordIoReader<B> {
    body: B,
    decoder: RecordIoDecoder,
    ended: bool,
}

impl<B> RecordIoReader<B>
where
    B: http_body::Body + Unpin,
    B::Error: std::fmt::Display,
{
    /// Reads `body`, rejecting records longer than `max_record` bytes.
    pub fn new(body: B, max_record: usize) -> Self {
        RecordIoReader {
            body,
            decoder: RecordIoDecoder::new(max_record),
            ended: false,
        }
    }

    /// The next record; `Ok(None)` once the body ended on a record boundary.
    pub async fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoReadError> {
        use http_body_util::BodyExt;
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return Ok(Some(record));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.frame().await {
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
                Some(Err(error)) => return Err(RecordIoReadError::Body(error.to_string())),
                None => {
                    self.ended = true;
                    self.decoder.finish()?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_without_trailing_separator() {
        assert_eq!(
            &encode_record(b"{\"type\":\"HEARTBEAT\"}")[..],
            b"20\n{\"type\":\"HEARTBEAT\"}"
        );
    }

    #[test]
    fn decodes_the_mesos_example() {
        let mut decoder = RecordIoDecoder::default();
        let records = decoder.decode(b"3\nabc5\nhello").unwrap();
        assert_eq!(records, vec![Bytes::from("abc"), Bytes::from("hello")]);
        decoder.finish().unwrap();
    }

    #[test]
    fn rejects_bad_input() {
        let error = |input: &[u8]| RecordIoDecoder::new(100).decode(input).unwrap_err();
        assert_eq!(error(b"1x\nabc"), RecordIoError::InvalidLength(b'x'));
        assert_eq!(error(b" 3\nabc"), RecordIoError::InvalidLength(b' '));
        assert_eq!(error(b"-3\nabc"), RecordIoError::InvalidLength(b'-'));
        assert_eq!(error(b"0\n"), RecordIoError::ZeroLength);
        assert_eq!(error(b"000\n"), RecordIoError::ZeroLength);
        assert_eq!(error(b"\nabc"), RecordIoError::EmptyLength);
        assert_eq!(error(b"101\n"), RecordIoError::TooLong { max: 100 });
        // Detected while still reading digits, and without overflowing.
        assert_eq!(
            error(b"99999999999999999999999999"),
            RecordIoError::TooLong { max: 100 }
        );
    }

    #[test]
    fn failure_is_sticky() {
        let mut decoder = RecordIoDecoder::new(100);
        assert!(decoder.decode(b"x").is_err());
        decoder.feed(b"3\nabc");
        assert_eq!(
            decoder.next_record(),
            Err(RecordIoError::InvalidLength(b'x'))
        );
    }

    #[test]
    fn truncation_is_reported_at_finish() {
        let mut decoder = RecordIoDecoder::default();
        assert!(decoder.decode(b"5\nhel").unwrap().is_empty());
        assert_eq!(decoder.finish(), Err(RecordIoError::Truncated));
        let mut decoder = RecordIoDecoder::default();
        assert!(decoder.decode(b"12").unwrap().is_empty());
        assert_eq!(decoder.finish(), Err(RecordIoError::Truncated));
    }

    #[tokio::test]
    async fn reads_records_from_a_body() {
        let body = http_body_util::Full::new(Bytes::from_static(b"3\nabc2\nhi"));
        let mut reader = RecordIoReader::new(body, 100);
        assert_eq!(
            reader.next_record().await.unwrap(),
            Some(Bytes::from("abc"))
        );
        assert_eq!(reader.next_record().await.unwrap(), Some(Bytes::from("hi")));
        assert_eq!(reader.next_record().await.unwrap(), None);

        let body = http_body_util::Full::new(Bytes::from_static(b"3\nab"));
        let mut reader = RecordIoReader::new(body, 100);
        assert!(matches!(
            reader.next_record().await,
            Err(RecordIoReadError::Decode(RecordIoError::Truncated))
        ));
    }

    proptest! {
        #[test]
        fn any_chunking_decodes_to_the_same_records(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..20),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..30),
        ) {
            let stream: Vec<u8> = records.iter().flat_map(|r| encode_record(r).to_vec()).collect();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let mut decoder = RecordIoDecoder::new(1024);
            let mut decoded = Vec::new();
            for window in points.windows(2) {
                decoded.extend(decoder.decode(&stream[window[0]..window[1]]).unwrap());
            }
            decoder.finish().unwrap();
            let decoded: Vec<Vec<u8>> = decoded.into_iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(decoded, records);
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut decoder = RecordIoDecoder::new(64);
            let _ = decoder.decode(&input);
            let _ = decoder.finish();
        }
    }
}
