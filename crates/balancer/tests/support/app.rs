//! A tiny HTTP server standing in for one host's app: it answers every
//! request with its own name as the body, so a test sees which server
//! HAProxy chose. `/fail` answers 500; `/slow` is held until the test
//! releases it, and says when it has arrived.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long any wait in these fixtures may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(20);

/// One app server on 127.0.0.1, stopped when dropped.
pub struct App {
    pub name: &'static str,
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
    /// A `/slow` request arrived (sent before it waits).
    arrived: Receiver<()>,
    /// Lets one held `/slow` request answer.
    release: Sender<()>,
}

impl App {
    pub fn start(name: &'static str) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind app");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (arrived_tx, arrived) = channel();
        let (release, release_rx) = channel();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let accepting = std::thread::spawn({
            let stop = stop.clone();
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let arrived = arrived_tx.clone();
                    let release = release_rx.clone();
                    std::thread::spawn(move || serve(name, stream, &arrived, &release));
                }
            }
        });
        App {
            name,
            addr,
            stop,
            accepting: Some(accepting),
            arrived,
            release,
        }
    }

    /// Waits until a `/slow` request has reached this app.
    pub fn wait_slow_arrived(&self) {
        self.arrived
            .recv_timeout(BOUND)
            .expect("the /slow request never reached the app");
    }

    /// Lets one held `/slow` request answer.
    pub fn release_slow(&self) {
        self.release.send(()).expect("no /slow request is held");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// Answers one request on `stream`, then closes it.
fn serve(name: &str, mut stream: TcpStream, arrived: &Sender<()>, release: &Mutex<Receiver<()>>) {
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let status = match path {
        "/fail" => "500 Internal Server Error",
        "/slow" => {
            arrived.send(()).unwrap();
            let held = release.lock().unwrap().recv_timeout(BOUND);
            held.expect("the test never released /slow");
            "200 OK"
        }
        _ => "200 OK",
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// A `GET path` through `port` on 127.0.0.1: the status and the body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to HAProxy");
    stream.set_read_timeout(Some(BOUND)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}
