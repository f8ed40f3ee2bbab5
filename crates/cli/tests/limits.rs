//! Issue 12: every duration, size and path is bounded where it is read
//! (config, command line, admin API), and nothing can panic or wedge the
//! agent. Each regression test pins a finding of the hostile-input review.

mod util;

use std::io::{Read, Write};
use std::time::Duration;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

/// An agent serving v1 of the example app on `port`; `extra` is appended to the config.
fn agent_site(port: u16, extra: &str) -> Env {
    let env = Env::with_config(&agent_config(port, extra));
    std::fs::remove_file(env.src().join("index.html")).unwrap();
    env.write("public/index.html", "page 1\n");
    env
}

fn deploy(env: &Env, version: &str) -> String {
    env.set_version(version);
    let (id, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(artifact).run();
    id
}

/// One request on the admin socket; returns (status, body).
fn admin(env: &Env, method: &str, path: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream =
        std::os::unix::net::UnixStream::connect(env.site().join("agent.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request =
        format!("{method} {path} HTTP/1.1\r\nhost: agent\r\nconnection: close\r\n{head}\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // The agent may answer (and close) before it has read everything.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// `GET /` through the agent's public listener.
fn public_status(port: u16) -> u16 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Finding 4: `hoist pause --max 1000000000h` overflowed a timestamp in the
/// agent; the CLI said "cannot reach the agent" while public requests hung.
#[test]
fn pause_max_overflow_wedged_the_agent() {
    let port = free_port();
    let env = agent_site(port, "");
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    env.hoist()
        .args(["pause", "--max", "1000000000h"])
        .code(2)
        .stderr_has("over the limit of 365 days")
        .run();
    // The admin API refuses the same, whoever sends it.
    let body = format!("{{\"max_ms\": {}}}", u64::MAX);
    let head = format!(
        "content-length: {}\r\ncontent-type: application/json\r\n",
        body.len()
    );
    let (status, reply) = admin(&env, "POST", "/v1/pause", &head, body.as_bytes());
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("over the limit"), "{reply}");
    assert_eq!(public_status(port), 200, "the agent still serves, unpaused");
    // The longest pause allowed works, and ends.
    env.hoist().args(["pause", "--max", "8760h"]).run();
    env.hoist().arg("resume").run();
    assert_eq!(public_status(port), 200);
}

/// Finding 12: admin bodies were read whole: four 200 MB bodies took the
/// agent from 218 MB to 1 GB, never given back.
#[test]
fn admin_bodies_were_unbounded() {
    let port = free_port();
    let env = agent_site(port, "");
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    let big = vec![b' '; 2 * 1024 * 1024];
    let head = format!("content-length: {}\r\n", big.len());
    let (status, reply) = admin(&env, "POST", "/v1/maintenance", &head, &big);
    assert_eq!(status, 413, "{reply}");
    // Chunked, with no length to refuse up front: cut at the limit all the same.
    let mut chunked = Vec::new();
    for piece in big.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, reply) = admin(
        &env,
        "POST",
        "/v1/maintenance",
        "transfer-encoding: chunked\r\n",
        &chunked,
    );
    assert_eq!(status, 413, "{reply}");
    assert_eq!(public_status(port), 200);
    assert_eq!(admin(&env, "GET", "/v1/status", "", b"").0, 200);
}

/// Finding 4: `rollback_window = "1000000000h"` passed validation, then the
/// second deploy panicked with traffic on v2 and the ledger saying v1.
#[test]
fn rollback_window_overflow_panicked_the_second_deploy() {
    let port = free_port();
    let env = agent_site(port, "");
    let config = std::fs::read_to_string(env.src().join("hoist.toml")).unwrap();
    std::fs::write(
        env.src().join("hoist.toml"),
        config.replace(
            "[process]\n",
            "[process]\nrollback_window = \"1000000000h\"\n",
        ),
    )
    .unwrap();
    env.hoist()
        .arg("deploy")
        .code(1)
        .stderr_has("`process.rollback_window`: `1000000000h` is over the limit of 365 days")
        .run();
}

/// Finding 4: `hoist maint on --until 1000000000h` panicked in the CLI.
#[test]
fn maint_until_overflow_panicked_the_cli() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.hoist()
        .args(["maint", "on", "--until", "1000000000h"])
        .code(2)
        .stderr_has("over the limit of 365 days")
        .run();
    env.hoist()
        .args(["maint", "on", "--until", "2001-01-01T00:00:00Z"])
        .code(2)
        .stderr_has("is in the past")
        .run();
    assert!(!env.site().join("maintenance").exists());
}

/// Finding 13: `flag_file = "/etc/passwd"` turned maintenance on; paths in
/// config must stay inside the site.
#[test]
fn flag_file_outside_the_site_turned_maintenance_on() {
    let config = format!(
        "{}[maintenance]\nflag_file = \"/etc/passwd\"\n",
        util::DEFAULT_CONFIG
    );
    let env = Env::with_config(&config);
    env.hoist()
        .arg("deploy")
        .code(1)
        .stderr_has("`maintenance.flag_file`")
        .stderr_has("must be a relative path inside the site")
        .run();
}

/// The largest value of every bounded setting, everywhere at once: nothing
/// overflows, panics or wedges, from config to CLI to the admin API.
#[test]
fn maximum_values_everywhere() {
    let port = free_port();
    let year = "8760h";
    let extra = format!(
        r#"max_body_size = "1 TiB"
max_held = 1000000
connect_timeout = "{year}"
response_timeout = "{year}"
idle_timeout = "{year}"
header_timeout = "{year}"
min_body_rate = "1 TiB"
max_connections = 10000000
max_connections_per_client = 10000000
[data]
keep = 1000
"#
    );
    let env = agent_site(port, &extra);
    let config = std::fs::read_to_string(env.src().join("hoist.toml")).unwrap();
    let process = format!(
        "[process]\nhealthy_after = 100\nmax_warm = 16\nrollback_window = \"{year}\"\nwatch = \"{year}\"\n"
    );
    let config = config
        .replace("[process]\n", &process)
        .replace(
            "health_timeout = \"5s\"",
            &format!("health_timeout = \"{year}\""),
        )
        .replace(
            "drain_timeout = \"5s\"",
            &format!("drain_timeout = \"{year}\""),
        )
        .replace(
            "keep_releases = 10",
            "keep_releases = 1000\nmax_release_size = \"1 TiB\"",
        );
    std::fs::write(env.src().join("hoist.toml"), config).unwrap();
    deploy(&env, "1");
    let mut agent = AgentProcess::start(&env);
    deploy(&env, "2");
    assert_eq!(public_status(port), 200);
    env.hoist().args(["pause", "--max", year]).run();
    env.hoist().arg("resume").run();
    env.hoist().args(["maint", "on", "--until", year]).run();
    assert_eq!(public_status(port), 503);
    env.hoist().args(["maint", "off"]).run();
    env.hoist().args(["deploy", "--pause", year]).run();
    env.hoist().args(["rollback"]).run();
    let status = env.status();
    assert!(
        status["agent"]["warm"]
            .as_array()
            .is_some_and(|warm| !warm.is_empty()),
        "{status}"
    );
    assert_eq!(public_status(port), 200);
    agent.terminate();
}
