//! SQL for accounts. Expanded once per backend by [`super`].

/// Defines `mod users`: the account queries for the connection type `$conn`.
macro_rules! user_queries {
    ($conn:ty) => {
        /// The account queries.
        pub mod users {
            use diesel::prelude::*;
            use domain::{LedgerEntryKind, User, UserId, Username, UsernameKey};
            use ports::{CreatedUser, NewUser, UserCredentials};

            use crate::storage::{
                cached::CacheStatement,
                error::is_unique_violation,
                models::{NewLedgerEntry, NewUserRow, UserRow},
                pool::WriteTransaction,
                schema::{admin_sessions, ledger_entries, users},
            };

            /// Inserts the user and its sign-up grant entry in one write transaction. A unique
            /// violation on the username key or its skeleton rolls everything back and becomes
            /// `UsernameTaken`.
            pub fn create_user(conn: &mut $conn, new_user: &NewUser) -> QueryResult<CreatedUser> {
                let key = new_user.username.key();
                let skeleton = key.skeleton();
                let joined_at = new_user.joined_at.naive_utc();
                let grant = new_user.signup_grant.get();
                let created = conn.write_transaction(|conn| {
                    let row: UserRow = diesel::insert_into(users::table)
                        .values(NewUserRow {
                            username: new_user.username.as_str(),
                            username_key: key.as_str(),
                            username_skeleton: &skeleton,
                            password_hash: &new_user.password_hash.0,
                            tokens: grant,
                            is_active: true,
                            is_superuser: new_user.role.is_superuser(),
                            date_joined: joined_at,
                        })
                        .returning(UserRow::as_returning())
                        .cached()
                        .get_result(conn)?;
                    if grant != 0 {
                        diesel::insert_into(ledger_entries::table)
                            .values(NewLedgerEntry {
                                user_id: row.id,
                                amount: grant,
                                kind: LedgerEntryKind::SignupGrant.as_str(),
                                reason: "sign-up grant",
                                reference: None,
                                actor_id: None,
                                created_at: joined_at,
                            })
                            .cached()
                            .execute(conn)?;
                    }
                    Ok(row)
                });
                match created {
                    Ok(row) => Ok(CreatedUser::Created(row.into_user())),
                    Err(error) if is_unique_violation(&error) => Ok(CreatedUser::UsernameTaken),
                    Err(error) => Err(error),
                }
            }

            /// The account with this username key, hash included.
            pub fn find_credentials(
                conn: &mut $conn,
                key: &UsernameKey,
            ) -> QueryResult<Option<UserCredentials>> {
                users::table
                    .filter(users::username_key.eq(key.as_str()))
                    .select(UserRow::as_select())
                    .get_result(conn)
                    .optional()
                    .map(|row| row.map(UserRow::into_credentials))
            }

            /// Activates or deactivates an account; returns whether it exists. Deactivation also
            /// bumps the credentials version and ends the account's admin sessions, in the same
            /// transaction, so reactivation revives neither.
            pub fn set_active(conn: &mut $conn, id: UserId, active: bool) -> QueryResult<bool> {
                conn.write_transaction(|conn| {
                    let user = users::table.find(id.0);
                    let updated = if active {
                        diesel::update(user)
                            .set(users::is_active.eq(true))
                            .execute(conn)?
                    } else {
                        diesel::delete(
                            admin_sessions::table.filter(admin_sessions::user_id.eq(id.0)),
                        )
                        .execute(conn)?;
                        diesel::update(user)
                            .set((
                                users::is_active.eq(false),
                                users::credentials_version.eq(users::credentials_version + 1),
                            ))
                            .execute(conn)?
                    };
                    Ok(updated == 1)
                })
            }

            /// Replaces the password hash if it is still `current`; returns whether it did.
            pub fn upgrade_password_hash(
                conn: &mut $conn,
                id: UserId,
                current: &str,
                new: &str,
            ) -> QueryResult<bool> {
                diesel::update(
                    users::table
                        .find(id.0)
                        .filter(users::password_hash.eq(current)),
                )
                .set(users::password_hash.eq(new))
                .cached()
                .execute(conn)
                .map(|n| n == 1)
            }

            /// Fills `username_skeleton` where it is missing (accounts from before skeletons, or
            /// made by an older binary during a rolling upgrade), oldest account first, one
            /// account per transaction. An account whose skeleton another already holds gets
            /// `skeleton#id`: unique, and unlike any name (`#` is not a username character), so
            /// both old look-alikes stay usable while new look-alikes of either are refused.
            /// Returns how many accounts it filled.
            pub fn fill_username_skeletons(conn: &mut $conn) -> QueryResult<usize> {
                let missing: Vec<(i64, String)> = users::table
                    .filter(users::username_skeleton.is_null())
                    .order(users::id.asc())
                    .select((users::id, users::username))
                    .load(conn)?;
                for (id, username) in &missing {
                    let skeleton = Username::from_trusted(username.clone()).key().skeleton();
                    let set = |conn: &mut $conn, skeleton: &str| {
                        conn.write_transaction(|conn| {
                            diesel::update(users::table.find(id))
                                .set(users::username_skeleton.eq(skeleton))
                                .execute(conn)
                        })
                    };
                    match set(conn, &skeleton) {
                        Err(error) if is_unique_violation(&error) => {
                            set(conn, &format!("{skeleton}#{id}"))?
                        }
                        other => other?,
                    };
                }
                Ok(missing.len())
            }

            /// The account with this id.
            pub fn find_user(conn: &mut $conn, id: UserId) -> QueryResult<Option<User>> {
                users::table
                    .find(id.0)
                    .select(UserRow::as_select())
                    .get_result(conn)
                    .optional()
                    .map(|row| row.map(UserRow::into_user))
            }
        }
    };
}

pub(super) use user_queries;
