//! The `disk/du` isolator: measures each container's sandbox like `du` (allocated blocks,
//! symbolic links not followed, so persistent volumes linked into the sandbox do not
//! count) every `--container_disk_watch_interval`, reports it, and with
//! `--enforce_container_disk_quota` reports a disk limitation when the sandbox outgrows the
//! container's `disk` resource; the containerizer then kills the container and the agent
//! fails its tasks with `REASON_CONTAINER_LIMITATION_DISK`, as for memory.
//!
//! Containers re-adopted after an agent restart are not measured (their sandbox and quota
//! are not known to the isolator).

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use corral_containerizer::{
    BoxFuture, ContainerId, Isolator, IsolatorError, LaunchInfo, LaunchSpec, Limitation,
    LimitationKind, ResourceLimits, ResourceUsage,
};

/// `disk/du` settings.
#[derive(Debug, Clone, Copy)]
pub struct DiskConfig {
    /// How often a sandbox is measured.
    pub interval: Duration,
    /// Whether exceeding the quota kills the container.
    pub enforce: bool,
}

/// What to do with one measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Within the quota (or no quota).
    Within,
    /// Over the quota, not enforced: warn.
    Over,
    /// Over the quota and enforced: this limitation.
    Limit(String),
}

/// The pure decision for a measured sandbox.
pub fn judge(used: u64, quota: Option<u64>, enforce: bool) -> Verdict {
    match quota {
        Some(quota) if used > quota => {
            if enforce {
                Verdict::Limit(limit_message(used, quota))
            } else {
                Verdict::Over
            }
        }
        _ => Verdict::Within,
    }
}

/// The limitation message, with the quota and the usage.
pub fn limit_message(used: u64, quota: u64) -> String {
    format!(
        "Disk usage ({}) exceeds quota ({})",
        human_bytes(used),
        human_bytes(quota)
    )
}

/// Bytes as stout prints them (`1.5MB`, `512KB`, `10B`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            let text = format!("{value:.3}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            return format!("{text}{unit}");
        }
    }
    format!("{bytes}B")
}

/// The space `path` takes on disk, like `du -s`: allocated blocks of every file and
/// directory, hard links counted once, symbolic links not followed (the link itself counts).
/// Entries that vanish while walking are skipped.
pub fn disk_usage(path: &Path) -> io::Result<u64> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![path.to_path_buf()];
    let mut first = true;
    while let Some(next) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&next) {
            Ok(meta) => meta,
            Err(e) if !first && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        first = false;
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total = total.saturating_add(meta.blocks().saturating_mul(512));
        if meta.is_dir() {
            let entries = match std::fs::read_dir(&next) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries.flatten() {
                stack.push(entry.path());
            }
        }
    }
    Ok(total)
}

#[derive(Debug, Clone)]
struct Entry {
    sandbox: PathBuf,
    quota: Option<u64>,
    used: Option<u64>,
}

/// The `disk/du` isolator. Cheap to clone; clones share their measurements.
#[derive(Debug, Clone)]
pub struct DiskIsolator {
    config: DiskConfig,
    entries: Arc<Mutex<HashMap<ContainerId, Entry>>>,
}

impl DiskIsolator {
    /// An isolator with `config`.
    pub fn new(config: DiskConfig) -> Self {
        Self {
            config,
            entries: Arc::default(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<ContainerId, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last measurement of a container's sandbox and its quota, in bytes.
    pub fn usage_of(&self, id: &str) -> Option<(Option<u64>, Option<u64>)> {
        let id = ContainerId::new(id).ok()?;
        self.entries().get(&id).map(|e| (e.used, e.quota))
    }
}

impl Isolator for DiskIsolator {
    fn name(&self) -> &'static str {
        "disk/du"
    }

    fn prepare<'a>(
        &'a self,
        spec: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<LaunchInfo, IsolatorError>> {
        self.entries().insert(
            spec.container_id.clone(),
            Entry {
                sandbox: spec.working_dir.clone(),
                quota: spec.resources.disk_bytes,
                used: None,
            },
        );
        Box::pin(async { Ok(LaunchInfo::default()) })
    }

    fn watch_limitation(&self, id: &ContainerId) -> Option<BoxFuture<'static, Limitation>> {
        if !self.entries().contains_key(id) {
            return None;
        }
        let this = self.clone();
        let id = id.clone();
        Some(Box::pin(async move {
            let mut warned = false;
            loop {
                tokio::time::sleep(this.config.interval).await;
                let Some(entry) = this.entries().get(&id).cloned() else {
                    // Cleaned up: nothing more to watch.
                    return std::future::pending().await;
                };
                let sandbox = entry.sandbox.clone();
                let measured = tokio::task::spawn_blocking(move || disk_usage(&sandbox)).await;
                let used = match measured {
                    Ok(Ok(used)) => used,
                    Ok(Err(error)) => {
                        tracing::warn!(container_id = %id, %error, "cannot measure the sandbox");
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(container_id = %id, %error, "sandbox measurement failed");
                        continue;
                    }
                };
                if let Some(e) = this.entries().get_mut(&id) {
                    e.used = Some(used);
                }
                match judge(used, entry.quota, this.config.enforce) {
                    Verdict::Within => {}
                    Verdict::Over => {
                        if !warned {
                            tracing::warn!(container_id = %id, used, quota = ?entry.quota,
                                "sandbox exceeds its disk quota (not enforced)");
                            warned = true;
                        }
                    }
                    Verdict::Limit(message) => {
                        return Limitation {
                            kind: LimitationKind::Disk,
                            message,
                        };
                    }
                }
            }
        }))
    }

    fn usage<'a>(
        &'a self,
        id: &'a ContainerId,
    ) -> BoxFuture<'a, Result<ResourceUsage, IsolatorError>> {
        // The last measurement: walking the sandbox on every request would be too costly.
        let usage = self
            .entries()
            .get(id)
            .map(|e| ResourceUsage {
                disk_used_bytes: e.used,
                disk_limit_bytes: e.quota,
                ..ResourceUsage::default()
            })
            .unwrap_or_default();
        Box::pin(async move { Ok(usage) })
    }

    fn update<'a>(
        &'a self,
        id: &'a ContainerId,
        limits: &'a ResourceLimits,
    ) -> BoxFuture<'a, Result<(), IsolatorError>> {
        // The next measurement is judged against the new quota.
        if let Some(entry) = self.entries().get_mut(id) {
            entry.quota = limits.disk_bytes;
        }
        Box::pin(async { Ok(()) })
    }

    fn cleanup<'a>(&'a self, id: &'a ContainerId) -> BoxFuture<'a, Result<(), IsolatorError>> {
        self.entries().remove(id);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(judge(10, None, true), Verdict::Within);
        assert_eq!(judge(10, Some(10), true), Verdict::Within);
        assert_eq!(judge(11, Some(10), false), Verdict::Over);
        assert_eq!(
            judge(3 << 20, Some(1 << 20), true),
            Verdict::Limit("Disk usage (3MB) exceeds quota (1MB)".into())
        );
        assert_eq!(human_bytes(1536 << 10), "1.5MB");
        assert_eq!(human_bytes(10), "10B");
    }

    #[test]
    fn usage_counts_files_but_not_what_links_point_to() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("sandbox");
        let volume = dir.path().join("volume");
        std::fs::create_dir_all(sandbox.join("sub")).unwrap();
        std::fs::create_dir_all(&volume).unwrap();
        let empty = disk_usage(&sandbox).unwrap();
        std::fs::write(sandbox.join("sub/data"), vec![1u8; 1 << 20]).unwrap();
        std::fs::write(volume.join("big"), vec![1u8; 4 << 20]).unwrap();
        std::os::unix::fs::symlink(&volume, sandbox.join("vol")).unwrap();
        // A hard link is counted once.
        std::fs::hard_link(sandbox.join("sub/data"), sandbox.join("again")).unwrap();
        let used = disk_usage(&sandbox).unwrap() - empty;
        assert!((1 << 20..(1 << 20) + (64 << 10)).contains(&used), "{used}");
        assert!(disk_usage(&dir.path().join("missing")).is_err());
    }

    #[tokio::test]
    async fn enforced_quotas_report_a_disk_limitation() {
        let dir = tempfile::tempdir().unwrap();
        let isolator = DiskIsolator::new(DiskConfig {
            interval: Duration::from_millis(20),
            enforce: true,
        });
        let id = ContainerId::new("c1").unwrap();
        let mut spec = LaunchSpec::new(
            id.clone(),
            corral_containerizer::Command::Shell("true".into()),
            dir.path(),
        );
        spec.resources.disk_bytes = Some(256 << 10);
        isolator.prepare(&spec).await.unwrap();
        let watch = isolator.watch_limitation(&id).unwrap();
        std::fs::write(dir.path().join("fill"), vec![7u8; 1 << 20]).unwrap();
        let hit = tokio::time::timeout(Duration::from_secs(5), watch)
            .await
            .unwrap();
        assert_eq!(hit.kind, LimitationKind::Disk);
        assert!(
            hit.message.contains("exceeds quota (256KB)"),
            "{}",
            hit.message
        );
        let (used, quota) = isolator.usage_of("c1").unwrap();
        assert!(used.unwrap() >= 1 << 20);
        assert_eq!(quota, Some(256 << 10));
        let usage = isolator.usage(&id).await.unwrap();
        assert_eq!(usage.disk_used_bytes, used);
        assert_eq!(usage.disk_limit_bytes, Some(256 << 10));
        isolator.cleanup(&id).await.unwrap();
        assert!(isolator.usage_of("c1").is_none());
        assert!(isolator.watch_limitation(&id).is_none());
    }
}
