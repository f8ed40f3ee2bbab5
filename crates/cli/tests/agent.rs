//! The agent under load: blue/green switches, instant rollbacks, bad
//! candidates and agent restarts, with zero failed requests.

mod util;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use util::static_app::StaticApp;
use util::Env;

use util::agent_process::{free_port, AgentProcess};

fn agent_env(port: u16) -> Env {
    agent_env_with(port, "")
}

/// `extra` lines are appended to the `[proxy]` section.
fn agent_env_with(port: u16, extra: &str) -> Env {
    let config = format!(
        r#"
[app]
name = "shop"
version = "1"
[deploy]
root = "../site"
keep_releases = 20
[process]
command = "{bin} example-app"
health_timeout = "3s"
healthy_after = 2
drain_timeout = "10s"
rollback_window = "5m"
# Every release these tests deploy stays warm: a tunnel open on one must
# never be cut by the warm cap (`warm_set_grew_without_bound` tests that).
max_warm = 16
stop_timeout = "5s"
watch = "10s"
[proxy]
listen = "127.0.0.1:{port}"
{extra}
"#,
        bin = util::BIN
    );
    let env = Env::with_config(&config);
    std::fs::remove_file(env.src().join("index.html")).unwrap();
    env
}

/// Builds version `version` of the example app and deploys it.
fn deploy(env: &Env, version: &str) -> String {
    env.set_version(version);
    env.write("public/index.html", &format!("page {version}\n"));
    let (id, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(artifact).run();
    id
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    problems: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, problem: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 10 {
            problems.push(problem);
        }
    }
}

/// Continuous keep-alive load of GETs, POSTs and slow requests; each answer
/// must come from one release: the proxy's header and the app's agree.
async fn load(
    port: u16,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    workers: usize,
    deadline: Instant,
) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http();
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (client, stop, tally) = (client.clone(), stop.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && sent < 200_000 {
                sent += 1;
                let (method, path, body) = match (worker, sent % 3) {
                    (0 | 1, _) => ("GET", "/slow?ms=300", String::new()),
                    (_, 0) => ("POST", "/echo", format!("body {worker} {sent}")),
                    _ => ("GET", "/", String::new()),
                };
                let request = http::Request::builder()
                    .method(method)
                    .uri(format!("http://127.0.0.1:{port}{path}"))
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap();
                match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let proxy = response.headers().get("x-hoist-release").cloned();
                        let app = response.headers().get("x-app-release").cloned();
                        let text = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let text = String::from_utf8_lossy(&text);
                        let whole = match path {
                            "/echo" => text == body,
                            "/" => text.starts_with("page "),
                            _ => text.starts_with("slow done by "),
                        };
                        if status == 200 && proxy.is_some() && proxy == app && whole {
                            tally.ok.fetch_add(1, Ordering::SeqCst);
                        } else {
                            tally.fail(format!("{method} {path}: {status} proxy={proxy:?} app={app:?} body={text:?}"));
                        }
                    }
                    Err(error) => tally.fail(format!("{method} {path}: {error:?}")),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Reads a whole SSE stream; every event must come from one release.
async fn sse(port: u16, events: u64, tally: Arc<Tally>) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri = format!("http://127.0.0.1:{port}/sse?n={events}&ms=20");
    let response = match client.get(uri.parse().unwrap()).await {
        Ok(response) => response,
        Err(error) => return tally.fail(format!("sse: {error}")),
    };
    let text = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("data: "))
        .collect();
    let first_release = lines
        .first()
        .map(|line| line.split(' ').nth(1).unwrap_or_default())
        .unwrap_or_default();
    if lines.len() as u64 == events
        && lines
            .iter()
            .all(|line| line.split(' ').nth(1) == Some(first_release))
    {
        tally.ok.fetch_add(1, Ordering::SeqCst);
    } else {
        tally.fail(format!("sse got {} of {events} events", lines.len()));
    }
}

/// Holds an upgraded (echo) connection open and pings through it until stopped.
fn tunnel(port: u16, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"GET /upgrade HTTP/1.1\r\nHost: shop\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut round = 0u32;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        let ping = format!("ping {round:06}\n");
        let mut pong = vec![0u8; ping.len()];
        let echoed = stream
            .write_all(ping.as_bytes())
            .and_then(|()| stream.read_exact(&mut pong));
        match echoed {
            Ok(()) if pong == ping.as_bytes() => tally.ok.fetch_add(1, Ordering::SeqCst),
            other => return tally.fail(format!("tunnel round {round}: {other:?}")),
        };
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    runtime: tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    tunnel: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, workers: usize, with_streams: bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut tasks =
            vec![runtime.spawn(load(port, stop.clone(), tally.clone(), workers, deadline))];
        let mut tunnel_thread = None;
        if with_streams {
            tasks.push(runtime.spawn(sse(port, 150, tally.clone())));
            let (stop, tally) = (stop.clone(), tally.clone());
            tunnel_thread = Some(std::thread::spawn(move || tunnel(port, stop, tally)));
        }
        Load {
            stop,
            tally,
            runtime,
            tasks,
            tunnel: tunnel_thread,
        }
    }

    /// Stops the load and returns (ok, failed, first problems).
    fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            self.runtime.block_on(task).unwrap();
        }
        if let Some(tunnel) = self.tunnel {
            tunnel.join().unwrap();
        }
        let problems = self.tally.problems.lock().unwrap().clone();
        (
            self.tally.ok.load(Ordering::SeqCst),
            self.tally.failed.load(Ordering::SeqCst),
            problems,
        )
    }
}

#[test]
fn one_hundred_switches_under_load_fail_no_request() {
    let port = free_port();
    let env = agent_env(port);
    let v1 = deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    let v2 = deploy(&env, "2");
    let load = Load::start(port, 12, true);
    let mut switches = 0;
    // Real blue/green deploys that start new processes...
    for version in 3..=5 {
        deploy(&env, &version.to_string());
        switches += 1;
    }
    // ...then instant switches between warm releases.
    let targets = [&v1, &v2];
    while switches < 100 {
        env.hoist()
            .args(["rollback", "-q", "--to", targets[switches % 2]])
            .run();
        switches += 1;
    }
    let (ok, failed, problems) = load.finish();
    eprintln!("{switches} switches: {ok} requests and pings ok, {failed} failed");
    assert_eq!(
        failed,
        0,
        "{failed} failed of {}: {problems:#?}",
        ok + failed
    );
    assert!(ok > 500, "only {ok} requests completed");
    let status = env.status();
    assert_eq!(status["agent"]["live"]["release"], status["live"]);
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
}

#[test]
fn bad_candidates_fail_the_deploy_and_no_request() {
    let port = free_port();
    let env = agent_env(port);
    let v1 = deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    let load = Load::start(port, 6, false);
    for (marker, expected) in [
        ("crash-at-start", "exited"),
        ("never-bind", "never listened"),
        ("health-fails", "answered 500"),
    ] {
        env.write(marker, "");
        env.set_version(&format!("bad-{marker}"));
        let (bad, artifact) = env.build();
        env.hoist()
            .arg("deploy")
            .arg(artifact)
            .code(1)
            .stderr_has(expected)
            .stderr_has(&format!("`{v1}` still serves"))
            .run();
        std::fs::remove_file(env.src().join(marker)).unwrap();
        assert_eq!(env.live().as_deref(), Some(v1.as_str()));
        let history = env.hoist().args(["history", "--json"]).run_json();
        assert_eq!(
            (
                history[0]["release"].as_str(),
                history[0]["outcome"].as_str()
            ),
            (Some(bad.as_str()), Some("failed"))
        );
    }
    let (ok, failed, problems) = load.finish();
    assert_eq!(failed, 0, "{problems:#?}");
    assert!(ok > 0);
}

#[test]
fn killed_agent_restarts_and_restores_its_state() {
    let port = free_port();
    let env = agent_env(port);
    deploy(&env, "1");
    let mut agent = AgentProcess::start(&env);
    let v2 = deploy(&env, "2");
    agent.kill9();
    let socket = env.site().join("agent.sock");
    assert!(socket.exists(), "a killed agent leaves its socket");
    let _agent = AgentProcess::start(&env);
    let status = env.status();
    assert_eq!(status["agent"]["live"]["release"], v2.as_str());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let load = Load::start(port, 2, false);
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failed, problems) = load.finish();
    assert_eq!(failed, 0, "{problems:#?}");
    assert!(ok > 0);
}

#[test]
fn agent_upgrade_under_load_fails_no_request() {
    let port = free_port();
    let env = agent_env(port);
    deploy(&env, "1");
    let mut old = AgentProcess::start(&env);
    let old_pid = env.status()["agent"]["pid"].as_u64().unwrap();
    let load = Load::start(port, 8, true);
    let mut new = AgentProcess::upgrade(&env);
    let status = env.status();
    assert_ne!(
        status["agent"]["pid"].as_u64().unwrap(),
        old_pid,
        "the admin socket now reaches the new agent"
    );
    // Deploys keep working through the new agent while the old one drains.
    let v2 = deploy(&env, "2");
    let (ok, failed, problems) = load.finish();
    eprintln!("agent upgrade: {ok} requests and pings ok, {failed} failed");
    assert_eq!(failed, 0, "{problems:#?}");
    assert!(ok > 100, "only {ok}");
    assert!(
        old.wait_exit(Duration::from_secs(30)),
        "the old agent did not exit after draining"
    );
    assert_eq!(env.status()["agent"]["live"]["release"], v2.as_str());
    new.terminate();
}

#[test]
fn usr2_makes_the_agent_upgrade_itself_under_load() {
    let port = free_port();
    let env = agent_env(port);
    deploy(&env, "1");
    let mut old = AgentProcess::start(&env);
    let old_pid = env.status()["agent"]["pid"].as_u64().unwrap();
    let load = Load::start(port, 8, false);
    let pid = |raw: u64| nix::unistd::Pid::from_raw(raw as i32);
    nix::sys::signal::kill(pid(old_pid), nix::sys::signal::Signal::SIGUSR2).unwrap();
    assert!(
        old.wait_exit(Duration::from_secs(30)),
        "the old agent did not hand over and exit"
    );
    let new_pid = env.status()["agent"]["pid"].as_u64().unwrap();
    assert_ne!(new_pid, old_pid);
    let (ok, failed, problems) = load.finish();
    eprintln!("USR2 upgrade: {ok} requests ok, {failed} failed");
    assert_eq!(failed, 0, "{problems:#?}");
    assert!(ok > 100, "only {ok}");
    // The successor is not our child: stop it and wait until it is gone.
    nix::sys::signal::kill(pid(new_pid), nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{new_pid}/stat")).unwrap_or_default();
        if stat.is_empty()
            || stat
                .split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_rolls_back_on_its_own_when_the_new_release_errors_or_dies() {
    let port = free_port();
    let env = agent_env(port);
    let v1 = deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    for (marker, content, expected) in [
        ("fail-requests", "", "answers were 5xx"),
        ("exit-after-ms", "700", "process exited"),
    ] {
        let load = Load::start(port, 4, false);
        env.write(marker, content);
        let bad = deploy(&env, &format!("bad-{marker}"));
        std::fs::remove_file(env.src().join(marker)).unwrap();
        // The automatic rollback is recorded in the ledger: wait for that record, bounded.
        let deadline = Instant::now() + Duration::from_secs(20);
        let rolled_back = loop {
            let history = env.hoist().args(["history", "--json"]).run_json();
            if history[0]["op"] == "auto-rollback" {
                break Some(history[0].clone());
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = load.finish();
        let event = rolled_back
            .unwrap_or_else(|| panic!("no automatic rollback after deploying `{marker}`"));
        assert_eq!(
            (event["from"].as_str(), event["to"].as_str()),
            (Some(bad.as_str()), Some(v1.as_str()))
        );
        assert!(
            event["reason"].as_str().unwrap().contains(expected),
            "{event}"
        );
        let status = env.status();
        assert_eq!(status["live"], v1.as_str());
        assert_eq!(status["agent"]["live"]["release"], v1.as_str());
        assert!(
            status["agent"]["last_auto_rollback"]
                .as_str()
                .unwrap()
                .contains(&bad),
            "{status}"
        );
    }
}

/// A site whose agent serves TLS on `port` with a fresh self-signed
/// certificate for `localhost`, with release 1 deployed.
fn tls_env(port: u16) -> (Env, rcgen::CertifiedKey, String) {
    let env = agent_env_with(
        port,
        "tls_cert = \"shared/tls/cert.pem\"\ntls_key = \"shared/tls/key.pem\"",
    );
    let v1 = deploy(&env, "1");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls_dir = env.site().join("shared/tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    std::fs::write(tls_dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(tls_dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    (env, certified, v1)
}

// Broke: each TLS handshake naming an IP address as its server name (wrk
// does, on every connection) wrote a 345-byte warning from rustls, with
// the build machine's source path in it: anyone could flood the log.
#[test]
fn an_ip_address_as_tls_server_name_logged_a_warning_per_handshake() {
    let port = free_port();
    let (env, _certified, _) = tls_env(port);
    let log = env.site().join("agent-stderr.log");
    let mut command = std::process::Command::new(util::BIN);
    command
        .arg("agent")
        .stderr(std::fs::File::create(&log).unwrap());
    let agent = AgentProcess::spawn_command(&env, command, &["agent"]);
    for _ in 0..3 {
        let output = std::process::Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
            .args(["-servername", "127.0.0.1"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("TLSv1.3"), "no TLS 1.3 handshake: {text}");
    }
    drop(agent);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("SNI"), "{logged}");
    assert!(!logged.contains(".cargo"), "{logged}");
}

#[test]
fn tls_clients_get_http2_by_alpn() {
    let port = free_port();
    let (env, certified, v1) = tls_env(port);
    let _agent = AgentProcess::start(&env);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (version, status, release, body) = runtime.block_on(async {
        use tokio_rustls::rustls;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(tls);
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = http::Request::get("https://localhost/")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (version, status) = (response.version(), response.status());
        let release = response.headers()["x-hoist-release"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            version,
            status,
            release,
            String::from_utf8_lossy(&body).into_owned(),
        )
    });
    assert_eq!((version, status.as_u16()), (http::Version::HTTP_2, 200));
    assert_eq!(release, v1);
    assert_eq!(body, "page 1\n");
}

#[test]
fn tcp_admin_requires_the_bearer_token() {
    let port = free_port();
    let admin_port = free_port();
    let env = agent_env_with(
        port,
        &format!(
            "admin_listen = \"127.0.0.1:{admin_port}\"\nadmin_token_file = \"shared/admin.token\""
        ),
    );
    let v1 = deploy(&env, "1");
    let v2 = deploy(&env, "2");
    let token = "s3cret-token-0123456789abcdef";
    let token_file = env.site().join("shared/admin.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    // A secret: every user reading it would be refused (see tests/secrets.rs).
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let _agent = AgentProcess::start(&env);
    let call = |method: &str, path: &str, bearer: Option<&str>, body: &str| -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", admin_port)).unwrap();
        let auth = bearer
            .map(|token| format!("authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        let request = format!("{method} {path} HTTP/1.1\r\nhost: admin\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        (status, response)
    };
    assert_eq!(call("GET", "/v1/status", None, "").0, 401);
    assert_eq!(
        call(
            "GET",
            "/v1/status",
            Some("wrong-token-0123456789abcdef"),
            ""
        )
        .0,
        401
    );
    let activate = format!("{{\"release\": \"{v1}\"}}");
    assert_eq!(call("POST", "/v1/activate", Some("nope"), &activate).0, 401);
    assert_eq!(
        env.live().as_deref(),
        Some(v2.as_str()),
        "a refused request changed nothing"
    );
    let (status, body) = call("GET", "/v1/status", Some(token), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&v2));
}

#[test]
fn a_crash_loop_is_not_restarted_forever_and_marks_the_release_failed() {
    let port = free_port();
    let env = agent_env(port);
    env.write("exit-after-ms", "300");
    let v1 = deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    // Restarts back off (0.5 s, 1 s, 2 s, 4 s, 8 s); then the agent gives up and says so.
    let deadline = Instant::now() + Duration::from_secs(60);
    let event = loop {
        let history = env.hoist().args(["history", "--json"]).run_json();
        if history[0]["op"] == "crash-loop" {
            break history[0].clone();
        }
        assert!(Instant::now() < deadline, "no crash-loop record: {history}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        (event["release"].as_str(), event["outcome"].as_str()),
        (Some(v1.as_str()), Some("failed"))
    );
    assert!(
        event["detail"]
            .as_str()
            .unwrap()
            .contains("crashed 6 times"),
        "{event}"
    );
    // Still `current` (there was nothing to go back to), but recorded as failed with its reason.
    let releases = env.hoist().args(["releases", "--json"]).run_json();
    assert!(
        releases[0]["failure"].as_str().unwrap().contains("crashed"),
        "{releases}"
    );
}

/// One blocking HTTP/1.1 request; returns (status, raw head, body).
fn http_get(port: u16, path: &str, accept: &str) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: shop\r\naccept: {accept}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head[9..12].parse().unwrap(),
        head.to_lowercase(),
        body.to_owned(),
    )
}

#[test]
fn maintenance_covers_listed_paths_spares_allowed_clients_and_health_and_survives_restarts() {
    let port = free_port();
    let env = agent_env(port);
    deploy(&env, "1");
    let mut agent = AgentProcess::start(&env);
    env.hoist()
        .args([
            "maint",
            "on",
            "--message",
            "Upgrading the database",
            "--until",
            "20m",
            "--path",
            "/slow",
        ])
        .run();
    let (status, head, body) = http_get(port, "/slow?ms=1", "text/html");
    assert_eq!(status, 503);
    assert!(
        head.contains("retry-after: ") && !head.contains("retry-after: 120"),
        "{head}"
    );
    assert!(
        body.contains("Upgrading the database") && body.contains(" GMT"),
        "{body}"
    );
    assert_eq!(
        http_get(port, "/", "text/html").0,
        200,
        "unlisted paths keep working"
    );
    assert_eq!(
        http_get(port, "/healthz", "text/html").0,
        200,
        "the health check keeps answering"
    );
    let (status, _, json) = http_get(port, "/slow", "application/json");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((status, json["maintenance"].as_bool()), (503, Some(true)));
    assert_eq!(
        env.status()["agent"]["maintenance"]["message"],
        "Upgrading the database"
    );

    env.hoist()
        .args(["maint", "on", "--allow", "127.0.0.0/8"])
        .run();
    assert_eq!(
        http_get(port, "/", "text/html").0,
        200,
        "allowed clients reach the app"
    );
    env.hoist()
        .args(["maint", "on", "--allow", "10.0.0.0/8"])
        .run();
    assert_eq!(http_get(port, "/", "text/html").0, 503);
    env.hoist()
        .args(["maint", "on", "--allow", "bogus"])
        .code(2)
        .stderr_has("`--allow bogus`")
        .run();

    // Persisted: a killed and restarted agent still answers 503.
    agent.kill9();
    let mut agent = AgentProcess::start(&env);
    assert_eq!(http_get(port, "/", "text/html").0, 503);
    env.hoist().args(["maint", "off"]).run();
    assert_eq!(http_get(port, "/", "text/html").0, 200);

    // The flag file existing scripts `touch` works too; its content is the message.
    std::fs::write(env.site().join("maintenance"), "Back at noon\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, _, body) = http_get(port, "/", "text/html");
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "the flag file was not noticed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(body.contains("Back at noon"), "{body}");
    assert_eq!(env.status()["agent"]["maintenance_source"], "flag-file");
    env.hoist()
        .args(["maint", "off"])
        .stderr_has("removed the flag file")
        .run();
    agent.terminate();
}

#[test]
fn maint_without_an_agent_writes_the_flag_file() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.hoist()
        .args(["maint", "on", "--message", "Moving racks"])
        .stderr_has("no agent runs")
        .run();
    assert_eq!(
        std::fs::read_to_string(env.site().join("maintenance")).unwrap(),
        "Moving racks\n"
    );
    env.hoist().args(["maint", "off"]).run();
    assert!(!env.site().join("maintenance").exists());
}

#[test]
fn maintenance_page_renders_in_a_real_browser_with_the_gmt_time() {
    let port = free_port();
    let env = agent_env(port);
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    env.hoist()
        .args([
            "maint",
            "on",
            "--message",
            "We are upgrading the database.",
            "--until",
            "45m",
        ])
        .run();
    let url = format!("http://127.0.0.1:{port}/");
    let profile = env.dir.path().join("chromium-profile");
    // A missing browser fails the test, naming the package: never a silent skip.
    let dom = util::chromium::dump_url(&url, &profile);
    assert!(
        dom.contains("Down for maintenance") && dom.contains("We are upgrading the database."),
        "{dom}"
    );
    // Near midnight the day is named too ("00:00 GMT on Tue 01 Dec").
    assert!(
        dom.contains(" GMT") && dom.contains("(in about 4"),
        "the rendered page names the GMT time: {dom}"
    );
    let shot = env.dir.path().join("maintenance.png");
    let png = util::chromium::screenshot_url(&url, "900,560", &shot, &profile);
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn a_three_second_pause_under_load_fails_no_request() {
    let port = free_port();
    let env = agent_env(port);
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    let load = Load::start(port, 8, false);
    env.hoist()
        .args(["pause", "--max", "20s"])
        .stderr_has("paused")
        .run();
    assert!(
        env.status()["agent"]["pause"]["remaining_ms"]
            .as_u64()
            .unwrap()
            > 0
    );
    // The pause itself is what is under test: three seconds of held requests.
    std::thread::sleep(Duration::from_secs(3));
    env.hoist().arg("resume").run();
    // A deploy wrapped in a pause, under the same load.
    env.set_version("2");
    env.write("public/index.html", "page 2\n");
    let (v2, artifact) = env.build();
    env.hoist()
        .args(["deploy", "-q", "--pause", "10s"])
        .arg(artifact)
        .run();
    let (ok, failed, problems) = load.finish();
    eprintln!("pause: {ok} requests ok, {failed} failed");
    assert_eq!(failed, 0, "{problems:#?}");
    assert_eq!(env.live(), Some(v2));
    assert!(env.status()["agent"]["pause"].is_null());
}

#[test]
fn requests_held_past_max_get_the_page_and_holding_is_bounded() {
    let port = free_port();
    // Every held request is an open client connection: the cap (by default
    // half the open-file limit) must not be what turns the last 50 away.
    let env = agent_env_with(port, "max_connections = 11000");
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    env.hoist().args(["pause", "--max", "1s"]).run();
    let started = Instant::now();
    let (status, head, body) = http_get(port, "/", "text/html");
    assert_eq!(status, 503, "{head}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the request was held first"
    );
    assert!(body.contains("quick change"), "{body}");
    env.hoist().arg("resume").run();
    assert_eq!(http_get(port, "/", "text/html").0, 200);

    // 10,050 requests against max_held = 10,000: the last 50 get 503 at once.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if hard < 11_000 {
        eprintln!("open-file limit {hard} too low to hold 10,000 requests; skipped that part");
        return;
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let agent_pid = env.status()["agent"]["pid"].as_u64().unwrap();
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{agent_pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .unwrap()
            .to_owned();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    let before = rss();
    // Long enough that opening 10,050 connections on a slow, shared machine
    // (a few hundred a second at worst) never outlasts the pause; `resume`
    // ends it below.
    env.hoist().args(["pause", "--max", "10m"]).run();
    let mut held = Vec::with_capacity(10_050);
    for _ in 0..10_050 {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n\r\n")
            .unwrap();
        held.push(stream);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while env.status()["agent"]["pause"]["held"].as_u64() != Some(10_000) {
        assert!(
            Instant::now() < deadline,
            "never reached 10,000 held: {}",
            env.status()["agent"]["pause"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let grown = rss().saturating_sub(before);
    eprintln!(
        "10,000 held requests: agent RSS grew {} KiB ({} bytes each)",
        grown / 1024,
        grown / 10_000
    );
    assert!(
        grown / 10_000 < 64 * 1024,
        "{grown} bytes for 10,000 held requests"
    );
    env.hoist().arg("resume").run();
    let mut statuses = std::collections::BTreeMap::new();
    for mut stream in held {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).unwrap();
        *statuses
            .entry(String::from_utf8_lossy(&head[9..12]).into_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        [("200".to_owned(), 10_000), ("503".to_owned(), 50)]
            .into_iter()
            .collect()
    );
}

#[test]
fn a_scheduled_window_switches_maintenance_on_by_itself() {
    let port = free_port();
    let now = jiff::Timestamp::now();
    let from = (now - jiff::SignedDuration::from_mins(2))
        .strftime("%H:%M")
        .to_string();
    let to = (now + jiff::SignedDuration::from_mins(30))
        .strftime("%H:%M")
        .to_string();
    let window = format!("\n[[maintenance.window]]\nfrom = \"{from}\"\nto = \"{to}\"\ntz = \"UTC\"\nmessage = \"Nightly index rebuild\"");
    let env = agent_env_with(port, &window);
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    let (status, _, body) = http_get(port, "/", "text/html");
    assert_eq!(status, 503);
    assert!(
        body.contains("Nightly index rebuild") && body.contains(" GMT"),
        "{body}"
    );
    assert_eq!(env.status()["agent"]["maintenance_source"], "schedule");
    let windows = env.hoist().args(["maint", "windows", "--json"]).run_json();
    assert_eq!(windows[0]["message"], "Nightly index rebuild");
    // A command overrides the schedule, and `off` hands control back to it.
    env.hoist()
        .args(["maint", "on", "--message", "Manual"])
        .run();
    assert!(http_get(port, "/", "text/html").2.contains("Manual"));
    env.hoist().args(["maint", "off"]).run();
    assert!(http_get(port, "/", "text/html")
        .2
        .contains("Nightly index rebuild"));
}

/// One request from source address `source` (in 127/8); returns (status, X-Hoist-Release).
fn get_from(source: std::net::Ipv4Addr, port: u16, headers: &str) -> (u16, String) {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(std::net::SocketAddrV4::new(source, 0)),
    )
    .unwrap();
    connect(
        fd.as_raw_fd(),
        &SockaddrIn::from(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::LOCALHOST,
            port,
        )),
    )
    .unwrap();
    let mut stream = std::net::TcpStream::from(fd);
    stream
        .write_all(
            format!("GET / HTTP/1.1\r\nhost: shop\r\n{headers}connection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let release = response
        .lines()
        .find_map(|line| {
            line.split_once(": ")
                .filter(|(name, _)| name.eq_ignore_ascii_case("x-hoist-release"))
                .map(|(_, value)| value.to_owned())
        })
        .unwrap_or_default();
    (response[9..12].parse().unwrap(), release)
}

#[test]
fn hold_then_canary_then_promote_or_abort() {
    let port = free_port();
    let env = agent_env(port);
    let v1 = deploy(&env, "1");
    let mut agent = AgentProcess::start(&env);
    env.set_version("2");
    env.write("public/index.html", "page 2\n");
    let (v2, artifact) = env.build();
    env.hoist()
        .args(["deploy", "--hold", "--test-from", "127.200.0.0/16"])
        .arg(&artifact)
        .stderr_has("only test traffic")
        .run();
    let outside = std::net::Ipv4Addr::new(127, 0, 0, 1);
    assert_eq!(
        get_from(outside, port, ""),
        (200, v1.clone()),
        "the public stays on the live release"
    );
    assert_eq!(
        get_from(outside, port, "hoist-release: candidate\r\n").1,
        v2,
        "test traffic by header"
    );
    assert_eq!(
        get_from(outside, port, "cookie: hoist-release=candidate\r\n").1,
        v2,
        "test traffic by cookie"
    );
    assert_eq!(
        get_from(std::net::Ipv4Addr::new(127, 200, 1, 1), port, "").1,
        v2,
        "test traffic by network"
    );
    assert_eq!(
        env.live().as_deref(),
        Some(v1.as_str()),
        "`current` did not move"
    );
    assert_eq!(env.status()["agent"]["candidate"]["release"], v2.as_str());
    // The held candidate survives an agent restart.
    agent.kill9();
    let _agent = AgentProcess::start(&env);
    assert_eq!(
        get_from(outside, port, "hoist-release: candidate\r\n").1,
        v2
    );

    env.hoist().args(["canary", "--percent", "10"]).run();
    let clients: Vec<std::net::Ipv4Addr> = (0..2_000u32)
        .map(|i| std::net::Ipv4Addr::new(127, 10 + (i / 250) as u8, (i % 250) as u8, 7))
        .collect();
    let first: Vec<bool> = clients
        .iter()
        .map(|client| get_from(*client, port, "").1 == v2)
        .collect();
    let share = first.iter().filter(|candidate| **candidate).count();
    assert!(
        (160..=240).contains(&share),
        "{share} of 2,000 clients reached the 10% canary"
    );
    let again: Vec<bool> = clients
        .iter()
        .take(300)
        .map(|client| get_from(*client, port, "").1 == v2)
        .collect();
    assert_eq!(
        again,
        first[..300],
        "each client always sees the same release"
    );
    let candidate_stats = env.status()["agent"]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|stats| stats["release"] == v2.as_str() && stats["requests"].as_u64() > Some(100));
    assert!(candidate_stats, "status shows the candidate's own counts");

    env.hoist()
        .args(["promote", "--reason", "canary looked fine"])
        .run();
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
    assert!(env.status()["agent"]["candidate"].is_null());
    assert_eq!(get_from(outside, port, "").1, v2);
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(
        (history[0]["op"].as_str(), history[0]["to"].as_str()),
        (Some("promote"), Some(v2.as_str()))
    );

    env.set_version("3");
    let (v3, artifact) = env.build();
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&artifact)
        .run();
    assert_eq!(
        get_from(outside, port, "hoist-release: candidate\r\n").1,
        v3
    );
    env.hoist()
        .arg("abort")
        .stderr_has(&format!("stopped the candidate `{v3}`"))
        .run();
    assert_eq!(
        get_from(outside, port, "hoist-release: candidate\r\n").1,
        v2,
        "after abort everyone is on live"
    );
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(history[0]["op"], "abort");
}

fn app_of(head: &str) -> String {
    head.lines()
        .find_map(|line| line.strip_prefix("x-app-release: "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn weighted_static_backends_drain_only_after_their_slow_requests_finish() {
    let (port, port_a, port_b) = (free_port(), free_port(), free_port());
    let _a = StaticApp::start("a", port_a);
    let mut b = Some(StaticApp::start("b", port_b));
    let (url_a, url_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let config = format!(
        "[app]\nname = \"lb\"\n[deploy]\nroot = \"../site\"\n[proxy]\nlisten = \"127.0.0.1:{port}\"\n\
         [[proxy.backend]]\nurl = \"{url_a}\"\nweight = 3\n[[proxy.backend]]\nurl = \"{url_b}\"\nweight = 1\n"
    );
    let env = Env::with_config(&config);
    std::fs::create_dir_all(env.site().join("releases")).unwrap();
    let _agent = AgentProcess::start(&env);

    let picks: Vec<String> = (0..400)
        .map(|_| app_of(&http_get(port, "/", "text/html").1))
        .collect();
    assert_eq!(
        picks.iter().filter(|app| *app == "a").count(),
        300,
        "weights 3:1"
    );
    assert_eq!(picks.iter().filter(|app| *app == "b").count(), 100);

    // Four slow requests: three land on a, one on b.
    let slow: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || http_get(port, "/slow?ms=1500", "text/html")))
        .collect();
    let in_flight_on_a = || {
        env.status()["agent"]["backends"][0]["in_flight"]
            .as_u64()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while in_flight_on_a() < 3 {
        assert!(Instant::now() < deadline, "slow requests never reached a");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    env.hoist()
        .args(["drain", &url_a])
        .stderr_has("is empty")
        .run();
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "drain returned before a's slow requests ended"
    );
    for request in slow {
        let (status, head, body) = request.join().unwrap();
        assert_eq!(status, 200, "{head}");
        assert!(body.starts_with("slow done by"), "{body}");
    }
    assert!(
        (0..20).all(|_| app_of(&http_get(port, "/", "text/html").1) == "b"),
        "a drained: all to b"
    );
    env.hoist().args(["undrain", &url_a]).run();
    assert!((0..8).any(|_| app_of(&http_get(port, "/", "text/html").1) == "a"));

    // A backend that dies is taken out by the health checks.
    drop(b.take());
    let deadline = Instant::now() + Duration::from_secs(15);
    while env.status()["agent"]["backends"][1]["healthy"] != false {
        assert!(Instant::now() < deadline, "b was never marked down");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        (0..20).all(|_| http_get(port, "/", "text/html").0 == 200),
        "no failures once b is down"
    );
}
