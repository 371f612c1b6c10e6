//! Streaming a task's stdout and stderr: find its sandbox in the agent's `/state`, then poll
//! `/files/read` from the last offset until told to stop, and drain what is left.

use std::time::Duration;

use corral_client::LegacyClient;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// How often the files are polled while the task runs.
const POLL: Duration = Duration::from_millis(200);
/// Largest chunk read at once.
const CHUNK: u64 = 256 * 1024;
/// How long to look for the sandbox after the task ended.
const LOCATE_AFTER_STOP: Duration = Duration::from_secs(5);

/// One sandbox file being followed.
struct Followed {
    path: String,
    offset: u64,
    stderr: bool,
}

/// Follows the sandbox of `task_id` (of `framework_id`) on `agent` until `stop` turns true,
/// then drains the files.
pub async fn follow(
    agent: LegacyClient,
    framework_id: String,
    task_id: String,
    mut stop: watch::Receiver<bool>,
) {
    let Some(sandbox) = locate(&agent, &framework_id, &task_id, &mut stop).await else {
        tracing::warn!(agent = %agent.endpoint(), task_id, "could not find the task's sandbox; no output shown");
        return;
    };
    tracing::debug!(sandbox, "following the sandbox");
    let mut files = [
        Followed {
            path: format!("{sandbox}/stdout"),
            offset: 0,
            stderr: false,
        },
        Followed {
            path: format!("{sandbox}/stderr"),
            offset: 0,
            stderr: true,
        },
    ];
    loop {
        let stopping = *stop.borrow_and_update();
        let mut got = false;
        for file in &mut files {
            got |= pump(&agent, file).await;
        }
        if stopping && !got {
            return;
        }
        if !got {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Finds the sandbox directory; gives up a while after `stop`.
async fn locate(
    agent: &LegacyClient,
    framework_id: &str,
    task_id: &str,
    stop: &mut watch::Receiver<bool>,
) -> Option<String> {
    let mut gave_up_at = None;
    loop {
        if let Ok(state) = agent.agent_state().await {
            if let Some(dir) = state.sandbox_of(framework_id, task_id) {
                return Some(dir.to_string());
            }
        }
        if *stop.borrow() {
            let deadline =
                *gave_up_at.get_or_insert_with(|| tokio::time::Instant::now() + LOCATE_AFTER_STOP);
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Copies what is new in `file` to the terminal; true when something was copied.
async fn pump(agent: &LegacyClient, file: &mut Followed) -> bool {
    let mut copied = false;
    loop {
        let offset = i64::try_from(file.offset).unwrap_or(i64::MAX);
        let chunk = match agent.read_file(&file.path, offset, Some(CHUNK)).await {
            Ok(chunk) => chunk,
            // Not created yet, or the agent is busy: try again at the next poll.
            Err(_) => return copied,
        };
        if chunk.data.is_empty() {
            return copied;
        }
        let bytes = chunk.data.as_bytes();
        file.offset = chunk.offset.max(file.offset) + bytes.len() as u64;
        copied = true;
        let written = if file.stderr {
            write_all(&mut tokio::io::stderr(), bytes).await
        } else {
            write_all(&mut tokio::io::stdout(), bytes).await
        };
        if written.is_err() {
            return copied;
        }
    }
}

async fn write_all<W: AsyncWrite + Unpin>(out: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes).await?;
    out.flush().await
}
