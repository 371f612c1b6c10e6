//! POSIX resource limits of a container: the `posix/rlimits` isolator (Mesos's
//! `PosixRLimitsIsolatorProcess`) and the plain data it works from.
//!
//! A container's [`LaunchSpec::rlimits`](crate::LaunchSpec::rlimits) come from its
//! `ContainerInfo.rlimit_info` (the agent converts the wire type with [`Rlimit::from_parts`]).
//! Each limit has a soft and a hard value, `soft <= hard`; a limit with neither set is
//! [`RlimitValue::Unlimited`], one with only one of them set is invalid, and so is a resource
//! listed twice. The isolator sets the limits in the child before exec (after the cgroups are
//! joined and before privileges are dropped), so the program and everything it forks inherit
//! them. Raising a hard limit above the agent's own needs privilege (`CAP_SYS_RESOURCE`); an
//! agent that is not root checks this in [`prepare`](crate::Isolator::prepare) and fails the
//! launch with a clear message instead of starting the container with other limits.
//!
//! Without `posix/rlimits` in `--isolation` the limits are still validated with the spec but
//! not applied (as Mesos ignores `rlimit_info` without the isolator).

use std::collections::HashSet;
use std::fmt;

use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
use nix::unistd::geteuid;

use crate::error::IsolatorError;
use crate::isolator::Isolator;
use crate::launcher::{BoxFuture, LaunchInfo, PreExec};
use crate::spec::LaunchSpec;

/// The isolator's name in `--isolation`.
pub const POSIX_RLIMITS: &str = "posix/rlimits";

/// A limited resource (Mesos's `RLimitInfo.RLimit.Type`, without `UNKNOWN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RlimitResource {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl RlimitResource {
    /// Every resource, in the order of Mesos's enum.
    pub const ALL: [RlimitResource; 16] = [
        RlimitResource::As,
        RlimitResource::Core,
        RlimitResource::Cpu,
        RlimitResource::Data,
        RlimitResource::Fsize,
        RlimitResource::Locks,
        RlimitResource::Memlock,
        RlimitResource::Msgqueue,
        RlimitResource::Nice,
        RlimitResource::Nofile,
        RlimitResource::Nproc,
        RlimitResource::Rss,
        RlimitResource::Rtprio,
        RlimitResource::Rttime,
        RlimitResource::Sigpending,
        RlimitResource::Stack,
    ];

    /// Mesos's name of the resource, e.g. `RLMT_NOFILE`.
    pub fn mesos_name(self) -> &'static str {
        match self {
            RlimitResource::As => "RLMT_AS",
            RlimitResource::Core => "RLMT_CORE",
            RlimitResource::Cpu => "RLMT_CPU",
            RlimitResource::Data => "RLMT_DATA",
            RlimitResource::Fsize => "RLMT_FSIZE",
            RlimitResource::Locks => "RLMT_LOCKS",
            RlimitResource::Memlock => "RLMT_MEMLOCK",
            RlimitResource::Msgqueue => "RLMT_MSGQUEUE",
            RlimitResource::Nice => "RLMT_NICE",
            RlimitResource::Nofile => "RLMT_NOFILE",
            RlimitResource::Nproc => "RLMT_NPROC",
            RlimitResource::Rss => "RLMT_RSS",
            RlimitResource::Rtprio => "RLMT_RTPRIO",
            RlimitResource::Rttime => "RLMT_RTTIME",
            RlimitResource::Sigpending => "RLMT_SIGPENDING",
            RlimitResource::Stack => "RLMT_STACK",
        }
    }

    /// The resource named `name` (Mesos's `RLMT_*` names); `None` for `UNKNOWN` and others.
    pub fn from_mesos_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.mesos_name() == name)
    }

    /// The operating system's resource for `setrlimit`.
    pub fn resource(self) -> Resource {
        match self {
            RlimitResource::As => Resource::RLIMIT_AS,
            RlimitResource::Core => Resource::RLIMIT_CORE,
            RlimitResource::Cpu => Resource::RLIMIT_CPU,
            RlimitResource::Data => Resource::RLIMIT_DATA,
            RlimitResource::Fsize => Resource::RLIMIT_FSIZE,
            RlimitResource::Locks => Resource::RLIMIT_LOCKS,
            RlimitResource::Memlock => Resource::RLIMIT_MEMLOCK,
            RlimitResource::Msgqueue => Resource::RLIMIT_MSGQUEUE,
            RlimitResource::Nice => Resource::RLIMIT_NICE,
            RlimitResource::Nofile => Resource::RLIMIT_NOFILE,
            RlimitResource::Nproc => Resource::RLIMIT_NPROC,
            RlimitResource::Rss => Resource::RLIMIT_RSS,
            RlimitResource::Rtprio => Resource::RLIMIT_RTPRIO,
            RlimitResource::Rttime => Resource::RLIMIT_RTTIME,
            RlimitResource::Sigpending => Resource::RLIMIT_SIGPENDING,
            RlimitResource::Stack => Resource::RLIMIT_STACK,
        }
    }
}

impl fmt::Display for RlimitResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mesos_name())
    }
}

/// The limit of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitValue {
    /// No limit (`RLIM_INFINITY` for both soft and hard).
    Unlimited,
    /// A soft (effective) and a hard (ceiling) limit; valid when `soft <= hard`.
    Limited { soft: u64, hard: u64 },
}

impl RlimitValue {
    /// `(soft, hard)` as passed to `setrlimit`.
    pub fn soft_hard(self) -> (u64, u64) {
        match self {
            RlimitValue::Unlimited => (RLIM_INFINITY, RLIM_INFINITY),
            RlimitValue::Limited { soft, hard } => (soft, hard),
        }
    }
}

/// One resource limit of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub value: RlimitValue,
}

/// An invalid resource limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RlimitError {
    #[error("unknown rlimit type {0:?}")]
    UnknownType(String),
    #[error("invalid rlimit {resource}: soft and hard limits must be set together (both unset means unlimited)")]
    HalfSet { resource: RlimitResource },
    #[error("invalid rlimit {resource}: soft limit {soft} is greater than hard limit {hard}")]
    SoftAboveHard {
        resource: RlimitResource,
        soft: u64,
        hard: u64,
    },
    #[error("invalid rlimit {resource}: set more than once")]
    Duplicate { resource: RlimitResource },
    #[error("cannot set the hard limit of {resource} to {requested}: the kernel allows at most {max} (fs.nr_open)")]
    AboveKernelMax {
        resource: RlimitResource,
        requested: u64,
        max: u64,
    },
    #[error("cannot raise the hard limit of {resource} to {requested}: the agent's own hard limit is {current} and raising it needs root")]
    CannotRaise {
        resource: RlimitResource,
        requested: u64,
        current: u64,
    },
}

impl Rlimit {
    /// A limit from the parts of Mesos's `RLimit` message: both unset is unlimited, one
    /// without the other or `soft > hard` is an error.
    pub fn from_parts(
        resource: RlimitResource,
        soft: Option<u64>,
        hard: Option<u64>,
    ) -> Result<Self, RlimitError> {
        let value = match (soft, hard) {
            (None, None) => RlimitValue::Unlimited,
            (Some(soft), Some(hard)) => RlimitValue::Limited { soft, hard },
            _ => return Err(RlimitError::HalfSet { resource }),
        };
        let limit = Self { resource, value };
        limit.validate()?;
        Ok(limit)
    }

    /// Checks `soft <= hard`.
    pub fn validate(&self) -> Result<(), RlimitError> {
        match self.value {
            RlimitValue::Limited { soft, hard } if soft > hard => Err(RlimitError::SoftAboveHard {
                resource: self.resource,
                soft,
                hard,
            }),
            _ => Ok(()),
        }
    }
}

/// Checks every limit and that no resource is listed twice.
pub fn validate_rlimits(limits: &[Rlimit]) -> Result<(), RlimitError> {
    let mut seen = HashSet::new();
    for limit in limits {
        limit.validate()?;
        if !seen.insert(limit.resource) {
            return Err(RlimitError::Duplicate {
                resource: limit.resource,
            });
        }
    }
    Ok(())
}

/// Whether a process with hard limit `current` may set `limit` without privilege: only a
/// hard limit at or below the current one can be set (`RLIM_INFINITY` is the largest value).
pub fn raisable_without_privilege(limit: &Rlimit, current_hard: u64) -> Result<(), RlimitError> {
    let (_, hard) = limit.value.soft_hard();
    if hard > current_hard {
        return Err(RlimitError::CannotRaise {
            resource: limit.resource,
            requested: hard,
            current: current_hard,
        });
    }
    Ok(())
}

/// `RLIMIT_NOFILE` cannot exceed the kernel's `fs.nr_open`, even for root (and so cannot be
/// unlimited).
pub fn within_nr_open(limit: &Rlimit, nr_open: u64) -> Result<(), RlimitError> {
    let (_, hard) = limit.value.soft_hard();
    if limit.resource == RlimitResource::Nofile && hard > nr_open {
        return Err(RlimitError::AboveKernelMax {
            resource: limit.resource,
            requested: hard,
            max: nr_open,
        });
    }
    Ok(())
}

/// The kernel's `fs.nr_open`, if readable.
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The pre-exec actions that set `limits`.
pub fn rlimit_actions(limits: &[Rlimit]) -> Vec<PreExec> {
    limits
        .iter()
        .map(|limit| {
            let (soft, hard) = limit.value.soft_hard();
            PreExec::SetRlimit {
                resource: limit.resource.resource(),
                soft,
                hard,
            }
        })
        .collect()
}

/// The `posix/rlimits` isolator: sets the spec's [`Rlimit`]s in the child before exec.
#[derive(Debug, Clone, Copy, Default)]
pub struct PosixRlimitsIsolator;

impl PosixRlimitsIsolator {
    fn launch_info(spec: &LaunchSpec) -> Result<LaunchInfo, RlimitError> {
        validate_rlimits(&spec.rlimits)?;
        if let Some(max) = nr_open() {
            for limit in &spec.rlimits {
                within_nr_open(limit, max)?;
            }
        }
        if !geteuid().is_root() {
            for limit in &spec.rlimits {
                // If the current limit cannot be read, let setrlimit in the child decide.
                if let Ok((_, current)) = getrlimit(limit.resource.resource()) {
                    raisable_without_privilege(limit, current)?;
                }
            }
        }
        Ok(LaunchInfo {
            env: Vec::new(),
            pre_exec: rlimit_actions(&spec.rlimits),
        })
    }
}

impl Isolator for PosixRlimitsIsolator {
    fn name(&self) -> &'static str {
        POSIX_RLIMITS
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        Box::pin(async move {
            if !spec.rlimits.is_empty() {
                tracing::debug!(container_id = %spec.container_id, rlimits = ?spec.rlimits,
                    "setting rlimits");
            }
            Ok(Self::launch_info(spec)?)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::spec::{Command, ContainerId};

    fn limited(resource: RlimitResource, soft: u64, hard: u64) -> Rlimit {
        Rlimit {
            resource,
            value: RlimitValue::Limited { soft, hard },
        }
    }

    #[test]
    fn names_round_trip() {
        for r in RlimitResource::ALL {
            assert_eq!(RlimitResource::from_mesos_name(r.mesos_name()), Some(r));
        }
        assert_eq!(RlimitResource::from_mesos_name("UNKNOWN"), None);
        assert_eq!(RlimitResource::from_mesos_name("rlmt_nofile"), None);
        assert_eq!(RlimitResource::Nofile.resource(), Resource::RLIMIT_NOFILE);
    }

    #[test]
    fn from_parts() {
        let nofile = RlimitResource::Nofile;
        assert_eq!(
            Rlimit::from_parts(nofile, None, None).unwrap().value,
            RlimitValue::Unlimited
        );
        assert_eq!(
            Rlimit::from_parts(nofile, Some(10), Some(20)).unwrap(),
            limited(nofile, 10, 20)
        );
        assert_eq!(
            Rlimit::from_parts(nofile, Some(10), None),
            Err(RlimitError::HalfSet { resource: nofile })
        );
        assert_eq!(
            Rlimit::from_parts(nofile, None, Some(10)),
            Err(RlimitError::HalfSet { resource: nofile })
        );
        let err = Rlimit::from_parts(nofile, Some(30), Some(20)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid rlimit RLMT_NOFILE: soft limit 30 is greater than hard limit 20"
        );
    }

    #[test]
    fn validation_rejects_duplicates_and_inverted_limits() {
        let core = RlimitResource::Core;
        assert!(validate_rlimits(&[]).is_ok());
        assert!(
            validate_rlimits(&[limited(core, 0, 0), limited(RlimitResource::Cpu, 1, 2)]).is_ok()
        );
        assert_eq!(
            validate_rlimits(&[limited(core, 0, 0), limited(core, 1, 1)]),
            Err(RlimitError::Duplicate { resource: core })
        );
        assert!(matches!(
            validate_rlimits(&[limited(core, 2, 1)]),
            Err(RlimitError::SoftAboveHard { .. })
        ));
    }

    #[test]
    fn raising_needs_privilege() {
        let l = limited(RlimitResource::Nofile, 10, 100);
        assert!(raisable_without_privilege(&l, 100).is_ok());
        assert!(raisable_without_privilege(&l, RLIM_INFINITY).is_ok());
        assert!(matches!(
            raisable_without_privilege(&l, 50),
            Err(RlimitError::CannotRaise {
                requested: 100,
                current: 50,
                ..
            })
        ));
        let unlimited = Rlimit {
            resource: RlimitResource::Core,
            value: RlimitValue::Unlimited,
        };
        assert!(raisable_without_privilege(&unlimited, 1 << 20).is_err());
        assert!(raisable_without_privilege(&unlimited, RLIM_INFINITY).is_ok());
    }

    #[test]
    fn nofile_is_bounded_by_nr_open() {
        let l = limited(RlimitResource::Nofile, 10, 2000);
        assert!(within_nr_open(&l, 2000).is_ok());
        let err = within_nr_open(&l, 1999).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot set the hard limit of RLMT_NOFILE to 2000: the kernel allows at most 1999 \
             (fs.nr_open)"
        );
        let core = limited(RlimitResource::Core, 10, 2000);
        assert!(within_nr_open(&core, 1).is_ok());
    }

    #[test]
    fn actions_set_soft_and_hard() {
        let actions = rlimit_actions(&[
            limited(RlimitResource::Nofile, 123, 456),
            Rlimit {
                resource: RlimitResource::Core,
                value: RlimitValue::Unlimited,
            },
        ]);
        assert_eq!(actions.len(), 2);
        assert!(matches!(
            actions[0],
            PreExec::SetRlimit {
                resource: Resource::RLIMIT_NOFILE,
                soft: 123,
                hard: 456
            }
        ));
        assert!(matches!(
            actions[1],
            PreExec::SetRlimit {
                resource: Resource::RLIMIT_CORE,
                soft: RLIM_INFINITY,
                hard: RLIM_INFINITY
            }
        ));
    }

    #[tokio::test]
    async fn prepare_rejects_invalid_limits() {
        let mut spec = LaunchSpec::new(
            ContainerId::new("c1").unwrap(),
            Command::Shell("true".into()),
            "/tmp",
        );
        let isolator = PosixRlimitsIsolator;
        assert!(isolator.prepare(&spec).await.unwrap().pre_exec.is_empty());
        spec.rlimits = vec![limited(RlimitResource::Nofile, 64, 64)];
        assert_eq!(isolator.prepare(&spec).await.unwrap().pre_exec.len(), 1);
        spec.rlimits = vec![limited(RlimitResource::Nofile, 65, 64)];
        let err = isolator.prepare(&spec).await.unwrap_err();
        assert!(err.to_string().contains("greater than hard limit"), "{err}");
    }
}
