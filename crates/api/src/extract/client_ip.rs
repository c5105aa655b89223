//! The client's IP address, which throttles count by.
//!
//! The socket peer is the client, unless the peer is a configured trusted proxy
//! (`server.trusted_proxies`): then `X-Forwarded-For` is read from the right, skipping trusted
//! proxies, and the first address not among them is the client. A client can prepend anything to
//! `X-Forwarded-For`, but cannot forge what the trusted proxy appended, so the header is never
//! believed when the peer is not a trusted proxy, and never left of the first untrusted hop.
//!
//! Behind a load balancer that no one configured as trusted, every client shares the balancer's
//! address, so one client's failed logins throttle everyone. That shows as `X-Forwarded-For`
//! arriving from a private-range peer while no proxy is trusted: the server then logs one
//! warning (per process) pointing at `server.trusted_proxies`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header::HeaderMap, web};
use futures_util::future::{Ready, ready};
use ipnet::IpNet;

use crate::problem::ApiError;

/// One entry of `server.trusted_proxies`: an address (a block of one) or a CIDR block. IPv4-mapped
/// IPv6 addresses are read as IPv4, as peers are (see [`canonical`]).
fn parse_block(entry: &str) -> Result<IpNet, String> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (entry, None),
    };
    let address: IpAddr = address
        .trim()
        .parse()
        .map_err(|_| format!("{entry:?} is not an IP address or CIDR block"))?;
    let address = canonical(address);
    match prefix {
        None => Ok(IpNet::from(address)),
        Some(prefix) => prefix
            .trim()
            .parse::<u8>()
            .ok()
            .and_then(|prefix| IpNet::new(address, prefix).ok())
            .ok_or_else(|| format!("{entry:?} has an invalid prefix length")),
    }
}

/// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// An `X-Forwarded-For` entry: a bare address, or one with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// Whether `ip` is where a load balancer in front of chat-api usually sits: a private, shared
/// (carrier-grade NAT), link-local or loopback address, or an IPv6 unique-local one.
fn is_private_range(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [first, second, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (first == 100 && (64..128).contains(&second))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    blocks: Vec<IpNet>,
    /// Set once the missing-proxy warning was logged; shared by every worker of the process.
    warned: Arc<AtomicBool>,
}

impl TrustedProxies {
    /// Parses the configured entries; blank entries (an empty environment variable) are skipped.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let blocks = entries
            .iter()
            .flat_map(|entry| entry.split(','))
            .filter(|entry| !entry.trim().is_empty())
            .map(parse_block)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            blocks,
            warned: Arc::default(),
        })
    }

    /// Whether `ip` is a configured trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.blocks.iter().any(|block| block.contains(&ip))
    }

    /// Logs, once per process, that `X-Forwarded-For` arrives from a private-range peer while no
    /// proxy is trusted: the signature of a load balancer nobody configured.
    fn warn_if_unconfigured_proxy(&self, peer: IpAddr, headers: &HeaderMap) {
        if self.blocks.is_empty()
            && headers.contains_key("x-forwarded-for")
            && is_private_range(peer)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                %peer,
                "requests carry X-Forwarded-For from a private-range peer but \
                 server.trusted_proxies is empty: every client behind that proxy counts as the \
                 proxy's address, so one client's failed logins throttle them all (see \
                 docs/deploy.md)"
            );
        }
    }

    /// The client address for a request from `peer` with these headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            self.warn_if_unconfigured_proxy(peer, headers);
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // Garbage was added by whoever the last trusted hop talked to: that hop's view
                // (the address found so far) is the best we know.
                None => break,
            }
        }
        client
    }
}

/// The request's client address (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    fn of(req: &HttpRequest) -> Self {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip());
        let ip = match req.app_data::<web::Data<TrustedProxies>>() {
            Some(proxies) => proxies.client_ip(peer, req.headers()),
            None => canonical(peer),
        };
        Self(ip)
    }
}

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::of(req)))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.1"]);
        let spoofed = headers(&["1.2.3.4"]);
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.0.0.1"), &spoofed),
            ip("10.0.0.1")
        );
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &spoofed), ip("1.2.3.4"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_whatever_the_client_prepended() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let chain = headers(&["6.6.6.6, 198.51.100.2", "10.1.2.3"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &chain),
            ip("198.51.100.2")
        );
        let all_trusted = headers(&["10.9.9.9, fd00::1"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &all_trusted),
            ip("10.9.9.9")
        );
        let garbage = headers(&["6.6.6.6, not-an-ip, 10.2.2.2"]);
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &garbage), ip("10.2.2.2"));
        let with_ports = headers(&["[2001:db8::7]:443, 203.0.113.5:80"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &with_ports),
            ip("203.0.113.5")
        );
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_entries_and_bad_entries_are_refused() {
        let trusted = proxies(&["127.0.0.1, ::1", " "]);
        assert!(trusted.trusts(ip("::ffff:127.0.0.1")));
        assert!(trusted.trusts(ip("::1")));
        assert!(!trusted.trusts(ip("127.0.0.2")));
        for bad in ["localhost", "10.0.0.0/33", "::/129", "1.2.3.4/x"] {
            assert!(TrustedProxies::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(proxies(&["0.0.0.0/0"]).trusts(ip("8.8.8.8")));
    }

    #[test]
    fn forwarded_for_from_a_private_peer_without_trusted_proxies_is_warned_about_once() {
        let none = TrustedProxies::default();
        let forwarded = headers(&["203.0.113.9"]);
        let (_, logs) = crate::log_capture::logs_of(|| {
            for peer in [
                "10.1.2.3",
                "172.16.0.9",
                "192.168.1.1",
                "fd12::1",
                "127.0.0.1",
            ] {
                assert_eq!(none.client_ip(ip(peer), &forwarded), ip(peer));
            }
        });
        assert_eq!(
            logs.matches("server.trusted_proxies is empty").count(),
            1,
            "{logs}"
        );
        for (proxies, peer, headers) in [
            (TrustedProxies::default(), "203.0.113.1", forwarded.clone()),
            (TrustedProxies::default(), "10.1.2.3", HeaderMap::new()),
            (proxies(&["10.0.0.1"]), "10.9.9.9", forwarded.clone()),
        ] {
            let (_, logs) = crate::log_capture::logs_of(|| proxies.client_ip(ip(peer), &headers));
            assert!(!logs.contains("trusted_proxies"), "{peer}: {logs}");
        }
    }

    #[test]
    fn private_ranges_are_recognised() {
        for private in [
            "10.0.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "127.0.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private_range(ip(private)), "{private}");
        }
        for public in ["8.8.8.8", "100.128.0.1", "172.32.0.1", "2001:db8::1"] {
            assert!(!is_private_range(ip(public)), "{public}");
        }
    }

    #[test]
    fn blocks_match_by_prefix_whatever_their_host_bits() {
        let trusted = proxies(&["10.1.2.3/8", "2001:db8::1/32", "::ffff:192.0.2.1"]);
        assert!(trusted.trusts(ip("10.200.0.1")));
        assert!(!trusted.trusts(ip("11.0.0.1")));
        assert!(trusted.trusts(ip("2001:db8:ffff::9")));
        assert!(!trusted.trusts(ip("2001:db9::1")));
        assert!(
            trusted.trusts(ip("192.0.2.1")),
            "a mapped entry is an IPv4 entry"
        );
        assert!(
            trusted.trusts(ip("::ffff:10.9.9.9")),
            "a mapped peer is an IPv4 peer"
        );
    }
}
