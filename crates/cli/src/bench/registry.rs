//! `corral bench registry`: durable registry writes per second on the default (redb) store,
//! one write per fsync versus group commit, next to the physical floor: how many fsyncs of a
//! small file this disk does per second.
//!
//! The master's actor blocks while a registry batch is made durable, and every agent's first
//! admission is a write, so this rate bounds how fast a cold cluster of agents can register.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use corral_api::v1;
use corral_master::registry::{AgentRecord, AgentState, Registry, RegistryWrite};
use corral_store::RedbStore;

use super::stats;

/// Flags of `corral bench registry`.
#[derive(Args)]
pub struct RegistryArgs {
    /// Agent admissions to write per batch size.
    #[arg(long, default_value_t = 2000)]
    pub writes: usize,
    /// Batch sizes to try (1 = one fsync per write, as without group commit).
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    pub batches: Vec<usize>,
}

/// Runs the bench.
pub fn registry(args: RegistryArgs) -> anyhow::Result<u8> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let floor = fsync_rate(dir.path(), Duration::from_secs(2))?;
    println!(
        "floor: fsync of a 512-byte append on this disk: {} ({} each)",
        stats::rate(floor.0, floor.1),
        stats::duration(floor.1 / u32::try_from(floor.0.max(1)).unwrap_or(u32::MAX)),
    );
    for (round, &batch) in args.batches.iter().enumerate() {
        let batch = batch.max(1);
        let store = RedbStore::open(dir.path().join(format!("registry-{round}.redb")))?;
        let mut registry = Registry::new(std::sync::Arc::new(store));
        registry.load()?;
        let writes: Vec<RegistryWrite> = (0..args.writes)
            .map(|i| {
                RegistryWrite::Agent(AgentRecord {
                    info: v1::AgentInfo {
                        hostname: format!("agent-{i}.example"),
                        port: Some(5051),
                        id: Some(v1::AgentId {
                            value: format!("bench-S{i}"),
                        }),
                        ..Default::default()
                    },
                    state: AgentState::Admitted,
                })
            })
            .collect();
        let started = Instant::now();
        for chunk in writes.chunks(batch) {
            let group: Vec<&RegistryWrite> = chunk.iter().collect();
            registry.apply_all(&group)?;
        }
        let elapsed = started.elapsed();
        println!(
            "{} agent admissions in batches of {batch:>3}: {} in {} = {}",
            stats::thousands(args.writes as u64),
            if batch == 1 {
                "one fsync each"
            } else {
                "group commit "
            },
            stats::duration(elapsed),
            stats::rate(args.writes, elapsed),
        );
    }
    Ok(0)
}

/// fsyncs of a small append per `window`: (count, elapsed).
fn fsync_rate(dir: &std::path::Path, window: Duration) -> anyhow::Result<(usize, Duration)> {
    let mut file = std::fs::File::create(dir.join("fsync-floor"))?;
    let block = [0u8; 512];
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < window {
        file.write_all(&block)?;
        file.sync_data()?;
        count += 1;
    }
    Ok((count, started.elapsed()))
}
