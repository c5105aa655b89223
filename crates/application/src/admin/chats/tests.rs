//! The admin's chat history against a mocked port.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use domain::UserId;
use futures_executor::block_on;
use ports::{ChatRecord, MockAdminRepository, Page};

use super::*;
use crate::test_support::noon;

#[test]
fn the_chat_date_range_covers_whole_utc_days_with_to_included() {
    let mut admin = MockAdminRepository::new();
    admin
        .expect_list_chats()
        .withf(|filter, window| {
            filter.user == Some(UserId(4))
                && filter.from == Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single()
                && filter.before == Utc.with_ymd_and_hms(2025, 1, 3, 0, 0, 0).single()
                && window.offset == 25
        })
        .times(1)
        .returning(|_, _| {
            Ok(Page {
                items: Vec::new(),
                total: 30,
            })
        });
    let chats = AdminChats::new(Arc::new(admin));
    let query = ChatQuery {
        user: Some(UserId(4)),
        from: NaiveDate::from_ymd_opt(2025, 1, 1),
        to: NaiveDate::from_ymd_opt(2025, 1, 2),
    };
    let page = block_on(chats.list(&query, 2)).unwrap();
    assert_eq!((page.page, page.pages), (2, 2));
}

#[test]
fn a_missing_chat_is_not_found() {
    let mut admin = MockAdminRepository::new();
    admin.expect_find_chat().returning(|id| {
        Ok((id == 1).then(|| ports::ChatLine {
            chat: ChatRecord {
                id: 1,
                user_id: UserId(1),
                message: "m".into(),
                response: "r".into(),
                timestamp: noon(),
                status: domain::ChatStatus::Completed,
                tokens_charged: domain::Tokens::new(100),
            },
            username: "user1".into(),
        }))
    });
    let chats = AdminChats::new(Arc::new(admin));
    assert!(block_on(chats.detail(1)).is_ok());
    assert_eq!(block_on(chats.detail(2)), Err(AdminError::NotFound));
}
