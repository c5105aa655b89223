//! SQL for the charge protocol (see `ports::chats`). Expanded once per backend by [`super`].

/// Defines `mod chats`: the chat and charge queries for the connection type `$conn`.
macro_rules! chat_queries {
    ($conn:ty) => {
        /// The charge protocol's queries.
        pub mod chats {
            use chrono::NaiveDateTime;
            use diesel::prelude::*;
            use domain::{ChatStatus, LedgerEntryKind, Tokens, UserId};
            use ports::{
                ChargeId, ChatReservation, FinishedChat, Reservation, SettledChat, Settlement,
            };
            use uuid::Uuid;

            use crate::storage::{
                cached::CacheStatement,
                error::is_unique_violation,
                models::{
                    ChatRow, IdempotencyRow, NewChargeRow, NewChatRow, NewLedgerEntry,
                    charge_status,
                },
                pool::WriteTransaction,
                schema::{chat_charges, chats, idempotency_keys, ledger_entries, users},
            };

            /// Protocol step 1, in one write transaction: idempotency check, conditional debit,
            /// pending charge, `chat_debit` entry, idempotency claim.
            ///
            /// Two PostgreSQL transactions claiming the same new key race on its primary key; the
            /// loser's unique violation rolls it back and it runs again, now seeing the winner's
            /// row.
            pub fn reserve(
                conn: &mut $conn,
                reservation: &ChatReservation,
            ) -> QueryResult<Reservation> {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match conn.write_transaction(|conn| reserve_once(conn, reservation)) {
                        Err(error) if is_unique_violation(&error) && attempts < 3 => continue,
                        result => return result,
                    }
                }
            }

            fn reserve_once(
                conn: &mut $conn,
                reservation: &ChatReservation,
            ) -> QueryResult<Reservation> {
                let user_id = reservation.user_id.0;
                if let Some(idempotency) = &reservation.idempotency {
                    diesel::delete(
                        idempotency_keys::table
                            .filter(idempotency_keys::user_id.eq(user_id))
                            .filter(idempotency_keys::key.eq(&idempotency.key))
                            .filter(
                                idempotency_keys::created_at.lt(idempotency.not_before.naive_utc()),
                            ),
                    )
                    .execute(conn)?;
                    let existing: Option<IdempotencyRow> = idempotency_keys::table
                        .find((user_id, &idempotency.key))
                        .select(IdempotencyRow::as_select())
                        .get_result(conn)
                        .optional()?;
                    if let Some(existing) = existing {
                        if existing.request_fingerprint != idempotency.request_fingerprint {
                            return Ok(Reservation::KeyReused);
                        }
                        return match existing.chat_id {
                            Some(chat_id) => {
                                let chat: ChatRow = chats::table
                                    .find(chat_id)
                                    .select(ChatRow::as_select())
                                    .get_result(conn)?;
                                Ok(Reservation::Replay(chat.into()))
                            }
                            None => Ok(Reservation::InProgress),
                        };
                    }
                }

                let amount = reservation.amount.get();
                let debited = diesel::update(
                    users::table
                        .filter(users::id.eq(user_id))
                        .filter(users::tokens.ge(amount)),
                )
                .set(users::tokens.eq(users::tokens - amount))
                .cached()
                .execute(conn)?;
                if debited == 0 {
                    let available: Option<i64> = users::table
                        .find(user_id)
                        .select(users::tokens)
                        .get_result(conn)
                        .optional()?;
                    return Ok(match available {
                        Some(available) => Reservation::InsufficientTokens {
                            available: Tokens::new(available),
                        },
                        None => Reservation::UserNotFound,
                    });
                }

                let charge_id = Uuid::new_v4();
                let charge_ref = charge_id.to_string();
                let now = reservation.now.naive_utc();
                diesel::insert_into(chat_charges::table)
                    .values(NewChargeRow {
                        id: &charge_ref,
                        user_id,
                        amount,
                        status: charge_status::PENDING,
                        deadline: reservation.deadline.naive_utc(),
                        created_at: now,
                    })
                    .cached()
                    .execute(conn)?;
                diesel::insert_into(ledger_entries::table)
                    .values(NewLedgerEntry {
                        user_id,
                        amount: -amount,
                        kind: LedgerEntryKind::ChatDebit.as_str(),
                        reason: "chat message",
                        reference: Some(&charge_ref),
                        actor_id: None,
                        created_at: now,
                    })
                    .cached()
                    .execute(conn)?;
                if let Some(idempotency) = &reservation.idempotency {
                    diesel::insert_into(idempotency_keys::table)
                        .values(IdempotencyRow {
                            user_id,
                            key: idempotency.key.clone(),
                            request_fingerprint: idempotency.request_fingerprint.clone(),
                            charge_id: charge_ref.clone(),
                            chat_id: None,
                            created_at: now,
                        })
                        .cached()
                        .execute(conn)?;
                }
                Ok(Reservation::Reserved(ChargeId(charge_id)))
            }

            /// Protocol step 3 (an answer), in one write transaction: closes the charge only if
            /// still pending, stores the exchange with what it costs (never more than was
            /// reserved), records model and token counts on the charge's debit, refunds the rest,
            /// and completes the idempotency key (or releases it for an interrupted exchange).
            pub fn settle(
                conn: &mut $conn,
                charge: ChargeId,
                chat: &FinishedChat,
                at: NaiveDateTime,
            ) -> QueryResult<Settlement> {
                let charge_ref = charge.0.to_string();
                conn.write_transaction(|conn| {
                    let closed = close_pending(conn, &charge_ref, charge_status::SETTLED, at)?;
                    let Some((user_id, reserved)) = closed else {
                        return Ok(Settlement::ChargeExpired);
                    };
                    let charged = chat.charged.get().clamp(0, reserved);
                    let chat_row: ChatRow = diesel::insert_into(chats::table)
                        .values(NewChatRow {
                            user_id,
                            message: chat.message.as_str(),
                            response: &chat.response,
                            timestamp: at,
                            status: chat.status.as_str(),
                            tokens_charged: charged,
                        })
                        .returning(ChatRow::as_returning())
                        .cached()
                        .get_result(conn)?;
                    diesel::update(chat_charges::table.filter(chat_charges::id.eq(&charge_ref)))
                        .set(chat_charges::chat_id.eq(chat_row.id))
                        .cached()
                        .execute(conn)?;
                    let count = |tokens: u64| i64::try_from(tokens).unwrap_or(i64::MAX);
                    diesel::update(
                        ledger_entries::table
                            .filter(ledger_entries::reference.eq(&charge_ref))
                            .filter(ledger_entries::kind.eq(LedgerEntryKind::ChatDebit.as_str())),
                    )
                    .set((
                        ledger_entries::model.eq(&chat.model),
                        ledger_entries::prompt_tokens.eq(count(chat.tokens.prompt)),
                        ledger_entries::completion_tokens.eq(count(chat.tokens.completion)),
                    ))
                    .cached()
                    .execute(conn)?;
                    let unused = reserved - charged;
                    let balance: i64 = if unused > 0 {
                        let balance = diesel::update(users::table.find(user_id))
                            .set(users::tokens.eq(users::tokens + unused))
                            .returning(users::tokens)
                            .cached()
                            .get_result(conn)?;
                        diesel::insert_into(ledger_entries::table)
                            .values(NewLedgerEntry {
                                user_id,
                                amount: unused,
                                kind: LedgerEntryKind::Refund.as_str(),
                                reason: match chat.status {
                                    ChatStatus::Completed => "unused part of the reservation",
                                    ChatStatus::Interrupted => {
                                        "answer interrupted by the client: unused part of the \
                                         reservation"
                                    }
                                },
                                reference: Some(&charge_ref),
                                actor_id: None,
                                created_at: at,
                            })
                            .cached()
                            .execute(conn)?;
                        balance
                    } else {
                        users::table
                            .find(user_id)
                            .select(users::tokens)
                            .get_result(conn)?
                    };
                    let key =
                        idempotency_keys::table.filter(idempotency_keys::charge_id.eq(&charge_ref));
                    match chat.status {
                        ChatStatus::Completed => {
                            diesel::update(key)
                                .set(idempotency_keys::chat_id.eq(chat_row.id))
                                .cached()
                                .execute(conn)?;
                        }
                        ChatStatus::Interrupted => {
                            diesel::delete(key).execute(conn)?;
                        }
                    }
                    Ok(Settlement::Settled(SettledChat {
                        record: chat_row.into(),
                        balance: Tokens::new(balance),
                    }))
                })
            }

            /// Protocol step 3 (failure) and step 4: if the charge is still pending, marks it
            /// refunded, gives the price back with a `refund` entry and releases its idempotency
            /// key.
            pub fn refund(
                conn: &mut $conn,
                charge: ChargeId,
                reason: &str,
                at: NaiveDateTime,
            ) -> QueryResult<bool> {
                let charge_ref = charge.0.to_string();
                conn.write_transaction(|conn| {
                    let closed = close_pending(conn, &charge_ref, charge_status::REFUNDED, at)?;
                    let Some((user_id, amount)) = closed else {
                        return Ok(false);
                    };
                    diesel::update(users::table.find(user_id))
                        .set(users::tokens.eq(users::tokens + amount))
                        .cached()
                        .execute(conn)?;
                    diesel::insert_into(ledger_entries::table)
                        .values(NewLedgerEntry {
                            user_id,
                            amount,
                            kind: LedgerEntryKind::Refund.as_str(),
                            reason,
                            reference: Some(&charge_ref),
                            actor_id: None,
                            created_at: at,
                        })
                        .cached()
                        .execute(conn)?;
                    diesel::delete(
                        idempotency_keys::table.filter(idempotency_keys::charge_id.eq(&charge_ref)),
                    )
                    .execute(conn)?;
                    Ok(true)
                })
            }

            /// Moves charge `charge_ref` from pending to `status`, returning its user and reserved
            /// amount; `None` when it was no longer pending (settled, refunded or swept already),
            /// which is how exactly one of the settle, refund and sweep paths wins a charge.
            fn close_pending(
                conn: &mut $conn,
                charge_ref: &str,
                status: &str,
                at: NaiveDateTime,
            ) -> QueryResult<Option<(i64, i64)>> {
                diesel::update(
                    chat_charges::table
                        .filter(chat_charges::id.eq(charge_ref))
                        .filter(chat_charges::status.eq(charge_status::PENDING)),
                )
                .set((
                    chat_charges::status.eq(status),
                    chat_charges::closed_at.eq(at),
                ))
                .returning((chat_charges::user_id, chat_charges::amount))
                .cached()
                .get_result(conn)
                .optional()
            }

            /// Pending charges whose deadline passed before `now`, oldest first, at most `limit`.
            pub fn expired_charges(
                conn: &mut $conn,
                now: NaiveDateTime,
                limit: i64,
            ) -> QueryResult<Vec<String>> {
                chat_charges::table
                    .filter(chat_charges::status.eq(charge_status::PENDING))
                    .filter(chat_charges::deadline.lt(now))
                    .order(chat_charges::deadline.asc())
                    .limit(limit)
                    .select(chat_charges::id)
                    .load(conn)
            }

            /// How many completed chats a user has stored.
            pub fn completed_chat_count(conn: &mut $conn, user_id: UserId) -> QueryResult<i64> {
                chats::table
                    .filter(chats::user_id.eq(user_id.0))
                    .filter(chats::status.eq(ChatStatus::Completed.as_str()))
                    .count()
                    .get_result(conn)
            }

            /// A user's last `limit` completed exchanges, oldest first.
            pub fn recent_exchanges(
                conn: &mut $conn,
                user_id: UserId,
                limit: i64,
            ) -> QueryResult<Vec<ChatRow>> {
                let mut newest_first: Vec<ChatRow> = chats::table
                    .filter(chats::user_id.eq(user_id.0))
                    .filter(chats::status.eq(ChatStatus::Completed.as_str()))
                    .order((chats::timestamp.desc(), chats::id.desc()))
                    .limit(limit)
                    .select(ChatRow::as_select())
                    .load(conn)?;
                newest_first.reverse();
                Ok(newest_first)
            }

            /// Whether the key is still held by a running request: `Some(true)` while in progress,
            /// `Some(false)` once completed, `None` when absent or released.
            pub fn idempotency_in_progress(
                conn: &mut $conn,
                user_id: UserId,
                key: &str,
            ) -> QueryResult<Option<bool>> {
                idempotency_keys::table
                    .find((user_id.0, key))
                    .select(idempotency_keys::chat_id)
                    .get_result::<Option<i64>>(conn)
                    .optional()
                    .map(|found| found.map(|chat_id| chat_id.is_none()))
            }
        }
    };
}

pub(super) use chat_queries;
