//! Namespaces, set up in the forked child before exec ([`PreExec::PidNamespace`] and
//! [`PreExec::PrivateMounts`](crate::PreExec::PrivateMounts)).
//!
//! Everything here runs between fork and exec of a multi-threaded agent, so only
//! async-signal-safe system calls are made: no allocation, no locks, no destructors that
//! allocate. Processes that never exec (the relay and init) end with `_exit`.
//!
//! A pid namespace makes three processes:
//!
//! ```text
//!   agent ── relay (the launcher's child, outside the namespace)
//!              └── init (PID 1 inside: reaps orphans, reports the program's status)
//!                    └── program (PID 2: finishes the setup and execs)
//! ```
//!
//! The relay blocks all signals, waits for init's report through a pipe and ends the same way
//! as the program (same exit code, or killed by the same signal), so the launcher sees the
//! program's status. SIGKILL to the container's process group kills the relay and init, and
//! the kernel then kills everything in the namespace. Init has no signal handlers, so as a
//! namespace init it ignores every signal but SIGKILL and SIGSTOP from outside.
//!
//! [`PreExec::PidNamespace`]: crate::PreExec::PidNamespace

use std::ffi::CStr;
use std::io;
use std::os::fd::{IntoRawFd, RawFd};

use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::pipe2;

use super::errno;
use crate::launcher::Mount;

/// Real-time signals end at 64 on Linux.
const MAX_SIGNAL: libc::c_int = 64;

/// Unshares the mount namespace, makes all mounts private, and mounts `mounts`.
pub(super) fn private_mounts(mounts: &[Mount]) -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(errno)?;
    mount(
        None::<&CStr>,
        c"/",
        None::<&CStr>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&CStr>,
    )
    .map_err(errno)?;
    for m in mounts {
        mount(
            Some(m.source.as_c_str()),
            m.target.as_c_str(),
            m.fstype.as_deref(),
            m.flags,
            None::<&CStr>,
        )
        .map_err(errno)?;
    }
    Ok(())
}

/// Creates the pid namespace; returns only in the program (PID 2).
pub(super) fn pid_namespace() -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWPID).map_err(errno)?;
    let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(errno)?;
    // From here on the relay and init never return, so their descriptors are raw: no
    // destructor may close them again after close_range.
    let (read, write) = (read.into_raw_fd(), write.into_raw_fd());
    match fork()? {
        0 => {
            close(read);
            init(write)
        }
        init_pid => relay(init_pid, read, write),
    }
}

/// PID 1: forks the program, then reaps until it ends and reports its status.
fn init(report: RawFd) -> io::Result<()> {
    let program = match fork() {
        Ok(0) => {
            // The program: the pipe is close-on-exec; continue the setup.
            close(report);
            return Ok(());
        }
        Ok(pid) => pid,
        // Reported through std's error pipe, which init still holds.
        Err(e) => return Err(e),
    };
    reset_signal_handlers();
    close_others(report);
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes the status into a local int we own.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == program {
            write_all(report, &status.to_ne_bytes());
            exit(0);
        }
        if pid < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // No child left without having seen the program end: cannot happen.
            exit(1);
        }
    }
}

/// Outside the namespace: waits for init's report and ends like the program.
fn relay(init_pid: libc::pid_t, report: RawFd, init_end: RawFd) -> ! {
    close(init_end);
    reset_signal_handlers();
    close_others(report);
    block_all_signals();
    let mut buf = [0u8; 4];
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: reads into the unfilled tail of a local buffer.
        let n = unsafe {
            libc::read(
                report,
                buf[filled..].as_mut_ptr().cast(),
                buf.len() - filled,
            )
        };
        match n {
            n if n > 0 => filled += n as usize,
            0 => break,
            _ if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => break,
        }
    }
    let mut init_status: libc::c_int = 0;
    // SAFETY: waitpid writes the status into a local int we own.
    unsafe { libc::waitpid(init_pid, &mut init_status, 0) };
    let status = if filled == buf.len() {
        libc::c_int::from_ne_bytes(buf)
    } else {
        // Init died without reporting (killed): end like it.
        init_status
    };
    mirror(status)
}

/// Ends this process with the given wait status.
fn mirror(status: libc::c_int) -> ! {
    if libc::WIFEXITED(status) {
        exit(libc::WEXITSTATUS(status));
    }
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        set_default(signal);
        // SAFETY: plain system calls on a local signal set and our own pid.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
        }
        exit(128 + signal);
    }
    exit(1)
}

fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: we are the single thread of a freshly forked child; after fork both sides only
    // make async-signal-safe calls until they exec or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}

fn close(fd: RawFd) {
    // SAFETY: closes a descriptor this process owns and never uses again.
    unsafe { libc::close(fd) };
}

fn exit(code: libc::c_int) -> ! {
    // SAFETY: _exit ends the process without running atexit handlers or destructors, which
    // is what a forked child that does not exec must do.
    unsafe { libc::_exit(code) }
}

fn write_all(fd: RawFd, bytes: &[u8]) {
    let mut done = 0;
    while done < bytes.len() {
        // SAFETY: writes from a borrowed buffer.
        let n = unsafe { libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done) };
        if n > 0 {
            done += n as usize;
        } else if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
}

/// Closes every descriptor from 3 up except `keep` (std's exec-error pipe among them, so
/// that the agent's spawn returns once the program execs).
fn close_others(keep: RawFd) {
    match libc::c_uint::try_from(keep) {
        Ok(keep) if keep >= 3 => {
            if keep > 3 {
                close_range(3, keep - 1);
            }
            close_range(keep + 1, libc::c_uint::MAX);
        }
        _ => close_range(3, libc::c_uint::MAX),
    }
}

fn close_range(first: libc::c_uint, last: libc::c_uint) {
    // SAFETY: close_range only closes descriptors of this process, none of which is used
    // afterwards (the kept ones are outside the range).
    let done = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    if done != 0 {
        // Linux < 5.9: close one by one up to a common limit.
        for fd in first..=last.min(65_535) {
            // SAFETY: as above.
            unsafe { libc::close(fd as libc::c_int) };
        }
    }
}

/// The agent's signal handlers (tokio's) must not run in a process that never execs.
fn reset_signal_handlers() {
    for signal in 1..=MAX_SIGNAL {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            set_default(signal);
        }
    }
}

fn set_default(signal: libc::c_int) {
    // SAFETY: installs the default disposition; the zeroed sigaction is a valid value and
    // invalid signal numbers just fail with EINVAL.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

fn block_all_signals() {
    // SAFETY: fills a local signal set and installs it as this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}
