//! The systemd units that run a site's agent: a `Type=notify` service and,
//! on request, a socket unit holding the public listener.
//!
//! Why each setting is there:
//! - `Type=notify` + `NotifyAccess=all`: the agent says `READY=1` once it
//!   serves, and after an upgrade (`systemctl reload` sends USR2) the new
//!   agent process names itself with `MAINPID=`, which systemd only accepts
//!   from a process other than the main one with `NotifyAccess=all`.
//! - `KillMode=mixed`: TERM goes to the agent alone, which drains and stops
//!   its app processes itself; only what is left after it exits is killed.
//! - `TimeoutStopSec`: the release's drain and stop timeouts, with margin,
//!   so systemd never kills an agent that is still draining.
//! - The hardening keeps the agent (root) from the kernel's knobs and from
//!   writing system directories, while the site stays writable. It leaves
//!   out what would break ordinary apps: `ProtectSystem=strict` (apps write
//!   outside the site), `PrivateTmp` (apps share sockets in /tmp with
//!   nginx), `NoNewPrivileges` (apps run helpers that are setuid).
//! - The socket unit: systemd holds the listening socket, so a crashed and
//!   restarted agent leaves connections queued, not refused.

use crate::report::UsageError;
use crate::Failure;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A site's agent as systemd runs it.
#[derive(Debug, Clone)]
pub struct AgentUnit {
    /// The unit name without suffix: `hoist-shop`.
    pub name: String,
    /// The site root.
    pub root: PathBuf,
    /// The `hoist` executable the service runs.
    pub hoist: PathBuf,
    /// The public listener a socket unit holds; `None`: the agent binds it.
    pub socket: Option<SocketAddr>,
    /// How long a stop may take before systemd kills what is left.
    pub stop_timeout: Duration,
}

impl AgentUnit {
    /// The default unit name of the site at `root`: `hoist-` and its last
    /// path component, with what systemd refuses in a name made `-`.
    pub fn default_name(root: &Path) -> String {
        let base = root
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "site".to_owned());
        let cleaned: String = base
            .chars()
            .map(|c| if name_char(c) { c } else { '-' })
            .collect();
        format!("hoist-{cleaned}")
    }

    /// Checks a unit name given with `--name`.
    pub fn check_name(name: &str) -> Result<(), UsageError> {
        let valid = !name.is_empty()
            && name.len() <= 200
            && !name.starts_with('-')
            && name.chars().all(name_char);
        if valid {
            Ok(())
        } else {
            Err(UsageError {
                message: format!(
                    "`--name {name}` is not a valid systemd unit name (letters, digits, `:_.-`)"
                ),
                hint: Some("hoist systemd --name hoist-shop".to_owned()),
            })
        }
    }

    /// Refuses a site root a unit cannot carry (see [`plain_path`]).
    pub fn check_root(root: &Path) -> Result<(), Failure> {
        plain_path(root).map(drop)
    }

    /// The file name of the service unit.
    pub fn service_name(&self) -> String {
        format!("{}.service", self.name)
    }

    /// The file name of the socket unit.
    pub fn socket_name(&self) -> String {
        format!("{}.socket", self.name)
    }

    /// The service unit's text.
    pub fn service(&self) -> Result<String, Failure> {
        let root = plain_path(&self.root)?;
        let hoist = quote(&self.hoist)?;
        let mut unit = String::new();
        let _ = writeln!(
            unit,
            "# Written by `hoist systemd`; run it again rather than editing."
        );
        let _ = writeln!(unit, "[Unit]");
        let _ = writeln!(
            unit,
            "Description=hoist agent for {}",
            escape_specifiers(&self.root.to_string_lossy())
        );
        let _ = writeln!(unit, "After=network-online.target");
        let _ = writeln!(unit, "Wants=network-online.target");
        if self.socket.is_some() {
            let socket = self.socket_name();
            let _ = writeln!(unit, "Requires={socket}");
            let _ = writeln!(unit, "After={socket}");
        }
        let _ = writeln!(unit);
        let _ = writeln!(unit, "[Service]");
        let _ = writeln!(unit, "Type=notify");
        let _ = writeln!(unit, "NotifyAccess=all");
        let _ = writeln!(unit, "ExecStart={hoist} agent --root {root}");
        let _ = writeln!(
            unit,
            "# An upgrade: the new agent takes the listener over without dropping a connection."
        );
        let _ = writeln!(unit, "ExecReload=/bin/kill -USR2 $MAINPID");
        let _ = writeln!(unit, "Restart=on-failure");
        let _ = writeln!(unit, "RestartSec=1s");
        let _ = writeln!(unit, "KillMode=mixed");
        let _ = writeln!(
            unit,
            "TimeoutStopSec={}s",
            self.stop_timeout.as_secs().max(1)
        );
        let _ = writeln!(unit, "LimitNOFILE=1048576");
        // Not the site: a `hoist.toml` left in it must not become the
        // agent's config; the agent runs the live release's own.
        let _ = writeln!(unit, "WorkingDirectory=/");
        let _ = writeln!(unit, "ProtectSystem=full");
        if !self.root.starts_with("/home") && !self.root.starts_with("/root") {
            let _ = writeln!(unit, "ProtectHome=read-only");
        }
        let _ = writeln!(unit, "ReadWritePaths={root}");
        for setting in [
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictRealtime=yes",
            "RestrictSUIDSGID=yes",
            "LockPersonality=yes",
            "SystemCallArchitectures=native",
        ] {
            let _ = writeln!(unit, "{setting}");
        }
        let _ = writeln!(unit);
        let _ = writeln!(unit, "[Install]");
        let _ = writeln!(unit, "WantedBy=multi-user.target");
        Ok(unit)
    }

    /// The socket unit's text, when the agent's listener is systemd's.
    pub fn socket_unit(&self) -> Option<String> {
        let address = self.socket?;
        let mut unit = String::new();
        let _ = writeln!(
            unit,
            "# Written by `hoist systemd --socket`; run it again rather than editing."
        );
        let _ = writeln!(unit, "[Unit]");
        let _ = writeln!(
            unit,
            "Description=hoist public listener for {}",
            escape_specifiers(&self.root.to_string_lossy())
        );
        let _ = writeln!(unit);
        let _ = writeln!(unit, "[Socket]");
        let _ = writeln!(unit, "ListenStream={address}");
        let _ = writeln!(unit, "NoDelay=yes");
        let _ = writeln!(unit, "Backlog=4096");
        let _ = writeln!(unit, "Service={}", self.service_name());
        let _ = writeln!(unit);
        let _ = writeln!(unit, "[Install]");
        let _ = writeln!(unit, "WantedBy=sockets.target");
        Some(unit)
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-')
}

/// `%` starts a specifier in most unit settings; doubled it is a `%`.
fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// The site root as `ReadWritePaths=` and `ExecStart=` can carry it
/// unchanged: systemd quotes, escapes and expands differently per setting
/// (specifiers in all, `$` in `ExecStart=` only, quotes in some), so a
/// root with anything else is refused rather than written in a way one of
/// them reads as another path.
fn plain_path(path: &Path) -> Result<String, Failure> {
    let text = path.to_string_lossy();
    if text.chars().all(plain_char) {
        return Ok(text.into_owned());
    }
    Err(Failure::new(
        "bad-path",
        format!(
            "`{}` has characters a systemd unit cannot name the same way in every setting (only letters, digits and `/._-+:@`)",
            path.display()
        ),
    )
    .hint("serve the site from a root without them (e.g. /srv/shop)"))
}

fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ':' | '@')
}

/// A path as one word of a unit setting: double-quoted with C-style
/// escapes, `%` and `$` doubled so systemd expands neither.
fn quote(path: &Path) -> Result<String, Failure> {
    let text = path.to_string_lossy();
    if text.chars().any(char::is_control) {
        return Err(Failure::new(
            "bad-path",
            format!(
                "`{}` has a control character; a systemd unit file cannot name it",
                path.display()
            ),
        ));
    }
    if text.chars().all(plain_char) {
        return Ok(text.into_owned());
    }
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '%' => quoted.push_str("%%"),
            '$' => quoted.push_str("$$"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    Ok(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_systemd_would_split_or_expand() {
        assert_eq!(quote(Path::new("/srv/shop")).unwrap(), "/srv/shop");
        assert_eq!(
            quote(Path::new("/srv/my shop/$x%i")).unwrap(),
            "\"/srv/my shop/$$x%%i\""
        );
        assert!(quote(Path::new("/srv/a\nb")).is_err());
        assert!(plain_path(Path::new("/srv/my shop")).is_err());
        assert_eq!(plain_path(Path::new("/srv/shop-2")).unwrap(), "/srv/shop-2");
    }

    #[test]
    fn default_name_is_a_valid_unit_name() {
        let name = AgentUnit::default_name(Path::new("/srv/my shop!"));
        assert_eq!(name, "hoist-my-shop-");
        AgentUnit::check_name(&name).unwrap();
        assert!(AgentUnit::check_name("a/b").is_err());
    }
}
