//! The agent as the CLI uses it.

pub use corral_agent::{start, AgentFlags, RunningAgent};
