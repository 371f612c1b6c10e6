//! The one error type of the clients.

use std::time::Duration;

use http::StatusCode;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// An address (master, agent, `Location` header) that cannot be used.
    #[error("invalid address '{address}': {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection could not be made or broke before a response arrived.
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The underlying error.
        message: String,
    },
    /// The server answered with an unexpected status code.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL requested.
        url: String,
        /// The status code.
        status: StatusCode,
        /// The response body (trimmed, at most a few KiB).
        body: String,
    },
    /// Redirects (307 to the leading master) did not end.
    #[error("gave up after {0} redirects")]
    TooManyRedirects(usize),
    /// No leading master could be reached before the deadline (503s, connection errors).
    #[error("no leading master reachable within {:.1} s: {last}", waited.as_secs_f64())]
    Unavailable {
        /// How long the client tried.
        waited: Duration,
        /// The last error seen.
        last: String,
    },
    /// A request took longer than allowed.
    #[error("request to {url} timed out after {after:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The time limit.
        after: Duration,
    },
    /// A body that is not the expected message.
    #[error(transparent)]
    Decode(#[from] corral_http::DecodeError),
    /// A body that is not the expected JSON document.
    #[error("invalid JSON from {url}: {error}")]
    Json {
        /// The URL requested.
        url: String,
        /// serde's description.
        error: serde_json::Error,
    },
    /// The event stream is not valid RecordIO.
    #[error(transparent)]
    RecordIo(#[from] corral_http::RecordIoError),
    /// The event stream was closed by the server.
    #[error("the event stream ended")]
    StreamEnded,
    /// No record (event or heartbeat) arrived for this long: the connection is presumed dead.
    #[error("no event or heartbeat for {0:?}; the connection is presumed dead")]
    MissedHeartbeats(Duration),
    /// The server refused the subscription with an `ERROR` event.
    #[error("subscription refused: {0}")]
    Refused(String),
    /// The first event of a subscription was neither `SUBSCRIBED` nor `ERROR`.
    #[error("unexpected first event on the subscription stream: {0}")]
    UnexpectedEvent(String),
    /// A SUBSCRIBE response without a `Mesos-Stream-Id` header.
    #[error("the SUBSCRIBE response carries no Mesos-Stream-Id header")]
    MissingStreamId,
    /// A required environment variable is missing or malformed (executors).
    #[error("environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ClientError {
    /// The HTTP status code, when the server answered with an unexpected one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether retrying later may help (connection trouble, 503, a dead stream).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. }
            | ClientError::Timeout { .. }
            | ClientError::Unavailable { .. }
            | ClientError::StreamEnded
            | ClientError::MissedHeartbeats(_) => true,
            ClientError::Status { status, .. } => *status == StatusCode::SERVICE_UNAVAILABLE,
            _ => false,
        }
    }
}
