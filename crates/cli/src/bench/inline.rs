//! `InlineLauncher`: a launcher meant for benchmarks only (`corral bench launch
//! --executors=inline`, and `corral agent --bench-inline-executors`). It starts no process:
//! each container is a tokio task in the agent's process that plays a minimal command
//! executor against the agent's real executor API (`/api/v1/executor` over loopback HTTP):
//! SUBSCRIBE, and for every LAUNCH report TASK_RUNNING and then TASK_FINISHED (no
//! TASK_STARTING, no command is run); KILL gets TASK_KILLED; once every update is
//! ACKNOWLEDGED the container "exits" with status 0.
//!
//! So everything the agent does for a task still happens (sandbox, checkpoints, the status
//! update manager with its acknowledgements, forwarding to the master) except the fork/exec of
//! `corral executor` and of the task. Never use it for real workloads: nothing is isolated,
//! and a container does not outlive the agent (recovery reports every one as gone).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral_api::v1::executor::event::Type as EventType;
use corral_api::v1::task_status::Source;
use corral_api::v1::{TaskId, TaskState, TaskStatus};
use corral_client::transport::Http;
use corral_client::{ExecutorClient, ExecutorEnv};
use corral_containerizer::{
    BoxFuture, ContainerError, ContainerId, ExitStatus, GoneReason, KnownProcess, LaunchError,
    LaunchInfo, LaunchSpec, Launched, Launcher, RecoverError, RecoverReport, Signal,
};
use futures::StreamExt;
use tokio::sync::watch;

/// Pids handed out to inline containers start here (they are not real processes).
const FIRST_PID: u32 = 1_000_000;
/// Attempts to deliver one update before the inline executor gives up.
const UPDATE_ATTEMPTS: u32 = 5;

/// The benchmark launcher; see the module docs.
#[derive(Debug)]
pub struct InlineLauncher {
    containers: Mutex<HashMap<ContainerId, Inline>>,
    next_pid: AtomicU32,
    /// One connection pool for every inline executor of this agent (a real executor process
    /// has its own connections; here they would only add connect/accept churn).
    http: Http,
}

#[derive(Debug)]
struct Inline {
    status: watch::Sender<Option<ExitStatus>>,
    executor: tokio::task::AbortHandle,
}

impl InlineLauncher {
    /// A launcher with no containers.
    pub fn new() -> Arc<InlineLauncher> {
        Arc::new(InlineLauncher {
            containers: Mutex::new(HashMap::new()),
            next_pid: AtomicU32::new(FIRST_PID),
            http: Http::default(),
        })
    }

    fn containers(&self) -> MutexGuard<'_, HashMap<ContainerId, Inline>> {
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn launch_now(&self, spec: &LaunchSpec, info: &LaunchInfo) -> Result<Launched, LaunchError> {
        let lookup = |name: &str| {
            info.env
                .iter()
                .chain(spec.env.iter())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let env = ExecutorEnv::from_lookup(lookup).map_err(|e| LaunchError::Spawn {
            program: "inline executor".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let mut containers = self.containers();
        if containers.contains_key(&spec.container_id) {
            return Err(LaunchError::AlreadyExists(spec.container_id.clone()));
        }
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let (status, _) = watch::channel(None);
        let done = status.clone();
        let client = ExecutorClient::with_http(env, self.http.clone());
        let executor = tokio::spawn(async move {
            let exit = run_executor(client).await;
            done.send_replace(Some(exit));
        })
        .abort_handle();
        containers.insert(spec.container_id.clone(), Inline { status, executor });
        Ok(Launched {
            pid,
            start_time: None,
        })
    }

    /// Ends the container as if by SIGKILL (if it still runs).
    fn kill(&self, id: &ContainerId) -> Result<(), ContainerError> {
        let containers = self.containers();
        let inline = containers
            .get(id)
            .ok_or_else(|| ContainerError::UnknownContainer(id.clone()))?;
        if inline.status.borrow().is_some() {
            return Err(ContainerError::NotRunning(id.clone()));
        }
        inline.executor.abort();
        inline
            .status
            .send_replace(Some(ExitStatus::Signaled(Signal::SIGKILL as i32)));
        Ok(())
    }
}

impl Launcher for InlineLauncher {
    fn launch<'a>(
        &'a self,
        spec: &'a LaunchSpec,
        info: &'a LaunchInfo,
    ) -> BoxFuture<'a, Result<Launched, LaunchError>> {
        Box::pin(async move { self.launch_now(spec, info) })
    }

    fn wait<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>> {
        Box::pin(async move {
            let mut status = self
                .containers()
                .get(id)
                .map(|c| c.status.subscribe())
                .ok_or_else(|| ContainerError::UnknownContainer(id.clone()))?;
            let ended = status.wait_for(Option::is_some).await.ok().and_then(|s| *s);
            ended.ok_or_else(|| ContainerError::WaitAborted(id.clone()))
        })
    }

    fn signal<'a>(
        &'a self,
        id: &'a ContainerId,
        signal: Signal,
    ) -> BoxFuture<'a, Result<(), ContainerError>> {
        Box::pin(async move {
            if matches!(signal, Signal::SIGKILL | Signal::SIGTERM) {
                self.kill(id)
            } else if self.containers().contains_key(id) {
                Ok(())
            } else {
                Err(ContainerError::UnknownContainer(id.clone()))
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        id: &'a ContainerId,
        _grace: Duration,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>> {
        Box::pin(async move {
            match self.kill(id) {
                Ok(()) | Err(ContainerError::NotRunning(_)) => {}
                Err(error) => return Err(error),
            }
            let status = self
                .containers()
                .remove(id)
                .and_then(|c| *c.status.borrow())
                .unwrap_or(ExitStatus::Unknown);
            Ok(status)
        })
    }

    fn recover(
        &self,
        known: Vec<KnownProcess>,
    ) -> BoxFuture<'_, Result<RecoverReport, RecoverError>> {
        // Inline containers die with the agent's process.
        let report = RecoverReport {
            adopted: Vec::new(),
            gone: known
                .into_iter()
                .map(|k| (k.container_id, GoneReason::NotFound))
                .collect(),
        };
        Box::pin(async move { Ok(report) })
    }

    fn containers(&self) -> Vec<ContainerId> {
        self.containers().keys().cloned().collect()
    }
}

/// The inline executor: subscribes, reports RUNNING then FINISHED for each launched task (or
/// KILLED when killed), and ends once every update it sent is acknowledged.
async fn run_executor(client: ExecutorClient) -> ExitStatus {
    let mut events = match client.subscribe(Vec::new(), Vec::new()).await {
        Ok(events) => events,
        Err(error) => {
            tracing::warn!(%error, "inline executor: SUBSCRIBE failed");
            return ExitStatus::Exited(1);
        }
    };
    let mut unacknowledged: HashSet<Vec<u8>> = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut launched = 0usize;
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "inline executor: lost the agent");
                return ExitStatus::Exited(1);
            }
        };
        let mut report = Vec::new();
        match event.r#type() {
            EventType::Launch => {
                if let Some(launch) = event.launch {
                    launched += 1;
                    report.push((launch.task.task_id.clone(), TaskState::TaskRunning));
                    report.push((launch.task.task_id, TaskState::TaskFinished));
                }
            }
            EventType::LaunchGroup => {
                for task in event
                    .launch_group
                    .map(|g| g.task_group.tasks)
                    .unwrap_or_default()
                {
                    launched += 1;
                    report.push((task.task_id.clone(), TaskState::TaskRunning));
                    report.push((task.task_id, TaskState::TaskFinished));
                }
            }
            EventType::Kill => {
                if let Some(kill) = event.kill {
                    if !finished.contains(&kill.task_id.value) {
                        report.push((kill.task_id, TaskState::TaskKilled));
                    }
                }
            }
            EventType::Acknowledged => {
                if let Some(ack) = event.acknowledged {
                    unacknowledged.remove(&ack.uuid);
                }
            }
            EventType::Shutdown => return ExitStatus::Exited(0),
            _ => {}
        }
        for (task_id, state) in report {
            if finished.contains(&task_id.value) {
                continue;
            }
            if corral_executor::status::is_terminal(state) {
                finished.insert(task_id.value.clone());
            }
            let status = status(&client, task_id, state);
            if let Some(uuid) = &status.uuid {
                unacknowledged.insert(uuid.clone());
            }
            if !deliver(&client, status).await {
                return ExitStatus::Exited(1);
            }
        }
        if launched > 0 && finished.len() >= launched && unacknowledged.is_empty() {
            return ExitStatus::Exited(0);
        }
    }
    ExitStatus::Exited(1)
}

fn status(client: &ExecutorClient, task_id: TaskId, state: TaskState) -> TaskStatus {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    TaskStatus {
        task_id,
        state: state as i32,
        source: Some(Source::Executor as i32),
        agent_id: client.env().agent_id.clone(),
        executor_id: Some(client.env().executor_id.clone()),
        timestamp: Some(timestamp),
        uuid: Some(corral_api::ids::new_uuid_bytes()),
        ..TaskStatus::default()
    }
}

async fn deliver(client: &ExecutorClient, status: TaskStatus) -> bool {
    let mut delay = Duration::from_millis(50);
    for _ in 0..UPDATE_ATTEMPTS {
        match client.update(status.clone()).await {
            Ok(()) => return true,
            Err(error) if error.status().is_some_and(|s| s.is_client_error()) => {
                tracing::warn!(%error, "inline executor: the agent refused an update");
                return false;
            }
            Err(error) => {
                tracing::debug!(%error, "inline executor: update failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    false
}
