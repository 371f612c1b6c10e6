//! Quota: guarantees, headroom, limits, reservations as consumption, nested roles.

use std::collections::BTreeMap;

use super::{quota, res, spec, Sim};
use crate::allocator::Allocator;

fn cluster(n: usize) -> Sim {
    let mut sim = Sim::new();
    for i in 0..n {
        sim.agent(&format!("agent-{i:03}"), "cpus:1;mem:1024");
    }
    sim
}

fn cpus(sim: &Sim, framework: &str) -> f64 {
    sim.holding(framework).cpus().as_f64()
}

#[test]
fn headroom_is_held_for_a_guarantee_nobody_asks_for_yet() {
    let mut sim = cluster(40);
    sim.set_quota("gold", quota("cpus:10;mem:10240", ""));
    sim.framework("greedy", spec(&["other"]));
    sim.settle();
    assert_eq!(cpus(&sim, "greedy"), 30.0, "10 agents held back");
    sim.framework("gold-fw", spec(&["gold"]));
    sim.settle();
    assert_eq!(cpus(&sim, "gold-fw"), 10.0);
}

#[test]
fn a_late_framework_gets_its_guarantee_as_resources_come_back() {
    let mut sim = cluster(40);
    // DRF alone would always prefer `other` (weight 100): only the guarantee brings gold in.
    let weights: BTreeMap<String, f64> = [("other".to_string(), 100.0)].into_iter().collect();
    sim.alloc.set_weights(&weights);
    sim.framework("greedy", spec(&["other"]));
    sim.settle();
    assert_eq!(cpus(&sim, "greedy"), 40.0);
    sim.set_quota("gold", quota("cpus:10;mem:10240", ""));
    sim.framework("gold-fw", spec(&["gold"]));
    assert!(sim.allocate().is_empty(), "nothing is free");
    // Tasks of the greedy framework end one by one; it wants everything back.
    let held: Vec<(String, String, String)> = sim.held.keys().cloned().collect();
    for (f, a, r) in held.iter().take(25) {
        sim.recover(f, a, r, None);
        sim.settle();
    }
    assert_eq!(cpus(&sim, "gold-fw"), 10.0, "guarantee served first");
    assert_eq!(
        cpus(&sim, "greedy"),
        30.0,
        "the rest goes back to the greedy framework"
    );
}

#[test]
fn guarantees_are_served_before_fair_shares() {
    let mut sim = cluster(10);
    sim.set_quota("gold", quota("cpus:6;mem:6144", ""));
    sim.framework("a", spec(&["other"]));
    sim.framework("g", spec(&["gold"]));
    sim.settle();
    assert_eq!(cpus(&sim, "g"), 6.0);
    assert_eq!(cpus(&sim, "a"), 4.0);
}

#[test]
fn limits_trim_offers_and_are_never_exceeded() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:4;mem:4096;ports:[1-100]");
    sim.agent("a2", "cpus:4;mem:4096");
    sim.set_quota("capped", quota("", "cpus:1.5"));
    sim.framework("f", spec(&["capped"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 2, "{out:?}");
    let total_cpus: f64 = out.iter().map(|a| a.resources.cpus().as_f64()).sum();
    assert_eq!(total_cpus, 1.5);
    // mem is not limited: it comes along.
    let mem: f64 = out.iter().map(|a| a.resources.mem().as_f64()).sum();
    assert_eq!(mem, 8192.0);
    assert!(sim.settle() == 0);
}

#[test]
fn nothing_is_offered_when_nothing_fits_under_the_limit() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:4;mem:4096");
    sim.set_quota("capped", quota("", "cpus:1;mem:1024"));
    sim.framework("f", spec(&["capped"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].resources, res("cpus:1;mem:1024"));
    assert!(sim.allocate().is_empty());
    sim.recover("f", "a1", "capped", None);
    assert_eq!(sim.allocate().len(), 1);
}

#[test]
fn a_parent_limit_bounds_its_subtree() {
    let mut sim = cluster(10);
    sim.set_quota("eng", quota("", "cpus:3;mem:3072"));
    sim.framework("a", spec(&["eng/a"]));
    sim.framework("b", spec(&["eng/b"]));
    sim.settle();
    assert_eq!(cpus(&sim, "a") + cpus(&sim, "b"), 3.0);
    let why = sim.alloc.why_not_offered("a", sim.now);
    assert_eq!(why[0].1, "role at its quota limit (eng: cpus:3; mem:3072)");
}

#[test]
fn reservations_count_toward_consumption() {
    let mut sim = Sim::new();
    sim.agent("r1", "cpus(capped):2;mem(capped):2048");
    sim.agent("u1", "cpus:4;mem:4096");
    sim.set_quota("capped", quota("", "cpus:3;mem:3072"));
    sim.framework("f", spec(&["capped"]));
    sim.settle();
    let held = sim.holding("f");
    assert_eq!(held.cpus().as_f64(), 3.0, "2 reserved + 1 unreserved");
    assert_eq!(held.mem().as_f64(), 3072.0);
    // A guarantee covered by reservations holds no headroom back.
    let mut sim = Sim::new();
    sim.agent("r1", "cpus(gold):2;mem(gold):2048");
    sim.agent("u1", "cpus:2;mem:2048");
    sim.set_quota("gold", quota("cpus:2;mem:2048", ""));
    sim.framework("other", spec(&["other"]));
    sim.settle();
    assert_eq!(sim.holding("other"), res("cpus:2;mem:2048"));
}

#[test]
fn a_parent_guarantee_reaches_frameworks_in_its_subroles() {
    let mut sim = cluster(10);
    sim.set_quota("eng", quota("cpus:4;mem:4096", ""));
    sim.framework("ml", spec(&["eng/ml"]));
    sim.framework("x", spec(&["other"]));
    sim.framework("y", spec(&["zzz"]));
    sim.settle();
    assert!(cpus(&sim, "ml") >= 4.0, "ml {}", cpus(&sim, "ml"));
}

#[test]
fn removing_quota_releases_headroom() {
    let mut sim = cluster(4);
    sim.set_quota("gold", quota("cpus:4;mem:4096", ""));
    sim.framework("f", spec(&["other"]));
    assert!(sim.allocate().is_empty());
    sim.set_quota("gold", None);
    assert_eq!(sim.settle(), 4);
}

#[test]
fn large_and_small_quota_shape_is_satisfied() {
    let mut sim = Sim::new();
    let (small, large) = (25, 5);
    for i in 0..small {
        let role = format!("small-{i:02}");
        sim.set_quota(
            &role,
            quota("cpus:1;mem:1024;disk:1024", "cpus:1;mem:1024;disk:1024"),
        );
        sim.framework(&format!("fs-{i:02}"), spec(&[&role]));
    }
    for i in 0..large {
        let role = format!("large-{i:02}");
        sim.set_quota(
            &role,
            quota("cpus:4;mem:4096;disk:4096", "cpus:4;mem:4096;disk:4096"),
        );
        sim.framework(&format!("fl-{i:02}"), spec(&[&role]));
    }
    for i in 0..(small / 5 + large * 5) {
        sim.agent(&format!("agent-{i:03}"), "cpus:2;mem:2048;disk:2048");
    }
    sim.allocate();
    for i in 0..small {
        assert_eq!(cpus(&sim, &format!("fs-{i:02}")), 1.0);
    }
    for i in 0..large {
        assert_eq!(cpus(&sim, &format!("fl-{i:02}")), 4.0);
    }
    assert!(sim.allocate().is_empty());
}
