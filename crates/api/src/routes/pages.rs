//! DRF-style page links: the absolute URL of the next and the previous page of a list, made from
//! the request's own URL with `page` replaced (removed for page 1, as DRF does) and any `pinned`
//! parameters set, so every page of one listing covers the same window.

use actix_web::HttpRequest;
use application::pagination::PageRequest;

use crate::extract::cross_site::own_origin;

/// `(next, previous)` for `page` of a list of `count` rows.
pub fn links(
    req: &HttpRequest,
    page: PageRequest,
    count: i64,
    pinned: &[(&str, String)],
) -> (Option<String>, Option<String>) {
    let next = page
        .has_next(count)
        .then(|| url_for(req, Some(page.page + 1), pinned));
    let previous = page.has_previous().then(|| {
        let previous = page.page - 1;
        url_for(req, (previous > 1).then_some(previous), pinned)
    });
    (next, previous)
}

/// The request's URL with `page` set (or removed) and `pinned` set, other parameters kept in
/// their order.
fn url_for(req: &HttpRequest, page: Option<i64>, pinned: &[(&str, String)]) -> String {
    let replaced = |name: &str| name == "page" || pinned.iter().any(|(p, _)| *p == name);
    let mut query: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| !replaced(name))
            .collect();
    query.extend(
        pinned
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
    if let Some(page) = page {
        query.push(("page".into(), page.to_string()));
    }
    let origin = own_origin(req).unwrap_or_default();
    let path = req.path();
    match serde_urlencoded::to_string(&query) {
        Ok(encoded) if !encoded.is_empty() => format!("{origin}{path}?{encoded}"),
        _ => format!("{origin}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn page(page: i64, page_size: i64) -> PageRequest {
        PageRequest { page, page_size }
    }

    #[test]
    fn links_keep_other_parameters_and_replace_the_page() {
        let req = TestRequest::get()
            .uri("/chats/?page_size=2&page=2&x=%20y")
            .insert_header(("Host", "api.example"))
            .to_http_request();
        let (next, previous) = links(&req, page(2, 2), 5, &[]);
        assert_eq!(
            next.as_deref(),
            Some("http://api.example/chats/?page_size=2&x=+y&page=3")
        );
        assert_eq!(
            previous.as_deref(),
            Some("http://api.example/chats/?page_size=2&x=+y")
        );
        assert_eq!(links(&req, page(3, 2), 5, &[]).0, None);
        assert_eq!(links(&req, page(1, 2), 5, &[]).1, None);
    }

    #[test]
    fn pinned_parameters_replace_what_the_client_sent() {
        let req = TestRequest::get()
            .uri("/statement/?to=later")
            .insert_header(("Host", "h"))
            .to_http_request();
        let (next, _) = links(
            &req,
            page(1, 1),
            2,
            &[("to", "2025-01-01T00:00:00Z".into())],
        );
        assert_eq!(
            next.as_deref(),
            Some("http://h/statement/?to=2025-01-01T00%3A00%3A00Z&page=2")
        );
    }
}
