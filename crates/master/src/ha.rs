//! High availability: masters elected through ZooKeeper (`--zk`), as Mesos does.
//!
//! A master started with `--zk` binds its port at once and serves as a **standby**
//! ([`http::standby`](crate::http::standby): 307 to the detected leader, 503 when none) while it
//! contends for leadership with an ephemeral sequential `json.info_` node holding its
//! `MasterInfo` JSON ([`corral_election::zk`]). Once elected it
//!
//! 1. starts the **fail-stop watchdog**: a plain OS thread that exits the process as soon as
//!    the leadership lease runs out (the ZooKeeper session could not be confirmed for two thirds
//!    of the session timeout — a partition, or the process was stopped) — before ZooKeeper can
//!    expire the session and let another master win;
//! 2. takes the next **leader epoch** from the store shared by all masters (ZooKeeper,
//!    [`corral_store::ZkStore`]) and recovers what earlier leaders persisted
//!    ([`crate::leader_core`]);
//! 3. only then swaps the standby router for the leader's and serves.
//!
//! Losing leadership (session expired, node deleted) exits the process with status 1 and a
//! log line saying why: a deposed master never acts again, it is restarted by its supervisor.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use corral_election::zk::{ZkContender, ZkDetector};
use corral_election::{Contender, Detector, Leadership, Lease, ZkUrl};
use corral_http::{serve, BodyLimitLayer, JsonpLayer, PathNormalizeLayer, PathRules, ServerLimits};
use http::Request;
use tokio::sync::watch;
use tower::{ServiceBuilder, ServiceExt};

use crate::clock::{Clock, SystemClock};
use crate::http::standby::{self, StandbyState};
use crate::{bind, flags, master_info, MasterError, MasterFlags, RunningMaster};

/// How long a standby waits before contending again after its candidacy ended.
const RECONTEND_DELAY: Duration = Duration::from_secs(1);
/// How often the watchdog looks at the lease.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(20);

/// `--zk` and `--zk_session_timeout`, checked.
#[derive(Debug, Clone)]
pub(crate) struct HaConfig {
    /// Where the election (and the shared store) live.
    store_url: corral_store::ZkUrl,
    url: ZkUrl,
    session_timeout: Duration,
}

impl HaConfig {
    /// `None` without `--zk`.
    pub(crate) fn from_flags(flags: &MasterFlags) -> Result<Option<HaConfig>, MasterError> {
        let Some(zk) = &flags.zk else {
            return Ok(None);
        };
        let bad = |flag: &'static str, reason: String| MasterError::Flag { flag, reason };
        let store_url = corral_store::ZkUrl::from_flag(zk).map_err(|e| bad("zk", e.to_string()))?;
        if store_url.chroot == "/" {
            return Err(bad(
                "zk",
                "give a path for the masters' nodes, e.g. zk://host:2181/mesos".into(),
            ));
        }
        let url = ZkUrl {
            servers: store_url.servers.clone(),
            path: store_url.chroot.clone(),
            auth: store_url.credentials.clone(),
        };
        let session_timeout = corral_api::duration::parse(&flags.zk_session_timeout)
            .map_err(|e| bad("zk_session_timeout", e.to_string()))?;
        if session_timeout < Duration::from_secs(1) {
            return Err(bad("zk_session_timeout", "must be at least 1secs".into()));
        }
        Ok(Some(HaConfig {
            store_url,
            url,
            session_timeout,
        }))
    }
}

/// Logs why and exits: the fail-stop of a master that lost (or cannot prove) leadership.
fn fail_stop(reason: &str) -> ! {
    tracing::error!(%reason, "lost leadership; exiting (fail-stop)");
    eprintln!("corral master: lost leadership: {reason}; exiting");
    std::process::exit(1)
}

/// Exits the process when `lease` runs out, unless `resigned` was set first. A plain thread,
/// so it runs even when every async worker is busy.
fn spawn_watchdog(lease: Lease, resigned: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("leader-lease".into())
        .spawn(move || loop {
            if resigned.load(Ordering::SeqCst) {
                return;
            }
            if lease.remaining(Instant::now()).is_none() {
                fail_stop(&format!(
                    "the ZooKeeper session could not be confirmed for {:?}",
                    lease.limit().unwrap_or_default()
                ));
            }
            std::thread::sleep(WATCHDOG_PERIOD);
        })
        .map(drop)
}

/// Start a master under `--zk`: serve as a standby at once; lead once elected.
pub(crate) async fn start(flags: MasterFlags, ha: HaConfig) -> Result<RunningMaster, MasterError> {
    let settings = flags.settings()?;
    let (listener, addr) = bind(&flags).await?;
    let advertise_ip = flags.advertise_ip.unwrap_or(flags.ip);
    let advertise_port = flags.advertise_port.unwrap_or(addr.port());
    let hostname = flags
        .hostname
        .clone()
        .unwrap_or_else(|| advertise_ip.to_string());
    let id = corral_api::ids::new_uuid_string();
    let pid = format!("master@{advertise_ip}:{advertise_port}");
    let info = master_info(&id, advertise_ip, advertise_port, &hostname, &pid);
    let info_json = serde_json::to_value(&info).map_err(|e| MasterError::Flag {
        flag: "zk",
        reason: format!("cannot encode MasterInfo: {e}"),
    })?;
    let data = serde_json::to_vec(&info_json).map_err(|e| MasterError::Flag {
        flag: "zk",
        reason: format!("cannot encode MasterInfo: {e}"),
    })?;

    let detector = ZkDetector::start(ha.url.clone(), ha.session_timeout);
    let elected = Arc::new(AtomicBool::new(false));
    let standby_state = StandbyState {
        elected: elected.clone(),
        leader: detector.leader(),
        id: id.clone(),
        pid,
        hostname,
        info: info_json,
        flags: Arc::new(flags.as_map()),
        cluster: flags.cluster.clone(),
        start_time: SystemClock.now(),
    };
    let leader: Arc<RwLock<Option<(Router, Lease)>>> = Arc::default();
    let standby = standby::router(standby_state);
    let switch = {
        let leader = leader.clone();
        tower::service_fn(move |request: Request<Body>| {
            let current = leader
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let router = match current {
                Some((router, lease)) => {
                    // A leader whose lease ran out (e.g. the process was stopped and has just
                    // resumed) must not answer anything, even before the watchdog runs.
                    if lease.remaining(Instant::now()).is_none() {
                        fail_stop(&format!(
                            "the ZooKeeper session could not be confirmed for {:?}",
                            lease.limit().unwrap_or_default()
                        ));
                    }
                    router
                }
                None => standby.clone(),
            };
            router.oneshot(request)
        })
    };
    let service = ServiceBuilder::new()
        .layer(PathNormalizeLayer::new(PathRules::master()))
        .layer(JsonpLayer)
        .layer(BodyLimitLayer::new(settings.max_body_bytes))
        .service(switch);
    let (stop, stop_rx) = watch::channel(false);
    let server = {
        let mut stop_rx = stop_rx.clone();
        let limits = ServerLimits {
            shutdown_grace: Duration::from_secs(2),
            ..ServerLimits::default()
        };
        tokio::spawn(serve(listener, service, limits, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        }))
    };
    tracing::info!(%addr, master_id = %id, zk = %ha.url, "master started as a standby; contending for leadership");
    let election = Election {
        flags,
        settings,
        addr,
        id: id.clone(),
        data,
        ha,
        leader,
        elected,
        _detector: detector,
    };
    let runtime = tokio::spawn(election.run(stop_rx));
    Ok(RunningMaster {
        addr,
        id,
        stop,
        server,
        runtime,
    })
}

/// Resolves once `stop_rx` turns true (or its sender is gone).
async fn stopped(stop_rx: &mut watch::Receiver<bool>) {
    let _ = stop_rx.wait_for(|s| *s).await;
}

/// Everything the election task needs to become the leader.
struct Election {
    flags: MasterFlags,
    settings: flags::Settings,
    addr: SocketAddr,
    id: String,
    data: Vec<u8>,
    ha: HaConfig,
    leader: Arc<RwLock<Option<(Router, Lease)>>>,
    /// Set when the election is won: the standby stops redirecting (503 until serving).
    elected: Arc<AtomicBool>,
    /// Keeps the standby's leader detection running.
    _detector: ZkDetector,
}

impl Election {
    async fn run(self, mut stop_rx: watch::Receiver<bool>) {
        let contender = ZkContender::new(self.ha.url.clone(), self.ha.session_timeout);
        let mut leadership = loop {
            tokio::select! {
                won = contender.contend(self.data.clone()) => match won {
                    Ok(leadership) => break leadership,
                    Err(error) => {
                        tracing::warn!(%error, "candidacy ended; contending again");
                        tokio::time::sleep(RECONTEND_DELAY).await;
                    }
                },
                () = stopped(&mut stop_rx) => return,
            }
        };
        self.elected.store(true, Ordering::SeqCst);
        let elected = Instant::now();
        let resigned = Arc::new(AtomicBool::new(false));
        if let Err(e) = spawn_watchdog(leadership.lease(), resigned.clone()) {
            fail_stop(&format!("cannot start the lease watchdog: {e}"));
        }
        let runtime = match self.recover(&leadership, &stop_rx).await {
            Ok(runtime) => runtime,
            Err(reason) => fail_stop(&reason),
        };
        tracing::info!(master_id = %self.id, recovery = ?elected.elapsed(), "serving as the leading master");
        tokio::select! {
            reason = leadership.lost() => fail_stop(&reason),
            _ = runtime => {}
            () = stopped(&mut stop_rx) => {}
        }
        // A clean stop: give the leadership up (the node goes with the session) without
        // tripping the watchdog.
        resigned.store(true, Ordering::SeqCst);
        drop(leadership);
    }

    /// Take the next epoch from the shared store, recover, and swap in the leader's router.
    async fn recover(
        &self,
        leadership: &Leadership,
        stop_rx: &watch::Receiver<bool>,
    ) -> Result<tokio::task::JoinHandle<()>, String> {
        let (flags, addr, id) = (self.flags.clone(), self.addr, self.id.clone());
        let (store_url, session_timeout) = (self.ha.store_url.clone(), self.ha.session_timeout);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let recovered = {
            let clock = clock.clone();
            tokio::task::spawn_blocking(move || {
                let store: Arc<dyn corral_store::Store> = Arc::new(corral_store::ZkStore::connect(
                    &store_url,
                    corral_store::ZkStoreOptions {
                        session_timeout,
                        ..corral_store::ZkStoreOptions::default()
                    },
                )?);
                let settings = flags.settings()?;
                let core = crate::leader_core(
                    &flags,
                    &settings,
                    addr,
                    store.as_ref(),
                    clock.as_ref(),
                    id,
                )?;
                Ok::<_, MasterError>((core, store))
            })
            .await
        };
        let (core, store) = match recovered {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return Err(format!("cannot recover as the leader: {e}")),
            Err(e) => return Err(format!("recovery failed: {e}")),
        };
        if let Some(reason) = leadership.is_lost() {
            return Err(reason);
        }
        tracing::info!(epoch = core.epoch(), "took the next leader epoch");
        let (router, runtime) = crate::leader_router(
            &self.flags,
            &self.settings,
            self.addr,
            core,
            clock,
            store,
            stop_rx,
        );
        *self.leader.write().unwrap_or_else(PoisonError::into_inner) =
            Some((router, leadership.lease()));
        Ok(runtime)
    }
}
