//! `corral up`: a master and one agent in this process, on embedded defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use corral_client::Endpoint;

use crate::cluster;
use crate::signals::shutdown_signal;

/// Flags of `corral up`.
#[derive(Args)]
pub struct UpArgs {
    /// Address both daemons listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: String,
    /// Master port (API and web UI).
    #[arg(long, default_value_t = 5050)]
    pub port: u16,
    /// Agent port.
    #[arg(long = "agent-port", default_value_t = 5051)]
    pub agent_port: u16,
    /// State directory (master and agent state, sandboxes).
    #[arg(long = "work_dir", alias = "work-dir", default_value = "./.corral")]
    pub work_dir: PathBuf,
    /// Agent resources, e.g. `cpus:4;mem:8192;disk:20000;ports:[31000-32000]` (default: detected).
    #[arg(long)]
    pub resources: Option<String>,
}

/// Runs the one-machine cluster until SIGINT/SIGTERM.
pub async fn up(args: UpArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("creating the work directory {}", args.work_dir.display()))?;
    let work_dir = args
        .work_dir
        .canonicalize()
        .unwrap_or(args.work_dir.clone());
    let master = cluster::start_master(&args.ip, args.port, &work_dir.join("master"), &[]).await?;
    let master_endpoint = Endpoint::new(args.ip.clone(), master.addr.port());
    let agent = match cluster::start_agent(
        &args.ip,
        args.agent_port,
        &master_endpoint,
        &work_dir.join("agent"),
        args.resources.as_deref(),
    )
    .await
    {
        Ok(agent) => agent,
        Err(error) => {
            master.shutdown().await;
            return Err(error);
        }
    };
    let agent_port = agent.addr.port();
    let registered = tokio::select! {
        result = cluster::wait_for_agents(&master_endpoint, 1, Duration::from_secs(30)) => Some(result),
        signal = shutdown_signal() => { signal?; None }
    };
    if let Some(Err(error)) = &registered {
        tracing::error!(%error, "the agent did not register");
    }
    if let Some(Ok(())) = registered {
        println!("corral is up");
        println!("  master  http://{master_endpoint}   (API and web UI)");
        println!("  agent   http://{}:{agent_port}", args.ip);
        println!("  state   {}", work_dir.display());
        println!();
        println!("try:     corral run -- echo hello");
        println!("         corral agents; corral tasks --all");
        println!("stop:    Ctrl-C");
        let signal = shutdown_signal().await?;
        tracing::info!(signal, "shutting down");
    }
    // The agent first: it destroys its containers.
    agent.shutdown().await;
    master.shutdown().await;
    match registered {
        Some(Err(error)) => Err(error),
        _ => Ok(0),
    }
}
