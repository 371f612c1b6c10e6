//! `cgroups/cpu`: CPU share and cap from `cpus`, CPU time and throttling statistics.
//!
//! * Share: v1 `cpu.shares` = 1024 per cpu, at least 2 (Mesos's rule). v2 `cpu.weight`
//!   (1..=10000, default 100) = 100 per cpu: a 1-cpu container weighs as much as a default
//!   cgroup, as a 1024-share container does on v1. (This keeps ratios between containers and
//!   towards other cgroups; the OCI `shares → weight` formula, `1 + (shares - 2) * 9999 /
//!   262142`, would make a 1-cpu container weigh 39 against systemd services' 100.)
//! * Cap (with `enable_cfs`, Mesos's `--cgroups_enable_cfs`): quota = `cpus` × 100 ms per
//!   100 ms period, at least 1 ms; v1 `cpu.cfs_period_us` / `cpu.cfs_quota_us`, v2 `cpu.max`.

use nix::unistd::{sysconf, SysconfVar};

use super::isolator::Subsystem;
use super::usage::{self, FlatKeyed};
use super::{fs, CgroupVersion, ContainerCgroup, Controller};
use crate::error::IsolatorError;
use crate::spec::ResourceLimits;
use crate::usage::ResourceUsage;

pub(crate) const SHARES_PER_CPU: f64 = 1024.0;
pub(crate) const MIN_SHARES: u64 = 2;
/// The kernel's largest `cpu.shares`.
pub(crate) const MAX_SHARES: u64 = 262_144;
pub(crate) const WEIGHT_PER_CPU: f64 = 100.0;
pub(crate) const CFS_PERIOD_US: u64 = 100_000;
pub(crate) const MIN_CFS_QUOTA_US: u64 = 1_000;

/// v1 `cpu.shares` for `cpus`.
pub(crate) fn shares(cpus: f64) -> u64 {
    ((cpus * SHARES_PER_CPU) as u64).clamp(MIN_SHARES, MAX_SHARES)
}

/// v2 `cpu.weight` for `cpus`.
pub(crate) fn weight(cpus: f64) -> u64 {
    ((cpus * WEIGHT_PER_CPU).round() as u64).clamp(1, 10_000)
}

/// CFS quota in µs per [`CFS_PERIOD_US`] for `cpus`.
pub(crate) fn quota_us(cpus: f64) -> u64 {
    ((cpus * CFS_PERIOD_US as f64) as u64).max(MIN_CFS_QUOTA_US)
}

#[derive(Debug)]
pub(crate) struct Cpu {
    enable_cfs: bool,
    /// `USER_HZ`, the unit of v1 `cpuacct.stat`.
    clock_ticks: u64,
}

impl Cpu {
    pub(crate) fn new(enable_cfs: bool) -> Self {
        let clock_ticks = match sysconf(SysconfVar::CLK_TCK) {
            Ok(Some(n)) if n > 0 => u64::try_from(n).unwrap_or(100),
            _ => 100,
        };
        Self {
            enable_cfs,
            clock_ticks,
        }
    }

    fn usage_v1(&self, cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError> {
        let mut usage = ResourceUsage::default();
        if let Some(dir) = cg.dir(Controller::CpuAcct) {
            if let Some(stat) = FlatKeyed::read(&dir.join("cpuacct.stat"))? {
                usage.cpu_user_secs = stat.get("user").map(|t| usage::secs(t, self.clock_ticks));
                usage.cpu_system_secs =
                    stat.get("system").map(|t| usage::secs(t, self.clock_ticks));
            }
        }
        if let Some(dir) = cg.dir(Controller::Cpu) {
            if let Some(stat) = FlatKeyed::read(&dir.join("cpu.stat"))? {
                usage.cpus_nr_periods = stat.get("nr_periods");
                usage.cpus_nr_throttled = stat.get("nr_throttled");
                usage.cpus_throttled_time_secs = stat
                    .get("throttled_time")
                    .map(|ns| usage::secs(ns, 1_000_000_000));
            }
            let quota = fs::read_opt(&dir.join("cpu.cfs_quota_us"))?
                .and_then(|q| q.trim().parse::<i64>().ok())
                .and_then(|q| u64::try_from(q).ok());
            let period = fs::read_u64(&dir.join("cpu.cfs_period_us"))?;
            usage.cpus_limit = match (quota, period) {
                (Some(quota), Some(period)) => Some(quota as f64 / period.max(1) as f64),
                _ => fs::read_u64(&dir.join("cpu.shares"))?.map(|s| s as f64 / SHARES_PER_CPU),
            };
        }
        Ok(usage)
    }

    fn usage_v2(cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError> {
        let mut usage = ResourceUsage::default();
        // cpu.stat's usage part is in the v2 core, so CpuAcct has a dir even without `cpu`.
        if let Some(dir) = cg.dir(Controller::CpuAcct) {
            if let Some(stat) = FlatKeyed::read(&dir.join("cpu.stat"))? {
                let secs = |key| stat.get(key).map(|us| usage::secs(us, 1_000_000));
                usage.cpu_user_secs = secs("user_usec");
                usage.cpu_system_secs = secs("system_usec");
                usage.cpus_nr_periods = stat.get("nr_periods");
                usage.cpus_nr_throttled = stat.get("nr_throttled");
                usage.cpus_throttled_time_secs = secs("throttled_usec");
            }
        }
        if let Some(dir) = cg.dir(Controller::Cpu) {
            let max = fs::read_opt(&dir.join("cpu.max"))?.and_then(|t| usage::parse_cpu_max(&t));
            usage.cpus_limit = match max {
                Some((Some(quota), period)) => Some(quota as f64 / period.max(1) as f64),
                _ => fs::read_u64(&dir.join("cpu.weight"))?.map(|w| w as f64 / WEIGHT_PER_CPU),
            };
        }
        Ok(usage)
    }
}

impl Subsystem for Cpu {
    fn name(&self) -> &'static str {
        "cgroups/cpu"
    }

    fn controllers(&self) -> &'static [Controller] {
        &[Controller::Cpu, Controller::CpuAcct]
    }

    fn apply(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError> {
        let (Some(cpus), Some(dir)) = (limits.cpus, cg.dir(Controller::Cpu)) else {
            return Ok(());
        };
        match cg.version {
            CgroupVersion::V1 => {
                fs::write(&dir.join("cpu.shares"), &shares(cpus).to_string())?;
                if self.enable_cfs {
                    fs::write(&dir.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
                    fs::write(&dir.join("cpu.cfs_quota_us"), &quota_us(cpus).to_string())?;
                }
            }
            CgroupVersion::V2 => {
                fs::write(&dir.join("cpu.weight"), &weight(cpus).to_string())?;
                if self.enable_cfs {
                    let max = format!("{} {CFS_PERIOD_US}", quota_us(cpus));
                    fs::write(&dir.join("cpu.max"), &max)?;
                }
            }
        }
        tracing::debug!(container_id = %cg.id, cpus, cfs = self.enable_cfs, "applied cpu limits");
        Ok(())
    }

    /// New share and cap; no `cpus` (a task with an infinite limit joined) lifts the cap and
    /// keeps the share.
    fn update(&self, cg: &ContainerCgroup, limits: &ResourceLimits) -> Result<(), IsolatorError> {
        if limits.cpus.is_some() {
            return self.apply(cg, limits);
        }
        let Some(dir) = cg.dir(Controller::Cpu).filter(|_| self.enable_cfs) else {
            return Ok(());
        };
        match cg.version {
            CgroupVersion::V1 => fs::write(&dir.join("cpu.cfs_quota_us"), "-1")?,
            CgroupVersion::V2 => fs::write(&dir.join("cpu.max"), &format!("max {CFS_PERIOD_US}"))?,
        }
        tracing::debug!(container_id = %cg.id, "lifted the cpu cap");
        Ok(())
    }

    fn usage(&self, cg: &ContainerCgroup) -> Result<ResourceUsage, IsolatorError> {
        match cg.version {
            CgroupVersion::V1 => self.usage_v1(cg),
            CgroupVersion::V2 => Self::usage_v2(cg),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs as stdfs;
    use std::path::Path;

    use super::*;
    use crate::cgroups::{V1Backend, V2Backend};
    use crate::spec::ContainerId;

    fn files(dir: &Path, files: &[(&str, &str)]) {
        stdfs::create_dir_all(dir).unwrap();
        for (name, content) in files {
            stdfs::write(dir.join(name), content).unwrap();
        }
    }

    fn read(dir: &Path, name: &str) -> String {
        stdfs::read_to_string(dir.join(name)).unwrap()
    }

    fn limits(cpus: f64) -> ResourceLimits {
        ResourceLimits {
            cpus: Some(cpus),
            ..ResourceLimits::default()
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(shares(1.0), 1024);
        assert_eq!(shares(0.5), 512);
        assert_eq!(shares(0.001), MIN_SHARES);
        assert_eq!(shares(1e9), MAX_SHARES);
        assert_eq!(weight(1.0), 100);
        assert_eq!(weight(0.25), 25);
        assert_eq!(weight(0.001), 1);
        assert_eq!(weight(1e6), 10_000);
        assert_eq!(quota_us(1.5), 150_000);
        assert_eq!(quota_us(0.001), MIN_CFS_QUOTA_US);
    }

    #[test]
    fn v1_limits_and_usage() {
        let tmp = tempfile::tempdir().unwrap();
        let cpu_root = tmp.path().join("cpu");
        let acct_root = tmp.path().join("cpuacct");
        let backend = V1Backend::new([
            (Controller::Cpu, cpu_root.clone()),
            (Controller::CpuAcct, acct_root.clone()),
        ]);
        let id = ContainerId::new("c").unwrap();
        let cg = ContainerCgroup::new(&backend, &id, Cpu::new(true).controllers());
        let cpu_dir = cpu_root.join("c");
        files(
            &cpu_dir,
            &[
                ("cpu.shares", "1024\n"),
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.cfs_quota_us", "-1\n"),
                (
                    "cpu.stat",
                    "nr_periods 40\nnr_throttled 7\nthrottled_time 2500000000\n",
                ),
            ],
        );
        files(
            &acct_root.join("c"),
            &[("cpuacct.stat", "user 250\nsystem 50\n")],
        );

        Cpu::new(false).apply(&cg, &limits(0.5)).unwrap();
        assert_eq!(read(&cpu_dir, "cpu.shares"), "512");
        assert_eq!(read(&cpu_dir, "cpu.cfs_quota_us"), "-1\n", "CFS disabled");
        let usage = Cpu::new(false).usage(&cg).unwrap();
        assert_eq!(usage.cpus_limit, Some(0.5), "from shares without a quota");

        let cpu = Cpu {
            enable_cfs: true,
            clock_ticks: 100,
        };
        cpu.apply(&cg, &limits(1.5)).unwrap();
        assert_eq!(read(&cpu_dir, "cpu.shares"), "1536");
        assert_eq!(read(&cpu_dir, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu_dir, "cpu.cfs_quota_us"), "150000");
        let usage = cpu.usage(&cg).unwrap();
        assert_eq!(usage.cpu_user_secs, Some(2.5));
        assert_eq!(usage.cpu_system_secs, Some(0.5));
        assert_eq!(usage.cpus_nr_periods, Some(40));
        assert_eq!(usage.cpus_nr_throttled, Some(7));
        assert_eq!(usage.cpus_throttled_time_secs, Some(2.5));
        assert_eq!(usage.cpus_limit, Some(1.5));

        // No cpus: nothing written.
        cpu.apply(&cg, &ResourceLimits::default()).unwrap();
        assert_eq!(read(&cpu_dir, "cpu.shares"), "1536");
    }

    #[test]
    fn v2_limits_and_usage() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = V2Backend::new(tmp.path(), [Controller::Cpu]);
        let id = ContainerId::new("c").unwrap();
        let cpu = Cpu::new(true);
        let cg = ContainerCgroup::new(&backend, &id, cpu.controllers());
        let dir = tmp.path().join("c");
        files(
            &dir,
            &[
                ("cpu.weight", "100\n"),
                ("cpu.max", "max 100000\n"),
                (
                    "cpu.stat",
                    "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n\
                     nr_periods 10\nnr_throttled 2\nthrottled_usec 500000\n",
                ),
            ],
        );
        assert_eq!(
            cpu.usage(&cg).unwrap().cpus_limit,
            Some(1.0),
            "from the weight"
        );
        cpu.apply(&cg, &limits(0.25)).unwrap();
        assert_eq!(read(&dir, "cpu.weight"), "25");
        assert_eq!(read(&dir, "cpu.max"), "25000 100000");
        let usage = cpu.usage(&cg).unwrap();
        assert_eq!(usage.cpu_user_secs, Some(2.0));
        assert_eq!(usage.cpu_system_secs, Some(1.0));
        assert_eq!(usage.cpus_nr_throttled, Some(2));
        assert_eq!(usage.cpus_throttled_time_secs, Some(0.5));
        assert_eq!(usage.cpus_limit, Some(0.25));

        // Without the cpu controller: usage from the core cpu.stat, no limit to write.
        let bare = V2Backend::new(tmp.path(), []);
        let cg = ContainerCgroup::new(&bare, &id, cpu.controllers());
        cpu.apply(&cg, &limits(4.0)).unwrap();
        assert_eq!(read(&dir, "cpu.weight"), "25");
        let usage = cpu.usage(&cg).unwrap();
        assert_eq!(usage.cpu_user_secs, Some(2.0));
        assert_eq!(usage.cpus_limit, None);
    }
}
