//! The admin front page's totals.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ports::{AdminRepository, Clock, DashboardTotals};

use super::AdminError;

/// Reads the dashboard totals (definitions on [`DashboardTotals`]).
pub struct Dashboard {
    admin: Arc<dyn AdminRepository>,
    clock: Arc<dyn Clock>,
}

impl Dashboard {
    /// Wires the use case.
    pub fn new(admin: Arc<dyn AdminRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { admin, clock }
    }

    /// Totals, with "today" being the current UTC day (stored timestamps are UTC).
    pub async fn totals(&self) -> Result<DashboardTotals, AdminError> {
        let today = self.clock.now().date_naive();
        let start: DateTime<Utc> = today.and_time(chrono::NaiveTime::MIN).and_utc();
        Ok(self.admin.dashboard_totals(start).await?)
    }
}

#[cfg(test)]
mod tests;
