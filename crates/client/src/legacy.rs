//! The legacy GET endpoints of masters and agents (`reference/mesos-v1-api.md` §4): raw JSON,
//! or typed views of the fields Corral's CLI shows.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::error::ClientError;
use crate::transport::{self, Http};

/// Redirects (non-leading master → leader) followed by one GET.
const MAX_REDIRECTS: usize = 3;

/// A GET client for one master or agent.
#[derive(Clone, Debug)]
pub struct LegacyClient {
    http: Http,
    endpoint: Endpoint,
}

impl LegacyClient {
    /// A client for the daemon at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        LegacyClient::with_http(Http::default(), endpoint)
    }

    /// A client sharing `http`'s connection pool.
    pub fn with_http(http: Http, endpoint: Endpoint) -> Self {
        LegacyClient { http, endpoint }
    }

    /// The daemon's address.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// GETs `path_and_query` and returns the body as it came, following redirects to the
    /// leading master. Any status other than 200 is an error.
    pub async fn get_bytes(&self, path_and_query: &str) -> Result<bytes::Bytes, ClientError> {
        let mut endpoint = self.endpoint.clone();
        for _ in 0..=MAX_REDIRECTS {
            let (status, headers, body) = self.http.get(&endpoint, path_and_query).await?;
            match status {
                StatusCode::OK => return Ok(body),
                StatusCode::TEMPORARY_REDIRECT => {
                    endpoint = transport::redirect_target(&headers, endpoint.port())?;
                }
                _ => {
                    return Err(transport::status_error(
                        &endpoint.url(path_and_query),
                        status,
                        &body,
                    ))
                }
            }
        }
        Err(ClientError::TooManyRedirects(MAX_REDIRECTS))
    }

    /// GETs `path_and_query` as JSON into `T`.
    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, ClientError> {
        let body = self.get_bytes(path_and_query).await?;
        serde_json::from_slice(&body).map_err(|error| ClientError::Json {
            url: self.endpoint.url(path_and_query),
            error,
        })
    }

    /// GETs `path_and_query` as untyped JSON.
    pub async fn get_json(&self, path_and_query: &str) -> Result<Value, ClientError> {
        self.get(path_and_query).await
    }

    /// Master `/state`.
    pub async fn state(&self) -> Result<Value, ClientError> {
        self.get_json("/state").await
    }

    /// Master `/slaves`.
    pub async fn slaves(&self) -> Result<Slaves, ClientError> {
        self.get("/slaves").await
    }

    /// Master `/frameworks`.
    pub async fn frameworks(&self) -> Result<Frameworks, ClientError> {
        self.get("/frameworks").await
    }

    /// Master `/tasks?limit=-1` (every task, completed ones included).
    pub async fn tasks(&self) -> Result<Tasks, ClientError> {
        self.get("/tasks?limit=-1").await
    }

    /// Agent `/state`.
    pub async fn agent_state(&self) -> Result<AgentState, ClientError> {
        self.get("/state").await
    }

    /// `/files/read`: up to `length` bytes of `path` from `offset`. `offset = -1` asks for the
    /// file's size only (Mesos semantics).
    pub async fn read_file(
        &self,
        path: &str,
        offset: i64,
        length: Option<u64>,
    ) -> Result<FileChunk, ClientError> {
        let mut query = format!("/files/read?path={}&offset={offset}", percent_encode(path));
        if let Some(length) = length {
            query.push_str(&format!("&length={length}"));
        }
        self.get(&query).await
    }

    /// `/health`: whether the daemon answers 200.
    pub async fn healthy(&self) -> bool {
        self.get_bytes("/health").await.is_ok()
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `/slaves`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Slaves {
    /// Registered agents.
    pub slaves: Vec<Slave>,
}

/// One agent in `/slaves` or `/state`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Slave {
    /// Agent id.
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// `slave(1)@ip:port`.
    pub pid: String,
    /// Whether the agent is active.
    pub active: bool,
    /// Total resources, a flat map (`cpus`, `mem`, `disk`, `ports`, ...).
    pub resources: BTreeMap<String, Value>,
    /// Resources used by tasks.
    pub used_resources: BTreeMap<String, Value>,
}

impl Slave {
    /// The agent's HTTP endpoint, from its pid.
    pub fn endpoint(&self) -> Option<Endpoint> {
        Endpoint::parse(&self.pid, crate::endpoint::AGENT_PORT).ok()
    }
}

/// `/frameworks`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Frameworks {
    /// Registered frameworks.
    pub frameworks: Vec<Framework>,
    /// Frameworks that were torn down or failed over for good.
    pub completed_frameworks: Vec<Framework>,
}

/// One framework in `/frameworks`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Framework {
    /// Framework id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether it is active.
    pub active: bool,
    /// Non-terminal tasks.
    pub tasks: Vec<Value>,
    /// Terminal tasks.
    pub completed_tasks: Vec<Value>,
}

/// `/tasks`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tasks {
    /// Tasks, running and completed.
    pub tasks: Vec<Task>,
}

/// One task in `/tasks`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Task {
    /// Task id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `TASK_*` state.
    pub state: String,
    /// Owning framework.
    pub framework_id: String,
    /// Agent running it.
    pub slave_id: String,
    /// Executor (`""` for command tasks).
    pub executor_id: String,
}

/// Agent `/state`, the parts that locate sandboxes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AgentState {
    /// Agent id.
    pub id: String,
    /// Frameworks with executors on this agent.
    pub frameworks: Vec<AgentFramework>,
    /// Frameworks gone from this agent.
    pub completed_frameworks: Vec<AgentFramework>,
}

/// A framework in agent `/state`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AgentFramework {
    /// Framework id.
    pub id: String,
    /// Live executors.
    pub executors: Vec<AgentExecutor>,
    /// Terminated executors.
    pub completed_executors: Vec<AgentExecutor>,
}

/// An executor in agent `/state`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AgentExecutor {
    /// Executor id (for command tasks, the task id).
    pub id: String,
    /// The sandbox directory.
    pub directory: String,
    /// Live tasks.
    pub tasks: Vec<IdOnly>,
    /// Tasks not launched yet.
    pub queued_tasks: Vec<IdOnly>,
    /// Terminal tasks.
    pub completed_tasks: Vec<IdOnly>,
}

impl AgentState {
    /// The sandbox directory of the executor running `task_id` of `framework_id`, searching
    /// live and completed frameworks and executors.
    pub fn sandbox_of(&self, framework_id: &str, task_id: &str) -> Option<&str> {
        self.frameworks
            .iter()
            .chain(&self.completed_frameworks)
            .filter(|f| f.id == framework_id)
            .flat_map(|f| f.executors.iter().chain(&f.completed_executors))
            .find(|e| {
                e.id == task_id
                    || e.tasks
                        .iter()
                        .chain(&e.queued_tasks)
                        .chain(&e.completed_tasks)
                        .any(|t| t.id == task_id)
            })
            .map(|e| e.directory.as_str())
            .filter(|d| !d.is_empty())
    }
}

/// An object of which only `id` is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdOnly {
    /// The id.
    pub id: String,
}

/// `/files/read`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct FileChunk {
    /// The bytes read (the file's text).
    pub data: String,
    /// Where they start (for `offset=-1`: the file's size).
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::RawQuery;
    use axum::routing::get;
    use axum::{Json, Router};

    async fn serve(app: Router) -> Endpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Endpoint::new("127.0.0.1", addr.port())
    }

    #[tokio::test]
    async fn reads_typed_views_and_follows_redirects() {
        let leader = serve(
            Router::new()
                .route(
                    "/slaves",
                    get(|| async {
                        Json(serde_json::json!({"slaves": [{"id": "S0", "hostname": "h", "pid": "slave(1)@127.0.0.1:5051",
                            "active": true, "resources": {"cpus": 4.0, "mem": 1024.0}, "extra": 1}]}))
                    }),
                )
                .route(
                    "/files/read",
                    get(|RawQuery(q): RawQuery| async move { Json(serde_json::json!({"data": q.unwrap_or_default(), "offset": 3})) }),
                ),
        )
        .await;
        let target = leader.to_string();
        let follower = serve(Router::new().route(
            "/slaves",
            get(move || {
                let target = target.clone();
                async move {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [("location", format!("//{target}"))],
                    )
                }
            }),
        ))
        .await;

        let slaves = LegacyClient::new(follower).slaves().await.unwrap();
        assert_eq!(slaves.slaves.len(), 1);
        let slave = &slaves.slaves[0];
        assert!(slave.active);
        assert_eq!(slave.endpoint().unwrap().to_string(), "127.0.0.1:5051");
        assert_eq!(slave.resources["cpus"], 4.0);

        let chunk = LegacyClient::new(leader.clone())
            .read_file("/tmp/a b/stdout", 3, Some(10))
            .await
            .unwrap();
        assert_eq!(chunk.data, "path=/tmp/a%20b/stdout&offset=3&length=10");
        let error = LegacyClient::new(leader)
            .get_json("/nope")
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    }

    #[test]
    fn finds_a_task_sandbox() {
        let state: AgentState = serde_json::from_value(serde_json::json!({
            "id": "S0",
            "frameworks": [{"id": "F", "executors": [
                {"id": "other", "directory": "/x", "tasks": [{"id": "t0"}]},
                {"id": "e1", "directory": "/sandbox", "completed_tasks": [{"id": "t1"}]}
            ]}]
        }))
        .unwrap();
        assert_eq!(state.sandbox_of("F", "t1"), Some("/sandbox"));
        assert_eq!(state.sandbox_of("F", "t0"), Some("/x"));
        assert_eq!(state.sandbox_of("G", "t1"), None);
    }
}
