//! Pagination of the admin lists.

use ports::{Page, Window};

use super::*;
use crate::test_support::empty_page;

#[test]
fn pages_below_one_are_not_found_and_page_windows_are_25_rows() {
    assert_eq!(window(0), Err(AdminError::NotFound));
    assert_eq!(window(-3), Err(AdminError::NotFound));
    assert_eq!(window(i64::MAX), Err(AdminError::NotFound));
    assert_eq!(
        window(3),
        Ok(Window {
            offset: 50,
            limit: 25
        })
    );
}

#[test]
fn page_one_of_an_empty_list_exists_but_pages_past_the_last_do_not() {
    let page = paged(1, empty_page::<i64>()).unwrap();
    assert_eq!((page.page, page.pages, page.total), (1, 1, 0));
    let rows = |total| Page {
        items: vec![1],
        total,
    };
    assert_eq!(paged(2, rows(26)).map(|p| p.pages), Ok(2));
    assert_eq!(paged(2, rows(25)), Err(AdminError::NotFound));
    assert_eq!(paged(3, rows(50)), Err(AdminError::NotFound));
}
