//! `corral bench memory`: the master's memory per agent and per task, as the growth of this
//! process's RSS while a core is filled through its API (`corral-sim`), next to the bytes of
//! the raw records (the protobuf encoding of what was sent in).

use std::time::Instant;

use clap::Args;
use corral_master::core::CoreConfig;
use corral_sim::{floor, SimCluster, Workload};
use prost::Message;

use super::stats::{duration, thousands};

/// Flags of `corral bench memory`.
#[derive(Args)]
pub struct MemoryArgs {
    /// Agents.
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// Running tasks (spread evenly over the agents).
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// Completed tasks added after the running ones (0: skip).
    #[arg(long, default_value_t = 100_000)]
    pub completed: usize,
    /// Frameworks.
    #[arg(long, default_value_t = 10)]
    pub frameworks: usize,
    /// Labels per task.
    #[arg(long, default_value_t = 10)]
    pub labels: usize,
}

fn rss() -> anyhow::Result<u64> {
    floor::rss_bytes().ok_or_else(|| anyhow::anyhow!("cannot read VmRSS from /proc/self/status"))
}

fn per(bytes: u64, count: usize) -> f64 {
    bytes as f64 / count.max(1) as f64
}

fn verdict(value: f64, target: f64) -> &'static str {
    if value <= target {
        "met"
    } else {
        "MISSED"
    }
}

/// Runs the memory benchmark.
pub fn memory(args: MemoryArgs) -> anyhow::Result<u8> {
    let agents = args.agents.max(1);
    anyhow::ensure!(
        args.tasks % agents == 0 && args.completed % agents == 0,
        "--tasks and --completed must be multiples of --agents"
    );
    println!(
        "memory: {} agents, {} running + {} completed tasks ({} labels each), {} frameworks",
        thousands(agents as u64),
        thousands(args.tasks as u64),
        thousands(args.completed as u64),
        args.labels,
        args.frameworks
    );
    let config = CoreConfig {
        max_completed_tasks_per_framework: args.completed.div_ceil(args.frameworks.max(1)) + 1,
        ..CoreConfig::default()
    };
    let mut sim = SimCluster::builder()
        .config(config)
        .frameworks(args.frameworks.max(1), &["*"])
        .build()?;
    let rss0 = rss()?;

    let started = Instant::now();
    sim.add_agents(
        agents,
        "cpus:20;mem:10240;disk:10240;ports:[31000-32000]",
        None,
    )?;
    let rss1 = rss()?;
    let agent_time = started.elapsed();

    let started = Instant::now();
    let running = Workload {
        running_per_agent: args.tasks / agents,
        completed_per_agent: 0,
        labels_per_task: args.labels,
        ..Workload::default()
    };
    let report = sim.populate(&running)?;
    anyhow::ensure!(report.complete, "running tasks did not fit: {report:?}");
    let rss2 = rss()?;
    let task_time = started.elapsed();

    let mut rss3 = rss2;
    if args.completed > 0 {
        let completed = Workload {
            running_per_agent: 0,
            completed_per_agent: args.completed / agents,
            labels_per_task: args.labels,
            ..Workload::default()
        };
        let report = sim.populate(&completed)?;
        anyhow::ensure!(report.complete, "completed tasks did not fit: {report:?}");
        rss3 = rss()?;
    }
    let harness = sim.bookkeeping_bytes();

    // The floors: the raw records as they came in (protobuf bytes).
    let agent_info = sim
        .core()
        .get_agents()
        .agents
        .first()
        .map(|a| a.agent_info.encoded_len())
        .unwrap_or(0);
    let resources = corral_resources::parse_resources(&running.task_resources)
        .map_err(|e| anyhow::anyhow!("task resources: {e}"))?
        .to_proto();
    let agent_id = sim
        .agents()
        .first()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    let task_info = sim
        .task(&agent_id, &resources, args.labels, false)
        .encoded_len();
    let task_record = {
        let tasks = sim.core().get_tasks();
        let n = tasks.tasks.len().max(1);
        tasks.tasks.iter().map(|t| t.encoded_len()).sum::<usize>() / n
    };

    let per_agent = per(rss1.saturating_sub(rss0), agents);
    let per_task = per(rss2.saturating_sub(rss1), args.tasks);
    println!(
        "  RSS: {:.1} MiB empty core → {:.1} MiB with agents ({}) → {:.1} MiB with running tasks ({}){}",
        rss0 as f64 / 1048576.0,
        rss1 as f64 / 1048576.0,
        duration(agent_time),
        rss2 as f64 / 1048576.0,
        duration(task_time),
        if args.completed > 0 {
            format!(" → {:.1} MiB with completed tasks", rss3 as f64 / 1048576.0)
        } else {
            String::new()
        }
    );
    println!(
        "  per agent: {:.0} B   floor: {} B AgentInfo protobuf (compact model of the reference: ≈ 300 B)   target ≤ 4 KiB: {}",
        per_agent,
        agent_info,
        verdict(per_agent, 4096.0)
    );
    println!(
        "  per running task: {:.0} B   floor: {} B TaskInfo protobuf, {} B Task record protobuf (compact model: ≈ 160 B)   target ≤ 1 KiB: {}",
        per_task,
        task_info,
        task_record,
        verdict(per_task, 1024.0)
    );
    if args.completed > 0 {
        println!(
            "  per completed task: {:.0} B",
            per(rss3.saturating_sub(rss2), args.completed)
        );
    }
    println!(
        "  (the deltas include the simulator's own per-agent bookkeeping, ≈ {:.0} B/agent, and allocator state)",
        per(harness as u64, agents)
    );
    Ok(0)
}
