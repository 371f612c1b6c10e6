//! The probes: one check of a task's health, as Mesos's built-in executors do it.

use std::path::Path;
use std::time::Duration;

use corral_api::v1::health_check::Type as CheckType;
use corral_api::v1::{HealthCheck, TaskInfo};

use crate::core::Signal;
use crate::process;

/// One way of checking a task.
#[derive(Clone, Debug)]
pub enum Probe {
    /// Run this (task-like) command in the sandbox; exit 0 passes.
    Command(Box<TaskInfo>),
    /// GET this URL; 200–399 passes.
    Http(String),
    /// Connect to 127.0.0.1:port.
    Tcp(u16),
}

impl Probe {
    /// The probe of `check` for `task` (the check must be valid).
    pub fn of(check: &HealthCheck, task: &TaskInfo) -> Result<Probe, String> {
        super::validate(check)?;
        match check.r#type() {
            CheckType::Command => {
                let mut command = check.command.clone().unwrap_or_default();
                // Mesos ignores the check's own user and URIs: it runs as the task does.
                command.user = task.command.as_ref().and_then(|c| c.user.clone());
                command.uris.clear();
                Ok(Probe::Command(Box::new(TaskInfo {
                    task_id: task.task_id.clone(),
                    command: Some(command),
                    ..TaskInfo::default()
                })))
            }
            CheckType::Http => {
                let http = check.http.clone().unwrap_or_default();
                let scheme = http.scheme.as_deref().unwrap_or("http");
                let path = http.path.as_deref().unwrap_or("");
                let path = if path.is_empty() { "/" } else { path };
                Ok(Probe::Http(format!(
                    "{scheme}://127.0.0.1:{}{path}",
                    http.port
                )))
            }
            CheckType::Tcp => {
                let port = check.tcp.as_ref().map_or(0, |t| t.port);
                u16::try_from(port)
                    .map(Probe::Tcp)
                    .map_err(|_| format!("invalid health check port {port}"))
            }
            CheckType::Unknown => Err("'type' must be COMMAND, HTTP or TCP".into()),
        }
    }

    /// Runs the probe once; `Err` says why it failed.
    pub async fn run(
        &self,
        client: &reqwest::Client,
        timeout: Option<Duration>,
        sandbox: Option<&Path>,
    ) -> Result<(), String> {
        let attempt = async {
            match self {
                Probe::Command(info) => command(info, sandbox, timeout).await,
                Probe::Http(url) => http(client, url).await,
                Probe::Tcp(port) => tcp(*port).await,
            }
        };
        match timeout {
            // Commands enforce their own timeout (they must kill the process group).
            Some(limit) if !matches!(self, Probe::Command(_)) => {
                tokio::time::timeout(limit, attempt)
                    .await
                    .unwrap_or_else(|_| Err(format!("timed out after {limit:?}")))
            }
            _ => attempt.await,
        }
    }
}

async fn command(
    info: &TaskInfo,
    sandbox: Option<&Path>,
    timeout: Option<Duration>,
) -> Result<(), String> {
    let mut child = process::spawn(info, sandbox).map_err(|e| e.to_string())?;
    let pid = child.id();
    let waited = match timeout {
        Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
            Ok(result) => result,
            Err(_) => {
                if let Some(pid) = pid {
                    let _ = process::signal_group(pid, Signal::Kill);
                }
                let _ = child.wait().await;
                return Err(format!("command timed out after {limit:?}"));
            }
        },
        None => child.wait().await,
    };
    let status = process::exit_status(waited.map_err(|e| e.to_string())?);
    if let Some(pid) = pid {
        // Leftovers of the check go with it.
        let _ = process::signal_group(pid, Signal::Kill);
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!("Command {status}"))
    }
}

async fn http(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
    let status = response.status();
    if (200..400).contains(&status.as_u16()) {
        Ok(())
    } else {
        Err(format!("Unexpected HTTP response code: {status}"))
    }
}

async fn tcp(port: u16) -> Result<(), String> {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map(drop)
        .map_err(|e| format!("TCP connection to 127.0.0.1:{port} failed: {e}"))
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use corral_api::v1::health_check::{HttpCheckInfo, TcpCheckInfo};
    use corral_api::v1::CommandInfo;

    fn client() -> reqwest::Client {
        reqwest::Client::new()
    }

    fn check(kind: CheckType) -> HealthCheck {
        HealthCheck {
            r#type: Some(kind as i32),
            ..HealthCheck::default()
        }
    }

    /// A port that refuses connections for as long as the returned socket
    /// lives: bound (so no parallel test can take it) but never listening.
    fn closed_port() -> (tokio::net::TcpSocket, u16) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        (socket, port)
    }

    #[tokio::test]
    async fn tcp_probes_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut c = check(CheckType::Tcp);
        c.tcp = Some(TcpCheckInfo {
            port: u32::from(port),
            ..TcpCheckInfo::default()
        });
        let probe = Probe::of(&c, &TaskInfo::default()).unwrap();
        assert!(probe.run(&client(), None, None).await.is_ok());
        drop(listener);
        let (_held, closed) = closed_port();
        c.tcp = Some(TcpCheckInfo {
            port: u32::from(closed),
            ..TcpCheckInfo::default()
        });
        let probe = Probe::of(&c, &TaskInfo::default()).unwrap();
        let err = probe.run(&client(), None, None).await.unwrap_err();
        assert!(err.contains("TCP connection"), "{err}");
    }

    #[tokio::test]
    async fn http_probes_want_2xx_or_3xx() {
        use axum::http::StatusCode;
        let app = axum::Router::new()
            .route("/ok", axum::routing::get(|| async { StatusCode::OK }))
            .route(
                "/bad",
                axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let probe = |path: &str, port: u16| {
            let mut c = check(CheckType::Http);
            c.http = Some(HttpCheckInfo {
                port: u32::from(port),
                path: Some(path.into()),
                ..HttpCheckInfo::default()
            });
            Probe::of(&c, &TaskInfo::default()).unwrap()
        };
        assert!(probe("/ok", port).run(&client(), None, None).await.is_ok());
        let err = probe("/bad", port)
            .run(&client(), None, None)
            .await
            .unwrap_err();
        assert!(err.contains("503"), "{err}");
        let (_held, closed) = closed_port();
        assert!(probe("/", closed).run(&client(), None, None).await.is_err());
    }

    #[tokio::test]
    async fn command_probes_use_the_exit_code_and_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let run = |value: &str| {
            let mut c = check(CheckType::Command);
            c.command = Some(CommandInfo {
                value: Some(value.into()),
                ..CommandInfo::default()
            });
            Probe::of(&c, &TaskInfo::default()).unwrap()
        };
        std::fs::write(dir.path().join("marker"), "").unwrap();
        let limit = Some(Duration::from_secs(5));
        assert!(run("test -f marker")
            .run(&client(), limit, Some(dir.path()))
            .await
            .is_ok());
        let err = run("exit 3")
            .run(&client(), limit, Some(dir.path()))
            .await
            .unwrap_err();
        assert_eq!(err, "Command exited with status 3");
        let started = std::time::Instant::now();
        let err = run("sleep 30")
            .run(
                &client(),
                Some(Duration::from_millis(200)),
                Some(dir.path()),
            )
            .await
            .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
