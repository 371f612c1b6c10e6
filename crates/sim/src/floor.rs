//! Physical floors, measured on the machine that runs the benchmark (see
//! `reference/performance-targets.md` §8): the least work any implementation has to do for the
//! same shape, so that every benchmark figure can be printed next to it.
//!
//! * [`DrfFloor`]: the core DRF loop on plain arrays: agents visited in shuffled order,
//!   frameworks in a `BTreeSet` keyed by dominant share, per-framework filter bitsets; each
//!   agent's free resources go to the lowest-share framework that does not filter it.
//! * [`memcpy`]: copying `n` bytes into a fresh buffer (page-fault bound).
//! * [`rss_bytes`]: the process's resident set size.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::rng::SimRng;

/// Resource kinds of the floor model: cpus (milli), mem (MB), disk (MB), ports (count).
pub const KINDS: usize = 4;

/// Quantities of the floor model, one slot per kind.
pub type Amounts = [u64; KINDS];

/// See the module documentation.
pub struct DrfFloor {
    totals: Amounts,
    free: Vec<Amounts>,
    order: Vec<u32>,
    allocated: Vec<Amounts>,
    share_of: Vec<u64>,
    sorted: BTreeSet<(u64, u32)>,
    /// Per framework, one bit per agent: refused for good.
    filters: Vec<Vec<u64>>,
    /// Allocations of the last pass, to decline.
    last: Vec<(u32, u32, Amounts)>,
}

fn is_zero(a: &Amounts) -> bool {
    a.iter().all(|v| *v == 0)
}

impl DrfFloor {
    /// `agents` agents of `agent_total`, of which `held` (if any) is held by framework
    /// `i % frameworks`, and `frameworks` frameworks; agents are visited in an order shuffled
    /// with `seed`.
    pub fn new(
        agents: usize,
        frameworks: usize,
        agent_total: Amounts,
        held: Option<Amounts>,
        seed: u64,
    ) -> Self {
        let mut totals = [0u64; KINDS];
        for (t, a) in totals.iter_mut().zip(agent_total) {
            *t = a.saturating_mul(agents as u64).max(1);
        }
        let mut free = vec![agent_total; agents];
        let mut allocated = vec![[0u64; KINDS]; frameworks];
        if let (Some(held), true) = (held, frameworks > 0) {
            for (i, f) in free.iter_mut().enumerate() {
                let owner = i % frameworks;
                for k in 0..KINDS {
                    f[k] -= held[k].min(f[k]);
                    allocated[owner][k] += held[k];
                }
            }
        }
        let mut order: Vec<u32> = (0..agents as u32).collect();
        SimRng::new(seed).shuffle(&mut order);
        let mut floor = Self {
            totals,
            free,
            order,
            allocated,
            share_of: vec![0; frameworks],
            sorted: BTreeSet::new(),
            filters: vec![vec![0u64; agents.div_ceil(64)]; frameworks],
            last: Vec::new(),
        };
        for f in 0..frameworks {
            let s = floor.share(f);
            floor.share_of[f] = s;
            floor.sorted.insert((s, f as u32));
        }
        floor
    }

    /// Dominant share of framework `f`, in billionths.
    fn share(&self, f: usize) -> u64 {
        (0..KINDS)
            .map(|k| {
                (u128::from(self.allocated[f][k]) * 1_000_000_000 / u128::from(self.totals[k]))
                    as u64
            })
            .max()
            .unwrap_or(0)
    }

    fn reshare(&mut self, f: usize) {
        self.sorted.remove(&(self.share_of[f], f as u32));
        let s = self.share(f);
        self.share_of[f] = s;
        self.sorted.insert((s, f as u32));
    }

    fn filtered(&self, f: usize, agent: usize) -> bool {
        self.filters[f][agent / 64] & (1u64 << (agent % 64)) != 0
    }

    /// One allocation pass, timed: every agent with something free goes, whole, to the
    /// lowest-share framework that does not filter it. Returns (allocations, time).
    pub fn pass(&mut self) -> (usize, Duration) {
        self.last.clear();
        let started = Instant::now();
        for i in 0..self.order.len() {
            let agent = self.order[i] as usize;
            if is_zero(&self.free[agent]) {
                continue;
            }
            let chosen = self
                .sorted
                .iter()
                .map(|(_, f)| *f as usize)
                .find(|f| !self.filtered(*f, agent));
            let Some(f) = chosen else { continue };
            let amount = self.free[agent];
            for (held, a) in self.allocated[f].iter_mut().zip(amount) {
                *held += a;
            }
            self.free[agent] = [0; KINDS];
            self.reshare(f);
            self.last.push((f as u32, agent as u32, amount));
        }
        let elapsed = started.elapsed();
        (black_box(self.last.len()), elapsed)
    }

    /// Decline the last pass's allocations for good (not timed), as `DeclineOffers` does.
    pub fn decline_last(&mut self) {
        let last = std::mem::take(&mut self.last);
        for (f, agent, amount) in &last {
            let (f, agent) = (*f as usize, *agent as usize);
            for (k, a) in amount.iter().enumerate() {
                self.allocated[f][k] -= a;
                self.free[agent][k] += a;
            }
            self.filters[f][agent / 64] |= 1u64 << (agent % 64);
            self.reshare(f);
        }
    }
}

/// The `DeclineOffers` floor: the same agents, frameworks and rounds as the benchmark, each
/// round's allocation pass timed and its allocations declined for good.
pub fn decline_rounds(agents: usize, frameworks: usize, rounds: usize, seed: u64) -> Vec<Duration> {
    // cpus:24;mem:4096;disk:4096;ports:[31000-32000], of which cpus:16;mem:2014;disk:1024 and
    // 16 ports are held.
    let mut floor = DrfFloor::new(
        agents,
        frameworks,
        [24_000, 4096, 4096, 1001],
        Some([16_000, 2014, 1024, 16]),
        seed,
    );
    (0..rounds)
        .map(|_| {
            let (_, t) = floor.pass();
            floor.decline_last();
            t
        })
        .collect()
}

/// Copy `bytes` bytes into a freshly allocated buffer; the best of `runs`.
pub fn memcpy(bytes: usize, runs: usize) -> Duration {
    let source = vec![0x5au8; bytes];
    let mut best = Duration::MAX;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let copy = black_box(&source).to_vec();
        black_box(&copy);
        best = best.min(started.elapsed());
        drop(copy);
    }
    best
}

/// The resident set size of this process in bytes (`VmRSS` of `/proc/self/status`), if
/// readable.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_declines_converge_to_no_allocations() {
        // 10 agents, 3 frameworks: after 3 declining rounds every framework refused every
        // agent, so the 4th round hands out nothing.
        let mut floor = DrfFloor::new(10, 3, [24_000, 4096, 4096, 1001], None, 1);
        for _ in 0..3 {
            let (n, _) = floor.pass();
            assert_eq!(n, 10);
            floor.decline_last();
        }
        assert_eq!(floor.pass().0, 0);
    }

    #[test]
    fn floor_gives_each_agent_to_the_lowest_share() {
        let mut floor = DrfFloor::new(4, 2, [1000, 1, 1, 0], None, 1);
        let (n, _) = floor.pass();
        assert_eq!(n, 4);
        // Alternating owners: both end with two agents.
        assert_eq!(floor.allocated[0][0], 2000);
        assert_eq!(floor.allocated[1][0], 2000);
        assert_eq!(floor.pass().0, 0, "nothing left to hand out");
    }

    #[test]
    fn rss_is_readable_on_linux() {
        assert!(rss_bytes().is_some_and(|b| b > 0));
        assert!(memcpy(1 << 16, 2) > Duration::ZERO);
    }
}
