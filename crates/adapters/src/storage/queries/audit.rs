//! SQL for `chat-api check-ledger` and the ledger metrics.

/// Defines `mod audit`: the ledger audit queries for the connection type `$conn`.
macro_rules! audit_queries {
    ($conn:ty) => {
        /// The ledger audit's queries.
        pub mod audit {
            use diesel::prelude::*;

            use crate::storage::models::LedgerTotalsRow;

            /// Every user's balance next to the sum of its ledger entries, read in one statement so
            /// both numbers come from the same snapshot.
            pub fn ledger_totals(conn: &mut $conn) -> QueryResult<Vec<LedgerTotalsRow>> {
                diesel::sql_query(
                    "SELECT u.id AS user_id, u.username AS username, u.tokens AS balance, \
                     CAST(COALESCE(SUM(l.amount), 0) AS BIGINT) AS entries_sum \
                     FROM users u LEFT JOIN ledger_entries l ON l.user_id = u.id \
                     GROUP BY u.id, u.username, u.tokens ORDER BY u.id",
                )
                .load(conn)
            }

            /// How many charges are still pending (an index range on `chat_charges_pending`).
            pub fn pending_charges(conn: &mut $conn) -> QueryResult<i64> {
                use crate::storage::{models::charge_status, schema::chat_charges};
                chat_charges::table
                    .filter(chat_charges::status.eq(charge_status::PENDING))
                    .count()
                    .get_result(conn)
            }
        }
    };
}

pub(super) use audit_queries;
