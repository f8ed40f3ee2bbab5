//! An agent's whole traffic state survives `kill -9` and a restart, `hoist
//! agent --upgrade` and `kill -USR2`, under load: maintenance from every
//! source (command, flag file, window), a pause, a held candidate with its
//! test networks and canary share, and static backends with their weights,
//! a down one and a drained one.
//!
//! The proxy steers to a candidate only when the live release serves (static
//! backends take its place), so two sites run side by side: A with releases,
//! B with `[[proxy.backend]]`. Both are restarted or upgraded at once.

mod util;

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::counted_load::{CountedLoad, Counts, Target};
use util::static_app::StaticApp;
use util::Env;

/// Each site's load: this many workers per kind of request.
const WORKERS: usize = 2;

/// An answer to one request.
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> String {
        self.head
            .lines()
            .find_map(|line| {
                line.split_once(": ")
                    .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value.to_owned())
            })
            .unwrap_or_default()
    }
}

/// One request on a fresh connection from `source` (in 127/8), so the
/// client address is chosen: steering and canary buckets go by it.
fn get_from(source: Ipv4Addr, port: u16, path: &str, headers: &str) -> Reply {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::net::SocketAddrV4;
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
        &SockaddrIn::from(SocketAddrV4::new(source, 0)),
    )
    .unwrap();
    connect(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
    )
    .unwrap();
    let mut stream = std::net::TcpStream::from(fd);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: shop\r\n{headers}connection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Reply {
        status: head[9..12].parse().unwrap(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn get(port: u16, path: &str) -> Reply {
    get_from(Ipv4Addr::LOCALHOST, port, path, "")
}

/// Polls `condition` (a readiness check, e.g. on `hoist status`) until it
/// holds; fails the test naming `what` after `within`.
#[track_caller]
fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How the test starts its agents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// `hoist agent`, which binds `[proxy] listen` itself.
    Binding,
    /// As systemd socket activation does: the test holds the listening
    /// socket, so it outlives a killed agent.
    SocketActivated,
}

/// A site and the agents that served it; the last one serves now.
struct Site {
    env: Env,
    port: u16,
    listener: Option<std::net::TcpListener>,
    agents: Vec<AgentProcess>,
}

impl Site {
    fn new(env: Env, port: u16, listener: Option<std::net::TcpListener>) -> Site {
        Site {
            env,
            port,
            listener,
            agents: Vec::new(),
        }
    }

    fn start_agent(&mut self) {
        let agent = match &self.listener {
            Some(listener) => AgentProcess::start_on(&self.env, listener),
            None => AgentProcess::start(&self.env),
        };
        self.agents.push(agent);
    }

    fn agent(&self) -> serde_json::Value {
        self.env.status()["agent"].clone()
    }

    fn agent_pid(&self) -> u64 {
        self.agent()["pid"].as_u64().unwrap()
    }
}

/// A port to listen on: a socket the test holds, or just a free number.
fn listen(start: Start) -> (u16, Option<std::net::TcpListener>) {
    match start {
        Start::Binding => (free_port(), None),
        Start::SocketActivated => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            (listener.local_addr().unwrap().port(), Some(listener))
        }
    }
}

/// Site A: v1 live, v2 held for `127.200.0.0/16` and a 30% canary,
/// maintenance by command (`/closed/` only, so the load is served), by the
/// flag file and by a window open now.
struct Releases {
    site: Site,
    v1: String,
    v2: String,
}

const TEST_NETWORK: &str = "127.200.0.0/16";
const CANARY_PERCENT: u64 = 30;

impl Releases {
    fn start(start: Start) -> Releases {
        let (port, listener) = listen(start);
        let now = jiff::Timestamp::now();
        let at = |minutes: i64| {
            (now + jiff::SignedDuration::from_mins(minutes))
                .strftime("%H:%M")
                .to_string()
        };
        let window = format!(
            "[[maintenance.window]]\nfrom = \"{}\"\nto = \"{}\"\ntz = \"UTC\"\nmessage = \"Nightly index rebuild\"\n",
            at(-2),
            at(30)
        );
        let env = Env::with_config(&agent_config(port, &window));
        std::fs::remove_file(env.src().join("index.html")).unwrap();
        let v1 = build(&env, "1");
        env.hoist().args(["deploy", "-q"]).arg(&v1.1).run();
        let mut site = Site::new(env, port, listener);
        site.start_agent();
        let env = &site.env;
        let v2 = build(env, "2");
        env.hoist()
            .args(["deploy", "-q", "--hold", "--test-from", TEST_NETWORK])
            .arg(&v2.1)
            .run();
        env.hoist()
            .args(["canary", "--percent", &CANARY_PERCENT.to_string()])
            .run();
        env.hoist()
            .args(["maint", "on", "--message", "Reindexing the shelves"])
            .args(["--until", "30m", "--path", "/closed/"])
            .run();
        std::fs::write(env.site().join("maintenance"), "Flag file says so\n").unwrap();
        wait_until("the flag file is noticed", Duration::from_secs(10), || {
            site.agent()["maintenance_sources"]
                == serde_json::json!(["command", "flag-file", "schedule"])
        });
        Releases {
            site,
            v1: v1.0,
            v2: v2.0,
        }
    }

    /// Which of 200 client addresses the canary sends to the candidate.
    fn canary_clients(&self) -> Vec<bool> {
        (0..200u32)
            .map(|i| Ipv4Addr::new(127, 10 + (i / 100) as u8, (i % 100) as u8, 7))
            .map(|client| {
                get_from(client, self.site.port, "/", "").header("x-hoist-release") == self.v2
            })
            .collect()
    }

    fn load(&self) -> Vec<Target> {
        let port = self.site.port;
        vec![
            Target {
                port,
                method: "GET",
                path: "/",
                workers: WORKERS,
                check: |status, headers, body, _| {
                    let (proxy, app) =
                        (headers.get("x-hoist-release"), headers.get("x-app-release"));
                    if status == 200 && proxy.is_some() && proxy == app && body.starts_with("page ")
                    {
                        Ok(())
                    } else {
                        Err(format!("{status} proxy={proxy:?} app={app:?} {body:?}"))
                    }
                },
            },
            Target {
                port,
                method: "POST",
                path: "/echo",
                workers: WORKERS,
                check: |status, headers, body, sent| {
                    let (proxy, app) =
                        (headers.get("x-hoist-release"), headers.get("x-app-release"));
                    if status == 200 && proxy.is_some() && proxy == app && body == sent {
                        Ok(())
                    } else {
                        Err(format!("{status} proxy={proxy:?} app={app:?} {body:?}"))
                    }
                },
            },
        ]
    }

    /// `hoist pause --max 5m`, returning once the load's requests are held.
    fn pause(&self) {
        self.site.env.hoist().args(["pause", "--max", "5m"]).run();
        wait_until(
            "the load's requests are held",
            Duration::from_secs(30),
            || self.site.agent()["pause"]["held"].as_u64() >= Some(2 * WORKERS as u64),
        );
    }

    /// After a restart or upgrade, while still paused: the pause holds new
    /// requests with what was left of its `--max`, and every maintenance
    /// source is in force. Then `hoist resume` releases them.
    fn assert_pause_and_maintenance_then_resume(&self) {
        let agent = self.site.agent();
        let left = agent["pause"]["remaining_ms"].as_u64().unwrap_or(0);
        assert!(
            (60_000..=300_000).contains(&left),
            "the pause kept what was left of its 5m: {left} ms; {agent:#}"
        );
        let port = self.site.port;
        let late = std::thread::spawn(move || get(port, "/"));
        wait_until(
            "a new request is held by the pause",
            Duration::from_secs(10),
            || self.site.agent()["pause"]["held"].as_u64() >= Some(1),
        );
        let agent = self.site.agent();
        assert_eq!(
            agent["maintenance_sources"],
            serde_json::json!(["command", "flag-file", "schedule"]),
            "{agent:#}"
        );
        assert_eq!(
            agent["maintenance"]["paths"],
            serde_json::json!(["/closed/"])
        );
        let closed = get(port, "/closed/shelf");
        assert!(
            closed.status == 503 && closed.body.contains("Reindexing the shelves"),
            "{} {}",
            closed.status,
            closed.body
        );
        self.site.env.hoist().arg("resume").run();
        let late = late.join().unwrap();
        assert_eq!(late.status, 200, "the held request is served after resume");
        assert!(self.site.agent()["pause"].is_null());
    }

    /// The held candidate: its test network, `hoist-release: candidate` from
    /// this host, and the same canary share for the same clients.
    fn assert_steering(&self, canary_before: &[bool]) {
        let port = self.site.port;
        let agent = self.site.agent();
        assert_eq!(agent["live"]["release"], self.v1.as_str(), "{agent:#}");
        assert_eq!(
            agent["candidate"],
            serde_json::json!({ "release": self.v2, "percent": CANARY_PERCENT, "test_from": [TEST_NETWORK] })
        );
        let tester = get_from(Ipv4Addr::new(127, 200, 3, 4), port, "/", "");
        assert_eq!(tester.header("x-hoist-release"), self.v2, "test network");
        let asking = get_from(
            Ipv4Addr::LOCALHOST,
            port,
            "/",
            "hoist-release: candidate\r\n",
        );
        assert_eq!(
            asking.header("x-hoist-release"),
            self.v2,
            "asked for by header"
        );
        assert_eq!(
            self.canary_clients(),
            canary_before,
            "each client keeps its side of the canary"
        );
    }
}

/// Builds version `version` of the example app: (release id, artifact).
fn build(env: &Env, version: &str) -> (String, std::path::PathBuf) {
    env.set_version(version);
    env.write("public/index.html", &format!("page {version}\n"));
    env.build()
}

/// Site B: static backends a (weight 3), b, c and d (weight 1 each); c is
/// stopped (down), d drained by `hoist drain`.
struct Backends {
    site: Site,
    apps: Vec<Option<StaticApp>>,
    ports: Vec<u16>,
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const WEIGHTS: [u32; 4] = [3, 1, 1, 1];

impl Backends {
    fn start(start: Start) -> Backends {
        let (port, listener) = listen(start);
        let ports: Vec<u16> = NAMES.iter().map(|_| free_port()).collect();
        let apps = NAMES
            .iter()
            .zip(&ports)
            .map(|(name, port)| Some(StaticApp::start(name, *port)))
            .collect();
        let mut config = format!(
            "[app]\nname = \"lb\"\n[deploy]\nroot = \"../site\"\n[proxy]\nlisten = \"127.0.0.1:{port}\"\n"
        );
        for (backend, weight) in ports.iter().zip(WEIGHTS) {
            config += &format!(
                "[[proxy.backend]]\nurl = \"http://127.0.0.1:{backend}\"\nweight = {weight}\n"
            );
        }
        let env = Env::with_config(&config);
        std::fs::create_dir_all(env.site().join("releases")).unwrap();
        let mut backends = Backends {
            site: Site::new(env, port, listener),
            apps,
            ports,
        };
        backends.site.start_agent();
        backends.stop("c");
        wait_until("c is marked down", Duration::from_secs(15), || {
            backends.member("c")["healthy"] == false
        });
        backends
            .site
            .env
            .hoist()
            .args(["drain", &backends.url("d")])
            .run();
        backends
    }

    fn index(name: &str) -> usize {
        NAMES.iter().position(|known| *known == name).unwrap()
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[Backends::index(name)])
    }

    fn stop(&mut self, name: &str) {
        self.apps[Backends::index(name)] = None;
    }

    fn member(&self, name: &str) -> serde_json::Value {
        self.site.agent()["backends"][Backends::index(name)].clone()
    }

    /// How many of 600 requests each backend answered (no other load running).
    fn picks(&self) -> Vec<usize> {
        let mut counts = vec![0; NAMES.len()];
        for _ in 0..600 {
            let reply = get(self.site.port, "/");
            assert_eq!(reply.status, 200, "{}", reply.head);
            counts[Backends::index(&reply.header("x-app-release"))] += 1;
        }
        counts
    }

    fn load(&self) -> Vec<Target> {
        vec![Target {
            port: self.site.port,
            method: "GET",
            path: "/",
            workers: 2 * WORKERS,
            check: |status, headers, _, _| {
                let app = headers
                    .get("x-app-release")
                    .and_then(|value| value.to_str().ok());
                match (status, app) {
                    (200, Some("a" | "b")) => Ok(()),
                    _ => Err(format!("{status} from {app:?}: only a and b may answer")),
                }
            },
        }]
    }

    /// c is still down, d still drained, a and b serve; status shows the weights.
    fn assert_members(&self) {
        let backends = self.site.agent()["backends"].clone();
        let seen: Vec<(bool, bool, u64)> = (0..NAMES.len())
            .map(|index| {
                let member = &backends[index];
                (
                    member["healthy"].as_bool().unwrap(),
                    member["draining"].as_bool().unwrap(),
                    member["weight"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (true, false, 3),
                (true, false, 1),
                (false, false, 1),
                (true, true, 1)
            ],
            "(healthy, draining, weight) of a, b, c, d: {backends:#}"
        );
    }
}

fn report(how: &str, counts: &Counts) {
    eprintln!(
        "{how}: {} requests sent, {} ok, {} failed, {} cut in flight by the kill, {} cut on a connection the killed agent had open; first problems: {:#?}",
        counts.sent, counts.ok, counts.failed, counts.cut_in_flight, counts.cut_dead_connection, counts.problems
    );
}

/// A successor started by USR2 is not the test's child: SIGTERM by pid,
/// then wait until it is gone, on drop.
struct Successor(u64);

impl Drop for Successor {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0 as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let stat =
                std::fs::read_to_string(format!("/proc/{}/stat", self.0)).unwrap_or_default();
            let gone = stat.is_empty()
                || stat
                    .split(") ")
                    .nth(1)
                    .is_some_and(|rest| rest.starts_with('Z'));
            if gone {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// How the agents are replaced.
#[derive(Clone, Copy)]
enum Replace {
    Upgrade,
    Usr2,
}

/// Both sites with every rule in force, under load; `replace` swaps both
/// agents while site A is paused; afterwards every rule is still in force
/// and no request failed.
fn every_rule_survives(replace: Replace) {
    let mut releases = Releases::start(Start::Binding);
    let mut backends = Backends::start(Start::Binding);
    let canary_before = releases.canary_clients();
    let share = canary_before.iter().filter(|candidate| **candidate).count();
    assert!(
        (30..=90).contains(&share),
        "{share} of 200 clients on the 30% canary"
    );
    let picks_before = backends.picks();
    assert_eq!(
        picks_before[2..],
        [0, 0],
        "c (down) and d (drained) get nothing"
    );

    let mut targets = releases.load();
    targets.extend(backends.load());
    let load = CountedLoad::start(&targets);
    assert!(
        load.wait_for_more(200, Duration::from_secs(60)),
        "the load never got going"
    );
    releases.pause();
    let old_pids = (releases.site.agent_pid(), backends.site.agent_pid());
    let mut successors = Vec::new();
    for (site, old_pid) in [
        (&mut releases.site, old_pids.0),
        (&mut backends.site, old_pids.1),
    ] {
        match replace {
            Replace::Upgrade => site.agents.push(AgentProcess::upgrade(&site.env)),
            Replace::Usr2 => {
                let pid = nix::unistd::Pid::from_raw(old_pid as i32);
                nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR2).unwrap();
                // The admin socket moves to the successor once it serves.
                wait_until("the USR2 successor serves", Duration::from_secs(60), || {
                    let output = site.env.hoist().args(["status", "--json"]).output();
                    let status: serde_json::Value =
                        serde_json::from_slice(&output.stdout).unwrap_or_default();
                    status["agent"]["pid"]
                        .as_u64()
                        .is_some_and(|pid| pid != old_pid)
                });
                successors.push(Successor(site.agent_pid()));
            }
        }
        assert_ne!(site.agent_pid(), old_pid);
    }
    releases.assert_pause_and_maintenance_then_resume();
    assert!(
        load.wait_for_more(200, Duration::from_secs(60)),
        "the load stalled after resume"
    );
    releases.assert_steering(&canary_before);
    backends.assert_members();
    for site in [&mut releases.site, &mut backends.site] {
        let old = &mut site.agents[0];
        assert!(
            old.wait_exit(Duration::from_secs(60)),
            "the old agent did not drain and exit"
        );
    }
    let counts = load.finish();
    report(
        match replace {
            Replace::Upgrade => "hoist agent --upgrade",
            Replace::Usr2 => "kill -USR2",
        },
        &counts,
    );
    assert_eq!(
        (
            counts.failed,
            counts.cut_in_flight + counts.cut_dead_connection
        ),
        (0, 0),
        "{:#?}",
        counts.problems
    );
    assert!(counts.ok > 400, "only {} requests were answered", counts.ok);
    assert_eq!(
        backends.picks(),
        picks_before,
        "the weights and the skipped members are as before"
    );
    drop(successors);
}

#[test]
fn upgrade_under_load_keeps_every_traffic_rule() {
    every_rule_survives(Replace::Upgrade);
}

#[test]
fn usr2_under_load_keeps_every_traffic_rule() {
    every_rule_survives(Replace::Usr2);
}

#[test]
fn kill_9_under_load_keeps_every_traffic_rule() {
    let mut releases = Releases::start(Start::SocketActivated);
    let mut backends = Backends::start(Start::SocketActivated);
    let canary_before = releases.canary_clients();
    let picks_before = backends.picks();
    let mut targets = releases.load();
    targets.extend(backends.load());
    let load = CountedLoad::start(&targets);
    assert!(
        load.wait_for_more(200, Duration::from_secs(60)),
        "the load never got going"
    );
    releases.pause();

    load.killing();
    releases.site.agents[0].kill9();
    backends.site.agents[0].kill9();
    load.killed();
    // Meanwhile new connections wait in the listening socket's backlog.
    releases.site.start_agent();
    backends.site.start_agent();

    releases.assert_pause_and_maintenance_then_resume();
    assert!(
        load.wait_for_more(200, Duration::from_secs(60)),
        "the load stalled after resume"
    );
    releases.assert_steering(&canary_before);
    backends.assert_members();
    let counts = load.finish();
    report("kill -9 and restart", &counts);
    assert_eq!(counts.failed, 0, "{:#?}", counts.problems);
    assert!(counts.ok > 400, "only {} requests were answered", counts.ok);
    assert_eq!(
        backends.picks(),
        picks_before,
        "the weights and the skipped members are as before"
    );

    // c stays down only until its health check passes again.
    let c = Backends::index("c");
    backends.apps[c] = Some(StaticApp::start("c", backends.ports[c]));
    wait_until("c is back up", Duration::from_secs(15), || {
        backends.member("c")["healthy"] == true
    });
    assert!(backends.picks()[c] > 0, "c gets requests again");
}

// An upgraded agent forgot what it knew of its backends: a stopped one was "up" again and got requests (502), a drained one got requests again.
#[test]
fn agent_upgrade_loses_state() {
    let mut backends = Backends::start(Start::Binding);
    let env = &backends.site.env;
    env.hoist()
        .args(["maint", "on", "--until", "30m", "--path", "/closed/"])
        .run();
    backends.site.agents.push(AgentProcess::upgrade(env));
    // Straight after the handover, before any health check of the new agent's own.
    backends.assert_members();
    let failed: Vec<String> = (0..40)
        .map(|_| get(backends.site.port, "/"))
        .filter(|reply| {
            reply.status != 200 || !["a", "b"].contains(&reply.header("x-app-release").as_str())
        })
        .map(|reply| format!("{} from {:?}", reply.status, reply.header("x-app-release")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 40 went wrong: {failed:?}",
        failed.len()
    );
    assert_eq!(get(backends.site.port, "/closed/x").status, 503);
    assert_eq!(
        backends.site.agent()["maintenance"]["paths"],
        serde_json::json!(["/closed/"])
    );
}

#[test]
fn drain_of_the_last_healthy_backend_needs_force() {
    let backends = Backends::start(Start::Binding);
    let env = &backends.site.env;
    env.hoist().args(["drain", &backends.url("b")]).run();
    env.hoist()
        .args(["drain", &backends.url("a")])
        .code(1)
        .stderr_has("is the last healthy backend")
        .stderr_has(&format!("hoist drain --force {}", backends.url("a")))
        .run();
    assert_eq!(get(backends.site.port, "/").status, 200, "a still serves");
    env.hoist()
        .args(["drain", "--force", &backends.url("a")])
        .run();
    assert_eq!(get(backends.site.port, "/").status, 503);
    env.hoist().args(["undrain", &backends.url("a")]).run();
    assert_eq!(get(backends.site.port, "/").header("x-app-release"), "a");
}

// A clean stop (SIGTERM, as `systemctl restart` sends) saved only the live release: the next agent had no maintenance and no held candidate.
#[test]
fn agent_stop_forgets_traffic_rules() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    std::fs::remove_file(env.src().join("index.html")).unwrap();
    let (v1, artifact) = build(&env, "1");
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let mut agent = AgentProcess::start(&env);
    let (v2, artifact) = build(&env, "2");
    env.hoist()
        .args(["deploy", "-q", "--hold", "--test-from", TEST_NETWORK])
        .arg(&artifact)
        .run();
    env.hoist()
        .args(["maint", "on", "--until", "30m", "--path", "/closed/"])
        .run();
    agent.terminate();
    let _agent = AgentProcess::start(&env);
    assert_eq!(get(port, "/closed/x").status, 503, "maintenance");
    let tester = get_from(Ipv4Addr::new(127, 200, 3, 4), port, "/", "");
    assert_eq!(tester.header("x-hoist-release"), v2, "the held candidate");
    assert_eq!(get(port, "/").header("x-hoist-release"), v1);
}
