//! The admin repositories' contracts: read models, admin adjustments, password resets and
//! deactivation (credentials versions), and admin sessions.

use std::sync::Arc;

use chrono::Duration;
use domain::{LedgerEntryKind, Tokens, UserId};
use futures_util::future::join_all;
use ports::{
    Adjusted, AdminRepository, ChatFilter, ChatReservation, NewAdminSession, PasswordHash,
    Reservation, Storage, TokenAdjustment, Window,
};

use super::{assert_ledger_consistent, chat_at, create_user, later, noon};

const ALL: Window = Window {
    offset: 0,
    limit: 100,
};

fn adjustment(user: UserId, actor: UserId, amount: i64, reason: &str) -> TokenAdjustment {
    TokenAdjustment {
        user_id: user,
        actor_id: actor,
        amount: Tokens::new(amount),
        reason: reason.into(),
        at: later(5),
    }
}

/// Admin adjustments move the balance, never below zero, and are ledger entries with actor and reason.
pub async fn admin_adjustments_move_the_balance_and_record_actor_and_reason(
    storage: Arc<dyn Storage>,
) {
    let admin = create_user(&*storage, "admin", 0).await;
    let user = create_user(&*storage, "alice", 4000).await;
    let applied = storage
        .adjust_tokens(adjustment(user.id, admin.id, 500, "goodwill"))
        .await
        .unwrap();
    assert_eq!(applied, Adjusted::Applied(Tokens::new(4500)));
    let applied = storage
        .adjust_tokens(adjustment(user.id, admin.id, -4500, "all of it"))
        .await
        .unwrap();
    assert_eq!(applied, Adjusted::Applied(Tokens::ZERO));
    let refused = storage
        .adjust_tokens(adjustment(user.id, admin.id, -1, "below zero"))
        .await
        .unwrap();
    assert_eq!(
        refused,
        Adjusted::InsufficientTokens {
            available: Tokens::ZERO
        }
    );
    let missing = storage
        .adjust_tokens(adjustment(UserId(9999), admin.id, 1, "nobody"))
        .await
        .unwrap();
    assert_eq!(missing, Adjusted::UserNotFound);

    let ledger = storage.user_ledger(user.id, 10).await.unwrap();
    let summary: Vec<(LedgerEntryKind, i64, &str)> = ledger
        .iter()
        .map(|l| (l.kind, l.amount.get(), l.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (LedgerEntryKind::AdminAdjustment, -4500, "all of it"),
            (LedgerEntryKind::AdminAdjustment, 500, "goodwill"),
            (LedgerEntryKind::SignupGrant, 4000, "sign-up grant"),
        ],
        "newest first, refused changes leave no entry"
    );
    assert_eq!(ledger[0].actor, Some((admin.id, Some("admin".to_owned()))));
    assert_eq!(ledger[2].actor, None);
    assert_eq!(storage.user_ledger(user.id, 1).await.unwrap().len(), 1);
    assert_ledger_consistent(&*storage).await;
}

/// Concurrent admin debits never take a balance below zero.
pub async fn concurrent_admin_debits_never_take_a_balance_below_zero(storage: Arc<dyn Storage>) {
    let admin = create_user(&*storage, "admin", 0).await;
    let user = create_user(&*storage, "bob", 4000).await;
    let attempts = (0..16).map(|_| {
        let storage = storage.clone();
        let adjustment = adjustment(user.id, admin.id, -300, "race");
        tokio::spawn(async move { storage.adjust_tokens(adjustment).await })
    });
    let results: Vec<Adjusted> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let applied = results
        .iter()
        .filter(|r| matches!(r, Adjusted::Applied(_)))
        .count();
    assert_eq!(applied, 13, "floor(4000 / 300) debits succeed: {results:?}");
    let balance = storage.find_by_id(user.id).await.unwrap().unwrap().tokens;
    assert_eq!(balance, Tokens::new(100));
    assert_ledger_consistent(&*storage).await;
}

/// The users list searches literally (no SQL wildcards), pages by window and counts chats.
pub async fn the_users_list_searches_literally_pages_and_counts_chats(storage: Arc<dyn Storage>) {
    let a = create_user(&*storage, "alpha_1", 1000).await;
    create_user(&*storage, "alphax1", 1000).await;
    create_user(&*storage, "Beta", 1000).await;
    chat_at(&*storage, a.id, "hi", noon()).await;
    chat_at(&*storage, a.id, "again", noon()).await;

    let all = storage.list_users(None, ALL).await.unwrap();
    assert_eq!(all.total, 3);
    let names: Vec<&str> = all.items.iter().map(|u| u.user.username.as_str()).collect();
    assert_eq!(names, ["alpha_1", "alphax1", "Beta"], "ordered by id");
    assert_eq!(all.items[0].chats, 2);
    assert_eq!(all.items[1].chats, 0);

    let literal = storage.list_users(Some("a_1".into()), ALL).await.unwrap();
    assert_eq!(literal.total, 1, "`_` is not a wildcard");
    assert_eq!(literal.items[0].user.id, a.id);
    let percent = storage.list_users(Some("%".into()), ALL).await.unwrap();
    assert_eq!(
        percent.total, 0,
        "`%` is not a wildcard (and no username contains it)"
    );
    let page = storage
        .list_users(
            Some("alpha".into()),
            Window {
                offset: 1,
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (2, 1));
    assert_eq!(page.items[0].user.username.as_str(), "alphax1");
}

/// The chat list is newest first and filters by user and a half-open time range.
pub async fn the_chat_list_is_newest_first_and_filters_by_user_and_time(storage: Arc<dyn Storage>) {
    let a = create_user(&*storage, "carol", 4000).await;
    let b = create_user(&*storage, "dave", 4000).await;
    let first = chat_at(&*storage, a.id, "first", noon()).await;
    let second = chat_at(&*storage, b.id, "second", later(3600)).await;
    let third = chat_at(&*storage, a.id, "third", later(7200)).await;

    let all = storage
        .list_chats(ChatFilter::default(), ALL)
        .await
        .unwrap();
    let ids: Vec<i64> = all.items.iter().map(|c| c.chat.id).collect();
    assert_eq!(ids, [third, second, first]);
    assert_eq!(all.items[1].username, "dave");

    let only_a = storage
        .list_chats(
            ChatFilter {
                user: Some(a.id),
                ..ChatFilter::default()
            },
            ALL,
        )
        .await
        .unwrap();
    assert_eq!(only_a.total, 2);
    let window = ChatFilter {
        from: Some(later(3600)),
        before: Some(later(7200)),
        ..ChatFilter::default()
    };
    let ranged = storage.list_chats(window, ALL).await.unwrap();
    let ids: Vec<i64> = ranged.items.iter().map(|c| c.chat.id).collect();
    assert_eq!(ids, [second], "from is inclusive, before is exclusive");
    let paged = storage
        .list_chats(
            ChatFilter::default(),
            Window {
                offset: 2,
                limit: 5,
            },
        )
        .await
        .unwrap();
    assert_eq!((paged.total, paged.items.len()), (3, 1));

    let found = storage.find_chat(second).await.unwrap().unwrap();
    assert_eq!(
        (found.chat.message.as_str(), found.username.as_str()),
        ("second", "dave")
    );
    assert!(storage.find_chat(9999).await.unwrap().is_none());
}

/// Dashboard totals: users, chats since a cutoff, tokens granted (grants and credits) and spent (settled charges).
pub async fn dashboard_totals_follow_their_definitions(storage: Arc<dyn Storage>) {
    let admin = create_user(&*storage, "admin", 0).await;
    let user = create_user(&*storage, "erin", 4000).await;
    create_user(&*storage, "frank", 4000).await;
    storage
        .adjust_tokens(adjustment(user.id, admin.id, 300, "credit"))
        .await
        .unwrap();
    storage
        .adjust_tokens(adjustment(user.id, admin.id, -50, "debit"))
        .await
        .unwrap();
    chat_at(
        &*storage,
        user.id,
        "yesterday",
        noon() - Duration::hours(13),
    )
    .await;
    chat_at(&*storage, user.id, "today", noon()).await;
    let charge = match storage
        .reserve(ChatReservation {
            user_id: user.id,
            amount: Tokens::new(100),
            now: noon(),
            deadline: later(60),
            idempotency: None,
        })
        .await
        .unwrap()
    {
        Reservation::Reserved(charge) => charge,
        other => panic!("{other:?}"),
    };
    assert!(storage.refund(charge, "failed", later(1)).await.unwrap());

    let totals = storage
        .dashboard_totals(noon() - Duration::hours(12))
        .await
        .unwrap();
    assert_eq!(totals.users, 3);
    assert_eq!(totals.chats_today, 1);
    assert_eq!(
        totals.tokens_granted,
        8000 + 300,
        "grants plus admin credits, not debits"
    );
    assert_eq!(
        totals.tokens_spent, 200,
        "two chats; the refunded charge is not spent"
    );
}

/// Stores an admin session `id_hash` for `owner`, alive for an hour after noon.
async fn open_session(storage: &dyn Storage, id_hash: &str, owner: UserId) {
    storage
        .create_session(NewAdminSession {
            id_hash: id_hash.into(),
            user_id: owner,
            csrf_token: "c".into(),
            created_at: noon(),
            expires_at: later(3600),
        })
        .await
        .unwrap();
}

async fn version_of(storage: &dyn Storage, id: UserId) -> i64 {
    storage
        .find_by_id(id)
        .await
        .unwrap()
        .unwrap()
        .credentials_version
}

async fn has_session(storage: &dyn Storage, id_hash: &str) -> bool {
    storage
        .find_session(id_hash, noon())
        .await
        .unwrap()
        .is_some()
}

/// A password reset stores the hash, moves the credentials version on and ends that user's admin
/// sessions only.
pub async fn a_password_reset_stores_the_hash_bumps_the_credentials_version_and_ends_admin_sessions(
    storage: Arc<dyn Storage>,
) {
    let user = create_user(&*storage, "gina", 0).await;
    assert_eq!(user.credentials_version, 0);
    let other = create_user(&*storage, "other_admin", 0).await;
    open_session(&*storage, "gina-session", user.id).await;
    open_session(&*storage, "other-session", other.id).await;
    assert!(
        storage
            .set_password(user.id, PasswordHash("$2b$04$new".into()))
            .await
            .unwrap()
    );
    assert_eq!(version_of(&*storage, user.id).await, 1);
    assert_eq!(version_of(&*storage, other.id).await, 0, "only theirs");
    assert!(
        !has_session(&*storage, "gina-session").await,
        "a reset ends the user's admin sessions"
    );
    assert!(
        has_session(&*storage, "other-session").await,
        "and only theirs"
    );
    let credentials = storage
        .find_credentials(&user.username.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(credentials.password_hash.0, "$2b$04$new");
    assert_eq!(credentials.user.credentials_version, 1);
    assert!(
        !storage
            .set_password(UserId(9999), PasswordHash("x".into()))
            .await
            .unwrap()
    );
}

/// Deactivation moves the credentials version on and ends the account's admin sessions;
/// reactivation brings neither back.
pub async fn deactivation_bumps_the_credentials_version_and_reactivation_does_not_undo_it(
    storage: Arc<dyn Storage>,
) {
    let user = create_user(&*storage, "hal", 0).await;
    open_session(&*storage, "hal-session", user.id).await;
    assert!(
        AdminRepository::set_active(&*storage, user.id, true)
            .await
            .unwrap()
    );
    assert_eq!(
        version_of(&*storage, user.id).await,
        0,
        "activating an active account changes nothing"
    );
    assert!(
        AdminRepository::set_active(&*storage, user.id, false)
            .await
            .unwrap()
    );
    let deactivated = storage.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(
        (deactivated.is_active, deactivated.credentials_version),
        (false, 1)
    );
    assert!(!has_session(&*storage, "hal-session").await);
    assert!(
        AdminRepository::set_active(&*storage, user.id, true)
            .await
            .unwrap()
    );
    let reactivated = storage.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(
        (reactivated.is_active, reactivated.credentials_version),
        (true, 1)
    );
    assert!(
        !AdminRepository::set_active(&*storage, UserId(9999), false)
            .await
            .unwrap()
    );
}

/// Admin sessions are found until their expiry or deletion; a duplicate id is an error.
pub async fn admin_sessions_live_until_expiry_or_deletion(storage: Arc<dyn Storage>) {
    let admin = create_user(&*storage, "admin", 0).await;
    for (hash, expires) in [("live", later(3600)), ("old", later(-1))] {
        storage
            .create_session(NewAdminSession {
                id_hash: hash.into(),
                user_id: admin.id,
                csrf_token: format!("csrf-{hash}"),
                created_at: noon(),
                expires_at: expires,
            })
            .await
            .unwrap();
    }
    let live = storage.find_session("live", noon()).await.unwrap().unwrap();
    assert_eq!(
        (live.user_id, live.csrf_token.as_str(), live.expires_at),
        (admin.id, "csrf-live", later(3600))
    );
    assert!(
        storage.find_session("old", noon()).await.unwrap().is_none(),
        "expired sessions are never returned"
    );
    assert!(
        storage
            .find_session("live", later(3600))
            .await
            .unwrap()
            .is_none(),
        "dead at its expiry"
    );
    assert!(
        storage
            .find_session("nope", noon())
            .await
            .unwrap()
            .is_none()
    );
    let duplicate = storage
        .create_session(NewAdminSession {
            id_hash: "live".into(),
            user_id: admin.id,
            csrf_token: "x".into(),
            created_at: noon(),
            expires_at: later(10),
        })
        .await;
    assert!(
        duplicate.is_err(),
        "a duplicate id hash is an error, never an overwrite"
    );
    assert_eq!(storage.delete_expired_sessions(noon()).await.unwrap(), 1);
    storage.delete_session("live").await.unwrap();
    storage.delete_session("live").await.unwrap();
    assert!(
        storage
            .find_session("live", noon())
            .await
            .unwrap()
            .is_none()
    );
}
