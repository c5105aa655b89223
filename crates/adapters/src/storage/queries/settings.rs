//! SQL for values generated once and shared by every process.

/// Defines `mod settings`: the server-settings queries for the connection type `$conn`.
macro_rules! settings_queries {
    ($conn:ty) => {
        /// The server-settings queries.
        pub mod settings {
            use diesel::prelude::*;

            use crate::storage::{pool::WriteTransaction, schema::server_settings};

            /// Stores `candidate` under `name` unless a value is there already, and returns
            /// whichever value is stored: the first process to start wins, every other one adopts
            /// its value.
            pub fn get_or_insert_setting(
                conn: &mut $conn,
                name: &str,
                candidate: &str,
            ) -> QueryResult<String> {
                conn.write_transaction(|conn| {
                    diesel::insert_into(server_settings::table)
                        .values((
                            server_settings::name.eq(name),
                            server_settings::value.eq(candidate),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)?;
                    server_settings::table
                        .find(name)
                        .select(server_settings::value)
                        .get_result(conn)
                })
            }
        }
    };
}

pub(super) use settings_queries;
