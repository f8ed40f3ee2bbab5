//! A real `hypnotoad` (Debian `libmojolicious-perl`) serving a site's
//! `current/app.pl`, started the way seed 000's operator does, and stopped
//! by pid when dropped (also on panic).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A Mojolicious::Lite app answering `GET /` with `version`, and its
/// release id (the name of the directory it really lies in) in
/// `X-Hoist-Release`. `dies` makes it die at start in production mode.
pub fn app(port: u16, pid_file: &Path, version: &str, dies: bool) -> String {
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
app->config(hypnotoad => {{listen => ['http://127.0.0.1:{port}'], workers => 2, pid_file => '{pid}'}});
get '/' => sub ($c) {{
  $c->res->headers->header('X-Hoist-Release' => $release);
  $c->render(text => "{version}\n");
}};
{die}app->start;
"#,
        pid = pid_file.display()
    )
}

/// The server; dropping it stops every process running the app.
pub struct Hypnotoad {
    /// `<site>/current/app.pl`, as hypnotoad was started (its processes show it).
    script: PathBuf,
}

impl Hypnotoad {
    /// Starts hypnotoad on `site/current/app.pl` and waits until `port`
    /// answers and the manager wrote `pid_file` (after forking its workers).
    pub fn start(site: &Path, port: u16, pid_file: &Path) -> Hypnotoad {
        let script = site.join("current/app.pl");
        let server = Hypnotoad {
            script: script.clone(),
        };
        let status = Command::new("hypnotoad")
            .arg(&script)
            .current_dir(site)
            .env_remove("MOJO_MODE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "hypnotoad did not start: {status}");
        // It daemonized after binding; its workers answer once forked.
        let deadline = Instant::now() + Duration::from_secs(30);
        let written = || std::fs::read_to_string(pid_file).is_ok_and(|pid| pid.ends_with('\n'));
        while !(written() && super::http::answers(port, "/")) {
            assert!(Instant::now() < deadline, "hypnotoad never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The pids of this app's hypnotoad: a command line that is the
    /// script (as hypnotoad renames itself), or `HYPNOTOAD_APP=<script>` in
    /// the environment it was started with: that catches an upgrade's new
    /// manager between its exec and its rename (after which Perl may have
    /// written the new name over its environment).
    fn pids(&self) -> Vec<u32> {
        let script = self.script.to_string_lossy().into_owned();
        let wanted = format!("HYPNOTOAD_APP={script}");
        let has = |pid: u32, file: &str, entry: &str| {
            let bytes = std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
            bytes
                .split(|byte| *byte == 0)
                .any(|e| e == entry.as_bytes())
        };
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                (has(*pid, "cmdline", &script) || has(*pid, "environ", &wanted))
                    && super::app_processes::start_ticks(*pid).is_some()
            })
            .collect()
    }
}

impl Drop for Hypnotoad {
    fn drop(&mut self) {
        // An upgrade may fork a new manager meanwhile: repeat until none is left
        // (a killed manager forks no more).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                return;
            }
            for pid in pids {
                let Some(ticks) = super::app_processes::start_ticks(pid) else {
                    continue;
                };
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                super::app_processes::wait_gone(pid, ticks, Duration::from_secs(5));
            }
        }
    }
}
