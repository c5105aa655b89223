//! Wall-clock time, and waiting on tokio's timer.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::Clock;

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
