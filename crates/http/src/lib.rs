//! corral-http: the HTTP edge shared by the master and the agent.
//!
//! It makes Corral's HTTP APIs behave like Mesos v1 on the wire (`reference/mesos-v1-api.md` §0)
//! and adds the limits Mesos lacked.
//!
//! | module | concept |
//! |---|---|
//! | [`encoding`] | JSON (compact, ASCII-only) and protobuf codecs over one message type |
//! | [`negotiate`](mod@negotiate) | method, `Content-Type`, `Accept` / `Message-Accept` rules |
//! | [`extract`] | the [`ApiRequest`] extractor for `POST /api/v1/...` calls |
//! | [`error`] | [`ApiError`], the one error → status code mapping |
//! | [`limit`] | the request body cap ([`BodyLimitLayer`], 413) |
//! | [`recordio`] | RecordIO framing and the incremental decoder |
//! | [`stream`] | chunked RecordIO streaming responses fed by an mpsc channel |
//! | [`paths`] | libprocess path aliases ([`PathNormalizeLayer`]) |
//! | [`jsonp`](mod@jsonp) | `?jsonp=callback` for legacy GET endpoints |
//! | [`response`] | plain JSON / encoded-message responses |
//! | [`server`] | [`serve`]: hyper HTTP/1.1 server with header and request timeouts, graceful shutdown |
//!
//! ```text
//!  TCP ─▶ serve (header timeout, conn cap) ─▶ PathNormalize ─▶ Jsonp ─▶ BodyLimit ─▶ axum Router
//!                                             (rewrite URI)             (413)        handlers:
//!                                                                                    ApiRequest → decode
//!                                                                                    → ApiError | response
//!                                                                                    | recordio stream
//! ```

pub mod encoding;
pub mod error;
pub mod extract;
pub mod jsonp;
pub mod limit;
pub mod negotiate;
pub mod paths;
pub mod recordio;
pub mod response;
pub mod server;
pub mod stream;

pub use encoding::{decode, encode, try_encode, DecodeError, EncodeError, Encoding};
pub use error::ApiError;
pub use extract::ApiRequest;
pub use jsonp::{json_or_jsonp, jsonp_callback, jsonp_response, JsonpLayer};
pub use limit::{BodyLimit, BodyLimitLayer, DEFAULT_MAX_BODY_BYTES};
pub use negotiate::{
    accepts_recordio, negotiate, negotiate_request, negotiate_response,
    negotiate_streaming_request, Framing, Negotiated,
};
pub use paths::{normalize_path, PathNormalizeLayer, PathRules, RequestedUri};
pub use recordio::{encode_record, RecordIoDecoder, RecordIoError, RecordIoReader};
pub use response::{json_response, message_response};
pub use server::{serve, ServerLimits};
pub use stream::recordio_stream_response;
