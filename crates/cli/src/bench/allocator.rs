//! `corral bench allocator`: allocation cycle times on Mesos's allocator benchmark shapes,
//! allocator-only (no master, no messages), each printed next to the DRF-loop floor measured
//! here and the target of `reference/performance-targets.md` §0.

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use corral_sim::{floor, shapes, AllocHarness};

use super::stats::{self, duration, percentile, thousands};

/// Which shape to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    /// Mesos `DeclineOffers`: every offer declined with refuse_seconds = INT_MAX.
    Decline,
    /// Mesos `LargeAndSmallQuota/2`: 3,000 agents, 2,500 small + 500 large quota roles.
    Quota,
    /// A cycle with nothing to hand out (everything already offered).
    Idle,
    /// `DeclineOffers` cycles at 1k/5k/10k/20k/50k agents.
    Scaling,
}

/// Flags of `corral bench allocator`.
#[derive(Args)]
pub struct AllocatorArgs {
    /// Agents (decline and idle shapes).
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// Frameworks (decline, idle and scaling shapes).
    #[arg(long, default_value_t = 1_000)]
    pub frameworks: usize,
    /// The benchmark shape.
    #[arg(long, value_enum, default_value = "decline")]
    pub shape: Shape,
    /// The allocator: `first` or `drf`.
    #[arg(long, default_value = "first")]
    pub allocator: String,
    /// Timed cycles (default: Mesos's frameworks × 2, capped at 20; 3 per scaling row; 100
    /// for idle).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Stop timing more cycles of one series after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub budget: u64,
    /// Seed of the floor's agent order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A target: p50 bound, optional p99 bound, and the Mesos figure for context.
struct Target {
    p50: Duration,
    p99: Option<Duration>,
    mesos: &'static str,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Targets of performance-targets.md §0 for the `DeclineOffers` grid.
fn decline_target(agents: usize, frameworks: usize) -> Option<Target> {
    match (agents, frameworks) {
        (10_000, 1_000) => Some(Target {
            p50: ms(20),
            p99: Some(ms(40)),
            mesos: "Mesos 1.06 s (DeclineOffers/21)",
        }),
        (50_000, 1_000) => Some(Target {
            p50: ms(100),
            p99: None,
            mesos: "Mesos ≈ 5 s extrapolated",
        }),
        (10_000, 100) => Some(Target {
            p50: ms(5),
            p99: None,
            mesos: "no Mesos figure",
        }),
        (50_000, 100) => Some(Target {
            p50: ms(25),
            p99: None,
            mesos: "no Mesos figure",
        }),
        _ => None,
    }
}

fn verdict(p50: Duration, p99: Duration, target: &Target) -> String {
    let mut met = p50 <= target.p50;
    let mut text = format!("≤ {} p50", duration(target.p50));
    if let Some(t99) = target.p99 {
        met &= p99 <= t99;
        text.push_str(&format!(" / ≤ {} p99", duration(t99)));
    }
    let status = if met {
        "met".to_string()
    } else {
        format!("MISSED (p50 {:.1}× the target)", ratio(p50, target.p50))
    };
    format!("{text} [{}]: {status}", target.mesos)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// `p50 … p99 … max …` plus the efficiency against a floor series.
fn against_floor(measured: &mut [Duration], floor: &mut [Duration]) -> String {
    let m = percentile(measured, 50.0);
    let f = percentile(floor, 50.0);
    format!("{:.0}× the floor at p50", ratio(m, f))
}

/// Runs the allocator benchmark.
pub fn allocator(args: AllocatorArgs) -> anyhow::Result<u8> {
    // Fail early and clearly on an unknown or unavailable allocator.
    corral_sim::allocator_by_name(&args.allocator)?;
    match args.shape {
        Shape::Decline => decline(&args),
        Shape::Quota => quota(&args),
        Shape::Idle => idle(&args),
        Shape::Scaling => scaling(&args),
    }
}

fn new_allocator(name: &str) -> anyhow::Result<Box<dyn corral_master::allocator::Allocator>> {
    Ok(corral_sim::allocator_by_name(name)?)
}

/// Time `DeclineOffers` rounds until `rounds` or the budget; returns (times, allocations).
fn decline_series(
    h: &mut AllocHarness,
    rounds: usize,
    budget: Duration,
) -> anyhow::Result<(Vec<Duration>, Vec<usize>)> {
    let started = Instant::now();
    let mut times = Vec::with_capacity(rounds);
    let mut counts = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (n, t) = shapes::decline_round(h);
        times.push(t);
        counts.push(n);
        if started.elapsed() > budget {
            break;
        }
    }
    h.check_no_overcommit()
        .map_err(|e| anyhow::anyhow!("invariant broken: {e}"))?;
    Ok((times, counts))
}

fn decline(args: &AllocatorArgs) -> anyhow::Result<u8> {
    let (agents, frameworks) = (args.agents, args.frameworks);
    let mesos_rounds = frameworks * 2;
    let rounds = args.rounds.unwrap_or(mesos_rounds.min(20)).max(1);
    println!(
        "allocator: DeclineOffers, {} agents × {} frameworks (role *), allocator {}",
        thousands(agents as u64),
        thousands(frameworks as u64),
        args.allocator
    );
    let started = Instant::now();
    let mut h = shapes::decline_offers(new_allocator(&args.allocator)?, agents, frameworks)?;
    println!(
        "  setup: agents and frameworks added in {}",
        duration(started.elapsed())
    );
    let (mut times, counts) = decline_series(&mut h, rounds, Duration::from_secs(args.budget))?;
    let n = times.len();
    let mut floor_times = floor::decline_rounds(agents, frameworks, n, args.seed);
    println!(
        "  cycle:  {}  (first {} of Mesos's {} rounds{})",
        stats::summary(&mut times),
        n,
        thousands(mesos_rounds as u64),
        if n < rounds { ", budget reached" } else { "" }
    );
    println!(
        "          offers per round: first {}, last {}",
        thousands(counts.first().copied().unwrap_or(0) as u64),
        thousands(counts.last().copied().unwrap_or(0) as u64)
    );
    println!(
        "  floor:  {}  (DRF loop on arrays, same agents, frameworks and rounds)",
        stats::summary(&mut floor_times)
    );
    println!("          {}", against_floor(&mut times, &mut floor_times));
    let p50 = percentile(&mut times, 50.0);
    let p99 = percentile(&mut times, 99.0);
    match decline_target(agents, frameworks) {
        Some(target) => println!("  target: {}", verdict(p50, p99, &target)),
        None => println!(
            "  target: none at this size (≤ 20 ms at 10k × 1,000; ≤ 100 ms at 50k × 1,000)"
        ),
    }
    Ok(0)
}

fn quota(args: &AllocatorArgs) -> anyhow::Result<u8> {
    let (small, large) = (2_500, 500);
    println!(
        "allocator: LargeAndSmallQuota/2, {} small + {} large quota roles, 1 framework each, {} agents, allocator {}",
        thousands(small as u64),
        thousands(large as u64),
        thousands((small / 5 + large * 5) as u64),
        args.allocator
    );
    let started = Instant::now();
    let mut h = shapes::large_and_small_quota(new_allocator(&args.allocator)?, small, large)?;
    println!(
        "  setup: roles, quotas, frameworks and agents added in {}",
        duration(started.elapsed())
    );
    let (first, first_time) = h.allocate_timed();
    let mut empty = Vec::new();
    let mut empty_allocations = 0;
    let budget = Instant::now();
    for _ in 0..args.rounds.unwrap_or(20).max(1) {
        let (a, t) = h.allocate_timed();
        empty_allocations += a.len();
        empty.push(t);
        if budget.elapsed() > Duration::from_secs(args.budget) {
            break;
        }
    }
    h.check_no_overcommit()
        .map_err(|e| anyhow::anyhow!("invariant broken: {e}"))?;
    let agents = small / 5 + large * 5;
    let mut fl = floor::DrfFloor::new(
        agents,
        small + large,
        [2_000, 2_048, 2_048, 0],
        None,
        args.seed,
    );
    let (_, floor_first) = fl.pass();
    let mut floor_empty: Vec<Duration> = (0..empty.len()).map(|_| fl.pass().1).collect();
    println!(
        "  first cycle: {}  ({} allocations)   floor {}  target ≤ 30 ms [Mesos ≈ 15 s]: {}",
        duration(first_time),
        thousands(first.len() as u64),
        duration(floor_first),
        if first_time <= ms(30) {
            "met"
        } else {
            "MISSED"
        }
    );
    let p50 = percentile(&mut empty, 50.0);
    println!(
        "  empty cycle: {}  ({} allocations)",
        stats::summary(&mut empty),
        empty_allocations
    );
    println!(
        "        floor: {}  (every agent scanned, nothing free)",
        stats::summary(&mut floor_empty)
    );
    println!(
        "       target: ≤ 1 ms [Mesos ≈ 13–14 s]: {}",
        if p50 <= ms(1) { "met" } else { "MISSED" }
    );
    Ok(0)
}

fn idle(args: &AllocatorArgs) -> anyhow::Result<u8> {
    let (agents, frameworks) = (args.agents, args.frameworks);
    println!(
        "allocator: idle cycle, {} agents × {} frameworks, everything already offered, allocator {}",
        thousands(agents as u64),
        thousands(frameworks as u64),
        args.allocator
    );
    let started = Instant::now();
    let mut h = shapes::idle(new_allocator(&args.allocator)?, agents, frameworks)?;
    println!(
        "  setup (incl. the first, full cycle): {}",
        duration(started.elapsed())
    );
    let mut times = Vec::new();
    let mut allocations = 0;
    let budget = Instant::now();
    for _ in 0..args.rounds.unwrap_or(100).max(1) {
        let (a, t) = h.allocate_timed();
        allocations += a.len();
        times.push(t);
        if budget.elapsed() > Duration::from_secs(args.budget) {
            break;
        }
    }
    h.check_no_overcommit()
        .map_err(|e| anyhow::anyhow!("invariant broken: {e}"))?;
    let mut fl = floor::DrfFloor::new(
        agents,
        frameworks,
        [24_000, 4096, 4096, 1001],
        Some([16_000, 2014, 1024, 16]),
        args.seed,
    );
    let _ = fl.pass();
    let mut floor_times: Vec<Duration> = (0..times.len()).map(|_| fl.pass().1).collect();
    let p50 = percentile(&mut times, 50.0);
    println!(
        "  cycle:  {}  ({allocations} allocations)",
        stats::summary(&mut times)
    );
    println!(
        "  floor:  {}  (every agent scanned, nothing free; an allocator that tracks changes may skip even that)",
        stats::summary(&mut floor_times)
    );
    println!(
        "  target: ≤ 1 ms p50: {}",
        if p50 <= ms(1) { "met" } else { "MISSED" }
    );
    Ok(0)
}

fn scaling(args: &AllocatorArgs) -> anyhow::Result<u8> {
    let frameworks = args.frameworks;
    let rounds = args.rounds.unwrap_or(3).max(1);
    println!(
        "allocator: DeclineOffers scaling, {} frameworks, {rounds} cycles per row, allocator {}",
        thousands(frameworks as u64),
        args.allocator
    );
    println!(
        "  {:>7}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>8}  target",
        "agents", "setup", "cycle p50", "cycle max", "floor p50", "floor max", "× floor"
    );
    for agents in [1_000, 5_000, 10_000, 20_000, 50_000] {
        let started = Instant::now();
        let mut h = shapes::decline_offers(new_allocator(&args.allocator)?, agents, frameworks)?;
        let setup = started.elapsed();
        let (mut times, _) = decline_series(&mut h, rounds, Duration::from_secs(args.budget))?;
        drop(h);
        let mut floor_times = floor::decline_rounds(agents, frameworks, times.len(), args.seed);
        let p50 = percentile(&mut times, 50.0);
        let max = percentile(&mut times, 100.0);
        let f50 = percentile(&mut floor_times, 50.0);
        let fmax = percentile(&mut floor_times, 100.0);
        let target = match decline_target(agents, frameworks) {
            Some(t) => format!(
                "≤ {}: {}",
                duration(t.p50),
                if p50 <= t.p50 { "met" } else { "MISSED" }
            ),
            None => "-".to_string(),
        };
        println!(
            "  {:>7}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>7.0}×  {target}",
            thousands(agents as u64),
            duration(setup),
            duration(p50),
            duration(max),
            duration(f50),
            duration(fmax),
            ratio(p50, f50),
        );
    }
    Ok(0)
}
