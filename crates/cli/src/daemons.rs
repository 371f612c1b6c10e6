//! `corral master`, `corral agent`, `corral executor`: run one daemon until a signal.

use anyhow::Context;
use clap::Args;
use corral_executor::Mode;

use crate::signals::shutdown_signal;

/// `corral agent` flags.
#[derive(Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub flags: crate::agent_api::AgentFlags,
}

/// `corral executor` flags.
#[derive(Args)]
pub struct ExecutorArgs {
    /// Run the default executor (task groups) instead of the command executor.
    #[arg(long)]
    pub default: bool,
}

/// Runs a master until SIGINT/SIGTERM.
pub async fn master(flags: corral_master::MasterFlags) -> anyhow::Result<u8> {
    let master = corral_master::start(flags)
        .await
        .context("starting the master")?;
    tracing::info!(addr = %master.addr, "master running");
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down the master");
    master.shutdown().await;
    Ok(0)
}

/// Runs an agent until SIGINT/SIGTERM.
pub async fn agent(args: AgentArgs) -> anyhow::Result<u8> {
    let agent = crate::agent_api::start(args.flags)
        .await
        .context("starting the agent")?;
    tracing::info!(addr = %agent.addr, "agent running");
    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal = signal?, "shutting down the agent");
            agent.shutdown().await;
            Ok(0)
        }
        () = agent.wait() => {
            tracing::error!("the agent stopped by itself");
            agent.shutdown().await;
            Ok(1)
        }
    }
}

/// Runs a built-in executor; its exit code is the process's.
pub async fn executor(args: ExecutorArgs) -> anyhow::Result<u8> {
    let mode = if args.default {
        Mode::Default
    } else {
        Mode::Command
    };
    let code = corral_executor::run(mode).await?;
    Ok(u8::try_from(code).unwrap_or(1))
}
