//! Page-number pagination of a user's own lists, as DRF's `PageNumberPagination` does it:
//! `page` from 1 and `page_size` up to a maximum; a page that is not a positive integer, or lies
//! past the last page, is "Invalid page." (404), except that page 1 of an empty list exists.

use ports::Window;

use crate::AppError;

/// The text of the 404 for a page that does not exist.
pub const INVALID_PAGE: &str = "Invalid page.";

/// A list's page sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    /// When the client names none.
    pub default: i64,
    /// The most a client may ask for.
    pub max: i64,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// From 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

impl PageRequest {
    /// Reads the `page` and `page_size` query parameters as the client sent them.
    pub fn parse(
        page: Option<&str>,
        page_size: Option<&str>,
        sizes: PageSizes,
    ) -> Result<Self, AppError> {
        let page_size = match page_size.map(str::trim) {
            None => sizes.default,
            Some(raw) => match raw.parse::<i64>() {
                Ok(size) if (1..=sizes.max).contains(&size) => size,
                _ => {
                    return Err(AppError::invalid_field(
                        "page_size",
                        format!(
                            "Ensure this value is a whole number from 1 to {}.",
                            sizes.max
                        ),
                    ));
                }
            },
        };
        let page = match page.map(str::trim) {
            None => 1,
            Some(raw) => match raw.parse::<i64>() {
                Ok(page) if page >= 1 => page,
                _ => return Err(AppError::NotFound(INVALID_PAGE)),
            },
        };
        Ok(Self { page, page_size })
    }

    /// The rows this page covers (`NotFound` when the page is so far out that its offset
    /// overflows).
    pub fn window(&self) -> Result<Window, AppError> {
        let offset = (self.page - 1)
            .checked_mul(self.page_size)
            .ok_or(AppError::NotFound(INVALID_PAGE))?;
        Ok(Window {
            offset,
            limit: self.page_size,
        })
    }

    /// `NotFound` when this page lies past the last page of a list of `count` rows.
    pub fn check_exists(&self, count: i64) -> Result<(), AppError> {
        if self.page == 1 || (self.page - 1) * self.page_size < count {
            Ok(())
        } else {
            Err(AppError::NotFound(INVALID_PAGE))
        }
    }

    /// Whether a list of `count` rows has a page after this one.
    pub fn has_next(&self, count: i64) -> bool {
        self.page.saturating_mul(self.page_size) < count
    }

    /// Whether there is a page before this one.
    pub fn has_previous(&self) -> bool {
        self.page > 1
    }
}

/// One page of a list and where it lies in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered<T> {
    /// This page's rows.
    pub items: Vec<T>,
    /// Which page it is.
    pub page: PageRequest,
    /// How many rows the whole list has.
    pub count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: PageSizes = PageSizes {
        default: 20,
        max: 100,
    };

    #[test]
    fn defaults_apply_and_bounds_hold() {
        assert_eq!(
            PageRequest::parse(None, None, SIZES),
            Ok(PageRequest {
                page: 1,
                page_size: 20
            })
        );
        assert_eq!(
            PageRequest::parse(Some("3"), Some("100"), SIZES),
            Ok(PageRequest {
                page: 3,
                page_size: 100
            })
        );
        for size in ["0", "101", "-1", "x", "", "1.5"] {
            assert!(
                matches!(
                    PageRequest::parse(None, Some(size), SIZES),
                    Err(AppError::Validation(_))
                ),
                "{size}"
            );
        }
        for page in ["0", "-1", "x", "", "9223372036854775808"] {
            assert_eq!(
                PageRequest::parse(Some(page), None, SIZES),
                Err(AppError::NotFound(INVALID_PAGE)),
                "{page}"
            );
        }
    }

    #[test]
    fn pages_past_the_end_do_not_exist_but_page_one_always_does() {
        let page = |page| PageRequest {
            page,
            page_size: 10,
        };
        assert_eq!(page(1).check_exists(0), Ok(()));
        assert_eq!(page(3).check_exists(21), Ok(()));
        assert!(page(3).check_exists(20).is_err());
        assert!(page(2).check_exists(0).is_err());
        assert!(page(2).has_next(21) && !page(3).has_next(21) && !page(2).has_next(20));
        assert!(!page(1).has_previous() && page(2).has_previous());
        assert!(page(i64::MAX).window().is_err());
        assert_eq!(
            page(3).window(),
            Ok(Window {
                offset: 20,
                limit: 10
            })
        );
    }
}
