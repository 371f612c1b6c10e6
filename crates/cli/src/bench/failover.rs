//! `corral bench failover`: master failover time, from a new master starting with the registry
//! of a big cluster until every (simulated, in-process) agent has re-registered with its tasks.
//!
//! A cluster is filled through the core's API (`corral-sim`); what its agents would send when
//! they re-subscribe (AgentInfo, frameworks, executors, running tasks) is captured from the
//! operator views, and the registry it would have written (one admitted record per agent, one
//! record per framework) is stored. Then a new core is timed: load the registry, recover, and
//! take every agent's SUBSCRIBE. Printed beside it is what the figure leaves out: decoding
//! those SUBSCRIBE bodies from JSON, which a real master pays too (spread over its HTTP
//! handler threads), so the end-to-end failover is the core figure plus that share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use corral_api::internal::{AgentCall, AgentEnvelope, PROTOCOL_VERSION};
use corral_api::v1;
use corral_master::core::{CoreConfig, MasterCore};
use corral_master::registry::{
    self, AgentRecord, AgentState, FrameworkRecord, Registry, RegistryWrite,
};
use corral_store::{MemoryStore, Store};

use super::stats::{duration, rate, thousands};

/// Flags of `corral bench failover`.
#[derive(Args)]
pub struct FailoverArgs {
    /// Agents.
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// Running tasks (spread evenly over the agents).
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// Frameworks the tasks belong to.
    #[arg(long, default_value_t = 5)]
    pub frameworks: usize,
    /// The new master's allocator: `drf` (the master's default) or `first`.
    #[arg(long, default_value = "drf")]
    pub allocator: String,
    /// Target for the failover time, in seconds (the verdict printed).
    #[arg(long, default_value_t = 1.0)]
    pub target: f64,
}

/// What one agent sends when it re-subscribes.
fn envelopes(core: &MasterCore) -> Vec<AgentEnvelope> {
    let frameworks: Vec<v1::FrameworkInfo> = core
        .get_frameworks()
        .frameworks
        .into_iter()
        .map(|f| f.framework_info)
        .collect();
    let mut tasks: BTreeMap<String, Vec<v1::Task>> = BTreeMap::new();
    for t in core.get_tasks().tasks {
        tasks.entry(t.agent_id.value.clone()).or_default().push(t);
    }
    let mut executors: BTreeMap<String, Vec<v1::ExecutorInfo>> = BTreeMap::new();
    for e in core.get_executors().executors {
        executors
            .entry(e.agent_id.value.clone())
            .or_default()
            .push(e.executor_info);
    }
    core.get_agents()
        .agents
        .into_iter()
        .map(|a| {
            let id = a
                .agent_info
                .id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_default();
            AgentEnvelope {
                version: PROTOCOL_VERSION,
                epoch: 0,
                agent_id: a.agent_info.id.clone(),
                stream_id: None,
                call: AgentCall::Subscribe {
                    agent_info: a.agent_info,
                    agent_version: "bench".into(),
                    frameworks: frameworks.clone(),
                    executors: executors.remove(&id).unwrap_or_default(),
                    tasks: tasks.remove(&id).unwrap_or_default(),
                    checkpointed_resources: vec![],
                },
            }
        })
        .collect()
}

/// The registry the first master would have written.
fn write_registry(core: &MasterCore, store: Arc<dyn Store>) -> anyhow::Result<()> {
    let mut registry = Registry::new(store);
    for a in core.get_agents().agents {
        registry.apply(&RegistryWrite::Agent(AgentRecord {
            info: a.agent_info,
            state: AgentState::Admitted,
        }))?;
    }
    for f in core.get_frameworks().frameworks {
        registry.apply(&RegistryWrite::Framework(FrameworkRecord {
            info: f.framework_info,
            disconnected_since: None,
        }))?;
    }
    Ok(())
}

/// Runs the failover benchmark.
pub fn failover(args: FailoverArgs) -> anyhow::Result<u8> {
    let agents = args.agents.max(1);
    anyhow::ensure!(
        args.tasks % agents == 0,
        "--tasks must be a multiple of --agents"
    );
    println!(
        "failover: {} agents, {} running tasks over {} frameworks ({} allocator)",
        thousands(agents as u64),
        thousands(args.tasks as u64),
        args.frameworks,
        args.allocator
    );
    let (sim, setup) =
        super::state::build_cluster(agents, args.frameworks, args.tasks / agents, 0, "first")?;
    println!("  setup: {} (filling the first master)", duration(setup));
    let before = sim.core();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    write_registry(before, store.clone())?;
    let subscribes = envelopes(before);
    let bodies: Vec<Vec<u8>> = subscribes
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let info = before.master_info().clone();
    drop(sim);

    // What the core figure leaves out: decoding every SUBSCRIBE body.
    let started = Instant::now();
    let mut decoded = 0usize;
    for body in &bodies {
        let envelope: AgentEnvelope = serde_json::from_slice(body)?;
        decoded += usize::from(envelope.agent_id.is_some());
    }
    let decode = started.elapsed();
    anyhow::ensure!(decoded == agents, "decoded {decoded} of {agents} bodies");
    // Its floor: only scanning the same JSON (validating it, building nothing).
    let started = Instant::now();
    for body in &bodies {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)?;
    }
    let scan = started.elapsed();

    // The failover: a new master loads the registry, recovers, takes every re-registration.
    let now = 2_000_000_000.0;
    let started = Instant::now();
    let mut core = MasterCore::new(
        CoreConfig::default(),
        v1::MasterInfo {
            id: format!("{}-next", info.id),
            ..info
        },
        2,
        corral_sim::allocator_by_name(&args.allocator)?,
        now,
    );
    let state = registry::load(store.as_ref())?;
    core.recover(state, now);
    let loaded = started.elapsed();
    anyhow::ensure!(
        core.recovered_agents().len() == agents,
        "recovered {} of {agents} agents",
        core.recovered_agents().len()
    );
    for (i, envelope) in subscribes.into_iter().enumerate() {
        core.agent_subscribe(envelope, &format!("s{i}"), now)
            .map_err(|e| anyhow::anyhow!("re-registration refused: {e}"))?;
        drop(core.take_effects());
    }
    let total = started.elapsed();
    anyhow::ensure!(
        core.recovered_agents().is_empty(),
        "{} agents still recovering",
        core.recovered_agents().len()
    );
    let running = core.get_tasks().tasks.len();
    anyhow::ensure!(
        running == args.tasks,
        "{running} of {} tasks known after the failover",
        args.tasks
    );
    let verdict = if total <= Duration::from_secs_f64(args.target) {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "  registry load + recover: {}   re-registrations: {} ({})",
        duration(loaded),
        duration(total - loaded),
        rate(agents, total - loaded)
    );
    println!(
        "  failover until every agent re-registered: {}  (target {:.1} s: {verdict})",
        duration(total),
        args.target
    );
    println!(
        "  NOT included above: decoding the {} SUBSCRIBE bodies ({:.1} MiB JSON) on one core: {}",
        thousands(agents as u64),
        bytes as f64 / (1024.0 * 1024.0),
        duration(decode)
    );
    println!(
        "  floor of that decoding: scanning the same JSON without building anything: {}",
        duration(scan)
    );
    Ok(u8::from(verdict != "met"))
}
