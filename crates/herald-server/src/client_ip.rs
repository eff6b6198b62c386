//! The real client address behind trusted proxies. `X-Forwarded-For` is
//! believed only when the TCP peer is a configured trusted proxy; then the
//! client is the right-most address in the header that is not itself a
//! trusted proxy. Rate limits, per-address counts and the key-less HTTP
//! API's loopback rule all use this address.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An address range like `10.0.0.0/8`, `::1/128` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parse `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Result<IpRange, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base: IpAddr = addr.trim().parse().map_err(|_| format!("{s:?} is not an IP address or range"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => {
                p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("bad prefix in {s:?}"))?
            }
            None => max,
        };
        Ok(IpRange { base, prefix })
    }

    /// Whether `ip` is inside the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, ip) {
            (IpAddr::V4(b), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(b) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(b) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// Trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy {
    trusted: Vec<IpRange>,
}

impl ProxyPolicy {
    /// From configured ranges.
    pub fn new(ranges: &[String]) -> Result<Self, String> {
        Ok(Self { trusted: ranges.iter().map(|r| IpRange::parse(r)).collect::<Result<_, _>>()? })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|r| r.contains(ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn only_trusted_peers_may_forward() {
        let p = ProxyPolicy::new(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(p.client_ip(ip("203.0.113.9"), &headers("1.2.3.4")), ip("203.0.113.9"));
        // Trusted peer: right-most untrusted hop.
        assert_eq!(p.client_ip(ip("127.0.0.1"), &headers("6.6.6.6, 1.2.3.4, 10.1.2.3")), ip("1.2.3.4"));
        // Garbage stops the walk at the last good hop.
        assert_eq!(p.client_ip(ip("10.0.0.1"), &headers("nonsense")), ip("10.0.0.1"));
        assert!(IpRange::parse("::1/128").unwrap().contains(ip("::1")));
        assert!(IpRange::parse("10.0.0.0/33").is_err());
    }
}
