//! `corral bench launch`: launch throughput ACCEPT → TASK_RUNNING on loopback.
//!
//! A master starts in this process with N agents: in this process too, or as `corral agent`
//! processes (`--agent-processes`). With `--executors=process` (the default) every task is a
//! real `corral executor` process running `true` (two fork/execs per task, so the fork/exec
//! floor bounds it); with `--executors=inline` the agents' containers are inline executors
//! (`bench/inline.rs`) that report TASK_RUNNING and TASK_FINISHED through the agent's real
//! executor API, checkpoints and status-update manager without starting a process: the
//! master + agent + protocol path. A Rust scheduler launches M tasks as fast as offers and the
//! concurrency limit allow, and ACCEPT → TASK_RUNNING / TASK_FINISHED latencies are taken from
//! the moment the ACCEPT is sent. The report puts the rate next to the loopback HTTP floor and
//! the design target (≥ 10,000/s in-process, ≥ 5,000/s with agent processes).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use corral_api::v1::scheduler::event::Type as EventType;
use corral_api::v1::scheduler::Event;
use corral_api::v1::{CommandInfo, FrameworkInfo, Offer, TaskId, TaskInfo, TaskState};
use corral_client::scheduler::calls;
use corral_client::{Endpoint, EventStream, SchedulerClient, SchedulerHandle, SubscribeOptions};
use futures::StreamExt;

use super::launch_agents::{self, AgentPlan, Executors};
use super::{floor, stats};
use crate::cluster;

/// Design target with in-process agents (tasks/s reaching TASK_RUNNING).
const TARGET_IN_PROCESS: usize = 10_000;
/// Design target with agent processes over loopback.
const TARGET_PROCESSES: usize = 5_000;

const TASK_CPUS: f64 = 0.01;
const TASK_MEM: f64 = 1.0;

/// Flags of `corral bench launch`.
#[derive(Args)]
pub struct LaunchArgs {
    /// Agents.
    #[arg(long, default_value_t = 4)]
    pub agents: usize,
    /// Who runs the tasks: `process` (a real `corral executor` per task) or `inline` (no
    /// process; the master + agent + protocol path only).
    #[arg(long, value_enum, default_value_t = Executors::Process)]
    pub executors: Executors,
    /// Run the agents as `corral agent` processes instead of in this process.
    #[arg(long = "agent-processes")]
    pub agent_processes: bool,
    /// The framework checkpoints (`FrameworkInfo.checkpoint`: the agents write every launch
    /// and status update to disk, fsynced, before acting on it). Off by default, as in Mesos.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub checkpoint: bool,
    /// Tasks to launch.
    #[arg(long, default_value_t = 500)]
    pub tasks: usize,
    /// Most tasks in flight (launched, not finished) at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Stop after this many seconds even if not every task finished.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Keep state here instead of a temporary directory.
    #[arg(long = "work_dir")]
    pub work_dir: Option<PathBuf>,
    /// Skip the floor measurements.
    #[arg(long = "no-floor")]
    pub no_floor: bool,
}

/// Progress of the run.
#[derive(Default)]
struct Tracker {
    /// When each unfinished task was accepted, and whether it was seen RUNNING.
    accepted_at: HashMap<String, (Instant, bool)>,
    to_running: Vec<Duration>,
    to_finished: Vec<Duration>,
    launched: usize,
    finished: usize,
    failed: usize,
    first_accept: Option<Instant>,
    last_running: Option<Instant>,
    last_done: Option<Instant>,
    failures: Vec<String>,
}

impl Tracker {
    fn in_flight(&self) -> usize {
        self.launched - self.finished - self.failed
    }

    fn done(&self) -> usize {
        self.finished + self.failed
    }

    fn accepted(&mut self, task_id: String, at: Instant) {
        self.first_accept.get_or_insert(at);
        self.accepted_at.insert(task_id, (at, false));
        self.launched += 1;
    }

    fn update(&mut self, task_id: &str, state: TaskState, message: Option<&str>, at: Instant) {
        let Some((accepted, seen_running)) = self.accepted_at.get_mut(task_id) else {
            return;
        };
        let accepted = *accepted;
        match state {
            // A resent update (its acknowledgement was late) is not a second start.
            TaskState::TaskRunning if !*seen_running => {
                *seen_running = true;
                self.to_running.push(at - accepted);
                self.last_running = Some(at);
            }
            TaskState::TaskFinished => {
                self.to_finished.push(at - accepted);
                self.finished += 1;
                self.accepted_at.remove(task_id);
                self.last_done = Some(at);
            }
            s if corral_executor::status::is_terminal(s) => {
                self.failed += 1;
                self.accepted_at.remove(task_id);
                self.last_done = Some(at);
                if self.failures.len() < 5 {
                    self.failures.push(format!(
                        "{task_id}: {} {}",
                        s.as_str_name(),
                        message.unwrap_or_default()
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Runs the benchmark and prints its report.
pub async fn launch(args: LaunchArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(
        args.agents > 0 && args.tasks > 0 && args.concurrency > 0,
        "--agents, --tasks and --concurrency must be positive"
    );
    let temp = tempfile::Builder::new()
        .prefix("corral-bench-")
        .tempdir()
        .context("creating a work directory")?;
    let root = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());

    let master = cluster::start_master("127.0.0.1", 0, &root.join("master"), &[]).await?;
    let master_endpoint = Endpoint::new("127.0.0.1", master.addr.port());
    let slots = args.concurrency.div_ceil(args.agents) * 2;
    let resources = format!(
        "cpus:{:.2};mem:{};disk:1000",
        (slots as f64 * TASK_CPUS).max(1.0),
        (slots as f64 * TASK_MEM).max(64.0)
    );
    let plan = AgentPlan {
        count: args.agents,
        processes: args.agent_processes,
        executors: args.executors,
        master: &master_endpoint,
        root: &root,
        resources: &resources,
    };
    let agents = match launch_agents::start(&plan).await {
        Ok(agents) => agents,
        Err(error) => {
            master.shutdown().await;
            return Err(error);
        }
    };
    let outcome = async {
        cluster::wait_for_agents(&master_endpoint, args.agents, Duration::from_secs(30)).await?;
        schedule(&args, &master_endpoint).await
    }
    .await;
    agents.stop().await;
    master.shutdown().await;
    let tracker = outcome?;
    report(&args, tracker);
    if !args.no_floor {
        println!("{}", floor::http(1).await?);
        println!("{}", floor::http(8).await?);
        if args.executors == Executors::Process {
            println!("{}", floor::fork_exec(1).await?);
            println!("{}", floor::fork_exec(2).await?);
        }
    }
    Ok(0)
}

async fn schedule(args: &LaunchArgs, master: &Endpoint) -> anyhow::Result<Tracker> {
    let info = FrameworkInfo {
        user: "root".into(),
        name: "corral-bench".into(),
        checkpoint: Some(args.checkpoint),
        ..FrameworkInfo::default()
    };
    let (handle, mut events) =
        SchedulerClient::subscribe(&master.to_string(), info, SubscribeOptions::default())
            .await
            .context("subscribing the benchmark scheduler")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut tracker = Tracker::default();
    let result = drive(args, &handle, &mut events, &mut tracker, deadline).await;
    let _ = handle.teardown().await;
    result.map(|()| tracker)
}

async fn drive(
    args: &LaunchArgs,
    handle: &SchedulerHandle,
    events: &mut EventStream<Event>,
    tracker: &mut Tracker,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    while tracker.done() < args.tasks {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::time::sleep_until(deadline) => {
                eprintln!("bench: deadline reached with {} of {} tasks done", tracker.done(), args.tasks);
                return Ok(());
            }
        };
        let event = match event {
            Some(Ok(event)) => event,
            Some(Err(error)) => anyhow::bail!("lost the master: {error}"),
            None => anyhow::bail!("the master closed the subscription"),
        };
        match event.r#type() {
            EventType::Offers => {
                for offer in event.offers.map(|o| o.offers).unwrap_or_default() {
                    use_offer(args, handle, tracker, offer);
                }
            }
            EventType::Update => {
                let Some(update) = event.update else { continue };
                let status = update.status;
                tracker.update(
                    &status.task_id.value,
                    status.state(),
                    status.message.as_deref(),
                    Instant::now(),
                );
                let handle = handle.clone();
                tokio::spawn(async move {
                    // Late acknowledgements may race the final TEARDOWN; that is harmless.
                    if let Err(error) = handle.acknowledge(&status).await {
                        tracing::debug!(%error, "ACKNOWLEDGE failed");
                    }
                });
            }
            EventType::Error => {
                anyhow::bail!(
                    "master error: {}",
                    event.error.map(|e| e.message).unwrap_or_default()
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// Launches as many tasks on `offer` as fit, remain and the concurrency allows (one ACCEPT),
/// or declines it briefly.
fn use_offer(args: &LaunchArgs, handle: &SchedulerHandle, tracker: &mut Tracker, offer: Offer) {
    let room = args.concurrency.saturating_sub(tracker.in_flight());
    let remaining = args.tasks - tracker.launched;
    let cpus = offer_scalar(&offer, "cpus");
    let mem = offer_scalar(&offer, "mem");
    let fit = ((cpus + 1e-9) / TASK_CPUS)
        .floor()
        .min(((mem + 1e-9) / TASK_MEM).floor()) as usize;
    let count = room.min(remaining).min(fit);
    let handle = handle.clone();
    if count == 0 {
        tokio::spawn(async move {
            let _ = handle
                .decline(vec![offer.id], Some(calls::refuse_for(0.1)))
                .await;
        });
        return;
    }
    let now = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let task_id = format!("bench-{}", tracker.launched);
        tasks.push(task(&offer, &task_id));
        tracker.accepted(task_id, now);
    }
    tokio::spawn(async move {
        if let Err(error) = handle
            .launch(vec![offer.id], tasks, Some(calls::refuse_for(0.0)))
            .await
        {
            tracing::error!(%error, "ACCEPT failed");
        }
    });
}

fn offer_scalar(offer: &Offer, name: &str) -> f64 {
    offer
        .resources
        .iter()
        .filter(|r| r.name == name)
        .filter_map(|r| r.scalar.as_ref())
        .map(|s| s.value)
        .sum()
}

fn task(offer: &Offer, task_id: &str) -> TaskInfo {
    let resource = |name: &str, value: f64| {
        let template = offer
            .resources
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .unwrap_or_default();
        corral_api::v1::Resource {
            scalar: Some(corral_api::v1::value::Scalar { value }),
            ..template
        }
    };
    TaskInfo {
        name: "bench".into(),
        task_id: TaskId {
            value: task_id.into(),
        },
        agent_id: offer.agent_id.clone(),
        resources: vec![resource("cpus", TASK_CPUS), resource("mem", TASK_MEM)],
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..CommandInfo::default()
        }),
        ..TaskInfo::default()
    }
}

fn report(args: &LaunchArgs, mut tracker: Tracker) {
    let span = |end: Option<Instant>| match (tracker.first_accept, end) {
        (Some(start), Some(end)) => end - start,
        _ => Duration::ZERO,
    };
    let running_span = span(tracker.last_running);
    let done_span = span(tracker.last_done);
    let (where_, target) = if args.agent_processes {
        ("agent processes", TARGET_PROCESSES)
    } else {
        ("in-process agents", TARGET_IN_PROCESS)
    };
    let what = match args.executors {
        Executors::Process => "`corral executor` processes running `true`",
        Executors::Inline => "inline executors, no process",
    };
    println!(
        "bench launch: {} {where_}, {} tasks ({what}), concurrency {}, checkpoint {}",
        args.agents, args.tasks, args.concurrency, args.checkpoint
    );
    println!(
        "  launched {}, finished {}, failed {}, in {:.2} s",
        tracker.launched,
        tracker.finished,
        tracker.failed,
        done_span.as_secs_f64()
    );
    for failure in &tracker.failures {
        println!("  failure: {failure}");
    }
    println!(
        "  ACCEPT → TASK_RUNNING   {}",
        stats::summary(&mut tracker.to_running)
    );
    println!(
        "  ACCEPT → TASK_FINISHED  {}",
        stats::summary(&mut tracker.to_finished)
    );
    println!(
        "  throughput: {} reached TASK_RUNNING, {} finished",
        stats::rate(tracker.to_running.len(), running_span),
        stats::rate(tracker.finished, done_span)
    );
    println!(
        "  target: ≥ {}/s reaching TASK_RUNNING with {where_}",
        stats::thousands(target as u64)
    );
    if args.executors == Executors::Inline {
        // What bounds this path: each task costs about eight loopback HTTP exchanges, so the
        // rate is at most the HTTP floor below divided by eight (minus everything else).
        println!(
            "  HTTP exchanges per task: ≈ 8 (executor SUBSCRIBE + 2 UPDATE, agent → master \
             2 STATUS_UPDATE + EXITED_EXECUTOR, scheduler 2 ACKNOWLEDGE; one ACCEPT per offer)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_latencies_and_flight() {
        let mut t = Tracker::default();
        let start = Instant::now();
        t.accepted("a".into(), start);
        t.accepted("b".into(), start);
        assert_eq!(t.in_flight(), 2);
        t.update(
            "a",
            TaskState::TaskRunning,
            None,
            start + Duration::from_millis(10),
        );
        t.update(
            "a",
            TaskState::TaskRunning,
            None,
            start + Duration::from_millis(15),
        );
        t.update(
            "a",
            TaskState::TaskFinished,
            None,
            start + Duration::from_millis(20),
        );
        t.update(
            "b",
            TaskState::TaskFailed,
            Some("boom"),
            start + Duration::from_millis(30),
        );
        t.update("zzz", TaskState::TaskFinished, None, start);
        assert_eq!(
            (t.finished, t.failed, t.in_flight(), t.done()),
            (1, 1, 0, 2)
        );
        assert_eq!(t.to_running, [Duration::from_millis(10)]);
        assert_eq!(t.to_finished, [Duration::from_millis(20)]);
        assert_eq!(t.failures, ["b: TASK_FAILED boom"]);
    }
}
