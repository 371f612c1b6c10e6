//! Pieces of the fake agent shared by the executor's integration tests.
#![allow(dead_code)]

use corral_api::v1::executor::{event, Call, Event};
use corral_api::v1::{AgentId, AgentInfo, ExecutorInfo, FrameworkInfo};

/// An event of `kind` with nothing else set.
pub fn ev(kind: event::Type) -> Event {
    Event {
        r#type: Some(kind as i32),
        ..Event::default()
    }
}

/// The SUBSCRIBED event a fake agent (id `S0`) answers an executor's SUBSCRIBE `call` with.
pub fn subscribed(call: &Call) -> Event {
    Event {
        subscribed: Some(event::Subscribed {
            executor_info: ExecutorInfo {
                executor_id: call.executor_id.clone(),
                ..ExecutorInfo::default()
            },
            framework_info: FrameworkInfo {
                id: Some(call.framework_id.clone()),
                ..FrameworkInfo::default()
            },
            agent_info: AgentInfo {
                id: Some(AgentId { value: "S0".into() }),
                ..AgentInfo::default()
            },
            container_id: None,
        }),
        ..ev(event::Type::Subscribed)
    }
}
