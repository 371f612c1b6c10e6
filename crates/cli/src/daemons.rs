//! `corral master`, `corral agent`, `corral executor`: run one daemon until a signal.

use anyhow::Context;
use clap::Args;
use corral_executor::Mode;

use crate::signals::shutdown_signal;

/// The exit code of an agent the master told to shut down for good (the operator marked it
/// gone): a supervisor should not restart it on the same work directory.
pub const AGENT_SHUT_DOWN_BY_MASTER_EXIT_CODE: u8 = 3;

/// `corral agent` flags.
#[derive(Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub flags: crate::agent_api::AgentFlags,
    /// Benchmarks only (`corral bench launch --agent-processes --executors=inline`): run no
    /// executor processes; every container is an in-process inline executor that reports
    /// TASK_RUNNING and TASK_FINISHED at once (`bench/inline.rs`). Hidden; never for real use.
    #[arg(long = "bench-inline-executors", hide = true)]
    pub bench_inline_executors: bool,
}

/// `corral executor` flags.
#[derive(Args)]
pub struct ExecutorArgs {
    /// Run the default executor (task groups) instead of the command executor.
    #[arg(long)]
    pub default: bool,
    /// Run the Docker executor: one command task in a Docker container (started by agents
    /// with `--containerizers=docker,...`).
    #[arg(long, conflicts_with = "default")]
    pub docker: bool,
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

/// Runs an agent until SIGINT/SIGTERM (exit 0), or until the master shuts it down for good
/// ([`AGENT_SHUT_DOWN_BY_MASTER_EXIT_CODE`]).
pub async fn agent(args: AgentArgs) -> anyhow::Result<u8> {
    let agent = if args.bench_inline_executors {
        let containerizer = corral_containerizer::Containerizer::new(
            crate::bench::inline::InlineLauncher::new(),
            Vec::new(),
        );
        corral_agent::start_with(args.flags, containerizer).await
    } else {
        crate::agent_api::start(args.flags).await
    }
    .context("starting the agent")?;
    tracing::info!(addr = %agent.addr, "agent running");
    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal = signal?, "shutting down the agent");
            agent.shutdown().await;
            Ok(0)
        }
        () = agent.wait() => {
            if let Some(message) = agent.shut_down_by_master() {
                tracing::error!(
                    %message,
                    exit_code = AGENT_SHUT_DOWN_BY_MASTER_EXIT_CODE,
                    "the master shut this agent down for good (marked gone); its containers are \
                     destroyed; exiting"
                );
                agent.shutdown().await;
                return Ok(AGENT_SHUT_DOWN_BY_MASTER_EXIT_CODE);
            }
            if agent.cleanup_finished() {
                tracing::info!("--recover=cleanup finished; exiting");
                agent.shutdown().await;
                return Ok(0);
            }
            tracing::error!("the agent stopped by itself");
            agent.shutdown().await;
            Ok(1)
        }
    }
}

/// Runs a built-in executor; its exit code is the process's.
pub async fn executor(args: ExecutorArgs) -> anyhow::Result<u8> {
    if args.docker {
        let code = corral_executor::docker::run().await?;
        return Ok(u8::try_from(code).unwrap_or(1));
    }
    let mode = if args.default {
        Mode::Default
    } else {
        Mode::Command
    };
    let code = corral_executor::run(mode).await?;
    Ok(u8::try_from(code).unwrap_or(1))
}
