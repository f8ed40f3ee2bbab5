//! What can go wrong talking to the balancer. Every error names the socket
//! it went through, and the backend and server where there is one, so a
//! fleet report can say which balancer refused what.

use std::path::PathBuf;
use std::time::Duration;

/// Why the balancer could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BalancerError {
    /// The runtime API socket cannot be connected to (missing, refused, not
    /// permitted).
    #[error("cannot connect to HAProxy's runtime API at `{}`: {cause}", socket.display())]
    Connect {
        /// The unix socket.
        socket: PathBuf,
        /// What `connect` said.
        cause: std::io::Error,
    },
    /// The connection broke or timed out while a command was sent or answered.
    #[error("HAProxy's runtime API at `{}` did not answer `{command}`: {cause}", socket.display())]
    Io {
        /// The unix socket.
        socket: PathBuf,
        /// The command sent.
        command: String,
        /// What the read or write said (a timeout, a reset).
        cause: std::io::Error,
    },
    /// The socket answers, but below `level admin`, so servers cannot be
    /// drained or made ready through it.
    #[error("HAProxy's runtime API at `{}` is not at level `admin` (it says `{level}`): hoist cannot drain or ready servers through it", socket.display())]
    NotAdmin {
        /// The unix socket.
        socket: PathBuf,
        /// The level it reported (`user`, `operator`), or its refusal
        /// (`Permission denied`).
        level: String,
    },
    /// HAProxy has no backend of that name.
    #[error("HAProxy at `{}` has no backend `{backend}`", socket.display())]
    NoBackend {
        /// The unix socket.
        socket: PathBuf,
        /// The backend asked for.
        backend: String,
    },
    /// The backend has no server for this host.
    #[error("HAProxy backend `{backend}` at `{}` has no server `{server}` (for host `{host}`)", socket.display())]
    NoServer {
        /// The unix socket.
        socket: PathBuf,
        /// The backend.
        backend: String,
        /// The server name looked for.
        server: String,
        /// The fleet host it stands for.
        host: String,
    },
    /// A backend or server name HAProxy's CLI cannot take: the CLI splits
    /// on spaces and `;`, so such a name would be a different command.
    #[error(
        "`{name}` cannot be a HAProxy {what} name: use letters, digits, `-`, `_`, `.` and `:` only"
    )]
    BadName {
        /// `backend` or `server`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// HAProxy answered a command with an error text it has no variant for
    /// here (`Unknown command`, `Permission denied`, a bad argument).
    #[error("HAProxy at `{}` refused `{command}`: {answer}", socket.display())]
    Refused {
        /// The unix socket.
        socket: PathBuf,
        /// The command sent.
        command: String,
        /// HAProxy's answer, trimmed.
        answer: String,
    },
    /// Sessions were still open on a drained server when the wait ran out.
    #[error("server `{backend}/{server}` at `{}` still has {sessions} session(s) after {:.1}s of draining", socket.display(), waited.as_secs_f64())]
    NotIdle {
        /// The unix socket.
        socket: PathBuf,
        /// The backend.
        backend: String,
        /// The server.
        server: String,
        /// Its current sessions (plus queued requests) at the last look.
        sessions: u64,
        /// How long it was waited for.
        waited: Duration,
    },
    /// `show stat` answered something that is not the CSV it documents.
    #[error("HAProxy's `show stat` at `{}` cannot be read: {problem}", socket.display())]
    BadStat {
        /// The unix socket.
        socket: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// The `socat` line that asks the same socket `command` by hand.
fn socat(socket: &std::path::Path, command: &str) -> String {
    format!(
        "echo '{command}' | socat - UNIX-CONNECT:{}",
        socket.display()
    )
}

/// The `global` line HAProxy needs for hoist to drive it.
fn stats_socket_line(socket: &std::path::Path) -> String {
    format!(
        "add `stats socket {} mode 600 level admin` to the `global` section of haproxy.cfg and reload HAProxy",
        socket.display()
    )
}

impl hoist_error::Described for BalancerError {
    fn kind(&self) -> &'static str {
        match self {
            BalancerError::Connect { .. } => "balancer-unreachable",
            BalancerError::Io { .. } => "balancer-io",
            BalancerError::NotAdmin { .. } => "balancer-not-admin",
            BalancerError::NoBackend { .. } => "balancer-no-backend",
            BalancerError::NoServer { .. } => "balancer-no-server",
            BalancerError::BadName { .. } => "balancer-bad-name",
            BalancerError::Refused { .. } => "balancer-refused",
            BalancerError::NotIdle { .. } => "balancer-not-idle",
            BalancerError::BadStat { .. } => "balancer-bad-stat",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            BalancerError::Connect { socket, cause }
                if cause.kind() == std::io::ErrorKind::NotFound =>
            {
                Some(stats_socket_line(socket))
            }
            BalancerError::Connect { socket, .. } | BalancerError::Io { socket, .. } => Some(
                format!("check that HAProxy runs and answers: {}", socat(socket, "show info")),
            ),
            BalancerError::NotAdmin { socket, .. } => Some(stats_socket_line(socket)),
            BalancerError::NoBackend { socket, .. } => Some(format!(
                "list HAProxy's backends: {}",
                socat(socket, "show backend")
            )),
            BalancerError::NoServer {
                socket, backend, ..
            } => Some(format!(
                "list the servers of `{backend}`: {}; then name the host's server in the stage's balancer settings",
                socat(socket, &format!("show servers state {backend}"))
            )),
            BalancerError::NotIdle { socket, .. } => Some(format!(
                "see the sessions still open: {}; or wait longer",
                socat(socket, "show sess")
            )),
            BalancerError::Refused { socket, command, .. } => {
                Some(format!("try it by hand: {}", socat(socket, command)))
            }
            BalancerError::BadStat { socket, .. } => {
                Some(format!("look at it: {}", socat(socket, "show stat")))
            }
            BalancerError::BadName { .. } => None,
        }
    }
}
