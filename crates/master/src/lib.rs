//! The Corral master.
//!
//! * [`core`]: the sans-IO decision core (frameworks, agents, offers, tasks, status updates).
//! * [`allocator`]: the allocator seam and the first allocator.
//! * [`runtime`]: the actor that owns the core and does its I/O.
//! * [`http`]: the HTTP surface (scheduler API, agent protocol, legacy endpoints).
//! * [`start`]: wires them together behind a listener.

pub mod allocator;
pub mod clock;
pub mod core;
mod flags;
mod ha;
pub mod http;
pub mod registry;
mod res;
pub mod runtime;
mod ui;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use corral_api::v1;
use corral_http::{serve, BodyLimitLayer, JsonpLayer, PathNormalizeLayer, PathRules, ServerLimits};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;

pub use flags::MasterFlags;

use crate::clock::{Clock, SystemClock};
use crate::core::view::Identity;
use crate::core::MasterCore;
use crate::runtime::Runtime;

/// Why the master could not start.
#[derive(Debug, Error)]
pub enum MasterError {
    /// A flag is invalid.
    #[error("invalid flag --{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The work directory's store failed.
    #[error("state store: {0}")]
    Store(#[from] corral_store::StoreError),
    /// The registry could not be recovered.
    #[error("registry: {0}")]
    Registry(#[from] registry::RegistryError),
}

/// A running master.
pub struct RunningMaster {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The master's id.
    pub id: String,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    runtime: JoinHandle<()>,
}

impl RunningMaster {
    /// Stop serving and wait until everything has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.runtime.await;
    }

    /// Wait until the master stops (it does not stop by itself unless its server fails).
    pub async fn wait(self) {
        let _ = self.server.await;
        let _ = self.stop.send(true);
        let _ = self.runtime.await;
    }
}

/// Start a master: bind, take the next leader epoch, start the actor and the HTTP server.
pub async fn start(flags: MasterFlags) -> Result<RunningMaster, MasterError> {
    if let Some(ha) = ha::HaConfig::from_flags(&flags)? {
        // Elected through ZooKeeper: standby until elected, then `leader_core` + `leader_router`.
        return ha::start(flags, ha).await;
    }
    let settings = flags.settings()?;
    let (listener, addr) = bind(&flags).await?;

    // `--registry`: the registry, the leader epoch and the policies share one store.
    let store = registry::open_local_store(&flags.registry, &flags.work_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let id = corral_api::ids::new_uuid_string();
    let core = leader_core(&flags, &settings, addr, store.as_ref(), clock.as_ref(), id)?;
    Ok(serve_core(
        &flags, &settings, listener, addr, core, clock, store,
    ))
}

/// The core of a master that starts leading: takes the next leader epoch from `store` (shared
/// by all masters under `--zk`), then loads what earlier leaders persisted. Blocking (store
/// calls): run it off the async workers when the store is remote.
pub(crate) fn leader_core(
    flags: &MasterFlags,
    settings: &flags::Settings,
    addr: SocketAddr,
    store: &dyn corral_store::Store,
    clock: &dyn Clock,
    id: String,
) -> Result<MasterCore, MasterError> {
    let epoch = corral_store::bump_counter(store, "leader-epoch")?;
    let policies = load_policies(store)?;

    let advertise_ip = flags.advertise_ip.unwrap_or(flags.ip);
    let advertise_port = flags.advertise_port.unwrap_or(addr.port());
    let hostname = flags
        .hostname
        .clone()
        .unwrap_or_else(|| advertise_ip.to_string());
    let pid = format!("master@{advertise_ip}:{advertise_port}");
    let info = master_info(&id, advertise_ip, advertise_port, &hostname, &pid);

    let mut core = MasterCore::new(
        settings.core.clone(),
        info,
        epoch,
        flags.build_allocator()?,
        clock.now(),
    );
    core.apply_policies(policies);
    // Failover: agents and frameworks of the registry come back as recovered.
    let recovered = registry::load(store)?;
    core.recover(recovered, clock.now());
    Ok(core)
}

/// Serve an already built core (benchmarks and simulations: a core populated in-process, then
/// exposed over HTTP). The core keeps its own id, epoch, configuration and state; the flags
/// give the listener, the advertised address, the timers and the HTTP limits. Nothing is read
/// from or written to `work_dir`: policies set over HTTP are kept in memory only.
pub async fn start_with_core(
    flags: MasterFlags,
    core: MasterCore,
) -> Result<RunningMaster, MasterError> {
    let settings = flags.settings()?;
    let (listener, addr) = bind(&flags).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn corral_store::Store> = Arc::new(corral_store::MemoryStore::new());
    Ok(serve_core(
        &flags, &settings, listener, addr, core, clock, store,
    ))
}

/// Bind the listener of `--ip`/`--port`.
async fn bind(flags: &MasterFlags) -> Result<(TcpListener, SocketAddr), MasterError> {
    let bind = format!("{}:{}", flags.ip, flags.port);
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|source| MasterError::Bind {
            addr: bind.clone(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| MasterError::Bind { addr: bind, source })?;
    Ok((listener, addr))
}

/// Start the actor around `core` and the HTTP server on `listener`.
fn serve_core(
    flags: &MasterFlags,
    settings: &flags::Settings,
    listener: TcpListener,
    addr: SocketAddr,
    core: MasterCore,
    clock: Arc<dyn Clock>,
    store: Arc<dyn corral_store::Store>,
) -> RunningMaster {
    let id = core.master_id().to_string();
    let epoch = core.epoch();
    let (stop, stop_rx) = watch::channel(false);
    let (router, runtime) = leader_router(flags, settings, addr, core, clock, store, &stop_rx);
    let service = ServiceBuilder::new()
        .layer(PathNormalizeLayer::new(PathRules::master()))
        .layer(JsonpLayer)
        .layer(BodyLimitLayer::new(settings.max_body_bytes))
        .service(router);
    let server = {
        let mut stop_rx = stop_rx;
        let limits = ServerLimits {
            shutdown_grace: Duration::from_secs(2),
            ..ServerLimits::default()
        };
        tokio::spawn(serve(listener, service, limits, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        }))
    };
    tracing::info!(%addr, master_id = %id, epoch, "master started");
    RunningMaster {
        addr,
        id,
        stop,
        server,
        runtime,
    }
}

/// The leading master's actor (started, stopping when `stop_rx` turns true) and its router
/// (without the path-normalization and body-limit layers).
pub(crate) fn leader_router(
    flags: &MasterFlags,
    settings: &flags::Settings,
    addr: SocketAddr,
    core: MasterCore,
    clock: Arc<dyn Clock>,
    store: Arc<dyn corral_store::Store>,
    stop_rx: &watch::Receiver<bool>,
) -> (axum::Router, JoinHandle<()>) {
    let advertise_ip = flags.advertise_ip.unwrap_or(flags.ip);
    let advertise_port = flags.advertise_port.unwrap_or(addr.port());
    let hostname = flags
        .hostname
        .clone()
        .unwrap_or_else(|| advertise_ip.to_string());
    let pid = format!("master@{advertise_ip}:{advertise_port}");
    let (runtime, commands) = Runtime::new(core, clock, settings.timers.clone());
    let runtime = runtime.with_registry(registry::Registry::new(Arc::clone(&store)));
    let runtime = {
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = runtime.run() => {}
                _ = stop_rx.wait_for(|s| *s) => {}
            }
        })
    };

    let identity = Arc::new(Identity {
        pid,
        flags: flags.as_map(),
        cluster: flags.cluster.clone(),
    });
    let state = http::AppState {
        commands,
        identity,
        advertised: format!("{hostname}:{advertise_port}"),
        store,
        policy_lock: Arc::default(),
    };
    (http::router(state), runtime)
}

/// The weights and quotas persisted by earlier runs.
fn load_policies(store: &dyn corral_store::Store) -> Result<core::weights::Policies, MasterError> {
    match store.get(http::policy::POLICIES_KEY)? {
        None => Ok(core::weights::Policies::default()),
        Some(v) => serde_json::from_slice(&v.value).map_err(|e| {
            MasterError::Store(corral_store::StoreError::Corrupt {
                key: http::policy::POLICIES_KEY.to_string(),
                reason: e.to_string(),
            })
        }),
    }
}

fn master_info(
    id: &str,
    ip: std::net::Ipv4Addr,
    port: u16,
    hostname: &str,
    pid: &str,
) -> v1::MasterInfo {
    use v1::master_info::capability::Type as Cap;
    v1::MasterInfo {
        id: id.to_string(),
        // Network byte order packed into a u32, as Mesos does (127.0.0.1 → 16777343).
        ip: u32::from_le_bytes(ip.octets()),
        port: u32::from(port),
        pid: Some(pid.to_string()),
        hostname: Some(hostname.to_string()),
        version: Some(corral_api::MESOS_COMPAT_VERSION.to_string()),
        address: Some(v1::Address {
            hostname: Some(hostname.to_string()),
            ip: Some(ip.to_string()),
            port: i32::from(port),
        }),
        domain: None,
        capabilities: [Cap::AgentUpdate, Cap::AgentDraining, Cap::QuotaV2]
            .into_iter()
            .map(|t| v1::master_info::Capability {
                r#type: Some(t as i32),
            })
            .collect(),
    }
}
