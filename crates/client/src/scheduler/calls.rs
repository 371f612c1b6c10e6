//! Builders for the scheduler API calls (`reference/mesos-v1-api.md` §1.3). Pure: each returns
//! the [`Call`] to send.

use corral_api::v1::offer::{operation, Operation};
use corral_api::v1::scheduler::call::{self, Type};
use corral_api::v1::scheduler::Call;
use corral_api::v1::{
    AgentId, ExecutorInfo, Filters, FrameworkId, FrameworkInfo, KillPolicy, OfferId, TaskGroupInfo,
    TaskId, TaskInfo, TaskStatus,
};

fn call(framework_id: Option<&FrameworkId>, kind: Type) -> Call {
    Call {
        framework_id: framework_id.cloned(),
        r#type: Some(kind as i32),
        ..Call::default()
    }
}

/// SUBSCRIBE; a framework with an id re-subscribes (both ids set, as Mesos requires).
pub fn subscribe(framework_info: FrameworkInfo, suppressed_roles: Vec<String>) -> Call {
    let framework_id = framework_info.id.clone();
    Call {
        subscribe: Some(call::Subscribe {
            framework_info,
            suppressed_roles,
            offer_constraints: None,
        }),
        ..call(framework_id.as_ref(), Type::Subscribe)
    }
}

/// A LAUNCH operation.
pub fn launch(tasks: Vec<TaskInfo>) -> Operation {
    Operation {
        r#type: Some(operation::Type::Launch as i32),
        launch: Some(operation::Launch { task_infos: tasks }),
        ..Operation::default()
    }
}

/// A LAUNCH_GROUP operation.
pub fn launch_group(executor: ExecutorInfo, tasks: Vec<TaskInfo>) -> Operation {
    Operation {
        r#type: Some(operation::Type::LaunchGroup as i32),
        launch_group: Some(operation::LaunchGroup {
            executor,
            task_group: TaskGroupInfo { tasks },
        }),
        ..Operation::default()
    }
}

/// Filters refusing the declined resources for `seconds`.
pub fn refuse_for(seconds: f64) -> Filters {
    Filters {
        refuse_seconds: Some(seconds),
    }
}

/// ACCEPT.
pub fn accept(
    framework_id: &FrameworkId,
    offer_ids: Vec<OfferId>,
    operations: Vec<Operation>,
    filters: Option<Filters>,
) -> Call {
    Call {
        accept: Some(call::Accept {
            offer_ids,
            operations,
            filters,
        }),
        ..call(Some(framework_id), Type::Accept)
    }
}

/// DECLINE.
pub fn decline(
    framework_id: &FrameworkId,
    offer_ids: Vec<OfferId>,
    filters: Option<Filters>,
) -> Call {
    Call {
        decline: Some(call::Decline { offer_ids, filters }),
        ..call(Some(framework_id), Type::Decline)
    }
}

/// ACKNOWLEDGE for an update, if it needs one (it carries a uuid and an agent id).
pub fn acknowledge(framework_id: &FrameworkId, status: &TaskStatus) -> Option<Call> {
    let uuid = status.uuid.clone().filter(|u| !u.is_empty())?;
    let agent_id = status.agent_id.clone()?;
    Some(Call {
        acknowledge: Some(call::Acknowledge {
            agent_id,
            task_id: status.task_id.clone(),
            uuid,
        }),
        ..call(Some(framework_id), Type::Acknowledge)
    })
}

/// KILL.
pub fn kill(
    framework_id: &FrameworkId,
    task_id: TaskId,
    agent_id: Option<AgentId>,
    kill_policy: Option<KillPolicy>,
) -> Call {
    Call {
        kill: Some(call::Kill {
            task_id,
            agent_id,
            kill_policy,
        }),
        ..call(Some(framework_id), Type::Kill)
    }
}

/// REVIVE (no roles: all of the framework's roles).
pub fn revive(framework_id: &FrameworkId, roles: Vec<String>) -> Call {
    Call {
        revive: Some(call::Revive { roles }),
        ..call(Some(framework_id), Type::Revive)
    }
}

/// SUPPRESS (no roles: all of the framework's roles).
pub fn suppress(framework_id: &FrameworkId, roles: Vec<String>) -> Call {
    Call {
        suppress: Some(call::Suppress { roles }),
        ..call(Some(framework_id), Type::Suppress)
    }
}

/// TEARDOWN.
pub fn teardown(framework_id: &FrameworkId) -> Call {
    call(Some(framework_id), Type::Teardown)
}

/// RECONCILE; no tasks means implicit reconciliation of all of the framework's tasks.
pub fn reconcile(framework_id: &FrameworkId, tasks: Vec<(TaskId, Option<AgentId>)>) -> Call {
    Call {
        reconcile: Some(call::Reconcile {
            tasks: tasks
                .into_iter()
                .map(|(task_id, agent_id)| call::reconcile::Task { task_id, agent_id })
                .collect(),
        }),
        ..call(Some(framework_id), Type::Reconcile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::v1::TaskState;

    fn json(call: &Call) -> String {
        serde_json::to_string(call).unwrap()
    }

    fn fid() -> FrameworkId {
        FrameworkId {
            value: "f-1".into(),
        }
    }

    #[test]
    fn subscribe_sets_both_ids_only_when_known() {
        let info = FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            ..FrameworkInfo::default()
        };
        let fresh = json(&subscribe(info.clone(), vec![]));
        assert!(
            fresh.starts_with(r#"{"type":"SUBSCRIBE","subscribe":"#),
            "{fresh}"
        );
        assert!(!fresh.contains("f-1"));
        let again = subscribe(
            FrameworkInfo {
                id: Some(fid()),
                ..info
            },
            vec![],
        );
        assert_eq!(again.framework_id, Some(fid()));
    }

    #[test]
    fn accept_with_launch_has_the_mesos_shape() {
        let task = TaskInfo {
            name: "t".into(),
            task_id: TaskId { value: "t1".into() },
            ..TaskInfo::default()
        };
        let c = accept(
            &fid(),
            vec![OfferId { value: "o1".into() }],
            vec![launch(vec![task])],
            Some(refuse_for(1.0)),
        );
        let text = json(&c);
        assert!(text.contains(r#""type":"ACCEPT""#), "{text}");
        assert!(text.contains(r#""offer_ids":[{"value":"o1"}]"#), "{text}");
        assert!(
            text.contains(r#""operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t""#),
            "{text}"
        );
        assert!(
            text.contains(r#""filters":{"refuse_seconds":1.0}"#),
            "{text}"
        );
    }

    #[test]
    fn acknowledge_only_reliable_updates() {
        let mut status = TaskStatus {
            task_id: TaskId { value: "t".into() },
            state: TaskState::TaskRunning as i32,
            agent_id: Some(AgentId { value: "a".into() }),
            ..TaskStatus::default()
        };
        assert!(acknowledge(&fid(), &status).is_none());
        status.uuid = Some(vec![7; 16]);
        let text = json(&acknowledge(&fid(), &status).unwrap());
        assert!(text.contains(r#""acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"BwcHBwcHBwcHBwcHBwcHBw=="}"#), "{text}");
    }

    #[test]
    fn teardown_and_revive() {
        assert_eq!(
            json(&teardown(&fid())),
            r#"{"framework_id":{"value":"f-1"},"type":"TEARDOWN"}"#
        );
        assert!(json(&revive(&fid(), vec![])).contains(r#""type":"REVIVE""#));
    }
}
