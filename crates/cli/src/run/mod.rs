//! `corral run -- CMD...`: a one-off command task through the scheduler API, its output
//! streamed to the terminal, its exit code returned.

mod logs;
mod offer;

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use corral_api::v1::framework_info::{capability, Capability};
use corral_api::v1::scheduler::event::Type as EventType;
use corral_api::v1::scheduler::Event;
use corral_api::v1::{FrameworkInfo, Offer, TaskState, TaskStatus};
use corral_client::scheduler::calls;
use corral_client::{
    Endpoint, EventStream, LegacyClient, SchedulerClient, SchedulerHandle, SubscribeOptions,
};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::signals::shutdown_signal;
use offer::Want;

/// Flags of `corral run`.
#[derive(Args)]
pub struct RunArgs {
    /// The master (`host:port`, `http://host:port`, or `zk://host:port/path` to follow the
    /// leader elected in ZooKeeper).
    #[arg(long, env = "CORRAL_MASTER", default_value = "127.0.0.1:5050")]
    pub master: String,
    /// CPUs for the task.
    #[arg(long, default_value_t = 0.1)]
    pub cpus: f64,
    /// Memory for the task, in MB.
    #[arg(long, default_value_t = 32.0)]
    pub mem: f64,
    /// Task name (default: the command's first word).
    #[arg(long)]
    pub name: Option<String>,
    /// Role to run under.
    #[arg(long)]
    pub role: Option<String>,
    /// User to run the task as (default: yours).
    #[arg(long)]
    pub user: Option<String>,
    /// How long to wait for an offer that fits, in seconds.
    #[arg(long = "offer-timeout", default_value_t = 60.0)]
    pub offer_timeout: f64,
    /// Print the task's progress on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// The command: one argument is a shell command line; several are quoted and joined.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// Runs the task; returns its exit code.
pub async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(args.cpus)
        || !(positive(args.mem) || args.mem == 0.0)
        || !positive(args.offer_timeout)
    {
        bail!("--cpus and --offer-timeout must be positive, --mem not negative");
    }
    let command = offer::shell_command(&args.command);
    let info = framework_info(&args);
    // A CLI should not sit for a minute in front of a master that is not there.
    // Under `zk://` a failover takes up to a ZooKeeper session timeout (10 s by default).
    let leader_timeout = if corral_client::endpoint::DetectedLeader::is_zk(&args.master) {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(10)
    };
    let options = SubscribeOptions {
        leader_timeout,
        ..SubscribeOptions::default()
    };
    let (handle, mut events) = SchedulerClient::subscribe(&args.master, info, options)
        .await
        .with_context(|| format!("subscribing to the master at {}", args.master))?;
    let mut session = Session::new(&args, handle.clone(), command);
    let result = session.drive(&mut events).await;
    session.stop_logs().await;
    // TEARDOWN while still subscribed (closing the stream first would remove the framework),
    // through the latest subscription (it moves with the leader under `zk://`).
    if let Err(error) = session.handle.teardown().await {
        tracing::warn!(%error, "TEARDOWN failed");
    }
    drop(events);
    result
}

fn framework_info(args: &RunArgs) -> FrameworkInfo {
    let user = args.user.clone().unwrap_or_else(current_user);
    let mut info = FrameworkInfo {
        user,
        name: "corral-run".into(),
        failover_timeout: Some(0.0),
        hostname: nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok()),
        ..FrameworkInfo::default()
    };
    if let Some(role) = &args.role {
        info.roles = vec![role.clone()];
        info.capabilities.push(Capability {
            r#type: Some(capability::Type::MultiRole as i32),
        });
    }
    info
}

fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

/// The launched task.
struct Launched {
    task_id: String,
    agent: Option<Endpoint>,
    agent_id: String,
}

struct Session {
    handle: SchedulerHandle,
    master: String,
    want: Want,
    name: String,
    command: String,
    verbose: bool,
    offer_timeout: Duration,
    launched: Option<Launched>,
    largest_offer: Option<(f64, f64)>,
    logs: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

impl Session {
    fn new(args: &RunArgs, handle: SchedulerHandle, command: String) -> Session {
        let name = args.name.clone().unwrap_or_else(|| {
            let first = args.command.first().map(String::as_str).unwrap_or("task");
            let word = first.split_whitespace().next().unwrap_or("task");
            word.rsplit('/').next().unwrap_or(word).to_string()
        });
        Session {
            handle,
            master: args.master.clone(),
            want: Want {
                cpus: args.cpus,
                mem: args.mem,
            },
            name,
            command,
            verbose: args.verbose,
            offer_timeout: Duration::from_secs_f64(args.offer_timeout.min(1e9)),
            launched: None,
            largest_offer: None,
            logs: None,
        }
    }

    fn say(&self, text: impl AsRef<str>) {
        if self.verbose {
            eprintln!("corral: {}", text.as_ref());
        }
    }

    /// Handles events until the task ends.
    async fn drive(&mut self, events: &mut EventStream<Event>) -> anyhow::Result<u8> {
        let offer_deadline = tokio::time::Instant::now() + self.offer_timeout;
        let interrupted = shutdown_signal();
        tokio::pin!(interrupted);
        loop {
            tokio::select! {
                event = events.next() => {
                    let event = match event {
                        Some(Ok(event)) => event,
                        Some(Err(error)) if self.follows_leader() => {
                            self.resubscribe(events, &error.to_string()).await?;
                            continue;
                        }
                        None if self.follows_leader() => {
                            self.resubscribe(events, "the master closed the subscription").await?;
                            continue;
                        }
                        Some(Err(error)) => bail!("lost the connection to the master: {error}"),
                        None => bail!("the master closed the subscription"),
                    };
                    if let Some(code) = self.on_event(event).await? {
                        return Ok(code);
                    }
                }
                _ = tokio::time::sleep_until(offer_deadline), if self.launched.is_none() => {
                    bail!("{}", self.no_offer_message());
                }
                signal = &mut interrupted => {
                    signal?;
                    return self.interrupt(events).await;
                }
            }
        }
    }

    /// Whether the master is detected in ZooKeeper: then a lost subscription is followed to
    /// the next leader instead of ending the run.
    fn follows_leader(&self) -> bool {
        corral_client::endpoint::DetectedLeader::is_zk(&self.master)
    }

    /// Subscribes again (same framework) with the leader detected now.
    async fn resubscribe(
        &mut self,
        events: &mut EventStream<Event>,
        why: &str,
    ) -> anyhow::Result<()> {
        self.say(format!(
            "lost the leading master ({why}); following the new leader"
        ));
        let (handle, new_events) = self
            .handle
            .resubscribe()
            .await
            .with_context(|| format!("re-subscribing after losing the master ({why})"))?;
        self.say(format!(
            "re-subscribed with the master at {}",
            handle.leader()
        ));
        self.handle = handle;
        *events = new_events;
        Ok(())
    }

    fn no_offer_message(&self) -> String {
        let want = format!("cpus {} and mem {} MB", self.want.cpus, self.want.mem);
        match self.largest_offer {
            Some((cpus, mem)) => format!(
                "no offer with {want} within {:?}; the largest offer had cpus {cpus} and mem {mem} MB (try smaller --cpus/--mem)",
                self.offer_timeout
            ),
            None => format!(
                "no resource offers within {:?} (is an agent registered? see `corral agents --master {}`)",
                self.offer_timeout, self.master
            ),
        }
    }

    async fn on_event(&mut self, event: Event) -> anyhow::Result<Option<u8>> {
        match event.r#type() {
            EventType::Offers => {
                let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                self.on_offers(offers).await?;
            }
            EventType::Update => {
                if let Some(update) = event.update {
                    return self.on_update(update.status).await;
                }
            }
            EventType::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                bail!("the master reported an error: {message}");
            }
            _ => {}
        }
        Ok(None)
    }

    async fn on_offers(&mut self, offers: Vec<Offer>) -> anyhow::Result<()> {
        let mut unused = Vec::new();
        for offer in offers {
            let (cpus, mem) = (offer::scalar(&offer, "cpus"), offer::scalar(&offer, "mem"));
            let largest = self.largest_offer.get_or_insert((cpus, mem));
            if cpus > largest.0 {
                *largest = (cpus, mem);
            }
            if self.launched.is_some() {
                unused.push(offer.id);
                continue;
            }
            let task_id = format!("{}-{}", self.name, uuid::Uuid::new_v4().simple());
            let Some(task) =
                offer::task_for(&offer, self.want, &task_id, &self.name, &self.command)
            else {
                unused.push(offer.id);
                continue;
            };
            self.say(format!(
                "launching {task_id} on {} ({})",
                offer.hostname, offer.agent_id.value
            ));
            self.handle
                .launch(
                    vec![offer.id.clone()],
                    vec![task],
                    Some(calls::refuse_for(5.0)),
                )
                .await
                .context("launching the task")?;
            self.launched = Some(Launched {
                task_id,
                agent: offer::agent_endpoint(&offer),
                agent_id: offer.agent_id.value.clone(),
            });
            // One task only: no more offers.
            if let Err(error) = self.handle.suppress(vec![]).await {
                tracing::debug!(%error, "SUPPRESS failed");
            }
        }
        if !unused.is_empty() {
            let refuse = if self.launched.is_some() { 60.0 } else { 1.0 };
            self.handle
                .decline(unused, Some(calls::refuse_for(refuse)))
                .await
                .context("declining offers")?;
        }
        Ok(())
    }

    async fn on_update(&mut self, status: TaskStatus) -> anyhow::Result<Option<u8>> {
        let Some(task_id) = self.launched.as_ref().map(|l| l.task_id.clone()) else {
            return Ok(None);
        };
        if status.task_id.value != task_id {
            return Ok(None);
        }
        if let Err(error) = self.handle.acknowledge(&status).await {
            tracing::warn!(%error, "ACKNOWLEDGE failed");
        }
        let state = status.state();
        self.say(format!("{task_id} {}", state.as_str_name()));
        if matches!(state, TaskState::TaskStarting | TaskState::TaskRunning) {
            self.start_logs().await;
        }
        if !corral_executor::status::is_terminal(state) && state != TaskState::TaskUnreachable {
            return Ok(None);
        }
        self.start_logs().await;
        self.stop_logs().await;
        let (code, message) = offer::outcome(state, status.message.as_deref());
        if let Some(message) = message {
            eprintln!("corral: task {task_id} {}: {message}", state.as_str_name());
        }
        Ok(Some(code))
    }

    /// Starts following the sandbox (once).
    async fn start_logs(&mut self) {
        if self.logs.is_some() {
            return;
        }
        let Some(launched) = &self.launched else {
            return;
        };
        let agent = match &launched.agent {
            Some(endpoint) => Some(endpoint.clone()),
            None => self.agent_from_master(&launched.agent_id).await,
        };
        let Some(agent) = agent else {
            tracing::warn!("cannot find the agent's address; no output shown");
            return;
        };
        let (stop, stopped) = watch::channel(false);
        let client = LegacyClient::new(agent);
        let framework_id = self.handle.framework_id().value.clone();
        let follower = tokio::spawn(logs::follow(
            client,
            framework_id,
            launched.task_id.clone(),
            stopped,
        ));
        self.logs = Some((stop, follower));
    }

    async fn agent_from_master(&self, agent_id: &str) -> Option<Endpoint> {
        // The master that accepted the subscription (a `zk://` --master is no address).
        let master = self.handle.leader().clone();
        let slaves = LegacyClient::new(master).slaves().await.ok()?;
        slaves
            .slaves
            .iter()
            .find(|s| s.id == agent_id)
            .and_then(|s| s.endpoint())
    }

    /// Stops following after a final drain (bounded).
    async fn stop_logs(&mut self) {
        if let Some((stop, mut follower)) = self.logs.take() {
            let _ = stop.send(true);
            if tokio::time::timeout(Duration::from_secs(10), &mut follower)
                .await
                .is_err()
            {
                follower.abort();
            }
        }
    }

    /// Ctrl-C: kill the task, wait a little for its end, exit 130.
    async fn interrupt(&mut self, events: &mut EventStream<Event>) -> anyhow::Result<u8> {
        let Some(launched) = &self.launched else {
            return Ok(130);
        };
        eprintln!("corral: interrupted; killing {}", launched.task_id);
        let task_id = corral_api::v1::TaskId {
            value: launched.task_id.clone(),
        };
        let agent_id = corral_api::v1::AgentId {
            value: launched.agent_id.clone(),
        };
        self.handle
            .kill(task_id, Some(agent_id), None)
            .await
            .context("killing the task")?;
        let wait = async {
            while let Some(Ok(event)) = events.next().await {
                if let Ok(Some(_)) = self.on_event(event).await {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
        Ok(130)
    }
}
