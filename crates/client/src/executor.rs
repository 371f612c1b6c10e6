//! The executor API client (`POST /api/v1/executor` on the agent, `reference/mesos-v1-api.md`
//! §2), configured from the `MESOS_*` environment the agent sets.

use std::path::PathBuf;
use std::time::Duration;

use corral_api::v1::executor::call::{self, Type as CallType};
use corral_api::v1::executor::{Call, Event};
use corral_api::v1::{AgentId, ExecutorId, FrameworkId, TaskInfo, TaskStatus};
use corral_http::Encoding;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::endpoint::{Endpoint, AGENT_PORT};
use crate::error::ClientError;
use crate::stream::{EventStream, RecordStream};
use crate::transport::{self, Http};
use corral_api::duration::parse as parse_duration;

/// The executor endpoint's path.
pub const EXECUTOR_PATH: &str = "/api/v1/executor";

/// Mesos's defaults for the optional variables.
pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(5);
/// `MESOS_RECOVERY_TIMEOUT` default: 15 minutes.
pub const DEFAULT_RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// `MESOS_SUBSCRIPTION_BACKOFF_MAX` default: 2 seconds.
pub const DEFAULT_SUBSCRIPTION_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What the agent tells an executor through its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutorEnv {
    /// `MESOS_AGENT_ENDPOINT`.
    pub agent_endpoint: Endpoint,
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// `MESOS_SLAVE_ID`, if set.
    pub agent_id: Option<AgentId>,
    /// `MESOS_DIRECTORY`: the sandbox on the host.
    pub directory: Option<PathBuf>,
    /// `MESOS_SANDBOX`: the sandbox as the task sees it (defaults to `directory`).
    pub sandbox: Option<PathBuf>,
    /// `MESOS_CHECKPOINT == "1"`: the framework checkpoints, so the executor outlives agent
    /// restarts.
    pub checkpoint: bool,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`.
    pub shutdown_grace_period: Duration,
    /// `MESOS_RECOVERY_TIMEOUT`: how long to keep trying to reach a restarting agent.
    pub recovery_timeout: Duration,
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX`: the largest delay between subscription attempts.
    pub subscription_backoff_max: Duration,
    /// `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, sent as a bearer token.
    pub authentication_token: Option<String>,
}

impl ExecutorEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<ExecutorEnv, ClientError> {
        ExecutorEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (tests pass a map).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ExecutorEnv, ClientError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ClientError::Env {
                    name,
                    reason: "not set".into(),
                })
        };
        let duration = |name: &'static str, default: Duration| match lookup(name) {
            Some(text) if !text.is_empty() => parse_duration(&text).map_err(|e| ClientError::Env {
                name,
                reason: e.to_string(),
            }),
            _ => Ok(default),
        };
        let endpoint_text = required("MESOS_AGENT_ENDPOINT")?;
        let agent_endpoint =
            Endpoint::parse(&endpoint_text, AGENT_PORT).map_err(|e| ClientError::Env {
                name: "MESOS_AGENT_ENDPOINT",
                reason: e.to_string(),
            })?;
        let directory = lookup("MESOS_DIRECTORY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let sandbox = lookup("MESOS_SANDBOX")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| directory.clone());
        Ok(ExecutorEnv {
            agent_endpoint,
            framework_id: FrameworkId {
                value: required("MESOS_FRAMEWORK_ID")?,
            },
            executor_id: ExecutorId {
                value: required("MESOS_EXECUTOR_ID")?,
            },
            agent_id: lookup("MESOS_SLAVE_ID")
                .or_else(|| lookup("MESOS_AGENT_ID"))
                .filter(|v| !v.is_empty())
                .map(|value| AgentId { value }),
            directory,
            sandbox,
            checkpoint: lookup("MESOS_CHECKPOINT").as_deref() == Some("1"),
            shutdown_grace_period: duration(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                DEFAULT_SHUTDOWN_GRACE_PERIOD,
            )?,
            recovery_timeout: duration("MESOS_RECOVERY_TIMEOUT", DEFAULT_RECOVERY_TIMEOUT)?,
            subscription_backoff_max: duration(
                "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                DEFAULT_SUBSCRIPTION_BACKOFF_MAX,
            )?,
            authentication_token: lookup("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
                .filter(|v| !v.is_empty()),
        })
    }
}

/// Talks to the agent on behalf of one executor. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ExecutorClient {
    http: Http,
    env: ExecutorEnv,
}

impl ExecutorClient {
    /// A client for the executor described by `env`.
    pub fn new(env: ExecutorEnv) -> Self {
        ExecutorClient {
            http: Http::default(),
            env,
        }
    }

    /// A client for the executor described by `env` that shares `http`'s connection pool
    /// (many executors in one process, e.g. the benchmarks' inline executors).
    pub fn with_http(env: ExecutorEnv, http: Http) -> Self {
        ExecutorClient { http, env }
    }

    /// The configuration.
    pub fn env(&self) -> &ExecutorEnv {
        &self.env
    }

    fn call(&self, kind: CallType) -> Call {
        Call {
            executor_id: self.env.executor_id.clone(),
            framework_id: self.env.framework_id.clone(),
            r#type: Some(kind as i32),
            ..Call::default()
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = transport::json_headers();
        if let Some(token) = &self.env.authentication_token {
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                headers.insert(AUTHORIZATION, value);
            }
        }
        headers
    }

    /// SUBSCRIBE, reporting the tasks and updates the agent has not acknowledged yet (after a
    /// reconnection). The stream yields `SUBSCRIBED` first.
    pub async fn subscribe(
        &self,
        unacknowledged_tasks: Vec<TaskInfo>,
        unacknowledged_updates: Vec<TaskStatus>,
    ) -> Result<EventStream<Event>, ClientError> {
        let call = Call {
            subscribe: Some(call::Subscribe {
                unacknowledged_tasks,
                unacknowledged_updates: unacknowledged_updates
                    .into_iter()
                    .map(|status| call::Update { status })
                    .collect(),
            }),
            ..self.call(CallType::Subscribe)
        };
        let url = self.env.agent_endpoint.url(EXECUTOR_PATH);
        let body = corral_http::encode(Encoding::Json, &call);
        let response = self
            .http
            .send(
                Method::POST,
                &url,
                self.headers(),
                body,
                self.http.timeout(),
            )
            .await?;
        let status = response.status();
        if status != StatusCode::OK {
            let body = transport::read_body(&url, response.into_body())
                .await
                .unwrap_or_default();
            return Err(transport::status_error(&url, status, &body));
        }
        Ok(RecordStream::<Event>::new(url, response.into_body()).into_stream(None))
    }

    /// UPDATE: reports a task status. The agent answers `202` and later sends `ACKNOWLEDGED`.
    pub async fn update(&self, status: TaskStatus) -> Result<(), ClientError> {
        let call = Call {
            update: Some(call::Update { status }),
            ..self.call(CallType::Update)
        };
        self.post(call).await
    }

    /// MESSAGE: data for the scheduler (best effort).
    pub async fn message(&self, data: Vec<u8>) -> Result<(), ClientError> {
        let call = Call {
            message: Some(call::Message { data }),
            ..self.call(CallType::Message)
        };
        self.post(call).await
    }

    async fn post(&self, call: Call) -> Result<(), ClientError> {
        let body = corral_http::encode(Encoding::Json, &call);
        let (status, _, reply) = self
            .http
            .post_json(
                &self.env.agent_endpoint,
                EXECUTOR_PATH,
                self.headers(),
                body,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            let url = self.env.agent_endpoint.url(EXECUTOR_PATH);
            Err(transport::status_error(&url, status, &reply))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<ExecutorEnv, ClientError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExecutorEnv::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"),
        ("MESOS_FRAMEWORK_ID", "fw"),
        ("MESOS_EXECUTOR_ID", "ex"),
    ];

    #[test]
    fn reads_the_agent_environment() {
        let mut vars = BASE.to_vec();
        vars.extend([
            ("MESOS_DIRECTORY", "/sandbox"),
            ("MESOS_CHECKPOINT", "1"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "250ms"),
            ("MESOS_RECOVERY_TIMEOUT", "1mins"),
            ("MESOS_SLAVE_ID", "agent-S0"),
        ]);
        let env = env(&vars).unwrap();
        assert_eq!(env.agent_endpoint.to_string(), "127.0.0.1:5051");
        assert_eq!(env.framework_id.value, "fw");
        assert_eq!(env.executor_id.value, "ex");
        assert_eq!(env.sandbox, Some(PathBuf::from("/sandbox")));
        assert!(env.checkpoint);
        assert_eq!(env.shutdown_grace_period, Duration::from_millis(250));
        assert_eq!(env.recovery_timeout, Duration::from_secs(60));
        assert_eq!(env.agent_id.unwrap().value, "agent-S0");
    }

    #[test]
    fn applies_mesos_defaults() {
        let env = env(BASE).unwrap();
        assert!(!env.checkpoint);
        assert_eq!(env.shutdown_grace_period, DEFAULT_SHUTDOWN_GRACE_PERIOD);
        assert_eq!(env.recovery_timeout, DEFAULT_RECOVERY_TIMEOUT);
        assert_eq!(env.sandbox, None);
        let mut zero = BASE.to_vec();
        zero.push(("MESOS_CHECKPOINT", "0"));
        assert!(!self::env(&zero).unwrap().checkpoint);
    }

    #[test]
    fn reports_the_bad_variable() {
        let error = env(&BASE[1..]).unwrap_err();
        assert!(
            error.to_string().contains("MESOS_AGENT_ENDPOINT"),
            "{error}"
        );
        let mut bad = BASE.to_vec();
        bad.push(("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "soon"));
        let error = env(&bad).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"),
            "{error}"
        );
    }
}
