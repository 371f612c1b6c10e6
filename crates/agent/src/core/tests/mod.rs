//! Decision tests of the core: inputs in, effects out, no I/O.

mod launching;
mod lifecycle;
mod limits;
mod recovery;
mod updates;
mod volumes;

use std::time::Duration;

use corral_api::internal::AgentCall;
use corral_api::v1::executor::{call, event, Call};
use corral_api::v1::{self, TaskState};

use super::*;
use crate::error::CallError;
use crate::launch::LaunchConfig;

pub(super) const NOW: f64 = 1_700_000_000.0;

pub(super) fn core() -> AgentCore {
    let mut core = AgentCore::new(CoreConfig {
        launch: LaunchConfig {
            work_dir: "/work".into(),
            endpoint: "127.0.0.1:5051".parse().unwrap(),
            executor_binary: "/usr/bin/corral".into(),
            shutdown_grace: Duration::from_secs(5),
            switch_user: false,
            path: None,
            home: None,
            pids_limit: None,
            docker: Default::default(),
            fetcher: Default::default(),
        },
        agent_info: v1::AgentInfo {
            hostname: "127.0.0.1".into(),
            port: Some(5051),
            ..Default::default()
        },
        registration_timeout: Duration::from_secs(60),
        status_update_retry: Duration::from_secs(10),
        status_update_retry_max: Duration::from_secs(600),
        executor_recovery_timeout: Duration::from_secs(900),
        executor_reregistration_timeout: Duration::from_secs(2),
    });
    core.registered("A-S0");
    core.take_effects();
    core
}

pub(super) fn framework() -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".into(),
        name: "fw".into(),
        id: Some(v1::FrameworkId { value: "F".into() }),
        ..Default::default()
    }
}

pub(super) fn command_task(id: &str) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: v1::AgentId {
            value: "A-S0".into(),
        },
        command: Some(v1::CommandInfo {
            value: Some("echo hi".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn custom_executor(id: &str) -> v1::ExecutorInfo {
    v1::ExecutorInfo {
        executor_id: v1::ExecutorId { value: id.into() },
        command: Some(v1::CommandInfo {
            value: Some("./my-executor".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs a command task and returns its launch request.
pub(super) fn launch_command_task(core: &mut AgentCore, id: &str) -> crate::launch::LaunchRequest {
    core.run_task(framework(), None, command_task(id), NOW);
    let effects = core.take_effects();
    match effects.as_slice() {
        [Effect::Launch(request)] => (**request).clone(),
        other => panic!("expected one launch, got {other:?}"),
    }
}

pub(super) fn exec_call(kind: call::Type, executor_id: &str) -> Call {
    Call {
        executor_id: v1::ExecutorId {
            value: executor_id.into(),
        },
        framework_id: v1::FrameworkId { value: "F".into() },
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

pub(super) fn subscribe(core: &mut AgentCore, executor_id: &str) -> Vec<Effect> {
    let mut c = exec_call(call::Type::Subscribe, executor_id);
    c.subscribe = Some(call::Subscribe::default());
    let outcome = core.executor_call(c, NOW).unwrap();
    assert!(matches!(outcome, CallOutcome::Subscribed(_)));
    core.take_effects()
}

pub(super) fn update(
    core: &mut AgentCore,
    executor_id: &str,
    task_id: &str,
    state: TaskState,
    uuid: u8,
) -> Result<Vec<Effect>, CallError> {
    let mut c = exec_call(call::Type::Update, executor_id);
    c.update = Some(call::Update {
        status: v1::TaskStatus {
            task_id: v1::TaskId {
                value: task_id.into(),
            },
            state: state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            uuid: Some(vec![uuid; 16]),
            ..Default::default()
        },
    });
    core.executor_call(c, NOW)?;
    Ok(core.take_effects())
}

pub(super) fn status_updates(effects: &[Effect]) -> Vec<&v1::TaskStatus> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToMaster(AgentCall::StatusUpdate { status, .. }) => Some(status),
            _ => None,
        })
        .collect()
}

pub(super) fn executor_events(effects: &[Effect]) -> Vec<event::Type> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToExecutor { event, .. } => {
                event.r#type.and_then(|t| event::Type::try_from(t).ok())
            }
            _ => None,
        })
        .collect()
}
