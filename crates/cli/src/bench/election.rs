//! `corral bench election`: leader loss → a new leader serving, with real `corral master`
//! processes contending through a real ZooKeeper.
//!
//! The bench starts `--masters` master processes (this binary) on loopback against `--zk`, waits
//! for exactly one of them to serve scheduler calls, then repeatedly SIGKILLs the leader and
//! times until exactly one other master serves. ZooKeeper cannot notice a dead client before its
//! session expires, so the session timeout is the physical floor of the whole figure; what the
//! design targets (≤ 1 s) is the part after the expiry: noticing the deleted election node,
//! taking the epoch from the registry, recovering and opening for business. The killed master is
//! restarted as a standby before the next round.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use corral_client::transport::Http;
use corral_client::Endpoint;
use http::{HeaderMap, StatusCode};

use super::stats;

/// What the design allows after the session expired.
const TARGET_AFTER_EXPIRY: Duration = Duration::from_secs(1);

/// Flags of `corral bench election`.
#[derive(Args)]
pub struct ElectionArgs {
    /// The ZooKeeper ensemble and election path, e.g. `zk://127.0.0.1:2181/corral-bench`
    /// (`scripts/zk-ensemble.sh start <dir>` prints a connect string). The path is used by this
    /// bench alone: stale election nodes in it would be contenders.
    #[arg(long)]
    pub zk: String,
    /// Master processes contending.
    #[arg(long, default_value_t = 3)]
    pub masters: usize,
    /// `--zk_session_timeout` of the masters, in seconds (ZooKeeper may negotiate it within its
    /// tickTime bounds: 2..20 ticks).
    #[arg(long = "session-secs", default_value_t = 4)]
    pub session_secs: u64,
    /// Leader kills to time.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Give up on a round after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

/// One `corral master` child process.
struct Master {
    index: usize,
    port: u16,
    work_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Master {
    fn start(&mut self, args: &ElectionArgs) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating this corral binary")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(exe)
            .args(["master", "--ip", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--work_dir")
            .arg(&self.work_dir)
            .args(["--zk", &args.zk, "--zk_session_timeout"])
            .arg(format!("{}secs", args.session_secs))
            .args(["--quorum", &(args.masters / 2 + 1).to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting master {}", self.index))?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn alive(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the bench.
pub async fn election(args: ElectionArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(args.masters >= 2, "--masters must be at least 2");
    anyhow::ensure!(
        args.zk.starts_with("zk://"),
        "--zk must be a zk:// URL, got '{}'",
        args.zk
    );
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let mut masters = Vec::new();
    for index in 0..args.masters {
        let work_dir = dir.path().join(format!("master{index}"));
        std::fs::create_dir_all(&work_dir)?;
        let mut master = Master {
            index,
            port: free_port()?,
            work_dir,
            log: dir.path().join(format!("master{index}.log")),
            child: None,
        };
        master.start(&args)?;
        masters.push(master);
    }
    let http = Http::new(Duration::from_millis(500));
    let round_timeout = Duration::from_secs(args.timeout);
    let mut leader = wait_for_leader(&http, &masters, None, round_timeout)
        .await
        .map_err(|e| with_logs(e, &masters))?;
    println!(
        "{} masters on zk {}, session timeout {} s; master{} leads",
        args.masters, args.zk, args.session_secs, leader
    );

    let session = Duration::from_secs(args.session_secs);
    let mut total = Vec::new();
    let mut after_expiry = Vec::new();
    for round in 1..=args.rounds {
        let killed_at = Instant::now();
        masters[leader].kill();
        let next = wait_for_leader(&http, &masters, Some(leader), round_timeout)
            .await
            .map_err(|e| with_logs(e, &masters))?;
        let elapsed = killed_at.elapsed();
        let late = elapsed.saturating_sub(session);
        println!(
            "round {round}: master{leader} killed → master{next} serving after {} ({} after the session expired)",
            stats::duration(elapsed),
            stats::duration(late),
        );
        total.push(elapsed);
        after_expiry.push(late);
        // The killed one comes back as a standby for the next round.
        masters[leader].start(&args)?;
        wait_healthy(&http, &masters[leader], round_timeout).await?;
        leader = next;
    }
    println!(
        "leader loss → new leader serving:        {}",
        stats::summary(&mut total)
    );
    println!(
        "  floor: the ZooKeeper session timeout:  {} (no client can be seen dead sooner; the server\n         expires sessions in tickTime buckets, so add up to one tick: 500 ms in scripts/zk-ensemble.sh)",
        stats::duration(session)
    );
    let worst = after_expiry.iter().max().copied().unwrap_or_default();
    println!(
        "after the session expired:                {}   target ≤ {} → {}",
        stats::summary(&mut after_expiry),
        stats::duration(TARGET_AFTER_EXPIRY),
        if worst <= TARGET_AFTER_EXPIRY {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(0)
}

/// Waits until exactly one live master other than `old` answers scheduler calls itself.
async fn wait_for_leader(
    http: &Http,
    masters: &[Master],
    old: Option<usize>,
    timeout: Duration,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut serving = Vec::new();
        for master in masters.iter().filter(|m| m.alive()) {
            if serves(http, master.port).await {
                serving.push(master.index);
            }
        }
        if let [one] = serving[..] {
            if Some(one) != old {
                return Ok(one);
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no single new leader within {timeout:?} (serving: {serving:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A leader answers an empty scheduler call with 400 itself; a standby redirects (307) or has
/// no leader to name (503).
async fn serves(http: &Http, port: u16) -> bool {
    let endpoint = Endpoint::new("127.0.0.1", port);
    matches!(
        http.post_json(
            &endpoint,
            "/api/v1/scheduler",
            HeaderMap::new(),
            Bytes::from_static(b"{}")
        )
        .await,
        Ok((StatusCode::BAD_REQUEST, _, _))
    )
}

async fn wait_healthy(http: &Http, master: &Master, timeout: Duration) -> anyhow::Result<()> {
    let endpoint = Endpoint::new("127.0.0.1", master.port);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok((StatusCode::OK, _, _)) = http.get(&endpoint, "/health").await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("master{} not healthy within {timeout:?}", master.index)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Adds the tail of every master's log to `error`.
fn with_logs(error: anyhow::Error, masters: &[Master]) -> anyhow::Error {
    let tails: Vec<String> = masters
        .iter()
        .map(|m| format!("--- master{} ---\n{}", m.index, tail(&m.log, 20)))
        .collect();
    error.context(tails.join("\n"))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
