//! Diesel's view of the tables in `migrations/{sqlite,postgres}`. One schema serves both backends:
//! the migrations use types that map to the same diesel SQL types on each.
#![allow(missing_docs)]

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_key -> Text,
        password_hash -> Text,
        tokens -> BigInt,
        is_active -> Bool,
        is_superuser -> Bool,
        date_joined -> Timestamp,
        credentials_version -> BigInt,
        username_skeleton -> Nullable<Text>,
    }
}

diesel::table! {
    chats (id) {
        id -> BigInt,
        user_id -> BigInt,
        message -> Text,
        response -> Text,
        timestamp -> Timestamp,
        status -> Text,
        tokens_charged -> BigInt,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        user_id -> BigInt,
        amount -> BigInt,
        kind -> Text,
        reason -> Text,
        reference -> Nullable<Text>,
        actor_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        model -> Nullable<Text>,
        prompt_tokens -> Nullable<BigInt>,
        completion_tokens -> Nullable<BigInt>,
    }
}

diesel::table! {
    chat_charges (id) {
        id -> Text,
        user_id -> BigInt,
        amount -> BigInt,
        status -> Text,
        deadline -> Timestamp,
        created_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        chat_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_fingerprint -> Text,
        charge_id -> Text,
        chat_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    server_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    admin_sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(chats -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(chat_charges -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    chats,
    ledger_entries,
    chat_charges,
    idempotency_keys,
    server_settings,
    admin_sessions,
    api_keys
);

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        family -> Text,
        user_id -> BigInt,
        reason -> Text,
        revoked_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    revoked_token_families (family) {
        family -> Text,
        user_id -> BigInt,
        reason -> Text,
        revoked_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    throttle_events (id) {
        id -> BigInt,
        bucket -> Text,
        occurred_at -> Timestamp,
        subject -> Nullable<Text>,
    }
}

diesel::table! {
    login_sources (source) {
        source -> Text,
        last_success_at -> Timestamp,
    }
}
