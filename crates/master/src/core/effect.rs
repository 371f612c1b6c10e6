//! What the core asks its runtime to do, and the errors it answers callers with.

use corral_api::internal::MasterMessage;
use corral_api::v1::scheduler;
use thiserror::Error;

/// An effect for the runtime shell to carry out, in order.
#[allow(clippy::large_enum_variant)] // moved once from core to runtime
#[derive(Debug, Clone)]
pub enum Effect {
    /// Send an event on a framework's subscription stream (dropped if it has none).
    ToFramework {
        framework_id: String,
        event: scheduler::Event,
    },
    /// Close a framework's stream (after TEARDOWN, removal, or a newer subscription).
    CloseFramework { framework_id: String },
    /// Send a message on an agent's session stream.
    ToAgent {
        agent_id: String,
        message: MasterMessage,
    },
    /// Close an agent's session stream.
    CloseAgent { agent_id: String },
    /// Make a registry change durable before carrying out the effects after it. A failed
    /// write stops the master (fail-stop): nothing after it is sent.
    Registry(crate::registry::RegistryWrite),
    /// The master must stop (fail over) rather than go on: e.g. too many agents would be
    /// removed after a failover (`--recovery_agent_removal_limit`).
    Fatal(String),
}

/// Why the core refused a call. The HTTP shell maps each to a status code in one place.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CoreError {
    /// Malformed or inconsistent call (400).
    #[error("{0}")]
    Invalid(String),
    /// The framework is not subscribed, or the stream id does not match (403 in Mesos for
    /// "not subscribed"; 400 for a wrong stream id).
    #[error("{0}")]
    NotSubscribed(String),
    /// The stream id does not match the framework's subscription (400).
    #[error("{0}")]
    StreamMismatch(String),
    /// The framework is unknown (400 in Mesos).
    #[error("Framework '{0}' cannot be found")]
    UnknownFramework(String),
    /// An agent call for another leader epoch or session (409).
    #[error("{0}")]
    Fenced(String),
    /// The agent is unknown to this master (404): it must subscribe again.
    #[error("Agent '{0}' is not registered")]
    UnknownAgent(String),
    /// The agent was marked gone by the operator: it must shut down for good (SUBSCRIBE gets
    /// `410` with a [`MasterMessage::Shutdown`] body; other calls `403`).
    #[error("{0}")]
    AgentGone(String),
}

/// What a successful SUBSCRIBE tells the HTTP shell.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribed {
    /// The framework's id.
    pub framework_id: String,
}
