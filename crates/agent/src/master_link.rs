//! The agent's session with the master (Corral's protocol, `corral_api::internal`).
//!
//! * The **session loop** POSTs SUBSCRIBE (with the agent id and what the agent runs, once it
//!   has an id) and reads the RecordIO stream of master messages: REGISTERED opens the session,
//!   PINGs are answered with PONG, everything else goes to the actor. When the stream ends, fails,
//!   goes silent for several ping intervals, or a call is fenced, it re-subscribes with
//!   exponential backoff (100 ms doubling to 5 s).
//! * The **call sender** POSTs every other call with the session's agent id, stream id and
//!   epoch. Calls made while there is no session are dropped: status updates are resent by the
//!   status update manager after re-registration, and the SUBSCRIBE report carries the rest.
//!
//! Messages with an epoch lower than the highest seen are dropped (a deposed leader).
//!
//! SHUTDOWN (on the stream, or as the body of a `410` answer to SUBSCRIBE: the operator marked
//! this agent gone) ends the link for good: the actor is told ([`LinkEvent::Shutdown`]) and the
//! session loop stops re-subscribing.
//!
//! With `--master=zk://host:port/path` the master is the leader detected in ZooKeeper
//! ([`corral_election`]): each subscription goes to the current leader, and a change of leader
//! ends the session so that the agent re-subscribes with the new one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use corral_api::internal::{
    decode_master_envelope, AgentCall, AgentEnvelope, MasterEnvelope, MasterMessage,
    AGENT_ENDPOINT, AGENT_GONE_STATUS, PROTOCOL_VERSION,
};
use corral_api::v1;
use corral_election::{Detector, LeaderInfo, ZkUrl};
use corral_http::RecordIoDecoder;
use futures::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::StatusCode;
use tokio::sync::{mpsc, watch, Notify};
use tracing::Instrument;

use crate::runtime::{ActorHandle, Command, LinkEvent};

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long to wait for REGISTERED after subscribing.
const REGISTRATION_WAIT: Duration = Duration::from_secs(30);
/// Pings the agent may miss before it gives up on the session.
const MISSED_PINGS: f64 = 5.0;
/// Time limit of one agent call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Session {
    agent_id: String,
    stream_id: String,
    epoch: u64,
}

/// Where the master is.
enum Source {
    /// A fixed base URL (`http://host:port`).
    Fixed(String),
    /// The leader detected in ZooKeeper (the detector runs while this lives).
    Detected {
        /// Keeps the detection running.
        _detector: Box<dyn Detector>,
        /// The detected leader.
        leader: watch::Receiver<Option<LeaderInfo>>,
    },
}

impl Source {
    fn new(master: &str) -> Source {
        if ZkUrl::is_zk(master) {
            match ZkUrl::parse(master) {
                Ok(url) => {
                    let detector = corral_election::zk::ZkDetector::start(
                        url,
                        corral_election::zk::DEFAULT_SESSION_TIMEOUT,
                    );
                    let leader = detector.leader();
                    return Source::Detected {
                        _detector: Box::new(detector),
                        leader,
                    };
                }
                // The flag was checked at start; a bad URL here can only come from a test.
                Err(error) => tracing::error!(%error, "invalid ZooKeeper URL"),
            }
        }
        Source::Fixed(master.trim_end_matches('/').to_string())
    }

    /// The agent endpoint of the master to subscribe to (waits for a leader to be detected).
    async fn endpoint(&mut self) -> String {
        match self {
            Source::Fixed(base) => format!("{base}{AGENT_ENDPOINT}"),
            Source::Detected { leader, .. } => {
                let address = leader
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|l| l.as_ref().map(LeaderInfo::address));
                match address {
                    Some(address) => format!("http://{address}{AGENT_ENDPOINT}"),
                    // The detector is gone (never while the agent runs).
                    None => std::future::pending().await,
                }
            }
        }
    }

    /// Resolves when the detected leader is no longer `endpoint` (never for a fixed master).
    async fn leader_changed(&mut self, endpoint: &str) {
        match self {
            Source::Fixed(_) => std::future::pending().await,
            Source::Detected { leader, .. } => {
                let moved = leader
                    .wait_for(|l| {
                        l.as_ref().is_none_or(|l| {
                            format!("http://{}{AGENT_ENDPOINT}", l.address()) != endpoint
                        })
                    })
                    .await
                    .is_ok();
                if !moved {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// Shared between the session loop and the call sender.
#[derive(Debug)]
struct Shared {
    /// The agent endpoint of the current master.
    url: Mutex<String>,
    client: reqwest::Client,
    session: Mutex<Option<Session>>,
    /// Set by the call sender when the master answered 404/409: the session is stale.
    resubscribe: Notify,
}

impl Shared {
    fn session(&self) -> Option<Session> {
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_session(&self, session: Option<Session>) {
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = session;
    }

    fn url(&self) -> String {
        self.url
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_url(&self, url: String) {
        *self.url.lock().unwrap_or_else(PoisonError::into_inner) = url;
    }

    /// POSTs one non-SUBSCRIBE call under the current session.
    async fn post(&self, call: AgentCall) {
        let Some(session) = self.session() else {
            tracing::debug!("no master session; call dropped");
            return;
        };
        let envelope = AgentEnvelope {
            version: PROTOCOL_VERSION,
            epoch: session.epoch,
            agent_id: Some(v1::AgentId {
                value: session.agent_id.clone(),
            }),
            stream_id: Some(session.stream_id.clone()),
            call,
        };
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => body,
            Err(error) => return tracing::error!(%error, "cannot encode agent call"),
        };
        let response = self
            .client
            .post(self.url())
            .header(CONTENT_TYPE, "application/json")
            .timeout(CALL_TIMEOUT)
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) => match response.status() {
                status if status.is_success() => {}
                StatusCode::NOT_FOUND | StatusCode::CONFLICT => {
                    let text = response.text().await.unwrap_or_default();
                    tracing::warn!(%text, "the master no longer knows this session; re-subscribing");
                    self.resubscribe.notify_waiters();
                }
                status => {
                    let text = response.text().await.unwrap_or_default();
                    tracing::warn!(status = status.as_u16(), %text, "the master refused an agent call");
                }
            },
            Err(error) => tracing::warn!(%error, "agent call to the master failed"),
        }
    }
}

/// Starts the session loop and the call sender; calls for the master arrive on `calls`.
/// `url` is the master's base URL (`http://host:port`) or a `zk://` URL to detect it.
pub fn spawn(
    url: String,
    client: reqwest::Client,
    actor: ActorHandle,
    mut calls: mpsc::UnboundedReceiver<AgentCall>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let source = Source::new(&url);
    let shared = Arc::new(Shared {
        url: Mutex::new(String::new()),
        client,
        session: Mutex::new(None),
        resubscribe: Notify::new(),
    });
    let span = tracing::info_span!("master_link");
    let sender = {
        let shared = shared.clone();
        let send_all = async move {
            while let Some(call) = calls.recv().await {
                shared.post(call).await;
            }
        };
        tokio::spawn(send_all.instrument(span.clone()))
    };
    let session = tokio::spawn(session_loop(shared, actor, source).instrument(span));
    vec![sender, session]
}

async fn session_loop(shared: Arc<Shared>, actor: ActorHandle, mut source: Source) {
    let mut backoff = INITIAL_BACKOFF;
    let mut highest_epoch = 0;
    loop {
        let Some(call) = actor.subscribe_call().await else {
            return;
        };
        let agent_id = match &call {
            AgentCall::Subscribe { agent_info, .. } => agent_info.id.clone(),
            _ => None,
        };
        let envelope = AgentEnvelope {
            version: PROTOCOL_VERSION,
            epoch: highest_epoch,
            agent_id,
            stream_id: None,
            call,
        };
        let endpoint = source.endpoint().await;
        shared.set_url(endpoint.clone());
        let ended = tokio::select! {
            ended = subscribe(&shared, &actor, envelope, &mut highest_epoch) => ended,
            () = source.leader_changed(&endpoint) => {
                tracing::info!("the leading master changed; re-subscribing with the new one");
                Ended::Registered
            }
        };
        shared.set_session(None);
        if let Ended::Shutdown(message) = ended {
            tracing::error!(%message, "the master told this agent to shut down; not re-subscribing");
            actor.send(Command::Link(LinkEvent::Shutdown { message }));
            return;
        }
        let registered = matches!(ended, Ended::Registered);
        if !actor.send(Command::Link(LinkEvent::Disconnected)) {
            return;
        }
        if registered {
            backoff = INITIAL_BACKOFF;
        }
        tracing::info!(retry_in = ?backoff, "re-subscribing to the master");
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            // A new leader is worth trying at once.
            () = source.leader_changed(&endpoint) => backoff = INITIAL_BACKOFF,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How one subscription ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// It had been registered (the backoff starts over).
    Registered,
    /// It never got registered.
    Unregistered,
    /// The master told the agent to shut down for good.
    Shutdown(String),
}

impl From<bool> for Ended {
    fn from(registered: bool) -> Ended {
        if registered {
            Ended::Registered
        } else {
            Ended::Unregistered
        }
    }
}

/// One subscription.
async fn subscribe(
    shared: &Arc<Shared>,
    actor: &ActorHandle,
    envelope: AgentEnvelope,
    highest_epoch: &mut u64,
) -> Ended {
    let body = match serde_json::to_vec(&envelope) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot encode SUBSCRIBE");
            return Ended::Unregistered;
        }
    };
    let url = shared.url();
    tracing::info!(%url, "subscribing to the master");
    let request = shared
        .client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .body(body)
        .send();
    let Ok(response) = tokio::time::timeout(REGISTRATION_WAIT, request).await else {
        tracing::warn!(%url, "the master did not answer the subscription in time");
        return Ended::Unregistered;
    };
    let response = match response {
        Ok(response) if response.status() == StatusCode::OK => response,
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if let Some(message) = refused_for_good(status.as_u16(), &text, *highest_epoch) {
                return Ended::Shutdown(message);
            }
            tracing::warn!(status = status.as_u16(), %text, "the master refused the subscription");
            return Ended::Unregistered;
        }
        Err(error) => {
            tracing::warn!(%error, %url, "cannot reach the master");
            return Ended::Unregistered;
        }
    };
    let mut stream = response.bytes_stream();
    let mut decoder = RecordIoDecoder::default();
    let mut silence = REGISTRATION_WAIT;
    let mut registered = false;
    loop {
        let chunk = tokio::select! {
            chunk = tokio::time::timeout(silence, stream.next()) => chunk,
            () = shared.resubscribe.notified() => return registered.into(),
        };
        let bytes = match chunk {
            Err(_) => {
                tracing::warn!(silence = ?silence, "the master went silent");
                return registered.into();
            }
            Ok(None) => {
                tracing::warn!("the master closed the session stream");
                return registered.into();
            }
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, "the session stream failed");
                return registered.into();
            }
            Ok(Some(Ok(bytes))) => bytes,
        };
        decoder.feed(&bytes);
        loop {
            let record = match decoder.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(%error, "malformed session stream");
                    return registered.into();
                }
            };
            let envelope: MasterEnvelope = match decode_master_envelope(&record) {
                Ok(envelope) => envelope,
                Err(error) => {
                    tracing::error!(%error, "undecodable master message; ending the session");
                    return registered.into();
                }
            };
            match handle_message(shared, actor, envelope, highest_epoch, &mut registered) {
                Flow::Continue(Some(interval)) => silence = interval,
                Flow::Continue(None) => {}
                Flow::End => return registered.into(),
                Flow::Shutdown(message) => return Ended::Shutdown(message),
            }
        }
    }
}

enum Flow {
    /// Go on; with a new silence limit when the session was just registered.
    Continue(Option<Duration>),
    /// End the session and re-subscribe.
    End,
    /// The master told the agent to shut down for good.
    Shutdown(String),
}

/// The SHUTDOWN carried by a refused SUBSCRIBE (`status`, body `text`), if it is one: the agent
/// must stop for good. Anything else (another status, an undecodable body, another protocol
/// version, a deposed master's epoch) is a transient refusal.
fn refused_for_good(status: u16, text: &str, highest_epoch: u64) -> Option<String> {
    if status != AGENT_GONE_STATUS {
        return None;
    }
    let envelope: MasterEnvelope = decode_master_envelope(text.as_bytes()).ok()?;
    match envelope.message {
        MasterMessage::Shutdown { message }
            if envelope.version == PROTOCOL_VERSION && envelope.epoch >= highest_epoch =>
        {
            Some(message)
        }
        _ => None,
    }
}

fn handle_message(
    shared: &Arc<Shared>,
    actor: &ActorHandle,
    envelope: MasterEnvelope,
    highest_epoch: &mut u64,
    registered: &mut bool,
) -> Flow {
    if envelope.version != PROTOCOL_VERSION {
        tracing::error!(
            version = envelope.version,
            "the master speaks another protocol version"
        );
        return Flow::End;
    }
    if envelope.epoch < *highest_epoch {
        tracing::warn!(
            epoch = envelope.epoch,
            highest = *highest_epoch,
            "dropping a message from a deposed master"
        );
        return Flow::Continue(None);
    }
    let session_epoch = shared.session().map(|s| s.epoch);
    if let Some(epoch) = session_epoch {
        if envelope.epoch > epoch {
            tracing::info!(
                epoch = envelope.epoch,
                "a newer leader epoch; re-subscribing"
            );
            *highest_epoch = envelope.epoch;
            return Flow::End;
        }
    }
    *highest_epoch = envelope.epoch;
    match envelope.message {
        MasterMessage::Registered {
            agent_id,
            stream_id,
            master_id,
            ping_interval_secs,
        } => {
            tracing::info!(agent_id = %agent_id.value, master_id, epoch = envelope.epoch, "registered with the master");
            shared.set_session(Some(Session {
                agent_id: agent_id.value.clone(),
                stream_id,
                epoch: envelope.epoch,
            }));
            *registered = true;
            actor.send(Command::Link(LinkEvent::Registered {
                agent_id: agent_id.value,
            }));
            let interval = if ping_interval_secs.is_finite() && ping_interval_secs > 0.0 {
                Duration::from_secs_f64((ping_interval_secs * MISSED_PINGS).min(3600.0))
            } else {
                REGISTRATION_WAIT
            };
            Flow::Continue(Some(interval.max(Duration::from_secs(1))))
        }
        // Valid before REGISTERED: the master may refuse the agent for good at any time.
        MasterMessage::Shutdown { message } => Flow::Shutdown(message),
        _ if !*registered => {
            tracing::warn!("the master sent a message before REGISTERED; ending the session");
            Flow::End
        }
        MasterMessage::Ping { seq } => {
            let pong = AgentCall::Pong { seq };
            let shared = shared.clone();
            tokio::spawn(async move { shared.post(pong).await });
            Flow::Continue(None)
        }
        message => {
            actor.send(Command::Link(LinkEvent::Message(Box::new(message))));
            Flow::Continue(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            url: Mutex::new("http://127.0.0.1:9/internal/v1/agent".into()),
            client: reqwest::Client::new(),
            session: Mutex::new(None),
            resubscribe: Notify::new(),
        })
    }

    fn message(epoch: u64, message: MasterMessage) -> MasterEnvelope {
        MasterEnvelope {
            version: PROTOCOL_VERSION,
            epoch,
            message,
        }
    }

    fn registered_message() -> MasterMessage {
        MasterMessage::Registered {
            agent_id: v1::AgentId { value: "A".into() },
            stream_id: "s".into(),
            master_id: "m".into(),
            ping_interval_secs: 2.0,
        }
    }

    fn kill() -> MasterMessage {
        MasterMessage::KillTask {
            framework_id: v1::FrameworkId { value: "F".into() },
            task_id: v1::TaskId { value: "t".into() },
            kill_policy: None,
        }
    }

    #[tokio::test]
    async fn epochs_fence_deposed_masters() {
        let shared = shared();
        let (actor, mut commands) = ActorHandle::channel();
        let (mut highest, mut registered) = (0, false);

        // Anything before REGISTERED ends the session.
        let flow = handle_message(
            &shared,
            &actor,
            message(5, kill()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(flow, Flow::End));

        let flow = handle_message(
            &shared,
            &actor,
            message(5, registered_message()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(flow, Flow::Continue(Some(d)) if d == Duration::from_secs(10)));
        assert_eq!(shared.session().unwrap().epoch, 5);
        assert!(matches!(
            commands.try_recv(),
            Ok(Command::Link(LinkEvent::Registered { .. }))
        ));

        // A lower epoch is dropped; the current one is delivered; a higher one re-subscribes.
        let flow = handle_message(
            &shared,
            &actor,
            message(4, kill()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(flow, Flow::Continue(None)));
        assert!(commands.try_recv().is_err());
        handle_message(
            &shared,
            &actor,
            message(5, kill()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(
            commands.try_recv(),
            Ok(Command::Link(LinkEvent::Message(_)))
        ));
        let flow = handle_message(
            &shared,
            &actor,
            message(6, kill()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(flow, Flow::End));
        assert_eq!(highest, 6);

        // Another protocol version ends the session.
        let mut other = message(6, kill());
        other.version = PROTOCOL_VERSION + 1;
        assert!(matches!(
            handle_message(&shared, &actor, other, &mut highest, &mut registered),
            Flow::End
        ));
    }

    #[tokio::test]
    async fn shutdown_ends_the_link_for_good_even_before_registered() {
        let shared = shared();
        let (actor, _commands) = ActorHandle::channel();
        let (mut highest, mut registered) = (3, false);
        let shutdown = MasterMessage::Shutdown {
            message: "gone".into(),
        };
        let flow = handle_message(
            &shared,
            &actor,
            message(3, shutdown.clone()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(flow, Flow::Shutdown(m) if m == "gone"));
        // A deposed master's SHUTDOWN is dropped like anything else it says.
        let flow = handle_message(
            &shared,
            &actor,
            message(2, shutdown.clone()),
            &mut highest,
            &mut registered,
        );
        assert!(matches!(flow, Flow::Continue(None)));

        // The 410 answer to SUBSCRIBE carries the same message.
        let body = serde_json::to_string(&message(3, shutdown.clone())).unwrap();
        assert_eq!(
            refused_for_good(AGENT_GONE_STATUS, &body, 3).as_deref(),
            Some("gone")
        );
        // Anything else is a transient refusal: another status, a lower epoch, another
        // version, another message, a plain-text body.
        assert_eq!(refused_for_good(400, &body, 3), None);
        assert_eq!(refused_for_good(AGENT_GONE_STATUS, &body, 4), None);
        let mut other = message(3, shutdown);
        other.version = PROTOCOL_VERSION + 1;
        let other = serde_json::to_string(&other).unwrap();
        assert_eq!(refused_for_good(AGENT_GONE_STATUS, &other, 3), None);
        let ping = serde_json::to_string(&message(3, MasterMessage::Ping { seq: 1 })).unwrap();
        assert_eq!(refused_for_good(AGENT_GONE_STATUS, &ping, 3), None);
        assert_eq!(refused_for_good(AGENT_GONE_STATUS, "Gone", 3), None);
    }

    fn leader(port: u16) -> LeaderInfo {
        LeaderInfo {
            id: format!("m{port}"),
            hostname: "h".into(),
            ip: "127.0.0.1".into(),
            port,
            pid: format!("master@127.0.0.1:{port}"),
            node: None,
        }
    }

    #[tokio::test]
    async fn a_detected_master_is_followed_to_the_next_leader() {
        use corral_election::standalone::StandaloneDetector;
        let detection = StandaloneDetector::new(None);
        let mut source = Source::Detected {
            _detector: Box::new(StandaloneDetector::new(None)),
            leader: detection.leader(),
        };
        // No leader yet: the session waits for one.
        let waiting = tokio::time::timeout(Duration::from_millis(50), source.endpoint()).await;
        assert!(waiting.is_err());
        detection.appoint(Some(leader(5050)));
        let endpoint = source.endpoint().await;
        assert_eq!(endpoint, format!("http://127.0.0.1:5050{AGENT_ENDPOINT}"));
        // The same leader does not end the session; another one does.
        let same =
            tokio::time::timeout(Duration::from_millis(50), source.leader_changed(&endpoint)).await;
        assert!(same.is_err());
        detection.appoint(Some(leader(5052)));
        tokio::time::timeout(Duration::from_secs(1), source.leader_changed(&endpoint))
            .await
            .unwrap();
        assert_eq!(
            source.endpoint().await,
            format!("http://127.0.0.1:5052{AGENT_ENDPOINT}")
        );
        // A fixed master never changes.
        let mut fixed = Source::new("http://127.0.0.1:5050/");
        let endpoint = fixed.endpoint().await;
        assert_eq!(endpoint, format!("http://127.0.0.1:5050{AGENT_ENDPOINT}"));
        let moved =
            tokio::time::timeout(Duration::from_millis(50), fixed.leader_changed(&endpoint)).await;
        assert!(moved.is_err());
    }
}
