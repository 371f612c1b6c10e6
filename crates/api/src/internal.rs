//! Corral's master↔agent protocol (Mesos's is internal to Mesos; this one is ours).
//!
//! Transport: HTTP/1.1 on the master at [`AGENT_ENDPOINT`], JSON bodies, the same shape as the
//! scheduler API:
//!
//! 1. The agent POSTs an [`AgentEnvelope`] holding [`AgentCall::Subscribe`]. The master answers
//!    `200` with a chunked RecordIO stream of [`MasterEnvelope`]s, first
//!    [`MasterMessage::Registered`] (the agent id and the session's stream id), then pings and
//!    work (run, kill, acknowledgements, …). The stream lives as long as the session.
//! 2. Every other agent call is its own POST of an [`AgentEnvelope`] carrying the `agent_id` and
//!    `stream_id` of the current session; the master answers `202` or an error.
//!
//! **Shutdown.** A master tells an agent to shut down for good (the operator marked it gone) with
//! [`MasterMessage::Shutdown`]: on the stream of a connected agent, or — since a refused
//! SUBSCRIBE has no stream — as the body of a `410 Gone` answer to SUBSCRIBE (a
//! [`MasterEnvelope`] holding `Shutdown`, see [`AGENT_GONE_STATUS`]). The agent destroys its
//! containers, stops re-subscribing and exits. Any other refusal of SUBSCRIBE is transient: the
//! agent retries. (Added within version 1: an agent that does not know `SHUTDOWN` cannot decode
//! it and keeps retrying, as it did before.)
//!
//! **Encoding.** A message or call is `{"type": "<NAME>", "body": {…fields…}}` (adjacently
//! tagged) with the tag written first, so a reader picks the variant from the first key and
//! decodes the body straight into it — no buffering of the whole (possibly large) SUBSCRIBE.
//! A hand-written body with `body` before `type` still decodes, only slower. Decode with
//! [`decode_agent_envelope`] / [`decode_master_envelope`]: they validate UTF-8 once for the
//! whole body and report a peer of another protocol version as such ([`DecodeError::Version`]).
//!
//! **Versioning.** Every envelope carries [`PROTOCOL_VERSION`]; a peer rejects a version it
//! does not speak (`400`, naming both versions), so a rolling upgrade bumps the version only with
//! a compatible reader. Version 2 moved the variants' fields under `body` (version 1 had them
//! beside `type`, which forced the reader to buffer the whole call).
//!
//! **Fencing.** Every master message carries the leader `epoch` (it grows with each elected
//! leader). An agent remembers the highest epoch it has seen and drops messages with a lower
//! one; it re-subscribes when it sees a higher one. Agent calls echo the epoch they were sent
//! under; a master answers a call for another epoch with `409`, so a deposed master can neither
//! command agents nor accept their updates as if it still led.

use serde::{Deserialize, Serialize};

use crate::v1;

/// Where agents talk to the master.
pub const AGENT_ENDPOINT: &str = "/internal/v1/agent";

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// The HTTP status of a SUBSCRIBE refused for good: the body is a [`MasterEnvelope`] holding
/// [`MasterMessage::Shutdown`].
pub const AGENT_GONE_STATUS: u16 = 410;

/// A message from the master to one agent, on the agent's subscription stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterEnvelope {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// The sending leader's epoch.
    pub epoch: u64,
    /// What the master says.
    pub message: MasterMessage,
}

/// What a master says to an agent.
// Messages are built once and moved into the stream; boxing the large variants buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MasterMessage {
    /// The subscription is accepted. A new agent learns its id here.
    Registered {
        /// The agent's id (new, or the one it re-registered with).
        agent_id: v1::AgentId,
        /// Identifies this session; later calls must carry it.
        stream_id: String,
        /// The master's id.
        master_id: String,
        /// How often the master pings; the agent may treat a silence of several intervals as a
        /// lost master and re-subscribe.
        ping_interval_secs: f64,
    },
    /// The agent must shut down for good: destroy every container, stop re-subscribing, exit.
    /// Sent on the stream of a connected agent the operator marked gone, and as the body of a
    /// [`AGENT_GONE_STATUS`] answer to a gone agent's SUBSCRIBE. Valid before REGISTERED.
    Shutdown {
        /// Why, for the agent's log.
        message: String,
    },
    /// Liveness check; the agent answers with [`AgentCall::Pong`] carrying the same `seq`.
    Ping {
        /// Sequence number to echo.
        seq: u64,
    },
    /// Launch one task. Without `executor` it is a command task run by the built-in command
    /// executor; with it, the task goes to that (custom) executor, started if not running.
    RunTask {
        /// The task's framework, with its id set.
        framework: v1::FrameworkInfo,
        /// The custom executor, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        executor: Option<v1::ExecutorInfo>,
        /// The task, with `agent_id` set.
        task: v1::TaskInfo,
    },
    /// Launch a task group on a (default) executor.
    RunTaskGroup {
        /// The tasks' framework, with its id set.
        framework: v1::FrameworkInfo,
        /// The executor (type DEFAULT normally).
        executor: v1::ExecutorInfo,
        /// The tasks, launched together.
        task_group: v1::TaskGroupInfo,
    },
    /// Kill one task.
    KillTask {
        /// The task's framework.
        framework_id: v1::FrameworkId,
        /// The task.
        task_id: v1::TaskId,
        /// Overrides the task's kill policy when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kill_policy: Option<v1::KillPolicy>,
    },
    /// Shut down one executor and its tasks.
    ShutdownExecutor {
        /// The executor's framework.
        framework_id: v1::FrameworkId,
        /// The executor.
        executor_id: v1::ExecutorId,
    },
    /// Shut down every executor of a framework (it was removed).
    ShutdownFramework {
        /// The framework.
        framework_id: v1::FrameworkId,
    },
    /// The scheduler acknowledged a status update; the agent may send the next one for the task.
    StatusUpdateAcknowledgement {
        /// The task's framework.
        framework_id: v1::FrameworkId,
        /// The task.
        task_id: v1::TaskId,
        /// The acknowledged update's uuid (16 bytes, base64 in JSON).
        #[serde(with = "crate::json::bytes_req")]
        uuid: Vec<u8>,
    },
    /// The agent's checkpointed resources changed (dynamic reservations and persistent
    /// volumes made or undone by offer operations or the operator API). `resources` is the
    /// complete new set; the agent persists it before using it, creates the directories of new
    /// persistent volumes, and reports it back when it re-registers.
    CheckpointResources {
        /// Every dynamically reserved resource and persistent volume on the agent.
        resources: Vec<v1::Resource>,
    },
    /// A scheduler's MESSAGE for an executor.
    FrameworkMessage {
        /// The framework.
        framework_id: v1::FrameworkId,
        /// The executor.
        executor_id: v1::ExecutorId,
        /// Opaque data (base64 in JSON).
        #[serde(with = "crate::json::bytes_req")]
        data: Vec<u8>,
    },
}

/// A call from an agent to the master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentEnvelope {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// The leader epoch this call was made under (0 on a first SUBSCRIBE).
    pub epoch: u64,
    /// The agent's id (absent only on a first SUBSCRIBE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<v1::AgentId>,
    /// The session's stream id (absent only on SUBSCRIBE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// What the agent says.
    pub call: AgentCall,
}

/// What an agent says to the master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentCall {
    /// Register (no id in `agent_info`) or re-register (id set) and open the stream.
    Subscribe {
        /// hostname, port, attributes, resources (total), and `id` when re-registering.
        agent_info: v1::AgentInfo,
        /// The agent's Corral version.
        agent_version: String,
        /// Frameworks the agent has executors of (re-registration).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        frameworks: Vec<v1::FrameworkInfo>,
        /// Executors running on the agent (re-registration).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        executors: Vec<v1::ExecutorInfo>,
        /// Non-terminal tasks and terminal ones not yet acknowledged (re-registration).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tasks: Vec<v1::Task>,
        /// The dynamic reservations and persistent volumes the agent has checkpointed (see
        /// [`MasterMessage::CheckpointResources`]); part of its total resources.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        checkpointed_resources: Vec<v1::Resource>,
    },
    /// Answer to [`MasterMessage::Ping`].
    Pong {
        /// The ping's sequence number.
        seq: u64,
    },
    /// A task status update from an executor (or the agent itself), forwarded reliably: the
    /// agent resends the head of each task's stream until it is acknowledged.
    StatusUpdate {
        /// The task's framework.
        framework_id: v1::FrameworkId,
        /// The update; `uuid` is set and `agent_id` is this agent.
        status: v1::TaskStatus,
        /// The latest state the agent knows for the task (may be ahead of `status.state`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_state: Option<String>,
    },
    /// An executor exited.
    ExitedExecutor {
        /// The executor's framework.
        framework_id: v1::FrameworkId,
        /// The executor.
        executor_id: v1::ExecutorId,
        /// Its wait status (exit code, or 128 + signal).
        status: i32,
    },
    /// An executor's MESSAGE for its scheduler.
    ExecutorMessage {
        /// The framework.
        framework_id: v1::FrameworkId,
        /// The executor.
        executor_id: v1::ExecutorId,
        /// Opaque data (base64 in JSON).
        #[serde(with = "crate::json::bytes_req")]
        data: Vec<u8>,
    },
}

/// Why a body is not a usable envelope.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The peer speaks another version of this protocol.
    #[error(
        "the peer speaks agent protocol version {theirs}; this build speaks {PROTOCOL_VERSION}"
    )]
    Version {
        /// The version the body declares.
        theirs: u32,
    },
    /// The body is not UTF-8.
    #[error("the body is not UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    /// The body is not a valid envelope (JSON syntax, shape, a missing or wrong field).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Just the version of an envelope of any version (everything else skipped).
#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

/// Decodes an envelope: UTF-8 is checked once for the whole body (not per string), then the
/// JSON is read in one pass. A body of another protocol version — whether it fails to decode
/// or decodes by chance — is [`DecodeError::Version`].
fn decode<T: serde::de::DeserializeOwned>(
    body: &[u8],
    version: impl Fn(&T) -> u32,
) -> Result<T, DecodeError> {
    let text = std::str::from_utf8(body)?;
    match serde_json::from_str::<T>(text) {
        Ok(envelope) => match version(&envelope) {
            PROTOCOL_VERSION => Ok(envelope),
            theirs => Err(DecodeError::Version { theirs }),
        },
        Err(error) => match serde_json::from_str::<VersionOnly>(text) {
            Ok(VersionOnly { version }) if version != PROTOCOL_VERSION => {
                Err(DecodeError::Version { theirs: version })
            }
            _ => Err(DecodeError::Json(error)),
        },
    }
}

/// Decodes an agent's call (the master's side).
pub fn decode_agent_envelope(body: &[u8]) -> Result<AgentEnvelope, DecodeError> {
    decode(body, |e: &AgentEnvelope| e.version)
}

/// Decodes a master's message (the agent's side: stream records and the body of a `410`).
pub fn decode_master_envelope(body: &[u8]) -> Result<MasterEnvelope, DecodeError> {
    decode(body, |e: &MasterEnvelope| e.version)
}
