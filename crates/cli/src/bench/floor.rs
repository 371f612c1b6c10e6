//! Physical floors on this machine, printed next to the benchmarks: a minimal HTTP server's
//! request rate on loopback, and the cost of fork/exec.

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use corral_client::transport::Http;
use corral_client::Endpoint;

use super::stats;

/// How long each floor is measured.
const WINDOW: Duration = Duration::from_secs(2);

/// Request rate of an axum hello handler hit by `clients` keep-alive clients for 2 s.
pub async fn http(clients: usize) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the floor server")?;
    let port = listener.local_addr()?.port();
    let app = Router::new().route("/", get(|| async { "hello" }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoint = Endpoint::new("127.0.0.1", port);
    let deadline = Instant::now() + WINDOW;
    let mut workers = Vec::new();
    for _ in 0..clients.max(1) {
        let endpoint = endpoint.clone();
        workers.push(tokio::spawn(async move {
            let http = Http::default();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                if http.get(&endpoint, "/").await.is_err() {
                    break;
                }
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    server.abort();
    Ok(format!(
        "floor: loopback HTTP, axum hello, {clients} keep-alive client(s): {} requests in {:.1} s = {}, latency {}",
        stats::thousands(latencies.len() as u64),
        elapsed.as_secs_f64(),
        stats::rate(latencies.len(), elapsed),
        stats::summary(&mut latencies),
    ))
}

/// Spawn+wait rate of `true` from `parallel` threads for 2 s.
pub async fn fork_exec(parallel: usize) -> anyhow::Result<String> {
    let deadline = Instant::now() + WINDOW;
    let mut workers = Vec::new();
    for _ in 0..parallel.max(1) {
        workers.push(tokio::task::spawn_blocking(move || {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                match std::process::Command::new("true").status() {
                    Ok(_) => latencies.push(started.elapsed()),
                    Err(_) => break,
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(!latencies.is_empty(), "cannot run `true`");
    Ok(format!(
        "floor: fork/exec `true` (spawn+wait), {parallel} in parallel: {}, latency {}",
        stats::rate(latencies.len(), elapsed),
        stats::summary(&mut latencies),
    ))
}
