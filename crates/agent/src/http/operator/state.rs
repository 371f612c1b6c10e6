//! GET_STATE, GET_TASKS, GET_EXECUTORS and GET_FRAMEWORKS of the agent's operator API, from
//! the actor's snapshot.

use corral_api::v1::agent::response::{get_executors, get_frameworks};
use corral_api::v1::agent::response::{GetExecutors, GetFrameworks, GetState, GetTasks};
use corral_api::v1::{self, TaskState};

use crate::core::state::is_terminal;
use crate::core::{Executor, Snapshot};

/// Every framework of the snapshot, live ones first.
pub(super) fn frameworks(snapshot: &Snapshot) -> GetFrameworks {
    let info = |f: &crate::core::state::Framework| get_frameworks::Framework {
        framework_info: f.info.clone(),
    };
    GetFrameworks {
        frameworks: snapshot.frameworks.iter().map(info).collect(),
        completed_frameworks: snapshot.completed_frameworks.iter().map(info).collect(),
    }
}

/// Live executors (of live frameworks) and completed ones (of all frameworks).
pub(super) fn executors(snapshot: &Snapshot) -> GetExecutors {
    let info = |e: &Executor| get_executors::Executor {
        executor_info: e.info.clone(),
    };
    let all = || {
        snapshot
            .frameworks
            .iter()
            .chain(&snapshot.completed_frameworks)
    };
    GetExecutors {
        executors: snapshot
            .frameworks
            .iter()
            .flat_map(|f| f.executors.values())
            .map(info)
            .collect(),
        completed_executors: all()
            .flat_map(|f| f.completed_executors.iter())
            .map(info)
            .collect(),
    }
}

/// A queued task as a `Task` in TASK_STAGING.
fn queued_task(info: &v1::TaskInfo, framework_id: &str, executor: &Executor) -> v1::Task {
    v1::Task {
        name: info.name.clone(),
        task_id: info.task_id.clone(),
        framework_id: v1::FrameworkId {
            value: framework_id.to_string(),
        },
        executor_id: Some(executor.info.executor_id.clone()),
        agent_id: info.agent_id.clone(),
        state: TaskState::TaskStaging as i32,
        resources: info.resources.clone(),
        labels: info.labels.clone(),
        discovery: info.discovery.clone(),
        container: info.container.clone(),
        health_check: info.health_check.clone(),
        kill_policy: info.kill_policy,
        ..Default::default()
    }
}

/// The tasks by where they are: queued for their executor, launched, terminal but
/// unacknowledged, completed.
pub(super) fn tasks(snapshot: &Snapshot) -> GetTasks {
    let mut out = GetTasks::default();
    for framework in snapshot
        .frameworks
        .iter()
        .chain(&snapshot.completed_frameworks)
    {
        for executor in framework.executors.values() {
            out.queued_tasks.extend(
                executor
                    .queued_tasks()
                    .map(|t| queued_task(t, framework.id(), executor)),
            );
            for task in executor.tasks.values() {
                if is_terminal(task.state()) {
                    out.terminated_tasks.push(task.clone());
                } else {
                    out.launched_tasks.push(task.clone());
                }
            }
            out.completed_tasks
                .extend(executor.completed_tasks.iter().cloned());
        }
        for executor in &framework.completed_executors {
            out.completed_tasks.extend(executor.tasks.values().cloned());
            out.completed_tasks
                .extend(executor.completed_tasks.iter().cloned());
        }
    }
    out
}

/// All of it.
pub(super) fn state(snapshot: &Snapshot) -> GetState {
    GetState {
        get_tasks: Some(tasks(snapshot)),
        get_executors: Some(executors(snapshot)),
        get_frameworks: Some(frameworks(snapshot)),
    }
}
