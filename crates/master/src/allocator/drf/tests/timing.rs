//! Cycle times at Mesos's benchmark shapes (see `reference/performance-targets.md` §1.1).
//! Not a pass/fail test: run with
//! `cargo test -p corral-master --release drf_timing -- --ignored --nocapture`.
//! `DRF_TIMING_FULL=1` runs `DeclineOffers` for all 2 × frameworks rounds at 10k × 1000 (until
//! every agent is filtered by every framework), as Mesos does; `DRF_TIMING_ONLY=decline`
//! (or `quota`, `idle`, or one decline shape such as `10000x1000`) runs part of it.

use std::time::{Duration, Instant};

use super::{quota, res, spec};
use crate::allocator::drf::HierarchicalAllocator;
use crate::allocator::{Allocation, Allocator, Held};

const REFUSE_FOREVER: f64 = 2_147_483_647.0;
const START: f64 = 1_700_000_000.0;

fn ports_fragments(n: u64) -> String {
    let parts: Vec<String> = (0..n)
        .map(|i| 31000 + 2 * i)
        .map(|p| format!("{p}-{p}"))
        .collect();
    format!("[{}]", parts.join(","))
}

fn decline_offers(agents: usize, frameworks: usize) -> (HierarchicalAllocator, Duration) {
    let mut a = HierarchicalAllocator::default();
    let total = res("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
    let used = res(&format!(
        "cpus:16;mem:2014;disk:1024;ports:{}",
        ports_fragments(16)
    ));
    let started = Instant::now();
    for f in 0..frameworks {
        a.add_framework(&format!("framework-{f}"), &spec(&["*"]));
    }
    for i in 0..agents {
        let held = [Held {
            framework_id: format!("framework-{}", i % frameworks),
            role: "*".to_string(),
            resources: used.clone(),
        }];
        a.add_agent(&format!("agent-{i}"), &total, &held);
    }
    (a, started.elapsed())
}

fn decline(a: &mut HierarchicalAllocator, out: &[Allocation], now: f64) {
    for x in out {
        a.recover(
            &x.framework_id,
            &x.agent_id,
            &x.role,
            &x.resources,
            Some(REFUSE_FOREVER),
            now,
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let min = times.first().copied().unwrap_or_default();
    let p50 = times.get(times.len() / 2).copied().unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    format!(
        "min {:.2} / p50 {:.2} / max {:.2} ms over {} cycles",
        ms(min),
        ms(p50),
        ms(max),
        times.len()
    )
}

fn run_decline(agents: usize, frameworks: usize, rounds: usize) {
    let (mut a, setup) = decline_offers(agents, frameworks);
    let mut times = Vec::new();
    let mut offers = 0;
    let mut late = Vec::new();
    for round in 0..rounds {
        let now = START + round as f64;
        let started = Instant::now();
        let out = a.allocate(now);
        let t = started.elapsed();
        times.push(t);
        if round + 10 >= rounds {
            late.push(t);
        }
        offers += out.len();
        decline(&mut a, &out, now);
    }
    if rounds >= 200 {
        for (i, bucket) in times.chunks(rounds / 10).enumerate() {
            let mut bucket = bucket.to_vec();
            let from = i * (rounds / 10);
            println!("  rounds {from}..: {}", summary(&mut bucket));
        }
    }
    let first = times.first().copied().unwrap_or_default();
    println!(
        "DeclineOffers {agents} agents x {frameworks} frameworks: setup {:.0} ms; first cycle \
         {:.2} ms; cycles {}; last 10: {}; {offers} offers",
        ms(setup),
        ms(first),
        summary(&mut times),
        summary(&mut late),
    );
}

fn run_quota(small: usize, large: usize) {
    let mut a = HierarchicalAllocator::default();
    let started = Instant::now();
    for i in 0..small {
        let role = format!("quota-small-{i}");
        let q = "cpus:1;mem:1024;disk:1024";
        a.set_quota(&role, quota(q, q));
        a.add_framework(&format!("fs-{i}"), &spec(&[&role]));
    }
    for i in 0..large {
        let role = format!("quota-large-{i}");
        let q = "cpus:4;mem:4096;disk:4096";
        a.set_quota(&role, quota(q, q));
        a.add_framework(&format!("fl-{i}"), &spec(&[&role]));
    }
    let total = res("cpus:2;mem:2048;disk:2048");
    let agents = small / 5 + large * 5;
    for i in 0..agents {
        a.add_agent(&format!("agent-{i}"), &total, &[]);
    }
    let setup = started.elapsed();
    let t0 = Instant::now();
    let first = a.allocate(START);
    let t_first = t0.elapsed();
    let t1 = Instant::now();
    let second = a.allocate(START + 1.0);
    let t_noop = t1.elapsed();
    // A cycle that has to look at everything (something changed) and finds nothing to do.
    a.revive("fs-0", &[]);
    let t2 = Instant::now();
    let third = a.allocate(START + 2.0);
    let t_empty = t2.elapsed();
    println!(
        "LargeAndSmallQuota {agents} agents, {} roles: setup {:.0} ms; first cycle {:.2} ms \
         ({} offers); no-op cycle {:.4} ms ({}); full empty cycle {:.2} ms ({})",
        small + large,
        ms(setup),
        ms(t_first),
        first.len(),
        ms(t_noop),
        second.len(),
        ms(t_empty),
        third.len(),
    );
}

fn run_idle(agents: usize, frameworks: usize) {
    let (mut a, _) = decline_offers(agents, frameworks);
    let _ = a.allocate(START);
    let mut times = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        let out = a.allocate(START + 1.0 + f64::from(i));
        times.push(started.elapsed());
        assert!(out.is_empty());
    }
    println!(
        "Idle {agents} x {frameworks} no-op cycle: {}",
        summary(&mut times)
    );
}

#[test]
#[ignore = "timing figures; run in release with --ignored --nocapture"]
fn drf_timing() {
    let full = std::env::var("DRF_TIMING_FULL").is_ok();
    let only = std::env::var("DRF_TIMING_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only == name;
    let shapes = [
        (10_000, 1_000, if full { 2_000 } else { 30 }),
        (50_000, 1_000, 10),
        (10_000, 100, 30),
    ];
    for (agents, frameworks, rounds) in shapes {
        if run("decline") || only == format!("{agents}x{frameworks}") {
            run_decline(agents, frameworks, rounds);
        }
    }
    if run("quota") {
        run_quota(2_500, 500);
    }
    if run("idle") {
        run_idle(10_000, 1_000);
    }
}
