//! `corral bench state`: `/state` at Mesos's `MasterStateQuery` shape (10,000 agents, 100k
//! running + 100k completed tasks with 10 labels), rendered in-process and then served over
//! loopback HTTP while 20 clients poll it and a prober measures `/health`.
//!
//! The core is filled through its public API by `corral-sim` (agents subscribe, schedulers
//! ACCEPT offers, agents report TASK_RUNNING / TASK_FINISHED, schedulers acknowledge).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::{Args, Parser};
use corral_client::transport::Http;
use corral_client::Endpoint;
use corral_master::core::view::Identity;
use corral_master::core::CoreConfig;
use corral_master::MasterFlags;
use corral_sim::{check, floor, SimCluster, Workload};
use http::{HeaderMap, Method};
use http_body_util::BodyExt;

use super::stats::{self, duration, percentile, thousands};

/// Flags of `corral bench state`.
#[derive(Args)]
pub struct StateArgs {
    /// Agents.
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// Frameworks the tasks are spread over (each agent's tasks belong to one of them).
    #[arg(long, default_value_t = 5)]
    pub frameworks: usize,
    /// Running tasks per agent.
    #[arg(long = "running-per-agent", default_value_t = 10)]
    pub running_per_agent: usize,
    /// Completed tasks per agent.
    #[arg(long = "completed-per-agent", default_value_t = 10)]
    pub completed_per_agent: usize,
    /// In-process renderings timed.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Concurrent `/state` pollers in the HTTP phase.
    #[arg(long, default_value_t = 20)]
    pub clients: usize,
    /// Length of the HTTP phase, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Stop the HTTP load early if the process's RSS grows beyond this many GiB.
    #[arg(long = "max-rss-gib", default_value_t = 10)]
    pub max_rss_gib: u64,
    /// Skip the HTTP phase.
    #[arg(long = "no-http")]
    pub no_http: bool,
    /// The allocator used while filling the cluster: `first` or `drf`.
    #[arg(long, default_value = "first")]
    pub allocator: String,
}

/// Parses master flags the way `corral master` does (so new flags get their defaults).
#[derive(Parser)]
struct FlagsOnly {
    #[command(flatten)]
    flags: MasterFlags,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Build the cluster of the benchmark; returns it with the time taken.
pub fn build_cluster(
    agents: usize,
    frameworks: usize,
    running: usize,
    completed: usize,
    allocator: &str,
) -> anyhow::Result<(SimCluster, Duration)> {
    let started = Instant::now();
    let per_framework = (agents * completed).div_ceil(frameworks.max(1)) + 1;
    let config = CoreConfig {
        max_completed_tasks_per_framework: per_framework.max(1000),
        ..CoreConfig::default()
    };
    let mut sim = SimCluster::builder()
        .config(config)
        .allocator(corral_sim::allocator_by_name(allocator)?)
        .frameworks(frameworks.max(1), &["*"])
        .agents(agents, "cpus:20;mem:10240")
        .build()?;
    let workload = Workload {
        running_per_agent: running,
        completed_per_agent: completed,
        ..Workload::default()
    };
    let report = sim.populate(&workload)?;
    anyhow::ensure!(
        report.complete,
        "the workload did not fit: {report:?} (agents too small for the tasks?)"
    );
    Ok((sim, started.elapsed()))
}

/// Runs the `/state` benchmark.
pub async fn state(args: StateArgs) -> anyhow::Result<u8> {
    let tasks = args.agents * (args.running_per_agent + args.completed_per_agent);
    println!(
        "state: {} agents, {} running + {} completed tasks (10 labels each) over {} frameworks",
        thousands(args.agents as u64),
        thousands((args.agents * args.running_per_agent) as u64),
        thousands((args.agents * args.completed_per_agent) as u64),
        args.frameworks
    );
    let (sim, setup) = build_cluster(
        args.agents,
        args.frameworks,
        args.running_per_agent,
        args.completed_per_agent,
        &args.allocator,
    )?;
    let s = sim.stats();
    println!(
        "  setup: {} through the core's API ({} offers, {} status updates, {} acks; {} tasks/s)",
        duration(setup),
        thousands(s.offers_received),
        thousands(s.updates_sent),
        thousands(s.acks_sent),
        stats::rate(tasks, setup).trim_end_matches("/s")
    );
    check::check_no_overcommit(sim.core()).map_err(|e| anyhow::anyhow!("invariant: {e}"))?;

    // In-process rendering: the JSON value, then bytes, as the master's handler does.
    let identity = Identity {
        pid: "master@127.0.0.1:5050".to_string(),
        ..Identity::default()
    };
    let mut build = Vec::new();
    let mut encode = Vec::new();
    let mut total = Vec::new();
    let mut size = 0;
    let mut value_only = Vec::new();
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        // What the master serves: typed views borrowed from the core, serialized straight to bytes.
        let value = sim.core().state_view(&identity);
        let built = started.elapsed();
        let bytes = corral_http::encoding::to_ascii_json(&value).context("encoding /state")?;
        let done = started.elapsed();
        size = bytes.len();
        drop(bytes);
        build.push(built);
        encode.push(done - built);
        total.push(done);
        // Floor: plain serde_json of an already built value (built outside the timing).
        let prebuilt = sim.core().state_json(&identity);
        let started = Instant::now();
        let plain = serde_json::to_vec(&prebuilt).context("serializing /state")?;
        value_only.push(started.elapsed());
        drop(plain);
        drop(prebuilt);
    }
    let copy = floor::memcpy(size, 3);
    let p50 = percentile(&mut total, 50.0);
    let p99 = percentile(&mut total, 99.0);
    println!(
        "  /state in-process: {}  ({} of JSON)",
        stats::summary(&mut total),
        mib(size as u64)
    );
    println!(
        "      value building p50 {}, serialization p50 {}",
        duration(percentile(&mut build, 50.0)),
        duration(percentile(&mut encode, 50.0))
    );
    let floor50 = percentile(&mut value_only, 50.0);
    println!(
        "  floor: serde_json of the pre-built value p50 {} ({:.0} MB/s); memcpy of {} {} ({:.1} GB/s)",
        duration(floor50),
        size as f64 / floor50.as_secs_f64().max(1e-9) / 1e6,
        mib(size as u64),
        duration(copy),
        size as f64 / copy.as_secs_f64().max(1e-9) / 1e9
    );
    println!(
        "  target: ≤ 300 ms p50 / ≤ 500 ms p99 [Mesos 1.7: 1.86 s]: {}",
        if p50 <= Duration::from_millis(300) && p99 <= Duration::from_millis(500) {
            "met"
        } else {
            "MISSED"
        }
    );
    if args.no_http {
        return Ok(0);
    }
    http_phase(&args, sim).await
}

/// Serve the core and load it: `clients` pollers of `/state`, one `/health` prober.
async fn http_phase(args: &StateArgs, sim: SimCluster) -> anyhow::Result<u8> {
    let parsed = FlagsOnly::try_parse_from([
        "corral-bench",
        "--ip",
        "127.0.0.1",
        "--port",
        "0",
        // Simulated agents hold no session streams: never ping them out during the run.
        "--agent_ping_timeout",
        "1days",
    ])
    .context("master flags")?;
    let master = corral_master::start_with_core(parsed.flags, sim.into_core())
        .await
        .context("serving the core")?;
    let endpoint = Endpoint::new("127.0.0.1", master.addr.port());

    // Floor: /health on the same server, unloaded, for 2 s.
    let mut idle = probe(endpoint.clone(), Duration::from_secs(2), Arc::default()).await;
    let idle99 = percentile(&mut idle, 99.0);

    let stop = Arc::new(AtomicBool::new(false));
    let window = Duration::from_secs(args.seconds.max(1));
    let state_latencies = Arc::new(Mutex::new(Vec::new()));
    let state_bytes = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(AtomicU64::new(0));

    // The clients run on their own threads so a busy server does not delay their clocks.
    let pollers = {
        let (endpoint, stop) = (endpoint.clone(), stop.clone());
        let (latencies, bytes, errors, in_flight) = (
            state_latencies.clone(),
            state_bytes.clone(),
            errors.clone(),
            in_flight.clone(),
        );
        let clients = args.clients.max(1);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                let mut tasks = Vec::new();
                for _ in 0..clients {
                    let (endpoint, stop) = (endpoint.clone(), stop.clone());
                    let counters = Counters {
                        latencies: latencies.clone(),
                        bytes: bytes.clone(),
                        errors: errors.clone(),
                        in_flight: in_flight.clone(),
                    };
                    tasks.push(tokio::spawn(async move {
                        poll_state(endpoint, stop, counters).await;
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
            runtime.shutdown_background();
        })
    };
    let prober = {
        let (endpoint, stop) = (endpoint.clone(), stop.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else {
                return Vec::new();
            };
            let samples = runtime.block_on(probe(endpoint, window, stop));
            runtime.shutdown_background();
            samples
        })
    };

    // Watchdog: the window, and the memory bound.
    let started = Instant::now();
    let max_rss = args.max_rss_gib.saturating_mul(1 << 30);
    let mut peak = 0;
    let mut cut = false;
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rss = floor::rss_bytes().unwrap_or(0);
        peak = peak.max(rss);
        if rss > max_rss {
            cut = true;
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let elapsed = started.elapsed();
    let unfinished = in_flight.load(Ordering::SeqCst);
    let failed = errors.load(Ordering::SeqCst);
    let mut health = tokio::task::spawn_blocking(move || prober.join().unwrap_or_default())
        .await
        .unwrap_or_default();
    // Requests still in flight are abandoned (counted above), not waited for: the pollers'
    // thread is left to the process exit, and the master gets a bounded shutdown.
    drop(pollers);
    let _ = tokio::time::timeout(Duration::from_secs(10), master.shutdown()).await;

    let mut state_times = state_latencies
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let p99 = percentile(&mut health, 99.0);
    println!(
        "  HTTP: {} clients polling /state for {:.1} s{}",
        args.clients,
        elapsed.as_secs_f64(),
        if cut {
            format!(" (stopped early: RSS over {} GiB)", args.max_rss_gib)
        } else {
            String::new()
        }
    );
    println!(
        "      /state responses: {} complete ({} read), {} still in flight at the end, {} errors; client latency {}",
        state_times.len(),
        mib(state_bytes.load(Ordering::SeqCst)),
        unfinished,
        failed,
        stats::summary(&mut state_times),
    );
    println!("      /health under load: {}", stats::summary(&mut health));
    println!(
        "      floor: /health unloaded on the same server: {}",
        stats::summary(&mut idle)
    );
    println!("      peak RSS {}", mib(peak));
    println!(
        "  target: /health p99 ≤ 10 ms while {} clients poll /state: {} (p99 {}, {:.1}× the unloaded p99)",
        args.clients,
        if p99 <= Duration::from_millis(10) && !health.is_empty() {
            "met"
        } else {
            "MISSED"
        },
        duration(p99),
        p99.as_secs_f64() / idle99.as_secs_f64().max(1e-9)
    );
    Ok(0)
}

/// GET `/health` every 10 ms until `window` ends or `stop`; latencies of the answered ones
/// (the first request, which opens the connection, is not counted).
async fn probe(endpoint: Endpoint, window: Duration, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let http = Http::new(Duration::from_secs(30));
    // The first request opens the keep-alive connection; it is not a sample.
    let _ = http.get(&endpoint, "/health").await;
    let deadline = Instant::now() + window;
    let mut samples = Vec::new();
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        if let Ok((status, _, _)) = http.get(&endpoint, "/health").await {
            if status.is_success() {
                samples.push(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// What the `/state` pollers record.
struct Counters {
    latencies: Arc<Mutex<Vec<Duration>>>,
    bytes: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
}

/// GET `/state` in a loop, reading (and dropping) each body, until `stop`.
async fn poll_state(endpoint: Endpoint, stop: Arc<AtomicBool>, c: Counters) {
    let http = Http::new(Duration::from_secs(120));
    let url = endpoint.url("/state");
    while !stop.load(Ordering::SeqCst) {
        c.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = get_state(&http, &url).await;
        c.in_flight.fetch_sub(1, Ordering::SeqCst);
        match result {
            Some((read, took)) => {
                c.bytes.fetch_add(read, Ordering::SeqCst);
                if let Ok(mut v) = c.latencies.lock() {
                    v.push(took);
                }
            }
            None => {
                c.errors.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One GET `/state`, body read to the end: (bytes, time to last byte), or `None` on error.
async fn get_state(http: &Http, url: &str) -> Option<(u64, Duration)> {
    let started = Instant::now();
    let response = http
        .send(
            Method::GET,
            url,
            HeaderMap::new(),
            Bytes::new(),
            Duration::from_secs(120),
        )
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut body = response.into_body();
    let mut read = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.ok()?.data_ref() {
            read += data.len() as u64;
        }
    }
    Some((read, started.elapsed()))
}
