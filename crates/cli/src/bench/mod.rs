//! `corral bench ...`: benchmarks, each printed next to its physical floor on this machine.

mod allocator;
mod election;
mod failover;
mod floor;
pub(crate) mod inline;
mod launch;
mod launch_agents;
mod memory;
mod registry;
mod state;
mod stats;

use clap::Subcommand;

/// The benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Launch throughput: ACCEPT → TASK_RUNNING / TASK_FINISHED with in-process agents or
    /// agent processes, real or inline executors (`--executors`, `--agent-processes`).
    Launch(launch::LaunchArgs),
    /// Allocation cycle time on Mesos's allocator benchmark shapes (allocator only).
    Allocator(allocator::AllocatorArgs),
    /// `/state` at 10k agents with 100k running + 100k completed tasks, in-process and over
    /// HTTP (with `/health` latency under load).
    State(state::StateArgs),
    /// Master memory per agent and per task.
    Memory(memory::MemoryArgs),
    /// Master failover: registry load and recovery until every agent has re-registered.
    Failover(failover::FailoverArgs),
    /// Leader loss → a new leader serving, with real master processes on a real ZooKeeper.
    Election(election::ElectionArgs),
    /// Durable registry writes per second: one fsync per write versus group commit.
    Registry(registry::RegistryArgs),
    /// Only the floors: loopback HTTP request rate and fork/exec rate.
    Floor,
}

/// Runs a benchmark.
pub async fn bench(command: BenchCommand) -> anyhow::Result<u8> {
    match command {
        BenchCommand::Launch(args) => launch::launch(args).await,
        BenchCommand::Allocator(args) => allocator::allocator(args),
        BenchCommand::State(args) => state::state(args).await,
        BenchCommand::Memory(args) => memory::memory(args),
        BenchCommand::Failover(args) => failover::failover(args),
        BenchCommand::Election(args) => election::election(args).await,
        BenchCommand::Registry(args) => registry::registry(args),
        BenchCommand::Floor => {
            println!("{}", floor::http(1).await?);
            println!("{}", floor::http(8).await?);
            println!("{}", floor::fork_exec(1).await?);
            println!("{}", floor::fork_exec(2).await?);
            Ok(0)
        }
    }
}
