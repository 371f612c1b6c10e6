//! [`PosixLauncher`]: plain processes, one session and process group per container.
//!
//! Reaping: the main process of a launched container is a `tokio::process::Child` owned by a
//! task that waits for it, so tokio reaps it. Other processes of the container are reaped by
//! their own parents or, once orphaned, by init. The agent must therefore not be PID 1 and
//! must not set `PR_SET_CHILD_SUBREAPER`, or orphans would pile up as zombies. (Zombies are
//! never counted as running, so destroy does not hang on them.)
//!
//! Safety against pid reuse: the group of a container is signalled with `killpg` only while
//! its number is provably held (main process not yet reaped, or a live member found in the
//! group), because Linux does not reuse a pid number that is still a process group or session
//! id. Other members of the session are signalled by pid right after a `/proc` scan.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{geteuid, getgrouplist, getpgrp, getpid, getsid, Pid, User};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{ContainerError, LaunchError, RecoverError, SpecError};
use crate::launcher::{
    BoxFuture, ExitStatus, KnownProcess, LaunchInfo, Launched, Launcher, RecoverReport,
};
use crate::procfs::{self, ProcStat};
use crate::spec::{ContainerId, LaunchSpec};
use crate::sys::{self, ChildSetup, Identity};

mod adopt;

/// Default time [`Launcher::destroy`] keeps sending SIGKILL before giving up.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_POLL: Duration = Duration::from_millis(50);

/// Launches containers as plain child processes of the agent. See the module docs.
#[derive(Debug)]
pub struct PosixLauncher {
    proc_root: PathBuf,
    kill_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    containers: HashMap<ContainerId, Arc<Entry>>,
    /// Ids whose launch is in progress, so that two launches of one id cannot race.
    launching: HashSet<ContainerId>,
}

#[derive(Debug)]
struct Entry {
    /// Main process; also the process group and session id.
    pid: u32,
    /// `Some` once the main process has ended.
    status: watch::Receiver<Option<ExitStatus>>,
}

impl Entry {
    fn leader_done(&self) -> bool {
        self.status.borrow().is_some()
    }
}

impl Default for PosixLauncher {
    fn default() -> Self {
        Self::new()
    }
}

impl PosixLauncher {
    pub fn new() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            kill_timeout: DEFAULT_KILL_TIMEOUT,
            state: Mutex::new(State::default()),
        }
    }

    /// How long destroy keeps sending SIGKILL before returning
    /// [`ContainerError::DestroyIncomplete`].
    pub fn with_kill_timeout(mut self, kill_timeout: Duration) -> Self {
        self.kill_timeout = kill_timeout;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (every update is a single insert or
        // remove), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry(&self, id: &ContainerId) -> Result<Arc<Entry>, ContainerError> {
        self.state()
            .containers
            .get(id)
            .cloned()
            .ok_or_else(|| ContainerError::UnknownContainer(id.clone()))
    }

    async fn launch_inner(
        &self,
        spec: &LaunchSpec,
        info: &LaunchInfo,
    ) -> Result<Launched, LaunchError> {
        spec.validate()?;
        let id = &spec.container_id;
        let reservation = Reservation::new(self, id)?;

        // A blocking NSS lookup; fast with the `files` backend, which agents use.
        let identity = match spec.user.as_deref() {
            Some(name) => resolve_user(name)?,
            None => None,
        };
        check_sandbox(&spec.working_dir)?;
        let stdout = open_output(&spec.working_dir, &spec.stdout_path, identity.as_ref())?;
        let stderr = open_output(&spec.working_dir, &spec.stderr_path, identity.as_ref())?;

        let mut command = tokio::process::Command::new(spec.command.program());
        command.args(spec.command.args());
        if !spec.inherit_env {
            command.env_clear();
        }
        command
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .envs(info.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.working_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(false);
        sys::install(
            &mut command,
            ChildSetup {
                actions: info.pre_exec.clone(),
                identity,
            },
        );

        let spawn_error = |source| LaunchError::Spawn {
            program: spec.command.program().to_owned(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;
        let pid = child
            .id()
            .ok_or_else(|| spawn_error(io::Error::other("child exited before its pid was read")))?;
        let start_time = procfs::read_stat(&self.proc_root, pid)
            .ok()
            .flatten()
            .map(|s| s.start_time);

        let (tx, rx) = watch::channel(None);
        let reap_id = id.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => ExitStatus::from(status),
                Err(error) => {
                    tracing::warn!(container_id = %reap_id, pid, %error, "waiting for process failed");
                    ExitStatus::Unknown
                }
            };
            tracing::info!(container_id = %reap_id, pid, %status, "container process ended");
            tx.send_replace(Some(status));
        });

        reservation.commit(Entry { pid, status: rx });
        tracing::info!(container_id = %id, pid, program = spec.command.program(), "launched container");
        Ok(Launched { pid, start_time })
    }

    async fn wait_inner(&self, id: &ContainerId) -> Result<ExitStatus, ContainerError> {
        let mut status = self.entry(id)?.status.clone();
        let ended = status.wait_for(Option::is_some).await.ok().and_then(|s| *s);
        ended.ok_or_else(|| ContainerError::WaitAborted(id.clone()))
    }

    /// Live processes of the container (zombies excluded).
    fn members(&self, id: &ContainerId, entry: &Entry) -> Result<Vec<ProcStat>, ContainerError> {
        let stats = procfs::scan(&self.proc_root).map_err(|source| ContainerError::Procfs {
            id: id.clone(),
            source,
        })?;
        Ok(procfs::live_members(&stats, entry.pid, entry.pid))
    }

    /// Sends `signal` to the container's group and to session members outside the group.
    /// Returns whether any process was reached.
    fn deliver(
        &self,
        id: &ContainerId,
        entry: &Entry,
        signal: Signal,
    ) -> Result<bool, ContainerError> {
        let members = self.members(id, entry)?;
        let group_held = !entry.leader_done() || members.iter().any(|m| m.pgrp == entry.pid);
        // Keep going after a failure so that one unkillable process (e.g. a setuid program
        // when the agent is not root) does not shield the others.
        let mut reached = false;
        let mut failure = None;
        let mut record = |result: nix::Result<()>| match result {
            Ok(()) => reached = true,
            Err(Errno::ESRCH) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        };
        if let Some(pgid) = foreign_pid(entry.pid).filter(|_| group_held) {
            record(killpg(pgid, signal));
        }
        for member in members.iter().filter(|m| m.pgrp != entry.pid) {
            if let Some(pid) = foreign_pid(member.pid) {
                record(kill(pid, signal));
            }
        }
        match failure {
            Some(source) if !reached => Err(ContainerError::Signal {
                id: id.clone(),
                signal,
                source,
            }),
            Some(source) => {
                tracing::warn!(container_id = %id, %signal, %source, "some processes could not be signalled");
                Ok(true)
            }
            None => Ok(reached),
        }
    }

    /// Polls until the main process has ended and no member is left, or `deadline`.
    /// Returns the pids still alive (empty when done).
    async fn settle(
        &self,
        id: &ContainerId,
        entry: &Entry,
        deadline: Instant,
    ) -> Result<Vec<u32>, ContainerError> {
        let mut pause = Duration::from_millis(1);
        loop {
            let remaining: Vec<u32> = self.members(id, entry)?.iter().map(|m| m.pid).collect();
            if remaining.is_empty() && entry.leader_done() {
                return Ok(remaining);
            }
            let now = Instant::now();
            if now >= deadline {
                // The main process may be alive but unreadable; report at least it.
                return Ok(if remaining.is_empty() {
                    vec![entry.pid]
                } else {
                    remaining
                });
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    async fn destroy_inner(
        &self,
        id: &ContainerId,
        grace: Duration,
    ) -> Result<ExitStatus, ContainerError> {
        let entry = self.entry(id)?;
        tracing::info!(container_id = %id, pid = entry.pid, ?grace, "destroying container");
        let mut remaining = self.settle(id, &entry, Instant::now()).await?;
        if !remaining.is_empty() && !grace.is_zero() {
            self.deliver(id, &entry, Signal::SIGTERM)?;
            // A stopped process only acts on SIGTERM once continued.
            self.deliver(id, &entry, Signal::SIGCONT)?;
            remaining = self.settle(id, &entry, Instant::now() + grace).await?;
        }
        let kill_deadline = Instant::now() + self.kill_timeout;
        while !remaining.is_empty() {
            if Instant::now() >= kill_deadline {
                tracing::error!(container_id = %id, ?remaining, "processes survived SIGKILL");
                return Err(ContainerError::DestroyIncomplete {
                    id: id.clone(),
                    remaining,
                });
            }
            tracing::debug!(container_id = %id, ?remaining, "sending SIGKILL");
            self.deliver(id, &entry, Signal::SIGKILL)?;
            let next = (Instant::now() + MAX_POLL).min(kill_deadline);
            remaining = self.settle(id, &entry, next).await?;
        }
        let status = (*entry.status.borrow()).unwrap_or(ExitStatus::Unknown);
        let mut state = self.state();
        if state
            .containers
            .get(id)
            .is_some_and(|e| Arc::ptr_eq(e, &entry))
        {
            state.containers.remove(id);
        }
        drop(state);
        tracing::info!(container_id = %id, %status, "destroyed container");
        Ok(status)
    }

    async fn recover_inner(&self, known: Vec<KnownProcess>) -> Result<RecoverReport, RecoverError> {
        let stats = procfs::scan(&self.proc_root).map_err(|source| RecoverError::Procfs {
            path: self.proc_root.clone(),
            source,
        })?;
        let mut report = RecoverReport::default();
        for k in known {
            if self.state().containers.contains_key(&k.container_id) {
                report.adopted.push(k.container_id);
                continue;
            }
            match adopt::classify(&stats, &k) {
                adopt::Verdict::Gone(reason) => {
                    tracing::info!(container_id = %k.container_id, pid = k.pid, ?reason, "not recovering container");
                    report.gone.push((k.container_id, reason));
                }
                adopt::Verdict::Running { start_time } => {
                    let status = adopt::watch(self.proc_root.clone(), k.pid, start_time);
                    self.insert_recovered(&k, status);
                    report.adopted.push(k.container_id);
                }
                adopt::Verdict::LeaderEnded => {
                    let (_tx, status) = watch::channel(Some(ExitStatus::Unknown));
                    self.insert_recovered(&k, status);
                    report.adopted.push(k.container_id);
                }
            }
        }
        Ok(report)
    }

    fn insert_recovered(&self, k: &KnownProcess, status: watch::Receiver<Option<ExitStatus>>) {
        tracing::info!(container_id = %k.container_id, pid = k.pid, "recovered container");
        self.state().containers.insert(
            k.container_id.clone(),
            Arc::new(Entry { pid: k.pid, status }),
        );
    }
}

impl Launcher for PosixLauncher {
    fn launch<'a>(
        &'a self,
        spec: &'a LaunchSpec,
        info: &'a LaunchInfo,
    ) -> BoxFuture<'a, Result<Launched, LaunchError>> {
        Box::pin(self.launch_inner(spec, info))
    }

    fn wait<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>> {
        Box::pin(self.wait_inner(id))
    }

    fn signal<'a>(
        &'a self,
        id: &'a ContainerId,
        signal: Signal,
    ) -> BoxFuture<'a, Result<(), ContainerError>> {
        Box::pin(async move {
            let entry = self.entry(id)?;
            if self.deliver(id, &entry, signal)? {
                Ok(())
            } else {
                Err(ContainerError::NotRunning(id.clone()))
            }
        })
    }

    fn destroy<'a>(
        &'a self,
        id: &'a ContainerId,
        grace: Duration,
    ) -> BoxFuture<'a, Result<ExitStatus, ContainerError>> {
        Box::pin(self.destroy_inner(id, grace))
    }

    fn recover(
        &self,
        known: Vec<KnownProcess>,
    ) -> BoxFuture<'_, Result<RecoverReport, RecoverError>> {
        Box::pin(self.recover_inner(known))
    }

    fn containers(&self) -> Vec<ContainerId> {
        self.state().containers.keys().cloned().collect()
    }
}

/// Holds a container id in `launching` until the launch commits or fails.
struct Reservation<'a> {
    launcher: &'a PosixLauncher,
    id: &'a ContainerId,
}

impl<'a> Reservation<'a> {
    fn new(launcher: &'a PosixLauncher, id: &'a ContainerId) -> Result<Self, LaunchError> {
        let mut state = launcher.state();
        if state.containers.contains_key(id) || !state.launching.insert(id.clone()) {
            return Err(LaunchError::AlreadyExists(id.clone()));
        }
        Ok(Self { launcher, id })
    }

    fn commit(self, entry: Entry) {
        let mut state = self.launcher.state();
        state.containers.insert(self.id.clone(), Arc::new(entry));
        // `drop` removes the id from `launching`.
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.launcher.state().launching.remove(self.id);
    }
}

/// Whether a pid/pgid may be signalled: never 0, init, or the agent's own process, group or
/// session.
pub(crate) fn is_foreign(pid: u32) -> bool {
    foreign_pid(pid).is_some()
}

/// `pid` as a signal target, unless it is 0, init, or the agent's own process, group or
/// session (signalling those would hit the agent).
fn foreign_pid(pid: u32) -> Option<Pid> {
    let raw = i32::try_from(pid).ok()?;
    let own_session = getsid(None).map(Pid::as_raw).unwrap_or(0);
    let foreign =
        raw > 1 && raw != getpid().as_raw() && raw != getpgrp().as_raw() && raw != own_session;
    foreign.then(|| Pid::from_raw(raw))
}

/// Resolves `name` to the identity to switch to. `None` when no switch is needed: the agent
/// already runs as that user and is not root (an unprivileged agent could not call setgroups).
pub(crate) fn resolve_user(name: &str) -> Result<Option<Identity>, LaunchError> {
    let lookup_error = |source| LaunchError::UserLookup {
        user: name.to_owned(),
        source,
    };
    let user = User::from_name(name)
        .map_err(lookup_error)?
        .ok_or_else(|| LaunchError::UnknownUser {
            user: name.to_owned(),
        })?;
    let euid = geteuid();
    if !euid.is_root() && user.uid == euid {
        return Ok(None);
    }
    let c_name = CString::new(name).map_err(|_| SpecError::NulByte { field: "user" })?;
    let groups = getgrouplist(&c_name, user.gid).map_err(lookup_error)?;
    Ok(Some(Identity {
        uid: user.uid,
        gid: user.gid,
        groups,
    }))
}

fn check_sandbox(path: &Path) -> Result<(), LaunchError> {
    let error = |source| LaunchError::WorkingDir {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(error)?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(error(io::Error::from(io::ErrorKind::NotADirectory)))
    }
}

/// Opens (creating or appending to) an output file of the sandbox. The task may have planted
/// links in its sandbox, and the agent is usually root: refuse a symlink as the file itself, a
/// parent directory that resolves outside the sandbox, and anything but a regular file (a FIFO
/// would block the agent).
fn open_output(
    sandbox: &Path,
    relative: &Path,
    identity: Option<&Identity>,
) -> Result<File, LaunchError> {
    let path = sandbox.join(relative);
    let error = |source| LaunchError::OpenOutput {
        path: path.clone(),
        source,
    };
    let unsafe_output = |reason| LaunchError::UnsafeOutput {
        path: path.clone(),
        reason,
    };
    let parent = path.parent().unwrap_or(sandbox);
    let real_parent = parent.canonicalize().map_err(error)?;
    let real_sandbox = sandbox.canonicalize().map_err(error)?;
    if !real_parent.starts_with(&real_sandbox) {
        return Err(unsafe_output("its directory resolves outside the sandbox"));
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => unsafe_output("it is a symbolic link"),
            Some(libc::ENXIO) => unsafe_output("it is not a regular file"),
            _ => error(e),
        })?;
    if !file.metadata().map_err(error)?.is_file() {
        return Err(unsafe_output("it is not a regular file"));
    }
    // O_NONBLOCK only served to not block on a FIFO; the task gets a plain append descriptor.
    fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_APPEND))
        .map_err(|e| error(io::Error::from_raw_os_error(e as i32)))?;
    // The sandbox belongs to the task's user; so do its output files.
    if let Some(identity) = identity {
        std::os::unix::fs::fchown(
            &file,
            Some(identity.uid.as_raw()),
            Some(identity.gid.as_raw()),
        )
        .map_err(error)?;
    }
    Ok(file)
}
