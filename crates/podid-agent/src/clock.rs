//! Wall-clock time for expiry decisions, replaceable in tests.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Tells the current time in Unix seconds.
///
/// Credentials and tokens expire at wall-clock instants, while timers run on tokio's monotonic
/// clock. In production `System` reads the system clock. In tests `Tokio` derives wall time from
/// tokio's clock, so that pausing and advancing tokio time moves both together.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Tokio { unix_at_start: i64, start: Instant },
}

impl Clock {
    /// A clock that reads `unix_now` at tokio's current instant and advances with tokio's time.
    pub fn tokio_at(unix_now: i64) -> Self {
        Clock::Tokio {
            unix_at_start: unix_now,
            start: Instant::now(),
        }
    }

    pub fn now_unix(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs() as i64),
            Clock::Tokio {
                unix_at_start,
                start,
            } => unix_at_start + start.elapsed().as_secs() as i64,
        }
    }
}
