//! Unit tests of the decision core: inputs in, effects out, no I/O, time handed in.

use corral_api::internal::{AgentCall, AgentEnvelope, MasterMessage, PROTOCOL_VERSION};
use corral_api::v1::scheduler::{call, event, Call, Event};
use corral_api::v1::{self, task_status::Reason, TaskState};
use corral_resources::Resources;

use super::{CoreConfig, CoreError, Effect, MasterCore};
use crate::allocator::first::FirstFitAllocator;

const T0: f64 = 1_000.0;

fn core() -> MasterCore {
    let info = v1::MasterInfo {
        id: "M".into(),
        ip: 16_777_343,
        port: 5050,
        ..Default::default()
    };
    MasterCore::new(
        CoreConfig::default(),
        info,
        1,
        Box::new(FirstFitAllocator::new()),
        T0,
    )
}

fn subscribe(core: &mut MasterCore, name: &str, failover: f64) -> String {
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: name.into(),
        failover_timeout: Some(failover),
        ..Default::default()
    };
    let s = core
        .subscribe(
            call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            &format!("s-{name}"),
            T0,
        )
        .expect("subscribe");
    s.framework_id
}

/// ACCEPT of `offer` launching task "t" with `cpus:1` on `agent`, at T0.
fn accept_t(c: &mut MasterCore, fw: &str, agent: &str, offer: &v1::Offer) {
    let launch = vec![task("t", agent, vec![scalar("cpus", 1.0)])];
    c.scheduler_call(fw, accept(fw, offer, launch), T0)
        .expect("accept");
}

/// The framework "fw" of user "u" subscribing again under its id `fw` on `stream`.
fn resubscribe(c: &mut MasterCore, fw: &str, failover_timeout: f64, stream: &str, now: f64) {
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: "fw".into(),
        id: Some(v1::FrameworkId { value: fw.into() }),
        failover_timeout: Some(failover_timeout),
        ..Default::default()
    };
    let subscribe = call::Subscribe {
        framework_info: info,
        ..Default::default()
    };
    c.subscribe(subscribe, stream, now).expect("re-subscribe");
}

fn add_agent(core: &mut MasterCore, resources: &str) -> String {
    subscribe_new_agent(core, "h", resources).expect("agent subscribe")
}

/// A first SUBSCRIBE of an agent on `hostname` with `resources`.
fn subscribe_new_agent(
    core: &mut MasterCore,
    hostname: &str,
    resources: &str,
) -> Result<String, CoreError> {
    let r: Resources = resources.parse().expect("resources");
    let info = v1::AgentInfo {
        hostname: hostname.into(),
        port: Some(5051),
        resources: r.to_proto(),
        ..Default::default()
    };
    let envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: None,
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: info,
            agent_version: "test".into(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![],
            checkpointed_resources: vec![],
        },
    };
    core.agent_subscribe(envelope, "agent-stream", T0)
}

fn agent_call(
    core: &mut MasterCore,
    agent_id: &str,
    call: AgentCall,
    now: f64,
) -> Result<(), CoreError> {
    let envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: core.epoch(),
        agent_id: Some(v1::AgentId {
            value: agent_id.into(),
        }),
        stream_id: Some("agent-stream".into()),
        call,
    };
    core.agent_call(envelope, now)
}

fn events_for(effects: &[Effect], framework: &str) -> Vec<Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToFramework {
                framework_id,
                event,
            } if framework_id == framework => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn offers(effects: &[Effect], framework: &str) -> Vec<v1::Offer> {
    events_for(effects, framework)
        .into_iter()
        .filter_map(|e| e.offers)
        .flat_map(|o| o.offers)
        .collect()
}

fn updates(effects: &[Effect], framework: &str) -> Vec<v1::TaskStatus> {
    events_for(effects, framework)
        .into_iter()
        .filter_map(|e| e.update)
        .map(|u| u.status)
        .collect()
}

fn to_agent(effects: &[Effect]) -> Vec<MasterMessage> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToAgent { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn scalar(name: &str, v: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value: v }),
        ..Default::default()
    }
}

fn task(id: &str, agent: &str, resources: Vec<v1::Resource>) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: agent.into(),
        },
        resources,
        command: Some(v1::CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn accept(fw: &str, offer: &v1::Offer, tasks: Vec<v1::TaskInfo>) -> Call {
    use v1::offer::operation;
    Call {
        framework_id: Some(v1::FrameworkId { value: fw.into() }),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![v1::offer::Operation {
                r#type: Some(operation::Type::Launch as i32),
                launch: Some(operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    }
}

/// A framework and an agent, with the first offer in hand.
fn offered(resources: &str) -> (MasterCore, String, String, v1::Offer) {
    let mut c = core();
    let fw = subscribe(&mut c, "fw", 0.0);
    let agent = add_agent(&mut c, resources);
    c.take_effects();
    c.allocate(T0);
    let effects = c.take_effects();
    let offer = offers(&effects, &fw).pop().expect("an offer");
    (c, fw, agent, offer)
}

#[test]
fn subscribe_sends_subscribed_with_heartbeat_and_master_info() {
    let mut c = core();
    let fw = subscribe(&mut c, "fw", 0.0);
    assert_eq!(fw, "M-0000");
    let events = events_for(&c.take_effects(), &fw);
    let s = events[0].subscribed.as_ref().expect("SUBSCRIBED first");
    assert_eq!(events[0].r#type, Some(event::Type::Subscribed as i32));
    assert_eq!(s.framework_id.value, fw);
    assert_eq!(s.heartbeat_interval_seconds, Some(15.0));
    assert_eq!(s.master_info.as_ref().map(|m| m.id.as_str()), Some("M"));
}

#[test]
fn whole_agent_is_offered_once_and_only_once() {
    let (mut c, fw, agent, offer) = offered("cpus:4;mem:1024;ports:[31000-31010]");
    assert_eq!(offer.agent_id.value, agent);
    let r = Resources::from_proto(&offer.resources).unwrap().stripped();
    assert_eq!(
        r,
        "cpus:4;mem:1024;ports:[31000-31010]"
            .parse::<Resources>()
            .unwrap()
    );
    assert_eq!(
        offer.allocation_info.and_then(|a| a.role).as_deref(),
        Some("*")
    );
    // A second framework gets nothing while the offer is outstanding.
    let other = subscribe(&mut c, "other", 0.0);
    c.allocate(T0);
    let effects = c.take_effects();
    assert!(offers(&effects, &other).is_empty());
    assert!(offers(&effects, &fw).is_empty());
}

#[test]
fn launch_sends_run_task_and_unused_resources_are_reoffered_after_the_filter() {
    let (mut c, fw, agent, offer) = offered("cpus:4;mem:1024");
    let t = task(
        "t1",
        &agent,
        vec![scalar("cpus", 1.0), scalar("mem", 128.0)],
    );
    c.scheduler_call(&fw, accept(&fw, &offer, vec![t]), T0)
        .unwrap();
    let msgs = to_agent(&c.take_effects());
    assert!(
        matches!(&msgs[..], [MasterMessage::RunTask { task, executor: None, .. }] if task.task_id.value == "t1")
    );
    // Leftovers are filtered for 5 s (the default refuse_seconds).
    c.allocate(T0 + 1.0);
    assert!(offers(&c.take_effects(), &fw).is_empty());
    c.allocate(T0 + 6.0);
    let again = offers(&c.take_effects(), &fw);
    let r = Resources::from_proto(&again[0].resources)
        .unwrap()
        .stripped();
    assert_eq!(r, "cpus:3;mem:896".parse::<Resources>().unwrap());
}

#[test]
fn duplicate_task_id_is_task_error_and_consumes_nothing() {
    let (mut c, fw, agent, offer) = offered("cpus:4;mem:1024");
    let a = task("dup", &agent, vec![scalar("cpus", 1.0)]);
    let b = task("dup", &agent, vec![scalar("cpus", 1.0)]);
    c.scheduler_call(&fw, accept(&fw, &offer, vec![a, b]), T0)
        .unwrap();
    let effects = c.take_effects();
    assert_eq!(to_agent(&effects).len(), 1, "only the first task launches");
    let u = updates(&effects, &fw);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].state(), TaskState::TaskError);
    assert_eq!(u[0].reason(), Reason::TaskInvalid);
    assert!(u[0].message().contains("duplicate"), "{:?}", u[0].message);
    assert!(
        u[0].uuid.is_none(),
        "master-generated updates carry no uuid"
    );
}

#[test]
fn invalid_resources_are_task_error_and_allocate_nothing() {
    for bad in [
        scalar("cpus", -1.0),
        scalar("cpus", f64::NAN),
        scalar("mem", f64::INFINITY),
    ] {
        let (mut c, fw, agent, offer) = offered("cpus:4;mem:1024");
        c.scheduler_call(
            &fw,
            accept(&fw, &offer, vec![task("t", &agent, vec![bad.clone()])]),
            T0,
        )
        .unwrap();
        let effects = c.take_effects();
        assert!(to_agent(&effects).is_empty());
        let u = updates(&effects, &fw);
        assert_eq!(u[0].state(), TaskState::TaskError, "{bad:?}");
        assert_eq!(u[0].reason(), Reason::TaskInvalid);
        assert!(c.agents[&agent].used.is_empty());
    }
    let (mut c, fw, agent, offer) = offered("cpus:4;mem:1024;ports:[31000-31010]");
    let inverted = v1::Resource {
        name: "ports".into(),
        r#type: v1::value::Type::Ranges as i32,
        ranges: Some(v1::value::Ranges {
            range: vec![v1::value::Range { begin: 5, end: 3 }],
        }),
        ..Default::default()
    };
    c.scheduler_call(
        &fw,
        accept(&fw, &offer, vec![task("t", &agent, vec![inverted])]),
        T0,
    )
    .unwrap();
    let u = updates(&c.take_effects(), &fw);
    assert_eq!(u[0].state(), TaskState::TaskError);
}

#[test]
fn task_bigger_than_the_offer_is_rejected() {
    let (mut c, fw, agent, offer) = offered("cpus:1;mem:128");
    c.scheduler_call(
        &fw,
        accept(
            &fw,
            &offer,
            vec![task("big", &agent, vec![scalar("cpus", 2.0)])],
        ),
        T0,
    )
    .unwrap();
    let u = updates(&c.take_effects(), &fw);
    assert_eq!(u[0].state(), TaskState::TaskError);
    assert!(u[0].message().contains("more resources"));
}

#[test]
fn accepting_an_unknown_offer_drops_the_tasks_as_lost() {
    let (mut c, fw, agent, mut offer) = offered("cpus:1;mem:128");
    offer.id.value = "nope".into();
    accept_t(&mut c, &fw, &agent, &offer);
    let u = updates(&c.take_effects(), &fw);
    // Not partition-aware: TASK_DROPPED is downgraded to TASK_LOST.
    assert_eq!(u[0].state(), TaskState::TaskLost);
    assert_eq!(u[0].reason(), Reason::InvalidOffers);
}

#[test]
fn status_update_is_forwarded_with_uuid_and_ack_completes_the_task() {
    let (mut c, fw, agent, offer) = offered("cpus:1;mem:128");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    let uuid = vec![7u8; 16];
    let status = v1::TaskStatus {
        task_id: v1::TaskId { value: "t".into() },
        state: TaskState::TaskFinished as i32,
        uuid: Some(uuid.clone()),
        source: Some(v1::task_status::Source::Executor as i32),
        ..Default::default()
    };
    let update = AgentCall::StatusUpdate {
        framework_id: v1::FrameworkId { value: fw.clone() },
        status,
        latest_state: None,
    };
    agent_call(&mut c, &agent, update, T0 + 1.0).unwrap();
    let u = updates(&c.take_effects(), &fw);
    assert_eq!(u[0].uuid.as_ref(), Some(&uuid));
    assert_eq!(
        u[0].agent_id.as_ref().map(|a| a.value.as_str()),
        Some(agent.as_str())
    );
    assert!(
        c.agents[&agent].used.is_empty(),
        "terminal state releases the resources"
    );
    let ack = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent.clone(),
            },
            task_id: v1::TaskId { value: "t".into() },
            uuid,
        }),
        ..Default::default()
    };
    c.scheduler_call(&fw, ack, T0 + 2.0).unwrap();
    assert!(matches!(
        &to_agent(&c.take_effects())[..],
        [MasterMessage::StatusUpdateAcknowledgement { .. }]
    ));
    assert_eq!(c.frameworks[&fw].completed_tasks.len(), 1);
    assert!(c.tasks.is_empty());
}

#[test]
fn acknowledge_with_a_short_uuid_is_refused() {
    let (mut c, fw, agent, _) = offered("cpus:1");
    let ack = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            agent_id: v1::AgentId { value: agent },
            task_id: v1::TaskId { value: "t".into() },
            uuid: vec![1, 2, 3],
        }),
        ..Default::default()
    };
    assert!(matches!(
        c.scheduler_call(&fw, ack, T0),
        Err(CoreError::Invalid(_))
    ));
}

#[test]
fn caller_checks_stream_and_subscription() {
    let mut c = core();
    let fw = subscribe(&mut c, "fw", 10.0);
    assert!(c.check_caller(&fw, Some("s-fw")).is_ok());
    assert!(matches!(
        c.check_caller(&fw, Some("wrong")),
        Err(CoreError::StreamMismatch(_))
    ));
    assert!(matches!(
        c.check_caller("nope", Some("s-fw")),
        Err(CoreError::UnknownFramework(_))
    ));
    c.framework_disconnected(&fw, "s-fw", T0);
    assert!(matches!(
        c.check_caller(&fw, Some("s-fw")),
        Err(CoreError::NotSubscribed(_))
    ));
}

#[test]
fn failover_timeout_keeps_the_framework_then_removes_it() {
    let (mut c, fw, agent, offer) = offered("cpus:2");
    c.frameworks.get_mut(&fw).unwrap().info.failover_timeout = Some(10.0);
    accept_t(&mut c, &fw, &agent, &offer);
    c.framework_disconnected(&fw, "s-fw", T0 + 1.0);
    c.tick(T0 + 5.0);
    assert!(c.frameworks.contains_key(&fw), "within failover_timeout");
    // Re-subscribing with the same id keeps the task.
    resubscribe(&mut c, &fw, 10.0, "s2", T0 + 6.0);
    assert_eq!(c.frameworks[&fw].tasks.len(), 1);
    c.framework_disconnected(&fw, "s2", T0 + 7.0);
    c.take_effects();
    c.tick(T0 + 18.0);
    assert!(
        !c.frameworks.contains_key(&fw),
        "removed after failover_timeout"
    );
    let msgs = to_agent(&c.take_effects());
    assert!(msgs
        .iter()
        .any(|m| matches!(m, MasterMessage::ShutdownFramework { .. })));
    assert!(c.agents[&agent].used.is_empty());
    // A removed framework cannot come back.
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: "fw".into(),
        id: Some(v1::FrameworkId { value: fw }),
        ..Default::default()
    };
    assert!(c
        .subscribe(
            call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            "s3",
            T0 + 19.0
        )
        .is_err());
}

#[test]
fn agent_missing_pings_loses_its_tasks() {
    let (mut c, fw, agent, offer) = offered("cpus:2");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    for i in 0..=5 {
        c.ping_agents(T0 + f64::from(i) * 15.0);
    }
    let effects = c.take_effects();
    let u = updates(&effects, &fw);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].state(), TaskState::TaskLost, "not partition-aware");
    assert_eq!(u[0].reason(), Reason::AgentRemoved);
    assert!(!c.agents.contains_key(&agent));
    assert!(c.unreachable_agents.contains_key(&agent));
    // A pong resets the count, so a live agent is never removed.
    let mut c = core();
    let agent = add_agent(&mut c, "cpus:1");
    for i in 0..20 {
        c.ping_agents(T0 + f64::from(i));
        let seq = c.agents[&agent].ping_seq;
        agent_call(&mut c, &agent, AgentCall::Pong { seq }, T0 + f64::from(i)).unwrap();
    }
    assert!(c.agents.contains_key(&agent));
}

#[test]
fn suppress_and_revive() {
    let mut c = core();
    let fw = subscribe(&mut c, "fw", 0.0);
    let suppress = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::Suppress as i32),
        ..Default::default()
    };
    c.scheduler_call(&fw, suppress, T0).unwrap();
    add_agent(&mut c, "cpus:1");
    c.take_effects();
    c.allocate(T0);
    assert!(offers(&c.take_effects(), &fw).is_empty());
    let revive = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::Revive as i32),
        ..Default::default()
    };
    c.scheduler_call(&fw, revive, T0).unwrap();
    c.allocate(T0);
    assert_eq!(offers(&c.take_effects(), &fw).len(), 1);
}

#[test]
fn reconcile_answers_known_and_unknown_tasks() {
    let (mut c, fw, agent, offer) = offered("cpus:2");
    accept_t(&mut c, &fw, &agent, &offer);
    c.take_effects();
    let reconcile = Call {
        framework_id: Some(v1::FrameworkId { value: fw.clone() }),
        r#type: Some(call::Type::Reconcile as i32),
        reconcile: Some(call::Reconcile {
            tasks: vec![
                call::reconcile::Task {
                    task_id: v1::TaskId { value: "t".into() },
                    agent_id: None,
                },
                call::reconcile::Task {
                    task_id: v1::TaskId {
                        value: "ghost".into(),
                    },
                    agent_id: None,
                },
            ],
        }),
        ..Default::default()
    };
    c.scheduler_call(&fw, reconcile, T0).unwrap();
    let u = updates(&c.take_effects(), &fw);
    assert_eq!(u[0].state(), TaskState::TaskStaging);
    assert_eq!(u[1].state(), TaskState::TaskLost);
    assert!(u
        .iter()
        .all(|s| s.reason() == Reason::Reconciliation && s.uuid.is_none()));
}

#[test]
fn agent_calls_are_fenced_by_epoch_and_session() {
    let mut c = core();
    let agent = add_agent(&mut c, "cpus:1");
    let mut envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: c.epoch() - 1,
        agent_id: Some(v1::AgentId {
            value: agent.clone(),
        }),
        stream_id: Some("agent-stream".into()),
        call: AgentCall::Pong { seq: 0 },
    };
    assert!(matches!(
        c.agent_call(envelope.clone(), T0),
        Err(CoreError::Fenced(_))
    ));
    envelope.epoch = c.epoch();
    envelope.stream_id = Some("old".into());
    assert!(matches!(
        c.agent_call(envelope.clone(), T0),
        Err(CoreError::Fenced(_))
    ));
    envelope.version = PROTOCOL_VERSION + 1;
    assert!(matches!(
        c.agent_call(envelope, T0),
        Err(CoreError::Invalid(_))
    ));
}

mod failover;
mod maintenance;
mod properties;
mod reconcile;
mod recovery;
mod reservations;
