//! corral-client: Rust clients for Corral's Mesos-compatible APIs.
//!
//! | module | API |
//! |---|---|
//! | [`scheduler`] | `POST /api/v1/scheduler`: subscribe (leader following, heartbeats), calls |
//! | [`executor`] | `POST /api/v1/executor`: the executor side, configured from `MESOS_*` |
//! | [`legacy`] | the legacy GET endpoints (`/state`, `/slaves`, `/tasks`, `/files/read`, ...) |
//! | [`duration`] | Mesos duration strings (`5secs`, `250ms`, ...), from `corral-api` |
//! | [`endpoint`] | `host:port` from the forms Mesos uses (`//h:p/path`, `slave(1)@h:p`) |
//!
//! Everything speaks JSON over plain HTTP/1.1 with pooled keep-alive connections
//! ([`transport::Http`]); failures are [`ClientError`]s.

pub use corral_api::duration;
pub mod endpoint;
pub mod error;
pub mod executor;
pub mod legacy;
pub mod scheduler;
pub mod stream;
pub mod transport;

pub use endpoint::Endpoint;
pub use error::ClientError;
pub use executor::{ExecutorClient, ExecutorEnv};
pub use legacy::LegacyClient;
pub use scheduler::{SchedulerClient, SchedulerHandle, SubscribeOptions};
pub use stream::EventStream;
