//! The fetcher cache: `<dir>/<user>/<hash>-<basename>`, bounded by a total size with LRU
//! eviction (by modification time, refreshed on every hit).
//!
//! Concurrency: each entry has a lock file (`<entry>.lock`, `flock`). A fetcher holds its
//! entry's lock while it checks, downloads (to a temporary name, renamed into place) and
//! copies the entry to its sandbox, so concurrent fetchers of one URI download it once and
//! never read a partial file. Eviction only removes entries whose lock it can take without
//! waiting, so an entry being copied out is never removed under its reader. A file larger
//! than the whole cache is handed to the sandbox and not kept.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};

use crate::error::Why;
use crate::source::{self, Source};

/// Where the cache lives and how big it may get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cache directory (`--fetcher_cache_dir`).
    pub dir: PathBuf,
    /// The size limit in bytes (`--fetcher_cache_size`).
    pub max_bytes: u64,
}

/// The cache.
#[derive(Clone, Debug)]
pub struct Cache {
    config: CacheConfig,
}

/// Why a cached fetch did not succeed.
#[derive(Debug)]
pub enum CacheError {
    /// The URI itself could not be fetched: the fetch fails.
    Fetch(Why),
    /// The cache directory cannot be used: fetch directly instead.
    Unusable(String),
}

impl Cache {
    /// A cache with `config`.
    pub fn new(config: CacheConfig) -> Cache {
        Cache { config }
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The directory of `user`'s entries (the current user's when `None`).
    pub fn user_dir(&self, user: Option<&str>) -> PathBuf {
        let name = user.map_or_else(current_user, str::to_string);
        let safe: String = name
            .chars()
            .map(|c| if c == '/' || c == '\0' { '_' } else { c })
            .collect();
        let safe = if safe.is_empty() || safe.starts_with('.') {
            format!("u{safe}")
        } else {
            safe
        };
        self.config.dir.join(safe)
    }

    /// Fetches `uri` through the cache directory `dir` into `destination`; `Ok(true)` when it
    /// was already cached.
    pub async fn fetch(
        &self,
        client: &reqwest::Client,
        stall: Duration,
        source: &Source,
        uri: &str,
        dir: &Path,
        destination: &Path,
    ) -> Result<bool, CacheError> {
        let unusable = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
            CacheError::Unusable(format!("{what} {}: {e}", path.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| unusable("cannot create", dir, &e))?;
        let key = entry_name(uri, source);
        let data = dir.join(&key);
        let lock_path = dir.join(format!("{key}.lock"));
        let lock = lock(&lock_path, true)
            .await
            .map_err(|e| unusable("cannot lock", &lock_path, &e))?
            .ok_or_else(|| CacheError::Unusable("lock not taken".into()))?;
        let result = self
            .fetch_locked(client, stall, source, &data, destination)
            .await;
        drop(lock);
        result
    }

    async fn fetch_locked(
        &self,
        client: &reqwest::Client,
        stall: Duration,
        source: &Source,
        data: &Path,
        destination: &Path,
    ) -> Result<bool, CacheError> {
        if data.is_file() {
            tracing::debug!(entry = %data.display(), "fetcher cache hit");
            // Refresh the entry's place in the LRU order.
            if let Ok(file) = File::options().write(true).open(data) {
                let _ = file.set_modified(SystemTime::now());
            }
            copy_out(data, destination).await?;
            return Ok(true);
        }
        let size = source::download(client, stall, source, data)
            .await
            .map_err(CacheError::Fetch)?;
        if size > self.config.max_bytes {
            tracing::info!(
                size,
                limit = self.config.max_bytes,
                "too big for the fetcher cache; not kept"
            );
            let moved = tokio::fs::rename(data, destination).await;
            if moved.is_err() {
                copy_out(data, destination).await?;
                let _ = tokio::fs::remove_file(data).await;
            }
            return Ok(false);
        }
        let root = self.config.dir.clone();
        let keep = data.to_path_buf();
        let limit = self.config.max_bytes;
        let evicted = tokio::task::spawn_blocking(move || evict(&root, limit, &keep))
            .await
            .unwrap_or_default();
        if evicted > 0 {
            tracing::info!(evicted, "evicted fetcher cache entries");
        }
        copy_out(data, destination).await?;
        Ok(false)
    }
}

/// Copies a cache entry to the sandbox (temporary name, then rename).
async fn copy_out(data: &Path, destination: &Path) -> Result<(), CacheError> {
    let temp = source::temp_path(destination);
    let copied = tokio::fs::copy(data, &temp).await;
    let renamed = match copied {
        Ok(_) => tokio::fs::rename(&temp, destination).await,
        Err(e) => Err(e),
    };
    renamed.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        CacheError::Fetch(Why::Io(format!(
            "cannot copy {} from the cache: {e}",
            destination.display()
        )))
    })
}

/// Takes the lock at `path` (waiting when `wait`); `None` when it is held and `!wait`.
async fn lock(path: &Path, wait: bool) -> std::io::Result<Option<Flock<File>>> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || lock_now(&path, wait))
        .await
        .map_err(std::io::Error::other)?
}

fn lock_now(path: &Path, wait: bool) -> std::io::Result<Option<Flock<File>>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    let arg = if wait {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockExclusiveNonblock
    };
    match Flock::lock(file, arg) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::Error::EWOULDBLOCK)) if !wait => Ok(None),
        Err((_, errno)) => Err(errno.into()),
    }
}

/// One cached file.
struct Entry {
    path: PathBuf,
    size: u64,
    used: SystemTime,
}

/// Removes least recently used entries (under every user directory of `root` this process
/// can read) until the total fits `limit`; never `keep`, never an entry someone holds.
/// Returns how many were removed.
pub fn evict(root: &Path, limit: u64, keep: &Path) -> usize {
    let mut entries = Vec::new();
    let Ok(users) = std::fs::read_dir(root) else {
        return 0;
    };
    for user in users.flatten() {
        let Ok(files) = std::fs::read_dir(user.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".lock") {
                continue;
            }
            let Ok(meta) = file.metadata() else { continue };
            if meta.is_file() {
                entries.push(Entry {
                    path: file.path(),
                    size: meta.len(),
                    used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
    }
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    entries.sort_by_key(|e| e.used);
    let mut removed = 0;
    for entry in entries {
        if total <= limit {
            break;
        }
        if entry.path == keep {
            continue;
        }
        let mut lock_path = entry.path.clone().into_os_string();
        lock_path.push(".lock");
        let Ok(Some(lock)) = lock_now(Path::new(&lock_path), false) else {
            continue;
        };
        if std::fs::remove_file(&entry.path).is_ok() {
            tracing::debug!(entry = %entry.path.display(), size = entry.size, "evicted");
            total = total.saturating_sub(entry.size);
            removed += 1;
        }
        drop(lock);
    }
    removed
}

/// `<fnv1a-64 of the URI>-<basename>`: stable across runs and binaries.
fn entry_name(uri: &str, source: &Source) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in uri.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let base = source.basename().unwrap_or_default();
    let base: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(80)
        .collect();
    format!("{hash:016x}-{base}")
}

fn current_user() -> String {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid-{uid}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_stable_and_distinct() {
        let a = Source::parse("http://h/a.tgz").unwrap();
        let n1 = entry_name("http://h/a.tgz", &a);
        assert_eq!(n1, entry_name("http://h/a.tgz", &a));
        assert!(n1.ends_with("-a.tgz"));
        assert_ne!(n1, entry_name("http://h/a.tgz?v=2", &a));
    }

    #[test]
    fn eviction_spares_held_and_kept_entries() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("u");
        std::fs::create_dir(&dir).unwrap();
        let old = SystemTime::now() - Duration::from_secs(100);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let path = dir.join(name);
            std::fs::write(&path, [0u8; 10]).unwrap();
            let file = File::options().write(true).open(&path).unwrap();
            file.set_modified(old + Duration::from_secs(i as u64))
                .unwrap();
        }
        // "a" is the oldest but someone holds it.
        let held = lock_now(&dir.join("a.lock"), true).unwrap();
        let removed = evict(root.path(), 10, &dir.join("c"));
        drop(held);
        assert_eq!(removed, 1);
        assert!(dir.join("a").exists() && !dir.join("b").exists() && dir.join("c").exists());
    }
}
