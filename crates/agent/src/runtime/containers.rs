//! Container helpers of the actor: destroying, and translating how a container ended.

use std::time::Duration;

use corral_containerizer::{
    ContainerId, Containerizer, ContainerizerError, ExitStatus, Termination,
};

use crate::core::Exit;

pub(super) async fn destroy(containerizer: &Containerizer, container_id: &str, grace: Duration) {
    let Ok(id) = ContainerId::new(container_id) else {
        return;
    };
    match containerizer.destroy(&id, grace).await {
        Ok(_) | Err(ContainerizerError::UnknownContainer(_)) => {}
        Err(error) => tracing::error!(container_id, %error, "failed to destroy container"),
    }
}

/// The core's view of how a container ended.
pub(super) fn exit_of(termination: Result<Termination, ContainerizerError>) -> Exit {
    match termination {
        Ok(Termination { status, limitation }) => Exit {
            status: match status {
                ExitStatus::Exited(code) => code,
                ExitStatus::Signaled(signal) => 128 + signal,
                ExitStatus::Unknown => -1,
            },
            message: status.to_string(),
            limitation: limitation.map(|l| (l.kind, l.message)),
        },
        Err(error) => Exit {
            status: -1,
            message: format!("unknown exit ({error})"),
            limitation: None,
        },
    }
}
