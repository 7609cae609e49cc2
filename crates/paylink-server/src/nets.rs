//! Networks named in settings (`trusted_proxies`, `webhook_allow_networks`) and the one form
//! of an address they are matched against.

use std::net::IpAddr;

use ipnet::IpNet;

/// A comma-separated list of CIDRs or single addresses (`10.0.0.0/8, 127.0.0.1`); empty
/// names none. `setting` names the list in errors.
pub fn parse(list: Option<&str>, setting: &str) -> anyhow::Result<Vec<IpNet>> {
    list.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| anyhow::anyhow!("{setting}: `{s}` is not a CIDR or an address"))
        })
        .collect()
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are their IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
