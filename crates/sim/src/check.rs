//! Invariant checkers over a [`MasterCore`], through its public views only (GET_AGENTS,
//! GET_TASKS, metrics), so they hold for any allocator and any core internals.

use std::collections::BTreeMap;

use corral_api::v1;
use corral_master::core::MasterCore;
use corral_resources::Resources;

use crate::cluster::SimCluster;

fn resources(what: &str, agent: &str, proto: &[v1::Resource]) -> Result<Resources, String> {
    Resources::from_proto(proto)
        .map(|r| r.stripped())
        .map_err(|e| format!("agent {agent}: {what} resources are invalid: {e}"))
}

/// ARCHITECTURE.md invariant 1: on every agent, `used + offered ⊆ total`.
pub fn check_no_overcommit(core: &MasterCore) -> Result<(), String> {
    for agent in core.get_agents().agents {
        let id = agent
            .agent_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let total = resources("total", &id, &agent.total_resources)?;
        let mut held = resources("allocated", &id, &agent.allocated_resources)?;
        held.add_all(&resources("offered", &id, &agent.offered_resources)?);
        if !total.contains(&held) {
            return Err(format!(
                "agent {id}: used + offered ({held}) exceeds total ({total})"
            ));
        }
    }
    Ok(())
}

/// The offers the simulated schedulers hold are exactly the master's outstanding offers, and
/// per agent they add up to what the master counts as offered.
pub fn check_offers_match(sim: &SimCluster) -> Result<(), String> {
    let core = sim.core();
    let outstanding = core
        .metrics(sim.now())
        .get("master/outstanding_offers")
        .copied()
        .unwrap_or(0.0) as usize;
    if outstanding != sim.outstanding_offers() {
        return Err(format!(
            "master has {outstanding} outstanding offers, schedulers hold {}",
            sim.outstanding_offers()
        ));
    }
    let mut held: BTreeMap<String, Resources> = BTreeMap::new();
    for i in 0..sim.frameworks().len() {
        for offer in sim.offers(i) {
            let r = resources("offer", &offer.agent_id.value, &offer.resources)?;
            held.entry(offer.agent_id.value.clone())
                .or_default()
                .add_all(&r);
        }
    }
    for agent in core.get_agents().agents {
        let id = agent
            .agent_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let offered = resources("offered", &id, &agent.offered_resources)?;
        let ours = held.remove(&id).unwrap_or_default();
        if offered != ours {
            return Err(format!(
                "agent {id}: master counts {offered} offered, schedulers hold {ours}"
            ));
        }
    }
    match held.into_keys().next() {
        Some(id) => Err(format!("schedulers hold offers for unknown agent {id}")),
        None => Ok(()),
    }
}

/// Tasks the master tracks: (non-completed, completed).
pub fn task_counts(core: &MasterCore) -> (usize, usize) {
    let tasks = core.get_tasks();
    (tasks.tasks.len(), tasks.completed_tasks.len())
}
