//! SQL for API keys (see `ports::api_keys`). Expanded once per backend by [`super`].

/// Defines `mod api_keys`: the API key queries for the connection type `$conn`.
macro_rules! api_key_queries {
    ($conn:ty) => {
        /// The API key queries.
        pub mod api_keys {
            use chrono::NaiveDateTime;
            use diesel::prelude::*;
            use domain::UserId;
            use ports::{ApiKey, ApiKeyId, CreatedApiKey, KeyOwner, NewApiKey};

            use crate::storage::{
                models::{ApiKeyRow, NewApiKeyRow, UserRow},
                pool::{KeyLocks, WriteTransaction},
                schema::{api_keys, users},
            };

            /// In one write transaction holding the account's key lock: counts its live keys and
            /// inserts the new one only below `live_limit`. The lock makes the count and the insert
            /// one step for concurrent creations (SQLite's write transactions already exclude each
            /// other; PostgreSQL's row locks cannot lock rows that do not exist yet).
            pub fn create_api_key(
                conn: &mut $conn,
                key: &NewApiKey,
                live_limit: u32,
            ) -> QueryResult<CreatedApiKey> {
                let now = key.created_at.naive_utc();
                let lock = format!("api_keys:{}", key.user_id.0);
                conn.write_transaction(|conn| {
                    conn.lock_keys_until_commit(&[&lock])?;
                    let live: i64 = api_keys::table
                        .filter(api_keys::user_id.eq(key.user_id.0))
                        .filter(
                            api_keys::expires_at
                                .is_null()
                                .or(api_keys::expires_at.gt(now)),
                        )
                        .count()
                        .get_result(conn)?;
                    if live >= i64::from(live_limit) {
                        return Ok(CreatedApiKey::LimitReached);
                    }
                    let row: ApiKeyRow = diesel::insert_into(api_keys::table)
                        .values(NewApiKeyRow {
                            user_id: key.user_id.0,
                            name: &key.name,
                            prefix: &key.prefix,
                            secret_hash: &key.secret_hash,
                            created_at: now,
                            expires_at: key.expires_at.map(|at| at.naive_utc()),
                        })
                        .returning(ApiKeyRow::as_returning())
                        .get_result(conn)?;
                    Ok(CreatedApiKey::Created(row.into()))
                })
            }

            /// Every key of the user, newest first.
            pub fn list_api_keys(conn: &mut $conn, user_id: UserId) -> QueryResult<Vec<ApiKey>> {
                api_keys::table
                    .filter(api_keys::user_id.eq(user_id.0))
                    .order(api_keys::id.desc())
                    .select(ApiKeyRow::as_select())
                    .load(conn)
                    .map(|rows| rows.into_iter().map(ApiKey::from).collect())
            }

            /// Deletes the key if it is the user's; returns whether it did.
            pub fn revoke_api_key(
                conn: &mut $conn,
                user_id: UserId,
                id: ApiKeyId,
            ) -> QueryResult<bool> {
                diesel::delete(
                    api_keys::table
                        .filter(api_keys::id.eq(id.0))
                        .filter(api_keys::user_id.eq(user_id.0)),
                )
                .execute(conn)
                .map(|deleted| deleted == 1)
            }

            /// The key with this secret hash and its account: one statement on the unique index.
            pub fn find_api_key(
                conn: &mut $conn,
                secret_hash: &str,
            ) -> QueryResult<Option<KeyOwner>> {
                api_keys::table
                    .inner_join(users::table)
                    .filter(api_keys::secret_hash.eq(secret_hash))
                    .select((ApiKeyRow::as_select(), UserRow::as_select()))
                    .get_result::<(ApiKeyRow, UserRow)>(conn)
                    .optional()
                    .map(|found| {
                        found.map(|(key, user)| KeyOwner {
                            key: key.into(),
                            user: user.into_user(),
                        })
                    })
            }

            /// Sets `last_used_at` to `now` unless it is already at or after `stale_before`.
            pub fn touch_api_key(
                conn: &mut $conn,
                id: ApiKeyId,
                now: NaiveDateTime,
                stale_before: NaiveDateTime,
            ) -> QueryResult<bool> {
                diesel::update(
                    api_keys::table.filter(api_keys::id.eq(id.0)).filter(
                        api_keys::last_used_at
                            .is_null()
                            .or(api_keys::last_used_at.lt(stale_before)),
                    ),
                )
                .set(api_keys::last_used_at.eq(now))
                .execute(conn)
                .map(|updated| updated == 1)
            }
        }
    };
}

pub(super) use api_key_queries;
