//! Slowloris against a real agent with 1,024 file descriptors: 2,000 heads
//! sent a byte every half second, while a prober keeps opening fresh
//! connections. Probes are answered, and no slow head outlives the header
//! timeout (issue 12, finding 7: 1,100 slow heads served 0 of 5 probes).

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

const SLOW_HEADS: usize = 2_000;
const PROBES: usize = 200;
const HEADER_TIMEOUT: Duration = Duration::from_secs(3);
/// Past the header timeout: the accept may lag the client's connect, and
/// the client notices the close at its next read.
const MARGIN: Duration = Duration::from_millis(1500);
/// A slow head still open this long has been held too long; stop there.
const HOLD_LIMIT: Duration = Duration::from_secs(10);

/// One slow head: a byte every 500 ms until the agent closes the
/// connection; how long it stayed open (`None` if it never connected).
async fn slow_head(port: u16, connected: Arc<AtomicU64>) -> Option<Duration> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let opened = Instant::now();
    connected.fetch_add(1, Ordering::SeqCst);
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nX-Slow: ")
        .await
        .is_err()
    {
        return Some(opened.elapsed());
    }
    let mut answer = [0u8; 1024];
    while opened.elapsed() < HOLD_LIMIT {
        tokio::select! {
            read = stream.read(&mut answer) => match read {
                Ok(0) | Err(_) => return Some(opened.elapsed()),
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if stream.write_all(b"a").await.is_err() {
                    return Some(opened.elapsed());
                }
            }
        }
    }
    Some(opened.elapsed())
}

/// One probe on a fresh connection: whether it got a 200.
async fn probe(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"HTTP/1.1 200 "))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[test]
fn slow_heads_starve_an_agent_with_1024_descriptors() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    // The attack needs more descriptors than the agent gets.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= 4_096,
        "the hard open-file limit {hard} is too low for this test"
    );
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();

    let port = free_port();
    let env = Env::with_config(&agent_config(
        port,
        "header_timeout = \"3s\"\nidle_timeout = \"10s\"",
    ));
    env.write("public/index.html", "page 1\n");
    let (_, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(artifact).run();
    let _agent = AgentProcess::start_with_open_file_limit(&env, 1024);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (held, answered) = runtime.block_on(async move {
        let longest = Arc::new(AtomicU64::new(0));
        let connected = Arc::new(AtomicU64::new(0));
        // The prober starts once more slow heads are connected than the
        // agent has descriptors (as in the report: 1,100), and runs while
        // the rest of the flood arrives and is closed.
        let flooded = connected.clone();
        let prober = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            while flooded.load(Ordering::SeqCst) < 1_100 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut answered = 0;
            for _ in 0..PROBES {
                answered += usize::from(probe(port).await);
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            answered
        });
        // About 1,000 new slow heads a second for two seconds.
        let mut attackers = Vec::new();
        for _ in 0..SLOW_HEADS {
            let (longest, connected) = (longest.clone(), connected.clone());
            attackers.push(tokio::spawn(async move {
                if let Some(open) = slow_head(port, connected).await {
                    longest.fetch_max(open.as_millis() as u64, Ordering::SeqCst);
                }
            }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for attacker in attackers {
            attacker.await.unwrap();
        }
        let answered = prober.await.unwrap();
        eprintln!(
            "{} of {SLOW_HEADS} slow heads connected",
            connected.load(Ordering::SeqCst)
        );
        (
            Duration::from_millis(longest.load(Ordering::SeqCst)),
            answered,
        )
    });
    eprintln!("{answered} of {PROBES} probes answered; the longest slow head was open {held:?}");
    assert!(
        answered * 100 >= PROBES * 99,
        "only {answered} of {PROBES} probes were answered"
    );
    assert!(
        held <= HEADER_TIMEOUT + MARGIN,
        "a slow head stayed open {held:?}, past the header timeout"
    );
}
