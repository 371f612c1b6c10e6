//! Fetching a task's `command.uris` into the sandbox before its command starts (the glue
//! between the runtime and `corral-fetcher`).
//!
//! The agent passes its fetcher settings in the environment: `MESOS_FETCHER_CACHE_DIR` (the
//! shared cache; absent: no cache) and `MESOS_FETCHER_CACHE_SIZE` (its limit, e.g. `2GB`).
//! When the executor runs as root and the task names another user, fetched files are given
//! to that user.

use std::path::Path;

use corral_api::v1::TaskInfo;
use corral_fetcher::{CacheConfig, Fetcher, FetcherConfig, Owner, UriSpec};

/// The cache limit when the agent passes a directory but no size (Mesos's 2 GB).
const DEFAULT_CACHE_BYTES: u64 = 2 << 30;

/// The executor's fetcher, built on first use (tasks without URIs never pay for its HTTP
/// client).
pub(crate) struct TaskFetcher {
    config: FetcherConfig,
    fetcher: std::sync::OnceLock<Result<Fetcher, String>>,
}

impl TaskFetcher {
    /// Configured from `MESOS_FETCHER_CACHE_DIR` and `MESOS_FETCHER_CACHE_SIZE`.
    pub(crate) fn from_env() -> TaskFetcher {
        let dir = std::env::var_os("MESOS_FETCHER_CACHE_DIR").filter(|d| !d.is_empty());
        let size = std::env::var("MESOS_FETCHER_CACHE_SIZE").ok();
        let max_bytes = match size.as_deref().map(corral_fetcher::parse_size) {
            Some(Ok(bytes)) => bytes,
            Some(Err(error)) => {
                tracing::warn!(%error, "ignoring MESOS_FETCHER_CACHE_SIZE");
                DEFAULT_CACHE_BYTES
            }
            None => DEFAULT_CACHE_BYTES,
        };
        let config = FetcherConfig {
            cache: dir.map(|dir| CacheConfig {
                dir: dir.into(),
                max_bytes,
            }),
            stall_timeout: None,
        };
        TaskFetcher {
            config,
            fetcher: std::sync::OnceLock::new(),
        }
    }

    /// Fetches `info`'s URIs into `sandbox` (the working directory when unknown); the error
    /// is the task's failure message (`Failed to fetch '<uri>': <why>`).
    pub(crate) async fn fetch(
        &self,
        info: &TaskInfo,
        sandbox: Option<&Path>,
    ) -> Result<(), String> {
        let fetcher = self
            .fetcher
            .get_or_init(|| Fetcher::new(self.config.clone()).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)?;
        let uris = uris(info);
        let sandbox = match sandbox {
            Some(dir) => dir.to_path_buf(),
            None => std::env::current_dir().map_err(|e| format!("no sandbox: {e}"))?,
        };
        let owner = owner(info);
        let fetched = fetcher
            .fetch_all(&uris, &sandbox, owner.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(task_id = %info.task_id.value, uris = fetched.len(), cache_hits = fetched.iter().filter(|f| f.cache_hit).count(), "fetched the task's URIs");
        Ok(())
    }
}

/// The task's URIs.
pub(crate) fn uris(info: &TaskInfo) -> Vec<UriSpec> {
    info.command
        .as_ref()
        .map(|c| c.uris.iter().map(UriSpec::from).collect())
        .unwrap_or_default()
}

/// Who fetched files belong to: the task's user, when the executor is root and the user is
/// another one.
fn owner(info: &TaskInfo) -> Option<Owner> {
    let user = info.command.as_ref()?.user.as_deref()?;
    if user.is_empty() || !nix::unistd::geteuid().is_root() {
        return None;
    }
    let owner = Owner::lookup(user).ok()?;
    (owner.uid != 0).then_some(owner)
}
