//! The task logger: a task's stdout and stderr go through pipes into the executor, which
//! writes them to `stdout`/`stderr` in the sandbox, rotating by size (`stdout.1` …, like
//! Mesos's `LogrotateContainerLogger`) and limiting the rate per stream (token bucket; what
//! is over the limit is dropped and a single marker line per second says how much).
//!
//! The agent passes the settings in the environment ([`LoggerConfig::from_env`]); without
//! them the task inherits the executor's own output files, as before.
//!
//! * [`policy`]: the pure decisions (rate, markers, where to cut for rotation);
//! * [`sink`]: the files.

pub mod policy;
pub mod sink;

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use policy::{DropReport, Rotation, Step, TokenBucket};
use sink::{FileSink, Sink};

/// `--logrotate_max_stdout_size` in bytes.
pub const ENV_MAX_STDOUT_SIZE: &str = "CORRAL_LOGROTATE_MAX_STDOUT_SIZE";
/// `--logrotate_max_stderr_size` in bytes.
pub const ENV_MAX_STDERR_SIZE: &str = "CORRAL_LOGROTATE_MAX_STDERR_SIZE";
/// `--logrotate_max_files`: files per stream, the current one included.
pub const ENV_MAX_FILES: &str = "CORRAL_LOGROTATE_MAX_FILES";
/// `--container_log_rate_limit` in bytes per second (0: unlimited).
pub const ENV_RATE_LIMIT: &str = "CORRAL_CONTAINER_LOG_RATE_LIMIT";
/// `--container_log_rate_burst` in bytes (default: one second of the rate).
pub const ENV_RATE_BURST: &str = "CORRAL_CONTAINER_LOG_RATE_BURST";

/// How often at most a "dropped" marker is written per stream.
pub const MARKER_INTERVAL: Duration = Duration::from_secs(1);

/// The logger's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggerConfig {
    /// Rotate `stdout` at this size (bytes).
    pub max_stdout_size: u64,
    /// Rotate `stderr` at this size (bytes).
    pub max_stderr_size: u64,
    /// Files kept per stream, the current one included (at least 1).
    pub max_files: u32,
    /// Bytes per second per stream; `None`: unlimited.
    pub rate_limit: Option<u64>,
    /// The bucket size in bytes.
    pub burst: u64,
}

impl LoggerConfig {
    /// The settings in `get`'s variables; `None` when the agent asked for no logger (no
    /// size variable set). Unparsable values fall back to the defaults with a warning.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let number = |name: &str, default: u64| -> u64 {
            match get(name) {
                None => default,
                Some(text) => text.trim().parse().unwrap_or_else(|_| {
                    tracing::warn!(name, value = %text, "ignoring an invalid logger setting");
                    default
                }),
            }
        };
        if get(ENV_MAX_STDOUT_SIZE).is_none() && get(ENV_MAX_STDERR_SIZE).is_none() {
            return None;
        }
        let max_stdout_size = number(ENV_MAX_STDOUT_SIZE, 10 << 20).max(1);
        let max_stderr_size = number(ENV_MAX_STDERR_SIZE, 10 << 20).max(1);
        let max_files = u32::try_from(number(ENV_MAX_FILES, 5))
            .unwrap_or(u32::MAX)
            .max(1);
        let rate = number(ENV_RATE_LIMIT, 0);
        let burst = number(ENV_RATE_BURST, rate);
        Some(Self {
            max_stdout_size,
            max_stderr_size,
            max_files,
            rate_limit: (rate > 0).then_some(rate),
            burst,
        })
    }

    /// The settings in the process environment.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

/// Copies `input` into `<dir>/<name>` until end of file, rotating at `max_size` and
/// limiting the rate. Errors writing the files are logged and end the copy (the pipe is
/// then drained so the task never blocks on a full pipe).
pub async fn pump<R: AsyncRead + Unpin>(
    mut input: R,
    dir: &Path,
    name: &str,
    max_size: u64,
    config: LoggerConfig,
) {
    let mut sink = match FileSink::open(dir, name, config.max_files) {
        Ok(sink) => sink,
        Err(error) => {
            tracing::error!(%error, file = name, "cannot open the task's log file; discarding output");
            drain(&mut input).await;
            return;
        }
    };
    let origin = Instant::now();
    let mut writer = LogWriter::new(&mut sink, max_size, config, Duration::ZERO);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%error, file = name, "reading the task's output failed");
                break;
            }
        };
        if let Err(error) = writer.accept(origin.elapsed(), &buf[..n]) {
            tracing::error!(%error, file = name, "writing the task's log failed; discarding the rest");
            drain(&mut input).await;
            return;
        }
    }
    if let Err(error) = writer.finish(origin.elapsed()) {
        tracing::warn!(%error, file = name, "writing the task's log failed");
    }
}

async fn drain<R: AsyncRead + Unpin>(input: &mut R) {
    let mut buf = vec![0u8; 64 * 1024];
    while matches!(input.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// The logger of one stream over a [`Sink`], driven by the caller's clock.
pub struct LogWriter<'a, S: Sink> {
    sink: &'a mut S,
    rotation: Rotation,
    bucket: Option<TokenBucket>,
    drops: DropReport,
}

impl<'a, S: Sink> LogWriter<'a, S> {
    /// A writer starting at `now`.
    pub fn new(sink: &'a mut S, max_size: u64, config: LoggerConfig, now: Duration) -> Self {
        let rotation = Rotation::new(max_size, sink.initial_size());
        Self {
            sink,
            rotation,
            bucket: config
                .rate_limit
                .map(|rate| TokenBucket::new(rate, config.burst, now)),
            drops: DropReport::default(),
        }
    }

    /// Takes one chunk of output read at `now`.
    pub fn accept(&mut self, now: Duration, chunk: &[u8]) -> std::io::Result<()> {
        let admitted = match &mut self.bucket {
            Some(bucket) => bucket.admit(now, chunk.len()),
            None => chunk.len(),
        };
        self.drops.record((chunk.len() - admitted) as u64);
        self.write(&chunk[..admitted])?;
        self.marker(now, false)
    }

    /// End of stream: reports what is still unreported as dropped.
    pub fn finish(&mut self, now: Duration) -> std::io::Result<()> {
        self.marker(now, true)
    }

    fn marker(&mut self, now: Duration, force: bool) -> std::io::Result<()> {
        let rate = self.bucket.as_ref().map_or(0, TokenBucket::rate);
        if let Some(dropped) = self.drops.due(now, MARKER_INTERVAL, force) {
            let line = policy::marker(dropped, rate);
            self.write(line.as_bytes())?;
        }
        Ok(())
    }

    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        for step in self.rotation.plan(bytes.len()) {
            match step {
                Step::Rotate => self.sink.rotate()?,
                Step::Write(n) => {
                    let (now, rest) = bytes.split_at(n.min(bytes.len()));
                    self.sink.write(now)?;
                    bytes = rest;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Files in memory.
    #[derive(Default)]
    struct Memory {
        files: Vec<Vec<u8>>,
    }

    impl Sink for Memory {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            if self.files.is_empty() {
                self.files.push(Vec::new());
            }
            if let Some(last) = self.files.last_mut() {
                last.extend_from_slice(bytes);
            }
            Ok(())
        }
        fn rotate(&mut self) -> std::io::Result<()> {
            self.files.push(Vec::new());
            Ok(())
        }
        fn initial_size(&self) -> u64 {
            0
        }
    }

    fn config(rate: Option<u64>, burst: u64) -> LoggerConfig {
        LoggerConfig {
            max_stdout_size: 100,
            max_stderr_size: 100,
            max_files: 3,
            rate_limit: rate,
            burst,
        }
    }

    #[test]
    fn writes_rotate_and_drop_over_the_rate_with_one_marker_per_second() {
        let mut memory = Memory::default();
        let mut w = LogWriter::new(&mut memory, 100, config(Some(50), 50), Duration::ZERO);
        let ms = Duration::from_millis;
        w.accept(ms(0), &[b'x'; 80]).unwrap();
        w.accept(ms(100), &[b'y'; 80]).unwrap();
        w.accept(ms(1000), &[b'z'; 10]).unwrap();
        w.finish(ms(1000)).unwrap();
        let all: Vec<u8> = memory.files.concat();
        let text = String::from_utf8_lossy(&all);
        assert_eq!(text.matches('x').count(), 50);
        assert!(text.contains("[corral: dropped 30 bytes of output, rate limit 50 B/s]"));
        assert!(
            text.contains("[corral: dropped 75 bytes of output"),
            "{text}"
        );
        assert!(memory.files.iter().all(|f| f.len() <= 100));
    }

    #[test]
    fn unlimited_writers_keep_everything() {
        let mut memory = Memory::default();
        let mut w = LogWriter::new(&mut memory, 100, config(None, 0), Duration::ZERO);
        w.accept(Duration::ZERO, &[b'a'; 1000]).unwrap();
        w.finish(Duration::ZERO).unwrap();
        assert_eq!(memory.files.len(), 10);
        assert!(memory.files.iter().all(|f| f.len() == 100));
    }

    #[test]
    fn config_comes_from_the_environment_variables() {
        assert_eq!(LoggerConfig::from_vars(|_| None), None);
        let vars = |name: &str| match name {
            ENV_MAX_STDOUT_SIZE => Some("65536".to_string()),
            ENV_MAX_FILES => Some("3".to_string()),
            ENV_RATE_LIMIT => Some("1024".to_string()),
            ENV_MAX_STDERR_SIZE => Some("bogus".to_string()),
            _ => None,
        };
        let c = LoggerConfig::from_vars(vars).unwrap();
        assert_eq!(c.max_stdout_size, 65536);
        assert_eq!(c.max_stderr_size, 10 << 20);
        assert_eq!(c.max_files, 3);
        assert_eq!(c.rate_limit, Some(1024));
        assert_eq!(c.burst, 1024);
    }

    #[tokio::test]
    async fn pumps_a_pipe_into_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![b'q'; 1000];
        let c = LoggerConfig {
            max_files: 3,
            ..config(None, 0)
        };
        pump(&data[..], dir.path(), "stdout", 300, c).await;
        let size = |n: &str| std::fs::metadata(dir.path().join(n)).map(|m| m.len()).ok();
        assert_eq!(size("stdout"), Some(100));
        assert_eq!(size("stdout.1"), Some(300));
        assert_eq!(size("stdout.2"), Some(300));
        assert_eq!(size("stdout.3"), None);
    }
}
