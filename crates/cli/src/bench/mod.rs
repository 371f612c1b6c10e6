//! `corral bench ...`: benchmarks, each printed next to its physical floor on this machine.

mod floor;
mod launch;
mod stats;

use clap::Subcommand;

/// The benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Launch throughput: ACCEPT → TASK_RUNNING / TASK_FINISHED with in-process agents.
    Launch(launch::LaunchArgs),
    /// Only the floors: loopback HTTP request rate and fork/exec rate.
    Floor,
}

/// Runs a benchmark.
pub async fn bench(command: BenchCommand) -> anyhow::Result<u8> {
    match command {
        BenchCommand::Launch(args) => launch::launch(args).await,
        BenchCommand::Floor => {
            println!("{}", floor::http(1).await?);
            println!("{}", floor::http(8).await?);
            println!("{}", floor::fork_exec(1).await?);
            println!("{}", floor::fork_exec(2).await?);
            Ok(0)
        }
    }
}
