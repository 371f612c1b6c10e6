//! `GET /metrics/prometheus`: the agent's metrics in the Prometheus text exposition format
//! (version 0.0.4): the `slave/*` gauges of `/metrics/snapshot` as `corral_slave_*`, and per
//! executor container its CPU times, throttling, memory and sandbox disk usage, labelled with `container_id`,
//! `executor_id` and `framework_id`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use corral_api::v1::ResourceStatistics;
use corral_http::ApiError;
use http::header::CONTENT_TYPE;

use super::metrics::{measure, metrics};
use super::HttpState;

/// The content type of the text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One container's labels and statistics.
#[derive(Debug, Clone)]
pub struct ContainerSample {
    /// `container_id` label.
    pub container_id: String,
    /// `executor_id` label.
    pub executor_id: String,
    /// `framework_id` label.
    pub framework_id: String,
    /// The measurement.
    pub statistics: ResourceStatistics,
}

/// A per-container metric: name, type, help, and how to read it.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ResourceStatistics) -> Option<f64>,
);

const FAMILIES: [Family; 10] = [
    (
        "corral_container_cpu_user_seconds_total",
        "counter",
        "CPU time spent in user mode.",
        |s| s.cpus_user_time_secs,
    ),
    (
        "corral_container_cpu_system_seconds_total",
        "counter",
        "CPU time spent in kernel mode.",
        |s| s.cpus_system_time_secs,
    ),
    (
        "corral_container_cpu_limit",
        "gauge",
        "CPU limit in cores.",
        |s| s.cpus_limit,
    ),
    (
        "corral_container_cpu_throttled_periods_total",
        "counter",
        "CFS periods in which the container was throttled.",
        |s| s.cpus_nr_throttled.map(f64::from),
    ),
    (
        "corral_container_cpu_throttled_seconds_total",
        "counter",
        "Time the container was throttled.",
        |s| s.cpus_throttled_time_secs,
    ),
    (
        "corral_container_memory_rss_bytes",
        "gauge",
        "Resident memory.",
        |s| s.mem_rss_bytes.map(|b| b as f64),
    ),
    (
        "corral_container_memory_limit_bytes",
        "gauge",
        "Memory limit.",
        |s| s.mem_limit_bytes.map(|b| b as f64),
    ),
    (
        "corral_container_processes",
        "gauge",
        "Processes in the container.",
        |s| s.processes.map(f64::from),
    ),
    (
        "corral_container_disk_used_bytes",
        "gauge",
        "Sandbox disk usage (disk/du).",
        |s| s.disk_used_bytes.map(|b| b as f64),
    ),
    (
        "corral_container_disk_limit_bytes",
        "gauge",
        "Sandbox disk quota (disk/du).",
        |s| s.disk_limit_bytes.map(|b| b as f64),
    ),
];

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric name from a `/metrics/snapshot` key: `slave/cpus_total` → `corral_slave_cpus_total`.
fn metric_name(key: &str) -> String {
    let mut out = String::from("corral_");
    for c in key.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    out
}

/// The exposition text.
pub fn render(gauges: &[(String, f64)], containers: &[ContainerSample]) -> String {
    let mut out = String::new();
    for (key, value) in gauges {
        let name = metric_name(key);
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {value}");
    }
    for (name, kind, help, read) in FAMILIES {
        let samples: Vec<(&ContainerSample, f64)> = containers
            .iter()
            .filter_map(|c| read(&c.statistics).map(|v| (c, v)))
            .collect();
        if samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (c, value) in samples {
            let _ = writeln!(
                out,
                "{name}{{container_id=\"{}\",executor_id=\"{}\",framework_id=\"{}\"}} {value}",
                escape(&c.container_id),
                escape(&c.executor_id),
                escape(&c.framework_id),
            );
        }
    }
    out
}

pub(super) async fn prometheus(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let uptime = state.info.started.elapsed().as_secs_f64();
    let gauges: Vec<(String, f64)> = metrics(&state.info.resources, &snapshot, uptime)
        .into_iter()
        .filter_map(|(k, v)| v.as_f64().map(|v| (k, v)))
        .collect();
    let containers: Vec<ContainerSample> = measure(&state, &snapshot)
        .await
        .into_iter()
        .map(|m| ContainerSample {
            container_id: m.executor.container_id.clone(),
            executor_id: m.executor.id().to_string(),
            framework_id: m.framework_id.to_string(),
            statistics: m.statistics,
        })
        .collect();
    Ok((
        [(CONTENT_TYPE, CONTENT_TYPE_TEXT)],
        render(&gauges, &containers),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_samples_and_skips_unmeasured_families() {
        let sample = ContainerSample {
            container_id: "c\"1".into(),
            executor_id: "e1".into(),
            framework_id: "f1".into(),
            statistics: ResourceStatistics {
                cpus_user_time_secs: Some(1.5),
                cpus_system_time_secs: Some(0.25),
                mem_rss_bytes: Some(4096),
                ..Default::default()
            },
        };
        let text = render(&[("slave/cpus_total".into(), 4.0)], &[sample]);
        assert!(text.contains("# TYPE corral_slave_cpus_total gauge\ncorral_slave_cpus_total 4\n"));
        assert!(text.contains(
            "corral_container_cpu_user_seconds_total{container_id=\"c\\\"1\",executor_id=\"e1\",framework_id=\"f1\"} 1.5\n"
        ));
        assert!(text.contains("# TYPE corral_container_cpu_system_seconds_total counter"));
        assert!(text.contains("corral_container_memory_rss_bytes{"));
        assert!(!text.contains("memory_limit_bytes"));
    }
}
