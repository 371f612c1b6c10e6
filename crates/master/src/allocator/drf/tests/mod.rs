//! Tests of the DRF allocator: a harness that keeps its own ledger of what was handed out and
//! checks the contract from outside, plus an internal consistency check.

mod basic;
mod controls;
mod invariants;
mod props;
mod quota;
mod timing;

use std::collections::BTreeMap;

use corral_resources::{ResourceQuantities, Resources};

use super::{DrfConfig, HierarchicalAllocator};
use crate::allocator::{Allocation, Allocator, FrameworkSpec, Held, Quota};

pub(super) fn res(text: &str) -> Resources {
    corral_resources::parse_resources(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(super) fn q(text: &str) -> ResourceQuantities {
    ResourceQuantities::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(super) fn quota(guarantees: &str, limits: &str) -> Option<Quota> {
    Some(Quota {
        guarantees: q(guarantees),
        limits: q(limits),
    })
}

pub(super) fn spec(roles: &[&str]) -> FrameworkSpec {
    FrameworkSpec {
        roles: roles.iter().map(|r| (*r).to_string()).collect(),
        ..FrameworkSpec::default()
    }
}

/// A live filter as the harness remembers it.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    pub framework: String,
    pub agent: String,
    pub role: String,
    pub refused: Resources,
    pub until: f64,
}

/// Drives an allocator and checks every allocation against its own ledger.
pub(super) struct Sim {
    pub alloc: HierarchicalAllocator,
    pub now: f64,
    pub totals: BTreeMap<String, Resources>,
    /// (framework, agent, role) → held.
    pub held: BTreeMap<(String, String, String), Resources>,
    pub specs: BTreeMap<String, FrameworkSpec>,
    pub inactive: Vec<String>,
    pub suppressed: Vec<(String, String)>,
    pub refusals: Vec<Refusal>,
    pub limits: BTreeMap<String, ResourceQuantities>,
}

impl Sim {
    pub fn new() -> Sim {
        Sim::with(DrfConfig::default())
    }

    pub fn with(config: DrfConfig) -> Sim {
        Sim {
            alloc: HierarchicalAllocator::new(config),
            now: 1_000.0,
            totals: BTreeMap::new(),
            held: BTreeMap::new(),
            specs: BTreeMap::new(),
            inactive: Vec::new(),
            suppressed: Vec::new(),
            refusals: Vec::new(),
            limits: BTreeMap::new(),
        }
    }

    pub fn agent(&mut self, id: &str, total: &str) {
        self.agent_with(id, total, &[]);
    }

    pub fn agent_with(&mut self, id: &str, total: &str, held: &[Held]) {
        let total = res(total);
        self.alloc.add_agent(id, &total, held);
        for h in held {
            let key = (h.framework_id.clone(), id.to_string(), h.role.clone());
            self.held.entry(key).or_default().add_all(&h.resources);
        }
        self.totals.insert(id.to_string(), total);
    }

    /// Subscribes (or re-subscribes) a framework. Filters of roles it leaves are gone.
    pub fn framework(&mut self, id: &str, spec: FrameworkSpec) {
        self.alloc.add_framework(id, &spec);
        self.refusals
            .retain(|x| x.framework != id || spec.roles.contains(&x.role));
        self.suppressed.retain(|(f, _)| f != id);
        for r in &spec.suppressed_roles {
            self.suppressed.push((id.to_string(), r.clone()));
        }
        self.inactive.retain(|f| f != id);
        self.specs.insert(id.to_string(), spec);
    }

    pub fn set_quota(&mut self, role: &str, quota: Option<Quota>) {
        match &quota {
            Some(q) => self.limits.insert(role.to_string(), q.limits.clone()),
            None => self.limits.remove(role),
        };
        self.alloc.set_quota(role, quota);
    }

    /// One cycle, checked.
    pub fn allocate(&mut self) -> Vec<Allocation> {
        let out = self.alloc.allocate(self.now);
        for a in &out {
            self.check_allocation(a);
            let key = (a.framework_id.clone(), a.agent_id.clone(), a.role.clone());
            self.held.entry(key).or_default().add_all(&a.resources);
        }
        self.check_ledger();
        self.check_limits(&out);
        if let Err(e) = self.alloc.check_invariants() {
            panic!("internal invariant: {e}");
        }
        out
    }

    /// Allocates until a cycle hands out nothing.
    pub fn settle(&mut self) -> usize {
        let mut n = 0;
        for _ in 0..100 {
            let out = self.allocate();
            if out.is_empty() {
                return n;
            }
            n += out.len();
        }
        panic!("allocation does not settle");
    }

    /// Gives back what `framework` holds on `agent` in `role`.
    pub fn recover(&mut self, framework: &str, agent: &str, role: &str, refuse: Option<f64>) {
        let key = (framework.to_string(), agent.to_string(), role.to_string());
        let Some(r) = self.held.remove(&key) else {
            return;
        };
        self.recover_part(framework, agent, role, &r, refuse);
    }

    pub fn recover_part(
        &mut self,
        framework: &str,
        agent: &str,
        role: &str,
        resources: &Resources,
        refuse: Option<f64>,
    ) {
        let key = (framework.to_string(), agent.to_string(), role.to_string());
        if let Some(h) = self.held.get_mut(&key) {
            if h.subtract(resources).is_ok() && h.is_empty() {
                self.held.remove(&key);
            }
        }
        self.alloc
            .recover(framework, agent, role, resources, refuse, self.now);
        if let Some(until) = super::filters::refuse_until(refuse, self.now) {
            if self
                .specs
                .get(framework)
                .is_some_and(|s| s.roles.iter().any(|r| r == role))
            {
                self.refusals.push(Refusal {
                    framework: framework.to_string(),
                    agent: agent.to_string(),
                    role: role.to_string(),
                    refused: resources.clone(),
                    until,
                });
            }
        }
    }

    /// Gives back everything `framework` holds.
    pub fn recover_all(&mut self, framework: &str, refuse: Option<f64>) {
        let keys: Vec<_> = self
            .held
            .keys()
            .filter(|k| k.0 == framework)
            .cloned()
            .collect();
        for (f, a, r) in keys {
            self.recover(&f, &a, &r, refuse);
        }
    }

    pub fn revive(&mut self, framework: &str, roles: &[&str]) {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_string()).collect();
        self.alloc.revive(framework, &roles);
        self.refusals
            .retain(|x| x.framework != framework || !(roles.is_empty() || roles.contains(&x.role)));
        self.suppressed
            .retain(|(f, r)| f != framework || !(roles.is_empty() || roles.contains(r)));
    }

    pub fn suppress(&mut self, framework: &str, roles: &[&str]) {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_string()).collect();
        self.alloc.suppress(framework, &roles);
        let all = self
            .specs
            .get(framework)
            .map(|s| s.roles.clone())
            .unwrap_or_default();
        for r in if roles.is_empty() { all } else { roles } {
            self.suppressed.push((framework.to_string(), r));
        }
    }

    /// What `framework` holds in total (all agents, all roles).
    pub fn holding(&self, framework: &str) -> Resources {
        let mut out = Resources::new();
        for ((f, _, _), r) in &self.held {
            if f == framework {
                out.add_all(r);
            }
        }
        out
    }

    fn check_allocation(&self, a: &Allocation) {
        let spec = self
            .specs
            .get(&a.framework_id)
            .unwrap_or_else(|| panic!("offer to unknown framework {}", a.framework_id));
        assert!(
            spec.roles.contains(&a.role),
            "offer in a role not subscribed: {a:?}"
        );
        assert!(
            !self.inactive.contains(&a.framework_id),
            "offer to an inactive framework: {a:?}"
        );
        assert!(
            !self
                .suppressed
                .contains(&(a.framework_id.clone(), a.role.clone())),
            "offer to a suppressed role: {a:?}"
        );
        assert!(
            a.resources.iter().any(|r| r.as_scalar().is_some()),
            "offer without scalars"
        );
        for r in a.resources.iter() {
            if let Some(reserved) = r.reservation_role() {
                assert!(
                    corral_resources::roles::is_role_or_subrole(&a.role, reserved),
                    "{reserved} reservation offered to {}",
                    a.role
                );
            }
        }
        let total = &self.totals[&a.agent_id];
        if total.gpus() > corral_resources::Scalar::ZERO {
            assert!(
                spec.gpu_aware,
                "GPU agent offered to a framework without GPU_RESOURCES"
            );
        }
        let mins = spec
            .min_allocatable
            .get(&a.role)
            .cloned()
            .unwrap_or_else(|| self.alloc.config().min_allocatable.clone());
        let have = a.resources.quantities();
        assert!(
            mins.is_empty() || mins.iter().any(|m| have.contains(m)),
            "offer below the minimum: {a:?}"
        );
        for x in &self.refusals {
            if x.framework == a.framework_id
                && x.agent == a.agent_id
                && x.role == a.role
                && x.until > self.now
            {
                assert!(
                    !x.refused.contains(&a.resources),
                    "filtered offer made: {a:?} {x:?}"
                );
            }
        }
    }

    /// Never more held on an agent than it has.
    fn check_ledger(&self) {
        for (agent, total) in &self.totals {
            let mut held = Resources::new();
            for ((_, a, _), r) in &self.held {
                if a == agent {
                    held.add_all(r);
                }
            }
            assert!(
                total.contains(&held),
                "agent {agent}: held {held} exceeds {total}"
            );
        }
    }

    /// No role's consumption grows beyond its limit through this cycle's unreserved offers.
    fn check_limits(&self, out: &[Allocation]) {
        for (role, limits) in &self.limits {
            let grew: Vec<String> = out
                .iter()
                .filter(|a| corral_resources::roles::is_role_or_subrole(&a.role, role))
                .flat_map(|a| {
                    a.resources
                        .iter()
                        .filter(|r| r.is_unreserved() && r.as_scalar().is_some())
                        .map(|r| r.name.clone())
                        .collect::<Vec<_>>()
                })
                .collect();
            let mut consumed = ResourceQuantities::new();
            for total in self.totals.values() {
                for r in total.reserved_to_role_subtree(role).iter() {
                    if let Some(s) = r.as_scalar() {
                        consumed.add_quantity(&r.name, s);
                    }
                }
            }
            for ((_, _, r), held) in &self.held {
                if corral_resources::roles::is_role_or_subrole(r, role) {
                    for x in held.iter().filter(|x| x.is_unreserved() && !x.revocable) {
                        if let Some(s) = x.as_scalar() {
                            consumed.add_quantity(&x.name, s);
                        }
                    }
                }
            }
            for (name, limit) in limits.iter() {
                if grew.iter().any(|g| g == name) {
                    assert!(
                        consumed.get(name) <= limit,
                        "role {role} consumes {} of {name}, limit {limit}",
                        consumed.get(name)
                    );
                }
            }
        }
    }
}
