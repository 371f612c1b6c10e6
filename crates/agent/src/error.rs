//! Errors of the agent: [`AgentError`] (starting the agent) and [`CallError`] (a refused
//! executor or HTTP call), which maps to [`ApiError`] in one place.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use corral_http::ApiError;

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A flag has a value the agent cannot use.
    #[error("invalid --{flag}: {reason}")]
    Flag {
        /// The flag's name.
        flag: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The work directory cannot be created or resolved.
    #[error("cannot use work directory {path}: {source}")]
    WorkDir {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The HTTP listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The checkpointed resources cannot be recovered (the file is named in the message).
    #[error("cannot recover the checkpointed resources: {0}")]
    Checkpoint(String),
    /// The HTTP client for the master cannot be built.
    #[error("cannot create the HTTP client for the master: {0}")]
    Client(String),
    /// The checkpointed executors and tasks cannot be recovered (`--strict`).
    #[error("agent recovery failed: {0}")]
    Recovery(String),
}

/// A call the agent refuses; each variant is one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 400: unknown framework or executor, or a call that fails validation.
    #[error("{0}")]
    Invalid(String),
    /// 403: a call other than SUBSCRIBE from an executor that has not subscribed.
    #[error("{0}")]
    NotSubscribed(String),
    /// 404: a file or path that does not exist (or may not be served).
    #[error("{0}")]
    NotFound(String),
    /// 501: a call type the agent does not implement.
    #[error("{0}")]
    NotImplemented(String),
    /// 503: the agent is stopping or overloaded.
    #[error("{0}")]
    Unavailable(String),
}

impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Invalid(m) => ApiError::BadRequest(m),
            CallError::NotSubscribed(m) => ApiError::Forbidden(m),
            CallError::NotFound(m) => ApiError::NotFound(m),
            CallError::NotImplemented(m) => ApiError::NotImplemented(m),
            CallError::Unavailable(m) => ApiError::ServiceUnavailable(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_errors_map_to_statuses() {
        let cases = [
            (CallError::Invalid("x".into()), 400),
            (CallError::NotSubscribed("x".into()), 403),
            (CallError::NotFound("x".into()), 404),
            (CallError::NotImplemented("x".into()), 501),
            (CallError::Unavailable("x".into()), 503),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from(error).status().as_u16(), status);
        }
    }
}
