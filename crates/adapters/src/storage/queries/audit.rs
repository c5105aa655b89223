//! SQL for `chat-api check-ledger` and the ledger metrics.

/// Defines `mod audit`: the ledger audit queries for the connection type `$conn`.
macro_rules! audit_queries {
    ($conn:ty) => {
        /// The ledger audit's queries.
        pub mod audit {
            use diesel::prelude::*;

            use crate::storage::models::{ChatLedgerTotalsRow, LedgerTotalsRow};

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

            /// Every chat settled through a charge, its `tokens_charged` next to minus the sum of
            /// the entries referencing the charge, read in one statement (one snapshot).
            pub fn chat_ledger_totals(conn: &mut $conn) -> QueryResult<Vec<ChatLedgerTotalsRow>> {
                diesel::sql_query(
                    "SELECT ch.id AS chat_id, ch.user_id AS user_id, u.username AS username, \
                     ch.tokens_charged AS tokens_charged, \
                     CAST(-COALESCE(SUM(l.amount), 0) AS BIGINT) AS ledger_net \
                     FROM chats ch \
                     JOIN users u ON u.id = ch.user_id \
                     JOIN chat_charges c ON c.chat_id = ch.id \
                     LEFT JOIN ledger_entries l ON l.reference = c.id \
                     GROUP BY ch.id, ch.user_id, u.username, ch.tokens_charged ORDER BY ch.id",
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
