//! Fair sharing: DRF order, weights, hierarchy, multi-role frameworks, no-op cycles.

use std::collections::BTreeMap;

use super::{res, spec, Sim};
use crate::allocator::{Allocator, Held};

fn agents(sim: &mut Sim, n: usize, total: &str) {
    for i in 0..n {
        sim.agent(&format!("agent-{i:03}"), total);
    }
}

fn cpus(sim: &Sim, framework: &str) -> f64 {
    sim.holding(framework).cpus().as_f64()
}

#[test]
fn drf_splits_agents_between_frameworks() {
    let mut sim = Sim::new();
    agents(&mut sim, 4, "cpus:1;mem:1024");
    sim.framework("f1", spec(&["web"]));
    sim.framework("f2", spec(&["web"]));
    assert_eq!(sim.settle(), 4);
    assert_eq!(cpus(&sim, "f1"), 2.0);
    assert_eq!(cpus(&sim, "f2"), 2.0);
}

#[test]
fn ties_go_by_name() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:1;mem:1024");
    sim.framework("zz", spec(&["b"]));
    sim.framework("yy", spec(&["a"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].role, "a");
}

#[test]
fn weights_converge_one_to_three() {
    let mut sim = Sim::new();
    agents(&mut sim, 40, "cpus:1;mem:1024");
    let weights: BTreeMap<String, f64> = [("heavy".to_string(), 3.0)].into_iter().collect();
    sim.alloc.set_weights(&weights);
    sim.framework("light-fw", spec(&["light"]));
    sim.framework("heavy-fw", spec(&["heavy"]));
    sim.settle();
    assert_eq!(cpus(&sim, "heavy-fw"), 30.0);
    assert_eq!(cpus(&sim, "light-fw"), 10.0);
    // Churn: every round each framework hands back a quarter of its agents; the greedy
    // frameworks take whatever they are offered. Shares stay at the weights.
    let mut heavy = Vec::new();
    for round in 0..60 {
        let held: Vec<(String, String, String)> = sim.held.keys().cloned().collect();
        for (i, (f, a, r)) in held.iter().enumerate() {
            if (i + round) % 4 == 0 {
                sim.recover(f, a, r, None);
            }
        }
        sim.settle();
        if round >= 20 {
            heavy.push(cpus(&sim, "heavy-fw") / 40.0);
        }
    }
    let mean = heavy.iter().sum::<f64>() / heavy.len() as f64;
    assert!((mean - 0.75).abs() < 0.03, "heavy share {mean}");
}

#[test]
fn hierarchy_shares_by_subtree_then_within() {
    let mut sim = Sim::new();
    agents(&mut sim, 30, "cpus:1;mem:1024");
    sim.framework("fa", spec(&["eng/a"]));
    sim.framework("fb", spec(&["eng/b"]));
    sim.framework("fo", spec(&["ops"]));
    sim.settle();
    assert_eq!(cpus(&sim, "fo"), 15.0);
    assert_eq!(cpus(&sim, "fa") + cpus(&sim, "fb"), 15.0);
    assert!((cpus(&sim, "fa") - cpus(&sim, "fb")).abs() <= 1.0);

    let mut sim = Sim::new();
    agents(&mut sim, 30, "cpus:1;mem:1024");
    let weights: BTreeMap<String, f64> = [("eng".to_string(), 2.0)].into_iter().collect();
    sim.alloc.set_weights(&weights);
    sim.framework("fa", spec(&["eng/a"]));
    sim.framework("fb", spec(&["eng/b"]));
    sim.framework("fo", spec(&["ops"]));
    sim.settle();
    assert_eq!(cpus(&sim, "fo"), 10.0);
    assert_eq!(cpus(&sim, "fa") + cpus(&sim, "fb"), 20.0);
}

#[test]
fn a_role_with_frameworks_and_subroles_shares_with_them() {
    let mut sim = Sim::new();
    agents(&mut sim, 20, "cpus:1;mem:1024");
    sim.framework("parent", spec(&["eng"]));
    sim.framework("child", spec(&["eng/ml"]));
    sim.framework("other", spec(&["ops"]));
    sim.settle();
    assert_eq!(cpus(&sim, "other"), 10.0);
    assert_eq!(cpus(&sim, "parent"), 5.0);
    assert_eq!(cpus(&sim, "child"), 5.0);
}

#[test]
fn multi_role_framework_competes_in_each_role() {
    let mut sim = Sim::new();
    agents(&mut sim, 12, "cpus:1;mem:1024");
    sim.framework("multi", spec(&["x", "y"]));
    sim.framework("single", spec(&["x"]));
    sim.settle();
    let in_role = |role: &str, f: &str| -> usize {
        sim.held
            .keys()
            .filter(|(ff, _, r)| ff == f && r == role)
            .count()
    };
    assert_eq!(in_role("y", "multi"), 6);
    assert_eq!(in_role("x", "multi"), 3);
    assert_eq!(in_role("x", "single"), 3);
}

#[test]
fn a_cycle_with_nothing_new_allocates_nothing() {
    let mut sim = Sim::new();
    agents(&mut sim, 3, "cpus:2;mem:1024");
    sim.framework("f", spec(&["r"]));
    assert_eq!(sim.allocate().len(), 3);
    assert!(sim.allocate().is_empty());
    sim.now += 3600.0;
    assert!(sim.allocate().is_empty(), "nothing changed");
    sim.recover("f", "agent-000", "r", None);
    assert_eq!(sim.allocate().len(), 1, "a recovery is something new");
    assert!(sim.allocate().is_empty());
}

#[test]
fn resources_held_at_registration_count_toward_shares() {
    let mut sim = Sim::new();
    sim.agent_with(
        "old",
        "cpus:4;mem:4096",
        &[Held {
            framework_id: "a".to_string(),
            role: "r".to_string(),
            resources: res("cpus:3;mem:3072"),
        }],
    );
    sim.framework("a", spec(&["r"]));
    sim.framework("b", spec(&["r"]));
    sim.agent("n1", "cpus:1;mem:1024");
    sim.agent("n2", "cpus:1;mem:1024");
    sim.settle();
    assert_eq!(
        cpus(&sim, "b"),
        3.0,
        "b gets the new agents and old's remainder"
    );
    assert_eq!(cpus(&sim, "a"), 3.0);
}

#[test]
fn removing_an_agent_takes_its_allocations_out_of_shares() {
    let mut sim = Sim::new();
    sim.agent("big", "cpus:8;mem:8192");
    sim.framework("a", spec(&["r"]));
    sim.settle();
    sim.alloc.remove_agent("big");
    sim.totals.remove("big");
    sim.held.clear();
    sim.framework("b", spec(&["r"]));
    sim.agent("s1", "cpus:1;mem:1024");
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].framework_id, "a",
        "a holds nothing any more; tie by name"
    );
    let summary = sim.alloc.roles();
    assert_eq!(summary[0].allocated.to_string(), "cpus:1; mem:1024");
}

#[test]
fn shrinking_a_total_never_hands_out_more_than_is_left() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:4;mem:4096");
    sim.framework("f", spec(&["r"]));
    assert_eq!(sim.allocate().len(), 1);
    let holder = "f";
    // Half comes back, then the agent shrinks to what the holder still has plus a little.
    sim.recover_part(holder, "a1", "r", &res("cpus:2;mem:2048"), None);
    let shrunk = res("cpus:3;mem:3072");
    sim.alloc.update_agent_total("a1", &shrunk);
    sim.totals.insert("a1".to_string(), shrunk);
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].resources, res("cpus:1;mem:1024"));
    // Shrinking below what is held hands out nothing and corrupts nothing.
    sim.alloc.update_agent_total("a1", &res("cpus:1;mem:1024"));
    assert!(sim.alloc.allocate(sim.now).is_empty());
    assert!(sim.alloc.check_invariants().is_ok());
}

#[test]
fn custom_resource_kinds_pass_through() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:1;mem:1024;fpgas:2;zones:{eu,us}");
    sim.framework("f", spec(&["r"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].resources,
        res("cpus:1;mem:1024;fpgas:2;zones:{eu,us}")
    );
}

#[test]
fn the_candidate_list_follows_drf_order() {
    // A filter on the agent makes the allocator pick from the candidate list instead of
    // walking the tree; the choice must be the same DRF order.
    let mut sim = Sim::new();
    sim.agent_with(
        "busy",
        "cpus:4;mem:4096",
        &[Held {
            framework_id: "fx".to_string(),
            role: "x".to_string(),
            resources: res("cpus:2;mem:2048"),
        }],
    );
    sim.framework("fx", spec(&["x"]));
    sim.framework("fz", spec(&["y/z"]));
    sim.framework("fw", spec(&["y/w"]));
    sim.framework("fv", spec(&["y/v"]));
    // Everybody but fx gets something of `busy`; then the rest declines it for good.
    sim.settle();
    for f in ["fz", "fw", "fv"] {
        sim.recover(
            f,
            "busy",
            if f == "fz" {
                "y/z"
            } else if f == "fw" {
                "y/w"
            } else {
                "y/v"
            },
            None,
        );
    }
    sim.alloc.suppress("fx", &[]);
    sim.suppressed.push(("fx".to_string(), "x".to_string()));
    sim.agent("t", "cpus:1;mem:1024");
    // fv refuses all of t (as if it had declined it): a filter covering the whole agent.
    sim.recover_part("fv", "t", "y/v", &res("cpus:1;mem:1024"), Some(1e6));
    let out = sim.allocate();
    // Inside y, fv (first by name) is filtered on t: w goes before z by name.
    let on_t: Vec<_> = out.iter().filter(|a| a.agent_id == "t").collect();
    assert_eq!(on_t.len(), 1, "{out:?}");
    assert_eq!(on_t[0].framework_id, "fw");
}
