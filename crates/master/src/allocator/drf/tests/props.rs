//! Random sequences of everything the master can tell the allocator, checked after every cycle
//! by the harness (never more held than an agent has, nothing offered twice, reservations only
//! to their subtree, limits never exceeded by an offer, filters, suppression, minimums, GPUs)
//! and by the allocator's internal consistency check; and a cycle right after a cycle hands
//! out nothing.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{quota, res, Sim};
use crate::allocator::{Allocator, FrameworkSpec};
use corral_resources::{Resources, Value};

const ROLES: [&str; 4] = ["a", "b", "a/x", "c/y"];
const AGENTS: [&str; 5] = [
    "cpus:4;mem:4096;disk:1000;ports:[31000-31009]",
    "cpus:2;mem:2048;gpus:1",
    "cpus:2;mem:1024;cpus(a):2;mem(a):1024",
    "cpus:1;mem:512;cpus(a/x):1;mem(a/x):256;disk(b):100",
    "cpus:0.5;mem:64",
];

#[derive(Debug, Clone)]
enum Op {
    AddAgent(usize),
    RemoveAgent(usize),
    AddFramework {
        id: usize,
        roles: u8,
        gpu: bool,
        min: bool,
    },
    RemoveFramework {
        id: usize,
        recover_first: bool,
    },
    Deactivate(usize),
    Activate(usize),
    Allocate,
    Recover {
        pick: usize,
        refuse: Option<u8>,
        half: bool,
    },
    Suppress(usize, u8),
    Revive(usize, u8),
    Weight(usize, u8),
    Quota(usize, u8, u8),
    ClearQuota(usize),
    Reserve(usize, usize),
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..AGENTS.len()).prop_map(Op::AddAgent),
        1 => (0..8usize).prop_map(Op::RemoveAgent),
        3 => (0..5usize, 1..16u8, any::<bool>(), any::<bool>())
            .prop_map(|(id, roles, gpu, min)| Op::AddFramework { id, roles, gpu, min }),
        1 => (0..5usize, any::<bool>())
            .prop_map(|(id, recover_first)| Op::RemoveFramework { id, recover_first }),
        1 => (0..5usize).prop_map(Op::Deactivate),
        1 => (0..5usize).prop_map(Op::Activate),
        6 => Just(Op::Allocate),
        5 => (0..64usize, prop::option::of(0..20u8), any::<bool>())
            .prop_map(|(pick, refuse, half)| Op::Recover { pick, refuse, half }),
        1 => (0..5usize, 0..16u8).prop_map(|(f, m)| Op::Suppress(f, m)),
        1 => (0..5usize, 0..16u8).prop_map(|(f, m)| Op::Revive(f, m)),
        1 => (0..ROLES.len(), 1..5u8).prop_map(|(r, w)| Op::Weight(r, w)),
        1 => (0..ROLES.len(), 0..4u8, 0..5u8).prop_map(|(r, g, l)| Op::Quota(r, g, l)),
        1 => (0..ROLES.len()).prop_map(Op::ClearQuota),
        1 => (0..8usize, 0..ROLES.len()).prop_map(|(a, r)| Op::Reserve(a, r)),
        2 => (0..30u8).prop_map(Op::Advance),
    ]
}

fn roles_of(mask: u8) -> Vec<String> {
    ROLES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, r)| (*r).to_string())
        .collect()
}

/// Half of every divisible scalar in `r` (at least one thousandth each).
fn half(r: &Resources) -> Resources {
    r.iter()
        .filter_map(|x| match &x.value {
            Value::Scalar(s) if s.millis() >= 2 => {
                let mut y = x.clone();
                y.value = Value::Scalar(corral_resources::Scalar::from_millis(s.millis() / 2));
                Some(y)
            }
            _ => None,
        })
        .collect()
}

struct World {
    sim: Sim,
    agents: Vec<String>,
    next_agent: usize,
    weights: BTreeMap<String, f64>,
}

impl World {
    fn apply(&mut self, op: &Op) {
        let sim = &mut self.sim;
        match op {
            Op::AddAgent(kind) => {
                let id = format!("ag{}", self.next_agent);
                self.next_agent += 1;
                sim.agent(&id, AGENTS[*kind]);
                self.agents.push(id);
            }
            Op::RemoveAgent(i) => {
                if self.agents.is_empty() {
                    return;
                }
                let id = self.agents.remove(i % self.agents.len());
                sim.alloc.remove_agent(&id);
                sim.totals.remove(&id);
                sim.held.retain(|(_, a, _), _| *a != id);
                sim.refusals.retain(|x| x.agent != id);
            }
            Op::AddFramework {
                id,
                roles,
                gpu,
                min,
            } => {
                let roles = roles_of(*roles);
                let mut spec = FrameworkSpec {
                    roles: roles.clone(),
                    gpu_aware: *gpu,
                    ..FrameworkSpec::default()
                };
                if *min {
                    spec.min_allocatable
                        .insert(roles[0].clone(), vec![super::q("mem:256")]);
                }
                let id = format!("f{id}");
                if !sim.specs.contains_key(&id) {
                    sim.refusals.retain(|x| x.framework != id);
                }
                sim.framework(&id, spec);
            }
            Op::RemoveFramework { id, recover_first } => {
                let id = format!("f{id}");
                if *recover_first {
                    sim.recover_all(&id, None);
                }
                sim.alloc.remove_framework(&id);
                sim.specs.remove(&id);
                sim.refusals.retain(|x| x.framework != id);
                sim.recover_all(&id, Some(5.0));
            }
            Op::Deactivate(f) => {
                let id = format!("f{f}");
                sim.alloc.deactivate_framework(&id);
                sim.inactive.push(id);
            }
            Op::Activate(f) => {
                let id = format!("f{f}");
                sim.alloc.activate_framework(&id);
                sim.inactive.retain(|x| *x != id);
            }
            Op::Allocate => {
                sim.allocate();
                let again = sim.alloc.allocate(sim.now);
                assert!(again.is_empty(), "a second cycle handed out {again:?}");
            }
            Op::Recover {
                pick,
                refuse,
                half: h,
            } => {
                let keys: Vec<_> = sim.held.keys().cloned().collect();
                if keys.is_empty() {
                    return;
                }
                let (f, a, r) = keys[pick % keys.len()].clone();
                let refuse = refuse.map(f64::from);
                if *h {
                    let part = half(&sim.held[&(f.clone(), a.clone(), r.clone())]);
                    if !part.is_empty() {
                        sim.recover_part(&f, &a, &r, &part, refuse);
                    }
                } else {
                    sim.recover(&f, &a, &r, refuse);
                }
            }
            Op::Suppress(f, m) => sim.suppress(&format!("f{f}"), &role_refs(*m)),
            Op::Revive(f, m) => sim.revive(&format!("f{f}"), &role_refs(*m)),
            Op::Weight(r, w) => {
                self.weights.insert(ROLES[*r].to_string(), f64::from(*w));
                sim.alloc.set_weights(&self.weights);
            }
            Op::Quota(r, g, l) => {
                let g = u32::from(*g);
                let guarantees = if g == 0 {
                    String::new()
                } else {
                    format!("cpus:{g};mem:{}", 256 * g)
                };
                let limits = if *l == 0 {
                    String::new()
                } else {
                    let l = g + u32::from(*l);
                    format!("cpus:{l};mem:{}", 1024 * l)
                };
                sim.set_quota(ROLES[*r], quota(&guarantees, &limits));
            }
            Op::ClearQuota(r) => sim.set_quota(ROLES[*r], None),
            Op::Reserve(a, r) => {
                if self.agents.is_empty() {
                    return;
                }
                let id = self.agents[a % self.agents.len()].clone();
                let mut free = sim.totals[&id].clone();
                for ((_, x, _), h) in &sim.held {
                    if *x == id {
                        free = free.saturating_sub(h);
                    }
                }
                let one = res("cpus:1");
                if !free.contains(&one) {
                    return;
                }
                let mut total = sim.totals[&id].saturating_sub(&one);
                total.add_all(&res(&format!("cpus({}):1", ROLES[*r])));
                sim.alloc.update_agent_total(&id, &total);
                sim.totals.insert(id, total);
            }
            Op::Advance(s) => sim.now += f64::from(*s),
        }
    }
}

fn role_refs(mask: u8) -> Vec<&'static str> {
    ROLES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, r)| *r)
        .collect()
}

proptest! {
    // 200 cases by default; `PROPTEST_CASES=5000` for a longer soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_contract_holds_under_random_operations(ops in prop::collection::vec(op(), 1..80)) {
        let mut world = World {
            sim: Sim::new(),
            agents: Vec::new(),
            next_agent: 0,
            weights: BTreeMap::new(),
        };
        for op in &ops {
            world.apply(op);
            let check = world.sim.alloc.check_invariants();
            prop_assert!(check.is_ok(), "after {:?}: {:?}", op, check);
        }
        world.apply(&Op::Allocate);
    }
}
