//! SQL for accounts. Expanded once per backend by [`super`].

/// Defines `mod users`: the account queries for the connection type `$conn`.
macro_rules! user_queries {
    ($conn:ty) => {
        /// The account queries.
        pub mod users {
            use diesel::prelude::*;
            use domain::{LedgerEntryKind, User, UserId, UsernameKey};
            use ports::{CreatedUser, NewUser, UserCredentials};

            use crate::storage::{
                error::is_unique_violation,
                models::{NewLedgerEntry, NewUserRow, UserRow},
                pool::WriteTransaction,
                schema::{ledger_entries, users},
            };

            /// Inserts the user and its sign-up grant entry in one write transaction. A unique
            /// violation on the username key rolls everything back and becomes `UsernameTaken`.
            pub fn create_user(conn: &mut $conn, new_user: &NewUser) -> QueryResult<CreatedUser> {
                let key = new_user.username.key();
                let joined_at = new_user.joined_at.naive_utc();
                let grant = new_user.signup_grant.get();
                let created = conn.write_transaction(|conn| {
                    let row: UserRow = diesel::insert_into(users::table)
                        .values(NewUserRow {
                            username: new_user.username.as_str(),
                            username_key: key.as_str(),
                            password_hash: &new_user.password_hash.0,
                            tokens: grant,
                            is_active: true,
                            is_superuser: new_user.role.is_superuser(),
                            date_joined: joined_at,
                        })
                        .returning(UserRow::as_returning())
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
                    .first(conn)
                    .optional()
                    .map(|row| row.map(UserRow::into_credentials))
            }

            /// Activates or deactivates an account; returns whether it exists.
            pub fn set_active(conn: &mut $conn, id: UserId, active: bool) -> QueryResult<bool> {
                diesel::update(users::table.find(id.0))
                    .set(users::is_active.eq(active))
                    .execute(conn)
                    .map(|n| n == 1)
            }

            /// The account with this id.
            pub fn find_user(conn: &mut $conn, id: UserId) -> QueryResult<Option<User>> {
                users::table
                    .find(id.0)
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()
                    .map(|row| row.map(UserRow::into_user))
            }
        }
    };
}

pub(super) use user_queries;
