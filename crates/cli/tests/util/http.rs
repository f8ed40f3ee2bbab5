//! One-shot GETs through the agent's proxy (`Connection: close`).

use std::io::{Read, Write};
use std::time::Duration;

/// `GET path` on 127.0.0.1:`port`: (status, lower-cased headers, body).
/// A connection cut short gives what arrived (status 0 if nothing did).
pub fn get(port: u16, path: &str) -> (u16, Vec<(String, String)>, String) {
    get_at(std::net::SocketAddr::from(([127, 0, 0, 1], port)), path)
}

/// [`get`] at `addr` (a fleet host's `127.0.0.N:PORT`).
pub fn get_at(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let reply = String::from_utf8_lossy(&bytes);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Whether something listens on `port` and answers `GET path` with a status.
pub fn answers(port: u16, path: &str) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && get(port, path).0 != 0
}

/// The value of header `name` (lower case) in `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
