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

fn add_agent(core: &mut MasterCore, resources: &str) -> String {
    let r: Resources = resources.parse().expect("resources");
    let info = v1::AgentInfo {
        hostname: "h".into(),
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
        .expect("agent subscribe")
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
    c.scheduler_call(
        &fw,
        accept(
            &fw,
            &offer,
            vec![task("t", &agent, vec![scalar("cpus", 1.0)])],
        ),
        T0,
    )
    .unwrap();
    let u = updates(&c.take_effects(), &fw);
    // Not partition-aware: TASK_DROPPED is downgraded to TASK_LOST.
    assert_eq!(u[0].state(), TaskState::TaskLost);
    assert_eq!(u[0].reason(), Reason::InvalidOffers);
}

#[test]
fn status_update_is_forwarded_with_uuid_and_ack_completes_the_task() {
    let (mut c, fw, agent, offer) = offered("cpus:1;mem:128");
    c.scheduler_call(
        &fw,
        accept(
            &fw,
            &offer,
            vec![task("t", &agent, vec![scalar("cpus", 1.0)])],
        ),
        T0,
    )
    .unwrap();
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
    c.scheduler_call(
        &fw,
        accept(
            &fw,
            &offer,
            vec![task("t", &agent, vec![scalar("cpus", 1.0)])],
        ),
        T0,
    )
    .unwrap();
    c.framework_disconnected(&fw, "s-fw", T0 + 1.0);
    c.tick(T0 + 5.0);
    assert!(c.frameworks.contains_key(&fw), "within failover_timeout");
    // Re-subscribing with the same id keeps the task.
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: "fw".into(),
        id: Some(v1::FrameworkId { value: fw.clone() }),
        failover_timeout: Some(10.0),
        ..Default::default()
    };
    c.subscribe(
        call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        "s2",
        T0 + 6.0,
    )
    .unwrap();
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
    c.scheduler_call(
        &fw,
        accept(
            &fw,
            &offer,
            vec![task("t", &agent, vec![scalar("cpus", 1.0)])],
        ),
        T0,
    )
    .unwrap();
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
    c.scheduler_call(
        &fw,
        accept(
            &fw,
            &offer,
            vec![task("t", &agent, vec![scalar("cpus", 1.0)])],
        ),
        T0,
    )
    .unwrap();
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

mod properties {
    //! Whatever the schedulers do, no agent is ever over-committed: offered + used ≤ total.
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Launch { fw: usize, cpus: u8 },
        Decline { fw: usize, refuse: u8 },
        Finish { pick: usize },
        Tick { secs: u8 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3usize, 1..4u8).prop_map(|(fw, cpus)| Step::Launch { fw, cpus }),
            (0..3usize, 0..10u8).prop_map(|(fw, refuse)| Step::Decline { fw, refuse }),
            (0..100usize).prop_map(|pick| Step::Finish { pick }),
            (0..10u8).prop_map(|secs| Step::Tick { secs }),
        ]
    }

    proptest! {
        #[test]
        fn never_overcommits(steps in proptest::collection::vec(step(), 1..60)) {
            let mut c = core();
            let fws: Vec<String> = (0..3).map(|i| subscribe(&mut c, &format!("f{i}"), 0.0)).collect();
            let agents: Vec<String> = (0..2).map(|_| add_agent(&mut c, "cpus:4;mem:1024")).collect();
            let mut now = T0;
            let mut n = 0;
            c.allocate(now);
            for s in steps {
                let effects = c.take_effects();
                let _ = effects;
                match s {
                    Step::Launch { fw, cpus } => {
                        let fw = &fws[fw];
                        if let Some(o) = c.offers.values().find(|o| &o.framework_id == fw).map(|o| o.offer.clone()) {
                            n += 1;
                            let t = task(&format!("t{n}"), &o.agent_id.value, vec![scalar("cpus", f64::from(cpus))]);
                            c.scheduler_call(fw, accept(fw, &o, vec![t]), now).unwrap();
                        }
                    }
                    Step::Decline { fw, refuse } => {
                        let fw = &fws[fw];
                        let ids: Vec<v1::OfferId> = c.offers.values().filter(|o| &o.framework_id == fw).map(|o| o.offer.id.clone()).collect();
                        let decline = Call {
                            framework_id: Some(v1::FrameworkId { value: fw.clone() }),
                            r#type: Some(call::Type::Decline as i32),
                            decline: Some(call::Decline { offer_ids: ids, filters: Some(v1::Filters { refuse_seconds: Some(f64::from(refuse)) }) }),
                            ..Default::default()
                        };
                        c.scheduler_call(fw, decline, now).unwrap();
                    }
                    Step::Finish { pick } => {
                        let live: Vec<(String, String, String)> = c.tasks.iter().filter(|(_, r)| !r.terminal)
                            .map(|((f, t), r)| (f.clone(), t.clone(), r.task.agent_id.value.clone())).collect();
                        if !live.is_empty() {
                            let (f, t, a) = live[pick % live.len()].clone();
                            let status = v1::TaskStatus { task_id: v1::TaskId { value: t }, state: TaskState::TaskFinished as i32, uuid: Some(vec![1; 16]), ..Default::default() };
                            agent_call(&mut c, &a, AgentCall::StatusUpdate { framework_id: v1::FrameworkId { value: f }, status, latest_state: None }, now).unwrap();
                        }
                    }
                    Step::Tick { secs } => { now += f64::from(secs); c.tick(now); }
                }
                c.allocate(now);
                for a in &agents {
                    let agent = &c.agents[a];
                    let mut held = agent.used.clone();
                    held.add_all(&agent.offered);
                    prop_assert!(agent.total.contains(&held), "agent {a}: used+offered {held} exceeds total {}", agent.total);
                }
            }
        }
    }
}

mod reservations {
    use super::*;
    use v1::offer::operation;

    fn dyn_reserved(mut r: v1::Resource, role: &str) -> v1::Resource {
        r.reservations.push(v1::resource::ReservationInfo {
            r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
            role: Some(role.into()),
            principal: None,
            labels: None,
        });
        r
    }

    fn volume(id: &str, role: &str) -> v1::Resource {
        let mut r = dyn_reserved(scalar("disk", 100.0), role);
        r.disk = Some(v1::resource::DiskInfo {
            persistence: Some(v1::resource::disk_info::Persistence {
                id: id.into(),
                principal: None,
            }),
            volume: Some(v1::Volume {
                container_path: "data".into(),
                mode: v1::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        r
    }

    fn op(kind: operation::Type) -> v1::offer::Operation {
        v1::offer::Operation {
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    #[allow(deprecated)] // the legacy single `role` is what most frameworks still send
    fn subscribe_in(core: &mut MasterCore, name: &str, role: &str) -> String {
        let info = v1::FrameworkInfo {
            user: "u".into(),
            name: name.into(),
            role: Some(role.into()),
            ..Default::default()
        };
        core.subscribe(
            call::Subscribe {
                framework_info: info,
                ..Default::default()
            },
            &format!("s-{name}"),
            T0,
        )
        .expect("subscribe")
        .framework_id
    }

    #[test]
    fn reserve_create_launch_then_the_volume_is_reoffered_only_to_its_role() {
        let mut c = core();
        let db = subscribe_in(&mut c, "db", "db");
        let agent = add_agent(&mut c, "cpus:4;mem:1024;disk:1000");
        c.take_effects();
        c.allocate(T0);
        let offer = offers(&c.take_effects(), &db).pop().expect("offer to db");

        let mut reserve = op(operation::Type::Reserve);
        reserve.reserve = Some(operation::Reserve {
            source: vec![],
            resources: vec![dyn_reserved(scalar("disk", 100.0), "db")],
        });
        let mut create = op(operation::Type::Create);
        create.create = Some(operation::Create {
            volumes: vec![volume("v1", "db")],
        });
        let mut launch = op(operation::Type::Launch);
        launch.launch = Some(operation::Launch {
            task_infos: vec![task(
                "writer",
                &agent,
                vec![scalar("cpus", 1.0), volume("v1", "db")],
            )],
        });
        let call = Call {
            framework_id: Some(v1::FrameworkId { value: db.clone() }),
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids: vec![offer.id.clone()],
                operations: vec![reserve, create, launch],
                filters: Some(v1::Filters {
                    refuse_seconds: Some(0.0),
                }),
            }),
            ..Default::default()
        };
        c.scheduler_call(&db, call, T0).unwrap();
        let msgs = to_agent(&c.take_effects());
        let checkpoints: Vec<&Vec<v1::Resource>> = msgs
            .iter()
            .filter_map(|m| match m {
                MasterMessage::CheckpointResources { resources } => Some(resources),
                _ => None,
            })
            .collect();
        assert_eq!(
            checkpoints.len(),
            2,
            "one checkpoint per operation: {msgs:?}"
        );
        assert!(checkpoints[1].iter().any(|r| r
            .disk
            .as_ref()
            .and_then(|d| d.persistence.as_ref())
            .is_some()));
        assert!(
            msgs.iter()
                .any(|m| matches!(m, MasterMessage::RunTask { .. })),
            "the task using the volume launches"
        );

        // The task ends; the volume comes back to role db and never goes to another role.
        let other = subscribe_in(&mut c, "other", "other");
        let status = v1::TaskStatus {
            task_id: v1::TaskId {
                value: "writer".into(),
            },
            state: TaskState::TaskFinished as i32,
            uuid: Some(vec![3; 16]),
            ..Default::default()
        };
        agent_call(
            &mut c,
            &agent,
            AgentCall::StatusUpdate {
                framework_id: v1::FrameworkId { value: db.clone() },
                status,
                latest_state: None,
            },
            T0 + 1.0,
        )
        .unwrap();
        c.take_effects();
        let mut seen_by_db = false;
        for step in 0..4 {
            let now = T0 + 2.0 + f64::from(step) * 10.0;
            c.allocate(now);
            let effects = c.take_effects();
            for o in offers(&effects, &other) {
                let r = Resources::from_proto(&o.resources).unwrap();
                assert!(
                    r.iter().all(|x| x.reservation_role() != Some("db")),
                    "role 'other' got db's resources: {r}"
                );
            }
            for o in offers(&effects, &db) {
                let r = Resources::from_proto(&o.resources).unwrap();
                seen_by_db |= r.iter().any(|x| x.is_persistent_volume());
                let decline = Call {
                    framework_id: Some(v1::FrameworkId { value: db.clone() }),
                    r#type: Some(call::Type::Decline as i32),
                    decline: Some(call::Decline {
                        offer_ids: vec![o.id.clone()],
                        filters: Some(v1::Filters {
                            refuse_seconds: Some(1.0),
                        }),
                    }),
                    ..Default::default()
                };
                c.scheduler_call(&db, decline, now).unwrap();
            }
            for o in offers(&effects, &other) {
                let decline = Call {
                    framework_id: Some(v1::FrameworkId {
                        value: other.clone(),
                    }),
                    r#type: Some(call::Type::Decline as i32),
                    decline: Some(call::Decline {
                        offer_ids: vec![o.id.clone()],
                        filters: Some(v1::Filters {
                            refuse_seconds: Some(1.0),
                        }),
                    }),
                    ..Default::default()
                };
                c.scheduler_call(&other, decline, now).unwrap();
            }
        }
        assert!(seen_by_db, "the volume is re-offered to its role");
        let total = &c.agents[&agent].total;
        assert_eq!(
            total.scalar_total("disk"),
            1000.0,
            "quantities are unchanged by reshaping"
        );
    }

    #[test]
    fn operator_reserve_needs_free_resources_and_a_known_agent() {
        let mut c = core();
        let agent = add_agent(&mut c, "cpus:2;mem:512");
        let ok = super::super::ops::reserve(&[dyn_reserved(scalar("cpus", 1.0), "db")], None, None);
        c.operator_operation(&agent, ok, T0).unwrap();
        assert!(matches!(
            to_agent(&c.take_effects()).last(),
            Some(MasterMessage::CheckpointResources { .. })
        ));
        let too_much =
            super::super::ops::reserve(&[dyn_reserved(scalar("cpus", 5.0), "db")], None, None);
        assert!(matches!(
            c.operator_operation(&agent, too_much, T0),
            Err(super::super::ops::OpError::Conflict(_))
        ));
        let unknown =
            super::super::ops::reserve(&[dyn_reserved(scalar("cpus", 1.0), "db")], None, None);
        assert!(matches!(
            c.operator_operation("nope", unknown, T0),
            Err(super::super::ops::OpError::UnknownAgent(_))
        ));
    }
}
