//! Master failover and the agent registry: admission written before REGISTERED, recovered
//! agents, the re-registration timeout and its safety valves, unreachable agents coming back,
//! gone agents.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use corral_store::{MemoryStore, Store};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::registry::{AgentRecord, AgentState, Registry, RegistryState, RegistryWrite};

fn config(timeout: f64, limit: f64, interval: Option<f64>) -> CoreConfig {
    CoreConfig {
        agent_reregister_timeout_secs: timeout,
        recovery_agent_removal_limit: limit,
        agent_removal_interval_secs: interval,
        ..CoreConfig::default()
    }
}

fn core_with(config: CoreConfig, now: f64) -> MasterCore {
    let info = v1::MasterInfo {
        id: "M2".into(),
        ..Default::default()
    };
    MasterCore::new(config, info, 2, Box::new(FirstFitAllocator::new()), now)
}

fn agent_info(id: &str) -> v1::AgentInfo {
    let r: Resources = "cpus:4;mem:1024".parse().unwrap();
    v1::AgentInfo {
        hostname: "h".into(),
        port: Some(5051),
        resources: r.to_proto(),
        id: Some(v1::AgentId { value: id.into() }),
        ..Default::default()
    }
}

fn admitted(ids: &[&str]) -> RegistryState {
    let mut state = RegistryState::default();
    for id in ids {
        state.agents.insert(
            id.to_string(),
            AgentRecord {
                info: agent_info(id),
                state: AgentState::Admitted,
            },
        );
    }
    state
}

fn pa_info(id: &str, partition_aware: bool) -> v1::FrameworkInfo {
    use v1::framework_info::{capability::Type as Cap, Capability};
    v1::FrameworkInfo {
        user: "u".into(),
        name: "fw".into(),
        id: Some(v1::FrameworkId { value: id.into() }),
        failover_timeout: Some(3600.0),
        checkpoint: Some(true),
        capabilities: if partition_aware {
            vec![Capability {
                r#type: Some(Cap::PartitionAware as i32),
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

/// The agent's SUBSCRIBE with its id, reporting task `task` of `fw` RUNNING.
fn reregister(
    c: &mut MasterCore,
    agent: &str,
    fw: &v1::FrameworkInfo,
    task: &str,
    now: f64,
) -> Result<Vec<Effect>, CoreError> {
    let fw_id = fw.id.clone().unwrap();
    let t = v1::Task {
        name: task.into(),
        task_id: v1::TaskId { value: task.into() },
        framework_id: fw_id,
        agent_id: v1::AgentId {
            value: agent.into(),
        },
        state: TaskState::TaskRunning as i32,
        resources: vec![scalar("cpus", 1.0)],
        ..Default::default()
    };
    let envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: Some(v1::AgentId {
            value: agent.into(),
        }),
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: agent_info(agent),
            agent_version: "test".into(),
            frameworks: vec![fw.clone()],
            executors: vec![],
            tasks: vec![t],
            checkpointed_resources: vec![],
        },
    };
    c.agent_subscribe(envelope, "agent-stream", now)?;
    Ok(c.take_effects())
}

fn registry_writes(effects: &[Effect]) -> Vec<RegistryWrite> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Registry(w) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

fn agent_writes(effects: &[Effect]) -> Vec<(String, AgentState)> {
    registry_writes(effects)
        .into_iter()
        .filter_map(|w| match w {
            RegistryWrite::Agent(r) => Some((r.id(), r.state)),
            _ => None,
        })
        .collect()
}

fn position(effects: &[Effect], pred: impl Fn(&Effect) -> bool) -> Option<usize> {
    effects.iter().position(pred)
}

fn is_registered(e: &Effect) -> bool {
    matches!(
        e,
        Effect::ToAgent {
            message: MasterMessage::Registered { .. },
            ..
        }
    )
}

#[test]
fn a_new_agent_is_admitted_in_the_registry_before_registered_is_sent() {
    let mut c = core();
    add_agent(&mut c, "cpus:1;mem:128");
    let effects = c.take_effects();
    let write = position(&effects, |e| {
        matches!(e, Effect::Registry(RegistryWrite::Agent(r)) if r.state == AgentState::Admitted)
    })
    .expect("admission written");
    let registered = position(&effects, is_registered).expect("REGISTERED sent");
    assert!(write < registered, "{effects:?}");
}

#[test]
fn recovered_agents_are_not_offered_until_they_reregister_with_their_tasks() {
    let clock = ManualClock::at(T0);
    let mut c = core_with(config(600.0, 1.0, None), clock.now());
    c.recover(admitted(&["A", "B"]), clock.now());
    assert_eq!(c.recovered_agents().len(), 2);
    let fw = pa_info("F", true);
    let _ = c
        .subscribe(
            call::Subscribe {
                framework_info: fw.clone(),
                ..Default::default()
            },
            "s",
            clock.now(),
        )
        .unwrap();
    c.take_effects();
    c.allocate(clock.now());
    assert!(
        offers(&c.take_effects(), "F").is_empty(),
        "recovered agents are not offered"
    );

    clock.advance(5.0);
    let effects = reregister(&mut c, "A", &fw, "t1", clock.now()).unwrap();
    // Already admitted with the same info: nothing to write, REGISTERED right away.
    assert!(registry_writes(&effects).is_empty(), "{effects:?}");
    assert!(position(&effects, is_registered).is_some());
    assert_eq!(c.recovered_agents().keys().collect::<Vec<_>>(), vec!["B"]);
    assert_eq!(
        c.tasks[&("F".to_string(), "t1".to_string())].task.state(),
        TaskState::TaskRunning
    );
    // Implicit reconciliation finds the task RUNNING.
    c.reconcile("F", call::Reconcile { tasks: vec![] }, clock.now());
    let answers = updates(&c.take_effects(), "F");
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].state(), TaskState::TaskRunning);
    c.allocate(clock.now());
    let offered = offers(&c.take_effects(), "F");
    assert!(offered.iter().all(|o| o.agent_id.value == "A"));
    assert!(!offered.is_empty());
}

#[test]
fn agents_missing_after_the_timeout_are_marked_unreachable_in_the_registry() {
    let clock = ManualClock::at(T0);
    let mut c = core_with(config(10.0, 1.0, None), clock.now());
    c.recover(admitted(&["A", "B"]), clock.now());
    let pa = pa_info("PA", true);
    let non_pa = pa_info("NP", false);
    reregister(&mut c, "A", &pa, "t1", clock.now()).unwrap();
    clock.advance(9.0);
    c.tick(clock.now());
    assert!(agent_writes(&c.take_effects()).is_empty());

    clock.advance(2.0);
    c.tick(clock.now());
    let effects = c.take_effects();
    assert_eq!(
        agent_writes(&effects),
        vec![(
            "B".to_string(),
            AgentState::Unreachable { since: clock.now() }
        )]
    );
    assert!(c.recovered_agents().is_empty());
    assert!(c.unreachable_agents.contains_key("B"));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Fatal(_))));

    // Explicit reconciliation of a task on B: UNREACHABLE for a partition-aware framework,
    // LOST for the others.
    for (fw, expected) in [
        (&pa, TaskState::TaskUnreachable),
        (&non_pa, TaskState::TaskLost),
    ] {
        let id = fw.id.clone().unwrap().value;
        if !c.frameworks.contains_key(&id) {
            c.subscribe(
                call::Subscribe {
                    framework_info: fw.clone(),
                    ..Default::default()
                },
                "s2",
                clock.now(),
            )
            .unwrap();
        }
        c.take_effects();
        let task = call::reconcile::Task {
            task_id: v1::TaskId { value: "tb".into() },
            agent_id: Some(v1::AgentId { value: "B".into() }),
        };
        c.reconcile(&id, call::Reconcile { tasks: vec![task] }, clock.now());
        let answers = updates(&c.take_effects(), &id);
        assert_eq!(answers.len(), 1, "{id}");
        assert_eq!(answers[0].state(), expected, "{id}");
    }
}

#[test]
fn too_many_missing_agents_stop_the_master_instead_of_being_removed() {
    let clock = ManualClock::at(T0);
    let mut c = core_with(config(10.0, 0.5, None), clock.now());
    c.recover(admitted(&["A", "B", "C", "D"]), clock.now());
    reregister(&mut c, "A", &pa_info("F", true), "t", clock.now()).unwrap();
    clock.advance(11.0);
    c.tick(clock.now());
    let effects = c.take_effects();
    assert!(effects.iter().any(|e| matches!(e, Effect::Fatal(_))));
    assert!(agent_writes(&effects).is_empty(), "nothing is removed");
    assert_eq!(c.recovered_agents().len(), 3);
    clock.advance(60.0);
    c.tick(clock.now());
    assert!(agent_writes(&c.take_effects()).is_empty());
}

#[test]
fn removals_within_the_limit_proceed() {
    let clock = ManualClock::at(T0);
    let mut c = core_with(config(10.0, 0.5, None), clock.now());
    c.recover(admitted(&["A", "B", "C", "D"]), clock.now());
    reregister(&mut c, "A", &pa_info("F", true), "t", clock.now()).unwrap();
    reregister(&mut c, "B", &pa_info("F", true), "t2", clock.now()).unwrap();
    clock.advance(11.0);
    c.tick(clock.now());
    let effects = c.take_effects();
    assert!(!effects.iter().any(|e| matches!(e, Effect::Fatal(_))));
    assert_eq!(agent_writes(&effects).len(), 2);
}

#[test]
fn the_removal_rate_limit_paces_markings() {
    let clock = ManualClock::at(T0);
    let mut c = core_with(config(10.0, 1.0, Some(30.0)), clock.now());
    c.recover(admitted(&["A", "B", "C"]), clock.now());
    clock.advance(10.0);
    c.tick(clock.now());
    assert_eq!(agent_writes(&c.take_effects()).len(), 1);
    clock.advance(10.0);
    c.tick(clock.now());
    assert_eq!(agent_writes(&c.take_effects()).len(), 0);
    clock.advance(20.0);
    c.tick(clock.now());
    assert_eq!(agent_writes(&c.take_effects()).len(), 1);
    clock.advance(30.0);
    c.tick(clock.now());
    assert_eq!(agent_writes(&c.take_effects()).len(), 1);
    assert_eq!(c.unreachable_agents.len(), 3);
}

#[test]
fn marking_unreachable_is_written_before_the_task_updates() {
    let (mut c, fw, agent, offer) = offered("cpus:2;mem:256");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    for i in 0..=CoreConfig::default().max_agent_ping_timeouts {
        c.ping_agents(T0 + f64::from(i));
    }
    let effects = c.take_effects();
    let write = position(&effects, |e| {
        matches!(e, Effect::Registry(RegistryWrite::Agent(r)) if matches!(r.state, AgentState::Unreachable { .. }))
    })
    .expect("unreachable written");
    let update = position(
        &effects,
        |e| matches!(e, Effect::ToFramework { event, .. } if event.update.is_some()),
    )
    .expect("update sent");
    assert!(write < update);
}

#[test]
fn an_unreachable_agent_comes_back_readmitted_with_its_tasks_running() {
    let clock = ManualClock::at(T0);
    let mut c = core_with(config(10.0, 1.0, None), clock.now());
    c.recover(admitted(&["A"]), clock.now());
    clock.advance(11.0);
    c.tick(clock.now());
    c.take_effects();
    assert!(c.unreachable_agents.contains_key("A"));

    let fw = pa_info("F", true);
    let effects = reregister(&mut c, "A", &fw, "t", clock.now()).unwrap();
    let write = position(&effects, |e| {
        matches!(e, Effect::Registry(RegistryWrite::Agent(r)) if r.state == AgentState::Admitted)
    })
    .expect("re-admission written");
    let registered = position(&effects, is_registered).unwrap();
    assert!(write < registered);
    assert!(!c.unreachable_agents.contains_key("A"));
    assert!(to_agent(&effects)
        .iter()
        .all(|m| !matches!(m, MasterMessage::KillTask { .. })));
    assert_eq!(
        c.tasks[&("F".to_string(), "t".to_string())].task.state(),
        TaskState::TaskRunning
    );
}

#[test]
fn a_gone_agent_is_written_first_and_refused_when_it_comes_back() {
    let (mut c, fw, agent, offer) = offered("cpus:2;mem:256");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    c.mark_agent_gone(&agent, T0 + 1.0).unwrap();
    let effects = c.take_effects();
    assert!(matches!(
        &effects[0],
        Effect::Registry(RegistryWrite::Agent(r)) if matches!(r.state, AgentState::Gone { .. })
    ));
    let states: Vec<TaskState> = updates(&effects, &fw).iter().map(|s| s.state()).collect();
    // The framework is not partition-aware: TASK_GONE_BY_OPERATOR becomes TASK_LOST.
    assert_eq!(states, vec![TaskState::TaskLost]);
    assert!(c.agent_is_gone(&agent));
    assert!(reregister(&mut c, &agent, &pa_info(&fw, false), "t", T0 + 2.0).is_err());
    assert!(matches!(
        c.mark_agent_gone("nope", T0),
        Err(CoreError::UnknownAgent(_))
    ));
}

/// A connected agent marked gone is told to shut down on its stream (before the stream is
/// closed); a gone agent's SUBSCRIBE is refused with `AgentGone`, not a transient error.
#[test]
fn a_gone_agent_is_told_to_shut_down() {
    let (mut c, fw, agent, offer) = offered("cpus:2;mem:256");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    c.mark_agent_gone(&agent, T0 + 1.0).unwrap();
    let effects = c.take_effects();
    let shutdown = position(&effects, |e| {
        matches!(e, Effect::ToAgent { agent_id, message: MasterMessage::Shutdown { .. } } if *agent_id == agent)
    })
    .expect("SHUTDOWN sent to the connected agent");
    let close = position(
        &effects,
        |e| matches!(e, Effect::CloseAgent { agent_id } if *agent_id == agent),
    )
    .expect("stream closed");
    let write = position(&effects, |e| matches!(e, Effect::Registry(_))).unwrap();
    assert!(write < shutdown && shutdown < close, "{effects:?}");
    // Marking it again changes nothing.
    c.mark_agent_gone(&agent, T0 + 2.0).unwrap();
    assert!(c.take_effects().is_empty());
    // Its re-registration is refused for good, and nothing is admitted or sent.
    match reregister(&mut c, &agent, &pa_info(&fw, true), "t", T0 + 3.0) {
        Err(CoreError::AgentGone(message)) => assert!(message.contains("marked gone"), "{message}"),
        other => panic!("expected AgentGone, got {other:?}"),
    }
    assert!(c.take_effects().is_empty());
    // A gone agent recovered from the registry by a new leader is refused the same way.
    let mut state = RegistryState::default();
    state.agents.insert(
        agent.clone(),
        AgentRecord {
            info: agent_info(&agent),
            state: AgentState::Gone { since: T0 },
        },
    );
    let mut next = core_with(config(600.0, 1.0, None), T0);
    next.recover(state, T0);
    assert!(matches!(
        reregister(&mut next, &agent, &pa_info(&fw, true), "t", T0 + 1.0),
        Err(CoreError::AgentGone(_))
    ));
}

/// The registry written by one core is what the next core recovers.
#[test]
fn a_restarted_core_recovers_what_the_previous_one_wrote() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut registry = Registry::new(store.clone());
    let mut c = core();
    let a = add_agent(&mut c, "cpus:1;mem:128");
    let b = add_agent(&mut c, "cpus:1;mem:128");
    c.mark_agent_unreachable(&b, T0 + 1.0);
    for w in registry_writes(&c.take_effects()) {
        registry.apply(&w).unwrap();
    }
    let state = crate::registry::load(store.as_ref()).unwrap();
    let mut next = core_with(config(600.0, 1.0, None), T0 + 5.0);
    next.recover(state, T0 + 5.0);
    assert_eq!(
        next.recovered_agents().keys().cloned().collect::<Vec<_>>(),
        vec![a]
    );
    assert!(next.unreachable_agents.contains_key(&b));
}

#[test]
fn the_rate_limit_also_paces_agents_that_miss_their_pings() {
    let mut c = core_with(config(600.0, 1.0, Some(100.0)), T0);
    add_agent(&mut c, "cpus:1;mem:128");
    add_agent(&mut c, "cpus:1;mem:128");
    c.take_effects();
    let max = CoreConfig::default().max_agent_ping_timeouts;
    for i in 0..=max {
        c.ping_agents(T0 + f64::from(i));
    }
    let marked = agent_writes(&c.take_effects());
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(c.unreachable_agents.len(), 1);
    c.ping_agents(T0 + 50.0);
    assert!(agent_writes(&c.take_effects()).is_empty());
    c.ping_agents(T0 + 200.0);
    assert_eq!(agent_writes(&c.take_effects()).len(), 1);
    assert_eq!(c.unreachable_agents.len(), 2);
}
