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

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use corral_api::internal::{
    AgentCall, AgentEnvelope, MasterEnvelope, MasterMessage, AGENT_ENDPOINT, PROTOCOL_VERSION,
};
use corral_api::v1;
use corral_http::RecordIoDecoder;
use futures::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::StatusCode;
use tokio::sync::{mpsc, Notify};
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

/// Shared between the session loop and the call sender.
#[derive(Debug)]
struct Shared {
    url: String,
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
            .post(&self.url)
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
pub fn spawn(
    url: String,
    client: reqwest::Client,
    actor: ActorHandle,
    mut calls: mpsc::UnboundedReceiver<AgentCall>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let shared = Arc::new(Shared {
        url: format!("{url}{AGENT_ENDPOINT}"),
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
    let session = tokio::spawn(session_loop(shared, actor).instrument(span));
    vec![sender, session]
}

async fn session_loop(shared: Arc<Shared>, actor: ActorHandle) {
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
        let registered = subscribe(&shared, &actor, envelope, &mut highest_epoch).await;
        shared.set_session(None);
        if !actor.send(Command::Link(LinkEvent::Disconnected)) {
            return;
        }
        if registered {
            backoff = INITIAL_BACKOFF;
        }
        tracing::info!(retry_in = ?backoff, "re-subscribing to the master");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One subscription: returns whether it got registered.
async fn subscribe(
    shared: &Arc<Shared>,
    actor: &ActorHandle,
    envelope: AgentEnvelope,
    highest_epoch: &mut u64,
) -> bool {
    let body = match serde_json::to_vec(&envelope) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot encode SUBSCRIBE");
            return false;
        }
    };
    let request = shared
        .client
        .post(&shared.url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .body(body)
        .send();
    let Ok(response) = tokio::time::timeout(REGISTRATION_WAIT, request).await else {
        tracing::warn!(url = %shared.url, "the master did not answer the subscription in time");
        return false;
    };
    let response = match response {
        Ok(response) if response.status() == StatusCode::OK => response,
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            tracing::warn!(status = status.as_u16(), %text, "the master refused the subscription");
            return false;
        }
        Err(error) => {
            tracing::warn!(%error, url = %shared.url, "cannot reach the master");
            return false;
        }
    };
    let mut stream = response.bytes_stream();
    let mut decoder = RecordIoDecoder::default();
    let mut silence = REGISTRATION_WAIT;
    let mut registered = false;
    loop {
        let chunk = tokio::select! {
            chunk = tokio::time::timeout(silence, stream.next()) => chunk,
            () = shared.resubscribe.notified() => return registered,
        };
        let bytes = match chunk {
            Err(_) => {
                tracing::warn!(silence = ?silence, "the master went silent");
                return registered;
            }
            Ok(None) => {
                tracing::warn!("the master closed the session stream");
                return registered;
            }
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, "the session stream failed");
                return registered;
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
                    return registered;
                }
            };
            let envelope: MasterEnvelope = match serde_json::from_slice(&record) {
                Ok(envelope) => envelope,
                Err(error) => {
                    tracing::error!(%error, "undecodable master message; ending the session");
                    return registered;
                }
            };
            match handle_message(shared, actor, envelope, highest_epoch, &mut registered) {
                Flow::Continue(Some(interval)) => silence = interval,
                Flow::Continue(None) => {}
                Flow::End => return registered,
            }
        }
    }
}

enum Flow {
    /// Go on; with a new silence limit when the session was just registered.
    Continue(Option<Duration>),
    /// End the session and re-subscribe.
    End,
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
            url: "http://127.0.0.1:9/internal/v1/agent".into(),
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
}
