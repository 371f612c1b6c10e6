//! Starting and stopping the agent: [`start`] wires the flags, the containerizer, the actor, the
//! master link and the HTTP server together and returns a [`RunningAgent`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_api::v1;
use corral_containerizer::{Containerizer, PosixLauncher};
use corral_http::{serve, ServerLimits};
use corral_resources::{fill_defaults, parse_resources, read_machine, Attributes, Resources};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::checkpoint::CheckpointStore;
use crate::convert::{attributes_to_proto, resources_to_proto};
use crate::core::{AgentCore, CoreConfig};
use crate::error::AgentError;
use crate::flags::{master_url, AgentFlags};
use crate::http::{AgentStatic, HttpState};
use crate::isolation::LimitationProbe;
use crate::launch::LaunchConfig;
use crate::runtime::{now_secs, Actor, ActorHandle, Command};
use crate::volumes::{recover_volumes, volume_of, volume_root, VolumeRef};

/// How long [`RunningAgent::shutdown`] waits for the actor to destroy the containers.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// A started agent.
#[derive(Debug)]
pub struct RunningAgent {
    /// The address the HTTP server listens on.
    pub addr: SocketAddr,
    actor: ActorHandle,
    stop_http: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
    link: Vec<JoinHandle<()>>,
    cleanup_done: Arc<std::sync::atomic::AtomicBool>,
    master_shutdown: Arc<std::sync::Mutex<Option<String>>>,
}

impl RunningAgent {
    /// Stops talking to the master, destroys every container, closes the HTTP server and
    /// waits for everything to end. (An agent that dies instead — `kill -9`, a failed
    /// checkpoint write — leaves its executors running; the next agent on the same work
    /// directory recovers them.)
    pub async fn shutdown(self) {
        tracing::info!(addr = %self.addr, "agent shutting down");
        for task in &self.link {
            task.abort();
        }
        let (reply, done) = tokio::sync::oneshot::channel();
        if self.actor.send(Command::Shutdown(reply))
            && tokio::time::timeout(SHUTDOWN_TIMEOUT, done).await.is_err()
        {
            tracing::error!("the agent did not finish destroying its containers in time");
        }
        let _ = self.stop_http.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Whether the agent ran with `--recover=cleanup` and finished it (then
    /// [`wait`](Self::wait) has resolved and the process should exit successfully).
    pub fn cleanup_finished(&self) -> bool {
        self.cleanup_done.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The master's reason when it told this agent to shut down for good (the operator marked
    /// it gone): the agent has destroyed its containers, stopped re-registering, and
    /// [`wait`](Self::wait) has resolved; the process should exit and not be restarted.
    pub fn shut_down_by_master(&self) -> Option<String> {
        self.master_shutdown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Resolves when the agent has stopped on its own (its actor or HTTP server ended, a
    /// checkpoint could not be written, or `--recover=cleanup` finished).
    pub async fn wait(&self) {
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }
}

/// Starts an agent with the POSIX launcher and the isolators of `--isolation` (see
/// [`isolation`](crate::isolation)).
pub async fn start(flags: AgentFlags) -> Result<RunningAgent, AgentError> {
    master_url(&flags.master)?;
    let built = crate::isolation::build(&flags)?;
    let containerizer = Containerizer::new(Arc::new(PosixLauncher::new()), built.isolators);
    start_inner(flags, containerizer, built.probe).await
}

/// Starts an agent on a given containerizer (tests and simulations); `--isolation` and the
/// `--cgroups_*` flags are then the containerizer's business.
pub async fn start_with(
    flags: AgentFlags,
    containerizer: Containerizer,
) -> Result<RunningAgent, AgentError> {
    start_inner(flags, containerizer, LimitationProbe::default()).await
}

async fn start_inner(
    flags: AgentFlags,
    containerizer: Containerizer,
    probe: LimitationProbe,
) -> Result<RunningAgent, AgentError> {
    let master = master_url(&flags.master)?;
    let work_dir = prepare_work_dir(&flags.work_dir)?;
    let executor_binary = match &flags.executor_binary {
        Some(path) => std::path::absolute(path).unwrap_or_else(|_| path.clone()),
        None => std::env::current_exe().map_err(|e| AgentError::Flag {
            flag: "executor_binary",
            reason: format!("cannot find this program's path ({e}); set --executor_binary"),
        })?,
    };
    let resources_flag = crate::image::resources_with_gpus(&flags, flags.resources.as_deref())?;
    let resources = agent_resources(resources_flag.as_deref(), &work_dir)?;
    let attributes = match &flags.attributes {
        Some(text) => Attributes::parse(text).map_err(|e| AgentError::Flag {
            flag: "attributes",
            reason: e.to_string(),
        })?,
        None => Attributes::new(),
    };

    let bind = SocketAddr::new(flags.ip, flags.port);
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| AgentError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| AgentError::Bind { addr: bind, source })?;
    let advertised = flags.advertise_ip.unwrap_or(if flags.ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        flags.ip
    });
    let endpoint = SocketAddr::new(advertised, addr.port());
    let hostname = hostname(&flags);

    let agent_info = v1::AgentInfo {
        hostname: hostname.clone(),
        port: Some(i32::from(addr.port())),
        resources: resources_to_proto(&resources),
        attributes: attributes_to_proto(&attributes),
        ..Default::default()
    };
    let core = AgentCore::new(CoreConfig {
        launch: LaunchConfig {
            work_dir: work_dir.clone(),
            endpoint,
            executor_binary,
            shutdown_grace: flags.executor_shutdown_grace_period,
            switch_user: flags.switch_user,
            path: std::env::var("PATH").ok(),
            home: std::env::var("HOME").ok(),
            pids_limit: Some(flags.default_container_pids_limit),
            docker: crate::docker::DockerLaunch::from_flags(&flags),
            fetcher: crate::launch::FetcherLaunch {
                cache: Some(corral_fetcher::CacheConfig {
                    dir: flags
                        .fetcher_cache_dir
                        .clone()
                        .unwrap_or_else(|| work_dir.join("fetch")),
                    max_bytes: flags.fetcher_cache_size,
                }),
            },
        },
        agent_info,
        registration_timeout: flags.executor_registration_timeout,
        status_update_retry: flags.status_update_retry_interval,
        status_update_retry_max: flags.status_update_retry_interval_max,
        executor_recovery_timeout: flags.recovery_timeout,
        executor_reregistration_timeout: flags.executor_reregistration_timeout,
    });
    let mut core = recover_checkpointed(core, &work_dir)?;
    let recovered = crate::recover::load(&work_dir, flags.strict)?;
    let recovered_agent_id = recovered
        .agent_info
        .as_ref()
        .and_then(|info| info.id.as_ref())
        .map(|id| id.value.clone());
    let runs = core.recover(recovered);
    let cleanup = flags.recover == "cleanup";

    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .no_proxy()
        // The master link picks its master itself (flag or ZooKeeper detection); a standby's
        // redirect may name a stale leader.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AgentError::Client(e.to_string()))?;
    let (to_master, calls) = mpsc::unbounded_channel();
    let mut actor = Actor::new(core, containerizer.clone(), to_master).with_limitation_probe(probe);
    let recovering = !runs.is_empty();
    let run_ids: Vec<String> = runs.iter().map(|r| r.container_id.clone()).collect();
    let docker_socket = flags
        .containerizers
        .docker
        .then(|| flags.docker_socket.clone());
    let adopted = actor
        .recover_containers(runs, docker_socket.clone())
        .await
        .map_err(AgentError::Recovery)?;
    if let (Some(socket), Some(agent_id)) = (&docker_socket, &recovered_agent_id) {
        crate::recover::sweep_docker(
            socket,
            agent_id,
            &run_ids,
            &adopted,
            flags.docker_kill_orphans,
        )
        .await;
    }
    let handle = actor.handle();
    let master_shutdown = actor.master_shutdown_notice();
    let gc_task = crate::gc::spawn(
        crate::gc::GcConfig::from_flags(&flags.sandbox),
        work_dir.clone(),
        handle.clone(),
        containerizer.clone(),
    );
    let (stopped_tx, stopped) = watch::channel(false);
    let stopped_tx = Arc::new(stopped_tx);

    let span = tracing::info_span!("agent", %addr, agent_id = tracing::field::Empty);
    let actor_task = {
        let stopped_tx = stopped_tx.clone();
        let run = async move {
            actor.run().await;
            let _ = stopped_tx.send(true);
        };
        tokio::spawn(run.instrument(span.clone()))
    };

    let link_master = master.clone();
    let state = HttpState {
        actor: handle.clone(),
        info: Arc::new(AgentStatic {
            flags: flags.to_map(),
            hostname,
            endpoint,
            start_time: now_secs(),
            started: Instant::now(),
            resources,
            attributes,
            work_dir,
            master,
        }),
        containerizer,
    };
    let (stop_http, stop_rx) = watch::channel(false);
    let limits = ServerLimits {
        shutdown_grace: Duration::from_secs(2),
        ..ServerLimits::default()
    };
    let server_stopped = stopped_tx.clone();
    let server_task = tokio::spawn(async move {
        let stopped_tx = server_stopped;
        let mut stop_rx = stop_rx;
        let shutdown = async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        };
        if let Err(error) = serve(listener, crate::http::service(state), limits, shutdown).await {
            tracing::error!(%error, "HTTP server failed");
        }
        let _ = stopped_tx.send(true);
    });
    tracing::info!(%addr, %endpoint, "agent started");
    if cleanup {
        handle.send(Command::CleanupRecovered);
    } else if recovering {
        // Mesos: the agent does not re-register until its executors had their chance.
        crate::recover::await_reregistration(&handle, flags.executor_reregistration_timeout).await;
    }
    let link = {
        let _entered = span.enter();
        crate::master_link::spawn(link_master, client, handle.clone(), calls)
    };
    // Aborted with the master link at shutdown.
    let link: Vec<JoinHandle<()>> = link.into_iter().chain([gc_task]).collect();
    let cleanup_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = vec![actor_task, server_task];
    if cleanup {
        let (handle, done, stopped_tx) = (handle.clone(), cleanup_done.clone(), stopped_tx);
        tasks.push(tokio::spawn(async move {
            if recovering {
                crate::recover::await_cleanup(&handle, crate::recover::CLEANUP_TIMEOUT).await;
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = stopped_tx.send(true);
        }));
    }
    Ok(RunningAgent {
        addr,
        actor: handle,
        stop_http,
        stopped,
        tasks,
        link,
        cleanup_done,
        master_shutdown,
    })
}

fn prepare_work_dir(path: &PathBuf) -> Result<PathBuf, AgentError> {
    let error = |source| AgentError::WorkDir {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(path).map_err(error)?;
    std::fs::canonicalize(path).map_err(error)
}

/// Loads the checkpointed resources (a torn or invalid file is an error naming it), finishes
/// volume deletions and creations a stop interrupted, and hands the set to the core.
fn recover_checkpointed(mut core: AgentCore, work_dir: &Path) -> Result<AgentCore, AgentError> {
    let store = CheckpointStore::new(work_dir);
    let stored = store
        .load()
        .map_err(|e| AgentError::Checkpoint(e.to_string()))?;
    let plan = core
        .plan_checkpoint(stored.resources.clone())
        .map_err(|e| AgentError::Checkpoint(format!("{}: {e}", store.path().display())))?;
    let pending: Vec<VolumeRef> = stored
        .pending_destroy
        .iter()
        .filter_map(|r| volume_of(work_dir, r).ok().flatten())
        .collect();
    recover_volumes(&volume_root(work_dir), plan.volumes(), &pending)
        .map_err(AgentError::Checkpoint)?;
    if !stored.pending_destroy.is_empty() {
        // The deletions are done: forget them.
        store
            .save(&plan.record())
            .map_err(|e| AgentError::Checkpoint(e.to_string()))?;
    }
    if !stored.resources.is_empty() {
        tracing::info!(
            resources = stored.resources.len(),
            volumes = plan.volumes().len(),
            path = %store.path().display(),
            "recovered the checkpointed resources"
        );
    }
    core.restore_checkpointed(plan);
    Ok(core)
}

/// `--resources`, with cpus, mem, disk and ports detected when not given.
fn agent_resources(
    flag: Option<&str>,
    work_dir: &std::path::Path,
) -> Result<Resources, AgentError> {
    let configured = match flag {
        Some(text) => parse_resources(text).map_err(|e| AgentError::Flag {
            flag: "resources",
            reason: e.to_string(),
        })?,
        None => Resources::new(),
    };
    match read_machine(work_dir) {
        Ok(totals) => Ok(fill_defaults(&configured, &totals)),
        Err(error) => {
            tracing::warn!(%error, "cannot detect the machine's resources; using --resources only");
            Ok(configured)
        }
    }
}

/// `--hostname`, else the advertised IP, else the listen IP, else the system hostname.
fn hostname(flags: &AgentFlags) -> String {
    if let Some(hostname) = &flags.hostname {
        return hostname.clone();
    }
    if let Some(ip) = flags.advertise_ip {
        return ip.to_string();
    }
    if !flags.ip.is_unspecified() {
        return flags.ip.to_string();
    }
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}
