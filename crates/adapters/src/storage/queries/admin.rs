//! SQL for the admin panel: its read models, admin adjustments, account switches and sessions.
//! Expanded once per backend by [`super`].

/// Defines `mod admin`: the admin queries for the connection type `$conn`.
macro_rules! admin_queries {
    ($conn:ty) => {
        /// The admin panel's queries.
        pub mod admin {
            use chrono::NaiveDateTime;
            use diesel::prelude::*;
            use domain::{LedgerEntryKind, Tokens, UserId};
            use ports::{Adjusted, DashboardTotals, TokenAdjustment};

            use crate::storage::{
                models::{AdminSessionRow, ChatRow, LedgerRow, NewLedgerEntry, UserRow},
                pool::WriteTransaction,
                queries::admin::{amount_sum, escape_like},
                schema::{admin_sessions, chats, ledger_entries, users},
            };

            /// The dashboard's totals, read in one statement so that they come from one snapshot
            /// (on PostgreSQL every statement sees one snapshot, even under `READ COMMITTED`). The
            /// ledger kinds are bound parameters, named by [`LedgerEntryKind::as_str`].
            pub fn dashboard_totals(
                conn: &mut $conn,
                today_start: NaiveDateTime,
            ) -> QueryResult<DashboardTotals> {
                let kind = ledger_entries::kind;
                let granted = ledger_entries::table
                    .filter(
                        kind.eq(LedgerEntryKind::SignupGrant.as_str()).or(kind
                            .eq(LedgerEntryKind::AdminAdjustment.as_str())
                            .and(ledger_entries::amount.gt(0))),
                    )
                    .select(amount_sum())
                    .single_value();
                let debited_net_of_refunds = ledger_entries::table
                    .filter(kind.eq_any([
                        LedgerEntryKind::ChatDebit.as_str(),
                        LedgerEntryKind::Refund.as_str(),
                    ]))
                    .select(amount_sum())
                    .single_value();
                let (users, chats_today, granted, debited_net_of_refunds) = diesel::select((
                    users::table.count().single_value(),
                    chats::table
                        .filter(chats::timestamp.ge(today_start))
                        .count()
                        .single_value(),
                    granted,
                    debited_net_of_refunds,
                ))
                .get_result::<(Option<i64>, Option<i64>, Option<i64>, Option<i64>)>(conn)?;
                Ok(DashboardTotals {
                    users: users.unwrap_or(0),
                    chats_today: chats_today.unwrap_or(0),
                    tokens_granted: granted.unwrap_or(0),
                    tokens_spent: 0i64.saturating_sub(debited_net_of_refunds.unwrap_or(0)),
                })
            }

            /// Users by id whose key contains `search` literally (LIKE wildcards escaped), one
            /// window of them with their chat counts, and the filtered total.
            pub fn list_users(
                conn: &mut $conn,
                search: Option<&str>,
                offset: i64,
                limit: i64,
            ) -> QueryResult<(Vec<(UserRow, i64)>, i64)> {
                let pattern = search.map(|s| format!("%{}%", escape_like(s)));
                let filtered = || {
                    let mut query =
                        users::table.into_boxed::<<$conn as diesel::Connection>::Backend>();
                    if let Some(pattern) = &pattern {
                        query =
                            query.filter(users::username_key.like(pattern.clone()).escape('\\'));
                    }
                    query
                };
                let total: i64 = filtered().count().get_result(conn)?;
                let rows: Vec<UserRow> = filtered()
                    .order(users::id.asc())
                    .offset(offset)
                    .limit(limit)
                    .select(UserRow::as_select())
                    .load(conn)?;
                let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
                let counts: Vec<(i64, i64)> = chats::table
                    .filter(chats::user_id.eq_any(&ids))
                    .group_by(chats::user_id)
                    .select((chats::user_id, diesel::dsl::count_star()))
                    .load(conn)?;
                let with_counts = rows
                    .into_iter()
                    .map(|row| {
                        let chats = counts
                            .iter()
                            .find(|(id, _)| *id == row.id)
                            .map_or(0, |(_, n)| *n);
                        (row, chats)
                    })
                    .collect();
                Ok((with_counts, total))
            }

            /// The newest `limit` ledger entries of a user, newest first, with the usernames of the
            /// admins who made them.
            pub fn user_ledger(
                conn: &mut $conn,
                user_id: UserId,
                limit: i64,
            ) -> QueryResult<(Vec<LedgerRow>, Vec<(i64, String)>)> {
                let rows: Vec<LedgerRow> = ledger_entries::table
                    .filter(ledger_entries::user_id.eq(user_id.0))
                    .order(ledger_entries::id.desc())
                    .limit(limit)
                    .select(LedgerRow::as_select())
                    .load(conn)?;
                let mut actor_ids: Vec<i64> = rows.iter().filter_map(|row| row.actor_id).collect();
                actor_ids.sort_unstable();
                actor_ids.dedup();
                let actors: Vec<(i64, String)> = users::table
                    .filter(users::id.eq_any(&actor_ids))
                    .select((users::id, users::username))
                    .load(conn)?;
                Ok((rows, actors))
            }

            /// Chats matching the filter, newest first, one window of them and the filtered total.
            pub fn list_chats(
                conn: &mut $conn,
                user: Option<i64>,
                from: Option<NaiveDateTime>,
                before: Option<NaiveDateTime>,
                offset: i64,
                limit: i64,
            ) -> QueryResult<(Vec<(ChatRow, String)>, i64)> {
                let filtered = || {
                    let mut query = chats::table
                        .inner_join(users::table)
                        .into_boxed::<<$conn as diesel::Connection>::Backend>();
                    if let Some(user) = user {
                        query = query.filter(chats::user_id.eq(user));
                    }
                    if let Some(from) = from {
                        query = query.filter(chats::timestamp.ge(from));
                    }
                    if let Some(before) = before {
                        query = query.filter(chats::timestamp.lt(before));
                    }
                    query
                };
                let total: i64 = filtered().count().get_result(conn)?;
                let rows = filtered()
                    .order((chats::timestamp.desc(), chats::id.desc()))
                    .offset(offset)
                    .limit(limit)
                    .select((ChatRow::as_select(), users::username))
                    .load(conn)?;
                Ok((rows, total))
            }

            /// One chat with its author's name.
            pub fn find_chat(conn: &mut $conn, id: i64) -> QueryResult<Option<(ChatRow, String)>> {
                chats::table
                    .inner_join(users::table)
                    .filter(chats::id.eq(id))
                    .select((ChatRow::as_select(), users::username))
                    .get_result(conn)
                    .optional()
            }

            /// In one write transaction: the balance update (a debit only if the balance covers
            /// it, as `reserve` does) and its `admin_adjustment` entry with actor and reason.
            pub fn adjust_tokens(
                conn: &mut $conn,
                adjustment: &TokenAdjustment,
                at: NaiveDateTime,
            ) -> QueryResult<Adjusted> {
                let user_id = adjustment.user_id.0;
                let amount = adjustment.amount.get();
                conn.write_transaction(|conn| {
                    let balance: Option<i64> = diesel::update(
                        users::table
                            .filter(users::id.eq(user_id))
                            .filter(users::tokens.ge(amount.saturating_neg().max(0))),
                    )
                    .set(users::tokens.eq(users::tokens + amount))
                    .returning(users::tokens)
                    .get_result(conn)
                    .optional()?;
                    let Some(balance) = balance else {
                        let available: Option<i64> = users::table
                            .find(user_id)
                            .select(users::tokens)
                            .get_result(conn)
                            .optional()?;
                        return Ok(match available {
                            Some(available) => Adjusted::InsufficientTokens {
                                available: Tokens::new(available),
                            },
                            None => Adjusted::UserNotFound,
                        });
                    };
                    diesel::insert_into(ledger_entries::table)
                        .values(NewLedgerEntry {
                            user_id,
                            amount,
                            kind: LedgerEntryKind::AdminAdjustment.as_str(),
                            reason: &adjustment.reason,
                            reference: None,
                            actor_id: Some(adjustment.actor_id.0),
                            created_at: at,
                        })
                        .execute(conn)?;
                    Ok(Adjusted::Applied(Tokens::new(balance)))
                })
            }

            /// In one write transaction: the new password hash, the next credentials version (every
            /// token issued so far stops working) and the end of the user's admin sessions.
            /// Returns whether the user exists.
            pub fn set_password(
                conn: &mut $conn,
                user_id: UserId,
                hash: &str,
            ) -> QueryResult<bool> {
                conn.write_transaction(|conn| {
                    let updated = diesel::update(users::table.find(user_id.0))
                        .set((
                            users::password_hash.eq(hash),
                            users::credentials_version.eq(users::credentials_version + 1),
                        ))
                        .execute(conn)?;
                    diesel::delete(
                        admin_sessions::table.filter(admin_sessions::user_id.eq(user_id.0)),
                    )
                    .execute(conn)?;
                    Ok(updated == 1)
                })
            }

            /// Stores a new admin session.
            pub fn create_admin_session(
                conn: &mut $conn,
                row: &AdminSessionRow,
            ) -> QueryResult<()> {
                diesel::insert_into(admin_sessions::table)
                    .values(row.clone())
                    .execute(conn)
                    .map(|_| ())
            }

            /// The unexpired session with this id hash.
            pub fn find_admin_session(
                conn: &mut $conn,
                id_hash: &str,
                now: NaiveDateTime,
            ) -> QueryResult<Option<AdminSessionRow>> {
                admin_sessions::table
                    .filter(admin_sessions::id_hash.eq(id_hash))
                    .filter(admin_sessions::expires_at.gt(now))
                    .select(AdminSessionRow::as_select())
                    .get_result(conn)
                    .optional()
            }

            /// Deletes one session.
            pub fn delete_admin_session(conn: &mut $conn, id_hash: &str) -> QueryResult<()> {
                diesel::delete(admin_sessions::table.filter(admin_sessions::id_hash.eq(id_hash)))
                    .execute(conn)
                    .map(|_| ())
            }

            /// Deletes sessions that expired at or before `now`.
            pub fn delete_expired_admin_sessions(
                conn: &mut $conn,
                now: NaiveDateTime,
            ) -> QueryResult<u64> {
                diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.le(now)))
                    .execute(conn)
                    .map(|n| n as u64)
            }
        }
    };
}

pub(super) use admin_queries;

/// `SUM(amount)` of the selected ledger entries, 0 when there are none. Cast to BIGINT because
/// PostgreSQL's `SUM(bigint)` is `numeric`.
pub fn amount_sum() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql("CAST(COALESCE(SUM(amount), 0) AS BIGINT)")
}

/// `raw` with LIKE's wildcards and the escape character escaped, so a search for `a_b` matches
/// only the literal text (`_` is legal in usernames).
pub fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
