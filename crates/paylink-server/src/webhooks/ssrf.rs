//! The SSRF guard: webhook URLs must not reach loopback, private, link-local, CGNAT,
//! multicast, unspecified, reserved, documentation, benchmarking or metadata addresses (nor
//! IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo forms of them, nor IPv6 outside global
//! unicast), unless the operator allows a range with `PAYLINK_WEBHOOK_ALLOW_NETWORKS`.
//!
//! URLs are parsed with the WHATWG rules, which turn decimal, octal, hex and shortened
//! IPv4 forms (`http://2130706433/`, `http://0x7f.1/`) into the address they mean. Host
//! names are resolved and every address checked; delivery then connects to the checked
//! address itself (no second lookup) and follows no redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use url::{Host, Url};

#[derive(Clone, Debug, Default)]
pub struct Guard {
    allow: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the URL must be an absolute http(s) URL without credentials")]
    BadUrl,
    #[error(
        "the URL resolves to {0}, a loopback, private, link-local or otherwise internal address"
    )]
    Internal(IpAddr),
    #[error("the host name could not be resolved")]
    Unresolvable,
}

fn v4_forbidden(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
}

fn v6_forbidden(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_forbidden(v4);
    }
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // NAT64 (64:ff9b::/96) and IPv4-compatible (::a.b.c.d, `::` and `::1` among them) forms
    // carry an IPv4 address, and reach what it reaches.
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0))
        || s[..6].iter().all(|x| *x == 0)
    {
        return v4_forbidden(v4(s[6], s[7]));
    }
    // 6to4 (2002:AABB:CCDD::/48) carries one too: a relay delivers to it.
    if s[0] == 0x2002 && v4_forbidden(v4(s[1], s[2])) {
        return true;
    }
    // Only global unicast (2000::/3) is public: outside it are loopback, unspecified,
    // unique-local, link-local, site-local, multicast, discard-only (100::/64), local-use
    // NAT64 (64:ff9b:1::/48), SRv6 (5f00::/16) and unassigned space. Inside it, the
    // documentation (2001:db8::/32, 3fff::/20), benchmarking (2001:2::/48) and ORCHID
    // (2001:10::/28) blocks are not reachable either. Teredo (2001::/32) carries a client's
    // IPv4 address (inverted, in the last 32 bits) that a relay delivers to: refused whole,
    // as no webhook receiver needs a tunnel's address.
    (s[0] & 0xe000) != 0x2000
        || (s[0] == 0x2001 && s[1] == 0)
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x3fff && s[1] < 0x1000)
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0)
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010)
}

/// Whether an address is internal (before any operator exemption).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_forbidden(v4),
        IpAddr::V6(v6) => v6_forbidden(v6),
    }
}

impl Guard {
    /// From `PAYLINK_WEBHOOK_ALLOW_NETWORKS` (comma-separated CIDRs).
    pub fn from_config(allow: Option<&str>) -> anyhow::Result<Self> {
        Ok(Self {
            allow: crate::nets::parse(allow, "webhook_allow_networks")?,
        })
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = crate::nets::canonical(ip);
        if is_internal(ip) && !self.allow.iter().any(|n| n.contains(&ip)) {
            return Err(Refusal::Internal(ip));
        }
        Ok(())
    }

    /// Parses and checks a URL's form (no lookup).
    pub fn parse(url: &str) -> Result<Url, Refusal> {
        let u = Url::parse(url).map_err(|_| Refusal::BadUrl)?;
        let ok = matches!(u.scheme(), "https" | "http")
            && u.username().is_empty()
            && u.password().is_none()
            && u.host().is_some();
        if ok && url.len() <= 2048 {
            Ok(u)
        } else {
            Err(Refusal::BadUrl)
        }
    }

    /// Resolves the URL's host and checks every address; returns the one to connect to.
    pub async fn resolve(&self, url: &Url) -> Result<SocketAddr, Refusal> {
        let port = url.port_or_known_default().ok_or(Refusal::BadUrl)?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(Host::Domain(d)) => tokio::net::lookup_host((d, port))
                .await
                .map_err(|_| Refusal::Unresolvable)?
                .collect(),
            None => return Err(Refusal::BadUrl),
        };
        // Every address must pass: a name that resolves to one public and one internal
        // address could be steered to the internal one.
        for a in &addrs {
            self.check_ip(a.ip())?;
        }
        addrs.into_iter().next().ok_or(Refusal::Unresolvable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(guard: &Guard, url: &str) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match Guard::parse(url) {
            Err(_) => true,
            Ok(u) => rt.block_on(guard.resolve(&u)).is_err(),
        }
    }

    /// Over a hundred spellings of internal addresses, all refused.
    #[test]
    fn internal_addresses_in_every_form_are_refused() {
        let guard = Guard::default();
        let mut forms: Vec<String> = Vec::new();
        let v4s: [[u8; 4]; 16] = [
            [127, 0, 0, 1],
            [127, 1, 2, 3],
            [10, 0, 0, 1],
            [10, 255, 255, 254],
            [172, 16, 0, 1],
            [172, 31, 255, 1],
            [192, 168, 0, 1],
            [192, 168, 1, 254],
            [169, 254, 169, 254],
            [169, 254, 0, 1],
            [100, 64, 0, 1],
            [100, 127, 255, 1],
            [0, 0, 0, 0],
            [224, 0, 0, 1],
            [239, 255, 255, 250],
            [255, 255, 255, 255],
        ];
        for [a, b, c, d] in v4s {
            let n = u32::from_be_bytes([a, b, c, d]);
            forms.push(format!("http://{a}.{b}.{c}.{d}/hook"));
            forms.push(format!("http://{n}/hook"));
            forms.push(format!("http://0x{n:x}/hook"));
            forms.push(format!("http://0{a:o}.0{b:o}.0{c:o}.0{d:o}/hook"));
            forms.push(format!("http://0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}/hook"));
            forms.push(format!("https://[::ffff:{a}.{b}.{c}.{d}]/hook"));
            forms.push(format!(
                "https://[::ffff:{:x}:{:x}]/hook",
                (u16::from(a) << 8) | u16::from(b),
                (u16::from(c) << 8) | u16::from(d)
            ));
            forms.push(format!("https://[64:ff9b::{a}.{b}.{c}.{d}]/hook"));
        }
        forms.extend(
            [
                "http://127.1/",
                "http://127.0.1/",
                "http://0/",
                "http://0x7f.1/",
                "http://[::1]/",
                "http://[::]/",
                "http://[0:0:0:0:0:0:0:1]/",
                "http://[fe80::1]/",
                "http://[fe80::abcd:1]/",
                "http://[fc00::1]/",
                "http://[fd12:3456::1]/",
                "http://[ff02::1]/",
                "http://[fec0::1]/",
                "http://[2001:db8::1]/",
                "http://[::127.0.0.1]/",
                // Found by the `ssrf` fuzz target: 6to4 forms of internal addresses, the
                // IPv4-compatible range below ::1.0.0 and the special blocks of IPv6.
                "http://[2002:7f00:1::1]/",
                "http://[2002:c0a8:101::]/",
                "http://[2002:a9fe:a9fe::1]/",
                "http://[::2]/",
                "http://[::0.0.255.255]/",
                "http://[64:ff9b:1::a00:1]/",
                "http://[100::1]/",
                "http://[2001:2::1]/",
                "http://[2001:10::1]/",
                // Teredo: server 65.54.227.120, client 127.0.0.1 (inverted: 80ff:fffe).
                "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
                "http://[2001::1]/",
                "http://[3fff::1]/",
                "http://[5f00::1]/",
                "http://[4000::1]/",
                "http://localhost/",
                "http://localhost:8080/x",
                "http://LOCALHOST/",
                "http://user:pw@example.com/",
                "ftp://example.com/",
                "file:///etc/passwd",
                "http://198.18.0.1/",
                "http://240.0.0.1/",
                "http://192.0.0.1/",
                "http://192.0.2.1/",
                "not a url",
                "http:///nohost",
            ]
            .map(str::to_owned),
        );
        assert!(forms.len() >= 100, "{}", forms.len());
        for f in &forms {
            assert!(refused(&guard, f), "{f} was allowed");
        }
    }

    #[test]
    fn public_addresses_and_operator_exemptions_pass() {
        let guard = Guard::default();
        for ok in [
            "https://93.184.216.34/hook",
            "https://[2606:4700::6810:85e5]/x",
            "http://8.8.8.8:8080/",
            "https://[2002:808:808::1]/",
            "https://[64:ff9b::808:808]/",
        ] {
            assert!(!refused(&guard, ok), "{ok} was refused");
        }
        let allow = Guard::from_config(Some("127.0.0.0/8, ::1/128")).unwrap();
        assert!(!refused(&allow, "http://127.0.0.1:9000/hook"));
        assert!(!refused(&allow, "http://[::ffff:127.0.0.1]:9000/hook"));
        assert!(refused(&allow, "http://10.0.0.1/hook"));
        assert!(Guard::from_config(Some("nonsense")).is_err());
    }
}
