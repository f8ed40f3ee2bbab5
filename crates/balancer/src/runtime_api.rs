//! One command to HAProxy's runtime API and its answer, as `socat` does it:
//! a fresh unix stream connection per command, written, then read to the
//! end. HAProxy closes a non-interactive session after one answer, so the
//! end of the stream is the end of the answer.
//!
//! This layer knows nothing about what the commands mean; it only turns
//! socket failures into [`BalancerError`]s naming the socket and command.

use crate::BalancerError;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A runtime API socket, with the longest any one read or write may take.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeApi {
    socket: PathBuf,
    /// Bounds a stuck HAProxy (or a socket something else listens on): a
    /// fleet wave must fail, not hang, when the balancer stops answering.
    io_timeout: Duration,
}

impl RuntimeApi {
    pub(crate) fn new(socket: PathBuf, io_timeout: Duration) -> RuntimeApi {
        RuntimeApi { socket, io_timeout }
    }

    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `command` and returns the whole answer. An error text from
    /// HAProxy is still an answer here; the caller knows what success looks
    /// like for its command.
    pub(crate) fn ask(&self, command: &str) -> Result<String, BalancerError> {
        let mut stream =
            UnixStream::connect(&self.socket).map_err(|cause| BalancerError::Connect {
                socket: self.socket.clone(),
                cause,
            })?;
        let io = |cause| BalancerError::Io {
            socket: self.socket.clone(),
            command: command.to_owned(),
            cause,
        };
        stream.set_read_timeout(Some(self.io_timeout)).map_err(io)?;
        stream
            .set_write_timeout(Some(self.io_timeout))
            .map_err(io)?;
        stream
            .write_all(format!("{command}\n").as_bytes())
            .map_err(io)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(io)?;
        Ok(answer)
    }

    /// Sends a command whose only success is an empty answer (`set server
    /// ...`): anything else is HAProxy's error text, returned trimmed.
    pub(crate) fn act(&self, command: &str) -> Result<Option<String>, BalancerError> {
        let answer = self.ask(command)?;
        let answer = answer.trim();
        Ok((!answer.is_empty()).then(|| answer.to_owned()))
    }
}

/// `name` if HAProxy's CLI can take it as one word. The CLI splits words on
/// spaces and commands on `;`, so anything beyond HAProxy's own name
/// characters would change the command sent.
pub(crate) fn checked_name<'a>(
    what: &'static str,
    name: &'a str,
) -> Result<&'a str, BalancerError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if valid {
        Ok(name)
    } else {
        Err(BalancerError::BadName {
            what,
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::checked_name;

    #[test]
    fn names_that_would_split_a_command_are_refused() {
        assert!(checked_name("server", "web-1.example:a_b").is_ok());
        for bad in [
            "",
            "web1 state",
            "web1;shutdown sessions",
            "deploy@web1",
            "a/b",
        ] {
            assert!(checked_name("server", bad).is_err(), "{bad:?} was taken");
        }
    }
}
