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
//! | [`docker`] | `--containerizers`, DOCKER tasks through the Docker executor |
//! | [`checkpoint`] | the checkpointed resources file (reservations, volumes) |
//! | [`meta`] | checkpointed frameworks, executors, tasks and status update logs; recovery |
//! | [`isolation`] | the isolators of `--isolation` (cgroups, namespaces, posix) |
//! | [`disk`] | the `disk/du` isolator: sandbox usage and `--enforce_container_disk_quota` |
//! | [`container_logger`] | task output rotation and rate limit settings for the executors |
//! | [`gc`] | sandbox garbage collection (`--gc_delay`, `--gc_disk_headroom`) |
//! | [`volumes`] | persistent volume directories and how sandboxes see them |
//! | [`runtime`] | the actor owning the core and carrying out its effects |
//! | `agent` | [`start`] and [`RunningAgent`] |
//! | `master_link` | the session with the master (subscribe, reconnect, calls) |
//! | `executor_api`, [`http`] | the HTTP endpoints |
//!
//! Agent recovery ([`meta`], `docs/agent-recovery.md`): for frameworks with `checkpoint: true`
//! the agent checkpoints frameworks, executors, pids, tasks and every status update and
//! acknowledgement; a restarted agent (same `--work_dir`) re-adopts live executors through
//! the containerizer, waits `--executor_reregistration_timeout` for them to re-subscribe,
//! fails the tasks of the gone ones once, and re-registers with its old id, resending
//! unacknowledged updates with their uuids (`--recover`, `--strict`, boot id check).
//!
//! Not done yet: the container calls of the agent's operator API (`/api/v1` answers the
//! GET_* read calls: health, version, flags, metrics, state, tasks, executors, frameworks,
//! containers), mount namespaces for volumes
//! (they are symbolic links in the sandbox for now, see [`volumes`]), changing the resource
//! limits of a running container (they are set at launch, see [`launch`]).

mod agent;
pub mod checkpoint;
pub mod container_logger;
pub mod convert;
pub mod core;
pub mod disk;
pub mod docker;
pub mod error;
mod executor_api;
pub mod flags;
pub mod gc;
pub mod http;
pub mod image;
pub mod isolation;
pub mod launch;
mod master_link;
pub mod meta;
mod recover;
pub mod runtime;
pub mod status_updates;
pub mod volumes;

pub use agent::{start, start_with, RunningAgent};
pub use error::{AgentError, CallError};
pub use flags::AgentFlags;
