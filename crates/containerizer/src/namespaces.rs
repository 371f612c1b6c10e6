//! Namespace isolators (root only):
//!
//! * `namespaces/pid` ([`PidNamespaceIsolator`]): the task runs as PID 2 of its own pid
//!   namespace under a reaping init, in a private mount namespace with its own `/proc`; it
//!   sees only its own processes, orphans are reaped inside, and when the task ends everything
//!   left in the namespace is killed by the kernel. See [`PreExec::PidNamespace`].
//! * `filesystem/tmp` ([`PrivateTmpIsolator`]): a private mount namespace where `/tmp` is the
//!   sandbox's `tmp` directory (as Mesos's `filesystem/linux` does), so tasks do not share
//!   the host's `/tmp` and their temporary files go away with the sandbox.
//!
//! With cgroup isolators, list these after them: the cgroups are joined before the namespace
//! is made, so init and the relay are in the container's cgroups too.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::error::IsolatorError;
use crate::isolator::Isolator;
use crate::launcher::{BoxFuture, LaunchInfo, Mount, PreExec};
use crate::spec::LaunchSpec;

/// `namespaces/pid`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PidNamespaceIsolator;

impl Isolator for PidNamespaceIsolator {
    fn name(&self) -> &'static str {
        "namespaces/pid"
    }

    fn prepare<'a>(
        &'a self,
        _spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        Box::pin(async {
            Ok(LaunchInfo {
                env: Vec::new(),
                // /proc must be mounted from inside the new pid namespace, so after it.
                pre_exec: vec![
                    PreExec::PidNamespace,
                    PreExec::PrivateMounts {
                        mounts: vec![Mount::proc()],
                    },
                ],
            })
        })
    }
}

/// `filesystem/tmp`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrivateTmpIsolator;

/// The sandbox's directory mounted on `/tmp`.
pub const SANDBOX_TMP: &str = "tmp";

impl Isolator for PrivateTmpIsolator {
    fn name(&self) -> &'static str {
        "filesystem/tmp"
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        Box::pin(async move {
            let tmp = spec.working_dir.join(SANDBOX_TMP);
            sandbox_tmp(&tmp).map_err(|source| IsolatorError::Io {
                path: tmp.clone(),
                source,
            })?;
            let mount = Mount::bind(&tmp, Path::new("/tmp")).map_err(|_| IsolatorError::Io {
                path: tmp.clone(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            })?;
            Ok(LaunchInfo {
                env: Vec::new(),
                pre_exec: vec![PreExec::PrivateMounts {
                    mounts: vec![mount],
                }],
            })
        })
    }
}

/// Creates `<sandbox>/tmp` with `/tmp`'s mode (1777, sticky), refusing anything but a real
/// directory: the task owns its sandbox and might have planted a symbolic link there, which
/// the bind mount (done as root) would follow.
fn sandbox_tmp(tmp: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(0o1777).create(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::symlink_metadata(tmp)?;
    if !meta.file_type().is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the sandbox's tmp is not a directory",
        ));
    }
    // The umask trimmed the mode at creation.
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o1777))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Command, ContainerId};

    #[tokio::test]
    async fn prepares_actions_and_sandbox_tmp() {
        let sandbox = tempfile::tempdir().unwrap();
        let spec = LaunchSpec::new(
            ContainerId::new("c").unwrap(),
            Command::Shell("true".into()),
            sandbox.path(),
        );
        let info = PidNamespaceIsolator.prepare(&spec).await.unwrap();
        assert!(matches!(
            info.pre_exec.as_slice(),
            [PreExec::PidNamespace, PreExec::PrivateMounts { mounts }] if mounts == &[Mount::proc()]
        ));

        let info = PrivateTmpIsolator.prepare(&spec).await.unwrap();
        let tmp = sandbox.path().join("tmp");
        let meta = fs::metadata(&tmp).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
        assert!(matches!(
            info.pre_exec.as_slice(),
            [PreExec::PrivateMounts { mounts }] if mounts[0].target() == c"/tmp"
        ));
        // Again (a relaunch in the same sandbox) is fine; a planted link is not.
        PrivateTmpIsolator.prepare(&spec).await.unwrap();
        fs::remove_dir(&tmp).unwrap();
        std::os::unix::fs::symlink("/etc", &tmp).unwrap();
        assert!(PrivateTmpIsolator.prepare(&spec).await.is_err());
    }
}
