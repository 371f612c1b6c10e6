//! The agents of `corral bench launch`: in the bench process or as `corral agent` processes,
//! with real executors (`corral executor`, fork/exec) or inline ones ([`InlineLauncher`]).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use corral_client::Endpoint;
use corral_containerizer::Containerizer;

use super::inline::InlineLauncher;
use crate::agent_api::{AgentFlags, RunningAgent};

/// Who runs a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Executors {
    /// A real `corral executor` process per task, running `true` (two fork/execs per task).
    Process,
    /// No process: the agent's containers are inline executors (see `bench/inline.rs`).
    Inline,
}

/// The started agents.
pub enum Agents {
    /// In the bench process.
    InProcess(Vec<RunningAgent>),
    /// `corral agent` children.
    Processes(Vec<tokio::process::Child>),
}

impl Agents {
    /// Stops every agent (destroying its containers).
    pub async fn stop(self) {
        match self {
            Agents::InProcess(agents) => {
                for agent in agents {
                    agent.shutdown().await;
                }
            }
            Agents::Processes(children) => {
                for child in &children {
                    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGTERM,
                        );
                    }
                }
                for mut child in children {
                    if tokio::time::timeout(Duration::from_secs(30), child.wait())
                        .await
                        .is_err()
                    {
                        let _ = child.kill().await;
                    }
                }
            }
        }
    }
}

/// What every agent gets.
pub struct AgentPlan<'a> {
    pub count: usize,
    pub processes: bool,
    pub executors: Executors,
    pub master: &'a Endpoint,
    pub root: &'a Path,
    pub resources: &'a str,
}

/// Starts the agents (they register with the master on their own).
pub async fn start(plan: &AgentPlan<'_>) -> anyhow::Result<Agents> {
    if plan.processes {
        let me = std::env::current_exe().context("finding this program's path")?;
        let mut children = Vec::new();
        for i in 0..plan.count {
            let mut command = tokio::process::Command::new(&me);
            command
                .arg("agent")
                .args(flags(plan, i))
                .env("RUST_LOG", "error")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .kill_on_drop(true);
            if plan.executors == Executors::Inline {
                command.arg("--bench-inline-executors");
            }
            match command.spawn() {
                Ok(child) => children.push(child),
                Err(error) => {
                    Agents::Processes(children).stop().await;
                    return Err(error).context("starting a `corral agent` process");
                }
            }
        }
        return Ok(Agents::Processes(children));
    }
    let mut agents = Vec::new();
    for i in 0..plan.count {
        let mut args = vec!["agent".to_string()];
        args.extend(flags(plan, i));
        let started = async {
            let flags = AgentFlags::try_parse_from(&args).context("agent flags")?;
            let agent = match plan.executors {
                Executors::Process => crate::agent_api::start(flags).await?,
                Executors::Inline => {
                    let containerizer = Containerizer::new(InlineLauncher::new(), Vec::new());
                    corral_agent::start_with(flags, containerizer).await?
                }
            };
            anyhow::Ok(agent)
        }
        .await;
        match started {
            Ok(agent) => agents.push(agent),
            Err(error) => {
                Agents::InProcess(agents).stop().await;
                return Err(error).context("starting an in-process agent");
            }
        }
    }
    Ok(Agents::InProcess(agents))
}

fn flags(plan: &AgentPlan<'_>, i: usize) -> Vec<String> {
    let mut flags = vec![
        "--ip=127.0.0.1".to_string(),
        "--port=0".to_string(),
        format!("--master={}", plan.master),
        format!(
            "--work_dir={}",
            plan.root.join(format!("agent-{i}")).display()
        ),
        format!("--resources={}", plan.resources),
    ];
    if let Ok(me) = std::env::current_exe() {
        flags.push(format!("--executor_binary={}", me.display()));
    }
    flags
}
