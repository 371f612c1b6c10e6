//! Reconciliation (reliability matrix F4) and partitions (P1/P2) through the core.

use super::*;
use crate::core::reconcile::{unknown_task_answer, AgentStanding};
use crate::core::recovery::RecoveredAgent;
use v1::framework_info::capability::Type as FwCap;

#[test]
fn unknown_task_mapping_follows_mesos_row_by_row() {
    use AgentStanding as A;
    use TaskState as S;
    let rows: [(Option<A>, bool, Option<S>); 12] = [
        (Some(A::Registered), false, Some(S::TaskGone)),
        // A registered agent knows its tasks: its word wins over the memory.
        (Some(A::Registered), true, Some(S::TaskGone)),
        // Not re-registered yet after a failover: no answer (it may report the task).
        (Some(A::Recovered), false, None),
        (Some(A::Recovered), true, None),
        (Some(A::Unreachable), false, Some(S::TaskUnreachable)),
        (Some(A::Unreachable), true, Some(S::TaskUnreachable)),
        (Some(A::Gone), false, Some(S::TaskGoneByOperator)),
        (Some(A::Gone), true, Some(S::TaskUnreachable)),
        (Some(A::Unknown), false, Some(S::TaskUnknown)),
        (Some(A::Unknown), true, Some(S::TaskUnreachable)),
        (None, false, Some(S::TaskUnknown)),
        (None, true, Some(S::TaskUnreachable)),
    ];
    for (agent, remembered, expected) in rows {
        assert_eq!(
            unknown_task_answer(agent, remembered).map(|(s, _)| s),
            expected,
            "agent {agent:?}, remembered unreachable task {remembered}"
        );
    }
}

fn subscribe_with(c: &mut MasterCore, name: &str, partition_aware: bool) -> String {
    let capabilities = if partition_aware {
        vec![v1::framework_info::Capability {
            r#type: Some(FwCap::PartitionAware as i32),
        }]
    } else {
        vec![]
    };
    let info = v1::FrameworkInfo {
        user: "u".into(),
        name: name.into(),
        failover_timeout: Some(3600.0),
        capabilities,
        ..Default::default()
    };
    c.subscribe(
        call::Subscribe {
            framework_info: info,
            ..Default::default()
        },
        &format!("s-{name}"),
        T0,
    )
    .unwrap()
    .framework_id
}

fn reconcile_call(fw: &str, tasks: &[(&str, Option<&str>)]) -> Call {
    Call {
        framework_id: Some(v1::FrameworkId { value: fw.into() }),
        r#type: Some(call::Type::Reconcile as i32),
        reconcile: Some(call::Reconcile {
            tasks: tasks
                .iter()
                .map(|(t, a)| call::reconcile::Task {
                    task_id: v1::TaskId { value: (*t).into() },
                    agent_id: a.map(|a| v1::AgentId { value: a.into() }),
                })
                .collect(),
        }),
        ..Default::default()
    }
}

fn reconcile(c: &mut MasterCore, fw: &str, tasks: &[(&str, Option<&str>)]) -> Vec<v1::TaskStatus> {
    c.take_effects();
    c.scheduler_call(fw, reconcile_call(fw, tasks), T0 + 100.0)
        .unwrap();
    let u = updates(&c.take_effects(), fw);
    for s in &u {
        assert_eq!(s.reason(), Reason::Reconciliation, "{s:?}");
        assert_eq!(s.source(), v1::task_status::Source::Master, "{s:?}");
        assert!(s.uuid.is_none(), "never acknowledged: {s:?}");
    }
    u
}

/// Two frameworks (partition-aware and not), each running one task on one agent.
fn cluster() -> (MasterCore, String, String, String) {
    let mut c = core();
    let pa = subscribe_with(&mut c, "pa", true);
    let legacy = subscribe_with(&mut c, "legacy", false);
    let agent = add_agent(&mut c, "cpus:2;mem:256");
    for fw in [&pa, &legacy] {
        c.take_effects();
        c.allocate(T0);
        let effects = c.take_effects();
        let offer = offers(&effects, fw).pop().expect("an offer");
        let t = task(&format!("{fw}-t"), &agent, vec![scalar("cpus", 1.0)]);
        c.scheduler_call(fw, accept(fw, &offer, vec![t]), T0)
            .unwrap();
        let decline_rest = Call {
            framework_id: Some(v1::FrameworkId { value: fw.clone() }),
            r#type: Some(call::Type::Suppress as i32),
            ..Default::default()
        };
        c.scheduler_call(fw, decline_rest, T0).unwrap();
    }
    c.take_effects();
    (c, pa, legacy, agent)
}

fn states(u: &[v1::TaskStatus]) -> Vec<TaskState> {
    u.iter().map(|s| s.state()).collect()
}

#[test]
fn explicit_reconciliation_of_unknown_tasks() {
    let (mut c, pa, legacy, agent) = cluster();
    let a = Some(agent.as_str());
    // Registered agent: GONE (LOST); unknown agent: UNKNOWN (LOST); no agent: UNKNOWN (LOST).
    let asks = [("x", a), ("y", Some("nowhere")), ("z", None)];
    use TaskState as S;
    assert_eq!(
        states(&reconcile(&mut c, &pa, &asks)),
        [S::TaskGone, S::TaskUnknown, S::TaskUnknown]
    );
    assert_eq!(
        states(&reconcile(&mut c, &legacy, &asks)),
        [S::TaskLost, S::TaskLost, S::TaskLost]
    );
    // A gone agent: GONE_BY_OPERATOR (LOST).
    c.recovery.gone.insert(
        "gone-agent".into(),
        super::super::records::UnreachableAgent {
            info: v1::AgentInfo::default(),
            since: T0,
        },
    );
    let asks = [("x", Some("gone-agent"))];
    assert_eq!(
        states(&reconcile(&mut c, &pa, &asks)),
        [S::TaskGoneByOperator]
    );
    assert_eq!(states(&reconcile(&mut c, &legacy, &asks)), [S::TaskLost]);
    // A recovered agent that has not re-registered: no answer at all.
    c.recovery.recovered.insert(
        "recovering".into(),
        RecoveredAgent {
            info: v1::AgentInfo::default(),
        },
    );
    assert!(reconcile(&mut c, &pa, &[("x", Some("recovering"))]).is_empty());
    assert!(reconcile(&mut c, &legacy, &[("x", Some("recovering"))]).is_empty());
    // A known task: its latest state, wherever the scheduler thinks it is.
    let known = format!("{pa}-t");
    let u = reconcile(&mut c, &pa, &[(&known, Some("nowhere"))]);
    assert_eq!(states(&u), [S::TaskStaging]);
    assert_eq!(u[0].agent_id.as_ref().map(|a| a.value.clone()), Some(agent));
}

#[test]
fn implicit_reconciliation_includes_unacknowledged_terminal_tasks() {
    let (mut c, pa, _legacy, agent) = cluster();
    let task_id = format!("{pa}-t");
    let finished = AgentCall::StatusUpdate {
        framework_id: v1::FrameworkId { value: pa.clone() },
        status: v1::TaskStatus {
            task_id: v1::TaskId {
                value: task_id.clone(),
            },
            state: TaskState::TaskFinished as i32,
            uuid: Some(vec![3; 16]),
            ..Default::default()
        },
        latest_state: None,
    };
    agent_call(&mut c, &agent, finished, T0 + 1.0).unwrap();
    let u = reconcile(&mut c, &pa, &[]);
    assert_eq!(states(&u), [TaskState::TaskFinished]);
    assert_eq!(u[0].task_id.value, task_id);
}

/// P1/P2 in the core: the agent misses its pings, its tasks become UNREACHABLE (LOST for
/// the framework that is not partition-aware) and its resources are not offered; it comes back
/// with the tasks still running: they are RUNNING again, nothing is killed.
#[test]
fn a_partitioned_agent_comes_back_with_its_tasks_running() {
    let (mut c, pa, legacy, agent) = cluster();
    let pa_task = format!("{pa}-t");
    let legacy_task = format!("{legacy}-t");
    let max = c.config.max_agent_ping_timeouts;
    for i in 0..=max {
        c.ping_agents(T0 + f64::from(i) * 15.0);
    }
    let effects = c.take_effects();
    let pa_updates = updates(&effects, &pa);
    assert_eq!(states(&pa_updates), [TaskState::TaskUnreachable]);
    assert_eq!(pa_updates[0].reason(), Reason::AgentRemoved);
    assert_eq!(pa_updates[0].source(), v1::task_status::Source::Master);
    assert!(pa_updates[0].unreachable_time.is_some());
    assert_eq!(states(&updates(&effects, &legacy)), [TaskState::TaskLost]);
    assert!(!to_agent(&effects).iter().any(|m| matches!(
        m,
        MasterMessage::KillTask { .. } | MasterMessage::ShutdownFramework { .. }
    )));

    // Unreachable: not offered, and reconciliation reports it (even without an agent id).
    c.scheduler_call(
        &pa,
        Call {
            framework_id: Some(v1::FrameworkId { value: pa.clone() }),
            r#type: Some(call::Type::Revive as i32),
            ..Default::default()
        },
        T0 + 100.0,
    )
    .unwrap();
    c.allocate(T0 + 100.0);
    assert!(offers(&c.take_effects(), &pa).is_empty());
    let u = reconcile(&mut c, &pa, &[(&pa_task, None)]);
    assert_eq!(states(&u), [TaskState::TaskUnreachable]);
    assert_eq!(
        u[0].agent_id.as_ref().map(|a| a.value.as_str()),
        Some(agent.as_str())
    );
    assert_eq!(
        states(&reconcile(&mut c, &legacy, &[(&legacy_task, None)])),
        [TaskState::TaskLost]
    );

    // The partition heals: the agent re-registers reporting both tasks RUNNING.
    let running = |fw: &str, id: &str| v1::Task {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        framework_id: v1::FrameworkId { value: fw.into() },
        agent_id: v1::AgentId {
            value: agent.clone(),
        },
        state: TaskState::TaskRunning as i32,
        resources: vec![scalar("cpus", 1.0)],
        ..Default::default()
    };
    let r: Resources = "cpus:2;mem:256".parse().unwrap();
    let envelope = AgentEnvelope {
        version: PROTOCOL_VERSION,
        epoch: 0,
        agent_id: Some(v1::AgentId {
            value: agent.clone(),
        }),
        stream_id: None,
        call: AgentCall::Subscribe {
            agent_info: v1::AgentInfo {
                hostname: "h".into(),
                port: Some(5051),
                resources: r.to_proto(),
                id: Some(v1::AgentId {
                    value: agent.clone(),
                }),
                ..Default::default()
            },
            agent_version: "test".into(),
            frameworks: vec![],
            executors: vec![],
            tasks: vec![running(&pa, &pa_task), running(&legacy, &legacy_task)],
            checkpointed_resources: vec![],
        },
    };
    c.agent_subscribe(envelope, "agent-stream-2", T0 + 200.0)
        .unwrap();
    let effects = c.take_effects();
    assert!(
        !to_agent(&effects).iter().any(|m| matches!(
            m,
            MasterMessage::KillTask { .. }
                | MasterMessage::ShutdownFramework { .. }
                | MasterMessage::ShutdownExecutor { .. }
        )),
        "nothing is killed on re-registration (Mesos >= 1.5, MESOS-7215)"
    );
    assert!(c.unreachable_task(&pa, &pa_task).is_none());
    assert_eq!(
        states(&reconcile(&mut c, &pa, &[(&pa_task, None)])),
        [TaskState::TaskRunning]
    );
    assert_eq!(
        states(&reconcile(&mut c, &legacy, &[(&legacy_task, Some(&agent))])),
        [TaskState::TaskRunning]
    );
    assert_eq!(
        c.agents[&agent].used,
        "cpus:2".parse::<Resources>().unwrap(),
        "both tasks charged again"
    );
}

#[test]
fn an_unreachable_task_whose_agent_is_marked_gone_is_gone_by_operator() {
    let (mut c, pa, legacy, agent) = cluster();
    let pa_task = format!("{pa}-t");
    for i in 0..=c.config.max_agent_ping_timeouts {
        c.ping_agents(T0 + f64::from(i) * 15.0);
    }
    assert_eq!(
        states(&reconcile(&mut c, &pa, &[(&pa_task, None)])),
        [TaskState::TaskUnreachable]
    );
    c.mark_agent_gone(&agent, T0 + 200.0).unwrap();
    assert_eq!(
        states(&reconcile(&mut c, &pa, &[(&pa_task, None)])),
        [TaskState::TaskGoneByOperator]
    );
    assert_eq!(
        states(&reconcile(&mut c, &pa, &[(&pa_task, Some(&agent))])),
        [TaskState::TaskGoneByOperator]
    );
    assert_eq!(
        states(&reconcile(
            &mut c,
            &legacy,
            &[(&format!("{legacy}-t"), None)]
        )),
        [TaskState::TaskLost]
    );
}

/// `/state` and GET_TASKS show tasks on unreachable agents as Mesos does: TASK_UNREACHABLE in
/// the partition-aware framework's `unreachable_tasks`, TASK_LOST among the other framework's
/// completed tasks; once the agent is marked gone, TASK_GONE_BY_OPERATOR among the completed.
#[test]
fn unreachable_tasks_are_shown_in_state_and_get_tasks() {
    let (mut c, pa, legacy, agent) = cluster();
    let id = crate::core::view::Identity::default();
    let framework = |state: &serde_json::Value, fw: &str| {
        state["frameworks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == fw)
            .cloned()
            .unwrap()
    };
    let ids_states = |tasks: &serde_json::Value| -> Vec<(String, String)> {
        tasks
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["id"].as_str().unwrap().to_string(),
                    t["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    for i in 0..=c.config.max_agent_ping_timeouts {
        c.ping_agents(T0 + f64::from(i) * 15.0);
    }
    let state = c.state_json(&id);
    let f = framework(&state, &pa);
    assert_eq!(
        ids_states(&f["unreachable_tasks"]),
        [(format!("{pa}-t"), "TASK_UNREACHABLE".to_string())]
    );
    assert_eq!(f["tasks"], serde_json::json!([]));
    assert_eq!(f["completed_tasks"], serde_json::json!([]));
    let last = &f["unreachable_tasks"][0]["statuses"]
        .as_array()
        .unwrap()
        .last()
        .cloned();
    assert_eq!(last.as_ref().unwrap()["state"], "TASK_UNREACHABLE");
    let f = framework(&state, &legacy);
    assert_eq!(f["unreachable_tasks"], serde_json::json!([]));
    assert_eq!(
        ids_states(&f["completed_tasks"]),
        [(format!("{legacy}-t"), "TASK_LOST".to_string())]
    );
    let tasks = c.get_tasks();
    let names = |ts: &[v1::Task]| -> Vec<(String, TaskState)> {
        ts.iter()
            .map(|t| (t.task_id.value.clone(), t.state()))
            .collect()
    };
    assert_eq!(
        names(&tasks.unreachable_tasks),
        [(format!("{pa}-t"), TaskState::TaskUnreachable)]
    );
    assert_eq!(
        names(&tasks.completed_tasks),
        [(format!("{legacy}-t"), TaskState::TaskLost)]
    );
    assert!(tasks.tasks.is_empty());

    c.mark_agent_gone(&agent, T0 + 200.0).unwrap();
    let state = c.state_json(&id);
    let f = framework(&state, &pa);
    assert_eq!(f["unreachable_tasks"], serde_json::json!([]));
    assert_eq!(
        ids_states(&f["completed_tasks"]),
        [(format!("{pa}-t"), "TASK_GONE_BY_OPERATOR".to_string())]
    );
    let tasks = c.get_tasks();
    assert!(tasks.unreachable_tasks.is_empty());
    let mut completed = names(&tasks.completed_tasks);
    completed.sort();
    let mut expected = vec![
        (format!("{legacy}-t"), TaskState::TaskLost),
        (format!("{pa}-t"), TaskState::TaskGoneByOperator),
    ];
    expected.sort();
    assert_eq!(completed, expected);
}
