//! The pure decisions of the task logger: how many bytes the rate limit admits, when a
//! "dropped" marker is due, and where a chunk of output must be cut to rotate the file.
//! Time is a [`Duration`] since an arbitrary origin, so tests drive it by hand.

use std::time::Duration;

/// A token bucket: `rate` bytes per second, holding at most `burst` bytes.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket at time `now`. A `burst` below `rate` is raised to `rate` (a second's
    /// worth), so that one second of output at the limit is never cut.
    pub fn new(rate: u64, burst: u64, now: Duration) -> Self {
        let burst = burst.max(rate).max(1);
        Self {
            rate,
            burst,
            tokens: burst as f64,
            last: now,
        }
    }

    /// The bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Admits up to `len` bytes at `now`; returns how many (the rest must be dropped).
    pub fn admit(&mut self, now: Duration, len: usize) -> usize {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.burst as f64);
        // Whole bytes only; truncation is intended.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let available = self.tokens.max(0.0).floor() as u64;
        let admitted = available.min(len as u64);
        self.tokens -= admitted as f64;
        usize::try_from(admitted).unwrap_or(len)
    }
}

/// Counts dropped bytes and says when to write the one marker line of an interval.
#[derive(Debug, Clone, Default)]
pub struct DropReport {
    dropped: u64,
    last_marker: Option<Duration>,
}

impl DropReport {
    /// Records `n` dropped bytes.
    pub fn record(&mut self, n: u64) {
        self.dropped += n;
    }

    /// Bytes dropped since the last marker.
    pub fn pending(&self) -> u64 {
        self.dropped
    }

    /// The dropped count to report now, if any bytes were dropped and no marker was written
    /// in the last `interval`; resets the count. `force` ignores the interval (end of stream).
    pub fn due(&mut self, now: Duration, interval: Duration, force: bool) -> Option<u64> {
        if self.dropped == 0 {
            return None;
        }
        let waited = self
            .last_marker
            .is_none_or(|last| now.saturating_sub(last) >= interval);
        if !(waited || force) {
            return None;
        }
        self.last_marker = Some(now);
        Some(std::mem::take(&mut self.dropped))
    }
}

/// The marker line written in place of dropped output.
pub fn marker(dropped: u64, rate: u64) -> String {
    format!("\n[corral: dropped {dropped} bytes of output, rate limit {rate} B/s]\n")
}

/// One step of writing a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Rotate: the current file becomes `.1`, `.1` becomes `.2`, …; a new empty file starts.
    Rotate,
    /// Append this many bytes of the chunk (in order) to the current file.
    Write(usize),
}

/// Size-based rotation of one output file: no file grows beyond `max_size`.
#[derive(Debug, Clone)]
pub struct Rotation {
    max_size: u64,
    current: u64,
}

impl Rotation {
    /// `current` is the size of the file as found (appending to an existing file).
    pub fn new(max_size: u64, current: u64) -> Self {
        Self {
            max_size: max_size.max(1),
            current,
        }
    }

    /// The size of the current file after the steps planned so far.
    pub fn current(&self) -> u64 {
        self.current
    }

    /// The steps to write `len` bytes, and the new current size; a chunk that does not fit
    /// is cut at the limit and continues in a fresh file.
    pub fn plan(&mut self, len: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut left = len as u64;
        while left > 0 {
            if self.current >= self.max_size {
                steps.push(Step::Rotate);
                self.current = 0;
            }
            let room = self.max_size - self.current;
            let n = room.min(left);
            steps.push(Step::Write(usize::try_from(n).unwrap_or(usize::MAX)));
            self.current += n;
            left -= n;
        }
        steps
    }
}

/// The renames of a rotation keeping at most `max_files` files in all (`name` plus
/// `name.1` … `name.<max_files-1>`), oldest first: `(from, to)` suffixes where `None` is
/// the bare name; the oldest file is overwritten by the rename (or removed when
/// `max_files` is 1, shown as `(None, None)`).
pub fn renames(max_files: u32) -> Vec<(Option<u32>, Option<u32>)> {
    if max_files <= 1 {
        return vec![(None, None)];
    }
    let mut out = Vec::new();
    for i in (1..max_files - 1).rev() {
        out.push((Some(i), Some(i + 1)));
    }
    out.push((None, Some(1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn bucket_admits_the_burst_then_the_rate() {
        let mut b = TokenBucket::new(1000, 4000, secs(0.0));
        assert_eq!(b.admit(secs(0.0), 10_000), 4000);
        assert_eq!(b.admit(secs(0.0), 10), 0);
        assert_eq!(b.admit(secs(0.5), 10_000), 500);
        assert_eq!(b.admit(secs(1.5), 100), 100);
        assert_eq!(b.admit(secs(1.5), 10_000), 900);
        // Idle time refills only up to the burst.
        assert_eq!(b.admit(secs(100.0), 10_000), 4000);
        // Time going backwards admits nothing new.
        assert_eq!(b.admit(secs(50.0), 10), 0);
    }

    #[test]
    fn bucket_total_is_bounded_by_rate_times_time_plus_burst() {
        let mut b = TokenBucket::new(2048, 4096, secs(0.0));
        let mut total = 0u64;
        for ms in 0..5000 {
            total += b.admit(Duration::from_millis(ms), 65536) as u64;
        }
        assert!(total <= 2048 * 5 + 4096, "{total}");
        assert!(total >= 2048 * 4, "{total}");
    }

    #[test]
    fn markers_once_per_interval() {
        let mut r = DropReport::default();
        let second = Duration::from_secs(1);
        assert_eq!(r.due(secs(0.0), second, false), None);
        r.record(10);
        assert_eq!(r.due(secs(0.0), second, false), Some(10));
        r.record(5);
        assert_eq!(r.due(secs(0.5), second, false), None);
        r.record(5);
        assert_eq!(r.pending(), 10);
        assert_eq!(r.due(secs(1.0), second, false), Some(10));
        r.record(1);
        assert_eq!(r.due(secs(1.1), second, true), Some(1));
        assert!(marker(7, 100).contains("dropped 7 bytes of output, rate limit 100 B/s"));
    }

    #[test]
    fn rotation_never_exceeds_the_size() {
        let mut r = Rotation::new(10, 0);
        assert_eq!(r.plan(4), vec![Step::Write(4)]);
        assert_eq!(
            r.plan(25),
            vec![
                Step::Write(6),
                Step::Rotate,
                Step::Write(10),
                Step::Rotate,
                Step::Write(9)
            ]
        );
        assert_eq!(r.current(), 9);
        assert_eq!(r.plan(1), vec![Step::Write(1)]);
        assert_eq!(r.plan(1), vec![Step::Rotate, Step::Write(1)]);
        assert_eq!(r.plan(0), vec![]);
        // An existing file already over the limit is rotated first.
        let mut r = Rotation::new(10, 50);
        assert_eq!(r.plan(3), vec![Step::Rotate, Step::Write(3)]);
    }

    #[test]
    fn renames_keep_at_most_max_files() {
        assert_eq!(renames(3), vec![(Some(1), Some(2)), (None, Some(1))]);
        assert_eq!(renames(2), vec![(None, Some(1))]);
        assert_eq!(renames(1), vec![(None, None)]);
        assert_eq!(renames(0), vec![(None, None)]);
    }
}
