//! Message encodings of the Mesos v1 APIs: JSON and protobuf, one value type for both.
//!
//! JSON output is compact and ASCII-only: every non-ASCII character is written as `\uXXXX`
//! (a surrogate pair above U+FFFF). mesoshttp and avmesos slice the *decoded* text of a RecordIO
//! stream by the *byte* length of the record, which only agrees when the text is ASCII
//! (`reference/mesos-v1-api.md` §0 and §7.2).

use std::fmt;
use std::io;

use bytes::Bytes;
use http::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::ser::Formatter;

/// `application/json`.
pub const APPLICATION_JSON: &str = "application/json";
/// `application/x-protobuf`.
pub const APPLICATION_PROTOBUF: &str = "application/x-protobuf";
/// `application/recordio`, used with `Message-Accept` / `Message-Content-Type`.
pub const APPLICATION_RECORDIO: &str = "application/recordio";

/// The encoding of a request or response message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Mesos's JSON mapping of the protobuf messages.
    Json,
    /// Protobuf binary encoding with Mesos's field numbers.
    Protobuf,
}

impl Encoding {
    /// The media type naming this encoding.
    pub const fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => APPLICATION_JSON,
            Encoding::Protobuf => APPLICATION_PROTOBUF,
        }
    }

    /// The media type as a header value.
    pub const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.content_type())
    }

    /// Parses a media type (parameters such as `; charset=utf-8` and case are ignored).
    pub fn from_media_type(value: &str) -> Option<Encoding> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(APPLICATION_JSON) {
            Some(Encoding::Json)
        } else if essence.eq_ignore_ascii_case(APPLICATION_PROTOBUF) {
            Some(Encoding::Protobuf)
        } else {
            None
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.content_type())
    }
}

/// A request body that could not be decoded into the expected message.
///
/// `Display` gives Mesos's wording, e.g.
/// `Failed to convert JSON into Call protobuf: missing field `type` at line 1 column 2`.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not valid JSON for the message (syntax, a missing required field, a bad value).
    #[error("Failed to convert JSON into {message} protobuf: {source}")]
    Json {
        /// The short name of the expected message type, e.g. `Call`.
        message: &'static str,
        /// serde's description, which names a missing field.
        #[source]
        source: serde_json::Error,
    },
    /// The body is not a valid protobuf encoding of the message.
    #[error("Failed to parse body into {message} protobuf: {source}")]
    Protobuf {
        /// The short name of the expected message type, e.g. `Call`.
        message: &'static str,
        /// prost's description.
        #[source]
        source: prost::DecodeError,
    },
}

/// A value that could not be written as JSON (a map with non-string keys, or a failing
/// hand-written `Serialize`). Derived wire types never produce it.
#[derive(Debug, thiserror::Error)]
#[error("failed to encode {message} as JSON: {source}")]
pub struct EncodeError {
    /// The short name of the message type.
    pub message: &'static str,
    /// serde's description.
    #[source]
    pub source: serde_json::Error,
}

/// Encodes `value` in `encoding`. JSON is compact and ASCII-only.
///
/// A JSON serialization failure (impossible for derived wire types) is logged and yields an
/// empty body; use [`try_encode`] where the caller can report it.
pub fn encode<T>(encoding: Encoding, value: &T) -> Bytes
where
    T: prost::Message + Serialize,
{
    match try_encode(encoding, value) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "dropping message that cannot be encoded");
            Bytes::new()
        }
    }
}

/// Encodes `value` in `encoding`, reporting a JSON serialization failure.
pub fn try_encode<T>(encoding: Encoding, value: &T) -> Result<Bytes, EncodeError>
where
    T: prost::Message + Serialize,
{
    match encoding {
        Encoding::Protobuf => Ok(Bytes::from(value.encode_to_vec())),
        Encoding::Json => to_ascii_json(value).map_err(|source| EncodeError {
            message: short_type_name::<T>(),
            source,
        }),
    }
}

/// Decodes a message from `body`. Unknown JSON keys are ignored or rejected as `T`'s serde
/// implementation decides (Mesos ignores them).
pub fn decode<T>(encoding: Encoding, body: &[u8]) -> Result<T, DecodeError>
where
    T: prost::Message + Default + DeserializeOwned,
{
    match encoding {
        Encoding::Json => serde_json::from_slice(body).map_err(|source| DecodeError::Json {
            message: short_type_name::<T>(),
            source,
        }),
        Encoding::Protobuf => T::decode(body).map_err(|source| DecodeError::Protobuf {
            message: short_type_name::<T>(),
            source,
        }),
    }
}

/// Serializes any value as compact, ASCII-only JSON.
pub fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    value.serialize(&mut serializer)?;
    Ok(Bytes::from(out))
}

/// The last path segment of a type name without generics: `corral_api::scheduler::Call` →
/// `Call`.
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}

/// A compact serde_json formatter that escapes every non-ASCII character as `\uXXXX`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsciiFormatter;

impl Formatter for AsciiFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&bytes[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{:04x}", unit)?;
            }
            start = index + ch.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
    struct Call {
        #[prost(string, tag = "1")]
        #[serde(rename = "type")]
        kind: String,
        #[prost(uint64, tag = "2")]
        #[serde(default)]
        count: u64,
    }

    #[test]
    fn content_types() {
        assert_eq!(Encoding::Json.content_type(), "application/json");
        assert_eq!(Encoding::Protobuf.content_type(), "application/x-protobuf");
        assert_eq!(
            Encoding::from_media_type("Application/JSON; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_media_type(" application/x-protobuf "),
            Some(Encoding::Protobuf)
        );
        assert_eq!(Encoding::from_media_type("text/plain"), None);
    }

    #[test]
    fn json_is_compact_and_ascii() {
        let value = serde_json::json!({"name": "é😀\u{7f}x", "b": [1, 2], "ключ": "\n"});
        let text = String::from_utf8(to_ascii_json(&value).unwrap().to_vec()).unwrap();
        assert!(text.is_ascii(), "{text}");
        assert!(!text.contains(' ') && !text.contains('\n'));
        assert!(text.contains(r#""name":"\u00e9\ud83d\ude00"#), "{text}");
        assert!(
            text.contains(r#""\u043a\u043b\u044e\u0447":"\n""#),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn round_trips_both_encodings() {
        let call = Call {
            kind: "SUBSCRIBE".into(),
            count: 7,
        };
        for encoding in [Encoding::Json, Encoding::Protobuf] {
            let bytes = encode(encoding, &call);
            assert_eq!(decode::<Call>(encoding, &bytes).unwrap(), call);
        }
        assert_eq!(
            &encode(Encoding::Json, &call)[..],
            br#"{"type":"SUBSCRIBE","count":7}"#
        );
    }

    #[test]
    fn json_errors_name_the_missing_field_and_the_message() {
        let error = decode::<Call>(Encoding::Json, br#"{"count":1}"#).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("Failed to convert JSON into Call protobuf: "),
            "{text}"
        );
        assert!(text.contains("missing field `type`"), "{text}");
    }

    #[test]
    fn protobuf_errors_are_reported() {
        let error = decode::<Call>(Encoding::Protobuf, &[0x0a, 0x05, b'a']).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("Failed to parse body into Call protobuf: "));
    }
}
