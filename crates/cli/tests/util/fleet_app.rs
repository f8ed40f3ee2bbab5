//! The app each fleet host runs: a real `hypnotoad` (Debian
//! `libmojolicious-perl`) started on the host from its site's `current`,
//! hot-deployed by the host's `restart` (`kill -USR2 $(cat …pid)`), as
//! seed 000's operator does. One `app.pl` serves every host: where it
//! listens and its pid file come from the environment the harness starts
//! it with (host settings, never in the artifact), and a USR2 upgrade
//! keeps that environment.

use super::fleet_host::Host;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A Mojolicious::Lite app answering `GET /` with `version`, its release
/// id (the directory it lies in) in `X-Hoist-Release` and the host's name
/// in `X-Host`. `dies` makes it die at start (a release that cannot run).
pub fn app_pl(version: &str, dies: bool) -> String {
    let die = if dies {
        "die \"cannot start\\n\" if app->mode eq 'production';\n"
    } else {
        ""
    };
    format!(
        r#"use Mojolicious::Lite -signatures;
use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
my $release = basename(dirname(abs_path(__FILE__)));
app->config(hypnotoad => {{listen => [$ENV{{APP_LISTEN}}], workers => 2, pid_file => $ENV{{APP_PID_FILE}}}});
get '/' => sub ($c) {{
  $c->res->headers->header('X-Hoist-Release' => $release);
  $c->res->headers->header('X-Host' => $ENV{{APP_HOST}});
  $c->render(text => "{version}\n");
}};
{die}app->start;
"#
    )
}

impl Host {
    /// The app's pid file as the host sees it (`<stage>/run/hypnotoad.pid`).
    pub fn app_pid_file(&self) -> PathBuf {
        self.stage().join("run/hypnotoad.pid")
    }

    /// The host settings that restart and health-check this host's app:
    /// `[deploy]` `restart` and `health`, then `extra` (more keys of
    /// `[deploy]` first, then other sections).
    pub fn site_toml(&self, extra: &str) -> String {
        format!(
            "[deploy]\nrestart = \"{}\"\nhealth = \"http://{}/\"\n{extra}",
            self.restart_cmd(),
            self.app_addr()
        )
    }

    /// The host's `restart`: hot-deploy its hypnotoad from `current`.
    pub fn restart_cmd(&self) -> String {
        format!("kill -USR2 $(cat {})", self.app_pid_file().display())
    }

    /// Writes [`Host::site_toml`] to this host's `<site>/site.toml`.
    pub fn write_site_toml(&self, extra: &str) {
        std::fs::write(self.dir().join("site/site.toml"), self.site_toml(extra)).unwrap();
    }

    /// Starts hypnotoad on `<stage>/site/current/app.pl` on this host and
    /// waits until its manager wrote the pid file and it answers at
    /// [`Host::app_addr`]. Whatever it becomes (USR2 upgrades) is killed
    /// with the host. Returns the manager's pid.
    pub fn start_app(&self) -> u32 {
        let site = self.stage().join("site");
        let cmd = format!(
            "cd {site} && APP_LISTEN=http://{addr} APP_PID_FILE={pid} APP_HOST={name} \
             exec hypnotoad {site}/current/app.pl",
            site = site.display(),
            addr = self.app_addr(),
            pid = self.app_pid_file().display(),
            name = self.name(),
        );
        let output = self.exec_in(&cmd);
        assert!(
            output.status.success(),
            "hypnotoad did not start on `{}`: {}",
            self.name(),
            String::from_utf8_lossy(&output.stderr)
        );
        // It daemonized after binding; no signal says when its workers
        // answer, so poll (bounded).
        let pid_file = self.dir().join("run/hypnotoad.pid");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
            if pid.ends_with('\n') && answers(self.app_addr()) {
                return pid.trim().parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "hypnotoad on `{}` never answered",
                self.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn answers(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect(addr).is_ok() && super::http::get_at(addr, "/").0 != 0
}
