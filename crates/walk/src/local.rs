//! Reaching a listener on this host: the proxy's test routing trusts only
//! requests from the host itself, so a walk of a candidate goes to loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `address` as this host reaches it: a listener bound to every interface
/// (`0.0.0.0:8080`, `[::]:8080`) through loopback, anything else as it is.
///
/// ```
/// assert_eq!(hoist_walk::from_this_host("0.0.0.0:8080"), "127.0.0.1:8080");
/// assert_eq!(hoist_walk::from_this_host("10.0.0.5:80"), "10.0.0.5:80");
/// ```
pub fn from_this_host(address: &str) -> String {
    match address.parse::<SocketAddr>() {
        Ok(mut socket) if socket.ip().is_unspecified() => {
            let ip: IpAddr = if socket.is_ipv4() {
                Ipv4Addr::LOCALHOST.into()
            } else {
                Ipv6Addr::LOCALHOST.into()
            };
            socket.set_ip(ip);
            socket.to_string()
        }
        _ => address.to_owned(),
    }
}
