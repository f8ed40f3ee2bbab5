//! A real SMTP server on 127.0.0.1: Debian's `python3-aiosmtpd`, storing
//! each message it accepts in a maildir. Stopped by pid when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// aiosmtpd requiring `AUTH` (argv: port, maildir, user, password).
const AUTH_SERVER: &str = r#"
import sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult
port, maildir, user, password = sys.argv[1:5]
def check(server, session, envelope, mechanism, data):
    return AuthResult(success=data.login.decode() == user and data.password.decode() == password)
Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), authenticator=check,
           auth_required=True, auth_require_tls=False).start()
threading.Event().wait()
"#;

/// A running aiosmtpd.
pub struct SmtpServer {
    child: Child,
    /// Its port.
    pub port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts one storing mail under `dir`; returns once it accepts connections.
    pub fn start(dir: &Path) -> SmtpServer {
        let port = super::agent_process::free_port();
        let maildir = dir.join("maildir");
        let mut command = Command::new("/usr/bin/python3");
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir);
        SmtpServer::spawn(command, port, maildir)
    }

    /// Like [`SmtpServer::start`], but it takes mail only after `AUTH`
    /// with `user` and `password` (over plain TCP: loopback only).
    pub fn start_with_auth(dir: &Path, user: &str, password: &str) -> SmtpServer {
        let port = super::agent_process::free_port();
        let maildir = dir.join("maildir");
        let mut command = Command::new("/usr/bin/python3");
        command
            .args(["-c", AUTH_SERVER, &port.to_string()])
            .arg(&maildir)
            .args([user, password]);
        SmtpServer::spawn(command, port, maildir)
    }

    fn spawn(mut command: Command, port: u16, maildir: PathBuf) -> SmtpServer {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "/usr/bin/python3 runs (install python3 and python3-aiosmtpd: scripts/test does)",
            );
        let mut server = SmtpServer {
            child,
            port,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("aiosmtpd exited ({status}): is python3-aiosmtpd installed? (apt-get install python3-aiosmtpd)");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port} within 30s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The first message whose text contains all of `needles`, waiting at most `within`.
    #[track_caller]
    pub fn wait_for(&self, needles: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let found = std::fs::read_dir(self.maildir.join("new"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                .find(|text| needles.iter().all(|needle| text.contains(needle)));
            if let Some(text) = found {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no mail with {needles:?} in {} within {within:?}",
                self.maildir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
