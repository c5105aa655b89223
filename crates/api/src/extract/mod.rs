//! Request extractors that turn every malformed request into a typed [`crate::problem::ApiError`].

pub mod auth;
pub mod body;
pub mod client_ip;
pub mod cross_site;

pub use auth::{Authenticated, BearerToken, CurrentUser};
pub use body::FormOrJson;
pub use client_ip::{ClientIp, TrustedProxies};
