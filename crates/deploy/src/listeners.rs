//! Which processes hold the listening socket a health URL reaches, as
//! `/proc` tells it: the sockets listening on the URL's port
//! (`/proc/net/tcp{,6}`), then every process with one of them open
//! (`/proc/*/fd`). A prefork server's manager and workers all hold the
//! same socket, and during a hot deploy the old and the new ones do.

use procfs::net::TcpState;
use procfs::process::FDTarget;
use procfs::Current;
use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;

/// A process holding the listening socket.
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pub(crate) pid: i32,
    /// Its parent: a prefork worker's parent is the manager, which holds the socket too.
    pub(crate) parent: i32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field 22).
    pub(crate) started: u64,
    /// `/proc/PID/exe`: the binary, resolved by the kernel.
    pub(crate) exe: Option<PathBuf>,
    /// `/proc/PID/cwd`: resolved by the kernel when it was entered.
    pub(crate) cwd: Option<PathBuf>,
    /// The command line as the process shows it (a Perl server sets it to its script).
    pub(crate) args: Vec<String>,
}

/// Why the holders cannot be named.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unseen {
    #[error("the health URL has no host")]
    NoHost,
    #[error("`{0}` is not an address of this host")]
    NotLocal(String),
    #[error("no socket listens on port {0} here")]
    NoListener(u16),
    #[error("the process listening on port {0} cannot be seen in `/proc` (run hoist as root)")]
    Hidden(u16),
    #[error("`/proc` cannot be read: {0}")]
    NoProc(#[from] procfs::ProcError),
}

/// The processes holding a socket that listens where `uri` points.
pub(crate) fn holders(uri: &hyper::Uri) -> Result<Vec<Holder>, Unseen> {
    let host = uri.host().ok_or(Unseen::NoHost)?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| Unseen::NotLocal(host.to_owned()))?
        .map(|address| address.ip())
        .collect();
    if !addresses.iter().any(|ip| is_local(*ip)) {
        return Err(Unseen::NotLocal(host.to_owned()));
    }
    let mut sockets = BTreeSet::new();
    // A kernel without IPv6 has no `tcp6`.
    let tcp6 = procfs::net::tcp6().unwrap_or_default();
    for entry in procfs::net::tcp()?.into_iter().chain(tcp6) {
        let local = entry.local_address;
        if entry.state == TcpState::Listen
            && local.port() == port
            && (local.ip().is_unspecified() || addresses.contains(&local.ip()))
        {
            sockets.insert(entry.inode);
        }
    }
    if sockets.is_empty() {
        return Err(Unseen::NoListener(port));
    }
    let holders: Vec<Holder> = procfs::process::all_processes()?
        .flatten()
        .filter(|process| holds(process, &sockets))
        .filter_map(|process| describe(&process))
        .collect();
    if holders.is_empty() {
        return Err(Unseen::Hidden(port));
    }
    Ok(holders)
}

/// Whether `ip` is this host's: loopback, or bindable here.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Whether `process` has one of `sockets` open (unreadable fds: no).
fn holds(process: &procfs::process::Process, sockets: &BTreeSet<u64>) -> bool {
    let Ok(fds) = process.fd() else {
        return false;
    };
    fds.flatten()
        .any(|fd| matches!(fd.target, FDTarget::Socket(inode) if sockets.contains(&inode)))
}

fn describe(process: &procfs::process::Process) -> Option<Holder> {
    let stat = process.stat().ok()?;
    Some(Holder {
        pid: process.pid(),
        parent: stat.ppid,
        started: stat.starttime,
        exe: process.exe().ok(),
        cwd: process.cwd().ok(),
        args: process.cmdline().unwrap_or_default(),
    })
}

/// Now, in the clock ticks of a process's start time; `None` without `/proc`.
pub(crate) fn now_ticks() -> Option<u64> {
    let uptime = procfs::Uptime::current().ok()?.uptime;
    // Rounded down: a process started after this reads at least this.
    Some((uptime * procfs::ticks_per_second() as f64) as u64)
}

/// `at`, in the clock ticks of a process's start time.
pub(crate) fn ticks_at(at: jiff::Timestamp) -> Option<u64> {
    let ago = jiff::Timestamp::now()
        .duration_since(at)
        .as_secs_f64()
        .max(0.0);
    now_ticks()?.checked_sub((ago * procfs::ticks_per_second() as f64) as u64)
}

/// The wall time of `ticks` after boot.
pub(crate) fn wall_time(ticks: u64) -> Option<jiff::Timestamp> {
    let boot = procfs::boot_time_secs().ok()?;
    let seconds = boot + ticks / procfs::ticks_per_second();
    jiff::Timestamp::from_second(i64::try_from(seconds).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_of_a_listening_socket_is_found_with_its_start() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let uri = format!("http://localhost:{port}/healthz").parse().unwrap();
        let found = holders(&uri).unwrap();
        let me = found
            .iter()
            .find(|holder| holder.pid == std::process::id() as i32)
            .expect("this test process holds it");
        assert!(me.started <= now_ticks().unwrap());
        assert!(wall_time(me.started).unwrap() <= jiff::Timestamp::now());
        drop(listener);
        assert!(matches!(holders(&uri), Err(Unseen::NoListener(p)) if p == port));
        let elsewhere = "http://192.0.2.1:80/".parse().unwrap();
        assert!(matches!(holders(&elsewhere), Err(Unseen::NotLocal(_))));
    }
}
