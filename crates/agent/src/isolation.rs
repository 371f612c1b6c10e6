//! The agent's isolators, from `--isolation`, `--cgroups_enable_cfs`, `--cgroups_root` and
//! `--default_container_pids_limit`, built for the host's cgroup setup
//! ([`CgroupMode::from_host`]).
//!
//! The isolators are shared: the containerizer owns one handle of each, the
//! [`LimitationProbe`] another, so that the actor can ask whether a container is at a limit
//! when its executor reports a task failure (the OOM killer's victim is usually reported by
//! the executor before the containerizer's watcher has noticed the OOM).
//!
//! On a host without cgroups the `cgroups/*` isolators fall back to `posix/usage` (usage is
//! reported, nothing is enforced) with a warning; an unknown isolator name is refused when the
//! flags are parsed, and cgroups or namespaces that exist but cannot be used (e.g. the agent
//! is not root) are a start-up error.

use std::fmt;
use std::sync::Arc;

use corral_containerizer::{
    build_isolators_with, CgroupMode, CgroupsConfig, ContainerId, Isolator, IsolatorKind,
    Limitation,
};

use crate::error::AgentError;
use crate::flags::AgentFlags;

/// Asks the isolators whether a container has hit a limit, now.
#[derive(Clone, Default)]
pub struct LimitationProbe {
    isolators: Vec<Arc<dyn Isolator>>,
}

impl fmt::Debug for LimitationProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.isolators.iter().map(|i| i.name()).collect();
        f.debug_struct("LimitationProbe")
            .field("isolators", &names)
            .finish()
    }
}

impl LimitationProbe {
    /// A probe over shared isolators.
    pub fn new(isolators: Vec<Arc<dyn Isolator>>) -> Self {
        Self { isolators }
    }

    /// The limit the container has hit, if an isolator sees one.
    pub fn check(&self, container_id: &str) -> Option<Limitation> {
        if self.isolators.is_empty() {
            return None;
        }
        let id = ContainerId::new(container_id).ok()?;
        self.isolators
            .iter()
            .find_map(|isolator| isolator.check_limitation(&id))
    }
}

/// The isolators for the containerizer, and a probe sharing them.
pub struct Isolators {
    /// For [`Containerizer::new`](corral_containerizer::Containerizer::new).
    pub isolators: Vec<Box<dyn Isolator>>,
    /// For the actor.
    pub probe: LimitationProbe,
}

/// The cgroup settings of the flags.
pub fn cgroups_config(flags: &AgentFlags) -> CgroupsConfig {
    CgroupsConfig {
        root_name: flags.cgroups_root.clone(),
        enable_cfs: flags.cgroups_enable_cfs,
        default_pids_max: flags.default_container_pids_limit,
        ..CgroupsConfig::default()
    }
}

/// Builds the isolators of `--isolation` for this host.
pub fn build(flags: &AgentFlags) -> Result<Isolators, AgentError> {
    let wanted = flags.isolation.kinds();
    let wants_cgroups = wanted.iter().any(|k| is_cgroups(*k));
    let mode = match CgroupMode::from_host() {
        Ok(mode) => mode,
        Err(error) => {
            if wants_cgroups {
                tracing::warn!(%error, "cannot read this host's cgroup setup; assuming it has no cgroups");
            }
            CgroupMode::None
        }
    };
    let config = cgroups_config(flags);
    let mut built =
        build_isolators_with(&flags.isolation.to_string(), &mode, &config).map_err(|error| {
            AgentError::Flag {
                flag: "isolation",
                reason: format!("'{}': {error}", flags.isolation),
            }
        })?;
    // gpu/nvidia and docker/runtime (images) last: the rootfs is entered after everything.
    built.extend(crate::image::build(flags)?);
    built.push(Box::new(crate::container_logger::ContainerLogger::new(
        &flags.sandbox,
    )));
    if wanted.contains(&IsolatorKind::DiskDu) {
        built.push(Box::new(crate::disk::DiskIsolator::new(
            crate::disk::DiskConfig {
                interval: flags.sandbox.container_disk_watch_interval,
                enforce: flags.sandbox.enforce_container_disk_quota,
            },
        )));
    }
    let names: Vec<&str> = built.iter().map(|i| i.name()).collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|k| is_cgroups(**k) && !names.contains(&k.name()))
        .map(|k| k.name())
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            cgroups = mode.name(),
            ?missing,
            using = ?names,
            "isolators unavailable on this host: their limits are NOT enforced (usage is still reported)"
        );
    }
    tracing::info!(
        isolation = %flags.isolation,
        isolators = ?names,
        cgroups = mode.name(),
        cgroups_root = %config.root_name,
        enable_cfs = config.enable_cfs,
        pids_limit = config.default_pids_max,
        "isolators ready"
    );
    let shared: Vec<Arc<dyn Isolator>> = built.into_iter().map(Arc::from).collect();
    let isolators = shared
        .iter()
        .map(|isolator| Box::new(Arc::clone(isolator)) as Box<dyn Isolator>)
        .collect();
    Ok(Isolators {
        isolators,
        probe: LimitationProbe::new(shared),
    })
}

fn is_cgroups(kind: IsolatorKind) -> bool {
    kind.name().starts_with("cgroups/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_containerizer::LimitationKind;

    /// Reports a memory limitation for container `oom` only.
    struct AtLimit;

    impl Isolator for AtLimit {
        fn name(&self) -> &'static str {
            "test/at-limit"
        }

        fn check_limitation(&self, id: &ContainerId) -> Option<Limitation> {
            (id.as_str() == "oom").then(|| Limitation {
                kind: LimitationKind::Memory,
                message: "Memory limit exceeded".into(),
            })
        }
    }

    #[test]
    fn default_isolation_builds_posix_usage() {
        let flags = AgentFlags::try_parse_from(["agent", "--master=m:5050"]).unwrap();
        let built = build(&flags).unwrap();
        let names: Vec<&str> = built.isolators.iter().map(|i| i.name()).collect();
        assert_eq!(names, vec!["posix/usage", "logger/logrotate"]);
        assert!(built.probe.check("some-container").is_none());
        let flags = AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--isolation=posix/cpu,disk/du",
        ])
        .unwrap();
        let built = build(&flags).unwrap();
        let names: Vec<&str> = built.isolators.iter().map(|i| i.name()).collect();
        assert_eq!(names, vec!["posix/usage", "logger/logrotate", "disk/du"]);
    }

    #[test]
    fn probe_asks_the_shared_isolators() {
        let probe = LimitationProbe::default();
        assert!(probe.check("oom").is_none());
        let probe = LimitationProbe::new(vec![Arc::new(AtLimit)]);
        assert_eq!(
            probe.check("oom").map(|l| l.kind),
            Some(LimitationKind::Memory)
        );
        assert!(probe.check("c1").is_none());
        assert!(probe.check("not a valid id").is_none());
    }

    #[test]
    fn config_follows_the_flags() {
        let flags = AgentFlags::try_parse_from([
            "agent",
            "--master=m:5050",
            "--cgroups_root=x/y",
            "--cgroups_enable_cfs=false",
            "--default_container_pids_limit=77",
        ])
        .unwrap();
        let config = cgroups_config(&flags);
        assert_eq!(config.root_name, "x/y");
        assert!(!config.enable_cfs);
        assert_eq!(config.default_pids_max, 77);
    }
}
