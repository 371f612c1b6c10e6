//! Framework failover (reliability matrix F1–F3): re-subscription within `failover_timeout`,
//! redelivery of unacknowledged updates with their uuids, fencing of the old stream, principal
//! changes, removal after the timeout, and the deadline surviving a master restart.

use std::sync::Arc;

use corral_store::{MemoryStore, Store};

use super::*;
use crate::registry::{Registry, RegistryWrite};

fn info(name: &str, id: Option<&str>, failover: f64, principal: Option<&str>) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "u".into(),
        name: name.into(),
        id: id.map(|i| v1::FrameworkId { value: i.into() }),
        failover_timeout: Some(failover),
        principal: principal.map(Into::into),
        ..Default::default()
    }
}

fn subscribe_info(
    c: &mut MasterCore,
    info: v1::FrameworkInfo,
    stream: &str,
    now: f64,
) -> Result<String, String> {
    c.subscribe(
        call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        stream,
        now,
    )
    .map(|s| s.framework_id)
}

/// A framework (failover_timeout `failover`, principal "p") running task "t" on an agent.
fn running(failover: f64) -> (MasterCore, String, String) {
    let mut c = core();
    let fw = subscribe_info(&mut c, info("fw", None, failover, Some("p")), "s1", T0).unwrap();
    let agent = add_agent(&mut c, "cpus:2;mem:256");
    c.take_effects();
    c.allocate(T0);
    let offer = offers(&c.take_effects(), &fw).pop().expect("an offer");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    (c, fw, agent)
}

fn update(fw: &str, state: TaskState, uuid: u8) -> AgentCall {
    AgentCall::StatusUpdate {
        framework_id: v1::FrameworkId { value: fw.into() },
        status: v1::TaskStatus {
            task_id: v1::TaskId { value: "t".into() },
            state: state as i32,
            uuid: Some(vec![uuid; 16]),
            source: Some(v1::task_status::Source::Executor as i32),
            data: Some(vec![1, 2, 3]),
            ..Default::default()
        },
        latest_state: None,
    }
}

fn ack(fw: &str, agent: &str, uuid: u8) -> Call {
    Call {
        framework_id: Some(v1::FrameworkId { value: fw.into() }),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.into(),
            },
            task_id: v1::TaskId { value: "t".into() },
            uuid: vec![uuid; 16],
        }),
        ..Default::default()
    }
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

#[test]
fn resubscribing_keeps_tasks_and_redelivers_unacknowledged_updates_with_their_uuids() {
    let (mut c, fw, agent) = running(60.0);
    c.framework_disconnected(&fw, "s1", T0 + 1.0);
    // The agent's RUNNING arrives while the scheduler is away: nobody hears it.
    agent_call(
        &mut c,
        &agent,
        update(&fw, TaskState::TaskRunning, 7),
        T0 + 2.0,
    )
    .unwrap();
    c.take_effects();
    let again = info("fw", Some(&fw), 60.0, Some("p"));
    subscribe_info(&mut c, again.clone(), "s2", T0 + 10.0).unwrap();
    let events = events_for(&c.take_effects(), &fw);
    assert_eq!(events[0].r#type, Some(event::Type::Subscribed as i32));
    let redelivered: Vec<_> = events.iter().filter_map(|e| e.update.as_ref()).collect();
    assert_eq!(
        redelivered.len(),
        1,
        "the unacknowledged RUNNING comes again"
    );
    let status = &redelivered[0].status;
    assert_eq!(status.uuid, Some(vec![7; 16]), "same uuid");
    assert_eq!(status.state(), TaskState::TaskRunning);
    assert_eq!(status.data, Some(vec![1, 2, 3]), "with its data");
    assert_eq!(c.frameworks[&fw].tasks.len(), 1, "the task is kept");
    assert!(c.check_caller(&fw, Some("s2")).is_ok());

    // Once acknowledged it is not redelivered by a later re-subscription.
    c.scheduler_call(&fw, ack(&fw, &agent, 7), T0 + 11.0)
        .unwrap();
    c.framework_disconnected(&fw, "s2", T0 + 12.0);
    subscribe_info(&mut c, again, "s3", T0 + 13.0).unwrap();
    let events = events_for(&c.take_effects(), &fw);
    assert!(events.iter().all(|e| e.update.is_none()), "{events:?}");
}

#[test]
fn calls_from_the_old_stream_are_refused_after_a_resubscription() {
    let (mut c, fw, _agent) = running(60.0);
    // A new instance subscribes while the old one is still connected: the new stream wins.
    subscribe_info(
        &mut c,
        info("fw", Some(&fw), 60.0, Some("p")),
        "s2",
        T0 + 1.0,
    )
    .unwrap();
    assert!(matches!(
        c.check_caller(&fw, Some("s1")),
        Err(CoreError::StreamMismatch(_))
    ));
    assert!(c.check_caller(&fw, Some("s2")).is_ok());
    // The old stream closing later does not disconnect the new one.
    c.framework_disconnected(&fw, "s1", T0 + 2.0);
    assert!(c.frameworks[&fw].connected());
}

#[test]
fn a_principal_change_is_refused_and_changes_nothing() {
    let (mut c, fw, _agent) = running(60.0);
    c.framework_disconnected(&fw, "s1", T0 + 1.0);
    c.take_effects();
    let before = format!("{:?}", c.frameworks[&fw]);
    for principal in [Some("other"), None] {
        let err = subscribe_info(
            &mut c,
            info("fw", Some(&fw), 60.0, principal),
            "s2",
            T0 + 2.0,
        )
        .unwrap_err();
        assert!(err.contains("principal"), "{err}");
        assert_eq!(format!("{:?}", c.frameworks[&fw]), before);
        assert!(c.take_effects().is_empty(), "nothing is written or sent");
    }
    assert!(matches!(
        c.check_caller(&fw, Some("s2")),
        Err(CoreError::NotSubscribed(_))
    ));
    // Setting a principal where there was none is a change too.
    let mut c = core();
    let fw = subscribe_info(&mut c, info("fw", None, 60.0, None), "s1", T0).unwrap();
    assert!(subscribe_info(&mut c, info("fw", Some(&fw), 60.0, Some("p")), "s2", T0).is_err());
}

#[test]
fn after_the_failover_timeout_tasks_are_killed_and_the_id_is_refused() {
    let (mut c, fw, agent) = running(10.0);
    agent_call(
        &mut c,
        &agent,
        update(&fw, TaskState::TaskRunning, 1),
        T0 + 1.0,
    )
    .unwrap();
    c.framework_disconnected(&fw, "s1", T0 + 2.0);
    c.take_effects();
    c.tick(T0 + 11.9);
    assert!(
        c.frameworks.contains_key(&fw),
        "still within failover_timeout"
    );
    c.tick(T0 + 12.0);
    assert!(!c.frameworks.contains_key(&fw), "removed at the deadline");
    let effects = c.take_effects();
    assert!(to_agent(&effects).iter().any(
        |m| matches!(m, MasterMessage::ShutdownFramework { framework_id } if framework_id.value == fw)
    ));
    assert!(registry_writes(&effects).contains(&RegistryWrite::RemoveFramework(fw.clone())));
    assert!(c.agents[&agent].used.is_empty(), "resources freed");
    assert!(c.tasks.is_empty());
    assert!(c.unacked_updates.is_empty());
    let done = c.completed_frameworks.back().unwrap();
    let t = done.completed_tasks.back().unwrap();
    assert_eq!(t.state(), TaskState::TaskKilled);
    let last = t.statuses.last().unwrap();
    assert_eq!(last.reason(), Reason::FrameworkRemoved);
    assert_eq!(last.source(), v1::task_status::Source::Master);
    let err = subscribe_info(
        &mut c,
        info("fw", Some(&fw), 10.0, Some("p")),
        "s9",
        T0 + 13.0,
    )
    .unwrap_err();
    assert_eq!(err, "Framework has been removed");
}

#[test]
fn the_record_is_written_before_subscribed_and_the_disconnection_is_written() {
    let mut c = core();
    let fw = subscribe_info(&mut c, info("fw", None, 30.0, Some("p")), "s1", T0).unwrap();
    let effects = c.take_effects();
    let write = effects
        .iter()
        .position(|e| matches!(e, Effect::Registry(RegistryWrite::Framework(r)) if r.disconnected_since.is_none()))
        .expect("framework record written");
    let subscribed = effects
        .iter()
        .position(|e| matches!(e, Effect::ToFramework { event, .. } if event.subscribed.is_some()))
        .expect("SUBSCRIBED sent");
    assert!(write < subscribed, "durable before acknowledged");
    c.framework_disconnected(&fw, "s1", T0 + 5.0);
    let writes = registry_writes(&c.take_effects());
    assert!(
        matches!(&writes[..], [RegistryWrite::Framework(r)] if r.disconnected_since == Some(T0 + 5.0)),
        "{writes:?}"
    );
}

/// Apply the core's registry writes to `registry` (what the runtime does).
fn persist(registry: &mut Registry, effects: &[Effect]) {
    for w in registry_writes(effects) {
        registry.apply(&w).unwrap();
    }
}

/// The agent's SUBSCRIBE after a master restart, reporting task "t" of `fw` as RUNNING.
fn reregister(c: &mut MasterCore, agent: &str, fw: &str, now: f64) -> Vec<Effect> {
    let r: Resources = "cpus:2;mem:256".parse().unwrap();
    let framework = info("fw", Some(fw), 0.0, Some("p"));
    let task = v1::Task {
        name: "t".into(),
        task_id: v1::TaskId { value: "t".into() },
        framework_id: v1::FrameworkId { value: fw.into() },
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
            agent_info: v1::AgentInfo {
                hostname: "h".into(),
                port: Some(5051),
                resources: r.to_proto(),
                id: Some(v1::AgentId {
                    value: agent.into(),
                }),
                ..Default::default()
            },
            agent_version: "test".into(),
            frameworks: vec![framework],
            executors: vec![],
            tasks: vec![task],
            checkpointed_resources: vec![],
        },
    };
    c.agent_subscribe(envelope, "agent-stream-2", now).unwrap();
    c.take_effects()
}

/// F3 (MESOS-4659): the framework disconnects, the master restarts before the failover
/// timeout, the framework never comes back: it is removed at about the original deadline.
#[test]
fn the_failover_deadline_survives_a_master_restart() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut registry = Registry::new(store.clone());
    registry.load().unwrap();
    let mut c = core();
    let fw = subscribe_info(&mut c, info("fw", None, 100.0, Some("p")), "s1", T0).unwrap();
    let agent = add_agent(&mut c, "cpus:2;mem:256");
    persist(&mut registry, &c.take_effects());
    c.framework_disconnected(&fw, "s1", T0 + 10.0); // deadline T0 + 110
    persist(&mut registry, &c.take_effects());
    drop(c);

    // A new master process at T0 + 50 recovers from the same store.
    let state = Registry::new(store).load().unwrap();
    assert!(state.frameworks.contains_key(&fw));
    let mut c = core();
    c.recover(state, T0 + 50.0);
    assert!(!c.frameworks[&fw].connected());
    let effects = reregister(&mut c, &agent, &fw, T0 + 51.0);
    assert!(!to_agent(&effects)
        .iter()
        .any(|m| matches!(m, MasterMessage::ShutdownFramework { .. })));
    assert_eq!(c.frameworks[&fw].tasks.len(), 1, "its task is back");
    assert!(c.frameworks[&fw].tasks.contains("t"));
    // Not a fresh timeout from the restart (that would be T0 + 150)...
    c.tick(T0 + 109.0);
    assert!(c.frameworks.contains_key(&fw));
    c.take_effects();
    // ...but the original deadline.
    c.tick(T0 + 110.5);
    assert!(!c.frameworks.contains_key(&fw));
    let effects = c.take_effects();
    assert!(to_agent(&effects).iter().any(
        |m| matches!(m, MasterMessage::ShutdownFramework { framework_id } if framework_id.value == fw)
    ));
    assert!(registry_writes(&effects).contains(&RegistryWrite::RemoveFramework(fw.clone())));
}

/// F3, the agent comes back only after the original deadline: its tasks of the removed
/// framework are shut down when it re-registers.
#[test]
fn tasks_of_a_framework_removed_during_recovery_are_killed_when_their_agent_returns() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut registry = Registry::new(store.clone());
    registry.load().unwrap();
    let mut c = core();
    let fw = subscribe_info(&mut c, info("fw", None, 30.0, Some("p")), "s1", T0).unwrap();
    let agent = add_agent(&mut c, "cpus:2;mem:256");
    persist(&mut registry, &c.take_effects());
    c.framework_disconnected(&fw, "s1", T0 + 10.0); // deadline T0 + 40
    persist(&mut registry, &c.take_effects());

    let mut c = core();
    c.recover(Registry::new(store).load().unwrap(), T0 + 20.0);
    c.tick(T0 + 41.0);
    assert!(
        !c.frameworks.contains_key(&fw),
        "removed at the original deadline"
    );
    c.take_effects();
    let effects = reregister(&mut c, &agent, &fw, T0 + 45.0);
    let msgs = to_agent(&effects);
    let registered = msgs
        .iter()
        .position(|m| matches!(m, MasterMessage::Registered { .. }))
        .unwrap();
    let shutdown = msgs
        .iter()
        .position(
            |m| matches!(m, MasterMessage::ShutdownFramework { framework_id } if framework_id.value == fw),
        )
        .expect("the agent is told to shut the framework down");
    assert!(registered < shutdown);
    assert!(
        c.tasks.is_empty(),
        "the removed framework's task is not tracked"
    );
    assert!(!c.frameworks.contains_key(&fw), "nor resurrected");
}

#[test]
fn a_framework_connected_at_the_restart_gets_the_reregistration_grace() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut registry = Registry::new(store.clone());
    registry.load().unwrap();
    let mut c = core();
    // failover_timeout 0: removed at once if its own stream breaks...
    let fw = subscribe_info(&mut c, info("fw", None, 0.0, None), "s1", T0).unwrap();
    persist(&mut registry, &c.take_effects());
    // ...but the master died under it: it has agent_reregister_timeout to come back.
    let mut c = core();
    let grace = c.config.agent_reregister_timeout_secs;
    c.recover(Registry::new(store).load().unwrap(), T0 + 100.0);
    assert!(registry_writes(&c.take_effects()).is_empty());
    c.tick(T0 + 100.0 + grace - 1.0);
    assert!(c.frameworks.contains_key(&fw));
    subscribe_info(
        &mut c,
        info("fw", Some(&fw), 0.0, None),
        "s2",
        T0 + 100.0 + grace - 0.5,
    )
    .unwrap();
    c.tick(T0 + 100.0 + grace + 100.0);
    assert!(c.frameworks[&fw].connected());
    // One that never comes back is removed when the grace ends.
    let mut c = core();
    c.recover_frameworks(
        [crate::registry::FrameworkRecord {
            info: info("gone", Some("F-gone"), 5.0, None),
            disconnected_since: None,
        }],
        T0,
    );
    c.tick(T0 + grace - 1.0);
    assert!(c.frameworks.contains_key("F-gone"));
    c.tick(T0 + grace);
    assert!(!c.frameworks.contains_key("F-gone"));
}

#[test]
fn an_unrepresentable_failover_timeout_is_refused() {
    let mut c = core();
    for bad in [1e17, f64::INFINITY, f64::NAN, -1e17] {
        let err = subscribe_info(&mut c, info("fw", None, bad, None), "s1", T0).unwrap_err();
        assert!(err.contains("failover timeout"), "{err}");
        assert!(c.frameworks.is_empty());
        assert!(c.take_effects().is_empty());
    }
    assert!(subscribe_info(&mut c, info("fw", None, 1e9, None), "s1", T0).is_ok());
}

#[test]
fn a_framework_learned_from_an_agent_is_recorded() {
    // The registry does not know the framework (e.g. the registry was lost): the agent's
    // report brings it back disconnected with the re-registration grace, and it is made
    // durable before REGISTERED.
    let mut c = core();
    let effects = reregister(&mut c, "M-S7", "F-old", T0 + 5.0);
    let write = effects.iter().position(|e| {
        matches!(e, Effect::Registry(RegistryWrite::Framework(r))
            if r.disconnected_since.is_none()
                && r.info.id.as_ref().map(|i| i.value.as_str()) == Some("F-old"))
    });
    let registered = effects.iter().position(|e| {
        matches!(
            e,
            Effect::ToAgent {
                message: MasterMessage::Registered { .. },
                ..
            }
        )
    });
    assert!(
        write.is_some() && registered.is_some() && write < registered,
        "{effects:?}"
    );
    assert!(!c.frameworks["F-old"].connected());
    let grace = c.config.agent_reregister_timeout_secs;
    c.tick(T0 + 5.0 + grace - 1.0);
    assert!(
        c.frameworks.contains_key("F-old"),
        "failover_timeout 0, but the grace"
    );
    assert_eq!(c.frameworks["F-old"].tasks.len(), 1);
}
