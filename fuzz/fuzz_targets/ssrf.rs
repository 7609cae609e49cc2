//! The SSRF guard: no URL whose host is an address that is not globally reachable
//! (loopback, private, link-local, CGNAT, documentation, benchmarking, reserved, multicast,
//! NAT64 or IPv4-mapped forms of those, …) is ever let through, however it is written.
//!
//! The forbidden ranges are written here from the IANA special-purpose address registries,
//! independently of the guard's own code. Host names are not looked up (no network while
//! fuzzing): a name must not be a number in disguise, which the URL parser would have
//! turned into an address.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use url::Host;

use paylink_server::webhooks::ssrf::Guard;

/// Ranges no webhook may reach (IANA IPv4 and IPv6 special-purpose registries, entries not
/// globally reachable, and the multicast and reserved blocks).
const FORBIDDEN: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:2::/48",
    "2001:10::/28",
    "2001:db8::/32",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

static NETS: LazyLock<Vec<IpNet>> =
    LazyLock::new(|| FORBIDDEN.iter().map(|n| n.parse().unwrap()).collect());

/// The IPv4 address an IPv6 one carries, in the forms that reach it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let zeros = |r: std::ops::Range<usize>| o[r].iter().all(|b| *b == 0);
    if zeros(0..10) && o[10] == 0xff && o[11] == 0xff {
        return Some(tail);
    }
    if zeros(0..12) {
        return Some(tail);
    }
    if o[..4] == [0, 0x64, 0xff, 0x9b] && zeros(4..12) {
        return Some(tail);
    }
    if o[..2] == [0x20, 0x02] {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

fn forbidden(ip: IpAddr) -> bool {
    if NETS.iter().any(|n| n.contains(&ip)) {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => v4 == Ipv4Addr::BROADCAST,
        IpAddr::V6(v6) => embedded_v4(v6).is_some_and(|v4| forbidden(IpAddr::V4(v4))),
    }
}

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
});

fn assert_refused(guard: &Guard, url: &str) {
    let Ok(parsed) = Guard::parse(url) else {
        return;
    };
    match parsed.host() {
        Some(Host::Domain(d)) => {
            // What getaddrinfo would read as an address must already be one (WHATWG: a
            // name ending in a number, after one trailing dot, is an IPv4 address or invalid).
            let last = d
                .strip_suffix('.')
                .unwrap_or(d)
                .rsplit('.')
                .next()
                .unwrap_or("");
            let numeric = !last.is_empty()
                && (last.bytes().all(|b| b.is_ascii_digit())
                    || last
                        .strip_prefix("0x")
                        .or_else(|| last.strip_prefix("0X"))
                        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())));
            assert!(!numeric, "{url:?}: host {d:?} left as a name");
            assert!(d.parse::<IpAddr>().is_err(), "{url:?}: host {d:?}");
        }
        Some(_) => {
            if let Ok(addr) = RT.block_on(guard.resolve(&parsed)) {
                assert!(!forbidden(addr.ip()), "{url:?} let through to {addr}");
            }
        }
        None => panic!("{url:?} parsed without a host"),
    }
}

fuzz_target!(|data: &[u8]| {
    let guard = Guard::default();
    // The bytes as a URL.
    assert_refused(&guard, &String::from_utf8_lossy(data));
    // The first 16 bytes as addresses, written in the ways URLs write them.
    let mut b = [0u8; 16];
    for (x, d) in b.iter_mut().zip(data) {
        *x = *d;
    }
    let v6 = Ipv6Addr::from(b);
    let v4 = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let n = u32::from(v4);
    let [p, q, r, s] = v4.octets();
    for url in [
        format!("http://[{v6}]/hook"),
        format!("https://[{}]/", Ipv6Addr::from(u128::from(n))),
        format!("https://[::ffff:{v4}]/"),
        format!("https://[64:ff9b::{v4}]/"),
        format!("https://[2002:{:x}:{:x}::1]/", n >> 16, n & 0xffff),
        format!("http://{v4}/"),
        format!("http://{n}/"),
        format!("http://0x{n:x}/"),
        format!("http://0{p:o}.0{q:o}.0{r:o}.0{s:o}/"),
        format!("http://{p}.{}/", n & 0x00ff_ffff),
        format!("http://{v4}.:8080/"),
    ] {
        assert_refused(&guard, &url);
    }
    for ip in [IpAddr::V6(v6), IpAddr::V4(v4)] {
        if forbidden(ip) {
            assert!(guard.check_ip(ip).is_err(), "{ip} passes");
        }
    }
});
