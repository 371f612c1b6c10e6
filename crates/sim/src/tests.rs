//! The builders produce what they claim, and the harnesses keep the invariants.

use corral_master::allocator::first::FirstFitAllocator;
use corral_master::core::CoreConfig;

use crate::check::{check_no_overcommit, check_offers_match, task_counts};
use crate::shapes;
use crate::{allocator_by_name, SimCluster, Workload, ALLOCATORS, REFUSE_FOREVER};

fn metric(sim: &SimCluster, name: &str) -> f64 {
    sim.core()
        .metrics(sim.now())
        .get(name)
        .copied()
        .unwrap_or(-1.0)
}

#[test]
fn a_100_agent_cluster_registers_100_agents() {
    let sim = SimCluster::builder()
        .agents(60, "cpus:4;mem:1024")
        .agents_with_attributes(40, "cpus:8;mem:2048", "rack:r1;zone:a")
        .frameworks(3, &["*"])
        .build()
        .expect("cluster");
    assert_eq!(sim.agents().len(), 100);
    assert_eq!(sim.core().get_agents().agents.len(), 100);
    assert_eq!(metric(&sim, "master/slaves_connected"), 100.0);
    assert_eq!(metric(&sim, "master/frameworks_connected"), 3.0);
    assert_eq!(metric(&sim, "master/cpus_total"), 60.0 * 4.0 + 40.0 * 8.0);
    let with_rack = sim
        .core()
        .get_agents()
        .agents
        .iter()
        .filter(|a| a.agent_info.attributes.iter().any(|x| x.name == "rack"))
        .count();
    assert_eq!(with_rack, 40);
}

#[test]
fn bad_resources_are_an_error_not_a_panic() {
    let result = SimCluster::builder().agents(1, "cpus:lots").build();
    assert!(result.is_err());
    let result = SimCluster::builder()
        .agents_with_attributes(1, "cpus:1", "rack")
        .build();
    assert!(result.is_err());
}

#[test]
fn offers_cover_the_cluster_and_match_the_master() {
    let mut sim = SimCluster::builder()
        .agents(20, "cpus:4;mem:1024")
        .frameworks(4, &["*"])
        .build()
        .expect("cluster");
    let offers = sim.allocate().expect("allocate");
    assert_eq!(offers, 20, "first-fit offers every agent once");
    check_no_overcommit(sim.core()).expect("no overcommit");
    check_offers_match(&sim).expect("offers match");
    assert_eq!(sim.decline_all(Some(REFUSE_FOREVER)).expect("decline"), 20);
    check_offers_match(&sim).expect("offers match after decline");
}

#[test]
fn populate_puts_the_workload_on_every_agent() {
    let config = CoreConfig {
        max_completed_tasks_per_framework: 10_000,
        ..CoreConfig::default()
    };
    let mut sim = SimCluster::builder()
        .config(config)
        .agents(10, "cpus:20;mem:10240")
        .frameworks(3, &["*"])
        .seed(5)
        .build()
        .expect("cluster");
    let workload = Workload {
        running_per_agent: 3,
        completed_per_agent: 2,
        ..Workload::default()
    };
    let report = sim.populate(&workload).expect("populate");
    assert!(report.complete, "{report:?}");
    assert_eq!((report.running, report.completed), (30, 20));
    assert_eq!(task_counts(sim.core()), (30, 20));
    assert_eq!(metric(&sim, "master/tasks_running"), 30.0);
    assert_eq!(metric(&sim, "master/tasks_finished"), 20.0);
    assert_eq!(sim.stats().tasks_finished, 20);
    assert_eq!(sim.stats().master_terminal_updates, 0);
    // The cluster is quiet: no offers outstanding, and none come.
    assert_eq!(sim.outstanding_offers(), 0);
    assert_eq!(sim.allocate().expect("allocate"), 0);
    check_no_overcommit(sim.core()).expect("no overcommit");
    // Running tasks hold 3 × cpus:0.1 on every agent.
    assert!((metric(&sim, "master/cpus_used") - 3.0).abs() < 1e-9);
    // /state shows the labels of every task.
    let state = sim.core().state_json(&Default::default());
    let first = &state["frameworks"][0]["tasks"][0];
    assert_eq!(first["labels"].as_array().map(Vec::len), Some(10));
}

#[test]
fn killed_tasks_release_their_resources() {
    let mut sim = SimCluster::builder()
        .agents(1, "cpus:1;mem:100")
        .frameworks(1, &["*"])
        .build()
        .expect("cluster");
    sim.allocate().expect("allocate");
    let offer = sim.offers(0)[0].clone();
    let resources = corral_resources::parse_resources("cpus:0.5;mem:10")
        .expect("resources")
        .to_proto();
    let task = sim.task(&offer.agent_id.value, &resources, 0, false);
    let task_id = task.task_id.value.clone();
    sim.accept(0, &offer.id, vec![task], Some(0.0))
        .expect("accept");
    assert_eq!(metric(&sim, "master/tasks_running"), 1.0);
    sim.kill(0, &task_id).expect("kill");
    assert_eq!(metric(&sim, "master/tasks_killed"), 1.0);
    assert_eq!(metric(&sim, "master/cpus_used"), 0.0);
    check_no_overcommit(sim.core()).expect("no overcommit");
}

#[test]
fn decline_offers_ends_with_no_offers() {
    for name in ALLOCATORS {
        decline_offers_converges(name);
    }
}

fn decline_offers_converges(name: &str) {
    let (agents, frameworks) = (20, 5);
    let allocator = allocator_by_name(name).expect("allocator");
    let mut h = shapes::decline_offers(allocator, agents, frameworks).expect("shape");
    assert_eq!(h.agent_count(), agents);
    h.check_no_overcommit().expect("pre-allocations fit");
    let mut rounds = Vec::new();
    for _ in 0..frameworks * 2 {
        let (n, _) = shapes::decline_round(&mut h);
        h.check_no_overcommit().expect("no overcommit");
        rounds.push(n);
    }
    // Every round offers each agent to one framework until every framework has refused every
    // agent; then nothing is offered any more.
    assert_eq!(&rounds[..frameworks], &[agents; 5], "{name}");
    assert!(
        rounds[frameworks..].iter().all(|n| *n == 0),
        "{name}: {rounds:?}"
    );
}

#[test]
fn decline_offers_holds_the_mesos_pre_allocation() {
    let mut h = shapes::decline_offers(Box::new(FirstFitAllocator::new()), 3, 2).expect("shape");
    // Free per agent: cpus 8, mem 2082, disk 3072, 1001 - 16 ports.
    let free = h.free_total();
    assert_eq!(free.scalar_total("cpus"), 24.0);
    assert_eq!(free.scalar_total("mem"), 3.0 * 2082.0);
    // Ports are a set: the agents' identical free ranges union to one agent's.
    assert_eq!(free.ports().count(), 1001 - 16);
    let (allocations, _) = h.allocate_timed();
    assert_eq!(allocations.len(), 3);
    h.check_no_overcommit().expect("no overcommit");
    assert!(h.free_total().is_empty());
}

#[test]
fn quota_shape_has_mesos_sizes() {
    for name in ALLOCATORS {
        quota_shape(name);
    }
}

fn quota_shape(name: &str) {
    let allocator = allocator_by_name(name).expect("allocator");
    let mut h = shapes::large_and_small_quota(allocator, 25, 5).expect("shape");
    assert_eq!(h.agent_count(), 25 / 5 + 5 * 5);
    assert_eq!(h.frameworks().len(), 30);
    let (first, _) = h.allocate_timed();
    assert!(!first.is_empty());
    h.check_no_overcommit().expect("no overcommit");
    let (second, _) = h.allocate_timed();
    assert!(
        second.is_empty(),
        "{name}: the second cycle has nothing to do"
    );
}

#[test]
fn idle_shape_has_nothing_to_allocate() {
    for name in ALLOCATORS {
        let allocator = allocator_by_name(name).expect("allocator");
        let mut h = shapes::idle(allocator, 50, 10).expect("shape");
        assert!(h.free_total().is_empty(), "{name}");
        let (allocations, _) = h.allocate_timed();
        assert!(allocations.is_empty(), "{name}");
    }
}

#[test]
fn populate_works_with_every_allocator() {
    for name in ALLOCATORS {
        let mut sim = SimCluster::builder()
            .allocator(allocator_by_name(name).expect("allocator"))
            .agents(8, "cpus:4;mem:1024")
            .frameworks(3, &["*", "analytics"])
            .build()
            .expect("cluster");
        let workload = Workload {
            running_per_agent: 2,
            completed_per_agent: 1,
            ..Workload::default()
        };
        let report = sim.populate(&workload).expect("populate");
        assert!(report.complete, "{name}: {report:?}");
        assert_eq!(task_counts(sim.core()), (16, 8), "{name}");
        check_no_overcommit(sim.core()).expect("no overcommit");
        check_offers_match(&sim).expect("offers match");
    }
}

#[test]
fn unknown_allocators_are_an_error() {
    assert!(allocator_by_name("random").is_err());
}

#[test]
fn port_fragments_are_disjoint_single_ports() {
    assert_eq!(
        shapes::port_fragments(31000, 32000, 3),
        "[31000-31000,31002-31002,31004-31004]"
    );
}
