//! The status update manager: reliable, in-order delivery of task status updates to the
//! master (`reference/mesos-v1-api.md` §6).
//!
//! Each task has a stream of updates. Only the head is sent; it is resent with exponential
//! backoff (from the retry interval, doubling up to the maximum — Mesos's
//! `STATUS_UPDATE_RETRY_INTERVAL_MIN/MAX`, 10 s and [`MAX_RETRY_INTERVAL`]) until the master
//! relays the scheduler's acknowledgement of that uuid. Then the head is popped and the next
//! one is sent; later updates queue behind the head. Updates whose uuid the stream has already
//! seen are ignored, and so are acknowledgements of anything but the head (duplicates, unknown
//! uuids, unknown tasks). The manager is pure: it returns what to send and when to retry, and
//! the caller does the I/O and runs the timers. After an agent restart the streams are rebuilt
//! from the checkpointed update logs ([`StatusUpdateManager::recover_stream`]).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use corral_api::v1;

use crate::core::state::{is_terminal, state_name};

/// Longest interval between two sends of the same update (Mesos: 10 minutes).
pub const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(600);

/// An update to send to the master now, with the retry timer to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// The task's framework.
    pub framework_id: String,
    /// The update (the head of its task's stream).
    pub status: v1::TaskStatus,
    /// The latest state the agent knows for the task.
    pub latest_state: String,
    /// When to retry if it is not acknowledged.
    pub retry_after: Duration,
    /// Identifies the retry timer; a timer with an older generation is stale.
    pub generation: u64,
}

/// What became of an update handed to the manager.
#[allow(clippy::large_enum_variant)] // returned and consumed at once
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Same uuid as an update already received for the task: ignored.
    Duplicate,
    /// Queued behind the head.
    Queued,
    /// It is the new head: send it.
    Send(Forward),
}

/// What an acknowledgement did.
#[allow(clippy::large_enum_variant)] // returned and consumed at once
#[derive(Debug, Clone, PartialEq)]
pub enum Acked {
    /// No stream for the task, or the uuid is not its head's: ignored.
    Ignored,
    /// The head was popped.
    Popped {
        /// The acknowledged update's state was terminal: the task is done.
        terminal: bool,
        /// The next update to send, if any.
        next: Option<Forward>,
    },
}

#[derive(Debug)]
struct Stream {
    pending: VecDeque<v1::TaskStatus>,
    received: HashSet<Vec<u8>>,
    backoff: Duration,
    generation: u64,
}

/// Per-task update streams; see the module docs.
#[derive(Debug)]
pub struct StatusUpdateManager {
    streams: BTreeMap<(String, String), Stream>,
    retry_interval: Duration,
    max_retry_interval: Duration,
    next_generation: u64,
}

impl StatusUpdateManager {
    /// A manager whose first retry comes after `retry_interval`.
    pub fn new(retry_interval: Duration) -> Self {
        StatusUpdateManager {
            streams: BTreeMap::new(),
            retry_interval: retry_interval.max(Duration::from_millis(1)),
            max_retry_interval: MAX_RETRY_INTERVAL.max(retry_interval),
            next_generation: 0,
        }
    }

    /// Caps the backoff at `max` (never below the first interval).
    pub fn with_max_interval(mut self, max: Duration) -> Self {
        self.max_retry_interval = max.max(self.retry_interval);
        self
    }

    /// Rebuilds a task's stream from its checkpointed log after a restart: every update
    /// counts as received (a resent one is a duplicate); the unacknowledged ones are pending,
    /// in order. Nothing is sent until [`resend_all`](Self::resend_all).
    pub fn recover_stream(
        &mut self,
        framework_id: &str,
        task_id: &str,
        updates: &[v1::TaskStatus],
        acked: &HashSet<Vec<u8>>,
    ) {
        let mut stream = Stream {
            pending: VecDeque::new(),
            received: HashSet::new(),
            backoff: Duration::ZERO,
            generation: 0,
        };
        for status in updates {
            let uuid = status.uuid.clone().unwrap_or_default();
            if stream.received.insert(uuid.clone()) && !acked.contains(&uuid) {
                stream.pending.push_back(status.clone());
            }
        }
        let terminal_done =
            stream.pending.is_empty() && updates.last().is_some_and(|s| is_terminal(s.state()));
        if !terminal_done {
            self.streams
                .insert((framework_id.to_string(), task_id.to_string()), stream);
        }
    }

    /// Takes custody of an update (its `uuid` must be set).
    pub fn update(&mut self, framework_id: &str, status: v1::TaskStatus) -> Accepted {
        let key = (framework_id.to_string(), status.task_id.value.clone());
        let uuid = status.uuid.clone().unwrap_or_default();
        let stream = self.streams.entry(key.clone()).or_insert_with(|| Stream {
            pending: VecDeque::new(),
            received: HashSet::new(),
            backoff: Duration::ZERO,
            generation: 0,
        });
        if !stream.received.insert(uuid) {
            return Accepted::Duplicate;
        }
        stream.pending.push_back(status);
        if stream.pending.len() > 1 {
            return Accepted::Queued;
        }
        match self.send_head(&key, true) {
            Some(forward) => Accepted::Send(forward),
            None => Accepted::Queued,
        }
    }

    /// Whether the task's stream already received an update with `uuid`.
    pub fn seen(&self, framework_id: &str, task_id: &str, uuid: &[u8]) -> bool {
        self.streams
            .get(&(framework_id.to_string(), task_id.to_string()))
            .is_some_and(|s| s.received.contains(uuid))
    }

    /// The master relayed an acknowledgement of `uuid` for the task.
    pub fn acknowledge(&mut self, framework_id: &str, task_id: &str, uuid: &[u8]) -> Acked {
        let key = (framework_id.to_string(), task_id.to_string());
        let Some(stream) = self.streams.get_mut(&key) else {
            return Acked::Ignored;
        };
        let head_matches = stream
            .pending
            .front()
            .is_some_and(|head| head.uuid.as_deref() == Some(uuid));
        if !head_matches {
            return Acked::Ignored;
        }
        let Some(head) = stream.pending.pop_front() else {
            return Acked::Ignored;
        };
        let terminal = is_terminal(head.state());
        if stream.pending.is_empty() {
            if terminal {
                self.streams.remove(&key);
            }
            return Acked::Popped {
                terminal,
                next: None,
            };
        }
        let next = self.send_head(&key, true);
        Acked::Popped { terminal, next }
    }

    /// A retry timer fired: the head to resend, if the timer is still current.
    pub fn retry(&mut self, framework_id: &str, task_id: &str, generation: u64) -> Option<Forward> {
        let key = (framework_id.to_string(), task_id.to_string());
        let current = self
            .streams
            .get(&key)
            .is_some_and(|s| s.generation == generation && !s.pending.is_empty());
        if !current {
            return None;
        }
        self.send_head(&key, false)
    }

    /// Every head, to resend after (re-)registering with a master; backoff starts over.
    pub fn resend_all(&mut self) -> Vec<Forward> {
        let keys: Vec<(String, String)> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.pending.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter()
            .filter_map(|key| self.send_head(key, true))
            .collect()
    }

    /// Forgets every stream of a framework (it was removed).
    pub fn cleanup_framework(&mut self, framework_id: &str) {
        self.streams.retain(|(f, _), _| f != framework_id);
    }

    /// The unacknowledged updates of a task, oldest first.
    pub fn pending(&self, framework_id: &str, task_id: &str) -> Vec<&v1::TaskStatus> {
        self.streams
            .get(&(framework_id.to_string(), task_id.to_string()))
            .map(|s| s.pending.iter().collect())
            .unwrap_or_default()
    }

    /// Number of updates not yet acknowledged, over all tasks.
    pub fn pending_count(&self) -> usize {
        self.streams.values().map(|s| s.pending.len()).sum()
    }

    /// Prepares the head of a stream for sending: a fresh backoff (`reset`) or the doubled one.
    fn send_head(&mut self, key: &(String, String), reset: bool) -> Option<Forward> {
        self.next_generation += 1;
        let generation = self.next_generation;
        let retry_interval = self.retry_interval;
        let max_retry_interval = self.max_retry_interval;
        let stream = self.streams.get_mut(key)?;
        let head = stream.pending.front()?.clone();
        stream.backoff = if reset || stream.backoff.is_zero() {
            retry_interval
        } else {
            (stream.backoff * 2).min(max_retry_interval)
        };
        stream.generation = generation;
        let latest = stream.pending.back().map_or(head.state, |s| s.state);
        Some(Forward {
            framework_id: key.0.clone(),
            status: head,
            latest_state: state_name(latest).to_string(),
            retry_after: stream.backoff,
            generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::v1::TaskState;

    fn status(task: &str, state: TaskState, uuid: u8) -> v1::TaskStatus {
        v1::TaskStatus {
            task_id: v1::TaskId { value: task.into() },
            state: state as i32,
            uuid: Some(vec![uuid; 16]),
            ..Default::default()
        }
    }

    fn sent(accepted: Accepted) -> Forward {
        match accepted {
            Accepted::Send(f) => f,
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn head_is_sent_then_next_after_ack() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(10));
        let first = sent(m.update("f", status("t", TaskState::TaskRunning, 1)));
        assert_eq!(first.retry_after, Duration::from_secs(10));
        assert_eq!(first.latest_state, "TASK_RUNNING");
        assert_eq!(
            m.update("f", status("t", TaskState::TaskFinished, 2)),
            Accepted::Queued
        );
        // An ack for the second update (not the head) is ignored.
        assert_eq!(m.acknowledge("f", "t", &[2; 16]), Acked::Ignored);
        let Acked::Popped { terminal, next } = m.acknowledge("f", "t", &[1; 16]) else {
            panic!("head not popped");
        };
        assert!(!terminal);
        let next = next.unwrap();
        assert_eq!(next.status.state(), TaskState::TaskFinished);
        assert_eq!(
            m.acknowledge("f", "t", &[2; 16]),
            Acked::Popped {
                terminal: true,
                next: None
            }
        );
        assert_eq!(m.pending_count(), 0);
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(1));
        sent(m.update("f", status("t", TaskState::TaskRunning, 1)));
        assert_eq!(
            m.update("f", status("t", TaskState::TaskRunning, 1)),
            Accepted::Duplicate
        );
        assert_eq!(m.pending("f", "t").len(), 1);
    }

    #[test]
    fn latest_state_is_the_newest_update() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(1));
        let f = sent(m.update("f", status("t", TaskState::TaskRunning, 1)));
        m.update("f", status("t", TaskState::TaskFailed, 2));
        let again = m.retry("f", "t", f.generation).unwrap();
        assert_eq!(again.status.state(), TaskState::TaskRunning);
        assert_eq!(again.latest_state, "TASK_FAILED");
    }

    #[test]
    fn retries_back_off_and_stale_timers_are_ignored() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(10));
        let f = sent(m.update("f", status("t", TaskState::TaskRunning, 1)));
        let r1 = m.retry("f", "t", f.generation).unwrap();
        assert_eq!(r1.retry_after, Duration::from_secs(20));
        assert!(m.retry("f", "t", f.generation).is_none(), "stale timer");
        let mut last = r1;
        for _ in 0..20 {
            last = m.retry("f", "t", last.generation).unwrap();
        }
        assert_eq!(last.retry_after, MAX_RETRY_INTERVAL);
        let resent = m.resend_all();
        assert_eq!(resent.len(), 1);
        assert_eq!(resent[0].retry_after, Duration::from_secs(10));
        assert!(m.retry("f", "t", last.generation).is_none());
    }

    #[test]
    fn cleanup_drops_a_frameworks_streams() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(1));
        sent(m.update("f", status("t", TaskState::TaskRunning, 1)));
        sent(m.update("g", status("t", TaskState::TaskRunning, 2)));
        m.cleanup_framework("f");
        assert_eq!(m.pending_count(), 1);
        assert_eq!(m.acknowledge("f", "t", &[1; 16]), Acked::Ignored);
    }

    /// S1 (reliability matrix): driven by a manual clock, the retries of an unacknowledged
    /// head back off 1, 2, 4, 8, 8 s with min 1 s / max 8 s; bogus acknowledgements change
    /// nothing; later updates wait behind the head; another task is unaffected.
    #[test]
    fn s1_retry_gaps_double_to_the_max_and_bogus_acks_are_ignored() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(1))
            .with_max_interval(Duration::from_secs(8));
        // The manual clock: (fire time, framework, task, generation) of the live timers.
        let mut now = Duration::ZERO;
        let mut timers: Vec<(Duration, String, u64)> = Vec::new();
        let mut sends: Vec<(Duration, String, u8)> = Vec::new();
        let mut record = |now: Duration, f: &Forward, timers: &mut Vec<(Duration, String, u64)>| {
            let uuid = f.status.uuid.as_ref().unwrap()[0];
            sends.push((now, f.status.task_id.value.clone(), uuid));
            timers.push((
                now + f.retry_after,
                f.status.task_id.value.clone(),
                f.generation,
            ));
        };
        let head = sent(m.update("f", status("stuck", TaskState::TaskRunning, 1)));
        record(now, &head, &mut timers);
        assert_eq!(
            m.update("f", status("stuck", TaskState::TaskFinished, 2)),
            Accepted::Queued,
            "a later update waits behind the head"
        );
        let other = sent(m.update("f", status("fine", TaskState::TaskRunning, 9)));
        record(now, &other, &mut timers);
        assert!(matches!(
            m.acknowledge("f", "fine", &[9; 16]),
            Acked::Popped { next: None, .. }
        ));
        // Bogus acknowledgements: unknown uuid, the queued (non-head) update, unknown task,
        // unknown framework, and a duplicate of the ack just processed.
        for (framework, task, uuid) in [
            ("f", "stuck", 7u8),
            ("f", "stuck", 2),
            ("f", "nope", 1),
            ("g", "stuck", 1),
            ("f", "fine", 9),
        ] {
            assert_eq!(m.acknowledge(framework, task, &[uuid; 16]), Acked::Ignored);
        }
        while now < Duration::from_secs(30) {
            timers.sort();
            let (at, task, generation) = timers.remove(0);
            now = at;
            if let Some(again) = m.retry("f", &task, generation) {
                record(now, &again, &mut timers);
            }
        }
        let stuck: Vec<(u64, u8)> = sends
            .iter()
            .filter(|(_, task, _)| task == "stuck")
            .map(|(at, _, uuid)| (at.as_secs(), *uuid))
            .collect();
        let gaps: Vec<u64> = stuck.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert_eq!(&gaps[..5], &[1, 2, 4, 8, 8], "{stuck:?}");
        assert!(
            stuck.iter().all(|(_, uuid)| *uuid == 1),
            "only the head is sent"
        );
        assert_eq!(
            sends.iter().filter(|(_, task, _)| task == "fine").count(),
            1,
            "an acknowledged task is not resent"
        );
        // The real ack arrives: the queued update goes out with a fresh backoff.
        let Acked::Popped {
            next: Some(next), ..
        } = m.acknowledge("f", "stuck", &[1; 16])
        else {
            panic!("head not popped");
        };
        assert_eq!(next.status.uuid, Some(vec![2; 16]));
        assert_eq!(next.retry_after, Duration::from_secs(1));
    }

    #[test]
    fn recovered_streams_resend_unacknowledged_updates_with_their_uuids() {
        let mut m = StatusUpdateManager::new(Duration::from_secs(1));
        let updates = [
            status("t", TaskState::TaskRunning, 1),
            status("t", TaskState::TaskFinished, 2),
        ];
        let acked: HashSet<Vec<u8>> = [vec![1; 16]].into_iter().collect();
        m.recover_stream("f", "t", &updates, &acked);
        // A task whose terminal update was acknowledged needs no stream.
        let all: HashSet<Vec<u8>> = [vec![3; 16]].into_iter().collect();
        m.recover_stream(
            "f",
            "done",
            &[status("done", TaskState::TaskFailed, 3)],
            &all,
        );
        assert_eq!(m.pending_count(), 1);
        let resent = m.resend_all();
        assert_eq!(resent.len(), 1);
        assert_eq!(resent[0].status.uuid, Some(vec![2; 16]));
        // The executor re-sends both after reconnecting: duplicates.
        for update in updates {
            assert_eq!(m.update("f", update), Accepted::Duplicate);
        }
    }
}
