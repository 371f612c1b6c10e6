//! `corral agents|frameworks|tasks`: tables from the master's legacy endpoints.

use anyhow::Context;
use clap::Args;
use corral_client::legacy::{Frameworks, Slave, Slaves, Tasks};
use corral_client::{Endpoint, LegacyClient};
use serde_json::Value;

use crate::table;

/// Flags of the listing verbs.
#[derive(Args)]
pub struct ListArgs {
    /// The master (`host:port` or `http://host:port`).
    #[arg(long, env = "CORRAL_MASTER", default_value = "127.0.0.1:5050")]
    pub master: String,
    /// Print the endpoint's raw JSON.
    #[arg(long)]
    pub json: bool,
    /// Include inactive agents, completed frameworks, terminal tasks.
    #[arg(long)]
    pub all: bool,
}

fn client(master: &str) -> anyhow::Result<LegacyClient> {
    let endpoint = Endpoint::parse(master, corral_client::endpoint::MASTER_PORT)?;
    Ok(LegacyClient::new(endpoint))
}

async fn fetch(args: &ListArgs, path: &str) -> anyhow::Result<Value> {
    let client = client(&args.master)?;
    client
        .get_json(path)
        .await
        .with_context(|| format!("reading {path} from the master at {}", client.endpoint()))
}

fn print_json(value: &Value) -> anyhow::Result<u8> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(0)
}

/// `corral agents`.
pub async fn agents(args: ListArgs) -> anyhow::Result<u8> {
    let raw = fetch(&args, "/slaves").await?;
    if args.json {
        return print_json(&raw);
    }
    let slaves: Slaves = serde_json::from_value(raw).context("unexpected /slaves document")?;
    let rows: Vec<Vec<String>> = slaves
        .slaves
        .iter()
        .filter(|s| args.all || s.active)
        .map(|s| {
            vec![
                s.id.clone(),
                s.hostname.clone(),
                s.active.to_string(),
                resources(s),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["ID", "HOSTNAME", "ACTIVE", "RESOURCES (used/total)"],
            &rows
        )
    );
    Ok(0)
}

/// `cpus 0.1/4 mem 32/4096 disk 0/10000 ports [31000-32000]`.
fn resources(slave: &Slave) -> String {
    let mut parts = Vec::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        let total = slave
            .resources
            .get(name)
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if name == "gpus" && total == 0.0 {
            continue;
        }
        let used = slave
            .used_resources
            .get(name)
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        parts.push(format!("{name} {}/{}", number(used), number(total)));
    }
    for (name, value) in &slave.resources {
        if !["cpus", "gpus", "mem", "disk"].contains(&name.as_str()) {
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            parts.push(format!("{name} {text}"));
        }
    }
    parts.join(" ")
}

fn number(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

/// `corral frameworks`.
pub async fn frameworks(args: ListArgs) -> anyhow::Result<u8> {
    let raw = fetch(&args, "/frameworks").await?;
    if args.json {
        return print_json(&raw);
    }
    let all: Frameworks = serde_json::from_value(raw).context("unexpected /frameworks document")?;
    let completed = if args.all {
        all.completed_frameworks.as_slice()
    } else {
        &[]
    };
    let rows: Vec<Vec<String>> = all
        .frameworks
        .iter()
        .chain(completed)
        .map(|f| {
            vec![
                f.id.clone(),
                f.name.clone(),
                f.active.to_string(),
                f.tasks.len().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["ID", "NAME", "ACTIVE", "TASKS"], &rows)
    );
    Ok(0)
}

/// `corral tasks`.
pub async fn tasks(args: ListArgs) -> anyhow::Result<u8> {
    let raw = fetch(&args, "/tasks?limit=-1").await?;
    if args.json {
        return print_json(&raw);
    }
    let all: Tasks = serde_json::from_value(raw).context("unexpected /tasks document")?;
    let rows: Vec<Vec<String>> = all
        .tasks
        .iter()
        .filter(|t| args.all || !is_terminal(&t.state))
        .map(|t| {
            vec![
                t.id.clone(),
                t.name.clone(),
                t.state.clone(),
                t.framework_id.clone(),
                t.slave_id.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["ID", "NAME", "STATE", "FRAMEWORK", "AGENT"], &rows)
    );
    Ok(0)
}

fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_ERROR"
            | "TASK_LOST"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_used_over_total() {
        let slave: Slave = serde_json::from_value(serde_json::json!({
            "resources": {"cpus": 4.0, "gpus": 0.0, "mem": 4096.0, "disk": 100.0, "ports": "[31000-32000]"},
            "used_resources": {"cpus": 0.1, "mem": 32.0}
        }))
        .unwrap();
        assert_eq!(
            resources(&slave),
            "cpus 0.1/4 mem 32/4096 disk 0/100 ports [31000-32000]"
        );
    }
}
