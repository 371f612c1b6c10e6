//! One realistic executor Call and Event of every type, and an agent-reported Task.

use super::*;

fn executor_call(t: executor::call::Type) -> executor::Call {
    executor::Call {
        executor_id: executor_id("exec-web-1"),
        framework_id: framework_id(),
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// A status as an executor sends it (no agent_id; the agent fills it in).
pub fn executor_status(state: v1::TaskState) -> v1::TaskStatus {
    v1::TaskStatus {
        task_id: task_id("web.0b5e4a3c"),
        state: state as i32,
        message: Some("started".to_string()),
        source: Some(v1::task_status::Source::Executor as i32),
        executor_id: Some(executor_id("exec-web-1")),
        timestamp: Some(1_700_000_000.25),
        uuid: Some(uuid_bytes()),
        data: Some(vec![0xde, 0xad, 0xbe, 0xef]),
        ..Default::default()
    }
}

/// One realistic call of every executor Call type.
pub fn executor_calls() -> Vec<(&'static str, executor::Call)> {
    use executor::call::{self as c, Type as T};

    let mut subscribe = executor_call(T::Subscribe);
    subscribe.subscribe = Some(c::Subscribe {
        unacknowledged_tasks: vec![task_info("web")],
        unacknowledged_updates: vec![
            c::Update {
                status: executor_status(v1::TaskState::TaskStarting),
            },
            c::Update {
                status: task_status(),
            },
        ],
    });

    let mut update = executor_call(T::Update);
    update.update = Some(c::Update {
        status: executor_status(v1::TaskState::TaskRunning),
    });

    let mut message = executor_call(T::Message);
    message.message = Some(c::Message {
        data: b"\x00progress=42%\xff".to_vec(),
    });

    let heartbeat = executor_call(T::Heartbeat);

    vec![
        ("SUBSCRIBE", subscribe),
        ("UPDATE", update),
        ("MESSAGE", message),
        ("HEARTBEAT", heartbeat),
    ]
}

fn executor_event(t: executor::event::Type) -> executor::Event {
    executor::Event {
        r#type: Some(t as i32),
        ..Default::default()
    }
}

/// One realistic event of every executor Event type.
pub fn executor_events() -> Vec<(&'static str, executor::Event)> {
    use executor::event::{self as e, Type as T};

    let mut subscribed = executor_event(T::Subscribed);
    subscribed.subscribed = Some(e::Subscribed {
        executor_info: custom_executor(),
        framework_info: framework_info(),
        agent_info: agent_info(),
        container_id: Some(container_id()),
    });

    let mut launch = executor_event(T::Launch);
    launch.launch = Some(e::Launch {
        task: task_info("web"),
    });

    let mut launch_group = executor_event(T::LaunchGroup);
    launch_group.launch_group = Some(e::LaunchGroup {
        task_group: task_group(),
    });

    let mut kill = executor_event(T::Kill);
    kill.kill = Some(e::Kill {
        task_id: task_id("web.0b5e4a3c"),
        kill_policy: Some(kill_policy()),
    });

    let mut acknowledged = executor_event(T::Acknowledged);
    acknowledged.acknowledged = Some(e::Acknowledged {
        task_id: task_id("web.0b5e4a3c"),
        uuid: uuid_bytes(),
    });

    let mut message = executor_event(T::Message);
    message.message = Some(e::Message {
        data: b"\x00\x01from scheduler\xff".to_vec(),
    });

    let mut error = executor_event(T::Error);
    error.error = Some(e::Error {
        message: "Executor is not subscribed".to_string(),
    });

    let shutdown = executor_event(T::Shutdown);
    let heartbeat = executor_event(T::Heartbeat);

    vec![
        ("SUBSCRIBED", subscribed),
        ("LAUNCH", launch),
        ("LAUNCH_GROUP", launch_group),
        ("KILL", kill),
        ("ACKNOWLEDGED", acknowledged),
        ("MESSAGE", message),
        ("ERROR", error),
        ("SHUTDOWN", shutdown),
        ("HEARTBEAT", heartbeat),
    ]
}

/// A Task as an agent reports it when re-registering.
pub fn task(name: &str) -> v1::Task {
    let info = task_info(name);
    let mut running = task_status();
    running.task_id = info.task_id.clone();
    let mut staging = running.clone();
    staging.state = v1::TaskState::TaskStaging as i32;
    staging.uuid = None;
    v1::Task {
        name: info.name,
        task_id: info.task_id,
        framework_id: framework_id(),
        executor_id: None,
        agent_id: agent_id(),
        state: v1::TaskState::TaskRunning as i32,
        resources: info.resources,
        statuses: vec![staging, running],
        status_update_state: Some(v1::TaskState::TaskRunning as i32),
        status_update_uuid: Some(uuid_bytes()),
        labels: info.labels,
        discovery: info.discovery,
        container: info.container,
        health_check: info.health_check,
        kill_policy: info.kill_policy,
        user: Some("nobody".to_string()),
        limits: info.limits,
    }
}
