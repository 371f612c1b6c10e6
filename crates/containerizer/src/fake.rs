//! Fakes for unit tests of the agent (and of the [`Containerizer`](crate::Containerizer)):
//! [`FakeLauncher`] and [`FakeIsolator`]. No process is ever started.
//!
//! Always compiled (they are small and have no extra dependencies), so that other crates can
//! use them from their tests without a feature flag. Never use them in end-to-end tests.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;

use crate::error::{ContainerError, IsolatorError, LaunchError, RecoverError};
use crate::isolator::{Isolator, Limitation, RecoveredContainer};
use crate::launcher::{
    BoxFuture, ExitStatus, GoneReason, KnownProcess, LaunchInfo, Launched, Launcher, RecoverReport,
};
use crate::spec::{ContainerId, LaunchSpec};
use crate::usage::ResourceUsage;

/// First pid handed out by a [`FakeLauncher`].
pub const FIRST_FAKE_PID: u32 = 10_000;

/// A launcher that records what it is asked to do. Containers run until the test calls
/// [`complete`](FakeLauncher::complete), or until they get SIGKILL (through `signal` or
/// `destroy`; destroy ignores the grace period), which ends them with `Signaled(9)`. Other
/// signals are only recorded.
#[derive(Debug)]
pub struct FakeLauncher {
    state: Mutex<FakeState>,
}

#[derive(Debug)]
struct FakeState {
    next_pid: u32,
    containers: HashMap<ContainerId, FakeContainer>,
    launches: Vec<LaunchSpec>,
    signals: Vec<(ContainerId, Signal)>,
    destroyed: Vec<ContainerId>,
    fail_next_launch: bool,
    gone_on_recover: HashSet<ContainerId>,
}

#[derive(Debug)]
struct FakeContainer {
    pid: u32,
    status: watch::Sender<Option<ExitStatus>>,
}

impl FakeContainer {
    fn running(&self) -> bool {
        self.status.borrow().is_none()
    }
}

impl Default for FakeLauncher {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeLauncher {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(FakeState {
                next_pid: FIRST_FAKE_PID,
                containers: HashMap::new(),
                launches: Vec::new(),
                signals: Vec::new(),
                destroyed: Vec::new(),
                fail_next_launch: false,
                gone_on_recover: HashSet::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every spec successfully launched, in order.
    pub fn launches(&self) -> Vec<LaunchSpec> {
        self.state().launches.clone()
    }

    /// Every signal sent (including the SIGKILL of `destroy`), in order.
    pub fn signals(&self) -> Vec<(ContainerId, Signal)> {
        self.state().signals.clone()
    }

    /// Every container destroyed, in order.
    pub fn destroyed(&self) -> Vec<ContainerId> {
        self.state().destroyed.clone()
    }

    /// The fake pid of a known container.
    pub fn pid(&self, id: &ContainerId) -> Option<u32> {
        self.state().containers.get(id).map(|c| c.pid)
    }

    /// Whether the container is known and has not ended.
    pub fn is_running(&self, id: &ContainerId) -> bool {
        self.state()
            .containers
            .get(id)
            .is_some_and(FakeContainer::running)
    }

    /// Ends a running container with `status`, waking its waiters. `false` if the container
    /// is unknown or already ended.
    pub fn complete(&self, id: &ContainerId, status: ExitStatus) -> bool {
        match self.state().containers.get(id) {
            Some(c) if c.running() => {
                c.status.send_replace(Some(status));
                true
            }
            _ => false,
        }
    }

    /// Makes the next launch fail with [`LaunchError::Spawn`].
    pub fn fail_next_launch(&self) {
        self.state().fail_next_launch = true;
    }

    /// Makes `recover` report these containers as gone instead of adopting them.
    pub fn set_gone_on_recover(&self, ids: impl IntoIterator<Item = ContainerId>) {
        self.state().gone_on_recover = ids.into_iter().collect();
    }

    fn launch_now(&self, spec: &LaunchSpec) -> Result<Launched, LaunchError> {
        spec.validate()?;
        let mut state = self.state();
        if std::mem::take(&mut state.fail_next_launch) {
            return Err(LaunchError::Spawn {
                program: spec.command.program().to_owned(),
                source: io::Error::other("injected launch failure"),
            });
        }
        if state.containers.contains_key(&spec.container_id) {
            return Err(LaunchError::AlreadyExists(spec.container_id.clone()));
        }
        let pid = state.next_pid;
        state.next_pid += 1;
        let (status, _) = watch::channel(None);
        state
            .containers
            .insert(spec.container_id.clone(), FakeContainer { pid, status });
        state.launches.push(spec.clone());
        Ok(Launched {
            pid,
            start_time: Some(u64::from(pid)),
        })
    }

    fn signal_now(&self, id: &ContainerId, signal: Signal) -> Result<(), ContainerError> {
        let mut state = self.state();
        let Some(container) = state.containers.get(id) else {
            return Err(ContainerError::UnknownContainer(id.clone()));
        };
        if !container.running() {
            return Err(ContainerError::NotRunning(id.clone()));
        }
        if signal == Signal::SIGKILL {
            container
                .status
                .send_replace(Some(ExitStatus::Signaled(Signal::SIGKILL as i32)));
        }
        state.signals.push((id.clone(), signal));
        Ok(())
    }
}

impl Launcher for FakeLauncher {
    fn launch<'a>(
        &'a self,
        spec: &'a LaunchSpec,
        _info: &'a LaunchInfo,
    ) -> BoxFuture<'a, Result<Launched, LaunchError>> {
        Box::pin(async move { self.launch_now(spec) })
    }

    fn wait<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>> {
        Box::pin(async move {
            let mut status = self
                .state()
                .containers
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
        Box::pin(async move { self.signal_now(id, signal) })
    }

    fn destroy<'a>(
        &'a self,
        id: &'a ContainerId,
        _grace: Duration,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>> {
        Box::pin(async move {
            match self.signal_now(id, Signal::SIGKILL) {
                Ok(()) | Err(ContainerError::NotRunning(_)) => {}
                Err(e) => return Err(e),
            }
            let mut state = self.state();
            let status = state
                .containers
                .remove(id)
                .and_then(|c| *c.status.borrow())
                .unwrap_or(ExitStatus::Unknown);
            state.destroyed.push(id.clone());
            Ok(status)
        })
    }

    fn recover(
        &self,
        known: Vec<KnownProcess>,
    ) -> BoxFuture<'_, Result<RecoverReport, RecoverError>> {
        Box::pin(async move {
            let mut state = self.state();
            let mut report = RecoverReport::default();
            for k in known {
                if state.gone_on_recover.contains(&k.container_id) {
                    report.gone.push((k.container_id, GoneReason::NotFound));
                    continue;
                }
                if !state.containers.contains_key(&k.container_id) {
                    let (status, _) = watch::channel(None);
                    state
                        .containers
                        .insert(k.container_id.clone(), FakeContainer { pid: k.pid, status });
                }
                report.adopted.push(k.container_id);
            }
            Ok(report)
        })
    }

    fn containers(&self) -> Vec<ContainerId> {
        self.state().containers.keys().cloned().collect()
    }
}

/// A call received by a [`FakeIsolator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolatorCall {
    Recover(ContainerId),
    Prepare(ContainerId),
    Isolate(ContainerId, u32),
    Cleanup(ContainerId),
}

/// An isolator that records its calls, reports usage set by the test, fails on demand and
/// reports a limitation when the test calls [`limit`](FakeIsolator::limit).
#[derive(Debug)]
pub struct FakeIsolator {
    name: &'static str,
    state: Mutex<FakeIsolatorState>,
}

#[derive(Debug, Default)]
struct FakeIsolatorState {
    calls: Vec<IsolatorCall>,
    usage: HashMap<ContainerId, ResourceUsage>,
    limits: HashMap<ContainerId, watch::Sender<Option<Limitation>>>,
    fail_prepare: bool,
    fail_isolate: bool,
}

impl FakeIsolator {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            state: Mutex::new(FakeIsolatorState::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, FakeIsolatorState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn calls(&self) -> Vec<IsolatorCall> {
        self.state().calls.clone()
    }

    pub fn set_usage(&self, id: &ContainerId, usage: ResourceUsage) {
        self.state().usage.insert(id.clone(), usage);
    }

    /// Makes every later `prepare` fail.
    pub fn fail_prepare(&self, fail: bool) {
        self.state().fail_prepare = fail;
    }

    /// Makes every later `isolate` fail.
    pub fn fail_isolate(&self, fail: bool) {
        self.state().fail_isolate = fail;
    }

    /// Fires the limitation future of the container.
    pub fn limit(&self, id: &ContainerId, limitation: Limitation) {
        self.limit_channel(id).send_replace(Some(limitation));
    }

    fn limit_channel(&self, id: &ContainerId) -> watch::Sender<Option<Limitation>> {
        self.state()
            .limits
            .entry(id.clone())
            .or_insert_with(|| watch::channel(None).0)
            .clone()
    }

    fn record(&self, call: IsolatorCall) {
        self.state().calls.push(call);
    }
}

fn injected(what: &'static str) -> IsolatorError {
    IsolatorError::Unsupported { what }
}

impl Isolator for FakeIsolator {
    fn name(&self) -> &'static str {
        self.name
    }

    fn recover<'a>(
        &'a self,
        containers: &'a [RecoveredContainer],
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        for c in containers {
            self.record(IsolatorCall::Recover(c.container_id.clone()));
        }
        Box::pin(async { Ok(()) })
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        self.record(IsolatorCall::Prepare(spec.container_id.clone()));
        let fail = self.state().fail_prepare;
        Box::pin(async move {
            if fail {
                Err(injected("injected prepare failure"))
            } else {
                Ok(LaunchInfo::default())
            }
        })
    }

    fn isolate<'a>(
        &'a self,
        id: &'a ContainerId,
        pid: u32,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        self.record(IsolatorCall::Isolate(id.clone(), pid));
        let fail = self.state().fail_isolate;
        Box::pin(async move {
            if fail {
                Err(injected("injected isolate failure"))
            } else {
                Ok(())
            }
        })
    }

    fn watch_limitation(&self, id: &ContainerId) -> Option<BoxFuture<'static, Limitation>> {
        let mut limit = self.limit_channel(id).subscribe();
        Some(Box::pin(async move {
            let hit = limit
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|hit| hit.clone());
            match hit {
                Some(hit) => hit,
                // The isolator was dropped: no limitation will ever come.
                None => std::future::pending().await,
            }
        }))
    }

    fn usage<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ResourceUsage, IsolatorError>> {
        let usage = self.state().usage.get(id).copied().unwrap_or_default();
        Box::pin(async move { Ok(usage) })
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        self.record(IsolatorCall::Cleanup(id.clone()));
        let mut state = self.state();
        state.limits.remove(id);
        state.usage.remove(id);
        Box::pin(async { Ok(()) })
    }
}
