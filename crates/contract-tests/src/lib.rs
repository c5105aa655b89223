//! The contracts of chat-api's ports, written once as public async functions so that every
//! adapter runs the same checks: ours on SQLite and PostgreSQL, and another team's own.
//!
//! One module per kind of port: [`storage`] (every repository port, through
//! [`ports::Storage`]) and [`responder`] (the AI model, [`ports::Responder`]). Each contract function takes a fresh, empty instance of the adapter
//! under test and panics when the adapter breaks a promise written on the port's trait.
//!
//! An adapter's test suite runs a whole contract with one macro call, which expands to one
//! `#[tokio::test]` per contract function (the caller's crate needs `tokio` with the `macros`
//! and `rt-multi-thread` features):
//!
//! ```ignore
//! mod my_store {
//!     contract_tests::storage_tests!(crate::MyStoreFactory::new());
//! }
//! mod my_model {
//!     contract_tests::responder_tests!(crate::MyResponderFactory);
//! }
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod responder;
pub mod storage;

/// One `#[tokio::test]` per storage contract function, each on a fresh store from `$factory` (an
/// expression whose value implements [`storage::StorageFactory`]), grouped in one module per
/// port family: `users::…`, `chats::…`, `security::…`, `admin::…`, `settings::…`,
/// `api_keys::…`, `history::…`. Call it inside
/// a module named after the adapter (`mod sqlite { … }`) so test names say which one ran.
///
/// The body lists names only; the checks are the functions in [`storage`].
#[macro_export]
macro_rules! storage_tests {
    ($factory:expr) => {
        $crate::__contract_tests! {
            factory: $factory => $crate::storage::StorageFactory;
            contract: storage;
            users {
                a_created_user_has_its_grant_as_balance_and_ledger,
                usernames_are_unique_case_insensitively,
                look_alike_usernames_are_refused,
                racing_registrations_of_one_name_create_one_user,
                credentials_are_found_by_key_and_missing_users_are_none,
                a_password_hash_is_upgraded_only_while_it_is_unchanged,
            }
            chats {
                a_reserved_and_settled_chat_is_charged_once_and_stored,
                a_balance_below_the_price_reserves_nothing,
                a_refund_restores_the_balance_once_and_blocks_settling,
                a_settled_charge_cannot_be_refunded,
                the_sweeper_refunds_only_pending_charges_past_their_deadline,
                concurrent_reservations_never_overspend,
                an_idempotency_key_is_in_progress_then_replays_its_chat,
                a_refund_releases_the_idempotency_key,
                a_key_older_than_its_lifetime_is_forgotten,
                concurrent_duplicates_claim_a_key_once,
                an_idempotency_key_reports_its_state,
                settling_charges_the_actual_price_and_refunds_the_rest,
                a_charge_above_the_reservation_is_capped,
                an_interrupted_chat_is_stored_refunded_and_releases_its_key,
                every_settled_chat_matches_its_ledger_entries,
                recent_exchanges_are_the_last_completed_ones_oldest_first,
                pending_charges_count_what_is_neither_settled_nor_refunded,
            }
            security {
                logout_revokes_the_token_and_its_family,
                rotating_out_twice_detects_reuse_and_revokes_the_family,
                concurrent_rotations_of_one_token_let_exactly_one_through,
                expired_revocations_are_pruned_and_live_ones_kept,
                admission_counts_events_strictly_after_the_window_start,
                concurrent_admissions_never_exceed_the_limit,
                a_withdrawn_attempt_stops_counting,
                clearing_a_bucket_forgets_only_that_bucket,
                clearing_a_subject_forgets_its_events_in_every_bucket,
                throttle_events_older_than_the_cutoff_are_pruned,
                login_sources_are_known_within_their_window_and_pruned,
            }
            admin {
                admin_adjustments_move_the_balance_and_record_actor_and_reason,
                concurrent_admin_debits_never_take_a_balance_below_zero,
                the_users_list_searches_literally_pages_and_counts_chats,
                the_chat_list_is_newest_first_and_filters_by_user_and_time,
                dashboard_totals_follow_their_definitions,
                a_password_reset_stores_the_hash_bumps_the_credentials_version_and_ends_admin_sessions,
                deactivation_bumps_the_credentials_version_and_reactivation_does_not_undo_it,
                admin_sessions_live_until_expiry_or_deletion,
            }
            settings {
                a_setting_keeps_its_first_value,
            }
            api_keys {
                a_key_is_found_by_its_hash_with_its_account,
                keys_are_listed_newest_first_and_only_their_owners,
                a_key_is_revoked_only_by_its_owner,
                the_live_key_limit_counts_only_unexpired_keys,
                concurrent_creations_never_exceed_the_live_limit,
                last_use_is_written_only_when_stale,
            }
            history {
                chat_history_is_newest_first_paged_and_only_the_users,
                a_statement_window_includes_from_and_excludes_to,
                statements_add_up_over_random_histories,
            }
        }
    };
}

/// One `#[tokio::test]` per responder contract function, each on a responder from `$factory` (an
/// expression whose value implements [`responder::ResponderFactory`]), grouped as `answers::…`
/// and `streams::…`. Call it inside a module named after the adapter (`mod openai { … }`).
#[macro_export]
macro_rules! responder_tests {
    ($factory:expr) => {
        $crate::__contract_tests! {
            factory: $factory => $crate::responder::ResponderFactory;
            contract: responder;
            answers {
                the_model_has_a_name,
                a_whole_answer_has_text_and_names_its_model,
                reported_usage_counts_the_prompt_and_stays_within_max_tokens,
                concurrent_requests_are_all_answered,
            }
            streams {
                a_stream_joins_to_the_whole_answer,
                a_stream_ends_with_exactly_one_finished,
                dropping_a_stream_midway_leaves_the_responder_usable,
            }
        }
    };
}

/// Expands a contract's list of names into test functions; see [`storage_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    (
        factory: $factory:expr => $factory_trait:path;
        contract: $contract:ident;
        $($module:ident { $($name:ident),* $(,)? })*
    ) => {
        fn __contract_factory() -> impl $factory_trait {
            $factory
        }

        $(
            mod $module {
                $(
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        $crate::$contract::run(
                            super::__contract_factory(),
                            concat!(module_path!(), "::", stringify!($name)),
                            $crate::$contract::$module::$name,
                        )
                        .await;
                    }
                )*
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    /// The `pub async fn` names in a contract module's source.
    fn contract_functions(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect()
    }

    /// The names listed for `module` in the body of the macro `contract`.
    fn listed(contract: &str, module: &str) -> Vec<&'static str> {
        let macro_body = include_str!("lib.rs")
            .split(&format!("macro_rules! {contract}"))
            .nth(1)
            .and_then(|rest| rest.split("macro_rules!").next())
            .unwrap();
        let list = macro_body
            .split(&format!("            {module} {{"))
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap_or_else(|| panic!("{module} is not in {contract}!"));
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// A contract function missing from the macro would silently never run.
    #[test]
    fn storage_tests_lists_every_storage_contract_function() {
        let modules = [
            ("users", include_str!("storage/users.rs")),
            ("chats", include_str!("storage/chats.rs")),
            ("security", include_str!("storage/security.rs")),
            ("admin", include_str!("storage/admin.rs")),
            ("settings", include_str!("storage/settings.rs")),
            ("api_keys", include_str!("storage/api_keys.rs")),
            ("history", include_str!("storage/history.rs")),
        ];
        assert_every_function_listed("storage_tests", &modules, include_str!("storage/mod.rs"));
    }

    #[test]
    fn responder_tests_lists_every_responder_contract_function() {
        let modules = [
            ("answers", include_str!("responder/answers.rs")),
            ("streams", include_str!("responder/streams.rs")),
        ];
        assert_every_function_listed(
            "responder_tests",
            &modules,
            include_str!("responder/mod.rs"),
        );
    }

    /// Each of `modules` (name, source) is listed whole in the macro `contract`, and they are all
    /// the contract modules `mod_rs` declares.
    fn assert_every_function_listed(contract: &str, modules: &[(&str, &str)], mod_rs: &str) {
        for (module, source) in modules {
            assert_eq!(
                listed(contract, module),
                contract_functions(source),
                "{module}"
            );
        }
        let declared = mod_rs
            .lines()
            .filter_map(|line| line.strip_prefix("pub mod "))
            .count();
        assert_eq!(
            declared,
            modules.len(),
            "a contract module is not checked here"
        );
    }
}
