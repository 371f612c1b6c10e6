//! Sending status updates to the agent, in order, off the executor's main loop.
//!
//! Each update is POSTed until the agent answers 2xx, retried on connection trouble (a few
//! times, with backoff) and dropped on a 4xx (the agent will never take it). An update that
//! could not be delivered is still held by the core and handed back in the next SUBSCRIBE.

use std::time::Duration;

use corral_api::v1::TaskStatus;
use corral_client::ExecutorClient;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The update pipeline.
pub struct UpdateSender {
    tx: Option<mpsc::UnboundedSender<TaskStatus>>,
    worker: JoinHandle<()>,
}

impl UpdateSender {
    /// Starts the worker.
    pub fn start(client: ExecutorClient) -> UpdateSender {
        let (tx, mut rx) = mpsc::unbounded_channel::<TaskStatus>();
        let worker = tokio::spawn(async move {
            while let Some(status) = rx.recv().await {
                deliver(&client, status).await;
            }
        });
        UpdateSender {
            tx: Some(tx),
            worker,
        }
    }

    /// Queues `status`.
    pub fn send(&self, status: TaskStatus) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(status);
        }
    }

    /// Lets queued updates go out, for at most `limit`.
    pub async fn finish(mut self, limit: Duration) {
        self.tx = None;
        if tokio::time::timeout(limit, &mut self.worker).await.is_err() {
            self.worker.abort();
        }
    }
}

async fn deliver(client: &ExecutorClient, status: TaskStatus) {
    let task_id = status.task_id.value.clone();
    let state = status.state().as_str_name();
    let mut delay = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        match client.update(status.clone()).await {
            Ok(()) => {
                tracing::debug!(%task_id, state, "update sent");
                return;
            }
            Err(error) if error.status().is_some_and(|s| s.is_client_error()) => {
                tracing::error!(%task_id, state, %error, "the agent refused the update");
                return;
            }
            Err(error) => {
                tracing::warn!(%task_id, state, attempt, %error, "sending the update failed");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
