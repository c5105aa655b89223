//! Cross-site form posts. A page on another site can make its visitors' browsers submit a form to
//! chat-api, with no CORS preflight for the form content types: sign-ups farmed from every
//! visitor's address, failed logins that burn a victim's throttle budget, admin actions riding an
//! admin's session. Browsers say where such a request comes from (`Sec-Fetch-Site`, `Origin`), so
//! it is refused (403 `cross_site_request` on the API, an HTML 403 under `/admin/`). Clients that
//! send neither header (curl, SDKs, every seed client) are not browsers and work as before.
//!
//! The server's own origin is the scheme and host the client used, as seen through trusted
//! proxies: behind a TLS-terminating proxy listed in `server.trusted_proxies`, its
//! `X-Forwarded-Proto` (and `X-Forwarded-Host`, if it sends one) name them, so the admin's own
//! forms keep working; from any other peer those headers are ignored.

use actix_web::{
    HttpRequest,
    http::{Method, header},
    web,
};

use super::TrustedProxies;

/// Content types an HTML form can send without a CORS preflight.
const FORM_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// Whether `req` is a form post a browser sent from another site: a POST with a form content type
/// whose `Sec-Fetch-Site` is `cross-site`, or whose `Origin` is not this server's own origin.
pub fn is_cross_site_form_post(req: &HttpRequest) -> bool {
    if req.method() != Method::POST || !has_form_content_type(req) {
        return false;
    }
    let headers = req.headers();
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let origin = headers
        .get(header::ORIGIN)
        .map(|value| value.to_str().ok().and_then(normalized_origin));
    let own = own_origin(req);
    let refused = fetch_site.eq_ignore_ascii_case("cross-site")
        || origin.as_ref().is_some_and(|origin| *origin != own);
    if refused {
        tracing::warn!(
            fetch_site,
            origin = ?origin.flatten(),
            own_origin = ?own,
            "cross-site form post refused"
        );
    }
    refused
}

fn has_form_content_type(req: &HttpRequest) -> bool {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    FORM_CONTENT_TYPES.contains(&essence.as_str())
}

/// This server's origin as the client addressed it, normalised like an `Origin` header; `None`
/// when the request names no host.
pub(crate) fn own_origin(req: &HttpRequest) -> Option<String> {
    let behind_trusted_proxy = match (req.app_data::<web::Data<TrustedProxies>>(), req.peer_addr())
    {
        (Some(proxies), Some(peer)) => proxies.trusts(peer.ip()),
        _ => false,
    };
    let forwarded = |name: &str| {
        behind_trusted_proxy
            .then(|| last_value(req, name))
            .flatten()
    };
    let scheme = forwarded("x-forwarded-proto").unwrap_or_else(|| {
        if req.app_config().secure() {
            "https".to_owned()
        } else {
            "http".to_owned()
        }
    });
    let host = forwarded("x-forwarded-host")
        .or_else(|| last_value(req, header::HOST.as_str()))
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))?;
    normalized_origin(&format!("{scheme}://{host}"))
}

/// The last comma-separated entry of header `name` (the one the nearest proxy wrote), trimmed.
fn last_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(name)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .last()
        .map(str::to_owned)
}

/// `scheme://host[:port]` in lower case without the scheme's default port, or `None` for anything
/// else (`null`, a path, an unknown scheme).
fn normalized_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn form_post() -> TestRequest {
        TestRequest::post()
            .uri("/register/")
            .insert_header((header::HOST, "chat.example.com"))
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .peer_addr("10.0.0.5:40000".parse().unwrap())
    }

    fn behind(proxies: &[&str]) -> web::Data<TrustedProxies> {
        let entries: Vec<String> = proxies.iter().map(|p| (*p).to_owned()).collect();
        web::Data::new(TrustedProxies::parse(&entries).unwrap())
    }

    #[test]
    fn origins_are_compared_by_scheme_host_and_port() {
        assert_eq!(
            normalized_origin("HTTPS://Chat.Example.com:443"),
            Some("https://chat.example.com".into())
        );
        assert_eq!(
            normalized_origin("http://127.0.0.1:8000"),
            Some("http://127.0.0.1:8000".into())
        );
        for odd in [
            "null",
            "",
            "ftp://x",
            "https://",
            "https://a/b",
            "https://u@a",
        ] {
            assert_eq!(normalized_origin(odd), None, "{odd}");
        }
    }

    #[test]
    fn a_form_post_from_another_site_is_cross_site() {
        let requests = [
            form_post().insert_header(("Sec-Fetch-Site", "cross-site")),
            form_post().insert_header((header::ORIGIN, "https://evil.example")),
            form_post().insert_header((header::ORIGIN, "null")),
            form_post().insert_header((header::ORIGIN, "https://chat.example.com")),
            form_post()
                .insert_header((header::CONTENT_TYPE, "text/plain"))
                .insert_header((header::ORIGIN, "http://evil.example")),
            form_post()
                .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=x"))
                .insert_header(("Sec-Fetch-Site", "CROSS-SITE")),
        ];
        for request in requests {
            let request = request.to_http_request();
            assert!(is_cross_site_form_post(&request), "{:?}", request.headers());
        }
    }

    #[test]
    fn same_origin_posts_json_and_clients_without_browser_headers_are_not() {
        let requests = [
            form_post(),
            form_post().insert_header((header::ORIGIN, "http://chat.example.com")),
            form_post().insert_header((header::ORIGIN, "http://CHAT.example.com:80")),
            form_post()
                .insert_header(("Sec-Fetch-Site", "same-origin"))
                .insert_header((header::ORIGIN, "http://chat.example.com")),
            form_post().insert_header(("Sec-Fetch-Site", "none")),
            form_post()
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .insert_header((header::ORIGIN, "https://evil.example")),
            TestRequest::get()
                .insert_header((header::ORIGIN, "https://evil.example"))
                .insert_header(("Sec-Fetch-Site", "cross-site")),
        ];
        for request in requests {
            let request = request.to_http_request();
            assert!(
                !is_cross_site_form_post(&request),
                "{:?}",
                request.headers()
            );
        }
    }

    #[test]
    fn forwarded_scheme_and_host_count_only_from_a_trusted_proxy() {
        let through_tls_proxy = || {
            form_post()
                .insert_header((header::ORIGIN, "https://chat.example.com"))
                .insert_header(("X-Forwarded-Proto", "https"))
        };
        let trusted = through_tls_proxy()
            .app_data(behind(&["10.0.0.0/8"]))
            .to_http_request();
        assert!(!is_cross_site_form_post(&trusted));
        let untrusted = through_tls_proxy()
            .app_data(behind(&["192.0.2.1"]))
            .to_http_request();
        assert!(is_cross_site_form_post(&untrusted));
        let renamed = form_post()
            .insert_header((header::ORIGIN, "https://public.example"))
            .insert_header(("X-Forwarded-Proto", "https"))
            .insert_header(("X-Forwarded-Host", "public.example"))
            .app_data(behind(&["10.0.0.5"]))
            .to_http_request();
        assert!(!is_cross_site_form_post(&renamed));
    }
}
