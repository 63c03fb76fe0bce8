//! The emulator's clock, overridable so tests can exercise timestamp windows, expiry and
//! nonce retention without waiting. Shared: clones see the same time.

use std::sync::Arc;

use parking_lot::Mutex;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// System time shifted by an offset (time keeps flowing).
    Offset(Duration),
    /// Frozen at this instant until moved.
    Fixed(OffsetDateTime),
}

/// A shareable clock.
#[derive(Debug, Clone)]
pub struct Clock {
    mode: Arc<Mutex<Mode>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock { mode: Arc::new(Mutex::new(Mode::Offset(Duration::ZERO))) }
    }

    /// A clock frozen at `t` (QPS windows then never roll over by themselves: use
    /// [`Clock::advance`]).
    pub fn fixed(t: OffsetDateTime) -> Self {
        Clock { mode: Arc::new(Mutex::new(Mode::Fixed(t))) }
    }

    /// The system clock shifted by `offset`.
    pub fn offset(offset: Duration) -> Self {
        Clock { mode: Arc::new(Mutex::new(Mode::Offset(offset))) }
    }

    pub fn now(&self) -> OffsetDateTime {
        match *self.mode.lock() {
            Mode::Offset(d) => OffsetDateTime::now_utc() + d,
            Mode::Fixed(t) => t,
        }
    }

    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, d: Duration) {
        let mut m = self.mode.lock();
        *m = match *m {
            Mode::Offset(o) => Mode::Offset(o + d),
            Mode::Fixed(t) => Mode::Fixed(t + d),
        };
    }

    /// Freezes the clock at `t`.
    pub fn set(&self, t: OffsetDateTime) {
        *self.mode.lock() = Mode::Fixed(t);
    }
}
