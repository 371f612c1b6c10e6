//! The container logger (Mesos's `ContainerLogger`, here the `LogrotateContainerLogger`
//! with a rate limit): it hands every container the logger settings of the flags in its
//! environment; the built-in executors then pipe their tasks' output through
//! `corral_executor::logger` (rotation at `--logrotate_max_stdout_size`/`_stderr_size`,
//! `--logrotate_max_files`, `--container_log_rate_limit`).
//!
//! It is an [`Isolator`] only in form: its `prepare` contributes environment variables.

use corral_containerizer::{BoxFuture, Isolator, IsolatorError, LaunchInfo, LaunchSpec};

use crate::flags::SandboxFlags;

/// Adds the logger settings to each container's environment.
#[derive(Debug, Clone)]
pub struct ContainerLogger {
    env: Vec<(String, String)>,
}

impl ContainerLogger {
    /// The logger of the flags.
    pub fn new(flags: &SandboxFlags) -> Self {
        Self {
            env: flags.logger_env(),
        }
    }
}

impl Isolator for ContainerLogger {
    fn name(&self) -> &'static str {
        "logger/logrotate"
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        // The task's own variables win over ours.
        let env = self
            .env
            .iter()
            .filter(|(name, _)| !spec.env.iter().any(|(n, _)| n == name))
            .cloned()
            .collect();
        Box::pin(async move {
            Ok(LaunchInfo {
                env,
                ..LaunchInfo::default()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use corral_containerizer::{Command, ContainerId};

    #[tokio::test]
    async fn containers_get_the_logger_settings() {
        let flags = crate::AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--logrotate_max_stdout_size=64KB",
            "--logrotate_max_files=3",
        ])
        .unwrap();
        let logger = ContainerLogger::new(&flags.sandbox);
        let mut spec = LaunchSpec::new(
            ContainerId::new("c").unwrap(),
            Command::Shell("true".into()),
            "/tmp",
        );
        spec.env
            .push(("CORRAL_LOGROTATE_MAX_FILES".into(), "9".into()));
        let info = logger.prepare(&spec).await.unwrap();
        let get = |n: &str| {
            info.env
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get("CORRAL_LOGROTATE_MAX_STDOUT_SIZE").as_deref(),
            Some("65536")
        );
        assert_eq!(
            get("CORRAL_CONTAINER_LOG_RATE_LIMIT").as_deref(),
            Some("1048576")
        );
        assert_eq!(get("CORRAL_LOGROTATE_MAX_FILES"), None);
    }
}
