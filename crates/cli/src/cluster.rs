//! In-process daemons for `corral up` and the benchmarks: a master and agents on loopback.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use corral_client::{Endpoint, LegacyClient};

use crate::agent_api::{self, AgentFlags, RunningAgent};

#[derive(Parser)]
struct MasterOnly {
    #[command(flatten)]
    flags: corral_master::MasterFlags,
}

/// Starts a master on `ip:port` (0: any free port) with its state under `work_dir`.
pub async fn start_master(
    ip: &str,
    port: u16,
    work_dir: &Path,
    extra: &[String],
) -> anyhow::Result<corral_master::RunningMaster> {
    let mut args = vec![
        "master".to_string(),
        format!("--ip={ip}"),
        format!("--port={port}"),
        format!("--work_dir={}", work_dir.display()),
    ];
    args.extend_from_slice(extra);
    let flags = MasterOnly::try_parse_from(&args)
        .context("master flags")?
        .flags;
    corral_master::start(flags)
        .await
        .with_context(|| format!("starting the master on {ip}:{port}"))
}

/// Starts an agent of `master` on `ip:port` with `resources` (Mesos text syntax).
pub async fn start_agent(
    ip: &str,
    port: u16,
    master: &Endpoint,
    work_dir: &Path,
    resources: Option<&str>,
) -> anyhow::Result<RunningAgent> {
    let mut args = vec![
        "agent".to_string(),
        format!("--ip={ip}"),
        format!("--port={port}"),
        format!("--master={master}"),
        format!("--work_dir={}", work_dir.display()),
    ];
    if let Some(resources) = resources {
        args.push(format!("--resources={resources}"));
    }
    if let Ok(me) = std::env::current_exe() {
        args.push(format!("--executor_binary={}", me.display()));
    }
    let flags = AgentFlags::try_parse_from(&args).context("agent flags")?;
    agent_api::start(flags)
        .await
        .with_context(|| format!("starting the agent on {ip}:{port}"))
}

/// Waits until the master lists at least `count` active agents.
pub async fn wait_for_agents(
    master: &Endpoint,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let client = LegacyClient::new(master.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last;
    loop {
        match client.slaves().await {
            Ok(slaves) => {
                let active = slaves.slaves.iter().filter(|s| s.active).count();
                if active >= count {
                    return Ok(());
                }
                last = format!("{active} of {count} agents registered");
            }
            Err(error) => last = error.to_string(),
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("agents did not register with the master within {timeout:?} ({last})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
