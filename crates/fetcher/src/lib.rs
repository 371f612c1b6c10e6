//! corral-fetcher: Mesos's fetcher. Downloads a task's (or an executor's) `CommandInfo.uris`
//! into its sandbox before it starts (`reference`: Mesos `docs/fetcher.md`).
//!
//! * Sources ([`source`]): `http://` and `https://` (reqwest, with a stall timeout),
//!   `file://` and plain absolute paths (copied).
//! * `extract` (the default) unpacks `.tar`, `.tar.gz`/`.tgz`, `.zip` into the sandbox and
//!   gunzips a lone `.gz` ([`archive`]); entries that would land outside the sandbox (`..`,
//!   absolute paths, links pointing out, writing through a link) fail the fetch.
//! * `executable` sets mode 0755 and never extracts.
//! * `output_file` names the copy inside the sandbox (relative, no `..`).
//! * `cache` goes through a shared cache directory with a size limit and LRU eviction
//!   ([`cache`]); concurrent fetchers of one URI serialize on a per-entry lock file and
//!   downloads land by atomic rename, so readers never see a partial file. A file larger than
//!   the whole cache is fetched directly instead (Mesos's fallback).
//! * When an [`Owner`] is given (the agent runs as root and the task has a user) everything
//!   fetched into the sandbox is chowned to it.
//!
//! Every failure is a [`FetchError`] whose message is `Failed to fetch '<uri>': <why>`.

pub mod archive;
pub mod cache;
mod error;
pub mod source;

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

pub use cache::CacheConfig;
pub use error::{FetchError, Why};
pub use source::Source;

/// How long a download may make no progress before it fails (Mesos's
/// `--fetcher_stall_timeout` default).
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One URI to fetch: `CommandInfo.URI`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriSpec {
    /// The URI or absolute path.
    pub value: String,
    /// Make the copy executable (0755); never extracted.
    pub executable: bool,
    /// Extract a recognized archive into the sandbox (default true).
    pub extract: bool,
    /// Go through the fetcher cache.
    pub cache: bool,
    /// Name of the copy inside the sandbox (default: the URI's basename).
    pub output_file: Option<String>,
}

impl UriSpec {
    /// A URI with Mesos's defaults (extract, no cache).
    pub fn new(value: impl Into<String>) -> UriSpec {
        UriSpec {
            value: value.into(),
            executable: false,
            extract: true,
            cache: false,
            output_file: None,
        }
    }
}

impl From<&corral_api::v1::command_info::Uri> for UriSpec {
    fn from(uri: &corral_api::v1::command_info::Uri) -> UriSpec {
        UriSpec {
            value: uri.value.clone(),
            executable: uri.executable(),
            extract: uri.extract(),
            cache: uri.cache(),
            output_file: uri.output_file.clone().filter(|s| !s.is_empty()),
        }
    }
}

/// The user fetched files belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// User name (also names the user's cache directory).
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

impl Owner {
    /// Looks `name` up in the user database: `user 'x' does not exist` when unknown.
    pub fn lookup(name: &str) -> Result<Owner, String> {
        match nix::unistd::User::from_name(name) {
            Ok(Some(user)) => Ok(Owner {
                name: name.to_string(),
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            }),
            Ok(None) => Err(format!("user '{name}' does not exist")),
            Err(error) => Err(format!("cannot look up user '{name}': {error}")),
        }
    }
}

/// Fetcher settings.
#[derive(Clone, Debug, Default)]
pub struct FetcherConfig {
    /// The shared cache, if any (`--fetcher_cache_dir`, `--fetcher_cache_size`).
    pub cache: Option<CacheConfig>,
    /// No progress for this long fails a download (default [`DEFAULT_STALL_TIMEOUT`]).
    pub stall_timeout: Option<Duration>,
}

/// What one fetch produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The copy in the sandbox.
    pub path: PathBuf,
    /// Whether it came from the cache without downloading.
    pub cache_hit: bool,
    /// Entries extracted from it (relative to the sandbox).
    pub extracted: usize,
}

/// The fetcher: an HTTP client and the optional cache.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    cache: Option<cache::Cache>,
    stall: Duration,
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the fetcher's HTTP client: {0}")]
pub struct SetupError(#[from] reqwest::Error);

impl Fetcher {
    /// A fetcher with `config`.
    pub fn new(config: FetcherConfig) -> Result<Fetcher, SetupError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Fetcher {
            client,
            cache: config.cache.map(cache::Cache::new),
            stall: config.stall_timeout.unwrap_or(DEFAULT_STALL_TIMEOUT),
        })
    }

    /// Fetches every URI in order into `sandbox`; the first failure stops.
    pub async fn fetch_all(
        &self,
        uris: &[UriSpec],
        sandbox: &Path,
        owner: Option<&Owner>,
    ) -> Result<Vec<Fetched>, FetchError> {
        let mut fetched = Vec::with_capacity(uris.len());
        for uri in uris {
            fetched.push(self.fetch(uri, sandbox, owner).await?);
        }
        Ok(fetched)
    }

    /// Fetches one URI into `sandbox`.
    pub async fn fetch(
        &self,
        uri: &UriSpec,
        sandbox: &Path,
        owner: Option<&Owner>,
    ) -> Result<Fetched, FetchError> {
        let fail = |why: Why| FetchError::new(&uri.value, why);
        let source = Source::parse(&uri.value).map_err(fail)?;
        let name = match &uri.output_file {
            Some(name) => relative_name(name).map_err(fail)?,
            None => PathBuf::from(source.basename().map_err(fail)?),
        };
        let destination = sandbox.join(&name);
        let mut created = create_parents(sandbox, &name).map_err(fail)?;
        tracing::info!(uri = %uri.value, destination = %destination.display(), cache = uri.cache, "fetching");
        let cache_hit = match (&self.cache, uri.cache) {
            (Some(cache), true) => {
                let dir = cache.user_dir(owner.map(|o| o.name.as_str()));
                match cache
                    .fetch(
                        &self.client,
                        self.stall,
                        &source,
                        &uri.value,
                        &dir,
                        &destination,
                    )
                    .await
                {
                    Ok(hit) => hit,
                    Err(cache::CacheError::Fetch(why)) => return Err(fail(why)),
                    Err(cache::CacheError::Unusable(error)) => {
                        tracing::warn!(uri = %uri.value, %error, "the fetcher cache is unusable; fetching directly");
                        source::download(&self.client, self.stall, &source, &destination)
                            .await
                            .map_err(fail)?;
                        false
                    }
                }
            }
            _ => {
                source::download(&self.client, self.stall, &source, &destination)
                    .await
                    .map_err(fail)?;
                false
            }
        };
        created.push(name.clone());
        let mut extracted = 0;
        if uri.executable {
            set_mode(&destination, 0o755).map_err(fail)?;
        } else if uri.extract {
            if let Some(kind) = archive::Kind::of(&destination) {
                let archive_path = destination.clone();
                let root = sandbox.to_path_buf();
                let entries = tokio::task::spawn_blocking(move || {
                    archive::extract(kind, &archive_path, &root)
                })
                .await
                .map_err(|e| fail(Why::Io(format!("extraction task: {e}"))))?
                .map_err(fail)?;
                extracted = entries.len();
                created.extend(entries);
            }
        }
        if let Some(owner) = owner {
            chown_all(sandbox, &created, owner).map_err(fail)?;
        }
        Ok(Fetched {
            path: destination,
            cache_hit,
            extracted,
        })
    }
}

/// Parses a size in Mesos's `Bytes` notation: `123`, `123B`, `10KB`, `512MB`, `2GB`, `1TB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid size '{text}' (e.g. 2GB, 512MB, 1048576)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        _ => {
            return Err(format!(
                "invalid size unit in '{text}' (B, KB, MB, GB or TB)"
            ))
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size '{text}' is too large"))
}

/// `name` as a path relative to the sandbox: no root, no `..`, not empty.
pub fn relative_name(name: &str) -> Result<PathBuf, Why> {
    let bad = |what: &'static str| Why::BadOutputFile(name.to_string(), what);
    let path = Path::new(name);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("it must not contain '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad("it must be relative to the sandbox"))
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(bad("it names no file"));
    }
    Ok(clean)
}

/// Creates the directories of `name` below `root`; returns those it created (relative).
fn create_parents(root: &Path, name: &Path) -> Result<Vec<PathBuf>, Why> {
    let mut created = Vec::new();
    let mut relative = PathBuf::new();
    let Some(parent) = name.parent() else {
        return Ok(created);
    };
    for component in parent.components() {
        relative.push(component);
        let path = root.join(&relative);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Why::Escapes(relative.display().to_string()))
            }
            Ok(_) => {}
            Err(_) => {
                std::fs::create_dir(&path)
                    .map_err(|e| Why::Io(format!("cannot create {}: {e}", path.display())))?;
                created.push(relative.clone());
            }
        }
    }
    Ok(created)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Why> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Why::Io(format!("cannot chmod {}: {e}", path.display())))
}

/// Gives `paths` (relative to `root`) to `owner`, without following links.
fn chown_all(root: &Path, paths: &[PathBuf], owner: &Owner) -> Result<(), Why> {
    for relative in paths {
        let path = root.join(relative);
        std::os::unix::fs::lchown(&path, Some(owner.uid), Some(owner.gid)).map_err(|e| {
            Why::Io(format!(
                "cannot give {} to user '{}': {e}",
                path.display(),
                owner.name
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn output_files_stay_in_the_sandbox() {
        assert_eq!(relative_name("a/./b").unwrap(), PathBuf::from("a/b"));
        assert!(relative_name("../x").is_err());
        assert!(relative_name("a/../../x").is_err());
        assert!(relative_name("/etc/passwd").is_err());
        assert!(relative_name(".").is_err());
        assert!(relative_name("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("7B").unwrap(), 7);
        assert!(parse_size("x").is_err());
        assert!(parse_size("1PB").is_err());
        assert!(parse_size("99999999999TB").is_err());
    }

    #[test]
    fn uri_defaults_follow_mesos() {
        let uri = corral_api::v1::command_info::Uri {
            value: "http://x/y.tgz".into(),
            ..Default::default()
        };
        let spec = UriSpec::from(&uri);
        assert!(spec.extract && !spec.executable && !spec.cache);
        assert_eq!(spec.output_file, None);
    }

    #[test]
    fn unknown_users_are_named() {
        let err = Owner::lookup("no-such-user-corral").unwrap_err();
        assert_eq!(err, "user 'no-such-user-corral' does not exist");
        assert_eq!(Owner::lookup("root").unwrap().uid, 0);
    }
}
