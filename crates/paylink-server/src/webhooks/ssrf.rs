//! The SSRF guard: webhook URLs must not reach loopback, private, link-local, CGNAT,
//! multicast, unspecified, reserved or metadata addresses (nor IPv4-mapped or NAT64 forms
//! of them), unless the operator allows a range with `PAYLINK_WEBHOOK_ALLOW_NETWORKS`.
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
    // NAT64 (64:ff9b::/96) and IPv4-compatible (::a.b.c.d) forms carry an IPv4 address.
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0))
        || (s[..6].iter().all(|x| *x == 0) && s[6] != 0)
    {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return v4_forbidden(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
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
        let allow = allow
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .map_err(|e| anyhow::anyhow!("webhook_allow_networks: `{s}`: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { allow })
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
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
