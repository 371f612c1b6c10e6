//! The first allocator: correct and simple, not fair. Each cycle walks the agents with
//! something available and offers all of it, per role, to the eligible framework that holds
//! the least (by number of allocations), breaking ties by id. Hierarchical DRF with weights and
//! quota replaces it behind the [`Allocator`] trait.

use std::collections::{BTreeMap, BTreeSet};

use corral_resources::Resources;

use std::collections::BTreeMap as Map;

use super::{Allocation, Allocator, FrameworkSpec, Held, Quota, RoleSummary};
use crate::core::records::Time;

/// Longest filter Mesos honours (365 days).
const MAX_REFUSE_SECONDS: f64 = 31_536_000.0;

#[derive(Debug, Default)]
struct FrameworkEntry {
    roles: Vec<String>,
    suppressed: BTreeSet<String>,
    active: bool,
    /// agent id → (refused resources, until)
    filters: BTreeMap<String, Vec<(Resources, Time)>>,
    /// Number of resource bundles currently held, a crude share.
    held: u64,
}

#[derive(Debug, Default)]
struct AgentEntry {
    total: Resources,
    allocated: Resources,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FirstFitAllocator {
    frameworks: BTreeMap<String, FrameworkEntry>,
    agents: BTreeMap<String, AgentEntry>,
}

impl FirstFitAllocator {
    /// An empty allocator.
    pub fn new() -> Self {
        Self::default()
    }

    fn filtered(entry: &FrameworkEntry, agent_id: &str, offer: &Resources, now: Time) -> bool {
        entry.filters.get(agent_id).is_some_and(|filters| {
            filters
                .iter()
                .any(|(refused, until)| *until > now && refused.contains(offer))
        })
    }

    /// What is left on an agent for allocation.
    fn available(agent: &AgentEntry) -> Resources {
        let mut available = agent.total.clone();
        // `allocated ⊆ total` is an invariant; a failed subtraction would mean a bookkeeping bug,
        // and offering nothing is the safe answer.
        if available.subtract(&agent.allocated).is_err() {
            tracing::error!("allocator: allocated exceeds total on an agent; offering nothing");
            return Resources::default();
        }
        available
    }
}

impl Allocator for FirstFitAllocator {
    fn add_framework(&mut self, framework_id: &str, spec: &FrameworkSpec) {
        let entry = self.frameworks.entry(framework_id.to_string()).or_default();
        entry.roles = spec.roles.clone();
        entry.suppressed = spec.suppressed_roles.iter().cloned().collect();
        entry.active = true;
    }

    fn update_framework(&mut self, framework_id: &str, spec: &FrameworkSpec) {
        if let Some(entry) = self.frameworks.get_mut(framework_id) {
            entry.roles = spec.roles.clone();
            entry.suppressed = spec.suppressed_roles.iter().cloned().collect();
        }
    }

    fn remove_framework(&mut self, framework_id: &str) {
        self.frameworks.remove(framework_id);
    }

    fn deactivate_framework(&mut self, framework_id: &str) {
        if let Some(entry) = self.frameworks.get_mut(framework_id) {
            entry.active = false;
        }
    }

    fn activate_framework(&mut self, framework_id: &str) {
        if let Some(entry) = self.frameworks.get_mut(framework_id) {
            entry.active = true;
        }
    }

    fn add_agent(&mut self, agent_id: &str, total: &Resources, held: &[Held]) {
        let mut allocated = Resources::default();
        for h in held {
            allocated.add_all(&h.resources);
            if let Some(f) = self.frameworks.get_mut(&h.framework_id) {
                f.held += 1;
            }
        }
        self.agents.insert(
            agent_id.to_string(),
            AgentEntry {
                total: total.clone(),
                allocated,
            },
        );
    }

    fn update_agent_total(&mut self, agent_id: &str, total: &Resources) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.total = total.clone();
        }
    }

    fn convert_allocation(
        &mut self,
        _framework_id: &str,
        agent_id: &str,
        _role: &str,
        from: &Resources,
        to: &Resources,
    ) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            let converted =
                agent.total.subtract(from).is_ok() && agent.allocated.subtract(from).is_ok();
            if !converted {
                tracing::error!(
                    agent_id,
                    "allocator: converting resources that are not held"
                );
            }
            agent.total.add_all(to);
            agent.allocated.add_all(to);
        }
    }

    fn remove_agent(&mut self, agent_id: &str) {
        self.agents.remove(agent_id);
        for f in self.frameworks.values_mut() {
            f.filters.remove(agent_id);
        }
    }

    fn recover(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        _role: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: Time,
    ) {
        if resources.is_empty() {
            return;
        }
        if let Some(agent) = self.agents.get_mut(agent_id) {
            if agent.allocated.subtract(resources).is_err() {
                tracing::error!(
                    agent_id,
                    framework_id,
                    "allocator: recovering more than allocated"
                );
                agent.allocated = Resources::default();
            }
        }
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.held = f.held.saturating_sub(1);
            if let Some(secs) = refuse_seconds.filter(|s| s.is_finite() && *s > 0.0) {
                let until = now + secs.min(MAX_REFUSE_SECONDS);
                f.filters
                    .entry(agent_id.to_string())
                    .or_default()
                    .push((resources.clone(), until));
            }
        }
    }

    fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            let roles = if roles.is_empty() {
                f.roles.clone()
            } else {
                roles.to_vec()
            };
            f.suppressed.extend(roles);
        }
    }

    fn revive(&mut self, framework_id: &str, roles: &[String]) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            if roles.is_empty() {
                f.suppressed.clear();
            } else {
                for r in roles {
                    f.suppressed.remove(r);
                }
            }
            f.filters.clear();
        }
    }

    fn set_weights(&mut self, _weights: &Map<String, f64>) {
        // The first allocator is not fair; weights take effect with the DRF allocator.
    }

    fn set_quota(&mut self, _role: &str, _quota: Option<Quota>) {
        // The first allocator ignores quota; the DRF allocator enforces it.
    }

    fn roles(&self) -> Vec<RoleSummary> {
        let mut roles: Map<String, RoleSummary> = Map::new();
        for (id, f) in &self.frameworks {
            for role in &f.roles {
                let r = roles.entry(role.clone()).or_insert_with(|| RoleSummary {
                    name: role.clone(),
                    weight: 1.0,
                    ..RoleSummary::default()
                });
                r.frameworks.push(id.clone());
            }
        }
        roles.into_values().collect()
    }

    fn allocate(&mut self, now: Time) -> Vec<Allocation> {
        // Drop expired filters first so the walk below only sees live ones.
        for f in self.frameworks.values_mut() {
            for filters in f.filters.values_mut() {
                filters.retain(|(_, until)| *until > now);
            }
            f.filters.retain(|_, v| !v.is_empty());
        }
        let mut out = Vec::new();
        let agent_ids: Vec<String> = self.agents.keys().cloned().collect();
        for agent_id in agent_ids {
            let Some(agent) = self.agents.get(&agent_id) else {
                continue;
            };
            let mut available = Self::available(agent);
            if available.is_empty() {
                continue;
            }
            // Candidates: (held, framework id, role), least-held first.
            let mut candidates: Vec<(u64, String, String)> = self
                .frameworks
                .iter()
                .filter(|(_, f)| f.active)
                .flat_map(|(id, f)| {
                    f.roles
                        .iter()
                        .filter(|r| !f.suppressed.contains(*r))
                        .map(move |r| (f.held, id.clone(), r.clone()))
                })
                .collect();
            candidates.sort();
            for (_, framework_id, role) in candidates {
                let offer = available.allocatable_to_role(&role);
                if offer.is_empty() {
                    continue;
                }
                let Some(f) = self.frameworks.get(&framework_id) else {
                    continue;
                };
                if Self::filtered(f, &agent_id, &offer, now) {
                    continue;
                }
                if available.subtract(&offer).is_err() {
                    continue;
                }
                if let Some(agent) = self.agents.get_mut(&agent_id) {
                    agent.allocated.add_all(&offer);
                }
                if let Some(f) = self.frameworks.get_mut(&framework_id) {
                    f.held += 1;
                }
                out.push(Allocation {
                    framework_id,
                    agent_id: agent_id.clone(),
                    role,
                    resources: offer,
                });
                if available.is_empty() {
                    break;
                }
            }
        }
        out
    }

    fn why_not_offered(&self, framework_id: &str, now: Time) -> Vec<(String, String)> {
        let Some(f) = self.frameworks.get(framework_id) else {
            return Vec::new();
        };
        let mut reasons = Vec::new();
        for role in &f.roles {
            let why = if !f.active {
                "framework is disconnected".to_string()
            } else if f.suppressed.contains(role) {
                "suppressed by the framework (REVIVE to receive offers)".to_string()
            } else {
                let filtered: Vec<&String> = f
                    .filters
                    .iter()
                    .filter(|(_, v)| v.iter().any(|(_, until)| *until > now))
                    .map(|(a, _)| a)
                    .collect();
                if filtered.is_empty() {
                    continue;
                }
                format!("declined with a filter on {} agent(s)", filtered.len())
            };
            reasons.push((role.clone(), why));
        }
        reasons
    }
}
