//! The admin dashboard against a mocked port.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures_executor::block_on;
use ports::MockAdminRepository;

use super::*;
use crate::test_support::fixed_clock;

#[test]
fn the_dashboard_counts_today_from_midnight_utc() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_dashboard_totals()
        .withf(|start| Some(*start) == Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single())
        .returning(|_| Ok(ports::DashboardTotals::default()));
    let dashboard = Dashboard::new(Arc::new(admin), fixed_clock());
    assert!(block_on(dashboard.totals()).is_ok());
}
