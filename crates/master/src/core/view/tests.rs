//! The typed views give the same bytes as the former `serde_json::Value` implementation.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use corral_api::v1;
use corral_resources::{parse_resources, Resource, Resources, Scalar};
use serde::Serialize;

use super::oracle::{self, Old};
use super::{to_bytes, Identity, TasksQuery};
use crate::allocator::first::FirstFitAllocator;
use crate::core::records::{Agent, Connection, Framework, OfferRecord, TaskRecord};
use crate::core::{CoreConfig, MasterCore};

fn res(text: &str) -> Resources {
    parse_resources(text).expect("resources")
}

fn scalar(name: &str, v: f64, role: Option<&str>) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value: v }),
        allocation_info: role.map(|r| v1::resource::AllocationInfo {
            role: Some(r.into()),
        }),
        ..Default::default()
    }
}

fn labels(n: usize) -> v1::Labels {
    v1::Labels {
        labels: (0..n)
            .map(|i| v1::Label {
                key: format!("k{i}"),
                value: (i % 2 == 0).then(|| format!("v{i} \u{e9}\u{1F600}")),
            })
            .collect(),
    }
}

fn status(state: v1::TaskState, t: f64, rich: bool) -> v1::TaskStatus {
    v1::TaskStatus {
        state: state as i32,
        timestamp: Some(t),
        healthy: rich.then_some(true),
        labels: rich.then(|| labels(2)),
        container_status: rich.then(|| v1::ContainerStatus {
            executor_pid: Some(42),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn task(fw: &str, id: &str, agent: &str, resources: Vec<v1::Resource>, rich: bool) -> v1::Task {
    let state = if rich {
        v1::TaskState::TaskRunning
    } else {
        v1::TaskState::TaskFinished
    };
    v1::Task {
        name: format!("task {id} \u{2603}"),
        task_id: v1::TaskId { value: id.into() },
        framework_id: v1::FrameworkId { value: fw.into() },
        executor_id: rich.then(|| v1::ExecutorId { value: "ex".into() }),
        agent_id: v1::AgentId {
            value: agent.into(),
        },
        state: state as i32,
        resources,
        statuses: vec![
            status(v1::TaskState::TaskStaging, 1.5, false),
            status(state, 2.25, rich),
        ],
        labels: rich.then(|| labels(10)),
        user: rich.then(|| "alice".to_string()),
        discovery: rich.then(|| v1::DiscoveryInfo {
            visibility: 1,
            name: Some("disc".into()),
            ..Default::default()
        }),
        container: rich.then(|| v1::ContainerInfo {
            r#type: 1,
            hostname: Some("ctr".into()),
            ..Default::default()
        }),
        health_check: rich.then(|| v1::HealthCheck {
            delay_seconds: Some(1.0),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn record(t: v1::Task, terminal: bool) -> Box<TaskRecord> {
    let resources = Resources::from_proto(&t.resources).unwrap_or_default();
    Box::new(TaskRecord {
        role: "web".into(),
        task: t,
        resources,
        terminal,
    })
}

fn framework(id: &str, connected: bool) -> Framework {
    Framework {
        id: id.into(),
        info: v1::FrameworkInfo {
            user: "u".into(),
            name: format!("fw {id}"),
            id: Some(v1::FrameworkId { value: id.into() }),
            failover_timeout: Some(7.5),
            ..Default::default()
        },
        connection: if connected {
            Connection::Connected {
                stream_id: "s".into(),
            }
        } else {
            Connection::Disconnected {
                since: 3.0,
                failover_deadline: 9.0,
            }
        },
        roles: vec![],
        suppressed_roles: BTreeSet::new(),
        registered_time: 1.0,
        reregistered_time: None,
        unregistered_time: None,
        tasks: BTreeSet::new(),
        completed_tasks: VecDeque::new(),
        offers: BTreeSet::new(),
        executors: BTreeMap::new(),
        recovered: false,
    }
}

fn agent(id: &str, total: &str) -> Agent {
    Agent {
        id: id.into(),
        info: v1::AgentInfo {
            hostname: format!("host-{id}"),
            port: Some(5052),
            ..Default::default()
        },
        pid: format!("slave(1)@10.0.0.1:5051/{id}"),
        version: "0.1".into(),
        total: res(total),
        used: Resources::default(),
        offered: Resources::default(),
        stream_id: None,
        missed_pings: 0,
        ping_seq: 0,
        registered_time: 2.0,
        reregistered_time: None,
        tasks: BTreeSet::new(),
        executors: BTreeSet::new(),
    }
}

/// A small cluster exercising every optional key and both resource paths.
fn cluster() -> (MasterCore, Identity) {
    let info = v1::MasterInfo {
        id: "M".into(),
        ip: 16_777_343,
        port: 5050,
        hostname: Some("master-host".into()),
        ..Default::default()
    };
    let mut core = MasterCore::new(
        CoreConfig::default(),
        info,
        1,
        Box::new(FirstFitAllocator::new()),
        100.0,
    );

    // Agents: attributes of every kind (and a duplicate name), reservations, ranges, sets.
    let mut a1 = agent(
        "a1",
        "cpus:4;cpus(web):2;mem:1024;ports:[31000-31005];disks:{b,a}",
    );
    a1.used = res("cpus:1.5;mem:100");
    a1.offered = res("cpus:0.5;ports:[31000-31001]");
    a1.stream_id = Some("as".into());
    a1.reregistered_time = Some(4.5);
    a1.info.attributes = vec![
        v1::Attribute {
            name: "rack".into(),
            r#type: v1::value::Type::Text as i32,
            text: Some(v1::value::Text { value: "r1".into() }),
            ..Default::default()
        },
        v1::Attribute {
            name: "weight".into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: 2.5 }),
            ..Default::default()
        },
        v1::Attribute {
            name: "span".into(),
            r#type: v1::value::Type::Ranges as i32,
            ranges: Some(v1::value::Ranges {
                range: vec![
                    v1::value::Range { begin: 1, end: 3 },
                    v1::value::Range { begin: 7, end: 9 },
                ],
            }),
            ..Default::default()
        },
        v1::Attribute {
            name: "zone".into(),
            r#type: v1::value::Type::Set as i32,
            set: Some(v1::value::Set {
                item: vec!["x".into(), "y".into()],
            }),
            ..Default::default()
        },
        v1::Attribute {
            name: "rack".into(),
            r#type: v1::value::Type::Text as i32,
            text: Some(v1::value::Text { value: "r2".into() }),
            ..Default::default()
        },
        v1::Attribute {
            name: "empty".into(),
            ..Default::default()
        },
    ];
    core.agents.insert("a1".into(), a1);
    let mut a2 = agent("a2", "cpus:1;mem:10;gpus:1");
    a2.total
        .add(Resource::new_scalar("cpus", Scalar::from_units(3)).with_revocable());
    core.agents.insert("a2".into(), a2);

    // Framework f1: everything set.
    let mut f1 = framework("f1", true);
    f1.info.capabilities = vec![
        v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        },
        v1::framework_info::Capability { r#type: Some(999) },
        v1::framework_info::Capability { r#type: None },
    ];
    f1.info.hostname = Some("fw-host".into());
    f1.info.webui_url = Some("http://ui".into());
    f1.info.principal = Some("p".into());
    f1.info.checkpoint = Some(true);
    f1.info.labels = Some(labels(3));
    f1.roles = vec!["web".into(), "*".into()];
    f1.suppressed_roles = ["web".to_string()].into_iter().collect();
    f1.reregistered_time = Some(5.0);
    f1.unregistered_time = Some(6.0);
    f1.recovered = true;
    let plain = vec![
        scalar("cpus", 0.1, Some("web")),
        scalar("mem", 32.0, Some("web")),
    ];
    let ranged = vec![
        scalar("cpus", 1.0, None),
        v1::Resource {
            name: "ports".into(),
            r#type: v1::value::Type::Ranges as i32,
            ranges: Some(v1::value::Ranges {
                range: vec![v1::value::Range {
                    begin: 31000,
                    end: 31001,
                }],
            }),
            ..Default::default()
        },
    ];
    let revocable = vec![v1::Resource {
        revocable: Some(Default::default()),
        ..scalar("cpus", 2.0, None)
    }];
    let zero = vec![
        scalar("cpus", 0.0, None),
        scalar("foo", 0.0, None),
        scalar("bar", 1.25, None),
    ];
    let negative = vec![scalar("cpus", -1.0, None), scalar("mem", 5.0, None)];
    let many: Vec<v1::Resource> = (0..10)
        .map(|i| scalar(&format!("r{i}"), f64::from(i) + 1.0, None))
        .collect();
    for (id, resources, terminal) in [
        ("t1", plain.clone(), false),
        ("t2", ranged, false),
        ("t3", revocable, false),
        ("t5", many, true),
    ] {
        let t = task("f1", id, "a1", resources, true);
        core.tasks
            .insert(("f1".into(), id.into()), record(t, terminal));
        f1.tasks.insert(id.into());
    }
    // An id without a record, and a record that is not in the framework's set.
    f1.tasks.insert("t4".into());
    f1.tasks.insert("t0".into());
    core.tasks.insert(
        ("f1".into(), "t00".into()),
        record(task("f1", "t00", "a1", plain.clone(), true), false),
    );
    f1.completed_tasks = [
        task("f1", "c1", "a1", plain.clone(), false),
        task("f1", "c2", "a2", zero, false),
        task("f1", "c3", "a2", negative, false),
        task("f1", "c4", "a2", vec![], true),
    ]
    .into_iter()
    .collect();
    f1.executors.insert(
        "a1".into(),
        [(
            "ex".to_string(),
            v1::ExecutorInfo {
                executor_id: v1::ExecutorId { value: "ex".into() },
                name: Some("the executor".into()),
                command: Some(v1::CommandInfo {
                    value: Some("sleep 1".into()),
                    shell: Some(true),
                    ..Default::default()
                }),
                resources: vec![scalar("cpus", 0.1, None)],
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
    );
    f1.executors.insert(
        "a2".into(),
        [(
            "ex2".to_string(),
            v1::ExecutorInfo {
                executor_id: v1::ExecutorId {
                    value: "ex2".into(),
                },
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
    );
    core.offers.insert(
        "o1".into(),
        OfferRecord {
            offer: v1::Offer::default(),
            resources: res("cpus:0.5;ports:[31000-31001]"),
            agent_id: "a1".into(),
            framework_id: "f1".into(),
            role: "web".into(),
            created: 1.0,
        },
    );
    f1.offers.insert("o1".into());
    f1.offers.insert("o-missing".into());
    core.frameworks.insert("f1".into(), f1);

    // A framework whose id extends f1's (adjacent range in the task map), disconnected.
    let mut f1x = framework("f1x", false);
    let t = task("f1x", "t1", "a2", plain.clone(), true);
    core.tasks
        .insert(("f1x".into(), "t1".into()), record(t, false));
    f1x.tasks.insert("t1".into());
    core.frameworks.insert("f1x".into(), f1x);

    // A completed framework, and one with the same id as an active one.
    let mut f3 = framework("f3", false);
    f3.completed_tasks
        .push_back(task("f3", "c9", "a1", plain.clone(), false));
    core.completed_frameworks.push_back(f3);
    let mut dup = framework("f1", false);
    dup.completed_tasks
        .push_back(task("f1", "dup", "a1", plain, false));
    core.completed_frameworks.push_back(dup);

    // Tasks remembered on an unreachable agent: shown as `unreachable_tasks` when
    // TASK_UNREACHABLE, after the completed tasks otherwise.
    for (fw, id, state) in [
        ("f1", "u1", v1::TaskState::TaskUnreachable),
        ("f1", "u2", v1::TaskState::TaskLost),
        ("f1", "u0", v1::TaskState::TaskUnreachable),
        ("f3", "u3", v1::TaskState::TaskGoneByOperator),
    ] {
        let mut t = task(fw, id, "gone", vec![scalar("cpus", 1.0, None)], false);
        t.state = state as i32;
        core.unreachable_tasks.entry(fw.into()).or_default().insert(
            id.into(),
            crate::core::partition::UnreachableTask {
                agent_id: "gone".into(),
                since: 1.0,
                task: t,
            },
        );
    }
    core.unreachable_agents.insert(
        "gone".into(),
        crate::core::records::UnreachableAgent {
            info: v1::AgentInfo::default(),
            since: 1.0,
        },
    );
    let identity = Identity {
        pid: "master@127.0.0.1:5050".into(),
        flags: [("b", "2"), ("a", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cluster: Some("cl\u{fc}ster".into()),
    };
    (core, identity)
}

#[track_caller]
fn same(new: &impl Serialize, old: &serde_json::Value) {
    let new = to_bytes(new).expect("new");
    let old_bytes = corral_http::encoding::to_ascii_json(old).expect("old");
    if new != old_bytes {
        let parsed: serde_json::Value = serde_json::from_slice(&new).expect("parse");
        assert_eq!(&parsed, old, "values differ");
        panic!(
            "same value, different bytes:\nnew {}\nold {}",
            String::from_utf8_lossy(&new),
            String::from_utf8_lossy(&old_bytes)
        );
    }
}

#[test]
fn views_match_the_former_values_byte_for_byte() {
    let (core, id) = cluster();
    let old = Old(&core);
    same(&core.state_view(&id), &old.state_json(&id));
    same(&core.state_summary_view(&id), &old.state_summary_json(&id));
    same(&core.frameworks_view(None), &old.frameworks_json(None));
    for only in ["f1", "f1x", "f3", "nope"] {
        same(
            &core.frameworks_view(Some(only)),
            &old.frameworks_json(Some(only)),
        );
    }
    same(&core.slaves_view(None), &old.slaves_json(None));
    same(&core.slaves_view(Some("a2")), &old.slaves_json(Some("a2")));
    let queries = [
        TasksQuery::default(),
        TasksQuery {
            limit: Some(-1),
            order_asc: true,
            ..Default::default()
        },
        TasksQuery {
            limit: Some(3),
            offset: Some(2),
            ..Default::default()
        },
        TasksQuery {
            framework_id: Some("f1".into()),
            limit: Some(-1),
            ..Default::default()
        },
        TasksQuery {
            task_id: Some("t1".into()),
            ..Default::default()
        },
    ];
    for q in &queries {
        same(&core.tasks_view(q), &old.tasks_json(q));
    }
    // The cluster exercises the optional keys and both resource paths.
    let state = to_bytes(&core.state_view(&id)).expect("state");
    let state = String::from_utf8_lossy(&state);
    for needle in [
        r#""container_status":{"executor_pid":42}"#,
        r#""discovery":"#,
        r#""health_check":"#,
        r#""command":"#,
        r#""cpus_revocable":2.0"#,
        r#""ports":"[31000-31001]""#,
        r#""bar":1.25,"cpus":0,"#,
        r#""r9":10.0"#,
        r#""cpus":0,"disk":0,"gpus":0,"mem":0}"#,
        r#""healthy":true"#,
        r#""why_not_offered":["#,
        r#""unreachable_tasks":[{"#,
        r#""state":"TASK_LOST""#,
        "\\u00e9\\ud83d\\ude00",
    ] {
        assert!(state.contains(needle), "{needle} missing from {state}");
    }
    let summary = to_bytes(&core.state_summary_view(&id)).expect("summary");
    let summary = String::from_utf8_lossy(&summary);
    assert!(
        summary.contains(r#"{"TASK_RUNNING":4,"active":true"#),
        "{summary}"
    );
    // The compatibility helpers give the same values.
    assert_eq!(core.state_json(&id), old.state_json(&id));
    let t = &core.frameworks["f1"].completed_tasks[0];
    assert_eq!(super::task_json(t), oracle::task_json(t));
}

#[test]
fn views_of_an_empty_master_match() {
    let (mut core, id) = cluster();
    core.frameworks.clear();
    core.completed_frameworks.clear();
    core.agents.clear();
    core.tasks.clear();
    core.offers.clear();
    let id = Identity {
        cluster: None,
        ..id
    };
    let old = Old(&core);
    same(&core.state_view(&id), &old.state_json(&id));
    same(&core.state_summary_view(&id), &old.state_summary_json(&id));
    same(
        &core.tasks_view(&TasksQuery::default()),
        &old.tasks_json(&TasksQuery::default()),
    );
}
