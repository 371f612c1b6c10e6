//! Entering a provisioned rootfs in the forked child ([`RootfsPlan`], prepared in the agent).
//! Only async-signal-safe system calls: unshare, mount, chdir, pivot_root, umount2, chroot.
//!
//! [`RootfsPlan`]: crate::image::RootfsPlan

use std::ffi::CStr;
use std::io;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::errno;
use crate::image::RootfsPlan;

/// Makes the plan's rootfs this process's root. See the `image::rootfs` module docs.
pub(super) fn enter(plan: &RootfsPlan) -> io::Result<()> {
    let plan = &*plan.inner;
    unshare(CloneFlags::CLONE_NEWNS).map_err(errno)?;
    mount(
        None::<&CStr>,
        c"/",
        None::<&CStr>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&CStr>,
    )
    .map_err(errno)?;
    // pivot_root needs the new root to be a mount point.
    mount(
        Some(plan.root.as_c_str()),
        plan.root.as_c_str(),
        None::<&CStr>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&CStr>,
    )
    .map_err(errno)?;
    for (source, target) in &plan.binds {
        mount(
            Some(source.as_c_str()),
            target.as_c_str(),
            None::<&CStr>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&CStr>,
        )
        .map_err(errno)?;
    }
    mount(
        Some(c"proc"),
        plan.proc.as_c_str(),
        Some(c"proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&CStr>,
    )
    .map_err(errno)?;
    chdir(&plan.root)?;
    if pivot_root_here().is_ok() {
        // The old root is stacked on "."; detach it so that the host is unreachable.
        mount(
            None::<&CStr>,
            c".",
            None::<&CStr>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&CStr>,
        )
        .map_err(errno)?;
        umount2(c".", MntFlags::MNT_DETACH).map_err(errno)?;
    } else {
        // E.g. the agent runs from an initramfs, whose root cannot be pivoted.
        chroot_here()?;
    }
    chdir(c"/")?;
    chdir(&plan.workdir)
}

fn chdir(path: &CStr) -> io::Result<()> {
    // SAFETY: chdir reads a valid NUL-terminated string we own.
    if unsafe { libc::chdir(path.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `pivot_root(".", ".")`: the new root is the current directory, the old one is stacked
/// on top of it.
fn pivot_root_here() -> io::Result<()> {
    let dot = c".";
    // SAFETY: pivot_root reads two valid NUL-terminated strings.
    let done = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn chroot_here() -> io::Result<()> {
    // SAFETY: chroot reads a valid NUL-terminated string.
    if unsafe { libc::chroot(c".".as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
