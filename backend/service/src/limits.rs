//! Who a request comes from, and how much it may ask: the client address
//! (the peer, or what a configured proxy says), the public address links are
//! built on, and per-client rate limits on writes and heavy endpoints
//! (`governor`'s GCRA: a steady rate and a burst).

use crate::config::{IpNet, Settings};
use actix_web::http::header::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

/// What a request may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Writes to the database: `POST /api/estimates`, `POST /api/calibrations`, `POST /api/runs`.
    Write,
    /// CPU or database per request: `POST /api/estimate`, `GET /api/estimates/{id}`,
    /// a device's runs, an old profile version, measured runs and their accuracy.
    Heavy,
    /// Served from memory (device list, health, the page): not limited.
    Free,
}

/// The class of a request by method and path (under `/api`).
pub fn classify(method: &str, path: &str, query: &str) -> Class {
    let p = path.trim_end_matches('/');
    match (method, p) {
        ("POST", "/api/estimates" | "/api/calibrations" | "/api/runs") => Class::Write,
        ("POST", "/api/estimate") => Class::Heavy,
        ("GET", "/api/runs" | "/api/accuracy") => Class::Heavy,
        ("GET", _) if p.starts_with("/api/estimates/") => Class::Heavy,
        ("GET", _) if p.starts_with("/api/devices/") && p.ends_with("/calibrations") => {
            Class::Heavy
        }
        ("GET", _) if p.starts_with("/api/devices/") && query.contains("version") => Class::Heavy,
        _ => Class::Free,
    }
}

/// One limiter per class, keyed by client (an IPv6 client by its /64: one
/// host gets a whole /64 and could rotate through it).
pub struct RateLimits {
    write: DefaultKeyedRateLimiter<IpAddr>,
    heavy: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl RateLimits {
    /// The configured limits, or none when `rate_limits` is off.
    pub fn from_settings(s: &Settings) -> Option<RateLimits> {
        s.rate_limits.then(|| RateLimits {
            write: RateLimiter::keyed(quota(s.rate_write_per_minute, s.rate_write_burst)),
            heavy: RateLimiter::keyed(quota(s.rate_heavy_per_minute, s.rate_heavy_burst)),
        })
    }

    /// `Err(wait)` when `client` has spent its budget for `class`.
    pub fn check(&self, class: Class, client: IpAddr) -> Result<(), Duration> {
        let limiter = match class {
            Class::Write => &self.write,
            Class::Heavy => &self.heavy,
            Class::Free => return Ok(()),
        };
        limiter
            .check_key(&key(client))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forget clients whose budget is full again (bounded memory).
    pub fn prune(&self) {
        for l in [&self.write, &self.heavy] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// Where requests come from, and the address links are built on.
#[derive(Debug, Clone)]
pub struct Public {
    /// `public_base_url` without its trailing slash.
    pub base: Option<String>,
    pub trusted: Vec<IpNet>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// A host name with an optional port: letters, digits, `.-:[]` only.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

impl Public {
    pub fn from_settings(s: &Settings) -> Public {
        Public {
            base: s.public_base(),
            trusted: s.trusted_nets(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the peer's, or, when the peer is a trusted
    /// proxy, the nearest untrusted address in `X-Forwarded-For`.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer
            .map(|p| p.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut client = peer;
        if let Some(xff) = header(headers, "x-forwarded-for") {
            for hop in xff.rsplit(',') {
                match hop.trim().parse::<IpAddr>() {
                    Ok(ip) => {
                        client = ip;
                        if !self.is_trusted(ip) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        client
    }

    /// The base of links in answers: `public_base_url`; else, from a trusted
    /// proxy, its `X-Forwarded-Proto` (http or https) and `X-Forwarded-Host`;
    /// else `http://` and the `Host` header; else `fallback` (the bound address).
    pub fn base_url(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        fallback: &str,
    ) -> String {
        if let Some(b) = &self.base {
            return b.clone();
        }
        let trusted = peer.is_some_and(|p| self.is_trusted(p.ip()));
        let fwd_host = header(headers, "x-forwarded-host")
            .and_then(|h| h.split(',').next())
            .map(str::trim)
            .filter(|h| trusted && valid_host(h));
        let scheme = match header(headers, "x-forwarded-proto")
            .and_then(|p| p.split(',').next())
            .map(|p| p.trim().to_ascii_lowercase())
        {
            Some(p) if trusted && p == "https" => "https",
            _ => "http",
        };
        let host = fwd_host
            .or_else(|| header(headers, "host").filter(|h| valid_host(h)))
            .unwrap_or(fallback);
        format!("{scheme}://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    fn public(trusted: &[&str], base: Option<&str>) -> Public {
        Public {
            base: base.map(str::to_string),
            trusted: trusted.iter().filter_map(|t| IpNet::parse(t)).collect(),
        }
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7, 10.0.0.9"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "javascript"),
            ("host", "jouleprint.example:8080"),
        ]);
        let peer: SocketAddr = "10.0.0.2:5000".parse().expect("addr");
        let p = public(&[], None);
        assert_eq!(p.client_ip(Some(peer), &h), peer.ip());
        assert_eq!(
            p.base_url(Some(peer), &h, "x"),
            "http://jouleprint.example:8080"
        );
        let p = public(&["10.0.0.0/8"], None);
        assert_eq!(
            p.client_ip(Some(peer), &h),
            "203.0.113.7".parse::<IpAddr>().expect("ip")
        );
        // Trusted, but the scheme is neither http nor https.
        assert_eq!(p.base_url(Some(peer), &h, "x"), "http://evil.example");
        let p = public(&["10.0.0.0/8"], Some("https://jp.example"));
        assert_eq!(p.base_url(Some(peer), &h, "x"), "https://jp.example");
        let bad = headers(&[("host", "a b<script>")]);
        assert_eq!(
            public(&[], None).base_url(None, &bad, "127.0.0.1:1"),
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn classes() {
        assert_eq!(classify("POST", "/api/estimates", ""), Class::Write);
        assert_eq!(classify("POST", "/api/calibrations", ""), Class::Write);
        assert_eq!(classify("POST", "/api/runs", ""), Class::Write);
        assert_eq!(
            classify("GET", "/api/runs", "device=h100-sxm"),
            Class::Heavy
        );
        assert_eq!(
            classify("GET", "/api/accuracy", "device=h100-sxm"),
            Class::Heavy
        );
        assert_eq!(classify("POST", "/api/estimate", ""), Class::Heavy);
        assert_eq!(classify("GET", "/api/estimates/abc", ""), Class::Heavy);
        assert_eq!(
            classify("GET", "/api/devices/h100-sxm/calibrations", ""),
            Class::Heavy
        );
        assert_eq!(
            classify("GET", "/api/devices/h100-sxm", "version=3"),
            Class::Heavy
        );
        assert_eq!(classify("GET", "/api/devices/h100-sxm", ""), Class::Free);
        assert_eq!(classify("GET", "/api/devices", ""), Class::Free);
        assert_eq!(classify("GET", "/", ""), Class::Free);
    }

    #[test]
    fn a_client_over_its_budget_waits() {
        let mut s = Settings::for_tests("postgres://u@h/x");
        s.rate_limits = true;
        s.rate_write_per_minute = 6;
        s.rate_write_burst = 2;
        let l = RateLimits::from_settings(&s).expect("on");
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        assert!(l.check(Class::Write, a).is_ok());
        assert!(l.check(Class::Write, a).is_ok());
        let wait = l.check(Class::Write, a).expect_err("over");
        // 6 a minute: one every 10 s.
        assert!(
            wait > Duration::from_secs(8) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        assert!(l
            .check(Class::Write, "192.0.2.2".parse().expect("ip"))
            .is_ok());
        assert!(l.check(Class::Free, a).is_ok());
        // One IPv6 /64 is one client.
        let b: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:2::ffff".parse().expect("ip");
        assert!(l.check(Class::Write, b).is_ok());
        assert!(l.check(Class::Write, c).is_ok());
        assert!(l.check(Class::Write, b).is_err());
    }
}
