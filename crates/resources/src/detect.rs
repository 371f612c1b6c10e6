//! Default agent resources from the machine's totals.
//!
//! The arithmetic ([`detect_defaults`], [`fill_defaults`]) is pure and takes
//! injected totals; reading the host is isolated in [`read_machine`].

use std::io;
use std::path::{Path, PathBuf};

use crate::ranges::{Range, Ranges};
use crate::resource::Resource;
use crate::resources::Resources;
use crate::scalar::Scalar;

/// The default `ports` range of an agent.
pub const DEFAULT_PORTS: (u64, u64) = (31000, 32000);

/// What the agent found on its machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineTotals {
    /// Usable CPU cores.
    pub cpus: u32,
    /// Total memory in MB.
    pub mem_mb: u64,
    /// Total size of the file system holding the work directory, in MB.
    pub disk_mb: u64,
}

/// A source of [`MachineTotals`]: the host ([`HostMachine`]) or a fixed value in tests.
pub trait MachineProbe {
    /// Reads the totals.
    fn totals(&self) -> io::Result<MachineTotals>;
}

/// Fixed totals (for tests and simulations).
impl MachineProbe for MachineTotals {
    fn totals(&self) -> io::Result<MachineTotals> {
        Ok(*self)
    }
}

/// The real machine; disk is measured on the file system of `work_dir`.
#[derive(Clone, Debug)]
pub struct HostMachine {
    pub work_dir: PathBuf,
}

impl MachineProbe for HostMachine {
    fn totals(&self) -> io::Result<MachineTotals> {
        read_machine(&self.work_dir)
    }
}

/// Half of `total_mb` in exact thousandths of a MB.
fn half(total_mb: u64) -> Scalar {
    Scalar::from_millis(
        i64::try_from(total_mb)
            .unwrap_or(i64::MAX)
            .saturating_mul(500),
    )
}

fn mb(value: u64) -> Scalar {
    Scalar::from_count(value)
}

/// Mesos's defaults for an agent without a `--resources` flag:
/// * `cpus`: the number of cores;
/// * `mem`: total − 1 GB, or half the total below 2 GB;
/// * `disk`: total − 5 GB, or half the total below 10 GB;
/// * `ports`: `[31000-32000]`.
pub fn detect_defaults(totals: &MachineTotals) -> Resources {
    let mem = if totals.mem_mb >= 2048 {
        mb(totals.mem_mb - 1024)
    } else {
        half(totals.mem_mb)
    };
    let disk = if totals.disk_mb >= 10 * 1024 {
        mb(totals.disk_mb - 5 * 1024)
    } else {
        half(totals.disk_mb)
    };
    let ports = Range::new(DEFAULT_PORTS.0, DEFAULT_PORTS.1)
        .map(Ranges::from)
        .unwrap_or_default();
    [
        Resource::new_scalar("cpus", Scalar::from_units(i64::from(totals.cpus))),
        Resource::new_scalar("mem", mem),
        Resource::new_scalar("disk", disk),
        Resource::new_ranges("ports", ports),
    ]
    .into_iter()
    .collect()
}

/// The agent's resources: what the flag declared, plus the default for each
/// of `cpus`, `mem`, `disk` and `ports` that the flag does not name at all.
pub fn fill_defaults(configured: &Resources, totals: &MachineTotals) -> Resources {
    let names = configured.names();
    let mut out = configured.clone();
    for resource in detect_defaults(totals).iter() {
        if !names.contains(&resource.name) {
            out.add(resource.clone());
        }
    }
    out
}

/// Reads the host: usable cores (honouring CPU affinity and cgroup quotas),
/// `MemTotal` from `/proc/meminfo`, and the size of the file system of `work_dir`.
pub fn read_machine(work_dir: &Path) -> io::Result<MachineTotals> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let mem_mb = parse_meminfo_total_mb(&meminfo).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "no MemTotal in /proc/meminfo")
    })?;
    let stat = nix::sys::statvfs::statvfs(work_dir).map_err(io::Error::from)?;
    // The field types differ between platforms; on 64-bit Linux both are u64.
    #[allow(clippy::unnecessary_cast)]
    let bytes = (stat.blocks() as u64).saturating_mul(stat.fragment_size() as u64);
    Ok(MachineTotals {
        cpus: u32::try_from(cpus).unwrap_or(u32::MAX),
        mem_mb,
        disk_mb: bytes / (1024 * 1024),
    })
}

/// `MemTotal` of a `/proc/meminfo` text, in MB.
pub fn parse_meminfo_total_mb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    let unit_bytes = match fields.next() {
        Some("kB") | None => 1024,
        Some("MB") => 1024 * 1024,
        Some(_) => return None,
    };
    Some(value.saturating_mul(unit_bytes) / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(cpus: u32, mem_mb: u64, disk_mb: u64) -> MachineTotals {
        MachineTotals {
            cpus,
            mem_mb,
            disk_mb,
        }
    }

    #[test]
    fn large_machine() {
        let r = detect_defaults(&totals(16, 65536, 500_000));
        assert_eq!(
            r.to_string(),
            "cpus:16; mem:64512; disk:494880; ports:[31000-32000]"
        );
    }

    #[test]
    fn small_machine_gets_half() {
        let r = detect_defaults(&totals(1, 1023, 9000));
        assert_eq!(r.mem(), Scalar::from_millis(511_500));
        assert_eq!(r.disk(), Scalar::from_units(4500));
        let edge = detect_defaults(&totals(2, 2048, 10240));
        assert_eq!(edge.mem(), Scalar::from_units(1024));
        assert_eq!(edge.disk(), Scalar::from_units(5120));
        let empty = detect_defaults(&totals(0, 0, 0));
        assert_eq!(empty.to_string(), "ports:[31000-32000]");
    }

    #[test]
    fn fill_keeps_configured_names() {
        let configured: Resources = "cpus(prod):2;mem:100;gpus:1".parse().unwrap_or_default();
        let probe = totals(8, 4096, 20480);
        let r = fill_defaults(&configured, &probe.totals().unwrap_or(probe));
        assert_eq!(
            r.to_string(),
            "cpus(prod):2; mem:100; gpus:1; disk:15360; ports:[31000-32000]"
        );
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       16318480 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_total_mb(text), Some(15936));
        assert_eq!(parse_meminfo_total_mb("MemFree: 1 kB"), None);
        assert_eq!(parse_meminfo_total_mb("MemTotal: x kB"), None);
    }

    #[test]
    fn reads_this_host() {
        let host = HostMachine {
            work_dir: std::env::temp_dir(),
        };
        let t = host.totals();
        assert!(t.is_ok(), "{t:?}");
        let t = t.unwrap_or(totals(0, 0, 0));
        assert!(t.cpus >= 1 && t.mem_mb > 0 && t.disk_mb > 0, "{t:?}");
    }
}
