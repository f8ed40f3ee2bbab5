//! The agent's public proxy as an attacker and an operator see it: what it
//! reveals in responses, and what it logs without being asked (issue 12,
//! findings 7 and 14).

mod util;

use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};
use util::agent_process::{free_port, AgentProcess};
use util::static_app::StaticApp;
use util::Env;

/// Bounds every wait in these tests.
const PATIENCE: Duration = Duration::from_secs(20);

/// One `GET path` with `Connection: close`; the whole answer.
fn get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(": ")?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// A site whose agent balances over `urls` (static backends).
fn static_env(port: u16, urls: &[String]) -> Env {
    let mut config = format!(
        "[app]\nname = \"lb\"\n[deploy]\nroot = \"../site\"\n[proxy]\nlisten = \"127.0.0.1:{port}\"\n"
    );
    for url in urls {
        config.push_str(&format!("[[proxy.backend]]\nurl = \"{url}\"\n"));
    }
    let env = Env::with_config(&config);
    std::fs::create_dir_all(env.site().join("releases")).unwrap();
    env
}

// In static-backend mode `X-Hoist-Release` showed the backend's URL: the
// network behind the proxy, told to every client.
#[test]
fn static_backend_url_leaked_in_the_release_header() {
    let (port, backend_port) = (free_port(), free_port());
    let _app = StaticApp::start("static", backend_port);
    let url = format!("http://127.0.0.1:{backend_port}");
    let env = static_env(port, std::slice::from_ref(&url));
    let _agent = AgentProcess::start(&env);
    let text = get(port, "/");
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert_eq!(
        header(&text, "x-hoist-release"),
        Some("backend-1"),
        "{text}"
    );
    assert!(!text.contains(&backend_port.to_string()), "{text}");
    // The operator still sees, and names, the URL.
    let status = env.status();
    assert_eq!(status["agent"]["backends"][0]["url"], url.as_str());
    assert_eq!(status["agent"]["backends"][0]["label"], "backend-1");
    // The only backend: draining it needs `--force`.
    env.hoist().args(["drain", &url]).code(1).run();
    env.hoist().args(["drain", "--force", &url]).run();
    env.hoist().args(["undrain", &url]).run();
}

// Without `HOIST_LOG` the agent logged nothing at all, not even a backend
// it could not reach.
#[test]
fn unreachable_backend_logged_nothing_without_hoist_log() {
    let (port, nothing_there) = (free_port(), free_port());
    let env = static_env(port, &[format!("http://127.0.0.1:{nothing_there}")]);
    let mut command = std::process::Command::new(util::BIN);
    command
        .arg("agent")
        .env_remove("HOIST_LOG")
        .env_remove("HOIST_LOG_FORMAT")
        .stderr(std::process::Stdio::piped());
    let mut agent = AgentProcess::spawn_command(&env, command, &["agent"]);
    let stderr = agent.take_stderr().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // Probed before the agent serves: known down (503), or failing (502).
    let text = get(port, "/");
    assert!(
        text.starts_with("HTTP/1.1 503 ") || text.starts_with("HTTP/1.1 502 "),
        "{text}"
    );
    let deadline = Instant::now() + PATIENCE;
    let mut stderr = Vec::new();
    let warned = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line)
                if line.contains("backend request failed") || line.contains("backend down") =>
            {
                break line
            }
            Ok(line) => stderr.push(line),
            Err(_) => panic!("no warning within {PATIENCE:?}; stderr: {stderr:#?}"),
        }
    };
    assert!(
        warned.starts_with("ts=") && warned.contains(" level=warn "),
        "logfmt at level warn: {warned}"
    );
    assert!(
        warned.contains("release=backend-1") || warned.contains(&nothing_there.to_string()),
        "names the backend: {warned}"
    );
}
