//! SQL for a user's own history and statement (see `ports::history`). Expanded once per backend
//! by [`super`].

/// Defines `mod history`: the history and statement queries for the connection type `$conn`.
macro_rules! history_queries {
    ($conn:ty) => {
        /// A user's chats and ledger, as the user reads them.
        pub mod history {
            use chrono::NaiveDateTime;
            use diesel::prelude::*;
            use domain::UserId;

            use crate::storage::{
                models::{ChatRow, StatementRow},
                pool::SnapshotRead,
                queries::admin::amount_sum,
                schema::{chat_charges, chats, ledger_entries},
            };

            /// One window of the user's chats, newest first, and their count, from one snapshot.
            pub fn chat_history(
                conn: &mut $conn,
                user_id: UserId,
                offset: i64,
                limit: i64,
            ) -> QueryResult<(Vec<ChatRow>, i64)> {
                conn.snapshot_read(|conn| {
                    let total: i64 = chats::table
                        .filter(chats::user_id.eq(user_id.0))
                        .count()
                        .get_result(conn)?;
                    let rows = chats::table
                        .filter(chats::user_id.eq(user_id.0))
                        .order((chats::timestamp.desc(), chats::id.desc()))
                        .offset(offset)
                        .limit(limit)
                        .select(ChatRow::as_select())
                        .load(conn)?;
                    Ok((rows, total))
                })
            }

            /// One window of the user's entries in `[from, to)` in statement order (time, then
            /// id), the window's size, and the sum of the user's entries before the page's first
            /// one (or before `to` when the page is empty), all from one snapshot.
            pub fn statement(
                conn: &mut $conn,
                user_id: UserId,
                from: NaiveDateTime,
                to: NaiveDateTime,
                offset: i64,
                limit: i64,
            ) -> QueryResult<(Vec<StatementRow>, i64, i64)> {
                let user = ledger_entries::user_id.eq(user_id.0);
                let at = ledger_entries::created_at;
                conn.snapshot_read(|conn| {
                    let total: i64 = ledger_entries::table
                        .filter(user)
                        .filter(at.ge(from).and(at.lt(to)))
                        .count()
                        .get_result(conn)?;
                    let rows: Vec<StatementRow> = ledger_entries::table
                        .left_join(
                            chat_charges::table
                                .on(ledger_entries::reference.eq(chat_charges::id.nullable())),
                        )
                        .filter(user)
                        .filter(at.ge(from).and(at.lt(to)))
                        .order((at.asc(), ledger_entries::id.asc()))
                        .offset(offset)
                        .limit(limit)
                        .select((
                            ledger_entries::id,
                            at,
                            ledger_entries::kind,
                            ledger_entries::amount,
                            ledger_entries::reason,
                            chat_charges::chat_id.nullable(),
                        ))
                        .load(conn)?;
                    let before =
                        match rows.first() {
                            Some(first) => ledger_entries::table
                                .filter(user)
                                .filter(at.lt(first.created_at).or(
                                    at.eq(first.created_at).and(ledger_entries::id.lt(first.id)),
                                ))
                                .select(amount_sum())
                                .get_result::<i64>(conn)?,
                            None => ledger_entries::table
                                .filter(user)
                                .filter(at.lt(to))
                                .select(amount_sum())
                                .get_result::<i64>(conn)?,
                        };
                    Ok((rows, total, before))
                })
            }
        }
    };
}

pub(super) use history_queries;
