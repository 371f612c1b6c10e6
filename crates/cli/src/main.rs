//! `corral`: one binary for the daemons and the client verbs.

mod agent_api;
mod bench;
mod cluster;
mod daemons;
mod list;
mod logging;
mod run;
mod signals;
mod table;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the master decodes agent and scheduler bodies on the
/// HTTP worker threads and frees them on its actor's thread, a pattern glibc's per-thread
/// arenas handle poorly (`corral bench failover`, 10k agents, pipelined, on a 2-core machine:
/// 1.23 s with glibc, 548 ms with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Corral: a datacenter kernel speaking the Apache Mesos APIs.
#[derive(Parser)]
#[command(name = "corral", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a master.
    Master(Box<corral_master::MasterFlags>),
    /// Run an agent.
    Agent(Box<daemons::AgentArgs>),
    /// Run a built-in executor (started by the agent, configured from MESOS_* variables).
    Executor(daemons::ExecutorArgs),
    /// Run a master and one agent in this process: a one-machine cluster.
    Up(up::UpArgs),
    /// Run a command as a one-off task and stream its output.
    Run(run::RunArgs),
    /// List agents (`/slaves`).
    Agents(list::ListArgs),
    /// List frameworks (`/frameworks`).
    Frameworks(list::ListArgs),
    /// List tasks (`/tasks`).
    Tasks(list::ListArgs),
    /// Benchmarks, each printed next to its physical floor.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Daemons log at info. Executors share their stderr with the task (the sandbox file that
    // `corral run` streams), so they, like the client verbs, log at warn.
    let daemon = matches!(
        cli.command,
        Command::Master(_) | Command::Agent(_) | Command::Up(_)
    );
    let level = match &cli.command {
        _ if daemon => "info",
        // The benchmark's in-process daemons would report their own shutdown.
        Command::Bench(_) => "error",
        _ => "warn",
    };
    logging::init(level);
    let runtime = match &cli.command {
        // Executors are many and small: one thread each.
        Command::Executor(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("corral: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Master(flags) => daemons::master(*flags).await,
            Command::Agent(args) => daemons::agent(*args).await,
            Command::Executor(args) => daemons::executor(args).await,
            Command::Up(args) => up::up(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Agents(args) => list::agents(args).await,
            Command::Frameworks(args) => list::frameworks(args).await,
            Command::Tasks(args) => list::tasks(args).await,
            Command::Bench(command) => bench::bench(command).await,
        }
    });
    // Do not wait for lingering tasks (open streams, pollers) at exit.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("corral: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `a: b: c`, skipping a cause its parent's message already shows
/// (libraries differ on whether `Display` includes the source).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !text.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
    }
    text
}
