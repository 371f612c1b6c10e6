//! `corral bench failover`: master failover time, from a new master starting with the registry
//! of a big cluster until every (simulated, in-process) agent has re-registered with its tasks.
//!
//! A cluster is filled through the core's API (`corral-sim`); what its agents would send when
//! they re-subscribe (AgentInfo, frameworks, executors, running tasks) is captured from the
//! operator views and encoded as the JSON bodies of their SUBSCRIBE calls, and the registry it
//! would have written (one admitted record per agent, one record per framework) is stored.
//!
//! The failover is timed end to end: a new core loads the registry and recovers, and every
//! SUBSCRIBE body is decoded (as the master's HTTP handler does, with
//! [`decode_agent_envelope`]) and applied to the core. Two schedules are timed:
//!
//! * **one core**: everything on one thread, one body after the other (the upper bound);
//! * **pipelined**: as the master runs it — handlers decode bodies on the runtime's worker
//!   threads while the actor applies decoded calls — with `available_parallelism − 1` real
//!   decoder threads feeding the core's thread through a bounded channel.
//!
//! Printed beside them: decoding alone, its floor (a plain scan of the same JSON building
//! nothing), and the core alone.

use std::collections::BTreeMap;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use corral_api::internal::{decode_agent_envelope, AgentCall, AgentEnvelope, PROTOCOL_VERSION};
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
    /// Timed runs; the best of each figure is printed.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
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

/// How the failover work is scheduled.
#[derive(Clone, Copy)]
enum Schedule {
    /// Every body decoded and applied in turn on the calling thread.
    OneCore,
    /// `n` decoder threads feed the core's (calling) thread.
    Pipelined(usize),
}

/// The phases of one timed failover.
#[derive(Clone, Copy)]
struct Timing {
    /// New core, registry load, recover.
    load: Duration,
    /// Everything, until the last agent has re-registered.
    total: Duration,
    /// CPU time the whole process used meanwhile (all threads; `None` without `/proc`). Well
    /// below `total` × threads busy means the machine's other load took the CPUs.
    cpu: Option<Duration>,
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (clock ticks, taken
/// as the usual 100 Hz).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn cpu_note(t: &Timing) -> String {
    match t.cpu {
        Some(cpu) => format!(", CPU {}", duration(cpu)),
        None => String::new(),
    }
}

/// A new master takes over: load the registry and recover, then decode and apply every
/// agent's SUBSCRIBE body. `bodies` is `None` to time the core alone on pre-decoded calls.
fn run_failover(
    args: &FailoverArgs,
    info: &v1::MasterInfo,
    store: &dyn Store,
    input: Input<'_>,
    schedule: Schedule,
) -> anyhow::Result<Timing> {
    let agents = match &input {
        Input::Bodies(b) => b.len(),
        Input::Decoded(d) => d.len(),
    };
    let now = 2_000_000_000.0;
    let cpu_before = process_cpu();
    let started = Instant::now();
    let new_core = || -> anyhow::Result<(MasterCore, Duration)> {
        let mut core = MasterCore::new(
            CoreConfig::default(),
            v1::MasterInfo {
                id: format!("{}-next", info.id),
                ..info.clone()
            },
            2,
            corral_sim::allocator_by_name(&args.allocator)?,
            now,
        );
        core.recover(registry::load(store)?, now);
        anyhow::ensure!(
            core.recovered_agents().len() == agents,
            "recovered {} of {agents} agents",
            core.recovered_agents().len()
        );
        Ok((core, started.elapsed()))
    };
    let apply = |core: &mut MasterCore, i: usize, envelope: AgentEnvelope| {
        core.agent_subscribe(envelope, &format!("s{i}"), now)
            .map_err(|e| anyhow::anyhow!("re-registration refused: {e}"))?;
        drop(core.take_effects());
        anyhow::Ok(())
    };
    let (core, load) = match (input, schedule) {
        (Input::Decoded(envelopes), _) => {
            let (mut core, load) = new_core()?;
            for (i, envelope) in envelopes.into_iter().enumerate() {
                apply(&mut core, i, envelope)?;
            }
            (core, load)
        }
        (Input::Bodies(bodies), Schedule::OneCore) => {
            let (mut core, load) = new_core()?;
            for (i, body) in bodies.iter().enumerate() {
                apply(&mut core, i, decode_agent_envelope(body)?)?;
            }
            (core, load)
        }
        (Input::Bodies(bodies), Schedule::Pipelined(decoders)) => {
            std::thread::scope(|scope| -> anyhow::Result<(MasterCore, Duration)> {
                let (tx, rx) = sync_channel::<anyhow::Result<AgentEnvelope>>(4096);
                for d in 0..decoders {
                    let tx = tx.clone();
                    scope.spawn(move || {
                        for body in bodies.iter().skip(d).step_by(decoders) {
                            let decoded = decode_agent_envelope(body).map_err(Into::into);
                            if tx.send(decoded).is_err() {
                                return;
                            }
                        }
                    });
                }
                drop(tx);
                let (mut core, load) = new_core()?;
                for i in 0..agents {
                    let envelope = rx
                        .recv()
                        .map_err(|_| anyhow::anyhow!("decoders stopped after {i} bodies"))??;
                    apply(&mut core, i, envelope)?;
                }
                Ok((core, load))
            })?
        }
    };
    let total = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
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
    drop(core);
    Ok(Timing { load, total, cpu })
}

/// What the new master is fed.
enum Input<'a> {
    /// The agents' SUBSCRIBE bodies (JSON), decoded as part of the failover.
    Bodies(&'a [Vec<u8>]),
    /// Already decoded calls (the core alone).
    Decoded(Vec<AgentEnvelope>),
}

fn verdict(elapsed: Duration, target: f64) -> &'static str {
    if elapsed <= Duration::from_secs_f64(target) {
        "met"
    } else {
        "MISSED"
    }
}

/// The figures of one run (or the best of several).
struct Best {
    /// Decoding every body on one thread.
    decode: Duration,
    /// Scanning every body building nothing (the decoding's floor).
    scan: Duration,
    /// The core alone, on calls decoded beforehand.
    core_only: Timing,
    /// End to end on one thread.
    one_core: Timing,
    /// End to end, decoder threads feeding the core's thread.
    pipelined: Timing,
}

impl Best {
    fn min(self, other: &Best) -> Best {
        let min = |a: Timing, b: &Timing| if b.total < a.total { *b } else { a };
        Best {
            decode: self.decode.min(other.decode),
            scan: self.scan.min(other.scan),
            core_only: min(self.core_only, &other.core_only),
            one_core: min(self.one_core, &other.one_core),
            pipelined: min(self.pipelined, &other.pipelined),
        }
    }
}

/// One run of every figure.
fn measure(
    args: &FailoverArgs,
    info: &v1::MasterInfo,
    store: &dyn Store,
    bodies: &[Vec<u8>],
    decoders: usize,
) -> anyhow::Result<Best> {
    // Decoding alone, on one thread, and its floor: scanning the same JSON building nothing.
    let started = Instant::now();
    let decoded: Vec<AgentEnvelope> = bodies
        .iter()
        .map(|b| decode_agent_envelope(b))
        .collect::<Result<_, _>>()?;
    let decode = started.elapsed();
    anyhow::ensure!(
        decoded.iter().all(|e| e.agent_id.is_some()),
        "a SUBSCRIBE body lost its agent id"
    );
    let started = Instant::now();
    for body in bodies {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)?;
    }
    let scan = started.elapsed();
    // The core alone, on calls decoded beforehand.
    let core_only = run_failover(
        args,
        info,
        store,
        Input::Decoded(decoded),
        Schedule::OneCore,
    )?;
    // End to end: decoding included.
    let one_core = run_failover(args, info, store, Input::Bodies(bodies), Schedule::OneCore)?;
    let pipelined = run_failover(
        args,
        info,
        store,
        Input::Bodies(bodies),
        Schedule::Pipelined(decoders),
    )?;
    Ok(Best {
        decode,
        scan,
        core_only,
        one_core,
        pipelined,
    })
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
    let bodies: Vec<Vec<u8>> = envelopes(before)
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<_, _>>()?;
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let info = before.master_info().clone();
    drop(sim);

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let decoders = threads.saturating_sub(1).max(1);
    let mut best: Option<Best> = None;
    for _ in 0..args.runs.max(1) {
        let run = measure(&args, &info, store.as_ref(), &bodies, decoders)?;
        best = Some(match best {
            None => run,
            Some(b) => b.min(&run),
        });
    }
    let Some(Best {
        decode,
        scan,
        core_only,
        one_core,
        pipelined,
    }) = best
    else {
        anyhow::bail!("no run");
    };
    println!(
        "  best of {} run(s) each (the machine's other load only ever adds time):",
        args.runs.max(1)
    );
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "  decoding the {} SUBSCRIBE bodies ({mib:.1} MiB JSON), one thread: {} ({:.0} MiB/s); \
         floor (scanning the JSON, building nothing): {}",
        thousands(agents as u64),
        duration(decode),
        mib / decode.as_secs_f64(),
        duration(scan)
    );
    println!(
        "  core alone (bodies decoded beforehand): registry load + recover {}, \
         re-registrations {} ({}), total {}",
        duration(core_only.load),
        duration(core_only.total - core_only.load),
        rate(agents, core_only.total - core_only.load),
        duration(core_only.total)
    );
    let one_core_verdict = verdict(one_core.total, args.target);
    println!(
        "  END TO END, one core (load + recover + decode + re-register, in turn): {}{}  \
         (target {:.1} s: {}; floor {} = JSON scan + core alone)",
        duration(one_core.total),
        cpu_note(&one_core),
        args.target,
        one_core_verdict,
        duration(scan + core_only.total)
    );
    let pipelined_verdict = verdict(pipelined.total, args.target);
    println!(
        "  END TO END, pipelined ({decoders} decoder thread(s) feeding the core's thread, \
         as the master's handlers feed its actor; {threads} CPU(s)): {}{}  (target {:.1} s: {})",
        duration(pipelined.total),
        cpu_note(&pipelined),
        args.target,
        pipelined_verdict
    );
    // Conservative: both schedules must meet the target.
    Ok(u8::from(
        one_core_verdict != "met" || pipelined_verdict != "met",
    ))
}
