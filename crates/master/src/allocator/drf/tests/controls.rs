//! Offer controls: reservations, filters, suppress/revive, minimums, GPUs, explanations.

use std::collections::BTreeMap;

use super::{q, quota, res, spec, Sim};
use crate::allocator::drf::{DrfConfig, HierarchicalAllocator};
use crate::allocator::{Allocator, FrameworkSpec};

#[test]
fn reserved_resources_only_reach_their_subtree() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus(eng):2;mem(eng):1024;cpus:1;mem:512");
    sim.framework("ops-fw", spec(&["ops"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].resources, res("cpus:1;mem:512"));
    sim.framework("ml-fw", spec(&["eng/ml"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].framework_id, "ml-fw");
    assert_eq!(out[0].resources, res("cpus(eng):2;mem(eng):1024"));
}

#[test]
fn an_offer_to_a_role_holds_its_reservations_and_unreserved_resources() {
    let mut sim = Sim::new();
    sim.agent(
        "a1",
        "cpus(eng):2;mem(eng):1024;cpus:1;mem:512;ports:[1-10]",
    );
    sim.framework("eng-fw", spec(&["eng"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].resources,
        res("cpus(eng):2;mem(eng):1024;cpus:1;mem:512;ports:[1-10]")
    );
}

#[test]
fn filters_hold_until_expiry_and_revive_clears_them() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:2;mem:1024");
    sim.framework("f", spec(&["r"]));
    assert_eq!(sim.allocate().len(), 1);
    sim.recover("f", "a1", "r", Some(10.0));
    assert!(sim.allocate().is_empty(), "declined for 10 s");
    sim.now += 5.0;
    assert!(sim.allocate().is_empty());
    assert_eq!(sim.alloc.next_filter_expiry(), Some(1010.0));
    sim.now += 5.0;
    assert_eq!(sim.allocate().len(), 1, "the filter expired");
    sim.recover("f", "a1", "r", Some(100.0));
    assert!(sim.allocate().is_empty());
    sim.revive("f", &[]);
    assert_eq!(sim.allocate().len(), 1, "revive clears filters");
}

#[test]
fn a_filter_only_covers_subsets_of_what_was_refused() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:4;mem:4096");
    sim.framework("f", spec(&["r"]));
    sim.framework("g", spec(&["s"]));
    sim.suppress("g", &[]);
    assert_eq!(sim.allocate().len(), 1);
    // f keeps half and declines the other half for a long time.
    sim.recover_part("f", "a1", "r", &res("cpus:2;mem:2048"), Some(1000.0));
    assert!(sim.allocate().is_empty());
    // The rest comes back: the bigger offer is not a subset of the refused one.
    sim.recover("f", "a1", "r", None);
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].resources, res("cpus:4;mem:4096"));
    // Another role of another framework is not affected by f's filter.
    sim.recover("f", "a1", "r", Some(1000.0));
    sim.revive("g", &[]);
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].framework_id, "g");
}

#[test]
fn suppressed_roles_get_nothing_until_revive() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:2;mem:1024");
    sim.agent("a2", "cpus:2;mem:1024");
    sim.framework("f", spec(&["x", "y"]));
    sim.suppress("f", &["x"]);
    let out = sim.allocate();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|a| a.role == "y"));
    sim.recover_all("f", None);
    sim.suppress("f", &[]);
    assert!(sim.allocate().is_empty());
    let why = sim.alloc.why_not_offered("f", sim.now);
    assert_eq!(why.len(), 2);
    assert!(
        why.iter().all(|(_, w)| w.starts_with("suppressed")),
        "{why:?}"
    );
    sim.revive("f", &["x"]);
    let out = sim.allocate();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|a| a.role == "x"));
}

#[test]
fn offers_below_the_minimum_are_not_made() {
    let mut sim = Sim::new();
    sim.agent("tiny", "cpus:0.005;mem:16;disk:100");
    sim.agent("small", "cpus:1;mem:1024");
    sim.framework("f", spec(&["r"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].agent_id, "small");
    let why = sim.alloc.why_not_offered("f", sim.now);
    assert_eq!(
        why,
        vec![(
            "r".to_string(),
            "no agent has resources allocatable to role r that meet the minimum (cpus 0.01 or mem 32)"
                .to_string()
        )]
    );
    // A framework's own minimum for the role replaces the default.
    let mut big = spec(&["r"]);
    big.min_allocatable
        .insert("r".to_string(), vec![q("mem:2048")]);
    sim.framework("big", big);
    sim.recover("f", "small", "r", Some(1e9));
    assert!(sim.allocate().is_empty(), "1024 MB is below big's minimum");
    let mut any = spec(&["r"]);
    any.min_allocatable
        .insert("r".to_string(), vec![q("disk:1")]);
    sim.framework("any", any);
    let out = sim.allocate();
    assert_eq!(out.len(), 1, "tiny's disk meets any's minimum");
    assert_eq!(out[0].agent_id, "tiny");
}

#[test]
fn gpu_agents_only_go_to_gpu_aware_frameworks() {
    let mut sim = Sim::new();
    sim.agent("gpu", "cpus:4;mem:4096;gpus:2");
    sim.agent("plain", "cpus:4;mem:4096");
    sim.framework("cpu-only", spec(&["r"]));
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].agent_id, "plain");
    sim.framework(
        "gpu-fw",
        FrameworkSpec {
            gpu_aware: true,
            ..spec(&["r"])
        },
    );
    let out = sim.allocate();
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].agent_id.as_str(), out[0].framework_id.as_str()),
        ("gpu", "gpu-fw")
    );
}

#[test]
fn excluded_resources_do_not_count_in_shares() {
    let config = DrfConfig {
        fair_sharing_excluded: vec!["gpus".to_string()],
        ..DrfConfig::default()
    };
    let mut sim = Sim::with(config);
    sim.agent("g", "cpus:1;mem:1024;gpus:8");
    for i in 0..3 {
        sim.agent(&format!("c{i}"), "cpus:1;mem:1024");
    }
    let gpu = |id: &str| {
        (
            id.to_string(),
            FrameworkSpec {
                gpu_aware: true,
                ..spec(&["r"])
            },
        )
    };
    let (a, sa) = gpu("a");
    let (b, sb) = gpu("b");
    sim.framework(&a, sa);
    sim.framework(&b, sb);
    sim.settle();
    // With gpus counted, whoever got the GPU agent would hold a dominant share of 1 and get
    // nothing else; excluded, each framework gets two agents.
    assert_eq!(sim.holding("a").cpus(), sim.holding("b").cpus());
}

#[test]
fn disconnected_frameworks_get_nothing_and_are_told_why() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:1;mem:1024");
    sim.framework("f", spec(&["r"]));
    sim.alloc.deactivate_framework("f");
    sim.inactive.push("f".to_string());
    assert!(sim.allocate().is_empty());
    assert_eq!(
        sim.alloc.why_not_offered("f", sim.now),
        vec![("r".to_string(), "framework is disconnected".to_string())]
    );
    sim.alloc.activate_framework("f");
    sim.inactive.clear();
    assert_eq!(sim.allocate().len(), 1);
}

#[test]
fn why_not_offered_reports_filters_limits_and_headroom() {
    let mut sim = Sim::new();
    sim.agent("a1", "cpus:1;mem:1024");
    sim.agent("a2", "cpus:1;mem:1024");
    sim.framework("f", spec(&["r"]));
    sim.settle();
    sim.recover_all("f", Some(3600.0));
    assert!(sim.allocate().is_empty());
    assert_eq!(
        sim.alloc.why_not_offered("f", sim.now),
        vec![(
            "r".to_string(),
            "declined with a filter until 1970-01-01T01:16:40Z on 2 agents".to_string()
        )]
    );
    sim.revive("f", &[]);
    sim.set_quota("r", quota("", "cpus:1;mem:1024"));
    sim.settle();
    assert_eq!(sim.holding("f").cpus().as_f64(), 1.0);
    assert_eq!(
        sim.alloc.why_not_offered("f", sim.now),
        vec![(
            "r".to_string(),
            "role at its quota limit (cpus:1; mem:1024)".to_string()
        )]
    );
    sim.set_quota("r", None);
    sim.set_quota("gold", quota("cpus:1;mem:1024", ""));
    sim.framework("g", spec(&["other"]));
    assert!(
        sim.allocate().is_empty(),
        "the last agent is headroom for gold"
    );
    assert_eq!(
        sim.alloc.why_not_offered("g", sim.now),
        vec![(
            "other".to_string(),
            "waiting: resources held as quota headroom for other roles".to_string()
        )]
    );
}

#[test]
fn roles_lists_weights_quota_allocations_and_frameworks() {
    let mut a = HierarchicalAllocator::default();
    a.add_agent("a1", &res("cpus:2;mem:1024"), &[]);
    a.add_framework("f1", &spec(&["eng/ml"]));
    a.add_framework("f2", &spec(&["eng/ml", "ops"]));
    let weights: BTreeMap<String, f64> = [("eng".to_string(), 2.0)].into_iter().collect();
    a.set_weights(&weights);
    a.set_quota("qa", quota("cpus:1", ""));
    let out = a.allocate(0.0);
    assert_eq!(out.len(), 1);
    let roles = a.roles();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["eng", "eng/ml", "ops", "qa"]);
    let eng = &roles[0];
    assert_eq!(eng.weight, 2.0);
    assert!(eng.frameworks.is_empty());
    assert_eq!(
        roles[1].frameworks,
        vec!["f1".to_string(), "f2".to_string()]
    );
    assert_eq!(roles[2].frameworks, vec!["f2".to_string()]);
    assert_eq!(roles[3].quota, quota("cpus:1", ""));
    let offered_role = &out[0].role;
    let r = roles
        .iter()
        .find(|r| &r.name == offered_role)
        .map(|r| r.allocated.to_string());
    assert_eq!(r.as_deref(), Some("cpus:1; mem:1024"), "{out:?}");
    // A weight reset forgets roles kept only for their weight.
    a.set_weights(&BTreeMap::new());
    a.remove_framework("f2");
    a.remove_framework("f1");
    a.recover(
        &out[0].framework_id,
        "a1",
        offered_role,
        &out[0].resources,
        None,
        0.0,
    );
    let names: Vec<String> = a.roles().into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec!["qa".to_string()]);
}
