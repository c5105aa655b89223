//! SQL for the charge protocol (see `ports::chats`). Expanded once per backend by [`super`].

/// Defines `mod chats`: the chat and charge queries for the connection type `$conn`.
macro_rules! chat_queries {
    ($conn:ty) => {
        /// The charge protocol's queries.
        pub mod chats {
            use chrono::NaiveDateTime;
            use diesel::prelude::*;
            use domain::{LedgerEntryKind, Tokens, UserId};
            use ports::{ChargeId, ChatReservation, Reservation, Settlement};
            use uuid::Uuid;

            use crate::storage::{
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
                        .first(conn)
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
                                    .first(conn)?;
                                Ok(Reservation::Replay(chat.into()))
                            }
                            None => Ok(Reservation::InProgress),
                        };
                    }
                }

                let price = reservation.price.get();
                let debited = diesel::update(
                    users::table
                        .filter(users::id.eq(user_id))
                        .filter(users::tokens.ge(price)),
                )
                .set(users::tokens.eq(users::tokens - price))
                .execute(conn)?;
                if debited == 0 {
                    let available: Option<i64> = users::table
                        .find(user_id)
                        .select(users::tokens)
                        .first(conn)
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
                        amount: price,
                        status: charge_status::PENDING,
                        deadline: reservation.deadline.naive_utc(),
                        created_at: now,
                    })
                    .execute(conn)?;
                diesel::insert_into(ledger_entries::table)
                    .values(NewLedgerEntry {
                        user_id,
                        amount: -price,
                        kind: LedgerEntryKind::ChatDebit.as_str(),
                        reason: "chat message",
                        reference: Some(&charge_ref),
                        actor_id: None,
                        created_at: now,
                    })
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
                        .execute(conn)?;
                }
                Ok(Reservation::Reserved(ChargeId(charge_id)))
            }

            /// Protocol step 3 (success): closes the charge only if still pending, then stores the
            /// chat and completes the idempotency key, all in one write transaction.
            pub fn settle(
                conn: &mut $conn,
                charge: ChargeId,
                message: &str,
                response: &str,
                at: NaiveDateTime,
            ) -> QueryResult<Settlement> {
                let charge_ref = charge.0.to_string();
                conn.write_transaction(|conn| {
                    let user_id: Option<i64> = diesel::update(
                        chat_charges::table
                            .filter(chat_charges::id.eq(&charge_ref))
                            .filter(chat_charges::status.eq(charge_status::PENDING)),
                    )
                    .set((
                        chat_charges::status.eq(charge_status::SETTLED),
                        chat_charges::closed_at.eq(at),
                    ))
                    .returning(chat_charges::user_id)
                    .get_result(conn)
                    .optional()?;
                    let Some(user_id) = user_id else {
                        return Ok(Settlement::ChargeExpired);
                    };
                    let chat: ChatRow = diesel::insert_into(chats::table)
                        .values(NewChatRow {
                            user_id,
                            message,
                            response,
                            timestamp: at,
                        })
                        .returning(ChatRow::as_returning())
                        .get_result(conn)?;
                    diesel::update(chat_charges::table.filter(chat_charges::id.eq(&charge_ref)))
                        .set(chat_charges::chat_id.eq(chat.id))
                        .execute(conn)?;
                    diesel::update(
                        idempotency_keys::table.filter(idempotency_keys::charge_id.eq(&charge_ref)),
                    )
                    .set(idempotency_keys::chat_id.eq(chat.id))
                    .execute(conn)?;
                    Ok(Settlement::Settled(chat.into()))
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
                    let closed: Option<(i64, i64)> = diesel::update(
                        chat_charges::table
                            .filter(chat_charges::id.eq(&charge_ref))
                            .filter(chat_charges::status.eq(charge_status::PENDING)),
                    )
                    .set((
                        chat_charges::status.eq(charge_status::REFUNDED),
                        chat_charges::closed_at.eq(at),
                    ))
                    .returning((chat_charges::user_id, chat_charges::amount))
                    .get_result(conn)
                    .optional()?;
                    let Some((user_id, amount)) = closed else {
                        return Ok(false);
                    };
                    diesel::update(users::table.find(user_id))
                        .set(users::tokens.eq(users::tokens + amount))
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
                        .execute(conn)?;
                    diesel::delete(
                        idempotency_keys::table.filter(idempotency_keys::charge_id.eq(&charge_ref)),
                    )
                    .execute(conn)?;
                    Ok(true)
                })
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

            /// How many chats a user has stored.
            pub fn chat_count(conn: &mut $conn, user_id: UserId) -> QueryResult<i64> {
                chats::table
                    .filter(chats::user_id.eq(user_id.0))
                    .count()
                    .get_result(conn)
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
                    .first::<Option<i64>>(conn)
                    .optional()
                    .map(|found| found.map(|chat_id| chat_id.is_none()))
            }
        }
    };
}

pub(super) use chat_queries;
