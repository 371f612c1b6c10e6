//! corral-executor: the built-in executors.
//!
//! * `corral executor` — the **command executor**: runs one command task
//!   ([`Mode::Command`]).
//! * `corral executor --default` — the **default executor**: runs task groups
//!   ([`Mode::Default`]).
//! * `corral executor --docker` — the **Docker executor**: runs one command task in a Docker
//!   container ([`docker`]).
//!
//! The command and default executors pipe their tasks' output through [`logger`] (rotation
//! and rate limit, configured by the agent).
//!
//! Both speak the Mesos v1 executor API to their agent (`reference/mesos-v1-api.md` §2), read
//! their configuration from the `MESOS_*` environment, and are split into a pure decision
//! core ([`core`]) and a runtime shell ([`runtime`]) that does the HTTP, processes and timers.

pub mod core;
pub mod docker;
mod fetch;
pub mod health;
pub mod logger;
pub mod process;
mod rootfs;
pub mod runtime;
pub mod status;
mod updates;

pub use crate::core::{Executor, Mode};
pub use runtime::{run, run_with, ExecutorError};
pub use status::{parse_exit_code, ExitStatus};
