//! The crate's only `unsafe` code: what runs in the child between fork and exec (including
//! the namespace setup in [`ns`] and entering an image's rootfs in [`rootfs`]), and
//! `pidfd_open`. Keep this module small; everything here
//! must be audited by hand.
#![allow(unsafe_code)]

mod ns;
mod rootfs;

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::resource::setrlimit;
use nix::unistd::{setgid, setgroups, setsid, setuid, write, Gid, Uid};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::image::RootfsPlan;
use crate::launcher::PreExec;

/// The identity to switch to in the child.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups, resolved in the agent (initgroups reads files and allocates, which
    /// is not allowed after fork).
    pub groups: Vec<Gid>,
}

/// Everything the child does before exec, prepared in the agent so that [`ChildSetup::run`]
/// only makes system calls: no allocation, no locks, no file parsing.
#[derive(Debug, Clone)]
pub(crate) struct ChildSetup {
    pub actions: Vec<PreExec>,
    pub identity: Option<Identity>,
}

impl ChildSetup {
    /// Runs in the forked child. Order: new session (so the container is its own process
    /// group and has no controlling terminal), isolator actions (still privileged, e.g. join a
    /// cgroup), then drop privileges: groups, gid, uid last.
    fn run(&self) -> io::Result<()> {
        setsid().map_err(errno)?;
        for action in &self.actions {
            match action {
                PreExec::SetRlimit {
                    resource,
                    soft,
                    hard,
                } => setrlimit(*resource, *soft, *hard).map_err(errno)?,
                PreExec::WriteFd { fd, bytes } => {
                    let written = write(fd.as_ref(), bytes).map_err(errno)?;
                    if written != bytes.len() {
                        return Err(errno(Errno::EIO));
                    }
                }
                // Returns only in the program, PID 2 of the new namespace.
                PreExec::PidNamespace => ns::pid_namespace()?,
                PreExec::PrivateMounts { mounts } => ns::private_mounts(mounts)?,
                PreExec::EnterRootfs(plan) => rootfs::enter(plan)?,
            }
        }
        if let Some(identity) = &self.identity {
            identity.switch()?;
        }
        Ok(())
    }
}

impl Identity {
    /// Drops privileges: supplementary groups, gid, uid last.
    fn switch(&self) -> io::Result<()> {
        setgroups(&self.groups).map_err(errno)?;
        setgid(self.gid).map_err(errno)?;
        setuid(self.uid).map_err(errno)
    }
}

/// Makes a `std` command enter `plan`'s rootfs before exec, then switch to `identity`
/// (used by the command executor, whose tasks run in an image's rootfs).
pub(crate) fn install_rootfs(
    command: &mut std::process::Command,
    plan: RootfsPlan,
    identity: Option<Identity>,
) {
    use std::os::unix::process::CommandExt;
    // SAFETY: as in `install`: the closure only reads data prepared before the fork and makes
    // system calls (unshare, mount, chdir, pivot_root, umount2, chroot, setgroups, setgid,
    // setuid); errors are built without allocating.
    unsafe {
        command.pre_exec(move || {
            rootfs::enter(&plan)?;
            if let Some(identity) = &identity {
                identity.switch()?;
            }
            Ok(())
        });
    }
}

/// `io::Error::from_raw_os_error` does not allocate, unlike most other `io::Error`s.
fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Installs `setup` to run in the child of `command`.
pub(crate) fn install(command: &mut tokio::process::Command, setup: ChildSetup) {
    // SAFETY: the closure runs in the child after fork, where only async-signal-safe functions
    // may be called. `ChildSetup::run` only reads data prepared before the fork and calls
    // setsid, setrlimit, write, setgroups, setgid and setuid, which are thin wrappers over
    // system calls, and the namespace setup of `ns` (unshare, mount, pipe2, fork, waitpid,
    // read, write, close, sigaction, sigprocmask, kill, _exit); errors are built with
    // `from_raw_os_error` or `last_os_error`, which do not allocate.
    unsafe {
        command.pre_exec(move || setup.run());
    }
}

/// `pidfd_open(pid, 0)`: a descriptor that becomes readable when the process terminates,
/// also for processes that are not our children.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: pidfd_open takes a pid and flags by value and touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: on success the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Registers a pidfd with the tokio reactor for readability (which means "terminated").
pub(crate) fn register_pidfd(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: `OwnedFd` owns a valid open descriptor that stays open, and keeps the same
    // number, for as long as the `AsyncFd` owns it.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}
