//! The clock edge: the runtime asks it for `now`; the core never reads time itself.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> f64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A clock a test moves by hand.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::Mutex<f64>);

impl ManualClock {
    /// A clock at `t`.
    pub fn at(t: f64) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    /// Move it forward.
    pub fn advance(&self, secs: f64) {
        if let Ok(mut t) = self.0.lock() {
            *t += secs;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        self.0.lock().map(|t| *t).unwrap_or(0.0)
    }
}
