//! How others talk to the actor: [`Command`]s sent through an [`ActorHandle`].

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use corral_api::internal::{AgentCall, MasterMessage};
use corral_api::v1::executor;
use corral_http::Encoding;
use tokio::sync::{mpsc, oneshot};

use crate::core::{Exit, Snapshot, Timer};
use crate::error::CallError;

/// What the master link reports.
#[derive(Debug)]
pub enum LinkEvent {
    /// A session is up (REGISTERED).
    Registered {
        /// The agent's id.
        agent_id: String,
    },
    /// The session ended.
    Disconnected,
    /// A message on the session stream.
    Message(Box<MasterMessage>),
    /// The master told the agent to shut down for good (it was marked gone): the actor
    /// destroys every container and stops; the link has stopped re-subscribing.
    Shutdown {
        /// The master's reason.
        message: String,
    },
}

/// An executor call's result as the HTTP handler needs it.
#[derive(Debug)]
pub enum ExecutorReply {
    /// SUBSCRIBE: stream these encoded events.
    Stream(mpsc::Receiver<Bytes>),
    /// 202.
    Accepted,
}

/// A request to the actor.
#[derive(Debug)]
pub enum Command {
    /// From the master link.
    Link(LinkEvent),
    /// An executor API call; `encoding` is how the client wants events.
    ExecutorCall {
        call: Box<executor::Call>,
        encoding: Encoding,
        reply: oneshot::Sender<Result<ExecutorReply, CallError>>,
    },
    /// An executor's subscription stream was dropped by the client.
    ExecutorClosed {
        framework_id: String,
        executor_id: String,
        connection: u64,
    },
    /// A container started.
    Launched {
        framework_id: String,
        executor_id: String,
        container_id: String,
        pid: u32,
        start_time: Option<u64>,
    },
    /// A container failed to start.
    LaunchFailed {
        framework_id: String,
        executor_id: String,
        container_id: String,
        error: String,
    },
    /// A container ended (and was cleaned up).
    Exited {
        framework_id: String,
        executor_id: String,
        container_id: String,
        exit: Exit,
    },
    /// A core timer fired.
    Timer(Timer),
    /// A snapshot of the state for readers.
    Snapshot(oneshot::Sender<Arc<Snapshot>>),
    /// The SUBSCRIBE call to (re-)register with.
    SubscribeCall(oneshot::Sender<AgentCall>),
    /// Destroy every container and stop.
    Shutdown(oneshot::Sender<()>),
    /// How many recovered executors have not re-subscribed yet.
    AwaitingReregistration(oneshot::Sender<usize>),
    /// `--executor_reregistration_timeout` passed: destroy the recovered executors still away.
    ReregistrationTimeout(std::time::Duration),
    /// `--recover=cleanup`: destroy every recovered executor.
    CleanupRecovered,
    /// What is left to do: (executors not yet completed, unacknowledged status updates).
    Outstanding(oneshot::Sender<(usize, usize)>),
}

/// A cheap handle to send commands to the actor.
#[derive(Debug, Clone)]
pub struct ActorHandle {
    pub(super) tx: mpsc::UnboundedSender<Command>,
}

impl ActorHandle {
    /// A handle whose commands arrive on the returned receiver (tests of the senders).
    #[cfg(test)]
    pub(crate) fn channel() -> (ActorHandle, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ActorHandle { tx }, rx)
    }

    /// Sends a command; `false` if the actor has stopped.
    pub fn send(&self, command: Command) -> bool {
        self.tx.send(command).is_ok()
    }

    /// The current state.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Snapshot(reply));
        rx.await.map_err(|_| stopping())
    }

    /// Runs an executor API call.
    pub async fn executor_call(
        &self,
        call: executor::Call,
        encoding: Encoding,
    ) -> Result<ExecutorReply, CallError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::ExecutorCall {
            call: Box::new(call),
            encoding,
            reply,
        });
        rx.await.map_err(|_| stopping())?
    }

    /// Asks the actor for a value through a reply channel.
    pub async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.send(command(reply));
        rx.await.ok()
    }

    /// The SUBSCRIBE call for the master.
    pub async fn subscribe_call(&self) -> Option<AgentCall> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::SubscribeCall(reply));
        rx.await.ok()
    }
}

fn stopping() -> CallError {
    CallError::Unavailable("The agent is shutting down".into())
}

/// Seconds since the epoch.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
