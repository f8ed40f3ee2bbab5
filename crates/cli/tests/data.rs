//! Data versions through the real binary and a real agent: a roll under
//! load switches answers from v1 to v2 with no failed request, revert goes
//! back, and a version that fails SQLite's integrity check never goes live.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

fn data_env(port: u16) -> Env {
    Env::with_config(&agent_config(port, "[data]\nreload = \"HUP\""))
}

/// One keep-alive HTTP/1.1 GET: (status, data header, body).
fn get(
    stream: &mut BufReader<TcpStream>,
    path: &str,
) -> std::io::Result<(u16, Option<String>, String)> {
    stream
        .get_mut()
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: shop\r\n\r\n").as_bytes())?;
    let mut status_line = String::new();
    stream.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let (mut length, mut data) = (0usize, None);
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "x-hoist-data" => data = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok((status, data, String::from_utf8_lossy(&body).into_owned()))
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream)
}

/// What the readers saw: per answer (data header, body), plus failures.
#[derive(Default)]
struct Seen {
    answers: Vec<(Option<String>, String)>,
    failures: Vec<String>,
}

/// Readers on keep-alive connections until stopped (bounded by count and time).
fn readers(
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..3)
        .map(|_| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut stream = connect(port);
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut last_body = String::new();
                for _ in 0..100_000 {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let answer = get(&mut stream, "/data");
                    let mut seen = seen.lock().unwrap();
                    match answer {
                        Ok((200, data, body)) if body.starts_with("data v") => {
                            // One process, one connection: v1 never comes back after v2, unless reverted.
                            last_body = body.clone();
                            seen.answers.push((data, body));
                        }
                        other => {
                            seen.failures.push(format!("{other:?} after {last_body:?}"));
                            drop(seen);
                            stream = connect(port);
                        }
                    }
                }
            })
        })
        .collect()
}

/// Loads `dir` and returns the version id.
fn load(env: &Env, dir: &std::path::Path) -> String {
    let json = env
        .hoist()
        .args(["data", "load", "--json"])
        .arg(dir)
        .run_json();
    json["version"].as_str().unwrap().to_owned()
}

/// Polls `/data` until the body says `wanted` (the app's own readiness answer).
fn wait_for_body(port: u16, wanted: &str) -> (Option<String>, String) {
    let mut stream = connect(port);
    for _ in 0..500 {
        let (status, data, body) = get(&mut stream, "/data").unwrap();
        if status == 200 && body.starts_with(wanted) {
            return (data, body);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never answered {wanted:?}");
}

/// Lets the readers get `more` answers in (bounded by time): real load on each version.
fn wait_for_answers(seen: &Mutex<Seen>, more: usize) {
    let target = seen.lock().unwrap().answers.len() + more;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().answers.len() < target && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_data_roll_under_load_switches_answers_without_a_failed_request() {
    let port = free_port();
    let env = data_env(port);
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("version.txt"), "v1\n").unwrap();
    env.hoist().args(["deploy", "-q"]).run();
    let v1 = load(&env, data.path());
    env.hoist().args(["data", "roll"]).run();
    let _agent = AgentProcess::start(&env);
    let (header, _) = wait_for_body(port, "data v1");
    assert_eq!(header.as_deref(), Some(v1.as_str()));

    let app_pid = env.status()["agent"]["live"]["pid"].clone();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let threads = readers(port, stop.clone(), seen.clone());

    wait_for_answers(&seen, 300);
    std::fs::write(data.path().join("version.txt"), "v2\n").unwrap();
    let v2 = load(&env, data.path());
    let rolled = env.hoist().args(["data", "roll", "--json"]).run_json();
    assert_eq!(rolled["version"], v2.as_str());
    assert!(
        rolled["reload"]
            .as_str()
            .unwrap()
            .starts_with("signal HUP to 1"),
        "{rolled}"
    );
    let (header, body) = wait_for_body(port, "data v2");
    assert_eq!(header.as_deref(), Some(v2.as_str()), "{body}");

    wait_for_answers(&seen, 300);
    let reverted = env.hoist().args(["data", "revert", "--json"]).run_json();
    assert_eq!(reverted["version"], v1.as_str());
    let (header, _) = wait_for_body(port, "data v1");
    assert_eq!(header.as_deref(), Some(v1.as_str()));
    wait_for_answers(&seen, 300);

    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert!(
        seen.failures.is_empty(),
        "failed requests: {:?}",
        seen.failures
    );
    let v2_answers = seen
        .answers
        .iter()
        .filter(|(_, body)| body.starts_with("data v2"))
        .count();
    assert!(
        seen.answers.len() > 900 && v2_answers >= 300,
        "{} answers, {v2_answers} from v2",
        seen.answers.len()
    );

    eprintln!(
        "data roll under load: {} answers, {v2_answers} from v2, {} failed",
        seen.answers.len(),
        seen.failures.len()
    );
    let status = env.status();
    assert_eq!(status["data"], v1.as_str());
    // HUP reached the app, not its `sh -c` wrapper: nothing died or restarted.
    assert_eq!(status["agent"]["live"]["pid"], app_pid);
    let history = env.hoist().args(["history", "--json"]).run_json();
    let ops: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["op"].as_str())
        .collect();
    assert!(
        ops.contains(&"data-roll") && ops.contains(&"data-revert"),
        "{ops:?}"
    );
}

#[test]
fn a_version_failing_the_integrity_check_never_goes_live() {
    let env = Env::new();
    env.hoist().args(["deploy", "-q"]).run();
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'good');",
    )
    .unwrap();
    drop(conn);
    let good = load(&env, &db);
    env.hoist().args(["data", "roll"]).run();

    let mut bytes = std::fs::read(&db).unwrap();
    let page = bytes.len() - 4096;
    bytes[page + 8..page + 200].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    env.hoist()
        .args(["data", "load"])
        .arg(&db)
        .code(1)
        .stderr_has("failed SQLite's integrity check")
        .run();

    // A loaded version damaged on disk afterwards is refused at roll time too.
    let damaged = data.path().join("second");
    std::fs::create_dir(&damaged).unwrap();
    std::fs::copy(
        std::fs::read_link(env.site().join("data/current"))
            .map(|link| env.site().join("data").join(link).join("catalog.db"))
            .unwrap(),
        damaged.join("catalog.db"),
    )
    .unwrap();
    let second = load(&env, &damaged.join("catalog.db"));
    let file = env
        .site()
        .join("data/versions")
        .join(&second)
        .join("catalog.db");
    let mut stored = std::fs::read(&file).unwrap();
    let page = stored.len() - 4096;
    stored[page + 8..page + 200].fill(0x5A);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&file, &stored).unwrap();
    env.hoist()
        .args(["data", "roll"])
        .arg(&second)
        .code(1)
        .stderr_has("integrity check")
        .run();

    let list = env.hoist().args(["data", "list", "--json"]).run_json();
    let live: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["live"] == true)
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(live, [good.as_str()]);
}

#[test]
fn reload_restart_starts_a_fresh_process_that_reads_the_new_version() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, "[data]\nreload = \"restart\""));
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("version.txt"), "v1\n").unwrap();
    env.hoist().args(["deploy", "-q"]).run();
    load(&env, data.path());
    env.hoist().args(["data", "roll"]).run();
    let _agent = AgentProcess::start(&env);
    wait_for_body(port, "data v1");
    let pid_before = env.status()["agent"]["live"]["pid"].clone();

    std::fs::write(data.path().join("version.txt"), "v2\n").unwrap();
    let v2 = load(&env, data.path());
    let rolled = env.hoist().args(["data", "roll", "--json"]).run_json();
    assert_eq!(rolled["reload"], "restarted", "{rolled}");
    // The fresh process was healthy before the route moved: the very next answer is v2.
    let mut stream = connect(port);
    let (status, header, body) = get(&mut stream, "/data").unwrap();
    assert_eq!(
        (status, header.as_deref()),
        (200, Some(v2.as_str())),
        "{body}"
    );
    assert!(body.starts_with("data v2"), "{body}");
    assert_ne!(env.status()["agent"]["live"]["pid"], pid_before);
}
