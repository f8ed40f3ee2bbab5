//! `hoist systemd`: the units it writes pass systemd's own `systemd-analyze
//! verify`, and the service's command, started the way systemd starts it
//! (`systemd-socket-activate` handing over the socket unit's listener, a
//! `NOTIFY_SOCKET`), says READY=1 and serves the live release.

mod util;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

/// A site with release 1 live, its agent stopped: what a host has when
/// the unit is written.
fn deployed_site(port: u16) -> (Env, String) {
    let env = Env::with_config(&agent_config(port, ""));
    let mut agent = AgentProcess::start(&env);
    let id = env.deploy_version("1");
    agent.terminate();
    (env, id)
}

fn verify(units: &[&Path]) {
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .output()
        .expect("systemd-analyze (Debian package `systemd`) runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

/// The value of `key=` in a unit's text.
fn setting<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in:\n{unit}"))
}

#[test]
fn systemd_units_pass_verify_and_their_command_serves() {
    let port = free_port();
    let (env, live) = deployed_site(port);
    let units = tempfile::tempdir().unwrap();
    // From outside the source tree: the unit comes from the site itself.
    let written = util::Cmd::new(units.path())
        .args(["systemd", "--socket", "--json", "--root"])
        .arg(env.site())
        .arg("--dir")
        .arg(units.path())
        .run_json();
    assert_eq!(written["unit"], "hoist-site.socket");
    let service_path = units.path().join("hoist-site.service");
    let socket_path = units.path().join("hoist-site.socket");
    verify(&[&service_path, &socket_path]);

    let service = std::fs::read_to_string(&service_path).unwrap();
    let socket = std::fs::read_to_string(&socket_path).unwrap();
    assert_eq!(setting(&service, "Type"), "notify");
    assert_eq!(
        setting(&socket, "ListenStream"),
        format!("127.0.0.1:{port}")
    );

    // The same files again: nothing to do. Changed by hand: refused, named.
    let again = util::Cmd::new(units.path())
        .args(["systemd", "--socket", "--json", "--root"])
        .arg(env.site())
        .arg("--dir")
        .arg(units.path())
        .run_json();
    assert_eq!(again["files"][0]["state"], "unchanged");
    std::fs::write(&service_path, format!("{service}# edited\n")).unwrap();
    util::Cmd::new(units.path())
        .args(["systemd", "--root"])
        .arg(env.site())
        .arg("--dir")
        .arg(units.path())
        .code(1)
        .stderr_has("differs from the unit hoist would write")
        .run();

    // Started as systemd would: the listener from the socket unit, the
    // readiness over NOTIFY_SOCKET.
    let notify_dir = tempfile::tempdir().unwrap();
    let notify_path = notify_dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let exec: Vec<&str> = setting(&service, "ExecStart").split(' ').collect();
    let manager = std::process::Command::new("systemd-socket-activate")
        .arg("--listen")
        .arg(setting(&socket, "ListenStream"))
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
        .args(&exec)
        .current_dir(setting(&service, "WorkingDirectory"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut manager = Stopped(manager);
    // Its readiness: "Listening on ADDR as 3." once the socket is bound.
    let mut stderr = std::io::BufReader::new(manager.0.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("Listening on"), "{line}");
    // Like systemd with a socket unit, it starts the service on the first
    // connection: this request, made while no agent runs, waits in the
    // socket's backlog and is answered by the agent it starts.
    let (status, headers, _) = util::http::get(port, "/");
    assert_eq!(status, 200);
    assert_eq!(
        util::http::header(&headers, "x-hoist-release"),
        Some(live.as_str())
    );
    let mut buffer = [0u8; 512];
    let got = notify
        .recv(&mut buffer)
        .expect("the agent notified systemd");
    let message = String::from_utf8_lossy(&buffer[..got]).into_owned();
    // systemd-socket-activate execs the agent in its own place.
    let pid = manager.0.id();
    assert!(message.contains("READY=1"), "{message}");
    assert!(message.contains(&format!("MAINPID={pid}")), "{message}");
    assert!(manager.stop().success());
}

/// The agent systemd-socket-activate became; stopped with TERM (its
/// shutdown, which stops its apps) when the test ends, however it ends.
struct Stopped(std::process::Child);

impl Stopped {
    fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.0.wait().unwrap()
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.stop();
        }
    }
}

#[test]
fn systemd_refuses_a_name_systemd_would_refuse() {
    let env = Env::with_config(&agent_config(free_port(), ""));
    env.hoist()
        .args(["systemd", "--print", "--name", "a/b"])
        .code(2)
        .stderr_has("not a valid systemd unit name")
        .run();
}

/// `hoist systemd --print --json` printed the unit files as text, not the
/// one JSON object every `--json` command prints.
#[test]
fn systemd_print_json_printed_unit_text_not_json() {
    let env = Env::with_config(&agent_config(free_port(), ""));
    let printed = env
        .hoist()
        .args(["systemd", "--print", "--json", "--socket", "--root"])
        .arg(env.site())
        .run_json();
    let files = printed["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert!(files[0]["text"].as_str().unwrap().contains("Type=notify"));
    assert!(files[1]["path"]
        .as_str()
        .unwrap()
        .ends_with("hoist-site.socket"));
}

/// A root with a space was written quoted into `WorkingDirectory=`, which
/// systemd refuses ("path is not absolute"): the units failed to load.
#[test]
fn systemd_unit_for_a_root_with_a_space_failed_to_load() {
    let env = Env::with_config(&agent_config(free_port(), ""));
    let units = tempfile::tempdir().unwrap();
    let odd = env.dir.path().join("my site");
    std::fs::create_dir_all(&odd).unwrap();
    env.hoist()
        .args(["systemd", "--root"])
        .arg(&odd)
        .arg("--dir")
        .arg(units.path())
        .code(1)
        .stderr_has("a systemd unit cannot name the same way")
        .run();
    assert_eq!(std::fs::read_dir(units.path()).unwrap().count(), 0);
}

/// Two roots mapping to one unit name (`/a/my-site`, `/b/my-site`): the
/// second site's `hoist systemd --force` replaced the first site's unit.
#[test]
fn systemd_force_replaced_another_sites_unit_of_the_same_name() {
    let env = Env::with_config(&agent_config(free_port(), ""));
    // A config of no site in particular, so each root takes it.
    let config = env.dir.path().join("any-site.toml");
    let text = agent_config(free_port(), "").replace("root = \"../site\"", "");
    std::fs::write(&config, text).unwrap();
    let units = tempfile::tempdir().unwrap();
    let (first, second) = (
        env.dir.path().join("a/my-site"),
        env.dir.path().join("b/my-site"),
    );
    for root in [&first, &second] {
        std::fs::create_dir_all(root).unwrap();
    }
    let write = |root: &Path| {
        env.hoist()
            .args(["systemd", "--force", "--dir"])
            .arg(units.path())
            .arg("--root")
            .arg(root)
            .arg("-c")
            .arg(&config)
    };
    write(&first).run();
    write(&second)
        .code(1)
        .stderr_has("runs another site's agent")
        .run();
    let service = std::fs::read_to_string(units.path().join("hoist-my-site.service")).unwrap();
    assert!(service.contains(&format!("--root {}", first.display())));
}
