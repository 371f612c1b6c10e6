//! Request negotiation of the v1 APIs: method, `Content-Type`, `Accept` (`reference/mesos-v1-api.md`
//! §0 "Transport and headers").
//!
//! * Only `POST` is accepted (405 with `Allow: POST`).
//! * `Content-Type` must be `application/json` or `application/x-protobuf` (parameters and case
//!   are tolerated, unlike Mesos): missing → 400, anything else → 415.
//! * `Accept` chooses the response encoding: absent, `*/*`, `application/*` and
//!   `application/json` mean JSON, `application/x-protobuf` means protobuf; q-values are honoured
//!   (higher q wins, then the more specific match, then JSON). `Accept: application/recordio`
//!   defers to `Message-Accept`. Nothing acceptable → 406.
//!
//! The pieces are separate functions because the scheduler endpoint checks `Accept` only for
//! SUBSCRIBE and RECONCILE_OPERATIONS: call [`negotiate_request`] first and
//! [`negotiate_response`] when the call needs a body.

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, Method};

use crate::encoding::{Encoding, APPLICATION_JSON, APPLICATION_PROTOBUF, APPLICATION_RECORDIO};
use crate::error::ApiError;

/// `Message-Accept`: the encoding of each record when `Accept: application/recordio`.
pub const MESSAGE_ACCEPT: HeaderName = HeaderName::from_static("message-accept");
/// `Message-Content-Type`: the encoding of each record of a `application/recordio` request.
pub const MESSAGE_CONTENT_TYPE: HeaderName = HeaderName::from_static("message-content-type");

/// The encodings of a call's request body and of its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// How the request body is encoded (from `Content-Type`).
    pub request: Encoding,
    /// How the response (or each record of a response stream) must be encoded.
    pub response: Encoding,
}

/// Whether a request body is one message or a RecordIO stream of messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The body is one message.
    Single,
    /// `Content-Type: application/recordio`; each record is a message encoded as
    /// `Message-Content-Type` says (e.g. the agent's ATTACH_CONTAINER_INPUT).
    RecordIo,
}

/// Checks method, `Content-Type` and `Accept` together.
pub fn negotiate(method: &Method, headers: &HeaderMap) -> Result<Negotiated, ApiError> {
    let request = negotiate_request(method, headers)?;
    let response = negotiate_response(headers)?;
    Ok(Negotiated { request, response })
}

/// Checks the method and `Content-Type` and returns the request body's encoding.
pub fn negotiate_request(method: &Method, headers: &HeaderMap) -> Result<Encoding, ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed);
    }
    content_encoding(headers, &CONTENT_TYPE)
}

/// Like [`negotiate_request`], but also accepts a streamed request:
/// `Content-Type: application/recordio` with `Message-Content-Type` naming the record encoding.
pub fn negotiate_streaming_request(
    method: &Method,
    headers: &HeaderMap,
) -> Result<(Encoding, Framing), ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed);
    }
    let is_recordio = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| essence_is(value, APPLICATION_RECORDIO));
    if is_recordio {
        Ok((
            content_encoding(headers, &MESSAGE_CONTENT_TYPE)?,
            Framing::RecordIo,
        ))
    } else {
        Ok((content_encoding(headers, &CONTENT_TYPE)?, Framing::Single))
    }
}

/// Chooses the response encoding from `Accept` (and `Message-Accept` for RecordIO).
pub fn negotiate_response(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    if accepts_recordio(headers) {
        return choose(headers, &MESSAGE_ACCEPT);
    }
    choose(headers, &ACCEPT)
}

/// Whether `Accept` names `application/recordio` (with q > 0): the client wants a stream framed
/// as `Content-Type: application/recordio` with `Message-Content-Type` for the records, as the
/// agent's container attach calls do. The scheduler and executor SUBSCRIBE streams instead carry
/// the record encoding itself as `Content-Type`.
pub fn accepts_recordio(headers: &HeaderMap) -> bool {
    media_ranges(headers, &ACCEPT).any(|range| {
        range.q > 0.0 && range.matches(APPLICATION_RECORDIO) == Some(Specificity::Exact)
    })
}

fn content_encoding(headers: &HeaderMap, name: &HeaderName) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(name) else {
        return Err(ApiError::BadRequest(format!(
            "Expecting '{}' to be present",
            canonical(name)
        )));
    };
    value
        .to_str()
        .ok()
        .and_then(Encoding::from_media_type)
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "Expecting '{}' of {APPLICATION_JSON} or {APPLICATION_PROTOBUF}",
                canonical(name)
            ))
        })
}

fn canonical(name: &HeaderName) -> &'static str {
    if name == CONTENT_TYPE {
        "Content-Type"
    } else if name == MESSAGE_CONTENT_TYPE {
        "Message-Content-Type"
    } else {
        "header"
    }
}

fn essence_is(value: &str, media_type: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(media_type))
}

/// Picks JSON or protobuf from an `Accept`-style header; absent or empty means JSON.
fn choose(headers: &HeaderMap, name: &HeaderName) -> Result<Encoding, ApiError> {
    let present = headers
        .get_all(name)
        .iter()
        .any(|value| !value.as_bytes().trim_ascii().is_empty());
    if !present {
        return Ok(Encoding::Json);
    }
    let ranges: Vec<MediaRange<'_>> = media_ranges(headers, name).collect();
    let json = preference(&ranges, APPLICATION_JSON);
    let protobuf = preference(&ranges, APPLICATION_PROTOBUF);
    match (json, protobuf) {
        (None, None) => Err(ApiError::NotAcceptable),
        (Some(_), None) => Ok(Encoding::Json),
        (None, Some(_)) => Ok(Encoding::Protobuf),
        (Some(json), Some(protobuf)) => {
            // Higher q first, then the more specific range, then JSON (Mesos's preference).
            if (protobuf.0, protobuf.1) > (json.0, json.1) {
                Ok(Encoding::Protobuf)
            } else {
                Ok(Encoding::Json)
            }
        }
    }
}

/// The q-value and specificity of the most specific range matching `media_type`, or `None`
/// when it is not acceptable (no match, or q=0).
fn preference(ranges: &[MediaRange<'_>], media_type: &str) -> Option<(f32, Specificity)> {
    let (specificity, q) = ranges
        .iter()
        .filter_map(|range| range.matches(media_type).map(|s| (s, range.q)))
        // The most specific match decides; among equally specific ones, the highest q.
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))?;
    (q > 0.0).then_some((q, specificity))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    Any,
    Type,
    Exact,
}

#[derive(Debug)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f32,
}

impl MediaRange<'_> {
    fn matches(&self, media_type: &str) -> Option<Specificity> {
        let (kind, subtype) = media_type.split_once('/')?;
        if self.kind == "*" && self.subtype == "*" {
            Some(Specificity::Any)
        } else if !self.kind.eq_ignore_ascii_case(kind) {
            None
        } else if self.subtype == "*" {
            Some(Specificity::Type)
        } else if self.subtype.eq_ignore_ascii_case(subtype) {
            Some(Specificity::Exact)
        } else {
            None
        }
    }
}

/// Every well-formed media range of every `name` header; malformed entries are skipped.
fn media_ranges<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = MediaRange<'a>> + 'a {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(parse_range)
}

fn parse_range(entry: &str) -> Option<MediaRange<'_>> {
    let mut parts = entry.split(';');
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut q = 1.0;
    for parameter in parts {
        if let Some((key, value)) = parameter.split_once('=') {
            if key.trim().eq_ignore_ascii_case("q") {
                // An unparsable q-value is treated as the default rather than failing the call.
                q = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| q.is_finite())
                    .map_or(1.0, |q| q.clamp(0.0, 1.0));
            }
        }
    }
    Some(MediaRange { kind, subtype, q })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append((*name).clone(), HeaderValue::from_static(value));
        }
        map
    }

    fn status(result: Result<impl std::fmt::Debug, ApiError>) -> u16 {
        result.unwrap_err().status().as_u16()
    }

    #[test]
    fn only_post() {
        let h = headers(&[(&CONTENT_TYPE, "application/json")]);
        assert_eq!(status(negotiate(&Method::GET, &h)), 405);
        assert_eq!(status(negotiate(&Method::PUT, &h)), 405);
        assert!(negotiate(&Method::POST, &h).is_ok());
    }

    #[test]
    fn content_type_rules() {
        let ok = |v| negotiate_request(&Method::POST, &headers(&[(&CONTENT_TYPE, v)]));
        assert_eq!(ok("application/json").unwrap(), Encoding::Json);
        assert_eq!(
            ok("application/json; charset=utf-8").unwrap(),
            Encoding::Json
        );
        assert_eq!(ok("application/x-protobuf").unwrap(), Encoding::Protobuf);
        assert_eq!(status(ok("text/plain")), 415);
        assert_eq!(status(ok("application/recordio")), 415);
        assert_eq!(status(ok("")), 415);
        let missing = negotiate_request(&Method::POST, &HeaderMap::new()).unwrap_err();
        assert_eq!(missing.status().as_u16(), 400);
        assert_eq!(
            missing.to_string(),
            "Expecting 'Content-Type' to be present"
        );
    }

    #[test]
    fn accept_rules() {
        let pick = |v| negotiate_response(&headers(&[(&ACCEPT, v)]));
        assert_eq!(
            negotiate_response(&HeaderMap::new()).unwrap(),
            Encoding::Json
        );
        assert_eq!(pick("*/*").unwrap(), Encoding::Json);
        assert_eq!(pick("application/*").unwrap(), Encoding::Json);
        assert_eq!(pick("application/json").unwrap(), Encoding::Json);
        assert_eq!(pick("application/x-protobuf").unwrap(), Encoding::Protobuf);
        assert_eq!(
            pick("application/x-protobuf, */*").unwrap(),
            Encoding::Protobuf
        );
        assert_eq!(
            pick("application/json;q=0.5, application/x-protobuf").unwrap(),
            Encoding::Protobuf
        );
        assert_eq!(
            pick("application/json, application/x-protobuf").unwrap(),
            Encoding::Json
        );
        assert_eq!(pick("text/html, */*;q=0.1").unwrap(), Encoding::Json);
        assert_eq!(
            pick("application/json;q=0, */*").unwrap(),
            Encoding::Protobuf
        );
        assert_eq!(status(pick("text/html")), 406);
        assert_eq!(status(pick("application/json;q=0")), 406);
        assert_eq!(status(pick("garbage")), 406);
        assert_eq!(pick("").unwrap(), Encoding::Json);
    }

    #[test]
    fn recordio_defers_to_message_accept() {
        let h = headers(&[(&ACCEPT, "application/recordio")]);
        assert!(accepts_recordio(&h));
        assert_eq!(negotiate_response(&h).unwrap(), Encoding::Json);
        let h = headers(&[
            (&ACCEPT, "application/recordio"),
            (&MESSAGE_ACCEPT, "application/x-protobuf"),
        ]);
        assert_eq!(negotiate_response(&h).unwrap(), Encoding::Protobuf);
        let h = headers(&[
            (&ACCEPT, "application/recordio"),
            (&MESSAGE_ACCEPT, "text/plain"),
        ]);
        assert_eq!(status(negotiate_response(&h)), 406);
        assert!(!accepts_recordio(&headers(&[(&ACCEPT, "*/*")])));
    }

    #[test]
    fn streaming_requests() {
        let h = headers(&[
            (&CONTENT_TYPE, "application/recordio"),
            (&MESSAGE_CONTENT_TYPE, "application/x-protobuf"),
        ]);
        assert_eq!(
            negotiate_streaming_request(&Method::POST, &h).unwrap(),
            (Encoding::Protobuf, Framing::RecordIo)
        );
        let h = headers(&[(&CONTENT_TYPE, "application/recordio")]);
        assert_eq!(status(negotiate_streaming_request(&Method::POST, &h)), 400);
        let h = headers(&[(&CONTENT_TYPE, "application/json")]);
        assert_eq!(
            negotiate_streaming_request(&Method::POST, &h).unwrap(),
            (Encoding::Json, Framing::Single)
        );
        assert_eq!(status(negotiate_streaming_request(&Method::GET, &h)), 405);
    }
}
