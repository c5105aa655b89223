//! The history repository's contract: a user's chats newest first, and statements whose opening
//! balance plus their entries is the balance after them, over any window and any page.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use chrono::{DateTime, Duration, Utc};
use domain::{LedgerEntryKind, Tokens, UserId};
use ports::{Adjusted, StatementPage, StatementQuery, Storage, TokenAdjustment, Window};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};

use super::{chat_at, create_user, later, noon, reserve_at, settle_at};

fn window(offset: i64, limit: i64) -> Window {
    Window { offset, limit }
}

/// Far enough on either side of every entry the tests write.
fn dawn() -> DateTime<Utc> {
    noon() - Duration::days(365)
}

fn dusk() -> DateTime<Utc> {
    noon() + Duration::days(365)
}

async fn statement(
    storage: &dyn Storage,
    user: UserId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    page: Window,
) -> StatementPage {
    storage
        .statement(StatementQuery {
            user_id: user,
            from,
            to,
            window: page,
        })
        .await
        .unwrap()
}

fn closing(page: &StatementPage) -> i64 {
    page.opening_balance.get() + page.entries.iter().map(|e| e.amount.get()).sum::<i64>()
}

async fn balance(storage: &dyn Storage, user: UserId) -> i64 {
    storage
        .find_by_id(user)
        .await
        .unwrap()
        .unwrap()
        .tokens
        .get()
}

/// A user's chats come newest first (ties by id, newest first), paged, counted, and nobody
/// else's.
pub async fn chat_history_is_newest_first_paged_and_only_the_users(storage: Arc<dyn Storage>) {
    let alice = create_user(&*storage, "alice", 4000).await;
    let bob = create_user(&*storage, "bob", 4000).await;
    let old = chat_at(&*storage, alice.id, "old", later(10)).await;
    let tie_first = chat_at(&*storage, alice.id, "tie one", later(20)).await;
    let tie_second = chat_at(&*storage, alice.id, "tie two", later(20)).await;
    chat_at(&*storage, bob.id, "bob's", later(30)).await;
    let newest = chat_at(&*storage, alice.id, "newest", later(40)).await;
    let ids = |page: ports::Page<ports::ChatRecord>| {
        assert!(page.items.iter().all(|chat| chat.user_id == alice.id));
        (
            page.items.iter().map(|chat| chat.id).collect::<Vec<_>>(),
            page.total,
        )
    };
    let first = storage.chat_history(alice.id, window(0, 2)).await.unwrap();
    assert_eq!(first.items[0].message, "newest");
    assert_eq!(ids(first), (vec![newest, tie_second], 4));
    let rest = storage.chat_history(alice.id, window(2, 2)).await.unwrap();
    assert_eq!(ids(rest), (vec![tie_first, old], 4));
    let past = storage.chat_history(alice.id, window(4, 2)).await.unwrap();
    assert_eq!(ids(past), (vec![], 4));
    let nobody = create_user(&*storage, "nobody", 0).await;
    let empty = storage
        .chat_history(nobody.id, window(0, 10))
        .await
        .unwrap();
    assert_eq!((empty.items.len(), empty.total), (0, 0));
}

/// A window includes entries at `from` and excludes those at `to`; the opening balance sums
/// everything before `from`, and each entry names the chat its charge paid for.
pub async fn a_statement_window_includes_from_and_excludes_to(storage: Arc<dyn Storage>) {
    let user = create_user(&*storage, "carol", 1000).await;
    let chat = chat_at(&*storage, user.id, "hello", later(10)).await;
    let failed = reserve_at(&*storage, user.id, 100, later(20))
        .await
        .unwrap();
    assert!(
        storage
            .refund(failed, "model failed", later(30))
            .await
            .unwrap()
    );
    let page = statement(&*storage, user.id, later(10), later(30), window(0, 10)).await;
    assert_eq!(page.opening_balance, Tokens::new(1000));
    let seen: Vec<_> = page
        .entries
        .iter()
        .map(|e| (e.at, e.kind, e.amount.get(), e.chat_id))
        .collect();
    assert_eq!(
        seen,
        vec![
            (later(10), LedgerEntryKind::ChatDebit, -100, Some(chat)),
            (later(20), LedgerEntryKind::ChatDebit, -100, None),
        ]
    );
    assert_eq!(page.total, 2);
    assert_eq!(closing(&page), 800);
    let after = statement(&*storage, user.id, later(30), dusk(), window(0, 10)).await;
    assert_eq!(after.opening_balance, Tokens::new(800));
    assert_eq!(after.entries.len(), 1);
    assert_eq!(after.entries[0].kind, LedgerEntryKind::Refund);
    assert_eq!(after.entries[0].reason, "model failed");
    assert_eq!(closing(&after), balance(&*storage, user.id).await);
    let whole = statement(&*storage, user.id, noon(), dusk(), window(0, 10)).await;
    assert_eq!(whole.opening_balance, Tokens::ZERO);
    assert_eq!(whole.entries[0].kind, LedgerEntryKind::SignupGrant);
    let empty = statement(&*storage, user.id, later(11), later(12), window(0, 10)).await;
    assert_eq!((empty.total, empty.entries.len()), (0, 0));
    assert_eq!(empty.opening_balance, Tokens::new(900));
}

/// One step of a random account history.
#[derive(Debug, Clone)]
enum Step {
    /// A chat answered and stored, costing `used` of the `price` it reserved.
    Chat { price: i64, used: i64, at: i64 },
    /// A chat whose model failed: reserved, then refunded.
    Failed { price: i64, at: i64 },
    /// A chat still waiting for its answer.
    Pending { price: i64, at: i64 },
    /// An admin credit (positive) or debit (negative).
    Adjust { amount: i64, at: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    let at = 1..10_000i64;
    prop_oneof![
        (1..400i64, 0..400i64, at.clone()).prop_map(|(price, used, at)| Step::Chat {
            price,
            used,
            at
        }),
        (1..400i64, at.clone()).prop_map(|(price, at)| Step::Failed { price, at }),
        (1..400i64, at.clone()).prop_map(|(price, at)| Step::Pending { price, at }),
        (-600..600i64, at)
            .prop_filter("non-zero", |(amount, _)| *amount != 0)
            .prop_map(|(amount, at)| Step::Adjust { amount, at }),
    ]
}

/// Applies `steps` to `user` (each at its own time, in no particular order) through the real
/// charge protocol and admin adjustments.
async fn apply(storage: &dyn Storage, user: UserId, admin: UserId, steps: &[Step]) {
    for step in steps {
        match *step {
            Step::Chat { price, used, at } => {
                if let Some(charge) = reserve_at(storage, user, price, later(at)).await {
                    settle_at(storage, charge, "chat", used.min(price), later(at)).await;
                }
            }
            Step::Failed { price, at } => {
                if let Some(charge) = reserve_at(storage, user, price, later(at)).await {
                    storage.refund(charge, "failed", later(at)).await.unwrap();
                }
            }
            Step::Pending { price, at } => {
                reserve_at(storage, user, price, later(at)).await;
            }
            Step::Adjust { amount, at } => {
                let adjusted = storage
                    .adjust_tokens(TokenAdjustment {
                        user_id: user,
                        actor_id: admin,
                        amount: Tokens::new(amount),
                        reason: "proptest".into(),
                        at: later(at),
                    })
                    .await
                    .unwrap();
                assert!(!matches!(adjusted, Adjusted::UserNotFound));
            }
        }
    }
}

/// The balance identity over random histories: for any cut `t`, the statement up to `t` closes
/// at the balance the statement from `t` opens with; the statement from the account's start
/// opens at zero and closes at the stored balance; and paging a window in any page size chains
/// each page's closing balance into the next page's opening one, with the same entries in time
/// order.
pub async fn statements_add_up_over_random_histories(storage: Arc<dyn Storage>) {
    let admin = create_user(&*storage, "admin", 0).await;
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let case = (prop::collection::vec(step(), 0..24), 0..10_001i64, 1..6i64);
    let handle = tokio::runtime::Handle::current();
    let users = AtomicUsize::new(0);
    let result = tokio::task::block_in_place(|| {
        runner.run(&case, |(steps, cut, page_size)| {
            let name = format!("user{}", users.fetch_add(1, Ordering::Relaxed));
            let storage = storage.clone();
            handle.block_on(async move {
                let user = create_user(&*storage, &name, 500).await;
                apply(&*storage, user.id, admin.id, &steps).await;
                check_statements(&*storage, user.id, later(cut), page_size).await
            })
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

async fn check_statements(
    storage: &dyn Storage,
    user: UserId,
    cut: DateTime<Utc>,
    page_size: i64,
) -> Result<(), TestCaseError> {
    let all = window(0, 1000);
    let balance = balance(storage, user).await;
    let whole = statement(storage, user, dawn(), dusk(), all).await;
    prop_assert_eq!(whole.opening_balance, Tokens::ZERO);
    prop_assert_eq!(closing(&whole), balance);
    let order: Vec<_> = whole.entries.iter().map(|e| (e.at, e.id)).collect();
    let mut sorted = order.clone();
    sorted.sort();
    prop_assert_eq!(order, sorted, "oldest first");

    let before = statement(storage, user, dawn(), cut, all).await;
    let after = statement(storage, user, cut, dusk(), all).await;
    prop_assert_eq!(closing(&before), after.opening_balance.get());
    prop_assert_eq!(closing(&after), balance);
    prop_assert!(before.entries.iter().all(|e| e.at < cut));
    prop_assert!(after.entries.iter().all(|e| e.at >= cut));
    prop_assert_eq!(before.total + after.total, whole.total);

    let mut opening = after.opening_balance.get();
    let mut paged = Vec::new();
    for page in 0.. {
        let part = statement(
            storage,
            user,
            cut,
            dusk(),
            window(page * page_size, page_size),
        )
        .await;
        prop_assert_eq!(part.total, after.total);
        if part.entries.is_empty() {
            prop_assert_eq!(part.opening_balance.get(), balance, "past the end");
            break;
        }
        prop_assert_eq!(part.opening_balance.get(), opening, "page {}", page);
        opening = closing(&part);
        paged.extend(part.entries);
    }
    prop_assert_eq!(paged, after.entries);
    Ok(())
}
