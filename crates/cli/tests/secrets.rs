//! Issue 12, finding 13: files that hold secrets or state are private, and
//! hoist refuses a secret that every local user can read.

mod util;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn agent_site(port: u16, extra: &str) -> Env {
    let env = Env::with_config(&agent_config(port, extra));
    std::fs::remove_file(env.src().join("index.html")).unwrap();
    env.write("public/index.html", "page 1\n");
    env
}

/// `agent-state.json` was 0644: it lists the app's processes and the
/// maintenance and pause in force.
#[test]
fn agent_state_was_world_readable() {
    let port = free_port();
    let env = agent_site(port, "");
    let (_, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let _agent = AgentProcess::start(&env);
    env.hoist().args(["maint", "on", "--until", "10m"]).run();
    assert_eq!(mode(&env.site().join("agent-state.json")), 0o600);
    assert_eq!(mode(&env.site().join("agent.sock")), 0o600);
}

/// A world-readable `env_file` was passed to the app without a word.
#[test]
fn world_readable_env_file_was_accepted() {
    let port = free_port();
    let env = agent_site(port, "");
    let config = std::fs::read_to_string(env.src().join("hoist.toml")).unwrap();
    std::fs::write(
        env.src().join("hoist.toml"),
        config.replace("[process]\n", "[process]\nenv_file = \"shared/app.env\"\n"),
    )
    .unwrap();
    let secrets = env.site().join("shared/app.env");
    std::fs::create_dir_all(secrets.parent().unwrap()).unwrap();
    std::fs::write(&secrets, "DATABASE_PASSWORD=hunter2\n").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let _agent = AgentProcess::start(&env);
    env.set_version("2");
    let (_, second) = env.build();
    env.hoist()
        .args(["deploy", "-q"])
        .arg(&second)
        .code(1)
        .stderr_has("readable or writable by every user (mode 0644)")
        .stderr_has(&format!("chmod 600 {}", secrets.display()))
        .run();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.hoist().args(["deploy", "-q"]).arg(&second).run();
}

/// Another local user read a world-readable `admin_token_file` and paused
/// the site through the TCP admin API.
#[test]
fn world_readable_admin_token_was_accepted() {
    let port = free_port();
    let admin_port = free_port();
    let env = agent_site(
        port,
        &format!(
            "admin_listen = \"127.0.0.1:{admin_port}\"\nadmin_token_file = \"shared/admin.token\"\n"
        ),
    );
    let (_, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let token = env.site().join("shared/admin.token");
    std::fs::write(&token, "s3cret-token-0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut refused = std::process::Command::new(util::BIN)
        .arg("agent")
        .current_dir(env.src())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    // The agent refuses at once and exits (stderr closes); one that took the
    // token would serve on: it is stopped, by pid, and the test fails.
    let pid = nix::unistd::Pid::from_raw(refused.id() as i32);
    let (done, exited) = std::sync::mpsc::channel();
    let mut pipe = refused.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        let _ = done.send(text);
    });
    match exited.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(text) => stderr = text,
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
    }
    let status = refused.wait().unwrap();
    assert_eq!(status.code(), Some(1), "the agent took the token: {stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", admin_port)).is_err(),
        "the admin port was opened"
    );
    // Private, it works, and a wrong token of any length is refused.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _agent = AgentProcess::start(&env);
    let call = |bearer: &str| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", admin_port)).unwrap();
        let request = format!(
            "GET /v1/status HTTP/1.1\r\nhost: admin\r\nauthorization: Bearer {bearer}\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response[9..12].to_owned()
    };
    assert_eq!(call("s3cret-token-0123456789abcdef"), "200");
    assert_eq!(call("s3cret-token-0123456789abcdeX"), "401");
    assert_eq!(call("s"), "401");
    assert_eq!(call(&"s".repeat(10_000)), "401");
}

/// `<root>/maintenance` was read through a symlink and whole: a link to a
/// root-only file put that file on the public 503 page, and a 200 MB flag
/// file was sent with every request.
#[test]
fn maintenance_flag_file_was_read_through_a_symlink_and_whole() {
    use std::io::BufRead;
    let port = free_port();
    let env = agent_site(port, "");
    let (_, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let mut command = std::process::Command::new(util::BIN);
    command.arg("agent").stderr(std::process::Stdio::piped());
    let mut agent = AgentProcess::spawn_command(&env, command, &["agent"]);
    // Log lines arrive on a channel, so a missing line fails the test
    // rather than blocking it.
    let (lines, log) = std::sync::mpsc::channel();
    let stderr = agent.take_stderr().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let get = || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: shop\r\naccept: application/json\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        String::from_utf8_lossy(&response).into_owned()
    };
    // A root-only secret, linked as the flag file: refused, and logged.
    let secret = env.dir.path().join("secret.txt");
    std::fs::write(&secret, "SECRET-CONTENT").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&secret, env.site().join("maintenance")).unwrap();
    let refused = std::iter::from_fn(|| log.recv_timeout(std::time::Duration::from_secs(10)).ok())
        .find(|line| line.contains("maintenance flag file refused"))
        .expect("the agent logged the refusal");
    assert!(refused.contains("symlink"), "{refused}");
    let answer = get();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.contains("SECRET"), "{answer}");
    // A huge plain flag file: maintenance, with a message of at most 4 KiB.
    std::fs::remove_file(env.site().join("maintenance")).unwrap();
    let big = std::fs::File::create(env.site().join("maintenance")).unwrap();
    big.set_len(200 * 1024 * 1024).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let answer = loop {
        let answer = get();
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no maintenance: {answer}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(answer.len() < 8 * 1024, "{} bytes answered", answer.len());
    agent.terminate();
}
