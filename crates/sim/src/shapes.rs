//! Mesos's allocator benchmark shapes (`src/tests/hierarchical_allocator_benchmarks.cpp` and
//! `hierarchical_allocator_tests.cpp`, see `reference/performance-targets.md` §1.1), set up on
//! an [`AllocHarness`].

use std::time::Duration;

use corral_master::allocator::{Allocator, Held, Quota};
use corral_resources::{ResourceQuantities, Resources};

use crate::cluster::REFUSE_FOREVER;
use crate::harness::AllocHarness;
use crate::SimError;

/// `DeclineOffers`: every agent's total.
pub const DECLINE_AGENT: &str = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]";
/// `DeclineOffers`: what one framework already holds on every agent (plus port fragments).
pub const DECLINE_USED: &str = "cpus:16;mem:2014;disk:1024";
/// `DeclineOffers`: port fragments held on every agent.
pub const DECLINE_PORT_FRAGMENTS: u64 = 16;

/// `LargeAndSmallQuota`: every agent's total.
pub const QUOTA_AGENT: &str = "cpus:2;mem:2048;disk:2048";
/// `LargeAndSmallQuota`: a small role's quota.
pub const SMALL_QUOTA: &str = "cpus:1;mem:1024;disk:1024";
/// `LargeAndSmallQuota`: a large role's quota.
pub const LARGE_QUOTA: &str = "cpus:4;mem:4096;disk:4096";

/// `n` single-port ranges inside `[begin, end]`, every other port (Mesos's `fragment()`):
/// `[31000-31000,31002-31002,…]`.
pub fn port_fragments(begin: u64, end: u64, n: u64) -> String {
    let parts: Vec<String> = (0..n)
        .map(|i| begin + 2 * i)
        .filter(|p| *p <= end)
        .map(|p| format!("{p}-{p}"))
        .collect();
    format!("[{}]", parts.join(","))
}

fn parse(text: &str) -> Result<Resources, SimError> {
    corral_resources::parse_resources(text).map_err(|e| SimError::Resources {
        text: text.to_string(),
        reason: e.to_string(),
    })
}

fn quantities(text: &str) -> Result<ResourceQuantities, SimError> {
    ResourceQuantities::parse(text).map_err(|e| SimError::Resources {
        text: text.to_string(),
        reason: e.to_string(),
    })
}

/// `DeclineOffers`: `frameworks` frameworks in role `*`, then `agents` agents of
/// [`DECLINE_AGENT`], each with [`DECLINE_USED`] plus 16 port fragments already held by one
/// framework, round-robin.
pub fn decline_offers(
    allocator: Box<dyn Allocator>,
    agents: usize,
    frameworks: usize,
) -> Result<AllocHarness, SimError> {
    let mut h = AllocHarness::new(allocator);
    let total = parse(DECLINE_AGENT)?;
    let used = parse(&format!(
        "{DECLINE_USED};ports:{}",
        port_fragments(31000, 32000, DECLINE_PORT_FRAGMENTS)
    ))?;
    for _ in 0..frameworks {
        h.add_framework(&["*"]);
    }
    for i in 0..agents {
        let held = if frameworks == 0 {
            Vec::new()
        } else {
            vec![Held {
                framework_id: h.frameworks()[i % frameworks].clone(),
                role: "*".to_string(),
                resources: used.clone(),
            }]
        };
        h.add_agent(&total, &held);
    }
    Ok(h)
}

/// One `DeclineOffers` round: allocate (timed), then every allocation is declined with
/// `refuse_seconds = INT_MAX`. Returns the allocations made and the cycle's time.
pub fn decline_round(h: &mut AllocHarness) -> (usize, Duration) {
    let (allocations, elapsed) = h.allocate_timed();
    h.decline(&allocations, Some(REFUSE_FOREVER));
    (allocations.len(), elapsed)
}

/// `LargeAndSmallQuota`: `small` roles with [`SMALL_QUOTA`] and `large` roles with
/// [`LARGE_QUOTA`] (guarantee = limit), one framework per role, and `small / 5 + large * 5`
/// agents of [`QUOTA_AGENT`]. `/2` is `(2500, 500)`: 3,000 agents, roles and frameworks.
pub fn large_and_small_quota(
    allocator: Box<dyn Allocator>,
    small: usize,
    large: usize,
) -> Result<AllocHarness, SimError> {
    let mut h = AllocHarness::new(allocator);
    let small_quota = quantities(SMALL_QUOTA)?;
    let large_quota = quantities(LARGE_QUOTA)?;
    let mut roles = Vec::with_capacity(small + large);
    for i in 0..small {
        roles.push((format!("quota-small-{i}"), small_quota.clone()));
    }
    for i in 0..large {
        roles.push((format!("quota-large-{i}"), large_quota.clone()));
    }
    for (role, q) in &roles {
        h.set_quota(
            role,
            Quota {
                guarantees: q.clone(),
                limits: q.clone(),
            },
        );
        h.add_framework(&[role.as_str()]);
    }
    let total = parse(QUOTA_AGENT)?;
    for _ in 0..(small / 5 + large * 5) {
        h.add_agent(&total, &[]);
    }
    Ok(h)
}

/// The idle shape: `DeclineOffers`'s cluster after one cycle whose allocations are all kept
/// (offers outstanding), so every later cycle has nothing to hand out.
pub fn idle(
    allocator: Box<dyn Allocator>,
    agents: usize,
    frameworks: usize,
) -> Result<AllocHarness, SimError> {
    let mut h = decline_offers(allocator, agents, frameworks)?;
    let _ = h.allocate_timed();
    Ok(h)
}
