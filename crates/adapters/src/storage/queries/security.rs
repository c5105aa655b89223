//! SQL for refresh-token revocation, throttling counters and known login sources. Expanded once per backend by
//! [`super`].

/// `revoked_tokens.reason` of a token replaced by its successor (reuse of it is theft).
pub const REASON_ROTATED: &str = "rotated";
/// `reason` of a token or family ended by its owner.
pub const REASON_LOGOUT: &str = "logout";
/// `revoked_token_families.reason` of a family ended because a rotated-out token was replayed.
pub const REASON_REUSE_DETECTED: &str = "reuse_detected";

/// Defines `mod security`: the revocation and throttle queries for the connection type `$conn`.
macro_rules! security_queries {
    ($conn:ty) => {
        /// The revocation and throttle queries.
        pub mod security {
            use chrono::NaiveDateTime;
            use diesel::prelude::*;
            use ports::{
                Admission, AttemptTicket, BucketLimit, BucketUsage, RefreshTokenRecord, Rotation,
            };

            use crate::storage::{
                cached::CacheStatement,
                pool::{KeyLocks, WriteTransaction},
                queries::security::{REASON_LOGOUT, REASON_REUSE_DETECTED, REASON_ROTATED},
                schema::{login_sources, revoked_token_families, revoked_tokens, throttle_events},
            };

            /// Whether the token or its family may no longer be used.
            pub fn is_token_revoked(
                conn: &mut $conn,
                jti: &str,
                family: &str,
            ) -> QueryResult<bool> {
                let token = diesel::select(diesel::dsl::exists(revoked_tokens::table.find(jti)))
                    .get_result::<bool>(conn)?;
                if token {
                    return Ok(true);
                }
                diesel::select(diesel::dsl::exists(
                    revoked_token_families::table.find(family),
                ))
                .get_result::<bool>(conn)
            }

            /// Revokes a whole family unless it already is; the first reason is kept.
            fn revoke_family(
                conn: &mut $conn,
                token: &RefreshTokenRecord,
                reason: &str,
                now: NaiveDateTime,
            ) -> QueryResult<()> {
                diesel::insert_into(revoked_token_families::table)
                    .values((
                        revoked_token_families::family.eq(token.family.to_string()),
                        revoked_token_families::user_id.eq(token.user_id.0),
                        revoked_token_families::reason.eq(reason),
                        revoked_token_families::revoked_at.eq(now),
                        revoked_token_families::expires_at.eq(token.family_expires_at.naive_utc()),
                    ))
                    .on_conflict_do_nothing()
                    .cached()
                    .execute(conn)
                    .map(drop)
            }

            /// Revokes one token unless it already is; returns whether this call revoked it.
            fn revoke_token(
                conn: &mut $conn,
                token: &RefreshTokenRecord,
                reason: &str,
                now: NaiveDateTime,
            ) -> QueryResult<bool> {
                diesel::insert_into(revoked_tokens::table)
                    .values((
                        revoked_tokens::jti.eq(token.jti.to_string()),
                        revoked_tokens::family.eq(token.family.to_string()),
                        revoked_tokens::user_id.eq(token.user_id.0),
                        revoked_tokens::reason.eq(reason),
                        revoked_tokens::revoked_at.eq(now),
                        revoked_tokens::expires_at.eq(token.jti_expires_at.naive_utc()),
                    ))
                    .on_conflict_do_nothing()
                    .cached()
                    .execute(conn)
                    .map(|inserted| inserted == 1)
            }

            /// Rotates a refresh token out. The insert decides the race: of concurrent calls with
            /// one token exactly one inserts its row; the others find it and revoke the family.
            pub fn rotate_out(
                conn: &mut $conn,
                token: &RefreshTokenRecord,
                now: NaiveDateTime,
            ) -> QueryResult<Rotation> {
                let family = token.family.to_string();
                let jti = token.jti.to_string();
                conn.write_transaction(|conn| {
                    let family_revoked = diesel::select(diesel::dsl::exists(
                        revoked_token_families::table.find(&family),
                    ))
                    .get_result::<bool>(conn)?;
                    if family_revoked {
                        return Ok(Rotation::Revoked);
                    }
                    if revoke_token(conn, token, REASON_ROTATED, now)? {
                        return Ok(Rotation::Rotated);
                    }
                    let reason: String = revoked_tokens::table
                        .find(&jti)
                        .select(revoked_tokens::reason)
                        .get_result(conn)?;
                    if reason == REASON_ROTATED {
                        revoke_family(conn, token, REASON_REUSE_DETECTED, now)?;
                        Ok(Rotation::ReuseDetected)
                    } else {
                        Ok(Rotation::Revoked)
                    }
                })
            }

            /// Logout: revokes the token and its family.
            pub fn revoke_refresh(
                conn: &mut $conn,
                token: &RefreshTokenRecord,
                now: NaiveDateTime,
            ) -> QueryResult<()> {
                conn.write_transaction(|conn| {
                    revoke_token(conn, token, REASON_LOGOUT, now)?;
                    revoke_family(conn, token, REASON_LOGOUT, now)
                })
            }

            /// Deletes revocations that expired before `now`.
            pub fn prune_revocations(conn: &mut $conn, now: NaiveDateTime) -> QueryResult<u64> {
                conn.write_transaction(|conn| {
                    let tokens = diesel::delete(
                        revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)),
                    )
                    .execute(conn)?;
                    let families = diesel::delete(
                        revoked_token_families::table
                            .filter(revoked_token_families::expires_at.lt(now)),
                    )
                    .execute(conn)?;
                    Ok(u64::try_from(tokens + families).unwrap_or(u64::MAX))
                })
            }

            /// Count and oldest event of `bucket` since `since`.
            fn bucket_usage(
                conn: &mut $conn,
                bucket: &str,
                since: NaiveDateTime,
            ) -> QueryResult<BucketUsage> {
                let (count, oldest) = throttle_events::table
                    .filter(throttle_events::bucket.eq(bucket))
                    .filter(throttle_events::occurred_at.gt(since))
                    .select((
                        diesel::dsl::count_star(),
                        diesel::dsl::min(throttle_events::occurred_at),
                    ))
                    .get_result::<(i64, Option<NaiveDateTime>)>(conn)?;
                Ok(BucketUsage {
                    count: u64::try_from(count).unwrap_or(0),
                    oldest: oldest.map(|at| at.and_utc()),
                })
            }

            /// Counts each bucket's events after `since` and, when every count is below its
            /// limit, records one event per bucket at `at`, all in one write transaction. Atomic
            /// across connections and processes: SQLite's `BEGIN IMMEDIATE` admits one writer at
            /// a time, and on PostgreSQL the transaction first takes a lock per bucket
            /// ([`KeyLocks`]), held until it commits, so the next attempt on a bucket counts
            /// after this one's event is visible.
            pub fn throttle_admit(
                conn: &mut $conn,
                buckets: &[BucketLimit],
                subject: Option<&str>,
                since: NaiveDateTime,
                at: NaiveDateTime,
            ) -> QueryResult<Admission> {
                conn.write_transaction(|conn| {
                    let names: Vec<&str> = buckets.iter().map(|b| b.bucket.as_str()).collect();
                    conn.lock_keys_until_commit(&names)?;
                    let usage = names
                        .iter()
                        .map(|bucket| bucket_usage(conn, bucket, since))
                        .collect::<QueryResult<Vec<_>>>()?;
                    let full = usage
                        .iter()
                        .zip(buckets)
                        .any(|(usage, bucket)| usage.count >= bucket.limit);
                    if full {
                        return Ok(Admission::Refused(usage));
                    }
                    let events = names
                        .iter()
                        .map(|bucket| {
                            diesel::insert_into(throttle_events::table)
                                .values((
                                    throttle_events::bucket.eq(bucket),
                                    throttle_events::occurred_at.eq(at),
                                    throttle_events::subject.eq(subject),
                                ))
                                .returning(throttle_events::id)
                                .cached()
                                .get_result::<i64>(conn)
                        })
                        .collect::<QueryResult<Vec<_>>>()?;
                    Ok(Admission::Admitted(AttemptTicket(events)))
                })
            }

            /// Deletes the events of an admitted attempt.
            pub fn throttle_withdraw(conn: &mut $conn, events: &[i64]) -> QueryResult<()> {
                diesel::delete(throttle_events::table.filter(throttle_events::id.eq_any(events)))
                    .execute(conn)
                    .map(drop)
            }

            /// Forgets every event of one subject; returns how many went.
            pub fn throttle_clear_subject(conn: &mut $conn, subject: &str) -> QueryResult<u64> {
                diesel::delete(throttle_events::table.filter(throttle_events::subject.eq(subject)))
                    .execute(conn)
                    .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
            }

            /// Whether the login source was remembered after `since`.
            pub fn is_known_source(
                conn: &mut $conn,
                source: &str,
                since: NaiveDateTime,
            ) -> QueryResult<bool> {
                diesel::select(diesel::dsl::exists(
                    login_sources::table
                        .filter(login_sources::source.eq(source))
                        .filter(login_sources::last_success_at.gt(since)),
                ))
                .get_result(conn)
            }

            /// Remembers a successful login from `source` at `at`.
            pub fn remember_source(
                conn: &mut $conn,
                source: &str,
                at: NaiveDateTime,
            ) -> QueryResult<()> {
                diesel::insert_into(login_sources::table)
                    .values((
                        login_sources::source.eq(source),
                        login_sources::last_success_at.eq(at),
                    ))
                    .on_conflict(login_sources::source)
                    .do_update()
                    .set(login_sources::last_success_at.eq(at))
                    .cached()
                    .execute(conn)
                    .map(drop)
            }

            /// Forgets sources last seen before `before`.
            pub fn prune_sources(conn: &mut $conn, before: NaiveDateTime) -> QueryResult<u64> {
                diesel::delete(
                    login_sources::table.filter(login_sources::last_success_at.lt(before)),
                )
                .execute(conn)
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
            }

            /// Forgets one bucket.
            pub fn throttle_clear(conn: &mut $conn, bucket: &str) -> QueryResult<()> {
                diesel::delete(throttle_events::table.filter(throttle_events::bucket.eq(bucket)))
                    .execute(conn)
                    .map(drop)
            }

            /// Deletes events older than `before`.
            pub fn throttle_prune(conn: &mut $conn, before: NaiveDateTime) -> QueryResult<u64> {
                diesel::delete(
                    throttle_events::table.filter(throttle_events::occurred_at.lt(before)),
                )
                .execute(conn)
                .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
            }
        }
    };
}

pub(super) use security_queries;
