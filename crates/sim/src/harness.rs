//! [`AllocHarness`]: any [`Allocator`] driven directly, as Mesos's allocator benchmarks do
//! (no master, no offers, no messages), with its own bookkeeping of what is handed out so that
//! invariants can be checked from outside the allocator.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use corral_master::allocator::{Allocation, Allocator, FrameworkSpec, Held, Quota};
use corral_resources::Resources;

use crate::cluster::SIM_START;

/// What the harness remembers about an agent.
#[derive(Debug, Clone)]
struct AgentBook {
    id: String,
    total: Resources,
    /// Held by frameworks (added with the agent, allocated and not recovered).
    allocated: Resources,
}

/// See the module documentation.
pub struct AllocHarness {
    allocator: Box<dyn Allocator>,
    now: f64,
    agents: Vec<AgentBook>,
    agent_index: HashMap<String, usize>,
    frameworks: Vec<String>,
    /// Bookkeeping problems (recovering what was not held).
    problems: Vec<String>,
    /// Allocations returned by `allocate` over the harness's life.
    pub allocations_made: u64,
}

impl AllocHarness {
    /// A harness around `allocator` (which should be empty).
    pub fn new(allocator: Box<dyn Allocator>) -> Self {
        Self {
            allocator,
            now: SIM_START,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            frameworks: Vec::new(),
            problems: Vec::new(),
            allocations_made: 0,
        }
    }

    /// The allocator, for calls the harness does not wrap.
    pub fn allocator_mut(&mut self) -> &mut dyn Allocator {
        self.allocator.as_mut()
    }

    /// The simulated time.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Move time forward.
    pub fn advance(&mut self, secs: f64) {
        self.now += secs.max(0.0);
    }

    /// Number of agents added.
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// Framework ids, in the order they were added.
    pub fn frameworks(&self) -> &[String] {
        &self.frameworks
    }

    /// Add a framework subscribed to `roles`. Returns its id (`framework-<n>`).
    pub fn add_framework(&mut self, roles: &[&str]) -> String {
        let id = format!("framework-{}", self.frameworks.len());
        let spec = FrameworkSpec {
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
            ..FrameworkSpec::default()
        };
        self.allocator.add_framework(&id, &spec);
        self.frameworks.push(id.clone());
        id
    }

    /// Add an agent with `total`, of which `held` is already held. Returns its id
    /// (`agent-<n>`).
    pub fn add_agent(&mut self, total: &Resources, held: &[Held]) -> String {
        let id = format!("agent-{}", self.agents.len());
        self.allocator.add_agent(&id, total, held);
        let mut allocated = Resources::default();
        for h in held {
            allocated.add_all(&h.resources);
        }
        self.agent_index.insert(id.clone(), self.agents.len());
        self.agents.push(AgentBook {
            id: id.clone(),
            total: total.clone(),
            allocated,
        });
        id
    }

    /// Set a role's quota.
    pub fn set_quota(&mut self, role: &str, quota: Quota) {
        self.allocator.set_quota(role, Some(quota));
    }

    /// One allocation cycle, timed (only the allocator's `allocate` is inside the timing).
    /// The allocations are recorded as held.
    pub fn allocate_timed(&mut self) -> (Vec<Allocation>, Duration) {
        let started = Instant::now();
        let allocations = self.allocator.allocate(self.now);
        let elapsed = started.elapsed();
        self.allocations_made += allocations.len() as u64;
        for a in &allocations {
            if let Some(&i) = self.agent_index.get(&a.agent_id) {
                self.agents[i].allocated.add_all(&a.resources);
            }
        }
        (allocations, elapsed)
    }

    /// Hand allocations back (a decline), refusing them for `refuse_seconds`.
    pub fn decline(&mut self, allocations: &[Allocation], refuse_seconds: Option<f64>) {
        for a in allocations {
            self.allocator.recover(
                &a.framework_id,
                &a.agent_id,
                &a.role,
                &a.resources,
                refuse_seconds,
                self.now,
            );
            if let Some(&i) = self.agent_index.get(&a.agent_id) {
                let book = &mut self.agents[i];
                if book.allocated.subtract(&a.resources).is_err() {
                    self.problems.push(format!(
                        "agent {}: {} recovered but not held",
                        book.id, a.resources
                    ));
                    book.allocated = Resources::default();
                }
            }
        }
    }

    /// Invariant: on every agent, what is held (including this harness's allocations) fits in
    /// the agent's total. Returns the first violation.
    pub fn check_no_overcommit(&self) -> Result<(), String> {
        if let Some(p) = self.problems.first() {
            return Err(p.clone());
        }
        for a in &self.agents {
            if !a.total.contains(&a.allocated) {
                return Err(format!(
                    "agent {}: allocated {} exceeds total {}",
                    a.id, a.allocated, a.total
                ));
            }
        }
        Ok(())
    }

    /// Resources not held on the agents, summed (what a cycle could still hand out).
    pub fn free_total(&self) -> Resources {
        let mut free = Resources::default();
        for a in &self.agents {
            free.add_all(&a.total.saturating_sub(&a.allocated));
        }
        free
    }
}
