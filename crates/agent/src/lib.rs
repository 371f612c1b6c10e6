//! corral-agent: the agent daemon of Corral.
//!
//! The agent registers with the master over Corral's internal protocol
//! (`corral_api::internal`), launches executors in containers, serves them the Mesos v1
//! executor API, relays their status updates to the master reliably (at least once, in order
//! per task) and serves their sandboxes over `/files`.
//!
//! ```text
//!   master ◀──POST calls── master_link ──LinkEvent──▶ ┌─────────┐ ──effects──▶ containerizer
//!          ──RecordIO────▶                            │  actor  │               (launch, destroy)
//!   executors ──/api/v1/executor── executor_api ────▶ │ (core)  │ ──events───▶ executor streams
//!   readers ──/state, /files, /metrics── http ──────▶ └─────────┘ ──timers───▶ itself
//! ```
//!
//! | module | concept |
//! |---|---|
//! | [`flags`] | [`AgentFlags`], stout durations, the master address |
//! | [`core`] | the sans-IO core: every decision, as state changes and effects |
//! | [`status_updates`] | per-task update streams, retries and acknowledgements |
//! | [`launch`] | sandbox paths, executor programs and their `MESOS_*` environment |
//! | [`checkpoint`] | the checkpointed resources file (reservations, volumes) |
//! | [`isolation`] | the isolators of `--isolation` (cgroups, namespaces, posix) |
//! | [`volumes`] | persistent volume directories and how sandboxes see them |
//! | [`runtime`] | the actor owning the core and carrying out its effects |
//! | `agent` | [`start`] and [`RunningAgent`] |
//! | `master_link` | the session with the master (subscribe, reconnect, calls) |
//! | `executor_api`, [`http`] | the HTTP endpoints |
//!
//! Not done yet: agent recovery (a restarted agent registers anew and its old containers are
//! not adopted), the fetcher (`CommandInfo.uris`), Docker and image containers, the agent's
//! operator API (`/api/v1`), checkpointing of status updates, mount namespaces for volumes
//! (they are symbolic links in the sandbox for now, see [`volumes`]), changing the resource
//! limits of a running container (they are set at launch, see [`launch`]).

mod agent;
pub mod checkpoint;
pub mod convert;
pub mod core;
pub mod error;
mod executor_api;
pub mod flags;
pub mod http;
pub mod isolation;
pub mod launch;
mod master_link;
pub mod runtime;
pub mod status_updates;
pub mod volumes;

pub use agent::{start, start_with, RunningAgent};
pub use error::{AgentError, CallError};
pub use flags::AgentFlags;
